/**
 * `npm run eval -- (--model NAME | --weights FILE) --seeds A-B [--json FILE] [--backend wasm|cpu|webgpu]
 *                 [--scene-width 256] [--scene-height 256] [config fields]`
 *
 * Generates the synthetic scenes of seeds A … B (src/data/scenes.ts), runs the engine on each,
 * turns the detections into COCO results (box → [x, y, w, h]; mask → RLE of the pasted probabilities
 * > roiHeads.maskThreshold), evaluates bbox and segm with the COCO evaluator (src/eval/coco_eval.ts),
 * prints both tables as pycocotools does and optionally writes
 * `{"bbox": {AP, AP50, AP75, APs, APm, APl}, "segm": {…}, "images": N, …}`.
 * `--model NAME` reads public/models/NAME/model.json (a converted model with its config).
 */
import { existsSync, readdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { type MaskRcnnSpec, mergeSpecs, toConfig } from '../config.ts';
import { SceneCocoBuilder } from '../data/coco_export.ts';
import { SCENE_CLASSES, type SceneOptions, generateScene, parseSeedRange } from '../data/scenes.ts';
import { type CocoEvaluation, type CocoResult, apOf, evaluateCoco, formatSummary } from '../eval/coco_eval.ts';
import { encodeRegionRle } from '../io/rle.ts';
import { type Trace, createMaskRcnn, runMaskRcnn } from '../model.ts';
import { type Backend, useBackend } from '../node/backend.ts';
import { UsageError, parseArgs, runIfMain } from './args.ts';
import { SCENE_OPTION_FLAGS, sceneOptionsOf } from './scenes.ts';
import { loadWeightsFile } from './weights_file.ts';

const USAGE = `usage: npm run eval -- (--model NAME | --weights FILE) --seeds A-B [--json FILE]
                    [--backend wasm|cpu|webgpu] [--scene-width 256] [--scene-height 256] [--quiet] [config fields]
  --model NAME      a shipped model: public/models/NAME/model.json
  --weights FILE    a checkpoint (.pth, .safetensors) or a converted model.json
  --seeds A-B       scenes to generate and evaluate on, both ends included (val: 1000000-1000499)
  --json FILE       write {"bbox": {AP, AP50, AP75, APs, APm, APl}, "segm": {…}, "images": N}
  --backend NAME    tfjs backend: wasm (default), cpu or webgpu
  --scene-width, --scene-height, --scene-min-size, --scene-noise, …
                    scene options of npm run scenes, prefixed (default 256×256)
config fields: torchvision keywords or dotted config paths, as in npm run infer (e.g. --box-score-thresh 0.01)`;

const OWN_FLAGS: Record<string, boolean> = {
  model: true, weights: true, seeds: true, json: true, backend: true, quiet: false, help: false,
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

/** The detections of a trace as COCO results for image `imageId`: bbox results and segm results. */
export function cocoResultsOf(trace: Trace, imageId: number): { bbox: CocoResult[]; segm: CocoResult[] } {
  const { boxes, labels, scores, masks } = trace.result;
  const [h, w] = trace.sizes.original;
  const threshold = trace.config.roiHeads.maskThreshold;
  const bbox: CocoResult[] = [];
  const segm: CocoResult[] = [];
  labels.forEach((label, d) => {
    const [x1, y1, x2, y2] = boxes.subarray(4 * d, 4 * d + 4);
    const score = scores[d]!;
    bbox.push({ image_id: imageId, category_id: label, score, bbox: [x1!, y1!, x2! - x1!, y2! - y1!] });
    segm.push({ image_id: imageId, category_id: label, score, segmentation: encodeRegionRle(masks[d]!, threshold, h, w) });
  });
  return { bbox, segm };
}

export interface EvalReport {
  bbox: ReturnType<typeof apOf>;
  segm: ReturnType<typeof apOf>;
  images: number;
  seeds: string;
  weights: string;
  backend: string;
  /** AR and the rest of pycocotools' 12 numbers */
  full: { bbox: CocoEvaluation['stats']; segm: CocoEvaluation['stats'] };
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

  const weightsPath = modelName !== undefined ? resolveModel(modelName, options.modelsDir) : weightsFlag!;
  const { stateDict, spec: savedSpec } = await loadWeightsFile(weightsPath);
  const config = toConfig(mergeSpecs(savedSpec ?? {}, spec));
  if (config.numClasses !== SCENE_CLASSES.length) {
    throw new UsageError(
      `${weightsPath} is a ${config.numClasses}-class model (numClasses counts the background); the scenes have ${SCENE_CLASSES.length} ` +
        `(${SCENE_CLASSES.join(', ')}): evaluate a model trained on the scenes, or pass --num-classes ${SCENE_CLASSES.length} if the config is wrong`,
    );
  }
  await useBackend(backend);
  const model = createMaskRcnn(stateDict, config);
  log(`[eval] ${weightsPath} on ${tf.getBackend()}, seeds ${range.first}-${range.last}`);

  const gt = new SceneCocoBuilder(sceneOptions);
  const bboxResults: CocoResult[] = [];
  const segmResults: CocoResult[] = [];
  const count = range.last - range.first + 1;
  const t0 = performance.now();
  try {
    for (let seed = range.first; seed <= range.last; seed++) {
      const scene = generateScene(seed, sceneOptions);
      gt.add(scene);
      const trace = await runMaskRcnn(model, scene.image);
      try {
        const { bbox, segm } = cocoResultsOf(trace, seed);
        bboxResults.push(...bbox);
        segmResults.push(...segm);
      } finally {
        trace.dispose();
      }
      const done = seed - range.first + 1;
      if (done % 10 === 0 || done === count) {
        const s = (performance.now() - t0) / 1000;
        log(`[eval] ${done}/${count} scenes, ${bboxResults.length} detections, ${s.toFixed(1)} s (ETA ${((s / done) * (count - done)).toFixed(0)} s)`);
      }
    }
  } finally {
    model.dispose();
  }
  const dataset = gt.build();
  const evaluations = { bbox: evaluateCoco(dataset, bboxResults, 'bbox'), segm: evaluateCoco(dataset, segmResults, 'segm') };
  for (const type of ['bbox', 'segm'] as const) {
    console.log(`IoU metric: ${type}`);
    console.log(formatSummary(evaluations[type]));
  }
  const report: EvalReport = {
    bbox: apOf(evaluations.bbox.stats),
    segm: apOf(evaluations.segm.stats),
    images: count,
    seeds: `${range.first}-${range.last}`,
    weights: weightsPath,
    backend: tf.getBackend(),
    full: { bbox: evaluations.bbox.stats, segm: evaluations.segm.stats },
  };
  const json = flags.get('json');
  if (json) {
    writeFileSync(json, `${JSON.stringify(report, null, 1)}\n`);
    log(`[eval] wrote ${json}`);
  }
  return 0;
}


runIfMain(import.meta.url, main);
