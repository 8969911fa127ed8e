/**
 * The browser's tfjs backend, chosen like the issue says: WebGPU when `navigator.gpu` gives an
 * adapter, else WebGL (2), else wasm; the reader may pick one (`?backend=` or the status bar), and
 * a backend that fails to start falls back down the same chain. Every choice carries the reason
 * the status bar shows.
 *
 * All four backends are bundled; the wasm binaries are bundled assets handed to `setWasmPaths`, so
 * nothing is fetched from outside the site. The threaded SIMD binary is used only where the page is
 * cross-origin isolated (tfjs checks SharedArrayBuffer itself).
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
// Registers the RoI pooling kernels for every backend (also imported by the engine; explicit here).
import '../../kernels/index.ts';

setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmUrl,
  'tfjs-backend-wasm-simd.wasm': wasmSimdUrl,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedUrl,
});

export const SITE_BACKENDS = ['webgpu', 'webgl', 'wasm', 'cpu'] as const;
export type SiteBackend = (typeof SITE_BACKENDS)[number];
/** What the reader asked for: a backend, or `auto` (the order). */
export type BackendRequest = SiteBackend | 'auto';

export const BACKEND_LABELS: Record<SiteBackend, string> = {
  webgpu: 'WebGPU',
  webgl: 'WebGL',
  wasm: 'WebAssembly (wasm)',
  cpu: 'plain JavaScript (cpu)',
};

export interface BackendChoice {
  backend: SiteBackend;
  requested: BackendRequest;
  /** One sentence for the status bar: why this backend. */
  reason: string;
}

export function isBackendRequest(v: unknown): v is BackendRequest {
  return v === 'auto' || (SITE_BACKENDS as readonly unknown[]).includes(v);
}

/** Set once the webgpu backend's device is lost: tfjs keeps that backend (and its dead device) for the page's life. */
let lostReason: string | undefined;
const lostListeners = new Set<(reason: string) => void>();
const watched = new WeakSet<GPUDevice>();

/** The GPUDevice of tfjs's webgpu backend once it has started (for the lost-device watch, and the tests). */
export function webGpuDevice(): GPUDevice | undefined {
  return (tf.findBackend('webgpu') as { device?: GPUDevice } | null)?.device;
}

/** Call `fn(reason)` when the WebGPU device in use is lost (driver reset, GPU removed, `destroy()`). */
export function onGpuDeviceLost(fn: (reason: string) => void): () => void {
  lostListeners.add(fn);
  return () => lostListeners.delete(fn);
}

/**
 * The reason the WebGPU device was lost, waiting up to `ms` for `device.lost` (a read from a lost
 * device can fail a moment before that promise resolves); undefined when it is not lost.
 */
export async function gpuLostReason(ms = 500): Promise<string | undefined> {
  if (lostReason !== undefined) return lostReason;
  const device = webGpuDevice();
  if (device === undefined) return undefined;
  const info = await Promise.race([device.lost, new Promise<undefined>((r) => setTimeout(r, ms))]);
  return info === undefined ? undefined : lostText(info);
}

const lostText = (info: GPUDeviceLostInfo) => [info.reason, info.message].filter(Boolean).join(': ') || 'no reason given';

function watchDevice(): void {
  const device = webGpuDevice();
  if (device === undefined || watched.has(device)) return;
  watched.add(device);
  void device.lost.then((info) => {
    lostReason = lostText(info);
    for (const fn of lostListeners) fn(lostReason);
  });
}

/** Why WebGPU can't be used here, or null when an adapter is there. */
async function webGpuProblem(): Promise<string | null> {
  if (lostReason !== undefined) return `its device was lost earlier on this page (${lostReason}); reload the page to use WebGPU again`;
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (gpu === undefined) return 'this browser has no navigator.gpu (WebGPU is off or unsupported)';
  try {
    const adapter = await gpu.requestAdapter();
    return adapter === null ? 'navigator.gpu gave no adapter (no usable GPU)' : null;
  } catch (e) {
    return `navigator.gpu.requestAdapter() failed (${(e as Error).message})`;
  }
}

function webGlProblem(): string | null {
  try {
    const canvas = document.createElement('canvas');
    return canvas.getContext('webgl2') === null ? 'WebGL 2 is unavailable' : null;
  } catch (e) {
    return `WebGL 2 failed (${(e as Error).message})`;
  }
}

async function tryBackend(name: SiteBackend): Promise<string | null> {
  try {
    const ok = await tf.setBackend(name);
    await tf.ready();
    return ok && tf.getBackend() === name ? null : `tfjs could not start ${name}`;
  } catch (e) {
    return `${name} failed to start (${(e as Error).message})`;
  }
}

/** Adapter facts for the status line ("SwiftShader" on a machine without a GPU). */
async function adapterName(): Promise<string> {
  try {
    const info = (await (navigator as Navigator & { gpu?: GPU }).gpu?.requestAdapter())?.info;
    return [info?.vendor, info?.architecture].filter(Boolean).join(' ');
  } catch {
    return '';
  }
}

/**
 * Make a backend active for `requested`. Dispose every tensor of the old backend first (tfjs moves
 * live tensors with a synchronous read, which WebGPU cannot do).
 */
export async function chooseBackend(requested: BackendRequest): Promise<BackendChoice> {
  const order: SiteBackend[] = requested === 'auto' ? ['webgpu', 'webgl', 'wasm', 'cpu'] : [requested, ...SITE_BACKENDS.filter((b) => b !== requested && b !== 'cpu'), 'cpu'];
  const skipped: string[] = [];
  for (const backend of order) {
    const problem = backend === 'webgpu' ? await webGpuProblem() : backend === 'webgl' ? webGlProblem() : null;
    const failure = problem ?? (await tryBackend(backend));
    if (failure === null) {
      let why: string;
      if (requested === backend) why = 'you chose it';
      else if (backend === 'webgpu') why = 'navigator.gpu gave an adapter';
      else why = `${skipped.join('; ')}`;
      if (backend === 'webgpu') {
        watchDevice();
        const name = await adapterName();
        if (name) why += ` (${name})`;
      }
      if (requested !== 'auto' && requested !== backend) why = `you chose ${BACKEND_LABELS[requested]}, but ${why}`;
      return { backend, requested, reason: why };
    }
    skipped.push(`${BACKEND_LABELS[backend]}: ${failure}`);
  }
  throw new Error(`no TensorFlow.js backend could start here: ${skipped.join('; ')}`);
}

/** The active backend's name, as tfjs reports it. */
export function activeBackend(): string {
  return tf.getBackend();
}

export function numTensors(): number {
  return tf.memory().numTensors;
}
