/**
 * `npm run scenes -- [--kind shapes|figures] --seeds A-B --out DIR [--width 256] [--height 256] [options]`
 *
 * Writes the synthetic images of seeds A … B as a COCO dataset: DIR/images/<kind>_<seed>.png and
 * DIR/annotations.json (RLE masks, image id = seed). `--kind shapes` (the default) writes the
 * shape scenes (src/data/scenes.ts), `--kind figures` the stick people with COCO person keypoints
 * (src/data/figures.ts). Splits are seed ranges (SCENE_SPLITS, FIGURE_SPLITS): train 0 … N−1,
 * val 1000000-1000499.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { PNG } from 'pngjs';
import { FiguresCocoBuilder, SceneCocoBuilder, figuresFileName, sceneFileName } from '../data/coco_export.ts';
import { type FiguresOptions, figuresConfig, generateFigures } from '../data/figures.ts';
import { type SceneOptions, generateScene, parseSeedRange, sceneConfig } from '../data/scenes.ts';
import type { RgbImage } from '../types.ts';
import { UsageError, parseArgs, runIfMain } from './args.ts';

const USAGE = `usage: npm run scenes -- [--kind shapes|figures] --seeds A-B --out DIR [--width 256] [--height 256]
                      [--min-instances N] [--max-instances N] [--min-size S] [--max-size S] [--noise 10]
                      [--antialias true|false] [figures only: --min-distractors 0] [--max-distractors 4]
                      [--back-view 0.5]
  --kind K      shapes (default): the shape scenes, 6 classes (src/data/scenes.ts; 3-10 shapes, 8 px up);
                figures: stick people with 14 COCO person keypoints each (src/data/figures.ts; 1-6
                figures 24 px tall up, among unannotated distractor shapes)
  --seeds A-B   seed range, both ends included (train: 0-N, val: 1000000-1000499)
  --out DIR     writes DIR/images/<scene|figures>_<seed>.png and DIR/annotations.json (COCO, RLE masks,
                image id = seed; figures: keypoints, num_keypoints and the category's keypoints/skeleton)
  --min-size, --max-size   shapes: circumscribed diameter; figures: figure height (log-uniform between)
  --min-distractors, --max-distractors   figures: unannotated shapes drawn behind and in front
  --back-view F            figures: fraction seen from the back (mirrored; left is still the lighter side)`;

export const SCENE_OPTION_FLAGS = ['width', 'height', 'minInstances', 'maxInstances', 'minSize', 'maxSize', 'noise', 'antialias'] as const;
export const FIGURE_OPTION_FLAGS = [...SCENE_OPTION_FLAGS, 'minDistractors', 'maxDistractors', 'backView'] as const;
const OWN_FLAGS: Record<string, boolean> = { kind: true, seeds: true, out: true, quiet: false, help: false, ...Object.fromEntries(FIGURE_OPTION_FLAGS.map((f) => [f, true])) };

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

/** Generator options from CLI flags (numbers; antialias true/false), checked by `check`. */
function optionsOf(flags: Map<string, string>, names: readonly string[], check: (o: Record<string, number | boolean>) => unknown, prefix: string): Record<string, number | boolean> {
  const options: Record<string, number | boolean> = {};
  for (const f of names) {
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
    check(options);
  } catch (e) {
    throw new UsageError((e as Error).message);
  }
  return options;
}

/**
 * Scene options from CLI flags (numbers; antialias true/false). `prefix` ('scene' in npm run eval,
 * where --min-size is torchvision's transform keyword) is prepended: --scene-min-size.
 */
export function sceneOptionsOf(flags: Map<string, string>, prefix = ''): SceneOptions {
  return optionsOf(flags, SCENE_OPTION_FLAGS, sceneConfig, prefix);
}

/** Figures options from CLI flags, as `sceneOptionsOf` (with the figures-only flags). */
export function figuresOptionsOf(flags: Map<string, string>, prefix = ''): FiguresOptions {
  return optionsOf(flags, FIGURE_OPTION_FLAGS, figuresConfig, prefix);
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
  const kind = flags.get('kind') ?? 'shapes';
  if (kind !== 'shapes' && kind !== 'figures') throw new UsageError(`--kind ${kind}: expected shapes or figures`);
  if (kind === 'shapes') {
    const figuresOnly = FIGURE_OPTION_FLAGS.filter((f) => !(SCENE_OPTION_FLAGS as readonly string[]).includes(f) && flags.has(f));
    if (figuresOnly.length > 0) {
      const names = figuresOnly.map((f) => `--${f.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`)}`).join(', ');
      throw new UsageError(`${names}: only for --kind figures (the shape scenes have no distractors or views); add --kind figures or drop the flag`);
    }
  }
  const count = range.last - range.first + 1;
  const quiet = flags.has('quiet');
  let builder: SceneCocoBuilder | FiguresCocoBuilder;
  let next: (seed: number) => void;
  if (kind === 'shapes') {
    const options = sceneOptionsOf(flags);
    const shapes = new SceneCocoBuilder(options);
    builder = shapes;
    next = (seed) => {
      const scene = generateScene(seed, options);
      writeFileSync(join(out, 'images', sceneFileName(seed)), encodePng(scene.image));
      shapes.add(scene); // keeps the masks as RLE only
    };
  } else {
    const options = figuresOptionsOf(flags);
    const figures = new FiguresCocoBuilder(options);
    builder = figures;
    next = (seed) => {
      const scene = generateFigures(seed, options);
      writeFileSync(join(out, 'images', figuresFileName(seed)), encodePng(scene.image));
      figures.add(scene);
    };
  }
  mkdirSync(join(out, 'images'), { recursive: true });
  const t0 = performance.now();
  for (let seed = range.first; seed <= range.last; seed++) {
    next(seed);
    if (!quiet && (seed - range.first + 1) % 100 === 0) process.stderr.write(`[scenes] ${seed - range.first + 1}/${count}\n`);
  }
  const coco = builder.build();
  writeFileSync(join(out, 'annotations.json'), `${JSON.stringify(coco)}\n`);
  if (!quiet) {
    process.stderr.write(`[scenes] ${count} ${kind === 'shapes' ? 'scenes' : 'figures images'}, ${coco.annotations.length} instances in ${((performance.now() - t0) / 1000).toFixed(1)} s → ${out}/annotations.json, ${out}/images/\n`);
  }
  return 0;
}

runIfMain(import.meta.url, main);
