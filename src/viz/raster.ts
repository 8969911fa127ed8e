/**
 * Pixels → a PNG data URL (through a canvas), so a figure can put rasters inside an SVG that saves
 * and exports as one self-contained file.
 */
import type { RgbImage } from '../types.ts';

/** RGBA bytes (w·h·4) → `data:image/png;base64,…`. */
export function rgbaToDataUrl(rgba: Uint8ClampedArray, width: number, height: number): string {
  const canvas = document.createElement('canvas');
  canvas.width = Math.max(1, width);
  canvas.height = Math.max(1, height);
  const ctx = canvas.getContext('2d');
  if (ctx === null) throw new Error('this browser gave no 2D canvas context; figures need one');
  if (width > 0 && height > 0) ctx.putImageData(new ImageData(rgba as Uint8ClampedArray<ArrayBuffer>, width, height), 0, 0);
  return canvas.toDataURL('image/png');
}

/** An RgbImage → PNG data URL. */
export function imageToDataUrl(image: RgbImage): string {
  const { width, height, data } = image;
  const rgba = new Uint8ClampedArray(width * height * 4);
  for (let i = 0, j = 0; i < width * height; i++, j += 3) {
    rgba[4 * i] = data[j]!;
    rgba[4 * i + 1] = data[j + 1]!;
    rgba[4 * i + 2] = data[j + 2]!;
    rgba[4 * i + 3] = 255;
  }
  return rgbaToDataUrl(rgba, width, height);
}
