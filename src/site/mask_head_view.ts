/**
 * Chapter 9's view of the mask head, read from the engine's trace: for one detection, the K per-class
 * M×M mask logits (`trace.maskHead.maskLogits`, D×M×M×K, class innermost), and the two ways to turn
 * them into probabilities — a sigmoid per class (Mask R-CNN: each class's mask is decided on its own,
 * the class comes from the box head) and a softmax across the K classes at each pixel (what an FCN
 * for semantic segmentation does: the classes compete for every pixel). Both with the engine's float32
 * functions (geometry/float32.ts).
 */
import { sigmoidf32, softmaxRowsf32 } from '../geometry/float32.ts';

/** Detection `d`'s M×M×K logits (a view into the trace's D×M×M×K array). */
export function detectionMaskLogits(maskLogits: Float32Array, d: number, m: number, numClasses: number): Float32Array {
  const n = m * m * numClasses;
  if (!(d >= 0 && (d + 1) * n <= maskLogits.length)) throw new RangeError(`detectionMaskLogits: detection ${d} is not one of the ${maskLogits.length / n} detections`);
  return maskLogits.subarray(d * n, (d + 1) * n);
}

/** Class `c`'s M×M plane of an M×M×K array (class innermost). */
export function classPlane(hwk: Float32Array, numClasses: number, c: number): Float32Array {
  const pixels = hwk.length / numClasses;
  const out = new Float32Array(pixels);
  for (let p = 0; p < pixels; p++) out[p] = hwk[p * numClasses + c]!;
  return out;
}

/** Sigmoid of every value: each class's mask on its own (what the engine pastes for the predicted class). */
export function sigmoidMasks(hwk: Float32Array): Float32Array {
  return sigmoidf32(hwk);
}

/** Softmax across the K classes at each pixel (M×M×K → M×M×K, each pixel's K values sum to 1). */
export function softmaxMasks(hwk: Float32Array, numClasses: number): Float32Array {
  // M×M×K with K innermost: each pixel is one softmax row
  return softmaxRowsf32(hwk, numClasses);
}

/** Classes ordered by the box head's probability for the detection's RoI (its predicted class first), at most n. */
export function classesByScore(probs: Float32Array, predicted: number, n: number): number[] {
  const rest = Array.from(probs.keys()).filter((c) => c !== predicted && c > 0);
  rest.sort((a, b) => probs[b]! - probs[a]! || a - b);
  return [predicted, ...rest].slice(0, n);
}
