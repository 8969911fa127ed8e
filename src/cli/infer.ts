/**
 * `npm run infer -- (--weights FILE | --model NAME) --image FILE [--out result.json] [--dump-stages DIR]
 *                  [--backend wasm|cpu|webgpu] [config fields, e.g. --min-size 320]`
 *
 * Runs the engine on one PNG/JPEG image and writes the detections (box in original-image pixels,
 * label, class name (a shipped model's about.json classNames, COCO's for 91-class models), score,
 * mask as COCO RLE) with per-stage timings; optionally every stage of DESIGN.md §4 as .npy files.
 * `--model NAME` reads public/models/NAME/model.json, as `npm run eval` does (resolveModel).
 * A progress line per stage goes to stderr.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import { mergeSpecs, toConfig } from '../config.ts';
import { classNamesOf, keypointNamesOf } from '../names.ts';
import { decodeImage } from '../io/image.ts';
import { encodeNpy } from '../io/npy.ts';
import { encodeRegionRle } from '../io/rle.ts';
import { type Trace, createMaskRcnn, dumpNamesOf, runMaskRcnn } from '../model.ts';
import { type Backend, useBackend } from '../node/backend.ts';
import { loadWeightsFile } from './weights_file.ts';
import { UsageError, parseArgs, runIfMain } from './args.ts';
import { resolveModel } from './eval.ts';

const USAGE = `usage: npm run infer -- (--weights FILE | --model NAME) --image FILE [--out result.json] [--dump-stages DIR]
                     [--backend wasm|cpu|webgpu] [--quiet] [config fields]
  --weights FILE     torchvision checkpoint (.pth zip or legacy, .safetensors) or a converted model.json
  --model NAME       a shipped model: public/models/NAME/model.json (e.g. default, roipool)
  --image FILE       PNG or JPEG
  --out FILE         write the detections and timings as JSON (default: print a summary only)
  --dump-stages DIR  write every stage (input, fpn_*, rpn_*, proposals, class_logits, …, masks; a keypoint
                     model: keypoint_logits, keypoints, keypoints_scores instead of the mask dumps) as .npy
  --backend NAME     tfjs backend: wasm (default), cpu or webgpu
config fields: torchvision keywords (--min-size 320 --box-score-thresh 0.05 --rpn-post-nms-top-n-test 1000)
or dotted config paths (--roi-heads.box-roi-pool.sampling-ratio 0), see src/config.ts`;

const OWN_FLAGS = { weights: true, model: true, image: true, out: true, dumpStages: true, backend: true, quiet: false, help: false };

export interface InferOptions {
  /** where --model NAME is looked up (default public/models) */
  modelsDir?: string;
}

/** The names a shipped model's about.json (beside its model.json) gives its classes and keypoints, when it has them. */
function aboutNames(manifestPath: string): { classNames?: string[]; keypointNames?: string[] } {
  const path = join(dirname(manifestPath), 'about.json');
  if (!existsSync(path)) return {};
  let about: { classNames?: unknown; keypointNames?: unknown };
  try {
    about = JSON.parse(readFileSync(path, 'utf8')) as typeof about;
  } catch (e) {
    throw new UsageError(`${path} is not valid JSON (${(e as Error).message}); fix or delete it`);
  }
  const strings = (v: unknown) => (Array.isArray(v) && v.every((n) => typeof n === 'string') ? (v as string[]) : undefined);
  const classNames = strings(about.classNames);
  const keypointNames = strings(about.keypointNames);
  return { ...(classNames ? { classNames } : {}), ...(keypointNames ? { keypointNames } : {}) };
}

export interface Detection {
  box: [number, number, number, number];
  label: number;
  name?: string;
  score: number;
  /** COCO RLE of the mask above roiHeads.maskThreshold (a model with a mask branch). */
  mask?: { size: [number, number]; counts: string };
  /** Per keypoint [x, y, score] in original-image pixels (a model with a keypoint branch); the score is torchvision's `keypoints_scores`. */
  keypoints?: [number, number, number][];
  /** Per keypoint the visibility torchvision returns (its third keypoint column, always 1). */
  keypointsVisibility?: number[];
}

/**
 * The detections of a trace as JSON-ready records (masks thresholded and RLE-encoded, keypoints as
 * [x, y, score]), named by `classNames` when it has one name per class.
 */
export function detectionsOf(trace: Trace, classNames?: readonly string[]): Detection[] {
  const { boxes, labels, scores, masks, keypoints, keypointScores } = trace.result;
  const [h, w] = trace.sizes.original;
  const { maskBranch, keypointBranch, maskThreshold } = trace.config.roiHeads;
  const kp = trace.keypointHead.numKeypoints;
  const names = classNamesOf(trace.config, classNames ? { classNames } : {});
  return Array.from(labels, (label, d) => {
    const box = Array.from(boxes.subarray(d * 4, d * 4 + 4)) as Detection['box'];
    const points = Array.from({ length: keypointBranch ? kp : 0 }, (_, k) => (d * kp + k) * 3);
    return {
      box,
      label,
      ...(names ? { name: names[label]! } : {}),
      score: scores[d]!,
      // torchvision's references binarize with `masks > 0.5`
      ...(maskBranch ? { mask: encodeRegionRle(masks[d]!, maskThreshold, h, w) } : {}),
      ...(keypointBranch
        ? {
            keypoints: points.map((o, k) => [keypoints[o]!, keypoints[o + 1]!, keypointScores[d * kp + k]!] as [number, number, number]),
            keypointsVisibility: points.map((o) => keypoints[o + 2]!),
          }
        : {}),
    };
  });
}

export async function main(argv: readonly string[], options: InferOptions = {}): Promise<number> {
  const { flags, spec } = parseArgs(argv, OWN_FLAGS);
  if (flags.has('help')) {
    console.log(USAGE);
    return 0;
  }
  const modelName = flags.get('model');
  const imagePath = flags.get('image');
  if ((modelName === undefined) === (flags.get('weights') === undefined) || !imagePath) {
    throw new UsageError(`give --image and exactly one of --weights FILE or --model NAME\n${USAGE}`);
  }
  const weightsPath = modelName !== undefined ? resolveModel(modelName, options.modelsDir) : flags.get('weights')!;
  const given = modelName !== undefined ? aboutNames(weightsPath) : {};
  const backend = (flags.get('backend') ?? 'wasm') as Backend;
  if (!['wasm', 'cpu', 'webgpu'].includes(backend)) throw new UsageError(`--backend ${backend}: expected wasm, cpu or webgpu`);
  const quiet = flags.has('quiet');
  const log = (line: string) => {
    if (!quiet) process.stderr.write(`${line}\n`);
  };

  const image = decodeImage(readFileSync(imagePath), imagePath);
  log(`[infer] image ${imagePath}: ${image.width}×${image.height}`);
  const { stateDict, spec: savedSpec, inferred } = await loadWeightsFile(weightsPath);
  if (inferred !== undefined) log(`[infer] architecture from the checkpoint's shapes: ${inferred}`);
  const config = toConfig(mergeSpecs(savedSpec ?? {}, spec));
  const names = { classNames: classNamesOf(config, given), keypointNames: keypointNamesOf(config, given, `${dirname(weightsPath)}/about.json`) };
  await useBackend(backend);
  log(`[infer] backend ${tf.getBackend()}, ${stateDict.size} tensors from ${weightsPath}`);
  const t0 = performance.now();
  const model = createMaskRcnn(stateDict, config);
  const loadMs = performance.now() - t0;
  log(`[infer] model built in ${loadMs.toFixed(0)} ms`);
  const trace = await runMaskRcnn(model, image, {
    onStage: (stage, ms) => log(`[infer] ${stage.padEnd(12)} ${ms.toFixed(1).padStart(9)} ms`),
  });
  try {
    const detections = detectionsOf(trace, names.classNames);
    const totalMs = Object.values(trace.timings).reduce((a, b) => a + b, 0);
    log(`[infer] ${trace.proposals.boxes.length / 4} proposals, ${detections.length} detections, ${totalMs.toFixed(0)} ms`);
    for (const d of detections.slice(0, 10)) {
      log(`  ${(d.name ?? `class ${d.label}`).padEnd(16)} ${d.score.toFixed(3)}  [${d.box.map((v) => v.toFixed(1)).join(', ')}]`);
    }
    const out = flags.get('out');
    if (out) {
      const result = {
        image: { file: imagePath, width: image.width, height: image.height },
        weights: weightsPath,
        backend: tf.getBackend(),
        sizes: trace.sizes,
        config: trace.config,
        ...(names.keypointNames.length > 0 ? { keypointNames: names.keypointNames } : {}),
        detections,
        timings: { modelLoad: loadMs, ...trace.timings, total: totalMs },
      };
      writeFileSync(out, `${JSON.stringify(result, null, 1)}\n`);
      log(`[infer] wrote ${out}`);
    }
    const dumpDir = flags.get('dumpStages');
    if (dumpDir) {
      mkdirSync(dumpDir, { recursive: true });
      const dumps = dumpNamesOf(trace.config);
      for (const name of dumps) {
        const nd = await trace.dump(name);
        writeFileSync(join(dumpDir, `${name}.npy`), encodeNpy(nd.shape, nd.data, name === 'labels' ? 'int64' : 'float32'));
      }
      log(`[infer] wrote ${dumps.length} stage dumps to ${dumpDir}`);
    }
  } finally {
    trace.dispose();
    model.dispose();
  }
  return 0;
}


runIfMain(import.meta.url, main);
