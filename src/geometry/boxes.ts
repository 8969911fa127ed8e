/**
 * Boxes: area, IoU, clipping, small-box removal and the box coder (Faster R-CNN's
 * parameterization), in float32 like torchvision.
 *
 * Glossary
 * - box: [x1, y1, x2, y2] in pixels; `Boxes` is a flat Float32Array of N boxes (N = length / 4).
 * - anchor / reference box: the box a regression is relative to (an anchor for the RPN, a proposal
 *   for the box head).
 * - deltas (tx, ty, tw, th): Faster R-CNN eq. 2. With weights (wx, wy, ww, wh):
 *   x = tx / wx · w_a + x_a,  w = exp(min(tw / ww, clip)) · w_a  (same for y, h), where
 *   (x_a, y_a) is the anchor's centre x1 + w_a / 2 and w_a = x2 − x1 (no +1: torchvision).
 * - bboxXformClip: the clamp on tw / ww and th / wh before exp, log(1000 / 16).
 */
import type { Boxes, Size } from '../types.ts';
import { expf, f32 } from './float32.ts';

/** Number of boxes in a flat box array; throws when the length is not a multiple of 4. */
export function boxCount(boxes: Float32Array, name = 'boxes'): number {
  if (boxes.length % 4 !== 0) {
    throw new Error(`${name}: expected a flat [x1, y1, x2, y2, …] array (length a multiple of 4), found length ${boxes.length}`);
  }
  return boxes.length / 4;
}

/** (x2 − x1) · (y2 − y1) of box i, in float32 (torchvision `box_area`, NMS `areas`). */
export function boxArea(boxes: Boxes, i: number): number {
  const o = 4 * i;
  return f32(f32(boxes[o + 2]! - boxes[o]!) * f32(boxes[o + 3]! - boxes[o + 1]!));
}

/**
 * IoU of box i of `a` and box j of `b`, computed like torchvision's NMS kernel in float32:
 * inter / ((areaA + areaB) − inter), with the intersection's sides clamped at 0.
 */
export function iou(a: Boxes, i: number, b: Boxes, j: number): number {
  return iouWithAreas(a, i, boxArea(a, i), b, j, boxArea(b, j));
}

/** IoU given both areas (NMS computes each area once). */
export function iouWithAreas(a: Boxes, i: number, areaA: number, b: Boxes, j: number, areaB: number): number {
  const p = 4 * i;
  const q = 4 * j;
  const xx1 = Math.max(a[p]!, b[q]!);
  const yy1 = Math.max(a[p + 1]!, b[q + 1]!);
  const xx2 = Math.min(a[p + 2]!, b[q + 2]!);
  const yy2 = Math.min(a[p + 3]!, b[q + 3]!);
  const w = Math.max(0, f32(xx2 - xx1));
  const h = Math.max(0, f32(yy2 - yy1));
  const inter = f32(w * h);
  return f32(inter / f32(f32(areaA + areaB) - inter));
}

/** Clip every box to the image: x to [0, width], y to [0, height] (`clip_boxes_to_image`). New array. */
export function clipBoxes(boxes: Boxes, [height, width]: Size): Boxes {
  boxCount(boxes);
  const out = new Float32Array(boxes.length);
  const h = f32(height);
  const w = f32(width);
  for (let o = 0; o < boxes.length; o += 4) {
    out[o] = Math.min(Math.max(boxes[o]!, 0), w);
    out[o + 1] = Math.min(Math.max(boxes[o + 1]!, 0), h);
    out[o + 2] = Math.min(Math.max(boxes[o + 2]!, 0), w);
    out[o + 3] = Math.min(Math.max(boxes[o + 3]!, 0), h);
  }
  return out;
}

/**
 * Indices of the boxes with width ≥ minSize and height ≥ minSize (`remove_small_boxes`). The
 * threshold is compared in float32, as torch casts the Python scalar to the tensor's dtype.
 */
export function removeSmallBoxes(boxes: Boxes, minSize: number): Int32Array {
  const n = boxCount(boxes);
  const min = f32(minSize);
  const keep: number[] = [];
  for (let i = 0; i < n; i++) {
    const o = 4 * i;
    if (f32(boxes[o + 2]! - boxes[o]!) >= min && f32(boxes[o + 3]! - boxes[o + 1]!) >= min) keep.push(i);
  }
  return Int32Array.from(keep);
}

/** Gather boxes by index: out[k] = boxes[index[k]]. */
export function gatherBoxes(boxes: Boxes, index: ArrayLike<number>): Boxes {
  const out = new Float32Array(index.length * 4);
  for (let k = 0; k < index.length; k++) out.set(boxes.subarray(4 * index[k]!, 4 * index[k]! + 4), 4 * k);
  return out;
}

/** Gather any per-box array by index. */
export function gather<T extends Float32Array | Int32Array>(values: T, index: ArrayLike<number>): T {
  const out = new (values.constructor as new (n: number) => T)(index.length);
  for (let k = 0; k < index.length; k++) out[k] = values[index[k]!]!;
  return out;
}

/** torchvision `BoxCoder`: encodes boxes as deltas relative to reference boxes and back. */
export class BoxCoder {
  readonly weights: readonly [number, number, number, number];
  readonly bboxXformClip: number;

  /**
   * @param weights (wx, wy, ww, wh): (1, 1, 1, 1) for the RPN, (10, 10, 5, 5) for the box head.
   * @param bboxXformClip clamp of tw / ww and th / wh before exp (torchvision log(1000 / 16)).
   */
  constructor(weights: readonly [number, number, number, number], bboxXformClip: number = Math.log(1000 / 16)) {
    if (weights.length !== 4 || !weights.every((w) => Number.isFinite(w) && w > 0)) {
      throw new Error(`BoxCoder: expected four positive weights (wx, wy, ww, wh), found [${weights.join(', ')}]`);
    }
    this.weights = weights;
    this.bboxXformClip = bboxXformClip;
  }

  /** One delta (tx, ty, tw, th) per box: `decode_single` on N×4 deltas and N reference boxes → N×4. */
  decode(deltas: Float32Array, anchors: Boxes): Boxes {
    return this.decodePerClass(deltas, anchors, 1);
  }

  /**
   * K deltas per box (the box head's class-specific regression): deltas N×4K (row-major, class
   * c at columns 4c..4c+3), reference boxes N×4 → decoded boxes N×K×4 (flat).
   */
  decodePerClass(deltas: Float32Array, boxes: Boxes, numClasses: number): Boxes {
    const n = boxCount(boxes, 'BoxCoder.decode reference boxes');
    const k = numClasses;
    if (deltas.length !== n * 4 * k) {
      throw new Error(`BoxCoder.decode: expected ${n} × ${4 * k} deltas for ${n} boxes and ${k} class(es), found ${deltas.length} values`);
    }
    const [wx, wy, ww, wh] = this.weights.map(f32) as [number, number, number, number];
    const clip = f32(this.bboxXformClip);
    const out = new Float32Array(n * k * 4);
    for (let i = 0; i < n; i++) {
      const x1 = boxes[4 * i]!;
      const y1 = boxes[4 * i + 1]!;
      const widths = f32(boxes[4 * i + 2]! - x1);
      const heights = f32(boxes[4 * i + 3]! - y1);
      const ctrX = f32(x1 + f32(0.5 * widths));
      const ctrY = f32(y1 + f32(0.5 * heights));
      for (let c = 0; c < k; c++) {
        const d = 4 * (i * k + c);
        const dx = f32(deltas[d]! / wx);
        const dy = f32(deltas[d + 1]! / wy);
        const dw = Math.min(f32(deltas[d + 2]! / ww), clip);
        const dh = Math.min(f32(deltas[d + 3]! / wh), clip);
        const predCtrX = f32(f32(dx * widths) + ctrX);
        const predCtrY = f32(f32(dy * heights) + ctrY);
        const halfW = f32(0.5 * f32(expf(dw) * widths));
        const halfH = f32(0.5 * f32(expf(dh) * heights));
        out[d] = f32(predCtrX - halfW);
        out[d + 1] = f32(predCtrY - halfH);
        out[d + 2] = f32(predCtrX + halfW);
        out[d + 3] = f32(predCtrY + halfH);
      }
    }
    return out;
  }

  /**
   * The deltas that take each reference box to its target box (`encode_single(gt, anchors)`):
   * tx = wx · (x_gt − x_a) / w_a, tw = ww · log(w_gt / w_a). N×4 → N×4. (Training; log is the
   * correctly rounded float32 log, torch's may differ by an ulp.)
   */
  encode(gt: Boxes, anchors: Boxes): Float32Array {
    const n = boxCount(anchors, 'BoxCoder.encode anchors');
    if (boxCount(gt, 'BoxCoder.encode targets') !== n) {
      throw new Error(`BoxCoder.encode: expected one target box per anchor (${n}), found ${gt.length / 4}`);
    }
    const [wx, wy, ww, wh] = this.weights.map(f32) as [number, number, number, number];
    const out = new Float32Array(4 * n);
    for (let i = 0; i < n; i++) {
      const o = 4 * i;
      const exW = f32(anchors[o + 2]! - anchors[o]!);
      const exH = f32(anchors[o + 3]! - anchors[o + 1]!);
      const exX = f32(anchors[o]! + f32(0.5 * exW));
      const exY = f32(anchors[o + 1]! + f32(0.5 * exH));
      const gtW = f32(gt[o + 2]! - gt[o]!);
      const gtH = f32(gt[o + 3]! - gt[o + 1]!);
      const gtX = f32(gt[o]! + f32(0.5 * gtW));
      const gtY = f32(gt[o + 1]! + f32(0.5 * gtH));
      out[o] = f32(f32(wx * f32(gtX - exX)) / exW);
      out[o + 1] = f32(f32(wy * f32(gtY - exY)) / exH);
      out[o + 2] = f32(ww * f32(Math.log(f32(gtW / exW))));
      out[o + 3] = f32(wh * f32(Math.log(f32(gtH / exH))));
    }
    return out;
  }
}
