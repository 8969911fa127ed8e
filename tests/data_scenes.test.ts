/**
 * Synthetic scenes: determinism, exact visible-part masks (checked by re-rendering without the
 * instance), rings with holes, occlusion, tight boxes, the size and class distributions, option
 * errors, and the engine-independent math the determinism rests on.
 */
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Rng, detCos, detExp, detLog, detSin } from '../src/data/random.ts';
import {
  SCENE_CLASSES,
  SCENE_SPLITS,
  type Scene,
  SceneError,
  generateScene,
  parseSeedRange,
  renderLayout,
  sampleLayout,
} from '../src/data/scenes.ts';
import { rasterizeShape } from '../src/data/shapes.ts';

/** Scenes of seeds 0 … 199, generated once for the distribution tests. */
const many: Scene[] = Array.from({ length: 200 }, (_, s) => generateScene(s));

function tightBox(mask: Uint8Array, width: number): [number, number, number, number] {
  let [x1, y1, x2, y2] = [Infinity, Infinity, -Infinity, -Infinity];
  mask.forEach((v, p) => {
    if (!v) return;
    const x = p % width;
    const y = Math.floor(p / width);
    x1 = Math.min(x1, x);
    y1 = Math.min(y1, y);
    x2 = Math.max(x2, x + 1);
    y2 = Math.max(y2, y + 1);
  });
  return [x1, y1, x2, y2];
}

/** Pixels whose RGB differs between two images of the same size. */
function changedPixels(a: Uint8Array, b: Uint8Array): Uint8Array {
  const out = new Uint8Array(a.length / 3);
  for (let p = 0; p < out.length; p++) {
    out[p] = a[3 * p] !== b[3 * p] || a[3 * p + 1] !== b[3 * p + 1] || a[3 * p + 2] !== b[3 * p + 2] ? 1 : 0;
  }
  return out;
}

describe('generateScene determinism', () => {
  it('generateScene(seed) twice gives identical image bytes, masks, boxes and labels', () => {
    for (const seed of [0, 17, 1_000_123]) {
      const a = generateScene(seed);
      const b = generateScene(seed);
      expect(Buffer.from(a.image.data).equals(Buffer.from(b.image.data))).toBe(true);
      expect(a.instances.length).toBe(b.instances.length);
      a.instances.forEach((inst, k) => {
        expect(Buffer.from(inst.mask).equals(Buffer.from(b.instances[k]!.mask))).toBe(true);
        expect(inst.box).toEqual(b.instances[k]!.box);
        expect(inst.label).toBe(b.instances[k]!.label);
      });
    }
  });

  it('generateScene with different seeds gives different images', () => {
    const images = [0, 1, 2, 3, 1_000_000].map((s) => Buffer.from(generateScene(s).image.data));
    for (let i = 0; i < images.length; i++) for (let j = i + 1; j < images.length; j++) expect(images[i]!.equals(images[j]!)).toBe(false);
  });

  it('generateScene(seed) equals renderLayout(sampleLayout(seed)), also for other sizes and options', () => {
    for (const options of [{}, { width: 160, height: 96, antialias: false, noise: 0 }]) {
      const a = generateScene(5, options);
      const b = renderLayout(sampleLayout(5, options));
      expect(a.image.width).toBe(options.width ?? 256);
      expect(a.image.height).toBe(options.height ?? 256);
      expect(Buffer.from(a.image.data).equals(Buffer.from(b.image.data))).toBe(true);
      expect(a.instances.map((i) => i.box)).toEqual(b.instances.map((i) => i.box));
    }
  });

  it('src/data uses no engine-dependent math (Math.sin/cos/exp/log/pow/random…, **) outside comments', () => {
    const dir = join(import.meta.dirname, '..', 'src', 'data');
    for (const file of readdirSync(dir).filter((f) => f.endsWith('.ts'))) {
      const code = readFileSync(join(dir, file), 'utf8')
        .replace(/\/\*[\s\S]*?\*\//g, '')
        .replace(/\/\/.*$/gm, '')
        .replace(/`[^`]*`|'[^'\n]*'/g, "''");
      expect(code, file).not.toMatch(/Math\.(sin|cos|tan|exp|expm1|log\w*|pow|random|hypot|atan2?|asin|acos|cbrt|sinh|cosh|tanh)\b|\*\*/);
    }
  });

  it('detSin, detCos, detExp, detLog agree with Math within 1e-14 (relative for exp)', () => {
    for (let i = -2000; i <= 2000; i++) {
      const x = i / 37;
      expect(Math.abs(detSin(x) - Math.sin(x))).toBeLessThan(1e-14);
      expect(Math.abs(detCos(x) - Math.cos(x))).toBeLessThan(1e-14);
      expect(Math.abs(detExp(x / 2) / Math.exp(x / 2) - 1)).toBeLessThan(1e-14);
      if (i > 0) expect(Math.abs(detLog(i * i * 0.37) - Math.log(i * i * 0.37))).toBeLessThan(1e-14 * Math.max(1, Math.abs(Math.log(i * i * 0.37))));
    }
  });

  it('Rng(seed) streams are reproducible, differ between seeds and streams, and Rng.int covers [a, b]', () => {
    const take = (r: Rng) => Array.from({ length: 5 }, () => r.nextUint32());
    expect(take(new Rng(3))).toEqual(take(new Rng(3)));
    expect(take(new Rng(3))).not.toEqual(take(new Rng(4)));
    expect(take(new Rng(3, 0))).not.toEqual(take(new Rng(3, 1)));
    const r = new Rng(9);
    const seen = new Set(Array.from({ length: 500 }, () => r.int(2, 5)));
    expect([...seen].sort()).toEqual([2, 3, 4, 5]);
    expect(() => new Rng(-1)).toThrow(/non-negative integer/);
  });
});

describe('scene instances', () => {
  it('without anti-aliasing, re-rendering without instance k changes exactly the pixels of mask k', () => {
    for (const seed of [0, 1, 2, 3, 4, 5]) {
      const layout = sampleLayout(seed, { antialias: false });
      const full = renderLayout(layout);
      full.instances.forEach((inst, k) => {
        const without = renderLayout({ ...layout, shapes: layout.shapes.filter((_, j) => j !== k) });
        const changed = changedPixels(full.image.data, without.image.data);
        expect(Buffer.from(changed).equals(Buffer.from(inst.mask)), `seed ${seed} instance ${k}`).toBe(true);
      });
    }
  });

  it('with anti-aliasing, every mask pixel changes when its instance is removed, and only a thin fringe outside the mask does', () => {
    for (const seed of [0, 1, 2]) {
      const layout = sampleLayout(seed);
      const full = renderLayout(layout);
      full.instances.forEach((inst, k) => {
        const without = renderLayout({ ...layout, shapes: layout.shapes.filter((_, j) => j !== k) });
        const changed = changedPixels(full.image.data, without.image.data);
        let outside = 0;
        inst.mask.forEach((v, p) => {
          if (v) expect(changed[p]).toBe(1);
        });
        changed.forEach((v, p) => {
          if (v && !inst.mask[p]) outside++;
        });
        // the fringe: partially covered pixels along the outline, at most about the box perimeter
        const shape = layout.shapes[k]!;
        expect(outside).toBeLessThanOrEqual(2 * Math.PI * shape.radius * 2 + 8);
      });
    }
  });

  it('every ring has a hole: its centre pixel is not in its mask, and an unoccluded ring covers about π(R² − r²)', () => {
    let rings = 0;
    let whole = 0;
    for (const scene of many) {
      scene.instances.forEach((inst, k) => {
        const shape = scene.layout.shapes[k]!;
        if (SCENE_CLASSES[inst.label] !== 'ring') return;
        rings++;
        expect(shape.holeRatio).toBeGreaterThan(0.4);
        const [x, y] = [Math.floor(shape.cx), Math.floor(shape.cy)];
        if (x >= 0 && x < 256 && y >= 0 && y < 256) expect(inst.mask[y * 256 + x]).toBe(0);
        const raster = rasterizeShape(shape, 256, 256, true);
        const inImage = shape.cx - shape.radius > 0 && shape.cx + shape.radius < 256 && shape.cy - shape.radius > 0 && shape.cy + shape.radius < 256;
        if (inst.area === raster.area && inImage && shape.radius > 10) {
          whole++;
          const annulus = Math.PI * shape.radius ** 2 * (1 - shape.holeRatio ** 2);
          expect(Math.abs(inst.area - annulus) / annulus).toBeLessThan(0.1);
          const [x1, y1, x2, y2] = inst.box;
          expect(inst.area).toBeLessThan(0.8 * (x2 - x1) * (y2 - y1)); // a filled disc would be ~π/4 = 0.785 of its box, a ring much less
        }
      });
    }
    expect(rings).toBeGreaterThan(50);
    expect(whole).toBeGreaterThan(10);
  });

  it('masks never overlap, areas count the mask pixels, and occlusion really happens', () => {
    let occluded = 0;
    for (const scene of many.slice(0, 60)) {
      const cover = new Uint8Array(256 * 256);
      scene.instances.forEach((inst, k) => {
        let area = 0;
        inst.mask.forEach((v, p) => {
          if (v) {
            cover[p]!++;
            area++;
          }
        });
        expect(inst.area).toBe(area);
        expect(inst.iscrowd).toBe(0);
        if (area < rasterizeShape(scene.layout.shapes[k]!, 256, 256, true).area) occluded++;
      });
      expect(Math.max(...cover)).toBeLessThanOrEqual(1);
    }
    expect(occluded).toBeGreaterThan(30);
  });

  it('box is the tight box [x1, y1, x2, y2] of the mask (x2, y2 exclusive pixel edges)', () => {
    for (const scene of many.slice(0, 40)) {
      for (const inst of scene.instances) expect(inst.box).toEqual(tightBox(inst.mask, 256));
    }
  });

  it('visible parts are kept only when at least 16 pixels and 25 % of the shape show', () => {
    for (const scene of many.slice(0, 60)) {
      scene.instances.forEach((inst, k) => {
        expect(inst.area).toBeGreaterThanOrEqual(16);
        expect(inst.area).toBeGreaterThanOrEqual(0.25 * rasterizeShape(scene.layout.shapes[k]!, 256, 256, true).area);
      });
    }
  });

  it('over 200 seeds, object sizes (longest box side) span 8 px to > 150 px with every octave populated', () => {
    const sides = many.flatMap((s) => s.instances.map((i) => Math.max(i.box[2] - i.box[0], i.box[3] - i.box[1])));
    expect(Math.min(...sides)).toBeLessThanOrEqual(8);
    expect(Math.max(...sides)).toBeGreaterThan(150);
    // octaves ~ FPN levels: < 16, 16–32, 32–64, 64–128, ≥ 128
    const bins = [0, 0, 0, 0, 0];
    for (const s of sides) bins[Math.min(4, Math.max(0, Math.floor(Math.log2(s)) - 3))]!++;
    for (const b of bins) expect(b / sides.length).toBeGreaterThan(0.05);
  });

  it('over 200 seeds, the six classes are balanced within ±25 % of the mean count', () => {
    const counts = new Array<number>(SCENE_CLASSES.length).fill(0);
    for (const s of many) for (const i of s.instances) counts[i.label]!++;
    expect(counts[0]).toBe(0);
    const mean = (counts.reduce((a, b) => a + b, 0)) / (SCENE_CLASSES.length - 1);
    expect(mean).toBeGreaterThan(150);
    for (const c of counts.slice(1)) expect(Math.abs(c - mean) / mean).toBeLessThan(0.25);
  });

  it('shapes contrast with the background (fill ≥ 110 RGB levels from both gradient colours for ≥ 95 %) and show their fill colour', () => {
    const dist = (a: readonly number[], b: readonly number[]) => Math.hypot(a[0]! - b[0]!, a[1]! - b[1]!, a[2]! - b[2]!);
    let shapes = 0;
    let contrasted = 0;
    let large = 0;
    for (const scene of many.slice(0, 60)) {
      const bg = scene.layout.background;
      scene.instances.forEach((inst, k) => {
        const shape = scene.layout.shapes[k]!;
        shapes++;
        if (Math.min(dist(shape.color, bg.colorA), dist(shape.color, bg.colorB)) >= 110) contrasted++;
        if (inst.area < 400) return;
        large++;
        const mean = [0, 0, 0];
        inst.mask.forEach((v, p) => {
          if (v) for (let c = 0; c < 3; c++) mean[c]! += scene.image.data[3 * p + c]! / inst.area;
        });
        // shading ±20 levels across the shape, noise ≤ 10, clipping at 0/255: the mean stays near the fill
        expect(dist(mean, shape.color)).toBeLessThan(30);
      });
    }
    expect(contrasted / shapes).toBeGreaterThan(0.95);
    expect(large).toBeGreaterThan(50);
  });

  it('scenes have 1–10 instances and textured backgrounds (not a flat colour)', () => {
    for (const scene of many.slice(0, 30)) {
      expect(scene.instances.length).toBeGreaterThanOrEqual(1);
      expect(scene.instances.length).toBeLessThanOrEqual(10);
      const values = new Set<number>();
      for (let p = 0; p < 256 * 256; p += 97) values.add(scene.image.data[3 * p]!);
      expect(values.size).toBeGreaterThan(10);
    }
  });
});

describe('scene options and seed ranges', () => {
  it('sceneConfig errors name the option: width 8, maxSize < minSize, maxInstances < minInstances', () => {
    expect(() => generateScene(0, { width: 8 })).toThrow(SceneError);
    expect(() => generateScene(0, { width: 8 })).toThrow(/width must be an integer in 16…4096/);
    expect(() => generateScene(0, { minSize: 20, maxSize: 10 })).toThrow(/minSize ≤ maxSize/);
    expect(() => generateScene(0, { minInstances: 5, maxInstances: 2 })).toThrow(/maxInstances/);
  });

  it('parseSeedRange("0-99") = {first 0, last 99}; "7" = {7, 7}; "9-3" and "a-b" throw', () => {
    expect(parseSeedRange('0-99')).toEqual({ first: 0, last: 99 });
    expect(parseSeedRange('7')).toEqual({ first: 7, last: 7 });
    expect(parseSeedRange(`${SCENE_SPLITS.val.first}-${SCENE_SPLITS.val.last}`)).toEqual({ first: 1_000_000, last: 1_000_499 });
    expect(() => parseSeedRange('9-3')).toThrow(/first ≤ last/);
    expect(() => parseSeedRange('a-b')).toThrow(/seed range like 0-99/);
  });

  it('the documented splits do not overlap', () => {
    const { train, val, test } = SCENE_SPLITS;
    expect(train.last).toBeLessThan(val.first);
    expect(val.last).toBeLessThan(test.first);
  });
});
