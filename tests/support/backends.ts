/** The tfjs backends the kernel tests run on in Node, and their seeded PRNG. */
import { it } from 'vitest';
import { type Backend, webGpuProblem } from '../../src/node/backend.ts';

let problem: string | undefined | null = null;

/**
 * Why webgpu cannot run in this process (no Vulkan driver, no Vulkan loader), or undefined; the same
 * check `useBackend('webgpu')` makes. Under CI a problem is an error: CI installs both (.ci/run).
 */
export function webGpuSkipReason(): string | undefined {
  if (problem === null) {
    problem = webGpuProblem();
    if (problem !== undefined && process.env['CI']) throw new Error(`${problem}. Under CI the webgpu tests must run (.ci/run installs .ci/packages)`);
  }
  return problem;
}

/**
 * cpu and wasm, plus webgpu where Dawn can start (SwiftShader from `chromium` and the loader from
 * `libvulkan1`); where it cannot, a skipped test whose title says why takes webgpu's place.
 */
export function nodeBackends(): Backend[] {
  const reason = webGpuSkipReason();
  if (reason === undefined) return ['cpu', 'wasm', 'webgpu'];
  console.warn(`[webgpu] cases skipped: ${reason}`);
  it.skip(`webgpu cases (skipped: ${reason})`, () => {});
  return ['cpu', 'wasm'];
}

/** mulberry32, the kernel tests' seeded PRNG (its sequence fixes their random cases). */
export function mulberry32(seed: number): () => number {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
