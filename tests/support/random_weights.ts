/**
 * A seeded random torchvision-layout state dict for any config (the names and shapes come from
 * `expectedShapes`): He-scaled conv/linear weights, non-trivial FrozenBN statistics, and classifier
 * weights large enough that softmax scores spread. For tests of the engine's plumbing, not parity.
 */
import type { MaskRcnnConfig } from '../../src/config.ts';
import type { StateDict } from '../../src/types.ts';
import { expectedShapes } from '../../src/weights/index.ts';

/** mulberry32: small, seeded, good enough for test weights. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randomStateDict(config: MaskRcnnConfig, seed = 0): StateDict {
  const rand = rng(seed);
  const normal = () => Math.sqrt(-2 * Math.log(rand() + 1e-12)) * Math.cos(2 * Math.PI * rand());
  const sd: StateDict = new Map();
  for (const [name, shape] of expectedShapes(config)) {
    const count = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(count);
    const fanIn = shape.length > 1 ? shape.slice(1).reduce((a, b) => a * b, 1) : 1;
    const gain = name.includes('cls_score') || name.includes('cls_logits') ? 6 : 1;
    for (let i = 0; i < count; i++) {
      if (name.endsWith('running_var')) data[i] = 0.5 + rand();
      else if (name.endsWith('running_mean')) data[i] = 0.2 * normal();
      else if (shape.length === 1 && name.includes('bn') || name.includes('downsample.1')) data[i] = name.endsWith('weight') ? 0.5 + 0.5 * rand() : 0.1 * normal();
      else if (shape.length === 1) data[i] = 0.05 * normal();
      else data[i] = gain * normal() * Math.sqrt(2 / fanIn);
    }
    sd.set(name, { shape, dtype: 'float32', data });
  }
  return sd;
}
