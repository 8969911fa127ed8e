/**
 * `npm run ship -- --run runs/NAME --name NAME [--label TEXT] [--order N] [--eval-seeds A-B]
 *                  [--dtype float16|float32] [--backend wasm|cpu] [--force] [--models-dir DIR]
 *                  [config fields]`
 *
 * Turns a training run directory (`npm run train -- --out runs/NAME`, finished or stopped; see
 * src/train/checkpoint.ts for its files) into a shipped model folder `public/models/NAME/`:
 *
 *   model.json + weights-*.bin  the checkpoint's weights in our sharded format (float16 by default:
 *                               half the download) with the run's model config inside
 *   about.json                  what the site says about it (src/site/model_index.ts ModelAbout):
 *                               label, description (pooler, steps done of total, images seen, recipe,
 *                               training time), classNames = SCENE_CLASSES, order, placeholder false,
 *                               plus `training`, the same facts as data
 *   losses.json                 the run's loss log (loss.jsonl) averaged over windows of steps, at most
 *                               400 points: each loss term's mean per window with its last step
 *   eval.json                   with --eval-seeds: `npm run eval -- --model NAME --seeds A-B --json`
 *                               on the shipped (float16) weights, run by src/cli/eval.ts itself
 *
 * Config fields (`--rpn-post-nms-top-n-test 300`, as in npm run eval/infer) are test-time settings laid
 * on the run's config in the shipped model.json; about.json lists them (`shippedWith`) and its
 * description says so. A field that changes the weights' shapes is refused by the weights check.
 *
 * Refuses a missing run directory, a run without a checkpoint, a checkpoint whose files disagree, and
 * an existing model folder unless --force (which replaces its weights and drops a stale eval.json).
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { main as evalMain, MODELS_DIR } from '../src/cli/eval.ts';
import { dtypeFlag, writeShardFiles } from '../src/cli/convert.ts';
import { UsageError, parseArgs, runIfMain } from '../src/cli/args.ts';
import { type MaskRcnnConfig, type MaskRcnnSpec, mergeSpecs, toConfig } from '../src/config.ts';
import { SCENE_CLASSES, parseSeedRange } from '../src/data/scenes.ts';
import { type CheckpointFs, type CheckpointState, FILES, TrainCheckpointError, leaves, loadTrainCheckpoint, valueAt } from '../src/train/checkpoint.ts';
import { LOSS_NAMES, lossNames } from '../src/train/forward.ts';
import { FIGURE_CLASSES, KEYPOINT_NAMES, SKELETON } from '../src/data/figures.ts';
import { type StoredDtype, validateStateDict, writeShards } from '../src/weights/index.ts';

const USAGE = `usage: npm run ship -- --run DIR --name NAME [--label TEXT] [--order N] [--eval-seeds A-B]
                    [--dtype float16|float32] [--backend wasm|cpu] [--force] [--models-dir DIR]
  --run DIR          a training run directory (npm run train -- --out DIR), finished or stopped
  --name NAME        the model folder: public/models/NAME (letters, digits, . _ -)
  --label TEXT       the site's picker label (default: "Mask R-CNN R18-FPN, <pooler>, synthetic scenes")
  --order N          picker order, lowest first and loaded by default (default 100)
  --eval-seeds A-B   evaluate the shipped weights on these scenes (val: 1000000-1000499) → eval.json
  --dtype D          float16 (default: half the bytes) or float32 (exact)
  --backend NAME     tfjs backend of the evaluation: wasm (default) or cpu
  --force            replace an existing public/models/NAME
  --models-dir DIR   where model folders live (default ${MODELS_DIR})
config fields: test-time settings stored in the shipped model's config, as in npm run eval
                   (e.g. --rpn-post-nms-top-n-test 300); the training run is not changed`;

const OWN_FLAGS = {
  run: true, name: true, label: true, order: true, evalSeeds: true, dtype: true, backend: true, force: false, modelsDir: true, quiet: false, help: false,
};

/** At most this many points in losses.json. */
export const MAX_LOSS_POINTS = 400;

const POOLER_NAMES: Record<string, string> = { roiAlign: 'RoIAlign', roiPool: 'RoIPool', roiWarp: 'RoIWarp' };

const readOnlyFs: CheckpointFs = {
  readFile: async (p) => new Uint8Array(readFileSync(p)),
  writeFile: async () => {
    throw new Error('ship-model does not write into the run directory');
  },
  rename: async () => {
    throw new Error('ship-model does not write into the run directory');
  },
  exists: async (p) => existsSync(p),
  mkdir: async () => {},
};

export interface ShipOptions {
  run: string;
  name: string;
  label?: string;
  order?: number;
  /** "A-B": evaluate on these seeds and write eval.json */
  evalSeeds?: string;
  dtype?: StoredDtype;
  backend?: 'wasm' | 'cpu';
  force?: boolean;
  modelsDir?: string;
  /** test-time config fields laid on the run's config in the shipped model (the run is unchanged) */
  spec?: MaskRcnnSpec;
  log?: (line: string) => void;
}

export interface LossPoint {
  /** the window's last step (0-based, as in loss.jsonl) */
  step: number;
  /** steps averaged */
  count: number;
  /** mean of each loss term and of the total over the window, and the mean learning rate */
  [term: string]: number;
}

export interface LossesFile {
  /** where the points come from */
  source: string;
  /** steps logged (those of the shipped checkpoint: step < its step count) */
  steps: number;
  /** steps per point (the last point may hold fewer) */
  window: number;
  /** the terms of each point besides step and count */
  terms: string[];
  points: LossPoint[];
}

/** Round for a compact JSON file: 4 significant digits. */
const round4 = (v: number) => (Number.isFinite(v) ? Number(v.toPrecision(4)) : v);

/**
 * The loss log (one JSON object per line, as src/cli/train.ts writes it) averaged over windows of
 * ⌈n / maxPoints⌉ consecutive steps: at most `maxPoints` points. Lines of steps ≥ `beforeStep`
 * (logged after the checkpoint) are left out; so are blank lines. A line that is not JSON is an error
 * naming its line number.
 */
export function downsampleLosses(
  text: string,
  beforeStep = Infinity,
  maxPoints = MAX_LOSS_POINTS,
  source: string = FILES.losses,
  names: readonly string[] = LOSS_NAMES,
): LossesFile {
  const terms = [...names, 'total', 'lr'];
  const rows: Record<string, number>[] = [];
  text.split('\n').forEach((line, i) => {
    if (line.trim() === '') return;
    let row: Record<string, number>;
    try {
      row = JSON.parse(line) as Record<string, number>;
    } catch (e) {
      throw new UsageError(`${source} line ${i + 1} is not JSON (${(e as Error).message}); the loss log is corrupt`);
    }
    if (typeof row['step'] !== 'number') throw new UsageError(`${source} line ${i + 1} has no step; expected a line written by npm run train`);
    if (row['step'] < beforeStep) rows.push(row);
  });
  rows.sort((a, b) => a['step']! - b['step']!);
  const window = Math.max(1, Math.ceil(rows.length / maxPoints));
  const points: LossPoint[] = [];
  for (let at = 0; at < rows.length; at += window) {
    const chunk = rows.slice(at, at + window);
    const point: LossPoint = { step: chunk[chunk.length - 1]!['step']!, count: chunk.length };
    for (const term of terms) {
      const values = chunk.map((r) => r[term]).filter((v): v is number => typeof v === 'number');
      if (values.length > 0) point[term] = round4(values.reduce((a, b) => a + b, 0) / values.length);
    }
    points.push(point);
  }
  return { source, steps: rows.length, window, terms, points };
}

const fmtDuration = (ms: number) => {
  const s = Math.round(ms / 1000);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h} h ${String(m).padStart(2, '0')} min` : m > 0 ? `${m} min ${s % 60} s` : `${s} s`;
};

/** about.json for a checkpoint state; `shippedWith` = the test-time fields laid on its config. */
export function aboutOf(state: CheckpointState, options: { label?: string; order?: number; dtype: StoredDtype; shippedWith?: MaskRcnnSpec }) {
  const { config, recipe } = state;
  const pooler = POOLER_NAMES[config.roiHeads.boxRoiPool.pooler] ?? config.roiHeads.boxRoiPool.pooler;
  const maskPooler = POOLER_NAMES[config.roiHeads.maskRoiPool.pooler] ?? config.roiHeads.maskRoiPool.pooler;
  const poolers = pooler === maskPooler ? pooler : `${pooler} (box head), ${maskPooler} (mask head)`;
  const imagesSeen = state.step * recipe.batch;
  const { width, height } = { width: recipe.data.scene.width ?? 256, height: recipe.data.scene.height ?? 256 };
  const opt = recipe.optimizer;
  const done = state.step >= recipe.steps;
  // the test-time fields as `dotted.path = value`
  const shippedWith = Object.fromEntries(leaves(options.shippedWith ?? {}).map((path) => [path, valueAt(options.shippedWith, path)]));
  const shipped = Object.entries(shippedWith);
  // `npm run train -- --resume --steps N` may have lengthened the schedule (recipe.scheduleChanges)
  const changes = ((recipe as { scheduleChanges?: unknown }).scheduleChanges ?? []) as { atStep: number; fromSteps: number; toSteps: number }[];
  const extended = changes.map((c) => `; the schedule went from ${c.fromSteps} to ${c.toSteps} steps at step ${c.atStep}`).join('');
  const figures = recipe.data.kind === 'figures';
  const { keypointBranch, maskLoss } = config.roiHeads;
  const kp = config.roiHeads.keypointPredictor.numKeypoints;
  const arch =
    `ResNet-${config.backbone.depth} (width ${config.backbone.baseWidth})-FPN ${config.fpn.outChannels}` +
    (keypointBranch ? `, a mask branch and a keypoint branch (${config.roiHeads.keypointHead.layers.length} × ${config.roiHeads.keypointHead.layers[0]} convs → ${kp} keypoints)` : '') +
    (maskLoss === 'softmax' ? ', mask loss: softmax across classes (Table 2b\'s multinomial alternative)' : '');
  const description =
    `${arch} with ${poolers}, trained from scratch by \`npm run train\` on the synthetic ${figures ? 'figures (src/data/figures.ts, stick people with keypoints' : 'scenes (src/data/scenes.ts'}, ` +
    `${width}×${height}, seeds ${recipe.data.firstSeed}–${recipe.data.firstSeed + recipe.data.count - 1}): ` +
    `${done ? `${state.step} steps` : `${state.step} of ${recipe.steps} steps (an intermediate checkpoint)`} × batch ${recipe.batch} = ` +
    `${imagesSeen.toLocaleString('en-US')} images seen; ${opt.kind === 'adamw' ? 'AdamW' : 'SGD'} lr ${opt.lr}` +
    `${opt.warmupSteps > 0 ? ` (${opt.warmupSteps} warm-up steps, ${opt.schedule} decay)` : ` (${opt.schedule} decay)`}, ` +
    `weight decay ${opt.weightDecay}${extended}; ${fmtDuration(state.elapsedMs)} of training. ` +
    `Weights stored as ${options.dtype}.` +
    (shipped.length > 0 ? ` Shipped with the test-time setting${shipped.length > 1 ? 's' : ''} ${shipped.map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join(', ')} (npm run ship).` : '');
  const kind = keypointBranch ? 'Keypoint + Mask R-CNN' : 'Mask R-CNN';
  return {
    label:
      options.label ??
      `${kind} R${config.backbone.depth}-FPN, ${pooler}${maskLoss === 'softmax' ? ', softmax masks' : ''}, synthetic ${figures ? 'figures' : 'scenes'}${done ? '' : ` (step ${state.step}/${recipe.steps})`}`,
    placeholder: false,
    description,
    classNames: figures ? [...FIGURE_CLASSES] : [...SCENE_CLASSES],
    ...(keypointBranch && figures ? { keypointNames: [...KEYPOINT_NAMES], skeleton: SKELETON.map(([a, b]) => [a, b]) } : {}),
    order: options.order ?? 100,
    ...(shipped.length > 0 ? { shippedWith } : {}),
    training: {
      data: figures ? 'figures' : 'scenes',
      pooler: config.roiHeads.boxRoiPool.pooler,
      maskPooler: config.roiHeads.maskRoiPool.pooler,
      maskLoss,
      steps: state.step,
      totalSteps: recipe.steps,
      batch: recipe.batch,
      imagesSeen,
      elapsedMs: Math.round(state.elapsedMs),
      imageSize: [height, width],
      trainSeeds: `${recipe.data.firstSeed}-${recipe.data.firstSeed + recipe.data.count - 1}`,
      optimizer: { kind: opt.kind, lr: opt.lr, weightDecay: opt.weightDecay, warmupSteps: opt.warmupSteps, schedule: opt.schedule, clipNorm: opt.clipNorm },
      seed: recipe.seed,
      ...(changes.length > 0 ? { scheduleChanges: changes } : {}),
      dtype: options.dtype,
      command: 'npm run train',
    },
  };
}

export interface ShipResult {
  dir: string;
  files: string[];
  totalBytes: number;
  step: number;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]*$/;

/** Ship the checkpoint of `options.run` as `<modelsDir>/<name>/`. */
export async function shipModel(options: ShipOptions): Promise<ShipResult> {
  const log = options.log ?? (() => {});
  const { run, name } = options;
  const dtype = options.dtype ?? 'float16';
  const modelsDir = options.modelsDir ?? MODELS_DIR;
  if (!NAME.test(name)) throw new UsageError(`--name ${name}: expected a folder name of letters, digits, '.', '_' or '-' (it becomes a URL)`);
  if (!existsSync(run) || !statSync(run).isDirectory()) {
    throw new UsageError(`--run ${run}: no such directory; expected a training run (npm run train -- --out ${run})`);
  }
  if (!existsSync(join(run, FILES.state))) {
    const has = readdirSync(run);
    throw new UsageError(
      `--run ${run} has no checkpoint (no ${FILES.state}${has.length ? `; it holds ${has.join(', ')}` : ', it is empty'}): ` +
        `a run saves every --save-every steps (default 100) and when stopped with Ctrl-C; wait for its first save`,
    );
  }
  const outDir = join(modelsDir, name);
  if (existsSync(outDir) && readdirSync(outDir).length > 0 && !options.force) {
    throw new UsageError(`${outDir} already exists (${readdirSync(outDir).join(', ')}); pass --force to replace it, or choose another --name`);
  }
  if (options.evalSeeds !== undefined) {
    try {
      parseSeedRange(options.evalSeeds);
    } catch (e) {
      throw new UsageError(`--eval-seeds: ${(e as Error).message}`);
    }
  }

  let saved;
  try {
    saved = await loadTrainCheckpoint(readOnlyFs, run);
  } catch (e) {
    if (e instanceof TrainCheckpointError) {
      throw new UsageError(`--run ${run}: ${e.message} (if the run is still training, a save may have been under way: try again)`);
    }
    throw e;
  }
  const { state, stateDict } = saved;
  const spec = mergeSpecs(state.config as MaskRcnnSpec, options.spec ?? {});
  const config: MaskRcnnConfig = toConfig(spec);
  try {
    validateStateDict(stateDict, config);
  } catch (e) {
    if (options.spec === undefined || Object.keys(options.spec).length === 0) throw e;
    throw new UsageError(`the config fields given to ship change the model's architecture, so the run's weights no longer fit: ${(e as Error).message}; pass only test-time settings`);
  }
  const data = state.recipe.data.kind === 'figures' ? 'figures' : 'scenes';
  const classes: readonly string[] = data === 'figures' ? FIGURE_CLASSES : SCENE_CLASSES;
  if (config.numClasses !== classes.length) {
    throw new UsageError(`--run ${run} is a ${config.numClasses}-class model; the ${data} have ${classes.length} (${classes.join(', ')}): it was not trained on them`);
  }
  log(`[ship] ${run}: step ${state.step}/${state.recipe.steps}, ${stateDict.size} tensors`);

  const { manifest, shards } = writeShards(stateDict, { config: spec, dtype });
  mkdirSync(outDir, { recursive: true });
  writeShardFiles(outDir, manifest, shards);
  const about = aboutOf(state, { label: options.label, order: options.order, dtype, shippedWith: options.spec });
  writeFileSync(join(outDir, 'about.json'), `${JSON.stringify(about, null, 1)}\n`);
  const lossPath = join(run, FILES.losses);
  const files = ['model.json', ...manifest.shards.map((s) => s.file), 'about.json'];
  if (existsSync(lossPath)) {
    const losses = downsampleLosses(readFileSync(lossPath, 'utf8'), state.step, MAX_LOSS_POINTS, lossPath, lossNames(config));
    writeFileSync(join(outDir, 'losses.json'), `${JSON.stringify(losses)}\n`);
    files.push('losses.json');
    log(`[ship] losses.json: ${losses.steps} steps → ${losses.points.length} points (window ${losses.window})`);
  } else {
    rmSync(join(outDir, 'losses.json'), { force: true });
    log(`[ship] ${lossPath} is missing: no losses.json`);
  }
  log(`[ship] wrote ${outDir}: ${manifest.shards.length} shard(s), ${(manifest.totalBytes / 2 ** 20).toFixed(2)} MB of ${dtype}`);

  const evalPath = join(outDir, 'eval.json');
  if (options.evalSeeds !== undefined) {
    log(`[ship] evaluating ${name} on seeds ${options.evalSeeds} (npm run eval -- --model ${name} --seeds ${options.evalSeeds})`);
    const argv = ['--model', name, '--seeds', options.evalSeeds, '--json', evalPath, '--backend', options.backend ?? 'wasm'];
    await evalMain(options.log ? argv : [...argv, '--quiet'], { modelsDir });
    files.push('eval.json');
  } else if (existsSync(evalPath)) {
    rmSync(evalPath); // it described the weights just replaced
    log(`[ship] removed the stale ${evalPath}; pass --eval-seeds to evaluate the new weights`);
  }
  return { dir: outDir, files, totalBytes: manifest.totalBytes, step: state.step };
}

export async function main(argv: readonly string[]): Promise<number> {
  const { flags, spec } = parseArgs(argv, OWN_FLAGS);
  if (flags.has('help')) {
    console.log(USAGE);
    return 0;
  }
  const run = flags.get('run');
  const name = flags.get('name');
  if (!run || !name) throw new UsageError(`--run and --name are required\n${USAGE}`);
  const orderText = flags.get('order');
  const order = orderText === undefined ? undefined : Number(orderText);
  if (order !== undefined && !Number.isFinite(order)) throw new UsageError(`--order ${orderText}: expected a number (lowest first)`);
  const backend = flags.get('backend') ?? 'wasm';
  if (backend !== 'wasm' && backend !== 'cpu') throw new UsageError(`--backend ${backend}: expected wasm or cpu`);
  const quiet = flags.has('quiet');
  const result = await shipModel({
    run,
    name,
    label: flags.get('label'),
    order,
    evalSeeds: flags.get('evalSeeds'),
    dtype: flags.has('dtype') ? dtypeFlag(flags.get('dtype')) : 'float16',
    backend,
    force: flags.has('force'),
    modelsDir: flags.get('modelsDir'),
    spec,
    log: quiet ? undefined : (line) => process.stderr.write(`${line}\n`),
  });
  if (!quiet) process.stderr.write(`[ship] ${result.dir}: ${result.files.join(', ')}\n`);
  return 0;
}

runIfMain(import.meta.url, main);
