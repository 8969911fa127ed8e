/**
 * Pick a TensorFlow.js backend in Node: `cpu`, `wasm` or `webgpu`.
 *
 * - cpu:    @tensorflow/tfjs-backend-cpu (plain JS).
 * - wasm:   @tensorflow/tfjs-backend-wasm; in Node it finds its .wasm binary beside the module and
 *           runs single-threaded.
 * - webgpu: @tensorflow/tfjs-backend-webgpu on the npm `webgpu` package (Dawn). Machines without a
 *           GPU use SwiftShader, the software Vulkan driver shipped in Debian's `chromium` package:
 *           the Vulkan loader reads `VK_ICD_FILENAMES` when Dawn's instance is created, so setting
 *           `process.env` before `create()` is enough (checked: no adapter without it, SwiftShader
 *           with it; the process need not be started with it). A `VK_ICD_FILENAMES` the user set is
 *           kept. `navigator.gpu` and the `GPUBufferUsage`/`GPUMapMode`/… globals are installed
 *           *before* the tfjs backend is imported: it registers itself only if `navigator.gpu` exists.
 *
 * Each backend module is imported on first use, so importing this file costs nothing and works
 * where only cpu is installed. tfjs backends that were never imported are never registered, which
 * keeps `tf.ready()` from trying WebGPU behind the caller's back.
 */
import * as tf from '@tensorflow/tfjs-core';
import { existsSync } from 'node:fs';

export type Backend = 'cpu' | 'wasm' | 'webgpu';

/** Debian `chromium`'s SwiftShader Vulkan ICD (software Vulkan). */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export class BackendError extends Error {
  override name = 'BackendError';
}

/**
 * Make `name` the active tfjs backend, importing and initializing it if needed.
 * Dispose GPU tensors before switching away from webgpu: tfjs moves live tensors with a synchronous
 * read, which WebGPU in Node cannot do.
 */
export async function useBackend(name: Backend): Promise<void> {
  switch (name) {
    case 'cpu':
      await import('@tensorflow/tfjs-backend-cpu');
      break;
    case 'wasm':
      await import('@tensorflow/tfjs-backend-wasm');
      break;
    case 'webgpu':
      await installWebGpu();
      break;
    default:
      throw new BackendError(`backend '${String(name)}': expected 'cpu', 'wasm' or 'webgpu'`);
  }
  let ok: boolean;
  try {
    ok = await tf.setBackend(name);
  } catch (e) {
    throw new BackendError(`backend '${name}' failed to initialize: ${(e as Error).message}`);
  }
  if (!ok || tf.getBackend() !== name) {
    throw new BackendError(
      `backend '${name}' failed to initialize (tfjs kept '${tf.getBackend()}')` +
        (name === 'webgpu' ? `; is ${SWIFTSHADER_ICD} present (apt-get install chromium) or a GPU driver installed?` : ''),
    );
  }
  await tf.ready();
}

let webGpuInstalled: Promise<void> | undefined;

/** Install `navigator.gpu` (Dawn) and the WebGPU globals, then import the tfjs webgpu backend. Once per process. */
function installWebGpu(): Promise<void> {
  webGpuInstalled ??= (async () => {
    if ((globalThis as { navigator?: { gpu?: unknown } }).navigator?.gpu !== undefined) {
      // Someone already installed a WebGPU implementation: use it.
      await import('@tensorflow/tfjs-backend-webgpu');
      return;
    }
    if (process.env['VK_ICD_FILENAMES'] === undefined) {
      if (!existsSync(SWIFTSHADER_ICD)) {
        throw new BackendError(
          `webgpu in Node needs a Vulkan driver: SwiftShader's ICD ${SWIFTSHADER_ICD} is missing. ` +
            'Install it with `apt-get install chromium`, or set VK_ICD_FILENAMES to your GPU driver\'s ICD.',
        );
      }
      // Read by the Vulkan loader when Dawn creates its instance, i.e. at create() below.
      process.env['VK_ICD_FILENAMES'] = SWIFTSHADER_ICD;
    }
    let dawn: { create: (flags: string[]) => GPU; globals: Record<string, unknown> };
    try {
      dawn = (await import('webgpu')) as unknown as typeof dawn;
    } catch (e) {
      throw new BackendError(`webgpu in Node needs the npm package 'webgpu' (Dawn): ${(e as Error).message}; run npm install`);
    }
    Object.assign(globalThis, dawn.globals);
    const gpu = dawn.create([]);
    const adapter = await gpu.requestAdapter();
    if (adapter === null) {
      throw new BackendError(
        `webgpu: Dawn found no adapter with VK_ICD_FILENAMES=${process.env['VK_ICD_FILENAMES']}. ` +
          `Check that the file exists and is a Vulkan ICD (SwiftShader: apt-get install chromium).`,
      );
    }
    // Node ≥ 21 has a getter-only `navigator` (its getters check their receiver, so copy the fields
    // tfjs reads rather than inheriting them): redefine it as a plain object with `gpu`.
    const previous = (globalThis as { navigator?: Partial<Navigator> }).navigator;
    const navigatorWithGpu = {
      gpu,
      userAgent: previous?.userAgent ?? `Node.js/${process.versions.node}`,
      language: previous?.language ?? 'en-US',
      platform: previous?.platform ?? process.platform,
      hardwareConcurrency: previous?.hardwareConcurrency ?? 1,
    };
    Object.defineProperty(globalThis, 'navigator', { value: navigatorWithGpu, configurable: true, writable: true });
    await import('@tensorflow/tfjs-backend-webgpu');
  })();
  const pending = webGpuInstalled;
  // A failed install may be retried (e.g. after installing chromium).
  pending.catch(() => {
    if (webGpuInstalled === pending) webGpuInstalled = undefined;
  });
  return pending;
}
