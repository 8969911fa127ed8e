/**
 * src/stages/mask_inference.ts: mask logits → the predicted class's probabilities, per-class sigmoid
 * (torchvision maskrcnn_inference, bit for bit) or softmax across classes (roiHeads.maskLoss).
 */
import { describe, expect, it } from 'vitest';
import { sigmoidf32 } from '../src/geometry/float32.ts';
import { maskClassProbabilities, maskProbabilities } from '../src/stages/mask_inference.ts';
import { mulberry32 } from './support/backends.ts';

/** D×m×m×K (class innermost) → D×K×m×m, torch's layout. */
function toTorchLayout(x: Float32Array, d: number, m: number, k: number): Float32Array {
  const out = new Float32Array(x.length);
  for (let i = 0; i < d; i++) for (let p = 0; p < m * m; p++) for (let c = 0; c < k; c++) out[(i * k + c) * m * m + p] = x[(i * m * m + p) * k + c]!;
  return out;
}

describe('maskProbabilities', () => {
  it("'sigmoid' of logit 0 is 0.5 and of ln 3 is 0.75, on the label's channel only", () => {
    const logits = Float32Array.of(9, 0, -9, 9, Math.log(3), -9); // D = 2, m = 1, K = 3
    const p = maskProbabilities(logits, Int32Array.of(1, 1), 1, 3, 'sigmoid');
    expect(p[0]).toBe(0.5);
    expect(p[1]).toBeCloseTo(0.75, 6);
  });

  it("'softmax' of logits (0, ln 2, 0) for class 1 is 2/4 = 0.5, for class 0 is 0.25", () => {
    const logits = Float32Array.of(0, Math.LN2, 0, 0, Math.LN2, 0);
    const p = maskProbabilities(logits, Int32Array.of(1, 0), 1, 3, 'softmax');
    expect(p[0]).toBeCloseTo(0.5, 6);
    expect(p[1]).toBeCloseTo(0.25, 6);
  });

  it("'sigmoid' equals torch.sigmoid over the D×K×m×m tensor then [index, labels], bit for bit, its scalar tail included (3×5×3×3: 135 values, tail 7)", () => {
    const [d, m, k] = [3, 3, 5];
    const rand = mulberry32(11);
    const logits = Float32Array.from({ length: d * m * m * k }, () => 8 * rand() - 4);
    const labels = Int32Array.of(4, 1, 4);
    const torch = sigmoidf32(toTorchLayout(logits, d, m, k));
    const expected = Float32Array.from({ length: d * m * m }, (_, i) => torch[(Math.floor(i / (m * m)) * k + labels[Math.floor(i / (m * m))]!) * m * m + (i % (m * m))]!);
    expect(Array.from(maskProbabilities(logits, labels, m, k, 'sigmoid'))).toEqual(Array.from(expected));
    const all = maskClassProbabilities(logits, m, k, 'sigmoid');
    expect(Array.from(toTorchLayout(all, d, m, k))).toEqual(Array.from(torch));
  });

  it("maskClassProbabilities 'softmax' sums to 1 over the classes of every pixel and agrees with maskProbabilities", () => {
    const [d, m, k] = [2, 4, 6];
    const rand = mulberry32(5);
    const logits = Float32Array.from({ length: d * m * m * k }, () => 10 * rand() - 5);
    const all = maskClassProbabilities(logits, m, k, 'softmax');
    for (let px = 0; px < d * m * m; px++) expect(all.subarray(px * k, (px + 1) * k).reduce((s, v) => s + v, 0)).toBeCloseTo(1, 5);
    const labels = Int32Array.of(3, 5);
    const chosen = maskProbabilities(logits, labels, m, k, 'softmax');
    for (let px = 0; px < d * m * m; px++) expect(chosen[px]).toBe(all[px * k + labels[Math.floor(px / (m * m))]!]);
  });

  it('a logits length that does not match D×m×m×K is an error naming both', () => {
    expect(() => maskProbabilities(new Float32Array(10), Int32Array.of(1), 2, 3, 'sigmoid')).toThrow(/expected 1×2×2×3 logits.*found 10/);
    expect(() => maskClassProbabilities(new Float32Array(10), 2, 3, 'softmax')).toThrow(/expected D×2×2×3 logits, found 10/);
  });
});
