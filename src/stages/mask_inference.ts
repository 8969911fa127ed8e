/**
 * Mask inference (torchvision `maskrcnn_inference`): the mask head's K logits per pixel become
 * probabilities, and each detection keeps the plane of its predicted class. How depends on the loss
 * the weights were trained with (`roiHeads.maskLoss`, the paper's Table 2b):
 *   'sigmoid'  each class's logit on its own: p_k = σ(x_k) (Mask R-CNN; classes do not compete)
 *   'softmax'  across the K channels of the pixel: p_k = e^{x_k} / Σ_j e^{x_j} (FCN-style; channel 0
 *              is background, so an object pixel's probability is shared with every other class)
 *
 * Glossary
 *   D          detections;  m  mask side (28);  K  classes including background (= channels)
 *   logits     D×m×m×K float32, NHWC with the class innermost (the trace's layout); torch holds the
 *              same values as D×K×m×m, and its sigmoid's scalar tail (the last n mod 16 elements of
 *              that array) is reproduced by index, so the probabilities equal torch's bit for bit
 */
import type { MaskLoss } from '../config.ts';
import { sigmoidf, softmaxRowsf32 } from '../geometry/float32.ts';

/** Every class's probability plane: D×m×m×K (same layout as the logits). */
export function maskClassProbabilities(logits: Float32Array, m: number, numClasses: number, loss: MaskLoss): Float32Array {
  const k = numClasses;
  if (logits.length % (m * m * k) !== 0) {
    throw new Error(`maskClassProbabilities: expected D×${m}×${m}×${k} logits, found ${logits.length} values`);
  }
  if (loss === 'softmax') return softmaxRowsf32(logits, k); // rows of K are contiguous: one softmax per pixel
  const mm = m * m;
  const total = logits.length;
  const tail = total - (total % 16);
  const out = new Float32Array(total);
  for (let i = 0; i < total; i++) {
    const c = i % k;
    const pixel = Math.floor(i / k);
    const d = Math.floor(pixel / mm);
    const torchIndex = (d * k + c) * mm + (pixel % mm); // [D, K, m, m]
    out[i] = sigmoidf(logits[i]!, torchIndex >= tail);
  }
  return out;
}

/**
 * The predicted class's probabilities per detection: D×m×m (torchvision `mask_prob[index, labels]`).
 * `labels[d]` picks detection d's channel.
 */
export function maskProbabilities(logits: Float32Array, labels: Int32Array, m: number, numClasses: number, loss: MaskLoss): Float32Array {
  const k = numClasses;
  const mm = m * m;
  const d = labels.length;
  if (logits.length !== d * mm * k) {
    throw new Error(`maskProbabilities: expected ${d}×${m}×${m}×${k} logits for ${d} detections, found ${logits.length} values`);
  }
  const out = new Float32Array(d * mm);
  if (loss === 'softmax') {
    const row = new Float32Array(k);
    for (let i = 0; i < d * mm; i++) {
      row.set(logits.subarray(i * k, (i + 1) * k));
      out[i] = softmaxRowsf32(row, k)[labels[Math.floor(i / mm)]!]!;
    }
    return out;
  }
  const total = logits.length;
  const tail = total - (total % 16);
  for (let det = 0; det < d; det++) {
    const c = labels[det]!;
    for (let p = 0; p < mm; p++) {
      out[det * mm + p] = sigmoidf(logits[(det * mm + p) * k + c]!, (det * k + c) * mm + p >= tail);
    }
  }
  return out;
}
