/**
 * `npm run scenes -- --seeds A-B --out DIR [--width 256] [--height 256] [scene options]`
 *
 * Writes the synthetic scenes of seeds A … B as a COCO dataset: DIR/images/scene_<seed>.png and
 * DIR/annotations.json (RLE masks, image id = seed). Splits are seed ranges (src/data/scenes.ts
 * SCENE_SPLITS): train 0 … N−1, val 1000000-1000499.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { SceneCocoBuilder, sceneFileName } from '../data/coco_export.ts';
import { type SceneOptions, generateScene, parseSeedRange, sceneConfig } from '../data/scenes.ts';
import type { RgbImage } from '../types.ts';
import { UsageError, parseArgs, runIfMain } from './args.ts';

const USAGE = `usage: npm run scenes -- --seeds A-B --out DIR [--width 256] [--height 256] [--min-instances 3]
                      [--max-instances 10] [--min-size 8] [--max-size S] [--noise 10] [--antialias true|false]
  --seeds A-B   seed range, both ends included (train: 0-N, val: 1000000-1000499)
  --out DIR     writes DIR/images/scene_<seed>.png and DIR/annotations.json (COCO, RLE masks, image id = seed)`;

export const SCENE_OPTION_FLAGS = ['width', 'height', 'minInstances', 'maxInstances', 'minSize', 'maxSize', 'noise', 'antialias'] as const;
const OWN_FLAGS: Record<string, boolean> = { seeds: true, out: true, quiet: false, help: false, ...Object.fromEntries(SCENE_OPTION_FLAGS.map((f) => [f, true])) };

/** PNG bytes of an RGB image (Node only: pngjs). */
export function encodePng(image: RgbImage): Uint8Array {
  const png = new PNG({ width: image.width, height: image.height, colorType: 2 });
  for (let p = 0, q = 0; p < image.width * image.height; p++, q += 3) {
    png.data[4 * p] = image.data[q]!;
    png.data[4 * p + 1] = image.data[q + 1]!;
    png.data[4 * p + 2] = image.data[q + 2]!;
    png.data[4 * p + 3] = 255;
  }
  return PNG.sync.write(png, { colorType: 2 });
}

/**
 * Scene options from CLI flags (numbers; antialias true/false). `prefix` ('scene' in npm run eval,
 * where --min-size is torchvision's transform keyword) is prepended: --scene-min-size.
 */
export function sceneOptionsOf(flags: Map<string, string>, prefix = ''): SceneOptions {
  const options: Record<string, number | boolean> = {};
  for (const f of SCENE_OPTION_FLAGS) {
    const key = prefix ? `${prefix}${f[0]!.toUpperCase()}${f.slice(1)}` : f;
    const raw = flags.get(key);
    if (raw === undefined) continue;
    const flag = `--${key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`;
    if (f === 'antialias') {
      if (raw !== 'true' && raw !== 'false') throw new UsageError(`${flag} ${raw}: expected true or false`);
      options[f] = raw === 'true';
    } else {
      const v = Number(raw);
      if (raw.trim() === '' || !Number.isFinite(v)) throw new UsageError(`${flag} ${raw}: expected a number`);
      options[f] = v;
    }
  }
  try {
    sceneConfig(options);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return options;
}

export async function main(argv: readonly string[]): Promise<number> {
  const { flags } = parseArgs(argv, OWN_FLAGS);
  if (flags.has('help')) {
    console.log(USAGE);
    return 0;
  }
  const seedsText = flags.get('seeds');
  const out = flags.get('out');
  if (!seedsText || !out) throw new UsageError(`--seeds and --out are required\n${USAGE}`);
  let range;
  try {
    range = parseSeedRange(seedsText);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  const options = sceneOptionsOf(flags);
  const count = range.last - range.first + 1;
  const quiet = flags.has('quiet');
  mkdirSync(join(out, 'images'), { recursive: true });
  const builder = new SceneCocoBuilder(options);
  const t0 = performance.now();
  for (let seed = range.first; seed <= range.last; seed++) {
    const scene = generateScene(seed, options);
    writeFileSync(join(out, 'images', sceneFileName(seed)), encodePng(scene.image));
    builder.add(scene); // keeps the masks as RLE only

    if (!quiet && (seed - range.first + 1) % 100 === 0) process.stderr.write(`[scenes] ${seed - range.first + 1}/${count}\n`);
  }
  const coco = builder.build();
  writeFileSync(join(out, 'annotations.json'), `${JSON.stringify(coco)}\n`);
  if (!quiet) {
    process.stderr.write(`[scenes] ${count} scenes, ${coco.annotations.length} instances in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${out}/annotations.json, ${out}/images/\n`);
  }
  return 0;
}

runIfMain(import.meta.url, main);
