/**
 * Scenes as a COCO dataset: ids, image ids (= seeds), categories, RLE masks that decode to the
 * instance masks, areas, boxes; `npm run scenes` writing PNGs + annotations.json; usage errors.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../src/cli/args.ts';
import { main } from '../src/cli/scenes.ts';
import { sceneFileName, scenesToCoco } from '../src/data/coco_export.ts';
import { SCENE_CLASSES, generateScene } from '../src/data/scenes.ts';
import { evaluateCoco } from '../src/eval/coco_eval.ts';
import { decodeImage } from '../src/io/image.ts';
import { type CocoRle, decodeRle, rleArea } from '../src/io/rle.ts';

const seeds = [3, 4, 1_000_000];
const scenes = seeds.map((s) => generateScene(s));
const coco = scenesToCoco(scenes);

describe('scenesToCoco', () => {
  it('images have id = seed, the scene size and scene_<seed>.png file names', () => {
    expect(coco.images).toEqual(seeds.map((s) => ({ id: s, width: 256, height: 256, file_name: `scene_${String(s).padStart(7, '0')}.png` })));
    expect(sceneFileName(12)).toBe('scene_0000012.png');
  });

  it('categories are ids 1…6 named after SCENE_CLASSES (background excluded)', () => {
    expect(coco.categories.map((c) => [c.id, c.name])).toEqual(SCENE_CLASSES.slice(1).map((n, i) => [i + 1, n]));
  });

  it('annotation ids run 1…N, image ids exist, category = label, RLE decodes to the mask, area and bbox match', () => {
    const total = scenes.reduce((n, s) => n + s.instances.length, 0);
    expect(coco.annotations.map((a) => a.id)).toEqual(Array.from({ length: total }, (_, i) => i + 1));
    let n = 0;
    for (const scene of scenes) {
      for (const inst of scene.instances) {
        const a = coco.annotations[n++]!;
        expect(a.image_id).toBe(scene.seed);
        expect(a.category_id).toBe(inst.label);
        expect(a.iscrowd).toBe(0);
        const rle = a.segmentation as CocoRle;
        expect(rle.size).toEqual([256, 256]);
        expect(typeof rle.counts).toBe('string');
        expect(Buffer.from(decodeRle(rle)).equals(Buffer.from(inst.mask))).toBe(true);
        expect(rleArea(rle)).toBe(a.area);
        expect(a.area).toBe(inst.area);
        const [x1, y1, x2, y2] = inst.box;
        expect(a.bbox).toEqual([x1, y1, x2 - x1, y2 - y1]);
      }
    }
  });

  it('the ground truth evaluated against itself as results gives AP 1 for bbox and segm', () => {
    const asResults = coco.annotations.map((a) => ({ image_id: a.image_id, category_id: a.category_id, score: 1, bbox: a.bbox, segmentation: a.segmentation as CocoRle }));
    for (const type of ['bbox', 'segm'] as const) {
      expect(evaluateCoco(coco, asResults, type).stats.AP).toBeCloseTo(1, 10);
    }
  });

  it('scenesToCoco refuses the same seed twice', () => {
    expect(() => scenesToCoco([scenes[0]!, scenes[0]!])).toThrow(/seed 3 appears twice/);
  });
});

describe('npm run scenes', () => {
  const dir = mkdtempSync(join(tmpdir(), 'scenes-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('scenes --seeds 3-4 --out DIR writes the two PNGs (pixels = generateScene) and annotations.json (= scenesToCoco)', async () => {
    expect(await main(['--seeds', '3-4', '--out', dir, '--quiet'])).toBe(0);
    expect(readdirSync(join(dir, 'images')).sort()).toEqual(['scene_0000003.png', 'scene_0000004.png']);
    for (const s of [3, 4]) {
      const img = decodeImage(readFileSync(join(dir, 'images', sceneFileName(s))));
      expect(Buffer.from(img.data).equals(Buffer.from(generateScene(s).image.data))).toBe(true);
    }
    const written = JSON.parse(readFileSync(join(dir, 'annotations.json'), 'utf8'));
    expect(written).toEqual(JSON.parse(JSON.stringify(scenesToCoco(scenes.slice(0, 2)))));
  });

  it('scenes --width 64 --height 48 --antialias false records the options and writes 64×48 images', async () => {
    const out = join(dir, 'small');
    expect(await main(['--seeds', '7', '--out', out, '--width', '64', '--height', '48', '--antialias', 'false', '--quiet'])).toBe(0);
    const written = JSON.parse(readFileSync(join(out, 'annotations.json'), 'utf8'));
    expect(written.info.options).toEqual({ width: 64, height: 48, antialias: false });
    expect(written.images).toEqual([{ id: 7, width: 64, height: 48, file_name: 'scene_0000007.png' }]);
    const img = decodeImage(readFileSync(join(out, 'images', 'scene_0000007.png')));
    expect(Buffer.from(img.data).equals(Buffer.from(generateScene(7, { width: 64, height: 48, antialias: false }).image.data))).toBe(true);
  });

  it('scenes without --out, with --seeds 9-3, or --width 8 is a usage error saying what is expected', async () => {
    await expect(main(['--seeds', '0-3'])).rejects.toThrow(UsageError);
    await expect(main(['--seeds', '9-3', '--out', dir])).rejects.toThrow(/first ≤ last/);
    await expect(main(['--seeds', '1', '--out', dir, '--width', '8'])).rejects.toThrow(/width must be an integer in 16…4096/);
    await expect(main(['--seeds', '1', '--out', dir, '--antialias', 'yes'])).rejects.toThrow(/expected true or false/);
  });
});
