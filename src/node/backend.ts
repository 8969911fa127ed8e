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
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';

export type Backend = 'cpu' | 'wasm' | 'webgpu';

/** Debian `chromium`'s SwiftShader Vulkan ICD (software Vulkan). */
export const SWIFTSHADER_ICD = '/usr/lib/chromium/vk_swiftshader_icd.json';

export class BackendError extends Error {
  override name = 'BackendError';
}

/** The Vulkan loader's file name; Dawn opens it by name, so the dynamic linker must find it. */
export const VULKAN_LOADER = 'libvulkan.so.1';

/**
 * The libvulkan.so.1 paths listed by `ldconfig -p` (its lines read
 * `\tlibvulkan.so.1 (libc6,x86-64) => /lib/x86_64-linux-gnu/libvulkan.so.1`).
 */
export function loaderPathsInLdconfig(listing: string): string[] {
  const paths: string[] = [];
  for (const line of listing.split('\n')) {
    const m = /^\s*(\S+)\s+\([^)]*\)\s+=>\s+(\S.*)$/.exec(line);
    if (m && m[1] === VULKAN_LOADER) paths.push(m[2]!.trim());
  }
  return paths;
}

/** Where the loader is searched when the linker cache does not list it: the usual library directories. */
const USUAL_LIBRARY_DIRS = [
  '/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib/aarch64-linux-gnu', '/usr/lib/aarch64-linux-gnu',
  '/lib64', '/usr/lib64', '/lib', '/usr/lib', '/usr/local/lib',
];

/**
 * Where the dynamic linker will find the Vulkan loader `libvulkan.so.1` on Linux: a directory of
 * `LD_LIBRARY_PATH`, else the linker cache (`ldconfig -p`), else the usual library directories
 * (where the linker also looks when its cache is stale).
 * Undefined when it is nowhere. (Debian's `chromium` carries a private copy in /usr/lib/chromium/
 * that only chromium itself finds; the system's comes from the package `libvulkan1`.)
 */
export function findVulkanLoader(env: NodeJS.ProcessEnv = process.env): string | undefined {
  for (const dir of (env['LD_LIBRARY_PATH'] ?? '').split(':')) {
    if (dir !== '' && existsSync(join(dir, VULKAN_LOADER))) return join(dir, VULKAN_LOADER);
  }
  for (const ldconfig of ['/sbin/ldconfig', '/usr/sbin/ldconfig']) {
    if (!existsSync(ldconfig)) continue;
    try {
      const listing = execFileSync(ldconfig, ['-p'], { encoding: 'utf8', timeout: 5000, stdio: ['ignore', 'pipe', 'ignore'] });
      const cached = loaderPathsInLdconfig(listing).find((p) => existsSync(p));
      if (cached !== undefined) return cached;
    } catch {
      // No cache to read: look in the usual places.
    }
    break;
  }
  return USUAL_LIBRARY_DIRS.map((d) => join(d, VULKAN_LOADER)).find((p) => existsSync(p));
}

/** What decides whether WebGPU can start in Node (see `webGpuProblem`). */
export interface WebGpuFacts {
  platform: NodeJS.Platform;
  /** `VK_ICD_FILENAMES` as the user set it, if they did. */
  icdFromEnv: string | undefined;
  /** Whether SwiftShader's ICD (`SWIFTSHADER_ICD`) is installed. */
  swiftShaderIcd: boolean;
  /** The Vulkan loader's path, or undefined when the dynamic linker cannot find one (Linux). */
  vulkanLoader: string | undefined;
}

/** The facts of this machine and process. */
export function webGpuFacts(): WebGpuFacts {
  return {
    platform: process.platform,
    icdFromEnv: process.env['VK_ICD_FILENAMES'],
    swiftShaderIcd: existsSync(SWIFTSHADER_ICD),
    vulkanLoader: process.platform === 'linux' ? findVulkanLoader() : undefined,
  };
}

/**
 * Why WebGPU cannot start in this Node process, or undefined when nothing is known to be missing.
 * On Linux Dawn needs two things: a Vulkan driver (an ICD: SwiftShader from `chromium`, or a GPU's)
 * and the Vulkan loader `libvulkan.so.1` (package `libvulkan1`) that opens it. Other platforms use
 * Metal or Direct3D and need neither. The messages say which is missing and how to install it.
 */
export function webGpuProblem(facts: WebGpuFacts = webGpuFacts()): string | undefined {
  if (facts.platform !== 'linux') return undefined;
  const missing: string[] = [];
  if (facts.icdFromEnv === undefined && !facts.swiftShaderIcd) {
    missing.push(`a Vulkan driver: SwiftShader's ICD ${SWIFTSHADER_ICD} is missing (apt-get install chromium), or set VK_ICD_FILENAMES to your GPU driver's ICD`);
  }
  if (facts.vulkanLoader === undefined) {
    missing.push(`the Vulkan loader ${VULKAN_LOADER}, which the dynamic linker does not find (apt-get install libvulkan1; chromium only recommends it and keeps a private copy Dawn cannot use)`);
  }
  return missing.length === 0 ? undefined : `webgpu in Node needs ${missing.join('; and ')}`;
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
        (name === 'webgpu' ? `; ${webGpuProblem() ?? 'the Vulkan driver and loader are there, so the adapter was refused'}` : ''),
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
    const problem = webGpuProblem();
    if (problem !== undefined) throw new BackendError(problem);
    // Read by the Vulkan loader when Dawn creates its instance, i.e. at create() below.
    if (process.platform === 'linux') process.env['VK_ICD_FILENAMES'] ??= SWIFTSHADER_ICD;
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
        `webgpu: Dawn found no adapter with VK_ICD_FILENAMES=${process.env['VK_ICD_FILENAMES']}, although the Vulkan loader is ` +
          `there (${findVulkanLoader() ?? VULKAN_LOADER}): the ICD named there gave no device. Check that the file is a Vulkan ICD ` +
          `whose library loads (SwiftShader: apt-get install --reinstall chromium), or unset VK_ICD_FILENAMES to use SwiftShader.`,
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
