/**
 * `npm run eval -- (--model NAME | --weights FILE) --seeds A-B [--json FILE] [--backend wasm|cpu|webgpu]
 *                 [--scene-width 256] [--scene-height 256] [config fields]`
 *
 * Generates the synthetic images of seeds A … B — the shape scenes (src/data/scenes.ts) or, for a
 * model trained on them, the figures (src/data/figures.ts: `--data figures`, the default for a
 * shipped model whose about.json records it, or a model with a keypoint branch) — runs the engine on
 * each, turns the detections into COCO results (box → [x, y, w, h]; mask → RLE of the pasted
 * probabilities > roiHeads.maskThreshold; keypoints → [x, y, score] × K), evaluates bbox, segm (a
 * mask branch) and keypoints (a keypoint branch: OKS with the figures' sigmas) with the COCO
 * evaluator (src/eval/coco_eval.ts), prints the tables as pycocotools does and optionally writes
 * `{"bbox": {AP, AP50, AP75, APs, APm, APl}, "segm": {…}, "keypoints": {AP, AP50, AP75, APm, APl}, "images": N, …}`.
 * `--model NAME` reads public/models/NAME/model.json (a converted model with its config).
 */
import { existsSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { type MaskRcnnSpec, mergeSpecs, toConfig } from '../config.ts';
import { FiguresCocoBuilder, SceneCocoBuilder } from '../data/coco_export.ts';
import { FIGURE_CLASSES, KEYPOINT_NAMES, KEYPOINT_SIGMAS, generateFigures } from '../data/figures.ts';
import { SCENE_CLASSES, type SceneOptions, generateScene, parseSeedRange } from '../data/scenes.ts';
import {
  type CocoEvaluation, type CocoKeypointEvaluation, type CocoResult, type KeypointApNumbers, apOf, defaultParams, evaluateCoco, formatSummary,
} from '../eval/coco_eval.ts';
import type { DataKind } from '../train/checkpoint.ts';
import { encodeRegionRle } from '../io/rle.ts';
import { type Trace, createMaskRcnn, runMaskRcnn } from '../model.ts';
import { type Backend, useBackend } from '../node/backend.ts';
import { UsageError, parseArgs, runIfMain } from './args.ts';
import { SCENE_OPTION_FLAGS, sceneOptionsOf } from './scenes.ts';
import { loadWeightsFile } from './weights_file.ts';

const USAGE = `usage: npm run eval -- (--model NAME | --weights FILE) --seeds A-B [--json FILE] [--data scenes|figures]
                    [--backend wasm|cpu|webgpu] [--scene-width 256] [--scene-height 256] [--quiet] [config fields]
  --model NAME      a shipped model: public/models/NAME/model.json
  --weights FILE    a checkpoint (.pth, .safetensors) or a converted model.json
  --seeds A-B       images to generate and evaluate on, both ends included (val: 1000000-1000499)
  --data NAME       scenes (shapes) or figures (stick people with keypoints); default: what the model was
                    trained on (a shipped model's about.json), else figures for a keypoint model
  --json FILE       write {"bbox": {AP, AP50, AP75, APs, APm, APl}, "segm": {…}, "keypoints": {…}, "images": N}
  --backend NAME    tfjs backend: wasm (default), cpu or webgpu
  --scene-width, --scene-height, --scene-min-size, --scene-noise, …
                    scene options of npm run scenes, prefixed (default 256×256)
config fields: torchvision keywords or dotted config paths, as in npm run infer (e.g. --box-score-thresh 0.01)`;

const OWN_FLAGS: Record<string, boolean> = {
  model: true, weights: true, seeds: true, json: true, data: true, backend: true, quiet: false, help: false,
  // scene options, prefixed: --min-size/--max-size are torchvision's transform keywords here
  ...Object.fromEntries(SCENE_OPTION_FLAGS.map((f) => [`scene${f[0]!.toUpperCase()}${f.slice(1)}`, true])),
};

/** Default folder of shipped models (relative to the repository root / working directory). */
export const MODELS_DIR = 'public/models';

/** public/models/NAME/model.json, or a UsageError listing the models that exist. */
export function resolveModel(name: string, modelsDir = MODELS_DIR): string {
  if (!/^[A-Za-z0-9._-]+$/.test(name) || name.startsWith('.')) throw new UsageError(`--model ${name}: expected a model folder name (letters, digits, . _ -)`);
  const path = join(modelsDir, name, 'model.json');
  if (!existsSync(path)) {
    const available = existsSync(modelsDir) ? readdirSync(modelsDir).filter((d) => existsSync(join(modelsDir, d, 'model.json'))) : [];
    throw new UsageError(
      `no model '${name}': ${resolve(path)} does not exist; ` +
        (available.length ? `models available: ${available.join(', ')}` : `${resolve(modelsDir)} has no models yet`) +
        `; or pass --weights FILE`,
    );
  }
  return path;
}

/** The evaluations of a model: bbox always, segm with a mask branch, keypoints with a keypoint branch. */
export type EvalType = 'bbox' | 'segm' | 'keypoints';

/**
 * The detections of a trace as COCO results for image `imageId`: bbox results, segm results (a mask
 * branch) and keypoint results ([x, y, score] × K, the detection's score; a keypoint branch). Without
 * a branch its list is empty.
 */
export function cocoResultsOf(trace: Trace, imageId: number): Record<EvalType, CocoResult[]> {
  const { boxes, labels, scores, masks, keypoints, keypointScores } = trace.result;
  const [h, w] = trace.sizes.original;
  const { maskBranch, keypointBranch, maskThreshold } = trace.config.roiHeads;
  const kp = trace.keypointHead.numKeypoints;
  const out: Record<EvalType, CocoResult[]> = { bbox: [], segm: [], keypoints: [] };
  labels.forEach((label, d) => {
    const [x1, y1, x2, y2] = boxes.subarray(4 * d, 4 * d + 4);
    const score = scores[d]!;
    out.bbox.push({ image_id: imageId, category_id: label, score, bbox: [x1!, y1!, x2! - x1!, y2! - y1!] });
    if (maskBranch) out.segm.push({ image_id: imageId, category_id: label, score, segmentation: encodeRegionRle(masks[d]!, maskThreshold, h, w) });
    if (keypointBranch) {
      // COCO keypoint results: [x, y, score] per keypoint (the evaluator reads x and y), scored by the detection.
      const flat = Array.from({ length: kp }, (_, k) => [keypoints[(d * kp + k) * 3]!, keypoints[(d * kp + k) * 3 + 1]!, keypointScores[d * kp + k]!]).flat();
      out.keypoints.push({ image_id: imageId, category_id: label, score, keypoints: flat });
    }
  });
  return out;
}

export interface EvalReport {
  bbox: ReturnType<typeof apOf>;
  /** a model with a mask branch */
  segm?: ReturnType<typeof apOf>;
  /** a model with a keypoint branch: AP, AP50, AP75, APm, APl (OKS) */
  keypoints?: KeypointApNumbers;
  images: number;
  seeds: string;
  /** the generator of the images: scenes or figures */
  data: DataKind;
  weights: string;
  backend: string;
  /** AR and the rest of pycocotools' numbers (12 for bbox/segm, 10 for keypoints) */
  full: Partial<Record<EvalType, CocoEvaluation['stats'] | CocoKeypointEvaluation['stats']>>;
}

/** The data set a shipped model's about.json says it was trained on (`training.data`), if it says. */
function aboutData(manifestPath: string): DataKind | undefined {
  const path = join(dirname(manifestPath), 'about.json');
  if (!existsSync(path)) return undefined;
  try {
    const data = (JSON.parse(readFileSync(path, 'utf8')) as { training?: { data?: unknown } }).training?.data;
    return data === 'figures' || data === 'scenes' ? data : undefined;
  } catch {
    return undefined;
  }
}

export interface EvalOptions {
  /** where --model NAME is looked up (default public/models) */
  modelsDir?: string;
}

export async function main(argv: readonly string[], options: EvalOptions = {}): Promise<number> {
  const { flags, spec } = parseArgs(argv, OWN_FLAGS);
  if (flags.has('help')) {
    console.log(USAGE);
    return 0;
  }
  const modelName = flags.get('model');
  const weightsFlag = flags.get('weights');
  const seedsText = flags.get('seeds');
  if (!seedsText || (modelName === undefined) === (weightsFlag === undefined)) {
    throw new UsageError(`give --seeds and exactly one of --model NAME or --weights FILE\n${USAGE}`);
  }
  let range;
  try {
    range = parseSeedRange(seedsText);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const sceneOptions: SceneOptions = sceneOptionsOf(flags, 'scene');
  const backend = (flags.get('backend') ?? 'wasm') as Backend;
  if (!['wasm', 'cpu', 'webgpu'].includes(backend)) throw new UsageError(`--backend ${backend}: expected wasm, cpu or webgpu`);
  const quiet = flags.has('quiet');
  const log = (line: string) => {
    if (!quiet) process.stderr.write(`${line}\n`);
  };

  const dataFlag = flags.get('data');
  if (dataFlag !== undefined && dataFlag !== 'scenes' && dataFlag !== 'figures') throw new UsageError(`--data ${dataFlag}: expected scenes or figures`);
  const weightsPath = modelName !== undefined ? resolveModel(modelName, options.modelsDir) : weightsFlag!;
  const { stateDict, spec: savedSpec } = await loadWeightsFile(weightsPath);
  const config = toConfig(mergeSpecs(savedSpec ?? {}, spec));
  const data: DataKind =
    (dataFlag as DataKind | undefined) ?? (modelName !== undefined ? aboutData(weightsPath) : undefined) ?? (config.roiHeads.keypointBranch ? 'figures' : 'scenes');
  const classes: readonly string[] = data === 'figures' ? FIGURE_CLASSES : SCENE_CLASSES;
  if (config.numClasses !== classes.length) {
    throw new UsageError(
      `${weightsPath} is a ${config.numClasses}-class model (numClasses counts the background); the ${data} have ${classes.length} ` +
        `(${classes.join(', ')}): evaluate a model trained on the ${data}, pass --data ${data === 'figures' ? 'scenes' : 'figures'}, or --num-classes ${classes.length} if the config is wrong`,
    );
  }
  if (config.roiHeads.keypointBranch && (data !== 'figures' || config.roiHeads.keypointPredictor.numKeypoints !== KEYPOINT_NAMES.length)) {
    throw new UsageError(
      `${weightsPath} predicts ${config.roiHeads.keypointPredictor.numKeypoints} keypoints; keypoints are evaluated on the figures (${KEYPOINT_NAMES.length} keypoints: ${KEYPOINT_NAMES.join(', ')}), ` +
        `${data === 'figures' ? 'so this model does not fit them' : 'so pass --data figures'}`,
    );
  }
  await useBackend(backend);
  const model = createMaskRcnn(stateDict, config);
  log(`[eval] ${weightsPath} on ${tf.getBackend()}, ${data} seeds ${range.first}-${range.last}`);

  const types: EvalType[] = ['bbox', ...(config.roiHeads.maskBranch ? ['segm' as const] : []), ...(config.roiHeads.keypointBranch ? ['keypoints' as const] : [])];
  const scenesGt = new SceneCocoBuilder(sceneOptions);
  const figuresGt = new FiguresCocoBuilder(sceneOptions);
  const results: Record<EvalType, CocoResult[]> = { bbox: [], segm: [], keypoints: [] };
  const count = range.last - range.first + 1;
  const t0 = performance.now();
  try {
    for (let seed = range.first; seed <= range.last; seed++) {
      let image;
      if (data === 'figures') {
        const figures = generateFigures(seed, sceneOptions);
        figuresGt.add(figures);
        image = figures.image;
      } else {
        const scene = generateScene(seed, sceneOptions);
        scenesGt.add(scene);
        image = scene.image;
      }
      const trace = await runMaskRcnn(model, image);
      try {
        const r = cocoResultsOf(trace, seed);
        for (const type of types) results[type].push(...r[type]);
      } finally {
        trace.dispose();
      }
      const done = seed - range.first + 1;
      if (done % 10 === 0 || done === count) {
        const s = (performance.now() - t0) / 1000;
        log(`[eval] ${done}/${count} images, ${results.bbox.length} detections, ${s.toFixed(1)} s (ETA ${((s / done) * (count - done)).toFixed(0)} s)`);
      }
    }
  } finally {
    model.dispose();
  }
  const dataset = data === 'figures' ? figuresGt.build() : scenesGt.build();
  const evaluations: { bbox?: CocoEvaluation; segm?: CocoEvaluation; keypoints?: CocoKeypointEvaluation } = {};
  for (const type of types) {
    const evaluation =
      type === 'keypoints'
        ? (evaluations.keypoints = evaluateCoco(dataset, results.keypoints, 'keypoints', { ...defaultParams('keypoints'), kpt_oks_sigmas: [...KEYPOINT_SIGMAS] }))
        : (evaluations[type] = evaluateCoco(dataset, results[type], type));
    console.log(`IoU metric: ${type}`);
    console.log(formatSummary(evaluation));
  }
  const report: EvalReport = {
    bbox: apOf(evaluations.bbox!.stats),
    ...(evaluations.segm ? { segm: apOf(evaluations.segm.stats) } : {}),
    ...(evaluations.keypoints ? { keypoints: apOf(evaluations.keypoints.stats) } : {}),
    images: count,
    seeds: `${range.first}-${range.last}`,
    data,
    weights: weightsPath,
    backend: tf.getBackend(),
    full: Object.fromEntries(types.map((t) => [t, evaluations[t]!.stats])),
  };
  const json = flags.get('json');
  if (json) {
    writeFileSync(json, `${JSON.stringify(report, null, 1)}\n`);
    log(`[eval] wrote ${json}`);
  }
  return 0;
}


runIfMain(import.meta.url, main);
