/**
 * One benchmark column in its own process (so its whole-process time can be measured and a slow
 * one stopped): started by bench/run.ts as
 *
 *   node --import tsx bench/worker.ts --engine wasm|cpu|ort --weights FILE --image FILE.png
 *        --min-size 800 --runs 3 [--profile] [--wasm-threads N] [--onnx FILE.onnx --ort ENTRY.js] [--threads 2]
 *
 * wasm, cpu: our engine (createMaskRcnn + runMaskRcnn) on that tfjs backend; per-stage times are
 *            the trace's `timings`. `--profile` adds one extra run under tf.profile (kernel times
 *            per stage) after the timed runs.
 * ort:       onnxruntime-node on torchvision's ONNX export (tests/oracle/export_onnx.py); the input
 *            is the decoded PNG as 3×H×W float32 v/255, as torchvision's to_tensor gives it.
 * Talks JSON lines on stdout (bench/protocol.ts).
 */
import { readFileSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { type Detections, type KernelRow, type Profile, emit } from './protocol.ts';
import { decodeImage } from '../src/io/image.ts';
import type { RgbImage } from '../src/types.ts';

interface Args {
  engine: string;
  weights: string;
  image: string;
  minSize: number;
  runs: number;
  profile: boolean;
  onnx: string;
  /** onnxruntime-node's entry file (bench/ort.ts resolveOrt). */
  ort: string;
  threads: number;
  /** >1: tfjs wasm's threaded build, forced on in Node (bench/wasm_threads.ts, an experiment). */
  wasmThreads: number;
}

function parse(argv: string[]): Args {
  const get = (name: string, fallback?: string): string => {
    const i = argv.indexOf(`--${name}`);
    const v = i >= 0 ? argv[i + 1] : fallback;
    if (v === undefined) throw new Error(`bench/worker.ts: --${name} is required`);
    return v;
  };
  return {
    engine: get('engine'),
    weights: get('weights', ''),
    image: get('image'),
    minSize: Number(get('min-size', '800')),
    runs: Number(get('runs', '1')),
    profile: argv.includes('--profile'),
    onnx: get('onnx', ''),
    ort: get('ort', 'onnxruntime-node'),
    threads: Number(get('threads', '2')),
    wasmThreads: Number(get('wasm-threads', '1')),
  };
}

// ---------------------------------------------------------------------------------------------
// Our engine

async function runOurs(args: Args, image: RgbImage): Promise<void> {
  const tf = await import('@tensorflow/tfjs-core');
  const { useBackend } = await import('../src/node/backend.ts');
  const { createMaskRcnn, runMaskRcnn } = await import('../src/model.ts');
  const { readCheckpoint } = await import('../src/weights/index.ts');
  const restore = args.engine === 'wasm' && args.wasmThreads > 1 ? await (await import('./wasm_threads.ts')).enableWasmThreads(args.wasmThreads) : undefined;
  try {
    await useBackend(args.engine as 'wasm' | 'cpu');
  } finally {
    restore?.();
  }
  const sd = readCheckpoint(new Uint8Array(readFileSync(args.weights)), args.weights);
  const model = createMaskRcnn(sd, { transform: { minSize: args.minSize } });
  const loadMs = performance.now();
  const info: Record<string, string | number> = { backend: tf.getBackend(), tfjs: tf.version_core };
  if (args.engine === 'wasm') {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    info['threads'] = wasm.getThreadsCount();
  }

  let detections: Detections = { boxes: [], labels: [], scores: [] };
  for (let run = 0; run < args.runs; run++) {
    const t0 = performance.now();
    const trace = await runMaskRcnn(model, image, { onStage: (stage, ms) => emit({ event: 'stage', run, stage, ms }) });
    const wallMs = performance.now() - t0;
    if (run === 0) {
      emit({ event: 'first' });
      const { boxes, labels, scores } = trace.result;
      detections = { boxes: Array.from(boxes), labels: Array.from(labels), scores: Array.from(scores) };
      info['proposals'] = trace.proposals.boxes.length / 4;
      info['resized'] = trace.sizes.resized.join('×');
      info['padded'] = trace.sizes.padded.join('×');
    }
    emit({ event: 'run', run, stages: { ...trace.timings }, wallMs });
    trace.dispose();
  }

  let profile: Profile | undefined;
  if (args.profile) {
    const stageMs: Record<string, number> = {};
    const marks: { stage: string; end: number }[] = [];
    const active = () => (tf.engine().state as unknown as { activeProfile: { kernels: unknown[] } }).activeProfile.kernels.length;
    const t0 = performance.now();
    const info = await tf.profile(async () => {
      const trace = await runMaskRcnn(model, image, {
        onStage: (stage, ms) => {
          stageMs[stage] = ms;
          marks.push({ stage, end: active() });
        },
      });
      trace.dispose();
      return [];
    });
    const wallMs = performance.now() - t0;
    profile = summarize(info.kernels, marks, stageMs, wallMs);
  }
  model.dispose();
  emit({ event: 'done', engine: args.engine, loadMs, detections, info, profile });
}

/** 2 × multiply-adds of a conv / matmul kernel from its input and output shapes (0 when unknown). */
function kernelFlops(name: string, inputs: (number[] | null)[], outputs: number[][]): number {
  const prod = (s: readonly number[]) => s.reduce((a, b) => a * b, 1);
  const out = outputs[0];
  if (!out) return 0;
  if (name === 'Conv2D' || name === 'FusedConv2D') {
    const f = inputs[1];
    return f ? 2 * prod(out) * f[0]! * f[1]! * f[2]! : 0; // N·H·W·O · kh·kw·I
  }
  if (name === 'Conv2DBackpropInput') {
    const [dy, f] = [inputs[0], inputs[1]];
    return dy && f ? 2 * prod(dy) * f[0]! * f[1]! * f[2]! : 0; // N·h·w·Cin · kh·kw·Cout
  }
  if (name === 'BatchMatMul' || name === '_FusedMatMul') {
    const a = inputs[0];
    return a ? 2 * prod(out) * a[a.length - 1]! : 0; // M·N · K (no transposeA in our layers)
  }
  return 0;
}

interface ProfiledKernel {
  name: string;
  kernelTimeMs: number | { error: string };
  inputShapes: (number[] | null)[];
  outputShapes: number[][];
}

function summarize(kernels: unknown[], marks: { stage: string; end: number }[], stageMs: Record<string, number>, wallMs: number): Profile {
  const rows = new Map<string, KernelRow>();
  const byKernel = new Map<string, { kernel: string; calls: number; ms: number; flops: number }>();
  const kernelMsByStage: Record<string, number> = {};
  let m = 0;
  (kernels as ProfiledKernel[]).forEach((k, i) => {
    while (m < marks.length && i >= marks[m]!.end) m++;
    // `fusedConv2d__op`-style entries are op scopes wrapping the kernel recorded next to them.
    if (k.name.endsWith('__op')) return;
    const stage = marks[m]?.stage ?? 'after';
    const ms = typeof k.kernelTimeMs === 'number' ? k.kernelTimeMs : 0;
    const flops = kernelFlops(k.name, k.inputShapes, k.outputShapes);
    const shapes = k.inputShapes.map((s) => (s ? s.join('x') : '-')).join(' ');
    const key = `${stage}|${k.name}|${shapes}`;
    const row = rows.get(key) ?? { stage, kernel: k.name, shapes, calls: 0, ms: 0, flops: 0 };
    row.calls++;
    row.ms += ms;
    row.flops += flops;
    rows.set(key, row);
    const kr = byKernel.get(k.name) ?? { kernel: k.name, calls: 0, ms: 0, flops: 0 };
    kr.calls++;
    kr.ms += ms;
    kr.flops += flops;
    byKernel.set(k.name, kr);
    kernelMsByStage[stage] = (kernelMsByStage[stage] ?? 0) + ms;
  });
  return {
    wallMs,
    kernelMsByStage,
    stageMs,
    rows: [...rows.values()].sort((a, b) => b.ms - a.ms),
    byKernel: [...byKernel.values()].sort((a, b) => b.ms - a.ms),
  };
}

// ---------------------------------------------------------------------------------------------
// onnxruntime-node (optional: a benchmark peer, not a dependency)

interface OrtTensor {
  data: ArrayLike<number | bigint>;
  dims: readonly number[];
}
interface OrtModule {
  env: { versions?: Record<string, string> };
  Tensor: new (type: 'float32', data: Float32Array, dims: number[]) => OrtTensor;
  InferenceSession: {
    create(path: string, options: Record<string, unknown>): Promise<{ run(feeds: Record<string, OrtTensor>): Promise<Record<string, OrtTensor>> }>;
  };
}

async function runOrt(args: Args, image: RgbImage): Promise<void> {
  // Not a dependency: imported from the path bench/run.ts resolved (no static import for tsc).
  const ort = (await import(args.ort.startsWith('/') ? pathToFileURL(args.ort).href : args.ort)) as OrtModule;
  const session = await ort.InferenceSession.create(args.onnx, {
    intraOpNumThreads: args.threads,
    interOpNumThreads: 1,
    graphOptimizationLevel: 'all',
    executionMode: 'sequential',
  });
  const { width: W, height: H, data } = image;
  // [H, W, 3] uint8 → [3, H, W] float32 v/255 (torchvision to_tensor)
  const chw = new Float32Array(3 * H * W);
  for (let i = 0; i < H * W; i++) for (let c = 0; c < 3; c++) chw[c * H * W + i] = data[i * 3 + c]! / 255;
  const loadMs = performance.now();
  let detections: Detections = { boxes: [], labels: [], scores: [] };
  for (let run = 0; run < args.runs; run++) {
    const t0 = performance.now();
    const out = await session.run({ image: new ort.Tensor('float32', chw, [3, H, W]) });
    const wallMs = performance.now() - t0;
    if (run === 0) {
      emit({ event: 'first' });
      detections = {
        boxes: Array.from(out['boxes']!.data, Number),
        labels: Array.from(out['labels']!.data, Number),
        scores: Array.from(out['scores']!.data, Number),
      };
    }
    emit({ event: 'run', run, stages: {}, wallMs });
  }
  const info: Record<string, string | number> = { onnxruntime: ort.env.versions?.['node'] ?? '?', threads: args.threads };
  emit({ event: 'done', engine: 'ort', loadMs, detections, info });
}

async function main(): Promise<void> {
  const args = parse(process.argv.slice(2));
  const image = decodeImage(new Uint8Array(readFileSync(args.image)), args.image);
  if (args.engine === 'ort') await runOrt(args, image);
  else if (args.engine === 'wasm' || args.engine === 'cpu') await runOurs(args, image);
  else throw new Error(`bench/worker.ts: --engine ${args.engine}: expected wasm, cpu or ort`);
}

main().then(
  () => process.exit(0),
  (e: unknown) => {
    emit({ event: 'error', message: (e as Error).stack ?? String(e) });
    process.exit(1);
  },
);
