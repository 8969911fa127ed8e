/**
 * `npm run bench:shipped -- [options]` (also the last section of `npm run bench`): the shipped
 * default model (public/models/default, our sharded format) on the tfjs `wasm` and `cpu` backends,
 * side by side in one run:
 *
 *   inference  the full trace (`runMaskRcnn`: transform … paste, every stage, masks pasted) of one
 *              256×256 validation scene (seed 1000000, src/data/scenes.ts): warm-up runs, then the
 *              median of the timed runs (ms), and its ratio to the 250 ms wasm target of issue 4.
 *   training   images/s of the default recipe (src/train/recipe.ts: batch 2, AdamW, the model's
 *              own architecture) started from the shipped weights: warm-up steps, then timed steps,
 *              wall time including the scenes' generation (as `npm run train` runs).
 *
 * wasm: 1 warm-up (XNNPACK packs the weights on an operator's first call) + 5 runs, 1 + 2 steps.
 * cpu (plain JS, ≈ 25× slower): no warm-up, 1 run, 1 step, and stopped after --cpu-timeout seconds
 * (the table then shows what finished and a bound for what did not). Each backend runs in its own
 * process (this file with --worker), one after the other, never two at once. Timings are
 * wall-clock on a shared machine: the header prints the load average.
 */
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { onJsonLines } from './protocol.ts';

const ROOT = resolve(import.meta.dirname, '..');
/** Issue 4: one full trace of the default model on wasm within this. */
export const WASM_TARGET_MS = 250;

const USAGE = `usage: npm run bench:shipped -- [options]     (or: npm run bench -- --shipped-only [--shipped ARGS])
  --model NAME       a model folder of --models-dir (default: default)
  --models-dir DIR   default public/models
  --runs N           wasm: timed inference runs (default 5)
  --steps N          wasm: timed training steps (default 2; 0 skips training on both backends)
  --warmup N         wasm: untimed inference runs and training steps first (default 1)
  --cpu-runs N       cpu: timed inference runs (default 1)
  --cpu-steps N      cpu: timed training steps (default 1; 0 skips cpu training)
  --cpu-warmup N     cpu: untimed runs and steps first (default 0)
  --backends LIST    comma list of wasm,cpu (default wasm,cpu)
  --seed S           the scene (default 1000000, the first validation scene)
  --size N           scene width and height (default 256)
  --timeout S        stop the wasm process after S seconds (default 300)
  --cpu-timeout S    stop the cpu process after S seconds (default 90: on a loaded machine a cpu
                     training step takes longer, and the table shows a bound for it)
  --compare-score T  wasm: also time the trace with the box score threshold T, each timed run right
                     before a run at the shipped settings (default 0.05, torchvision's; none: off;
                     skipped when the model already uses T)`;

export type ShippedBackend = 'wasm' | 'cpu';

/** How much one backend measures. */
export interface Plan {
  warmup: number;
  runs: number;
  steps: number;
  timeout: number;
}

export interface ShippedOptions {
  model: string;
  modelsDir: string;
  backends: ShippedBackend[];
  plans: Record<ShippedBackend, Plan>;
  seed: number;
  size: number;
  /** wasm: a second box score threshold timed beside the shipped one (null: none). */
  compareScore: number | null;
}

export function shippedOptions(argv: string[]): ShippedOptions | 'help' {
  const { values } = parseArgs({
    args: argv,
    options: {
      model: { type: 'string', default: 'default' },
      'models-dir': { type: 'string', default: join(ROOT, 'public', 'models') },
      runs: { type: 'string', default: '5' },
      steps: { type: 'string', default: '2' },
      warmup: { type: 'string', default: '1' },
      'cpu-runs': { type: 'string', default: '1' },
      'cpu-steps': { type: 'string', default: '1' },
      'cpu-warmup': { type: 'string', default: '0' },
      backends: { type: 'string', default: 'wasm,cpu' },
      seed: { type: 'string', default: '1000000' },
      size: { type: 'string', default: '256' },
      timeout: { type: 'string', default: '300' },
      'cpu-timeout': { type: 'string', default: '90' },
      'compare-score': { type: 'string', default: '0.05' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) return 'help';
  const int = (name: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} ${v}: expected an integer ≥ ${min}\n${USAGE}`);
    return n;
  };
  const backends = values.backends.split(',').filter(Boolean);
  const bad = backends.filter((b) => b !== 'wasm' && b !== 'cpu');
  if (bad.length || backends.length === 0) throw new Error(`--backends ${values.backends}: expected a comma list of wasm, cpu\n${USAGE}`);
  const steps = int('steps', values.steps, 0);
  const compare = values['compare-score'];
  const compareScore = compare === 'none' ? null : Number(compare);
  if (compareScore !== null && !(compare.trim() !== '' && compareScore >= 0 && compareScore < 1)) {
    throw new Error(`--compare-score ${compare}: expected a box score threshold in [0, 1) or none\n${USAGE}`);
  }
  return {
    model: values.model,
    modelsDir: resolve(values['models-dir']),
    backends: backends as ShippedBackend[],
    plans: {
      wasm: { warmup: int('warmup', values.warmup, 0), runs: int('runs', values.runs, 1), steps, timeout: int('timeout', values.timeout, 1) },
      cpu: {
        warmup: int('cpu-warmup', values['cpu-warmup'], 0),
        runs: int('cpu-runs', values['cpu-runs'], 1),
        steps: steps === 0 ? 0 : int('cpu-steps', values['cpu-steps'], 0),
        timeout: int('cpu-timeout', values['cpu-timeout'], 1),
      },
    },
    seed: int('seed', values.seed, 0),
    size: int('size', values.size, 32),
    compareScore,
  };
}

/** One line of a worker's stdout. */
export type WorkerEvent =
  | { event: 'load'; backend: string; ms: number }
  | { event: 'infer'; ms: number; warmup: boolean; detections: number; stages: Record<string, number>; compare?: number }
  | { event: 'step'; ms: number; warmup: boolean; batch: number }
  | { event: 'done' };

/** What one backend measured (possibly partial: stopped by its timeout). */
export interface WorkerResult {
  backend: string;
  loadMs?: number;
  /** ms of the timed inference runs */
  inferMs: number[];
  warmupInferMs: number[];
  /** per trace stage, ms of each timed run */
  stageMs: Record<string, number[]>;
  detections?: number;
  /** --compare-score: the threshold, ms of its timed runs and its detections */
  compare?: { scoreThresh: number; inferMs: number[]; detections?: number };
  /** wall ms of the timed training steps */
  stepMs: number[];
  warmupStepMs: number[];
  batch: number;
  /** set when the process was stopped: what it was doing and for how long (a lower bound of that run or step) */
  stopped?: { phase: 'load' | 'infer' | 'step'; ms: number };
  error?: string;
}

/** Median ms of the --compare-score runs, when there are any. */
const compareMedian = (r: WorkerResult) => (r.compare && r.compare.inferMs.length > 0 ? median(r.compare.inferMs) : undefined);

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};

/** Measure one backend in this process, writing one JSON event per line to stdout. */
async function measure(o: ShippedOptions, backend: ShippedBackend): Promise<void> {
  const emit = (e: WorkerEvent) => process.stdout.write(`${JSON.stringify(e)}\n`);
  const plan = o.plans[backend];
  const { loadWeightsFile } = await import('../src/cli/weights_file.ts');
  const { resolveModel } = await import('../src/cli/eval.ts');
  const { toConfig } = await import('../src/config.ts');
  const { generateScene } = await import('../src/data/scenes.ts');
  const { createMaskRcnn, runMaskRcnn } = await import('../src/model.ts');
  const { useBackend } = await import('../src/node/backend.ts');
  const { registerTrainingKernels } = await import('../src/train/kernels.ts');
  const { Optimizer } = await import('../src/train/optimizer.ts');
  const { createTrainableMaskRcnn } = await import('../src/train/params.ts');
  const { defaultRecipe, runStep, samplesForStep } = await import('../src/train/recipe.ts');
  const tf = await import('@tensorflow/tfjs-core');

  await useBackend(backend);
  const t0 = performance.now();
  const { stateDict, spec } = await loadWeightsFile(resolveModel(o.model, o.modelsDir));
  const config = toConfig(spec ?? {});
  const model = createMaskRcnn(stateDict, config);
  // The same weights at another box score threshold, timed right before each run of the shipped
  // settings, so that both see the same machine load.
  const post = config.roiHeads.postprocess;
  const compareScore = backend === 'wasm' && o.compareScore !== null && o.compareScore !== post.scoreThresh ? o.compareScore : null;
  const compareModel = compareScore === null ? null
    : createMaskRcnn(stateDict, { ...config, roiHeads: { ...config.roiHeads, postprocess: { ...post, scoreThresh: compareScore } } });
  emit({ event: 'load', backend: tf.getBackend(), ms: performance.now() - t0 });
  const scene = generateScene(o.seed, { width: o.size, height: o.size });
  const infer = async (m: typeof model, warmup: boolean, compare?: number) => {
    const s = performance.now();
    const trace = await runMaskRcnn(m, scene.image);
    const ms = performance.now() - s;
    const detections = trace.result.labels.length;
    const stages = { ...trace.timings } as Record<string, number>;
    trace.dispose();
    emit({ event: 'infer', ms, warmup, detections, stages, ...(compare === undefined ? {} : { compare }) });
  };
  try {
    for (let i = 0; i < plan.warmup + plan.runs; i++) {
      if (compareModel !== null) await infer(compareModel, i < plan.warmup, compareScore!);
      await infer(model, i < plan.warmup);
    }
  } finally {
    model.dispose();
    compareModel?.dispose();
  }
  if (plan.steps > 0) {
    const recipe = defaultRecipe(o.size);
    registerTrainingKernels();
    const trainable = createTrainableMaskRcnn(config, { stateDict });
    const optimizer = new Optimizer(recipe.optimizer, [...trainable.params.values()].filter((p) => p.trainable));
    // Past the warm-up, where a long run spends its time; the step index picks the scenes and the sampling.
    const session = { config, recipe, model: trainable, optimizer, step: recipe.optimizer.warmupSteps, elapsedMs: 0, dispose: () => {} };
    try {
      for (let i = 0; i < plan.warmup + plan.steps; i++) {
        const s = performance.now();
        await runStep(session, samplesForStep(recipe, session.step));
        emit({ event: 'step', ms: performance.now() - s, warmup: i < plan.warmup, batch: recipe.batch });
      }
    } finally {
      optimizer.dispose();
      trainable.dispose();
    }
  }
  emit({ event: 'done' });
}

/** Run one backend in its own process, collecting its events; stopped after the plan's timeout. */
function runWorker(argv: readonly string[], backend: ShippedBackend, plan: Plan): Promise<WorkerResult> {
  const r: WorkerResult = { backend, inferMs: [], warmupInferMs: [], stageMs: {}, stepMs: [], warmupStepMs: [], batch: 2 };
  return new Promise((done) => {
    const t0 = performance.now();
    let last = t0;
    let phase: 'load' | 'infer' | 'step' = 'load';
    let finished = false;
    const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'bench', 'shipped.ts'), ...argv, '--worker', backend], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let err = '';
    let stopped = false;
    const timer = setTimeout(() => {
      stopped = true;
      child.kill('SIGKILL');
    }, plan.timeout * 1000);
    onJsonLines<WorkerEvent>(child.stdout, (e) => {
      last = performance.now();
      if (e.event === 'load') {
        r.backend = e.backend;
        r.loadMs = e.ms;
        phase = 'infer';
      } else if (e.event === 'infer' && e.compare !== undefined) {
        r.compare ??= { scoreThresh: e.compare, inferMs: [] };
        if (!e.warmup) r.compare.inferMs.push(e.ms);
        r.compare.detections = e.detections;
        return;
      } else if (e.event === 'infer') {
        (e.warmup ? r.warmupInferMs : r.inferMs).push(e.ms);
        if (!e.warmup) for (const [k, v] of Object.entries(e.stages)) (r.stageMs[k] ??= []).push(v);
        r.detections = e.detections;
      } else if (e.event === 'step') {
        (e.warmup ? r.warmupStepMs : r.stepMs).push(e.ms);
        r.batch = e.batch;
      } else if (e.event === 'done') finished = true;
      if (e.event === 'infer' && r.inferMs.length + r.warmupInferMs.length === plan.warmup + plan.runs) phase = 'step';
    });
    child.stderr.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-2000)));
    child.on('exit', (code) => {
      clearTimeout(timer);
      if (stopped) r.stopped = { phase, ms: performance.now() - last };
      else if (!finished) r.error = `exit code ${code}: ${err.trim().split('\n').slice(-3).join(' | ')}`;
      done(r);
    });
  });
}

const pad = (s: string, n: number) => (s.length >= n ? s : ' '.repeat(n - s.length) + s);
const padEnd = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));

const fmtMs = (v: number) => v.toFixed(v < 100 ? 1 : 0);

/** The section's table (plain text) for the measured backends. */
export function shippedTable(o: ShippedOptions, results: ReadonlyMap<ShippedBackend, WorkerResult>, header: readonly string[]): string {
  const lines = [...header, ''];
  const cols = [...results.keys()];
  const both = results.has('wasm') && results.has('cpu');
  const w0 = 34;
  const w = 14;
  lines.push(padEnd('', w0) + cols.map((c) => pad(c, w)).join('') + (both ? pad('cpu / wasm', w) : ''));
  /** A cell: the value, or a bound when the run it needed was stopped, or '—'. */
  type Cell = { v: number; text: string } | undefined;
  const row = (label: string, cell: (r: WorkerResult, plan: Plan) => Cell, ratio = true) => {
    const cells = cols.map((c) => cell(results.get(c)!, o.plans[c]));
    if (cells.every((c) => c === undefined)) return;
    const a = cells[cols.indexOf('wasm')];
    const b = cells[cols.indexOf('cpu')];
    const q = a && b ? b.v / a.v : NaN;
    const r = both && ratio && a && b && !/[<>]/.test(a.text + b.text) ? `${q < 1 ? q.toPrecision(2) : q.toFixed(1)}×` : '';
    lines.push(padEnd(label, w0) + cells.map((c) => pad(c?.text ?? '—', w)).join('') + (both ? pad(r, w) : ''));
  };
  const value = (v: number | undefined, fmt: (v: number) => string): Cell => (v === undefined || Number.isNaN(v) ? undefined : { v, text: fmt(v) });
  const stoppedIn = (r: WorkerResult, phase: 'infer' | 'step') => (r.stopped?.phase === phase ? r.stopped.ms : undefined);
  const inferMedian = (r: WorkerResult): Cell => {
    if (r.inferMs.length > 0) return value(median(r.inferMs), fmtMs);
    const bound = stoppedIn(r, 'infer');
    return bound === undefined ? undefined : { v: bound, text: `> ${fmtMs(bound)}` };
  };
  row('timed runs (+ warm-up)', (r, p) => ({ v: p.runs, text: `${r.inferMs.length}${p.warmup ? ` (+${r.warmupInferMs.length})` : ''}` }), false);
  row('inference, median (ms)', inferMedian);
  row(`  ÷ ${WASM_TARGET_MS} ms wasm target`, (r) => {
    const m = inferMedian(r);
    return m && { v: m.v / WASM_TARGET_MS, text: `${m.text.startsWith('>') ? '> ' : ''}${(m.v / WASM_TARGET_MS).toFixed(2)}×` };
  }, false);
  row('inference, fastest (ms)', (r) => value(r.inferMs.length ? Math.min(...r.inferMs) : undefined, fmtMs));
  row('inference, warm-up (ms)', (r) => value(r.warmupInferMs[0], fmtMs));
  row('detections', (r) => value(r.detections, String), false);
  const stages = [...new Set(cols.flatMap((c) => Object.keys(results.get(c)!.stageMs)))];
  for (const stage of stages) row(`  ${stage} (ms, median)`, (r) => value(r.stageMs[stage] && median(r.stageMs[stage]), fmtMs));
  const compared = cols.map((c) => results.get(c)!.compare).find((x) => x !== undefined);
  if (compared) {
    const t = compared.scoreThresh;
    lines.push(`at box score ${t}${t === 0.05 ? " (torchvision's)" : ''}, the same weights, runs interleaved:`);
    row('  inference, median (ms)', (r) => value(compareMedian(r), fmtMs), false);
    row(`    ÷ ${WASM_TARGET_MS} ms wasm target`, (r) => value(compareMedian(r), (v) => `${(v / WASM_TARGET_MS).toFixed(2)}×`), false);
    row('  detections', (r) => value(r.compare?.detections, String), false);
  }
  if (cols.some((c) => o.plans[c].steps > 0)) {
    row('training steps timed (+ warm-up)', (r, p) => (p.steps > 0 ? { v: p.steps, text: `${r.stepMs.length}${p.warmup ? ` (+${r.warmupStepMs.length})` : ''}` } : undefined), false);
    row('training (images/s)', (r) => {
      if (r.stepMs.length > 0) return value((1000 * r.batch * r.stepMs.length) / r.stepMs.reduce((a, b) => a + b, 0), (v) => v.toFixed(v < 0.1 ? 3 : 2));
      const bound = stoppedIn(r, 'step');
      return bound === undefined ? undefined : { v: (1000 * r.batch) / bound, text: `< ${((1000 * r.batch) / bound).toFixed(3)}` };
    });
    row('training, median step (ms)', (r) => {
      if (r.stepMs.length > 0) return value(median(r.stepMs), (v) => v.toFixed(0));
      const bound = stoppedIn(r, 'step');
      return bound === undefined ? undefined : { v: bound, text: `> ${bound.toFixed(0)}` };
    });
    row('training, warm-up step (ms)', (r) => value(r.warmupStepMs[0], (v) => v.toFixed(0)));
  }
  row('model load + build (ms)', (r) => value(r.loadMs, (v) => v.toFixed(0)));
  for (const c of cols) {
    const r = results.get(c)!;
    if (r.error) lines.push(`${c}: failed: ${r.error}`);
    if (r.stopped) lines.push(`${c}: stopped after ${o.plans[c].timeout} s (--${c === 'cpu' ? 'cpu-' : ''}timeout) during ${r.stopped.phase === 'step' ? 'a training step' : r.stopped.phase === 'infer' ? 'an inference run' : 'the model load'}: '>' and '<' are bounds`);
  }
  const wasm = results.get('wasm');
  if (wasm && wasm.inferMs.length > 0) {
    const m = median(wasm.inferMs);
    lines.push(`wasm full trace: ${m.toFixed(0)} ms median = ${(m / WASM_TARGET_MS).toFixed(2)}× the ${WASM_TARGET_MS} ms target (${m <= WASM_TARGET_MS ? 'met' : 'not met'} in this run)`);
    const mc = compareMedian(wasm);
    if (mc !== undefined) {
      lines.push(`  at box score ${wasm.compare!.scoreThresh}: ${mc.toFixed(0)} ms median = ${(mc / WASM_TARGET_MS).toFixed(2)}× (${wasm.compare!.detections ?? '?'} detections against ${wasm.detections ?? '?'})`);
    }
  }
  return lines.join('\n');
}

/** The whole section; returns the exit status (0 also when the model is absent: it says so and skips). */
export async function runShipped(argv: readonly string[], print: (s: string) => void = console.log): Promise<number> {
  const o = shippedOptions([...argv]);
  if (o === 'help') {
    print(USAGE);
    return 0;
  }
  const dir = join(o.modelsDir, o.model);
  if (!existsSync(join(dir, 'model.json'))) {
    print(`shipped model: ${dir}/model.json does not exist: section skipped. Ship one with npm run ship -- --run runs/NAME --name ${o.model}, or pass --model NAME (bench/README.md).`);
    return 0;
  }
  const about = existsSync(join(dir, 'about.json')) ? (JSON.parse(readFileSync(join(dir, 'about.json'), 'utf8')) as { label?: string; placeholder?: boolean }) : {};
  const manifest = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as { totalBytes: number; tensors: { dtype: string }[] };
  const dtypes = [...new Set(manifest.tensors.map((t) => t.dtype))].join('+');
  const load = loadavg().map((x) => x.toFixed(2)).join(' ');
  const header = [
    `shipped model  ${dir.replace(`${ROOT}/`, '')}: ${about.label ?? o.model}${about.placeholder ? ' (placeholder)' : ''}; ${dtypes}, ${(manifest.totalBytes / 2 ** 20).toFixed(1)} MB`,
    `scene          seed ${o.seed}, ${o.size}×${o.size}; inference = one full trace (runMaskRcnn: every stage, masks pasted)`,
    `training       default recipe (batch 2, AdamW) on the model's architecture from its weights; wall per step incl. scene generation`,
    `machine        ${cpus().length}× ${cpus()[0]?.model ?? '?'}, load average before: ${load}; one backend process at a time`,
  ];
  const results = new Map<ShippedBackend, WorkerResult>();
  for (const backend of o.backends) {
    const p = o.plans[backend];
    process.stderr.write(`[bench:shipped] ${backend}: ${p.warmup} + ${p.runs} inferences, ${p.steps > 0 ? `${p.warmup} + ${p.steps} training steps` : 'no training'}, stopped after ${p.timeout} s\n`);
    results.set(backend, await runWorker(argv, backend, p));
  }
  print(shippedTable(o, results, header));
  return [...results.values()].some((r) => r.error !== undefined) ? 1 : 0;
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const w = argv.indexOf('--worker');
  if (w >= 0) {
    const backend = argv[w + 1] as ShippedBackend;
    const o = shippedOptions(argv.filter((_, i) => i !== w && i !== w + 1));
    if (o === 'help') process.exit(0);
    measure(o, backend).then(
      () => process.exit(0),
      (e: unknown) => {
        process.stderr.write(`${(e as Error).stack ?? (e as Error).message}\n`);
        process.exit(1);
      },
    );
  } else {
    runShipped(argv).then(
      (code) => process.exit(code),
      (e: unknown) => {
        process.stderr.write(`bench:shipped: ${(e as Error).message}\n`);
        process.exit(1);
      },
    );
  }
}
