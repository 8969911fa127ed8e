/// <reference types="vite/client" />
/**
 * The browser test page: the engine (src/model.ts + kernels/) on the tiny random model, run in one
 * page on wasm, cpu, webgl and webgpu, plus the RoI kernels on webgl and webgpu against the CPU
 * twin. `window.runBrowserTest()` returns a PageReport (report.ts) to the Node side
 * (tests/backends_browser.test.ts), which bundles this page with Vite and drives chromium.
 *
 * The wasm backend's binaries are bundled assets (Vite `?url` imports) handed to `setWasmPaths`:
 * nothing is fetched from a CDN.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import '@tensorflow/tfjs-backend-webgl';
import '@tensorflow/tfjs-backend-webgpu';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import wasmUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm.wasm?url';
import wasmSimdUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-simd.wasm?url';
import wasmThreadedUrl from '@tensorflow/tfjs-backend-wasm/dist/tfjs-backend-wasm-threaded-simd.wasm?url';
import { multiScaleRoiPool, roiAlign, roiPool, roiWarp } from '../../kernels/index.ts';
import { toConfig } from '../../src/config.ts';
import { createMaskRcnn, runMaskRcnn } from '../../src/model.ts';
import { randomStateDict, rng } from '../support/random_weights.ts';
import { TINY, randomImage } from '../support/tiny.ts';
import { type BackendRun, type KernelCheck, type KernelRefusal, PAGE_BACKENDS, type PageBackend, type PageReport } from './report.ts';

setWasmPaths({
  'tfjs-backend-wasm.wasm': wasmUrl,
  'tfjs-backend-wasm-simd.wasm': wasmSimdUrl,
  'tfjs-backend-wasm-threaded-simd.wasm': wasmThreadedUrl,
});

async function useBackend(name: PageBackend): Promise<boolean> {
  const ok = await tf.setBackend(name);
  await tf.ready();
  return ok;
}

// ---- the tiny model on each backend ------------------------------------------------------------

/** The tiny model on one backend: the same seeds as tests/trace.test.ts's cross-backend test. */
async function runModel(backend: PageBackend): Promise<BackendRun> {
  const t0 = performance.now();
  const setBackendOk = await useBackend(backend);
  const activeBefore = tf.getBackend();
  const facts = await backendFacts(backend);
  const tensorsBefore = tf.memory().numTensors;
  const model = createMaskRcnn(randomStateDict(toConfig(TINY), 3), TINY);
  const trace = await runMaskRcnn(model, randomImage(120, 90, 7));
  const fpn0 = await trace.dump('fpn_0');
  const run: BackendRun = {
    backend,
    setBackendOk,
    activeBefore,
    activeAfter: tf.getBackend(),
    boxes: Array.from(trace.result.boxes),
    labels: Array.from(trace.result.labels),
    scores: Array.from(trace.result.scores),
    fpn0: Array.from(fpn0.data),
    fpn0Shape: fpn0.shape,
    tensorsBefore,
    tensorsAfter: 0,
    ms: 0,
    facts,
  };
  trace.dispose();
  model.dispose();
  run.tensorsAfter = tf.memory().numTensors;
  run.ms = Math.round(performance.now() - t0);
  return run;
}

async function backendFacts(backend: PageBackend): Promise<BackendRun['facts']> {
  const env = tf.env();
  // 1 + 2^-20 survives float32 (24-bit mantissa) but not float16 (11-bit): a computed, read-back sum.
  const sum = tf.add(tf.scalar(1), tf.scalar(2 ** -20));
  const facts: BackendRun['facts'] = { float32Arithmetic: (await sum.data())[0] === 1 + 2 ** -20 };
  sum.dispose();
  if (backend === 'webgl') {
    facts['WEBGL_VERSION'] = env.getNumber('WEBGL_VERSION');
    facts['WEBGL_RENDER_FLOAT32_ENABLED'] = env.getBool('WEBGL_RENDER_FLOAT32_ENABLED');
  }
  if (backend === 'webgpu') {
    const device = (tf.backend() as unknown as { device?: { queue?: unknown } }).device;
    facts['hasGpuDevice'] = device?.queue !== undefined;
    const info = (await navigator.gpu.requestAdapter())?.info;
    facts['adapterVendor'] = info?.vendor ?? '';
    facts['adapterArchitecture'] = info?.architecture ?? '';
  }
  return facts;
}

// ---- RoI kernels: webgl and webgpu against the CPU twin ----------------------------------------

interface KernelInputs {
  /** [2, 16, 18, 3] */
  x: tf.Tensor4D;
  /** [7, 5], for scale 1 */
  rois: tf.Tensor2D;
  /** [4, 5], for scale ½ */
  half: tf.Tensor2D;
  /** P2–P5 of a 128×160 image: [1, 32, 40, 3] … [1, 4, 5, 3] */
  pyramid: tf.Tensor4D[];
  /** [6, 4] image pixels */
  boxes: tf.Tensor2D;
  /** [6] */
  levels: tf.Tensor1D;
}

/**
 * Inputs that exercise the exact-arithmetic decisions: RoIPool/RoIWarp rounding of x·scale at
 * exact halves (2.5 → 3, −1.5 → −2), roi sizes that are exact multiples of the output size
 * (bin = 2 exactly: a quotient one ulp high would take ceil to 3 and add a row), adaptive grids
 * on integer quotients, boxes partly off the map, batch index 1, and all four pyramid levels.
 */
function kernelInputs(): KernelInputs {
  const rand = rng(11);
  const values = (n: number) => Float32Array.from({ length: n }, () => 4 * rand() - 2);
  return {
    x: tf.tensor4d(values(2 * 16 * 18 * 3), [2, 16, 18, 3]),
    rois: tf.tensor2d(
      [
        [0, 2.5, 1.5, 16.5, 15.5], // RoIPool/RoIWarp: rounds to 3, 2, 17, 16
        [1, 0, 0, 13, 13], // RoIPool: 14 cells over 7 bins, bin = 2 exactly
        [0, 5, 3, 11, 10],
        [1, -3, -1.5, 6, 20], // partly off the map; -1.5 rounds to -2
        [0, 4.25, 2.75, 4.5, 3], // smaller than a cell
        [1, 0.1, 0.3, 17.9, 15.7],
        [0, 7, 0, 16, 14], // RoIAlign adaptive: 9 / 7 and 14 / 7 = 2 exactly
      ],
      [7, 5],
    ),
    half: tf.tensor2d([[0, 5, 3, 33, 29], [1, -3, -1, 20, 14], [0, 1, 1, 27, 27], [1, 6, 2, 26, 13]], [4, 5]),
    pyramid: ([[32, 40], [16, 20], [8, 10], [4, 5]] as const).map(([h, w]) => tf.tensor4d(values(h * w * 3), [1, h, w, 3])),
    boxes: tf.tensor2d([[0, 0, 27, 27], [10.5, 6.5, 90, 70], [4, 8, 60, 120], [30, 10, 150, 110], [2.5, 2.5, 10.5, 10.5], [64, 40, 160, 128]], [6, 4]),
    levels: tf.tensor1d([0, 1, 2, 3, 0, 2], 'int32'),
  };
}

const SCALES = [1 / 4, 1 / 8, 1 / 16, 1 / 32];

const KERNEL_CASES: { op: string; run(i: KernelInputs): tf.Tensor }[] = [
  { op: 'roiAlign 7×7 s1 ratio 2', run: (i) => roiAlign(i.x, i.rois, { outputSize: [7, 7], spatialScale: 1, samplingRatio: 2, aligned: false }) },
  { op: 'roiAlign 3×3 s½ adaptive aligned', run: (i) => roiAlign(i.x, i.half, { outputSize: [3, 3], spatialScale: 0.5, samplingRatio: 0, aligned: true }) },
  { op: 'roiAlign 7×7 s1 adaptive', run: (i) => roiAlign(i.x, i.rois, { outputSize: [7, 7], spatialScale: 1, samplingRatio: 0, aligned: false }) },
  { op: 'roiAlign 2×4 s1 ratio 3 max', run: (i) => roiAlign(i.x, i.rois, { outputSize: [2, 4], spatialScale: 1, samplingRatio: 3, aligned: false, mode: 'max' }) },
  { op: 'roiPool 7×7 s1', run: (i) => roiPool(i.x, i.rois, { outputSize: [7, 7], spatialScale: 1 }) },
  { op: 'roiPool 3×3 s½', run: (i) => roiPool(i.x, i.half, { outputSize: [3, 3], spatialScale: 0.5 }) },
  { op: 'roiWarp 3×3 s½ ratio 2', run: (i) => roiWarp(i.x, i.half, { outputSize: [3, 3], spatialScale: 0.5, samplingRatio: 2 }) },
  { op: 'roiWarp 7×7 s1 adaptive', run: (i) => roiWarp(i.x, i.rois, { outputSize: [7, 7], spatialScale: 1, samplingRatio: 0 }) },
  {
    op: 'multiScaleRoiPool roiAlign 7×7 P2–P5',
    run: (i) => multiScaleRoiPool(i.pyramid, i.boxes, i.levels, { pooler: 'roiAlign', outputSize: [7, 7], scales: SCALES, samplingRatio: 2, aligned: false }),
  },
  {
    op: 'multiScaleRoiPool roiPool 5×5 P2–P5',
    run: (i) => multiScaleRoiPool(i.pyramid, i.boxes, i.levels, { pooler: 'roiPool', outputSize: [5, 5], scales: SCALES, samplingRatio: 0, aligned: false }),
  },
];

/** Every case on the active backend, from fresh inputs; throws if a tensor is left behind. */
async function runKernelCases(): Promise<Float32Array[]> {
  const before = tf.memory().numTensors;
  const outputs = tf.tidy(() => {
    const inputs = kernelInputs();
    return KERNEL_CASES.map((c) => c.run(inputs));
  });
  const values: Float32Array[] = [];
  for (const t of outputs) values.push((await t.data()) as Float32Array);
  tf.dispose(outputs);
  const left = tf.memory().numTensors - before;
  if (left !== 0) throw new Error(`kernel checks left ${left} tensors on ${tf.getBackend()}`);
  return values;
}

/** Bad RoI values on the active backend: each call should throw RoiOpError (values still host-side). */
function refusals(backend: 'webgl' | 'webgpu'): KernelRefusal[] {
  const attempt = (op: string, call: () => tf.Tensor): KernelRefusal => {
    try {
      tf.tidy(call);
      return { backend, op, error: 'no error' };
    } catch (e) {
      return { backend, op, error: `${(e as Error).name}: ${(e as Error).message}` };
    }
  };
  return [
    attempt('roiAlign batch index 2 of 1', () =>
      roiAlign(tf.zeros([1, 4, 4, 2]), tf.tensor2d([[2, 0, 0, 2, 2]]), { outputSize: [2, 2], spatialScale: 1, samplingRatio: 2, aligned: false })),
    attempt('multiScaleRoiPool level 2 of 2', () =>
      multiScaleRoiPool([tf.zeros([1, 4, 4, 2]), tf.zeros([1, 2, 2, 2])], tf.tensor2d([[0, 0, 8, 8]]), tf.tensor1d([2], 'int32'), {
        pooler: 'roiPool', outputSize: [2, 2], scales: [0.25, 0.125], samplingRatio: 0, aligned: false,
      })),
  ];
}

async function checkKernels(): Promise<{ checks: KernelCheck[]; refused: KernelRefusal[] }> {
  await useBackend('cpu');
  const reference = await runKernelCases();
  const checks: KernelCheck[] = [];
  const refused: KernelRefusal[] = [];
  for (const backend of ['webgl', 'webgpu'] as const) {
    if (!(await useBackend(backend)) || tf.getBackend() !== backend) throw new Error(`kernel checks: backend ${backend} did not start`);
    refused.push(...refusals(backend));
    const outputs = await runKernelCases();
    outputs.forEach((out, i) => {
      const ref = reference[i]!;
      const op = KERNEL_CASES[i]!.op;
      if (out.length !== ref.length) throw new Error(`${backend} ${op}: ${out.length} values, cpu ${ref.length}`);
      let maxAbsDiff = 0;
      let mismatches = 0;
      let maxAbs = 0;
      for (let j = 0; j < ref.length; j++) {
        const d = Math.abs(out[j]! - ref[j]!);
        if (d !== 0) mismatches++; // NaN counts too
        maxAbsDiff = Math.max(maxAbsDiff, Number.isNaN(d) ? Infinity : d);
        maxAbs = Math.max(maxAbs, Math.abs(ref[j]!));
      }
      checks.push({ backend, op, size: ref.length, maxAbsDiff, mismatches, maxAbs });
    });
  }
  return { checks, refused };
}

window.runBrowserTest = async (): Promise<PageReport> => {
  const t0 = performance.now();
  const runs: BackendRun[] = [];
  for (const backend of PAGE_BACKENDS) runs.push(await runModel(backend));
  const { checks, refused } = await checkKernels();
  return {
    userAgent: navigator.userAgent,
    crossOriginIsolated: globalThis.crossOriginIsolated,
    runs,
    kernels: checks,
    refusals: refused,
    ms: Math.round(performance.now() - t0),
  };
};
