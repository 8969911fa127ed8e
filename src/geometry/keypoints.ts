/**
 * Keypoints as one-hot masks (the paper's §5; torchvision `keypoints_to_heatmap`,
 * `heatmaps_to_keypoints`, `resize_keypoints`): a keypoint of a RoI is the one cell of an m × m map
 * that it falls in (training target), and a predicted map is read back by upsampling it to the box's
 * size and taking its argmax (inference). Pure functions on plain arrays, float32 like torch.
 *
 * Glossary
 *   R          RoIs (training) or detections (inference); Kp keypoints per RoI; m map side (56)
 *   keypoint   [x, y, v] in image pixels, v = visibility (COCO: 0 not labelled, 1 occluded, 2 visible)
 *   heatmap target  per RoI and keypoint, the linear index y·m + x of the cell the keypoint falls in
 *              (x = ⌊(px − x1)·m / w⌋; a keypoint on the box's right or bottom edge goes to the last
 *              cell), valid when v > 0 and the cell is inside the map
 *   logits     R × m × m × Kp float32 (NHWC, the keypoint innermost: the trace's layout)
 *   roi map    one keypoint's m × m logits resized to ⌈w⌉ × ⌈h⌉ pixels of the box by bicubic
 *              interpolation (torch `interpolate(mode='bicubic', align_corners=False)`, A = −0.75,
 *              borders replicated); the argmax cell's centre, scaled back by w/⌈w⌉, is the keypoint,
 *              and the roi map's value there is its score (a logit, not a probability)
 */
import type { Boxes, Size } from '../types.ts';
import { f32 } from './float32.ts';

/** The interpolation constant of torch's bicubic upsampling (Keys' cubic convolution with a = −0.75). */
export const CUBIC_A = -0.75;

/** torch `get_cubic_upsample_coefficients(t)`: the four tap weights for a fractional offset t ∈ [0, 1). */
export function cubicCoefficients(t: number): [number, number, number, number] {
  const A = CUBIC_A;
  // cubic_convolution1(x) = ((A + 2)·x − (A + 3))·x·x + 1 for |x| ≤ 1; cubic_convolution2(x) = ((A·x − 5A)·x + 8A)·x − 4A for 1 < |x| < 2
  const c1 = (x: number) => f32(f32(f32(f32(f32((A + 2) * x) - (A + 3)) * x) * x) + 1);
  const c2 = (x: number) => f32(f32(f32(f32(f32(f32(A * x) - 5 * A) * x) + 8 * A) * x) - 4 * A);
  const x1 = f32(t);
  const x2 = f32(1 - x1);
  return [c2(f32(x1 + 1)), c1(x1), c1(x2), c2(f32(x2 + 1))];
}

/** The source taps of a bicubic resize along one axis: for each output index, 4 clamped input indices and weights. */
export function cubicTaps(inSize: number, outSize: number): { index: Int32Array; weight: Float32Array } {
  const scale = f32(inSize / outSize); // area_pixel_compute_scale: input / output, align_corners false
  const index = new Int32Array(4 * outSize);
  const weight = new Float32Array(4 * outSize);
  for (let o = 0; o < outSize; o++) {
    const real = f32(f32(scale * f32(o + 0.5)) - 0.5); // area_pixel_compute_source_index(cubic = true): not clamped
    const i0 = Math.floor(real);
    const w = cubicCoefficients(f32(real - i0));
    for (let k = 0; k < 4; k++) {
      index[4 * o + k] = Math.min(Math.max(i0 - 1 + k, 0), inSize - 1);
      weight[4 * o + k] = w[k]!;
    }
  }
  return { index, weight };
}

/**
 * Bicubic resize of one plane (torch `interpolate(mode='bicubic', align_corners=False)`): `src` is a
 * plane read with `at(y, x)`, `h × w`; returns the `outH × outW` plane. Each output pixel is
 * Σ_j wy_j · (Σ_i wx_i · src[yj, xi]) in float32, rows first as torch does.
 */
export function bicubicResize(at: (y: number, x: number) => number, h: number, w: number, outH: number, outW: number): Float32Array {
  const ty = cubicTaps(h, outH);
  const tx = cubicTaps(w, outW);
  const out = new Float32Array(outH * outW);
  const rows = new Float64Array(4);
  for (let oy = 0; oy < outH; oy++) {
    for (let ox = 0; ox < outW; ox++) {
      for (let j = 0; j < 4; j++) {
        const y = ty.index[4 * oy + j]!;
        let s = 0;
        for (let i = 0; i < 4; i++) s = f32(s + f32(at(y, tx.index[4 * ox + i]!) * tx.weight[4 * ox + i]!));
        rows[j] = s;
      }
      let v = 0;
      for (let j = 0; j < 4; j++) v = f32(v + f32(rows[j]! * ty.weight[4 * oy + j]!));
      out[oy * outW + ox] = v;
    }
  }
  return out;
}

export interface DecodedKeypoints {
  /** R × Kp × 3: [x, y, 1] in the boxes' image pixels (torchvision's third column is always 1). */
  keypoints: Float32Array;
  /** R × Kp: the roi map's value at the argmax (torchvision `keypoints_scores`). */
  scores: Float32Array;
}

/**
 * torchvision `heatmaps_to_keypoints`: for each RoI (box [x1, y1, x2, y2] in the image the maps were
 * pooled from) and keypoint, resize the m × m logits to ⌈max(w, 1)⌉ × ⌈max(h, 1)⌉ by bicubic
 * interpolation, take the first maximum, and return its cell centre mapped back into the box, with
 * the resized logit there as the score.
 */
export function heatmapsToKeypoints(logits: Float32Array, boxes: Boxes, m: number, numKeypoints: number): DecodedKeypoints {
  const r = boxes.length / 4;
  const kp = numKeypoints;
  if (!Number.isInteger(r) || logits.length !== r * m * m * kp) {
    throw new Error(`heatmapsToKeypoints: expected ${r}×${m}×${m}×${kp} logits for ${r} boxes, found ${logits.length} values`);
  }
  const keypoints = new Float32Array(r * kp * 3);
  const scores = new Float32Array(r * kp);
  for (let i = 0; i < r; i++) {
    const x1 = boxes[4 * i]!;
    const y1 = boxes[4 * i + 1]!;
    const widths = Math.max(f32(boxes[4 * i + 2]! - x1), 1); // clamp(min = 1)
    const heights = Math.max(f32(boxes[4 * i + 3]! - y1), 1);
    const mapW = Math.ceil(widths);
    const mapH = Math.ceil(heights);
    const widthCorrection = f32(widths / mapW);
    const heightCorrection = f32(heights / mapH);
    const base = i * m * m * kp;
    for (let k = 0; k < kp; k++) {
      const roiMap = bicubicResize((y, x) => logits[base + (y * m + x) * kp + k]!, m, m, mapH, mapW);
      let best = 0;
      for (let p = 1; p < roiMap.length; p++) if (roiMap[p]! > roiMap[best]!) best = p; // first maximum (torch argmax)
      const xInt = best % mapW;
      const yInt = (best - xInt) / mapW;
      const o = (i * kp + k) * 3;
      keypoints[o] = f32(f32(f32(xInt + 0.5) * widthCorrection) + x1);
      keypoints[o + 1] = f32(f32(f32(yInt + 0.5) * heightCorrection) + y1);
      keypoints[o + 2] = 1;
      scores[i * kp + k] = roiMap[best]!;
    }
  }
  return { keypoints, scores };
}

/** torchvision `resize_keypoints`: x·(W_to / W_from), y·(H_to / H_from) in float32; the third column is kept. */
export function resizeKeypoints(keypoints: Float32Array, from: Size, to: Size): Float32Array {
  const ratioH = f32(f32(to[0]) / f32(from[0]));
  const ratioW = f32(f32(to[1]) / f32(from[1]));
  const out = Float32Array.from(keypoints);
  for (let i = 0; i < out.length; i += 3) {
    out[i] = f32(out[i]! * ratioW);
    out[i + 1] = f32(out[i + 1]! * ratioH);
  }
  return out;
}

export interface HeatmapTargets {
  /** R·Kp linear indices y·m + x (0 where not valid), RoI-major */
  index: Int32Array;
  /** R·Kp: 1 where the keypoint is labelled (v > 0) and falls inside the RoI's map */
  valid: Uint8Array;
}

/**
 * torchvision `keypoints_to_heatmap`: the training target of each RoI's keypoints (R × Kp × 3, the
 * matched gt's, in the RoIs' image pixels) on an m × m map over the RoI, in float32 like torch.
 */
export function keypointsToHeatmap(keypoints: Float32Array, rois: Boxes, m: number): HeatmapTargets {
  const r = rois.length / 4;
  const kp = r === 0 ? 0 : keypoints.length / (3 * r);
  if (!Number.isInteger(r) || !Number.isInteger(kp) || (r > 0 && keypoints.length !== r * kp * 3)) {
    throw new Error(`keypointsToHeatmap: expected R×Kp×3 keypoints for ${r} RoIs, found ${keypoints.length} values`);
  }
  const index = new Int32Array(r * kp);
  const valid = new Uint8Array(r * kp);
  for (let i = 0; i < r; i++) {
    const [x1, y1, x2, y2] = [rois[4 * i]!, rois[4 * i + 1]!, rois[4 * i + 2]!, rois[4 * i + 3]!];
    const scaleX = f32(m / f32(x2 - x1));
    const scaleY = f32(m / f32(y2 - y1));
    for (let k = 0; k < kp; k++) {
      const o = (i * kp + k) * 3;
      const px = keypoints[o]!;
      const py = keypoints[o + 1]!;
      let x = Math.floor(f32(f32(px - x1) * scaleX));
      let y = Math.floor(f32(f32(py - y1) * scaleY));
      if (px === x2) x = m - 1; // on the right edge: the last cell
      if (py === y2) y = m - 1;
      const ok = x >= 0 && y >= 0 && x < m && y < m && keypoints[o + 2]! > 0;
      valid[i * kp + k] = ok ? 1 : 0;
      index[i * kp + k] = ok ? y * m + x : 0;
    }
  }
  return { index, valid };
}
