/** Plain-data types shared by every stage. No tensors here: these cross the engine's boundary. */

/** A decoded RGB image, row-major, 3 bytes per pixel (R, G, B). */
export interface RgbImage {
  width: number;
  height: number;
  /** length = width · height · 3 */
  data: Uint8Array;
}

/** A dense float32 array with a shape, row-major (C order). Stage dumps are CHW. */
export interface NdArray {
  shape: number[];
  data: Float32Array;
}

/** One tensor of a checkpoint, in torchvision's layout (conv weights [out, in, kh, kw]). */
export interface NamedTensor {
  shape: number[];
  /** Source dtype as stored in the checkpoint ('float32', 'float16', 'int64', …); data is float32. */
  dtype: string;
  data: Float32Array;
}

/** A checkpoint's tensors by torchvision name (current spelling, see weights/names.ts). */
export type StateDict = Map<string, NamedTensor>;

/** Boxes as a flat array [x1, y1, x2, y2, x1, …]; `count = data.length / 4`. */
export type Boxes = Float32Array;

/** [height, width] */
export type Size = [number, number];
