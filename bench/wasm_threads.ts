/**
 * EXPERIMENT (bench only): tfjs-backend-wasm's threaded SIMD build in Node.
 *
 * Stock tfjs 4.22 runs wasm single-threaded in Node, for three reasons, each worked around here
 * for the duration of the backend's init only:
 *   1. `WASM_HAS_MULTITHREAD_SUPPORT` is false whenever `IS_NODE` (tfjs#3830): set it to true.
 *   2. The pthread workers are started from `blob:` URLs (URL.createObjectURL(new Blob([...]))),
 *      which Node's `worker_threads` refuses (ERR_WORKER_PATH): Blob is swapped for a class that
 *      writes the text to a temp file, and createObjectURL returns that path. The worker script
 *      reads the main script by path, which needs the bundle's `require$$N` / `commonjsGlobal`
 *      names defined in front of it.
 *   3. The C++ side sets `num_cores = emscripten_num_logical_cores() / 2` (it assumes 2 hardware
 *      threads per core) and caps the pool at that: 1 thread on a 2-vCPU machine, in a browser
 *      too. `os.cpus()` is doubled while the module initializes.
 * Then `setThreadsCount(n)` gives XNNPACK a pool of n threads. None of this is in src/: the bench
 * uses it to measure what threads would buy (`npm run bench -- --wasm-threads 2`).
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import os, { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Prepare the threaded init; call the returned function after `tf.setBackend('wasm')` resolved. */
export async function enableWasmThreads(threads: number): Promise<() => void> {
  const tf = await import('@tensorflow/tfjs-core');
  const wasm = await import('@tensorflow/tfjs-backend-wasm'); // registers the WASM_* flags
  const dir = mkdtempSync(join(tmpdir(), 'tfjs-wasm-threads-'));
  let n = 0;
  const prelude =
    "var require$$0=require('fs'),require$$1=require('path'),require$$2=require('worker_threads')," +
    "require$$3=require('perf_hooks'),require$$4=require('os'),commonjsGlobal=globalThis;";
  class FileBlob {
    readonly path: string;
    constructor(parts: string[]) {
      let text = parts.join('');
      if (text.startsWith('var WasmBackendModuleThreadedSimd')) text = prelude + text;
      // The pthread worker: accept our FileBlob (structured-cloned to {path}) as a script path.
      text = text.replace('if(typeof e.data.urlOrBlob=="string")', 'if(typeof e.data.urlOrBlob=="string"||(e.data.urlOrBlob=e.data.urlOrBlob.path))');
      this.path = join(dir, `part${n++}.js`);
      writeFileSync(this.path, text);
    }
  }
  const saved = { blob: globalThis.Blob, createObjectURL: URL.createObjectURL, cpus: os.cpus };
  globalThis.Blob = FileBlob as unknown as typeof Blob;
  URL.createObjectURL = ((b: FileBlob) => b.path) as unknown as typeof URL.createObjectURL;
  os.cpus = () => [...saved.cpus(), ...saved.cpus()];
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', true);
  wasm.setThreadsCount(threads);
  return () => {
    globalThis.Blob = saved.blob;
    URL.createObjectURL = saved.createObjectURL;
    os.cpus = saved.cpus;
  };
}
