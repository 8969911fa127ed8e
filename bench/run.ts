/**
 * `npm run bench -- [options]`: full Mask R-CNN R50-FPN inference, our engine side by side with
 * torchvision and onnxruntime, same weights, same image, one run of this command.
 *
 *   columns   ours on tfjs `wasm` and on tfjs `cpu`; torchvision (/usr/bin/python3, eval, no_grad,
 *             --threads threads); onnxruntime-node on torchvision's ONNX export (opset 11), when
 *             installed (not a dependency; bench/ort.ts says where it is looked up and how to install it).
 *   weights   tests/oracle/model.py build --seed S (random, calibrated so every stage carries signal),
 *             cached under --cache keyed by seed; the ONNX export is cached by seed, size and image.
 *   image     a photo of tests/fixtures/photos, centre-cropped to 4:3 and resized to 480×640 (H×W)
 *             by PIL (tests/oracle/bench_torch.py image), saved as PNG: all engines read those bytes.
 *   timing    every column runs in its own process, one after another (never two at once): whole
 *             process time = spawn → first result (imports, weights, model build, first inference);
 *             then per inference: first run and the median of the later ("steady") runs. The cpu
 *             backend runs once and is stopped after --cpu-timeout seconds ("> N s (stopped)").
 *   checks    each column's detections against torchvision's: count, same-label boxes within 1 px,
 *             max box and score difference (equal work, not just equal time).
 *   --profile one more wasm run under tf.profile: kernel time per stage and the slowest kernels.
 *
 * Then two more sections: the shipped model (bench/shipped.ts: public/models/default's full trace
 * and training images/s on wasm and cpu; --shipped ARGS, --shipped skip, or --shipped-only for it
 * alone) and the RoI kernels (bench/kernels.ts; --kernels ARGS or --kernels skip).
 */
import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { agreement } from './compare.ts';
import { runShipped } from './shipped.ts';
import { ensureOrtPrefix, ortInstallHint, resolveOrt } from './ort.ts';
import { type Detections, type Profile, type WorkerEvent, onJsonLines } from './protocol.ts';

const ROOT = resolve(import.meta.dirname, '..');
const PYTHON = '/usr/bin/python3';
const ORACLE = join(ROOT, 'tests', 'oracle');

const USAGE = `usage: npm run bench -- [options]
  --shipped ARGS    then the shipped-model section, bench/shipped.ts, with these arguments (default: its
                    defaults, ≈ 2 min); --shipped skip leaves it out
  --shipped-only    only the shipped-model section (same as npm run bench:shipped -- ARGS)
  --kernels ARGS    then the RoI kernel benchmark, bench/kernels.ts, with these arguments (default '--reps 2');
                    --kernels skip leaves it out
  --size N          torchvision min_size (default 800: 480×640 → 800×1066); e.g. --size 320 for a quick run
  --runs N          inferences per column (default 3: the first, then N−1 steady-state runs)
  --cpu-timeout S   stop the tfjs cpu column after S seconds (default 180)
  --engines LIST    comma list of wasm,cpu,torch,ort (default all)
  --photo NAME      chelsea (default) or astronaut, from tests/fixtures/photos, or a path
  --seed N          weights seed for tests/oracle/model.py build (default 1)
  --threads N       torch and onnxruntime intra-op threads (default 2; tfjs wasm in Node has 1)
  --stock-blas      torchvision with Debian's reference-BLAS nn.Linear (default: oneDNN, see bench_torch.py)
  --wasm-threads N  EXPERIMENT: force tfjs wasm's threaded build on in Node with N threads (bench/wasm_threads.ts)
  --profile         one more wasm run under tf.profile: per-stage kernel times, slowest kernels
  --cache DIR       weights / image / ONNX cache (default ${join(tmpdir(), 'mask-rcnn-lab-bench')})
  --json FILE       also write every measurement as JSON`;

interface Options {
  size: number;
  runs: number;
  cpuTimeout: number;
  engines: string[];
  photo: string;
  seed: number;
  threads: number;
  stockBlas: boolean;
  profile: boolean;
  wasmThreads: number;
  cache: string;
  json: string | undefined;
  /** bench/kernels.ts arguments, or null to skip it */
  kernels: string[] | null;
  /** bench/shipped.ts arguments, or null to skip it */
  shipped: string[] | null;
  shippedOnly: boolean;
}

function options(argv: string[]): Options {
  const { values } = parseArgs({
    args: argv,
    options: {
      size: { type: 'string', default: '800' },
      runs: { type: 'string', default: '3' },
      'cpu-timeout': { type: 'string', default: '180' },
      engines: { type: 'string', default: 'torch,ort,wasm,cpu' },
      photo: { type: 'string', default: 'chelsea' },
      seed: { type: 'string', default: '1' },
      threads: { type: 'string', default: '2' },
      'stock-blas': { type: 'boolean', default: false },
      profile: { type: 'boolean', default: false },
      'wasm-threads': { type: 'string', default: '1' },
      cache: { type: 'string', default: join(tmpdir(), 'mask-rcnn-lab-bench') },
      json: { type: 'string' },
      kernels: { type: 'string', default: '--reps 2' },
      shipped: { type: 'string', default: '' },
      'shipped-only': { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(USAGE);
    process.exit(0);
  }
  const int = (name: string, v: string, min: number) => {
    const n = Number(v);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} ${v}: expected an integer ≥ ${min}\n${USAGE}`);
    return n;
  };
  const engines = values.engines.split(',').filter(Boolean);
  const bad = engines.filter((e) => !['wasm', 'cpu', 'torch', 'ort'].includes(e));
  if (bad.length) throw new Error(`--engines: unknown ${bad.join(', ')}; expected a comma list of wasm, cpu, torch, ort`);
  return {
    size: int('size', values.size, 32),
    runs: int('runs', values.runs, 1),
    cpuTimeout: Number(values['cpu-timeout']),
    engines,
    photo: values.photo,
    seed: int('seed', values.seed, 0),
    threads: int('threads', values.threads, 1),
    stockBlas: values['stock-blas'],
    profile: values.profile,
    wasmThreads: int('wasm-threads', values['wasm-threads'], 1),
    cache: resolve(values.cache),
    json: values.json,
    kernels: values.kernels.trim() === 'skip' ? null : values.kernels.split(/\s+/).filter(Boolean),
    shipped: values.shipped.trim() === 'skip' ? null : values.shipped.split(/\s+/).filter(Boolean),
    shippedOnly: values['shipped-only'],
  };
}

// ---------------------------------------------------------------------------------------------
// Cache: weights, image, ONNX export

const log = (line: string) => process.stderr.write(`[bench] ${line}\n`);

function python(script: string, args: string[], what: string): string {
  const t0 = performance.now();
  try {
    const out = execFileSync(PYTHON, [join(ORACLE, script), ...args], {
      stdio: ['ignore', 'pipe', 'pipe'],
      maxBuffer: 1 << 26,
      env: { ...process.env, OMP_NUM_THREADS: process.env['OMP_NUM_THREADS'] ?? '2' },
    }).toString();
    log(`${what}: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    return out;
  } catch (e) {
    const err = e as { stderr?: Buffer; message: string };
    throw new Error(`${what} failed (${PYTHON} tests/oracle/${script}): ${err.stderr?.toString().slice(-2000) ?? err.message}`);
  }
}

function prepare(o: Options): { weights: string; image: string; photo: string } {
  mkdirSync(o.cache, { recursive: true });
  const weights = join(o.cache, `weights-seed${o.seed}`, 'model.pth');
  if (!existsSync(weights)) {
    log(`building weights (seed ${o.seed}) → ${weights}`);
    python('model.py', ['build', '--seed', String(o.seed), '--out', dirname(weights), '--formats', 'zip'], 'model.py build');
  }
  const photo = ['chelsea', 'astronaut'].includes(o.photo) ? join(ROOT, 'tests', 'fixtures', 'photos', `${o.photo}.jpg`) : resolve(o.photo);
  if (!existsSync(photo)) throw new Error(`--photo ${o.photo}: ${photo} does not exist; use chelsea, astronaut or a path to an image`);
  const stem = photo.split('/').pop()!.replace(/\.[^.]*$/, '');
  const image = join(o.cache, `${stem}-480x640.png`);
  if (!existsSync(image)) {
    python('bench_torch.py', ['image', '--photo', photo, '--out', image, '--height', '480', '--width', '640'], 'bench image');
  }
  return { weights, image, photo };
}

// ---------------------------------------------------------------------------------------------
// Workers

interface Column {
  name: string;
  events: WorkerEvent[];
  /** Arrival time (ms since spawn) of each stage event, to bound the stage a stopped run was in. */
  stageArrivals: number[];
  firstMs?: number;
  exitMs: number;
  stopped: boolean;
  error?: string;
  runs: { stages: Record<string, number>; wallMs: number }[];
  done?: Extract<WorkerEvent, { event: 'done' }>;
}

function runWorker(name: string, command: string, args: string[], timeoutS: number, env: NodeJS.ProcessEnv = process.env): Promise<Column> {
  const col: Column = { name, events: [], stageArrivals: [], exitMs: 0, stopped: false, runs: [] };
  const t0 = performance.now();
  return new Promise((done) => {
    const child: ChildProcess = spawn(command, args, { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    const timer = setTimeout(() => {
      col.stopped = true;
      child.kill('SIGKILL');
    }, timeoutS * 1000);
    child.stderr!.on('data', (d: Buffer) => {
      stderr = (stderr + d.toString()).slice(-4000);
    });
    onJsonLines<WorkerEvent>(child.stdout!, (e) => {
      const now = performance.now() - t0;
      col.events.push(e);
      if (e.event === 'first') col.firstMs = now;
      else if (e.event === 'stage') col.stageArrivals.push(now);
      else if (e.event === 'run') col.runs.push({ stages: e.stages, wallMs: e.wallMs });
      else if (e.event === 'done') col.done = e;
      else if (e.event === 'error') col.error = e.message;
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      col.exitMs = performance.now() - t0;
      if (!col.stopped && code !== 0 && !col.error) col.error = `exit code ${code}: ${stderr}`;
      done(col);
    });
  });
}

interface TorchDone {
  event: 'done';
  torch: string;
  torchvision: string;
  threads: number;
  kernels: string;
  import_s: number;
  load_s: number;
  runs: { forward: number; stages: Record<string, number> }[];
  detections: Detections;
}

/** bench_torch.py speaks its own JSON (seconds); map it onto a Column (ms). */
async function runTorch(o: Options, weights: string, image: string): Promise<Column & { torch?: TorchDone }> {
  const args = [join(ORACLE, 'bench_torch.py'), 'run', '--weights', weights, '--image', image, '--min-size', String(o.size), '--runs', String(o.runs), '--threads', String(o.threads)];
  if (o.stockBlas) args.push('--stock-blas');
  const env = { ...process.env, OMP_NUM_THREADS: String(o.threads) };
  const col: Column & { torch?: TorchDone } = await runWorker('torchvision', PYTHON, args, 3600, env);
  const raw = col.events.find((e) => e.event === 'done') as unknown as TorchDone | undefined;
  if (raw) {
    col.torch = raw;
    col.runs = raw.runs.map((r) => ({ stages: Object.fromEntries(Object.entries(r.stages).map(([k, v]) => [k, v * 1000])), wallMs: r.forward * 1000 }));
    col.done = {
      event: 'done',
      engine: 'torch',
      loadMs: (raw.import_s + raw.load_s) * 1000,
      detections: raw.detections,
      info: { torch: raw.torch, torchvision: raw.torchvision, threads: raw.threads, kernels: raw.kernels },
    };
  }
  return col;
}

function tsWorker(name: string, o: Options, extra: string[], timeoutS: number, weights: string, image: string): Promise<Column> {
  const args = ['--import', 'tsx', join(ROOT, 'bench', 'worker.ts'), '--weights', weights, '--image', image, '--min-size', String(o.size), ...extra];
  return runWorker(name, process.execPath, args, timeoutS);
}

// ---------------------------------------------------------------------------------------------
// Report

/** Table rows: a label, our stages summed, torchvision's stages summed. */
const ROWS: [string, string[], string[]][] = [
  ['transform', ['transform'], ['transform']],
  ['backbone (ResNet C2–C5)', ['backbone'], ['backbone']],
  ['fpn (P2–P6)', ['fpn'], ['fpn']],
  ['rpn (head, anchors, proposals)', ['rpnHead', 'anchors', 'proposals'], ['rpn']],
  ['box (RoIAlign, head, detections)', ['boxRoiPool', 'boxHead', 'detections'], ['box']],
  ['mask (RoIAlign, head)', ['maskRoiPool', 'maskHead'], ['mask']],
  ['paste / postprocess', ['paste'], ['postprocess']],
  ['other', [], ['other']],
];

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const sec = (ms: number | undefined) => (ms === undefined ? '—' : (ms / 1000).toFixed(2));
const pad = (s: string, n: number) => (s.length >= n ? s : ' '.repeat(n - s.length) + s);
const padEnd = (s: string, n: number) => (s.length >= n ? s : s + ' '.repeat(n - s.length));

interface Cell {
  /** ms per row label and 'total'; undefined = not measured */
  values: Record<string, number | undefined>;
  /** rows whose time is a lower bound (stopped run) */
  stopped: Record<string, boolean>;
}

function cellOf(col: Column, which: 'first' | 'steady', isTorch: boolean, timeoutS: number): Cell | undefined {
  const values: Record<string, number | undefined> = {};
  const stopped: Record<string, boolean> = {};
  if (col.stopped && col.runs.length === 0) {
    // Only the first run can be partial: stages that finished, then the one it was in.
    if (which === 'steady') return undefined;
    const done = new Map<string, number>();
    for (const e of col.events) if (e.event === 'stage' && e.run === 0) done.set(e.stage, e.ms);
    const lastArrival = col.stageArrivals.at(-1);
    const runningFor = lastArrival === undefined ? undefined : col.exitMs - lastArrival;
    let marked = false;
    for (const [label, ours] of ROWS) {
      if (ours.length === 0) continue;
      if (ours.every((s) => done.has(s))) values[label] = ours.reduce((a, s) => a + done.get(s)!, 0);
      else if (!marked) {
        marked = true;
        values[label] = ours.reduce((a, s) => a + (done.get(s) ?? 0), 0) + (runningFor ?? 0);
        stopped[label] = true;
      }
    }
    values['total'] = timeoutS * 1000;
    stopped['total'] = true;
    return { values, stopped };
  }
  const runs = which === 'first' ? col.runs.slice(0, 1) : col.runs.slice(1);
  if (runs.length === 0) return undefined;
  for (const [label, ours, theirs] of ROWS) {
    const keys = isTorch ? theirs : ours;
    if (keys.length === 0 || (col.name === 'onnxruntime')) continue;
    values[label] = median(runs.map((r) => keys.reduce((a, k) => a + (r.stages[k] ?? 0), 0)));
  }
  values['total'] = median(runs.map((r) => r.wallMs));
  return { values, stopped };
}

function fmtCell(c: Cell | undefined, label: string): string {
  if (!c) return '—';
  const v = c.values[label];
  if (v === undefined) return '—';
  return c.stopped[label] ? `> ${sec(v)} (stopped)` : sec(v);
}

function report(o: Options, cols: Map<string, Column>, meta: Record<string, string>): string {
  const lines: string[] = [];
  const out = (s = '') => lines.push(s);
  for (const [k, v] of Object.entries(meta)) out(`${padEnd(k, 12)} ${v}`);
  out();

  const headers: [string, Cell | undefined][] = [];
  const add = (name: string, label: string, isTorch: boolean) => {
    const col = cols.get(name);
    if (!col) return;
    headers.push([`${label} first`, cellOf(col, 'first', isTorch, o.cpuTimeout)]);
    if (o.runs > 1 && !(col.stopped && col.runs.length === 0)) headers.push([`${label} steady`, cellOf(col, 'steady', isTorch, o.cpuTimeout)]);
  };
  add('wasm', 'wasm', false);
  add('cpu', 'cpu', false);
  add('torchvision', 'torchvision', true);
  add('onnxruntime', 'onnxruntime', false);

  const w0 = 34;
  const labels = [...ROWS.map((r) => r[0]), 'total'];
  const widths = headers.map(([h, c]) => Math.max(h.length, 10, ...labels.map((l) => fmtCell(c, l).length)));
  out(o.runs > 1 ? `seconds per inference (steady = median of runs 2..${o.runs})` : 'seconds per inference');
  out(padEnd('stage', w0) + headers.map(([h], i) => pad(h, widths[i]! + 2)).join(''));
  for (const label of labels) {
    const cells = headers.map(([, c], i) => pad(fmtCell(c, label), widths[i]! + 2));
    if (cells.every((c) => c.trim() === '—')) continue;
    out(padEnd(label === 'total' ? 'total (one inference, wall)' : label, w0) + cells.join(''));
  }
  // The fastest run per column: the least disturbed by other processes on a shared machine.
  out(padEnd('total, fastest run', w0) + headers.map(([h], i) => {
    const col = cols.get(h.startsWith('wasm') ? 'wasm' : h.startsWith('cpu') ? 'cpu' : h.startsWith('torch') ? 'torchvision' : 'onnxruntime');
    const runs = (h.endsWith('first') ? col?.runs.slice(0, 1) : col?.runs.slice(1)) ?? [];
    return pad(runs.length ? sec(Math.min(...runs.map((r) => r.wallMs))) : '—', widths[i]! + 2);
  }).join(''));
  out();

  out('whole process, spawn → first result (imports, weights, model build, first inference):');
  for (const [name, col] of cols) {
    const ready = col.done ? `model ready at ${sec(col.done.loadMs)} s` : '';
    const first = col.firstMs !== undefined ? `${sec(col.firstMs)} s` : col.stopped ? `> ${o.cpuTimeout} s (stopped)` : `failed: ${col.error?.split('\n')[0] ?? '?'}`;
    out(`  ${padEnd(name, 12)} ${pad(first, 18)}   ${ready}`);
  }
  out();

  // Ratios: steady vs steady where both have it, else first vs first.
  const total = (name: string): { ms: number; which: string; lower: boolean } | undefined => {
    const col = cols.get(name);
    if (!col) return undefined;
    if (col.stopped && col.runs.length === 0) return { ms: o.cpuTimeout * 1000, which: 'first', lower: true };
    if (col.runs.length === 0) return undefined;
    if (col.runs.length > 1) return { ms: median(col.runs.slice(1).map((r) => r.wallMs)), which: 'steady', lower: false };
    return { ms: col.runs[0]!.wallMs, which: 'first', lower: false };
  };
  out('ratios of one inference (ours / peer; < 1 = ours faster):');
  for (const ours of ['wasm', 'cpu']) {
    const a = total(ours);
    if (!a) continue;
    for (const peer of ['torchvision', 'onnxruntime']) {
      const b = total(peer);
      if (!b) continue;
      const r = a.ms / b.ms;
      out(`  ${padEnd(`${ours} / ${peer}`, 26)} ${a.lower ? '> ' : ''}${r.toFixed(2)}×   (${ours} ${a.which} ${sec(a.ms)} s, ${peer} ${b.which} ${sec(b.ms)} s)`);
    }
  }
  out();

  const profiled = cols.get('wasm')?.done?.profile;
  if (profiled) {
    const gflop = profiled.byKernel.reduce((a, k) => a + k.flops, 0) / 1e9;
    const rates = [...cols.keys()]
      .map((name) => [name, total(name)] as const)
      .filter(([, t]) => t && !t.lower)
      .map(([name, t]) => `${name} ${(gflop / (t!.ms / 1000)).toFixed(0)}`);
    out(`work: ${gflop.toFixed(0)} GFLOP in conv and matmul kernels (2 × multiply-adds, from the wasm profile) → effective GFLOP/s: ${rates.join(', ')}`);
    out();
  }

  const ref = cols.get('torchvision')?.done?.detections;
  if (ref) {
    out('detections vs torchvision (first run; same label and box corners within 1 px = matched):');
    for (const [name, col] of cols) {
      if (name === 'torchvision' || !col.done) continue;
      const a = agreement(col.done.detections, ref, 1);
      out(
        `  ${padEnd(name, 12)} ${a.count} vs ${a.refCount} detections, ${a.matched} matched, ` +
          `max box diff ${a.maxBoxDiff.toExponential(2)} px, max score diff ${a.maxScoreDiff.toExponential(2)}`,
      );
    }
    out();
  }

  const wasm = cols.get('wasm');
  if (wasm && wasm.runs.length > 0) {
    out('ours on wasm, per trace stage (ms):');
    const stages = Object.keys(wasm.runs[0]!.stages);
    out(padEnd('  stage', 16) + pad('first', 10) + (wasm.runs.length > 1 ? pad('steady', 10) : ''));
    for (const s of stages) {
      const steady = wasm.runs.length > 1 ? pad(median(wasm.runs.slice(1).map((r) => r.stages[s] ?? 0)).toFixed(0), 10) : '';
      out(padEnd(`  ${s}`, 16) + pad(wasm.runs[0]!.stages[s]!.toFixed(0), 10) + steady);
    }
    out();
  }
  const profile = wasm?.done?.profile;
  if (profile) lines.push(...profileReport(profile));
  return lines.join('\n');
}

function profileReport(p: Profile): string[] {
  const lines: string[] = [];
  const gf = (flops: number, ms: number) => (flops > 0 && ms > 0 ? (flops / 1e6 / ms).toFixed(1) : '');
  lines.push(`wasm profile (tf.profile, one extra run, wall ${sec(p.wallMs)} s): stage wall vs kernel time (ms)`);
  for (const [stage, ms] of Object.entries(p.stageMs)) {
    lines.push(`  ${padEnd(stage, 12)} ${pad(ms.toFixed(0), 8)} wall ${pad((p.kernelMsByStage[stage] ?? 0).toFixed(0), 8)} in kernels`);
  }
  lines.push('  by kernel:            calls        ms   GFLOP/s');
  for (const k of p.byKernel.slice(0, 12)) {
    lines.push(`  ${padEnd(k.kernel, 20)} ${pad(String(k.calls), 7)} ${pad(k.ms.toFixed(0), 9)} ${pad(gf(k.flops, k.ms), 9)}`);
  }
  lines.push('  slowest (stage, kernel, input shapes):                          calls        ms   GFLOP/s');
  for (const r of p.rows.slice(0, 20)) {
    lines.push(`  ${padEnd(`${r.stage} ${r.kernel} ${r.shapes}`, 62)} ${pad(String(r.calls), 6)} ${pad(r.ms.toFixed(0), 9)} ${pad(gf(r.flops, r.ms), 9)}`);
  }
  lines.push('');
  return lines;
}

// ---------------------------------------------------------------------------------------------

/** The shipped-model section (bench/shipped.ts), in this process; its workers are processes of their own. */
async function shippedSection(args: string[]): Promise<void> {
  log(`shipped model: bench/shipped.ts ${args.length ? args.join(' ') : '(its defaults)'}; --shipped skip leaves this out`);
  const code = await runShipped(args);
  if (code !== 0) throw new Error(`the shipped-model section failed (status ${code})`);
}

async function main(): Promise<void> {
  const o = options(process.argv.slice(2));
  if (o.shippedOnly) {
    await shippedSection(o.shipped ?? []);
    return;
  }
  const { weights, image, photo } = prepare(o);
  const load = loadavg().map((x) => x.toFixed(2)).join(' ');
  if (loadavg()[0]! > 0.5 * cpus().length) {
    log(`load average ${load} on ${cpus().length} cores: other processes are running; every column will be slower, the 2-thread ones (torchvision, onnxruntime) most`);
  }
  const cols = new Map<string, Column>();
  const meta: Record<string, string> = {
    command: `npm run bench -- ${process.argv.slice(2).join(' ')}`.trim(),
    machine: `${cpus().length}× ${cpus()[0]?.model ?? '?'}, load average before: ${load}`,
    image: `${photo.replace(`${ROOT}/`, '')} centre-cropped to 4:3, resized to 480×640 (H×W) → ${image}`,
    weights: `tests/oracle/model.py build --seed ${o.seed} → ${weights}`,
    config: `min_size ${o.size}, max_size 1333, torchvision v1 defaults otherwise`,
  };

  for (const engine of o.engines) {
    if (engine === 'torch') {
      log(`torchvision: ${o.runs} runs, ${o.threads} threads`);
      const col = await runTorch(o, weights, image);
      cols.set('torchvision', col);
      if (col.done) meta['torchvision'] = Object.values(col.done.info).join(', ');
    } else if (engine === 'ort') {
      const ortEntry = resolveOrt(o.cache);
      if (!ortEntry) {
        ensureOrtPrefix(o.cache);
        log(`onnxruntime-node is not installed: column skipped. It is a benchmark peer, not a dependency; install it with either\n${ortInstallHint(o.cache)}`);
        meta['onnxruntime'] = 'skipped: onnxruntime-node is not installed (see the hint above)';
        continue;
      }
      const onnx = join(o.cache, 'onnx', `seed${o.seed}-min${o.size}-${image.split('/').pop()!.replace('.png', '')}.onnx`);
      if (!existsSync(onnx)) {
        log(`exporting ONNX (opset 11, torch's stock kernels: about a minute at 800 px) → ${onnx}`);
        python('export_onnx.py', ['--weights', weights, '--image', image, '--out', onnx, '--min-size', String(o.size)], 'export_onnx.py');
      }
      log(`onnxruntime: ${o.runs} runs, ${o.threads} threads`);
      const col = await tsWorker('onnxruntime', o, ['--engine', 'ort', '--ort', ortEntry, '--onnx', onnx, '--runs', String(o.runs), '--threads', String(o.threads)], 3600, weights, image);
      cols.set('onnxruntime', col);
      if (col.done) meta['onnxruntime'] = `onnxruntime-node ${col.done.info['onnxruntime']}, ${o.threads} intra-op threads, torchvision ONNX export opset 11 → ${onnx}`;
    } else {
      const cpu = engine === 'cpu';
      const runs = cpu ? 1 : o.runs;
      const timeout = cpu ? o.cpuTimeout : 3600;
      log(`ours on ${engine}: ${runs} run${runs > 1 ? 's' : ''}${cpu ? `, stopped after ${o.cpuTimeout} s` : ''}${o.profile && !cpu ? ', then a profiled run' : ''}`);
      const extra = ['--engine', engine, '--runs', String(runs), ...(o.profile && !cpu ? ['--profile'] : []), ...(!cpu && o.wasmThreads > 1 ? ['--wasm-threads', String(o.wasmThreads)] : [])];
      const col = await tsWorker(engine, o, extra, timeout, weights, image);
      cols.set(engine, col);
      if (col.done) meta[engine] = `ours, tfjs ${col.done.info['tfjs']} ${engine}${col.done.info['threads'] !== undefined ? `, ${col.done.info['threads']} thread(s)${o.wasmThreads > 1 ? ' (threaded build forced on: bench/wasm_threads.ts)' : ''}` : ''}; resized ${col.done.info['resized']}, padded ${col.done.info['padded']}, ${col.done.info['proposals']} proposals`;
      if (cpu && col.stopped) meta[engine] = `ours, tfjs cpu: stopped after ${o.cpuTimeout} s (--cpu-timeout), ${col.runs.length} runs finished`;
    }
    const col = [...cols.values()].at(-1);
    if (col?.error) log(`${col.name} failed: ${col.error}`);
  }

  const text = report(o, cols, meta);
  console.log(text);
  if (o.json) {
    const dump = Object.fromEntries([...cols].map(([k, c]) => [k, { ...c, events: undefined }]));
    writeFileSync(o.json, `${JSON.stringify({ options: o, meta, columns: dump }, null, 1)}\n`);
    log(`wrote ${o.json}`);
  }
  if (o.shipped) await shippedSection(o.shipped);
  if (o.kernels) {
    // The kernels section (issue 3): our WGSL RoIAlign vs the tfjs-op composition vs the CPU twin.
    log(`RoI kernels: bench/kernels.ts ${o.kernels.join(' ')} (--kernels skip leaves this out)`);
    const r = spawnSync(join(ROOT, 'node_modules', '.bin', 'tsx'), [join(ROOT, 'bench', 'kernels.ts'), ...o.kernels], { stdio: 'inherit' });
    if (r.status !== 0) throw new Error(`bench/kernels.ts exited with ${r.status ?? r.signal}`);
  }
}

main().catch((e: unknown) => {
  process.stderr.write(`bench: ${(e as Error).message}\n`);
  process.exit(1);
});
