/** The tfjs backends the kernel tests run on in Node, and their seeded PRNG. */
import { existsSync } from 'node:fs';
import { type Backend, SWIFTSHADER_ICD } from '../../src/node/backend.ts';

/** cpu and wasm, plus webgpu where SwiftShader (or another Vulkan driver) is there; under CI it must be. */
export function nodeBackends(): Backend[] {
  const webgpu = existsSync(SWIFTSHADER_ICD) || process.env['VK_ICD_FILENAMES'] !== undefined;
  if (!webgpu) {
    if (process.env['CI']) throw new Error(`webgpu tests need ${SWIFTSHADER_ICD}: apt-get install chromium`);
    console.warn(`[kernels] ${SWIFTSHADER_ICD} missing: webgpu cases skipped (apt-get install chromium)`);
  }
  return webgpu ? ['cpu', 'wasm', 'webgpu'] : ['cpu', 'wasm'];
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
