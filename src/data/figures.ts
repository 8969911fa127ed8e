/**
 * Synthetic "figures" for Keypoint R-CNN (the paper's §5: pose as K one-hot keypoint masks): seeded,
 * deterministic RGB images of stick people (figure.ts) in varied poses, each with its exact
 * visible-part mask and K = 14 keypoints, among unannotated distractor shapes (shapes.ts) on the
 * textured, noisy backgrounds of scenes.ts. Pure TypeScript, no DOM, no Math.random; sin/cos are
 * random.ts's, so Node and browsers give the same bytes.
 *
 * Glossary (figure.ts defines H, the figure frame, pose, joints, parts and the side cue)
 *   layer         one painted object, back to front: a figure or a distractor shape
 *   owner         as in scenes.ts: per pixel, the top-most layer containing the pixel centre; a
 *                 figure's mask is the pixels it owns
 *   v             COCO's visibility: 0 not labelled (the keypoint lies outside the image; stored as
 *                 [0, 0, 0] as in COCO), 1 labelled but occluded (the pixel under the keypoint belongs
 *                 to a later layer: another figure or a distractor), 2 visible. A figure's own parts
 *                 never hide its keypoints (a wrist in front of the torso is visible)
 *   size          a figure's H, log-uniform in [minSize, maxSize]; a distractor's diameter, 8 px to
 *                 half the image. Depth order: mostly big behind small, similar sizes either way
 *   dropped       a figure whose visible part is almost nothing (< minVisibleFraction of its in-image
 *                 area or < minVisiblePixels pixels) is removed before rendering, as scenes.ts does;
 *                 distractors carry no annotation and are kept
 *
 * The random streams are 2 (layout) and 3 (noise) of the seed, so figures image s shares nothing
 * with shapes scene s. A split is a seed range (FIGURE_SPLITS).
 */
import type { RgbImage } from '../types.ts';
import { type FigureRaster, type FigureSpec, figureJoints, figureRadii, figureShades, paintFigure, rasterizeFigure, sampleFigureBody, sampleFigurePose, samplePoseFamily } from './figure.ts';
import { Rng, detLog } from './random.ts';
import {
  type BackgroundSpec,
  type Rgb,
  type SceneInstance,
  SceneError,
  colorDistance,
  ownerMap,
  paintBackground,
  paintShape,
  quantizeWithNoise,
  randomColor,
  sampleBackground,
  sampleShapeColor,
  visibleInstance,
} from './scenes.ts';
import { SCENE_CLASSES, type ShapeRaster, type ShapeSpec, rasterizeShape } from './shapes.ts';

export * from './figure.ts';

export const FIGURE_SPLITS = {
  train: { first: 0, last: 999_999 },
  val: { first: 1_000_000, last: 1_000_499 },
  test: { first: 2_000_000, last: 2_000_499 },
} as const;

/** One painted object: a figure (annotated) or a distractor shape (not). */
export type FiguresLayer = { kind: 'figure'; figure: FigureSpec } | { kind: 'shape'; shape: ShapeSpec };

export interface FiguresOptions {
  /** image width, pixels (default 256) */
  width?: number;
  /** image height, pixels (default 256) */
  height?: number;
  /** fewest figures sampled per image, before hidden ones are dropped (default 1) */
  minInstances?: number;
  /** most figures sampled per image (default 6) */
  maxInstances?: number;
  /** smallest figure height H, pixels, log-uniform up to maxSize (default 24) */
  minSize?: number;
  /** largest figure height H, pixels (default 0.9 · min(width, height)) */
  maxSize?: number;
  /** fewest unannotated distractor shapes (default 0) */
  minDistractors?: number;
  /** most distractor shapes, 8 px to half the image across (default 4) */
  maxDistractors?: number;
  /** fraction of figures seen from the back, i.e. mirrored (default 0.5) */
  backView?: number;
  /** anti-aliased edges; masks are then the ≥ 50 % coverage set (default true) */
  antialias?: boolean;
  /** per-pixel noise up to ± this many levels, drawn per image in [0, noise] (default 10) */
  noise?: number;
  /** drop figures whose visible area is below this fraction of their in-image area (default 0.3) */
  minVisibleFraction?: number;
  /** drop figures with fewer visible pixels than this (default 24) */
  minVisiblePixels?: number;
}

export type FiguresConfig = Required<FiguresOptions>;

export interface FiguresLayout {
  seed: number;
  width: number;
  height: number;
  antialias: boolean;
  background: BackgroundSpec;
  /** back to front; the rendered instances are the figure layers, in this order */
  layers: FiguresLayer[];
  /** per-pixel uniform noise in [−amplitude, amplitude], from stream 3 of the seed */
  noiseAmplitude: number;
}

export interface FigureInstance extends SceneInstance {
  /** K × 3 [x, y, v], image pixels, v as COCO (0 outside the image, 1 occluded, 2 visible) */
  keypoints: Float32Array;
}

export interface FiguresScene {
  seed: number;
  image: RgbImage;
  /** one per figure layer, back to front */
  instances: FigureInstance[];
  layout: FiguresLayout;
}

const LAYOUT_STREAM = 2;
const NOISE_STREAM = 3;

/** Fill the defaults and check the options. */
export function figuresConfig(options: FiguresOptions = {}): FiguresConfig {
  const width = options.width ?? 256;
  const height = options.height ?? 256;
  const c: FiguresConfig = {
    width,
    height,
    minInstances: options.minInstances ?? 1,
    maxInstances: options.maxInstances ?? 6,
    minSize: options.minSize ?? 24,
    maxSize: options.maxSize ?? 0.9 * Math.min(width, height),
    minDistractors: options.minDistractors ?? 0,
    maxDistractors: options.maxDistractors ?? 4,
    backView: options.backView ?? 0.5,
    antialias: options.antialias ?? true,
    noise: options.noise ?? 10,
    minVisibleFraction: options.minVisibleFraction ?? 0.3,
    minVisiblePixels: options.minVisiblePixels ?? 24,
  };
  const bad = (what: string, found: unknown) => {
    throw new SceneError(`figures option ${what}; found ${JSON.stringify(found)}`);
  };
  for (const k of ['width', 'height'] as const) {
    if (!Number.isInteger(c[k]) || c[k] < 16 || c[k] > 4096) bad(`${k} must be an integer in 16…4096`, c[k]);
  }
  if (!Number.isInteger(c.minInstances) || c.minInstances < 0) bad('minInstances must be a non-negative integer', c.minInstances);
  if (!Number.isInteger(c.maxInstances) || c.maxInstances < c.minInstances) bad('maxInstances must be an integer ≥ minInstances', c.maxInstances);
  if (!(c.minSize >= 8 && c.maxSize >= c.minSize)) bad(`sizes need 8 ≤ minSize ≤ maxSize (minSize ${c.minSize}; figures under 8 px have no joints to see)`, c.maxSize);
  if (!Number.isInteger(c.minDistractors) || c.minDistractors < 0) bad('minDistractors must be a non-negative integer', c.minDistractors);
  if (!Number.isInteger(c.maxDistractors) || c.maxDistractors < c.minDistractors) bad('maxDistractors must be an integer ≥ minDistractors', c.maxDistractors);
  if (!(c.backView >= 0 && c.backView <= 1)) bad('backView must be a fraction in 0…1', c.backView);
  if (!(c.noise >= 0 && c.noise <= 128)) bad('noise must be in 0…128', c.noise);
  if (!(c.minVisibleFraction >= 0 && c.minVisibleFraction <= 1)) bad('minVisibleFraction must be in 0…1', c.minVisibleFraction);
  if (!(c.minVisiblePixels >= 1)) bad('minVisiblePixels must be ≥ 1', c.minVisiblePixels);
  return c;
}

function sampleFigureColor(rng: Rng, background: BackgroundSpec, placed: readonly Rgb[]): Rgb {
  let best: Rgb = [128, 128, 128];
  let bestScore = -Infinity;
  for (let attempt = 0; attempt < 24; attempt++) {
    const c = randomColor(rng);
    const shades = figureShades(c);
    const fromBackground = Math.min(...[shades.color, shades.left, shades.right].flatMap((s) => [colorDistance(s, background.colorA), colorDistance(s, background.colorB)]));
    const fromPlaced = placed.reduce((m, p) => Math.min(m, colorDistance(c, p)), Infinity);
    const score = Math.min(fromBackground - 80, fromPlaced - 60);
    if (score >= 0) return c;
    if (score > bestScore) {
      bestScore = score;
      best = c;
    }
  }
  return best;
}

function sampleFigure(rng: Rng, config: FiguresConfig, background: BackgroundSpec, placed: readonly Rgb[]): FigureSpec {
  const { width, height } = config;
  const family = samplePoseFamily(rng);
  const { pose, angle } = sampleFigurePose(rng, family);
  const body = sampleFigureBody(rng);
  const H = rng.logUniform(config.minSize, config.maxSize);
  const back = rng.next() < config.backView;
  const leftInFront = rng.next() < 0.5;
  const color = sampleFigureColor(rng, background, placed);
  const figure: FigureSpec = { family, cx: 0, cy: 0, height: H, angle, back, leftInFront, body, pose, color };
  // Place the figure's extent (joints ± head radius) so that at most 20 % of it falls outside.
  const joints = figureJoints(figure);
  const reach = figureRadii(figure).head;
  let [x1, y1, x2, y2] = [Infinity, Infinity, -Infinity, -Infinity];
  for (let k = 0; k < joints.length; k += 2) {
    x1 = Math.min(x1, joints[k]! - reach);
    x2 = Math.max(x2, joints[k]! + reach);
    y1 = Math.min(y1, joints[k + 1]! - reach);
    y2 = Math.max(y2, joints[k + 1]! + reach);
  }
  const place = (lo: number, hi: number, size: number) => {
    const margin = 0.3 * (hi - lo);
    const centre = size > 2 * margin ? rng.uniform(margin, size - margin) : rng.uniform(0, size);
    return centre - (lo + hi) / 2;
  };
  figure.cx = place(x1, x2, width);
  figure.cy = place(y1, y2, height);
  return figure;
}

function sampleDistractor(rng: Rng, config: FiguresConfig, background: BackgroundSpec, placed: readonly Rgb[]): ShapeSpec {
  const { width, height } = config;
  const label = rng.int(1, SCENE_CLASSES.length - 1);
  const radius = rng.logUniform(8, Math.max(8, 0.5 * Math.min(width, height))) / 2;
  const margin = 0.6 * radius;
  const cx = width > 2 * margin ? rng.uniform(margin, width - margin) : rng.uniform(0, width);
  const cy = height > 2 * margin ? rng.uniform(margin, height - margin) : rng.uniform(0, height);
  const angle = rng.uniform(0, 2 * Math.PI);
  const holeRatio = SCENE_CLASSES[label] === 'ring' ? rng.uniform(0.45, 0.7) : 0;
  const color = sampleShapeColor(rng, background, placed);
  return { label, cx, cy, radius, angle, holeRatio, color, shading: [rng.uniform(-20, 20), rng.uniform(-20, 20)] };
}

type LayerRaster = FigureRaster | ShapeRaster;

function rasterizeLayer(layer: FiguresLayer, width: number, height: number, antialias: boolean): LayerRaster {
  return layer.kind === 'figure' ? rasterizeFigure(layer.figure, width, height, antialias) : rasterizeShape(layer.shape, width, height, antialias);
}

interface Sampled {
  layout: FiguresLayout;
  rasters: LayerRaster[];
  owner: Int16Array;
}

function sample(seed: number, config: FiguresConfig): Sampled {
  const { width, height } = config;
  const rng = new Rng(seed, LAYOUT_STREAM);
  const background = sampleBackground(rng, width, height);
  const figures = rng.int(config.minInstances, config.maxInstances);
  const distractors = rng.int(config.minDistractors, config.maxDistractors);
  const drafts: { layer: FiguresLayer; depth: number }[] = [];
  const colors: Rgb[] = [];
  for (let k = 0; k < figures + distractors; k++) {
    // Mostly big things behind small ones (size: a figure's H, a shape's diameter), similar sizes either way.
    if (k < figures) {
      const figure = sampleFigure(rng, config, background, colors);
      colors.push(figure.color);
      drafts.push({ layer: { kind: 'figure', figure }, depth: -detLog(figure.height) / Math.LN2 + 2 * rng.next() });
    } else {
      const shape = sampleDistractor(rng, config, background, colors);
      colors.push(shape.color);
      drafts.push({ layer: { kind: 'shape', shape }, depth: -detLog(2 * shape.radius) / Math.LN2 + 2 * rng.next() });
    }
  }
  drafts.sort((a, b) => a.depth - b.depth); // stable: ties keep the draw order
  let layers = drafts.map((d) => d.layer);
  let rasters = layers.map((l) => rasterizeLayer(l, width, height, config.antialias));
  let owner = ownerMap(rasters, width, height);
  // Drop the (almost) hidden figures in one pass: removing layers only uncovers the others.
  const visible = new Int32Array(layers.length);
  for (let p = 0; p < owner.length; p++) {
    const o = owner[p]!;
    if (o >= 0) visible[o]!++;
  }
  const keep = layers.map((l, k) => l.kind === 'shape' || (visible[k]! >= config.minVisiblePixels && visible[k]! >= config.minVisibleFraction * rasters[k]!.area));
  if (keep.includes(false)) {
    layers = layers.filter((_, k) => keep[k]);
    rasters = rasters.filter((_, k) => keep[k]);
    owner = ownerMap(rasters, width, height);
  }
  const noiseAmplitude = rng.uniform(0, config.noise);
  return { layout: { seed, width, height, antialias: config.antialias, background, layers, noiseAmplitude }, rasters, owner };
}

/** Sample an image's layout (background, figures and distractors back to front, noise level) from its seed. */
export function sampleFiguresLayout(seed: number, options: FiguresOptions = {}): FiguresLayout {
  return sample(seed, figuresConfig(options)).layout;
}

/**
 * The keypoints of layer k's figure as K × 3 [x, y, v] (float32 coordinates; v from the owner map:
 * 2 where the pixel under the keypoint is the figure's, 1 where a later layer owns it, 0 outside).
 */
function keypointsOf(figure: FigureSpec, k: number, owner: Int16Array, width: number, height: number): Float32Array {
  const joints = figureJoints(figure);
  const out = new Float32Array(joints.length / 2 * 3);
  for (let i = 0; i < joints.length / 2; i++) {
    const x = Math.fround(joints[2 * i]!);
    const y = Math.fround(joints[2 * i + 1]!);
    if (!(x >= 0 && x < width && y >= 0 && y < height)) continue; // v = 0: [0, 0, 0]
    out[3 * i] = x;
    out[3 * i + 1] = y;
    out[3 * i + 2] = owner[Math.floor(y) * width + Math.floor(x)] === k ? 2 : 1;
  }
  return out;
}

function render(layout: FiguresLayout, rasters: readonly LayerRaster[], owner: Int16Array): FiguresScene {
  const { width, height } = layout;
  const pixels = new Float32Array(width * height * 3);
  paintBackground(pixels, layout.background, width, height);
  layout.layers.forEach((layer, k) => {
    if (layer.kind === 'figure') paintFigure(pixels, layer.figure, rasters[k] as FigureRaster, width);
    else paintShape(pixels, layer.shape, rasters[k]!, width);
  });
  const data = quantizeWithNoise(pixels, new Rng(layout.seed, NOISE_STREAM), layout.noiseAmplitude);
  const instances: FigureInstance[] = [];
  layout.layers.forEach((layer, k) => {
    if (layer.kind !== 'figure') return;
    const instance = visibleInstance(owner, k, rasters[k]!, 1, width, height);
    instances.push({ ...instance, keypoints: keypointsOf(layer.figure, k, owner, width, height) });
  });
  return { seed: layout.seed, image: { width, height, data }, instances, layout };
}

/** Render a layout (e.g. one from `sampleFiguresLayout`, possibly edited) to pixels, masks and keypoints. */
export function renderFiguresLayout(layout: FiguresLayout): FiguresScene {
  const rasters = layout.layers.map((l) => rasterizeLayer(l, layout.width, layout.height, layout.antialias));
  return render(layout, rasters, ownerMap(rasters, layout.width, layout.height));
}

/** The figures image of a seed: `renderFiguresLayout(sampleFiguresLayout(seed, options))`, rasterizing once. */
export function generateFigures(seed: number, options: FiguresOptions = {}): FiguresScene {
  const { layout, rasters, owner } = sample(seed, figuresConfig(options));
  return render(layout, rasters, owner);
}
