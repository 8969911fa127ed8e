/**
 * Synthetic scenes for training and evaluating Mask R-CNN: seeded, deterministic RGB images of
 * overlapping shapes on textured, noisy backgrounds, with exact visible-part instance masks.
 * Pure TypeScript, no DOM, no Math.random: the same seed gives the same bytes in Node and in a
 * browser (see random.ts for why even sin/cos/exp/log are our own).
 *
 * Glossary
 *   layout     the plain-data description of a scene (background, shapes back to front, noise):
 *              `sampleLayout(seed)`; `renderLayout(layout)` turns it into pixels and masks
 *   owner      per pixel, the top-most shape whose outline contains the pixel centre; a shape's
 *              instance mask is the set of pixels it owns (its visible part after occlusion; a ring's
 *              hole shows, and is owned by, what lies beneath)
 *   size       a shape's circumscribed diameter 2R, drawn log-uniformly in [minSize, maxSize] so that
 *              every octave, hence every FPN level, gets about as many objects
 *   dropped    a shape whose visible part is almost nothing (< minVisibleFraction of its in-image area
 *              or < minVisiblePixels pixels) is removed from the layout before rendering, so every
 *              painted shape has an annotation
 *
 * A split is a seed range (see SCENE_SPLITS): anyone regenerates the exact same images from the seeds.
 */
import type { RgbImage } from '../types.ts';
import { Rng, detCos, detLog, detSin } from './random.ts';
import { SCENE_CLASSES, type ShapeRaster, type ShapeSpec, rasterizeShape } from './shapes.ts';

export { SCENE_CLASSES, type ShapeSpec } from './shapes.ts';

/**
 * Documented splits. Train draws from seeds 0 … 999 999 (use a prefix: seeds 0 … N−1 for N scenes);
 * validation is seeds 1 000 000 … 1 000 499 (500 scenes); test 2 000 000 … 2 000 499.
 */
export const SCENE_SPLITS = {
  train: { first: 0, last: 999_999 },
  val: { first: 1_000_000, last: 1_000_499 },
  test: { first: 2_000_000, last: 2_000_499 },
} as const;

export interface SceneOptions {
  /** image width, pixels (default 256) */
  width?: number;
  /** image height, pixels (default 256) */
  height?: number;
  /** fewest shapes sampled per scene, before hidden ones are dropped (default 3) */
  minInstances?: number;
  /** most shapes sampled per scene (default 10) */
  maxInstances?: number;
  /** smallest circumscribed diameter, pixels (default 8) */
  minSize?: number;
  /** largest circumscribed diameter, pixels (default 0.8 · min(width, height)) */
  maxSize?: number;
  /** anti-aliased edges; the mask is then the ≥ 50 % coverage set (default true) */
  antialias?: boolean;
  /** per-pixel noise up to ± this many levels, drawn per scene in [0, noise] (default 10; 0 = none) */
  noise?: number;
  /** drop shapes whose visible area is below this fraction of their in-image area (default 0.25) */
  minVisibleFraction?: number;
  /** drop shapes with fewer visible pixels than this (default 16) */
  minVisiblePixels?: number;
}

export type SceneConfig = Required<SceneOptions>;

export interface Stripes {
  /** per-channel amplitude, levels */
  amplitude: [number, number, number];
  /** period, pixels */
  period: number;
  /** direction of variation, radians */
  angle: number;
  phase: number;
}

export interface Blotch {
  cx: number;
  cy: number;
  radius: number;
  /** colour added at the centre, fading as (1 − d²/r²)² to 0 at the radius */
  color: [number, number, number];
}

export interface BackgroundSpec {
  /** linear gradient from colorA to colorB along `gradientAngle` across the image */
  colorA: [number, number, number];
  colorB: [number, number, number];
  gradientAngle: number;
  stripes: Stripes | null;
  blotches: Blotch[];
}

export interface SceneLayout {
  seed: number;
  width: number;
  height: number;
  antialias: boolean;
  background: BackgroundSpec;
  /** back to front; `instances[i]` of the rendered scene is `shapes[i]` */
  shapes: ShapeSpec[];
  /** per-pixel uniform noise in [−amplitude, amplitude], from its own stream of the seed */
  noiseAmplitude: number;
}

export interface SceneInstance {
  /** index into SCENE_CLASSES */
  label: number;
  /** height × width, row-major, 1 = visible pixel of this instance */
  mask: Uint8Array;
  /** tight box of the mask [x1, y1, x2, y2], pixel edges (x2 = last column + 1) */
  box: [number, number, number, number];
  /** mask pixel count */
  area: number;
  iscrowd: 0;
}

export interface Scene {
  seed: number;
  image: RgbImage;
  /** one per layout shape, same order (back to front) */
  instances: SceneInstance[];
  layout: SceneLayout;
}

export class SceneError extends Error {
  override name = 'SceneError';
}

/** Fill the defaults and check the options. */
export function sceneConfig(options: SceneOptions = {}): SceneConfig {
  const width = options.width ?? 256;
  const height = options.height ?? 256;
  const c: SceneConfig = {
    width,
    height,
    minInstances: options.minInstances ?? 3,
    maxInstances: options.maxInstances ?? 10,
    minSize: options.minSize ?? 8,
    maxSize: options.maxSize ?? 0.8 * Math.min(width, height),
    antialias: options.antialias ?? true,
    noise: options.noise ?? 10,
    minVisibleFraction: options.minVisibleFraction ?? 0.25,
    minVisiblePixels: options.minVisiblePixels ?? 16,
  };
  const bad = (what: string, found: unknown) => {
    throw new SceneError(`scene option ${what}; found ${JSON.stringify(found)}`);
  };
  for (const k of ['width', 'height'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 16 || c[k] > 4096) bad(`${k} must be an integer in 16…4096`, c[k]);
  }
  if (!Number.isInteger(c.minInstances) || c.minInstances < 0) bad('minInstances must be a non-negative integer', c.minInstances);
  if (!Number.isInteger(c.maxInstances) || c.maxInstances < c.minInstances) bad('maxInstances must be an integer ≥ minInstances', c.maxInstances);
  if (!(c.minSize >= 2 && c.maxSize >= c.minSize)) bad(`sizes need 2 ≤ minSize ≤ maxSize (minSize ${c.minSize})`, c.maxSize);
  if (!(c.noise >= 0 && c.noise <= 128)) bad('noise must be in 0…128', c.noise);
  if (!(c.minVisibleFraction >= 0 && c.minVisibleFraction <= 1)) bad('minVisibleFraction must be in 0…1', c.minVisibleFraction);
  if (!(c.minVisiblePixels >= 1)) bad('minVisiblePixels must be ≥ 1', c.minVisiblePixels);
  return c;
}

export type Rgb = [number, number, number];

const clamp255 = (v: number) => (v < 0 ? 0 : v > 255 ? 255 : v);
/** Euclidean distance of two RGB colours, levels. */
export const colorDistance = (a: Rgb, b: Rgb) => {
  const [d0, d1, d2] = [a[0] - b[0], a[1] - b[1], a[2] - b[2]];
  return Math.sqrt(d0 * d0 + d1 * d1 + d2 * d2); // not **: Math.pow may differ between engines
};
export const randomColor = (rng: Rng): Rgb => [rng.int(0, 255), rng.int(0, 255), rng.int(0, 255)];

/** A random textured background: gradient, optional stripes, blotches (shared with figures.ts). */
export function sampleBackground(rng: Rng, width: number, height: number): BackgroundSpec {
  const colorA = randomColor(rng);
  const colorB = colorA.map((v) => Math.round(clamp255(v + rng.uniform(-70, 70)))) as Rgb;
  const gradientAngle = rng.uniform(0, 2 * Math.PI);
  const stripes: Stripes | null =
    rng.next() < 0.5
      ? {
          amplitude: [rng.uniform(5, 30), rng.uniform(5, 30), rng.uniform(5, 30)],
          period: rng.logUniform(4, 48),
          angle: rng.uniform(0, Math.PI),
          phase: rng.uniform(0, 2 * Math.PI),
        }
      : null;
  const blotches: Blotch[] = [];
  const nBlotches = rng.next() < 0.6 ? rng.int(2, 7) : 0;
  const scale = Math.min(width, height);
  for (let k = 0; k < nBlotches; k++) {
    blotches.push({
      cx: rng.uniform(0, width),
      cy: rng.uniform(0, height),
      radius: rng.uniform(0.06, 0.3) * scale,
      color: [rng.uniform(-45, 45), rng.uniform(-45, 45), rng.uniform(-45, 45)],
    });
  }
  return { colorA, colorB, gradientAngle, stripes, blotches };
}

/** A fill colour far from the background's colours and, if possible, from the shapes already placed. */
export function sampleShapeColor(rng: Rng, background: BackgroundSpec, placed: readonly Rgb[]): Rgb {
  let best: Rgb = [0, 0, 0];
  let bestScore = -Infinity;
  for (let attempt = 0; attempt < 24; attempt++) {
    const c = randomColor(rng);
    const fromBackground = Math.min(colorDistance(c, background.colorA), colorDistance(c, background.colorB));
    const fromShapes = placed.reduce((m, p) => Math.min(m, colorDistance(c, p)), Infinity);
    if (fromBackground >= 110 && fromShapes >= 60) return c;
    const score = Math.min(fromBackground - 110, fromShapes - 60);
    if (score > bestScore) {
      bestScore = score;
      best = c;
    }
  }
  return best;
}

interface Sampled {
  layout: SceneLayout;
  rasters: ShapeRaster[];
  owner: Int16Array;
}

/** What the owner map reads of a raster: its region and inside flags (a ShapeRaster, or a figure's). */
export type RegionRaster = Pick<ShapeRaster, 'x0' | 'y0' | 'width' | 'height' | 'inside'>;

/** Owner map of regions drawn back to front (−1 = background). */
export function ownerMap(rasters: readonly RegionRaster[], width: number, height: number): Int16Array {
  const owner = new Int16Array(width * height).fill(-1);
  rasters.forEach((r, k) => {
    for (let y = 0, i = 0; y < r.height; y++) {
      for (let x = 0, p = (r.y0 + y) * width + r.x0; x < r.width; x++, i++, p++) if (r.inside[i]) owner[p] = k;
    }
  });
  return owner;
}

function sample(seed: number, config: SceneConfig): Sampled {
  const { width, height } = config;
  const rng = new Rng(seed);
  const background = sampleBackground(rng, width, height);
  const count = rng.int(config.minInstances, config.maxInstances);
  const drafts: { shape: ShapeSpec; depth: number }[] = [];
  const colors: Rgb[] = [];
  for (let k = 0; k < count; k++) {
    const label = rng.int(1, SCENE_CLASSES.length - 1);
    const size = rng.logUniform(config.minSize, config.maxSize);
    const radius = size / 2;
    const margin = 0.6 * radius; // up to 40 % of the radius may fall outside the image
    const cx = width > 2 * margin ? rng.uniform(margin, width - margin) : rng.uniform(0, width);
    const cy = height > 2 * margin ? rng.uniform(margin, height - margin) : rng.uniform(0, height);
    const angle = rng.uniform(0, 2 * Math.PI);
    const holeRatio = SCENE_CLASSES[label] === 'ring' ? rng.uniform(0.45, 0.7) : 0;
    const color = sampleShapeColor(rng, background, colors);
    colors.push(color);
    const shading: [number, number] = [rng.uniform(-20, 20), rng.uniform(-20, 20)];
    // Mostly big shapes behind small ones, with shapes of similar size in either order.
    const depth = -detLog(size) / Math.LN2 + 2 * rng.next();
    drafts.push({ shape: { label, cx, cy, radius, angle, holeRatio, color, shading }, depth });
  }
  drafts.sort((a, b) => a.depth - b.depth); // stable: ties keep the draw order
  let shapes = drafts.map((d) => d.shape);
  let rasters = shapes.map((s) => rasterizeShape(s, width, height, config.antialias));
  let owner = ownerMap(rasters, width, height);
  // Drop the (almost) hidden shapes in one pass: removing shapes only uncovers the others.
  const visible = new Int32Array(shapes.length);
  for (let p = 0; p < owner.length; p++) {
    const o = owner[p]!;
    if (o >= 0) visible[o]!++;
  }
  const keep = rasters.map((r, k) => visible[k]! >= config.minVisiblePixels && visible[k]! >= config.minVisibleFraction * r.area);
  if (keep.includes(false)) {
    shapes = shapes.filter((_, k) => keep[k]);
    rasters = rasters.filter((_, k) => keep[k]);
    owner = ownerMap(rasters, width, height);
  }
  const noiseAmplitude = rng.uniform(0, config.noise);
  return { layout: { seed, width, height, antialias: config.antialias, background, shapes, noiseAmplitude }, rasters, owner };
}

/** Sample a scene's layout (background, shapes back to front, noise level) from its seed. */
export function sampleLayout(seed: number, options: SceneOptions = {}): SceneLayout {
  return sample(seed, sceneConfig(options)).layout;
}

/** Paint a background into float RGB pixels (row-major, 3 per pixel). */
export function paintBackground(pixels: Float32Array, bg: BackgroundSpec, width: number, height: number): void {
  const gx = detCos(bg.gradientAngle);
  const gy = detSin(bg.gradientAngle);
  // gradient parameter t = ((x, y) · g − min) / (max − min) over the image corners
  const corners = [0, width * gx, height * gy, width * gx + height * gy];
  const tMin = Math.min(...corners);
  const tSpan = Math.max(...corners) - tMin || 1;
  const { colorA: a, colorB: b, stripes } = bg;
  const sx = stripes ? detCos(stripes.angle) : 0;
  const sy = stripes ? detSin(stripes.angle) : 0;
  const k = stripes ? (2 * Math.PI) / stripes.period : 0;
  for (let y = 0, p = 0; y < height; y++) {
    for (let x = 0; x < width; x++, p += 3) {
      const t = ((x + 0.5) * gx + (y + 0.5) * gy - tMin) / tSpan;
      let r = a[0] + (b[0] - a[0]) * t;
      let g = a[1] + (b[1] - a[1]) * t;
      let bl = a[2] + (b[2] - a[2]) * t;
      if (stripes) {
        const wave = detCos(k * ((x + 0.5) * sx + (y + 0.5) * sy) + stripes.phase);
        r += stripes.amplitude[0] * wave;
        g += stripes.amplitude[1] * wave;
        bl += stripes.amplitude[2] * wave;
      }
      pixels[p] = r;
      pixels[p + 1] = g;
      pixels[p + 2] = bl;
    }
  }
  for (const blotch of bg.blotches) {
    const x0 = Math.max(0, Math.floor(blotch.cx - blotch.radius));
    const x1 = Math.min(width, Math.ceil(blotch.cx + blotch.radius));
    const y0 = Math.max(0, Math.floor(blotch.cy - blotch.radius));
    const y1 = Math.min(height, Math.ceil(blotch.cy + blotch.radius));
    const r2 = blotch.radius * blotch.radius;
    for (let y = y0; y < y1; y++) {
      for (let x = x0; x < x1; x++) {
        const dx = x + 0.5 - blotch.cx;
        const dy = y + 0.5 - blotch.cy;
        const q = 1 - (dx * dx + dy * dy) / r2;
        if (q <= 0) continue;
        const f = q * q;
        const p = (y * width + x) * 3;
        pixels[p] = pixels[p]! + blotch.color[0] * f;
        pixels[p + 1] = pixels[p + 1]! + blotch.color[1] * f;
        pixels[p + 2] = pixels[p + 2]! + blotch.color[2] * f;
      }
    }
  }
}

/** Composite a shape's anti-aliased fill (with its shading) over float RGB pixels. */
export function paintShape(pixels: Float32Array, shape: ShapeSpec, raster: ShapeRaster, width: number): void {
  const c = detCos(shape.angle);
  const s = detSin(shape.angle);
  const [su, sv] = [shape.shading[0] / shape.radius, shape.shading[1] / shape.radius];
  for (let y = 0, i = 0; y < raster.height; y++) {
    const dy = raster.y0 + y + 0.5 - shape.cy;
    for (let x = 0; x < raster.width; x++, i++) {
      const alpha = raster.alpha[i]!;
      if (alpha === 0) continue;
      const dx = raster.x0 + x + 0.5 - shape.cx;
      const shade = su * (dx * c + dy * s) + sv * (-dx * s + dy * c);
      const p = ((raster.y0 + y) * width + raster.x0 + x) * 3;
      for (let ch = 0; ch < 3; ch++) {
        const fill = clamp255(shape.color[ch]! + shade);
        pixels[p + ch] = alpha * fill + (1 - alpha) * pixels[p + ch]!;
      }
    }
  }
}

/**
 * Add the per-pixel noise and quantize: one 32-bit draw per pixel from `noise`, 10 bits per channel,
 * u in [0, 1023] → amp·(2u/1023 − 1) in [−amp, amp]; then clamp to 0…255 and round half up.
 */
export function quantizeWithNoise(pixels: Float32Array, noise: Rng, amp: number): Uint8Array {
  const data = new Uint8Array(pixels.length);
  const step = (2 * amp) / 1023;
  let v = 0;
  for (let p = 0; p < data.length; p += 3) {
    const bits = amp > 0 ? noise.nextUint32() : 0;
    // (v + 0.5) | 0: much faster than Math.round here, the same on every engine
    v = pixels[p]! + ((bits & 1023) * step - amp);
    data[p] = v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
    v = pixels[p + 1]! + (((bits >>> 10) & 1023) * step - amp);
    data[p + 1] = v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
    v = pixels[p + 2]! + (((bits >>> 20) & 1023) * step - amp);
    data[p + 2] = v <= 0 ? 0 : v >= 255 ? 255 : (v + 0.5) | 0;
  }
  return data;
}

/** The visible part of region k (the pixels it owns) as an instance: mask, tight box, area. */
export function visibleInstance(owner: Int16Array, k: number, r: RegionRaster, label: number, width: number, height: number): SceneInstance {
  const mask = new Uint8Array(width * height);
  let [x1, y1, x2, y2] = [width, height, 0, 0];
  let area = 0;
  for (let y = r.y0; y < r.y0 + r.height; y++) {
    for (let x = r.x0, p = y * width + r.x0; x < r.x0 + r.width; x++, p++) {
      if (owner[p] !== k) continue;
      mask[p] = 1;
      area++;
      if (x < x1) x1 = x;
      if (x >= x2) x2 = x + 1;
      if (y < y1) y1 = y;
      if (y >= y2) y2 = y + 1;
    }
  }
  return { label, mask, box: [x1, y1, x2, y2], area, iscrowd: 0 };
}

function render(layout: SceneLayout, rasters: readonly ShapeRaster[], owner: Int16Array): Scene {
  const { width, height } = layout;
  const pixels = new Float32Array(width * height * 3);
  paintBackground(pixels, layout.background, width, height);
  layout.shapes.forEach((shape, k) => paintShape(pixels, shape, rasters[k]!, width));
  // Noise from the seed's second stream.
  const data = quantizeWithNoise(pixels, new Rng(layout.seed, 1), layout.noiseAmplitude);
  const instances = layout.shapes.map((shape, k) => visibleInstance(owner, k, rasters[k]!, shape.label, width, height));
  return { seed: layout.seed, image: { width, height, data }, instances, layout };
}

/** Render a layout (e.g. one from `sampleLayout`, possibly edited) to pixels and instance masks. */
export function renderLayout(layout: SceneLayout): Scene {
  const rasters = layout.shapes.map((s) => rasterizeShape(s, layout.width, layout.height, layout.antialias));
  return render(layout, rasters, ownerMap(rasters, layout.width, layout.height));
}

/** The scene of a seed: `renderLayout(sampleLayout(seed, options))`, without rasterizing twice. */
export function generateScene(seed: number, options: SceneOptions = {}): Scene {
  const { layout, rasters, owner } = sample(seed, sceneConfig(options));
  return render(layout, rasters, owner);
}

/** Parse a seed range "A-B" (inclusive) or a single seed "A". */
export function parseSeedRange(text: string): { first: number; last: number } {
  const m = /^\s*(\d+)\s*(?:-\s*(\d+)\s*)?$/.exec(text);
  const first = m ? Number(m[1]) : NaN;
  const last = m ? Number(m[2] ?? m[1]) : NaN;
  if (!Number.isSafeInteger(first) || !Number.isSafeInteger(last) || last < first) {
    throw new SceneError(`expected a seed range like 0-99 or 1000000-1000499 (first ≤ last); found '${text}'`);
  }
  return { first, last };
}
