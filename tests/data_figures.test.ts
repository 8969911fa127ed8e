/**
 * Synthetic figures (stick people with keypoints, src/data/figures.ts): the keypoint constants,
 * hand-computed joints of known poses, masks against an independent union of the drawn parts, the
 * side cue in the pixels, visibility v (occluded by later layers, outside the image), determinism,
 * distributions over many seeds, option errors, the COCO keypoint export, `npm run scenes --kind
 * figures` and the training-sample adapter.
 */
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { UsageError } from '../src/cli/args.ts';
import { main } from '../src/cli/scenes.ts';
import { figuresFileName, figuresToCoco } from '../src/data/coco_export.ts';
import {
  FIGURE_BODY,
  FIGURE_CLASSES,
  FIGURE_JOINT_LIMITS,
  FIGURE_SPLITS,
  type FigurePose,
  type FigureSpec,
  type FiguresLayer,
  type FiguresLayout,
  type FiguresScene,
  KEYPOINT_FLIP,
  KEYPOINT_NAMES,
  KEYPOINT_SIGMAS,
  POSE_FAMILIES,
  SKELETON,
  generateFigures,
  rasterizeFigure,
  renderFiguresLayout,
  sampleFiguresLayout,
} from '../src/data/figures.ts';
import { SCENE_SPLITS, SceneError } from '../src/data/scenes.ts';
import { evaluateCoco } from '../src/eval/coco_eval.ts';
import { decodeImage } from '../src/io/image.ts';
import { type CocoRle, decodeRle } from '../src/io/rle.ts';
import { figuresToSample, sceneToSample, trainFigures } from '../src/train/data.ts';

const K = KEYPOINT_NAMES.length;
const idx = (name: (typeof KEYPOINT_NAMES)[number]) => KEYPOINT_NAMES.indexOf(name);
const DEG = Math.PI / 180;

/** Images of seeds 0 … 149, generated once for the distribution tests. */
const many: FiguresScene[] = Array.from({ length: 150 }, (_, s) => generateFigures(s));

const STILL: FigurePose = { spine: 0, neck: 0, shoulder: [0, 0], elbow: [0, 0], hip: [0, 0], knee: [0, 0] };

/** A figure with the default body, H = 100, pelvis at (128, 128), upright, facing the viewer. */
function figure(overrides: Partial<FigureSpec> = {}): FigureSpec {
  return { family: 'stand', cx: 128, cy: 128, height: 100, angle: 0, back: false, leftInFront: true, body: { ...FIGURE_BODY }, pose: STILL, color: [100, 150, 200], ...overrides };
}

/** A 256 × 256 layout on a flat grey (40) background, no noise, no anti-aliasing. */
function layoutOf(layers: FiguresLayer[]): FiguresLayout {
  return {
    seed: 0,
    width: 256,
    height: 256,
    antialias: false,
    background: { colorA: [40, 40, 40], colorB: [40, 40, 40], gradientAngle: 0, stripes: null, blotches: [] },
    layers,
    noiseAmplitude: 0,
  };
}

/** The keypoints as K rows [x, y, v]. */
const rows = (kp: Float32Array) => Array.from({ length: K }, (_, i) => [kp[3 * i]!, kp[3 * i + 1]!, kp[3 * i + 2]!]);

function expectJoints(kp: Float32Array, expected: Record<string, [number, number]>) {
  for (const [name, [x, y]] of Object.entries(expected)) {
    const i = KEYPOINT_NAMES.indexOf(name as (typeof KEYPOINT_NAMES)[number]);
    expect(kp[3 * i], `${name} x`).toBeCloseTo(x, 4);
    expect(kp[3 * i + 1], `${name} y`).toBeCloseTo(y, 4);
  }
}

/** Distance from (px, py) to the segment a–b. */
function segmentDistance(px: number, py: number, ax: number, ay: number, bx: number, by: number): number {
  const ex = bx - ax;
  const ey = by - ay;
  const t = Math.max(0, Math.min(1, ((px - ax) * ex + (py - ay) * ey) / (ex * ex + ey * ey || 1)));
  return Math.hypot(px - ax - t * ex, py - ay - t * ey);
}

/** Even–odd point-in-polygon. */
function inPolygon(px: number, py: number, pts: number[][]): boolean {
  let inside = false;
  for (let i = 0, j = pts.length - 1; i < pts.length; j = i++) {
    const [xi, yi] = pts[i]!;
    const [xj, yj] = pts[j]!;
    if (yi! > py !== yj! > py && px < ((xj! - xi!) * (py - yi!)) / (yj! - yi!) + xi!) inside = !inside;
  }
  return inside;
}

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

const pixel = (scene: FiguresScene, x: number, y: number) => Array.from(scene.image.data.subarray(3 * (Math.floor(y) * 256 + Math.floor(x)), 3 * (Math.floor(y) * 256 + Math.floor(x)) + 3));

describe('figure classes and keypoint constants', () => {
  it('one class (person) beside background; 14 distinct keypoint names, centre first then left/right pairs', () => {
    expect(FIGURE_CLASSES).toEqual(['background', 'person']);
    expect(K).toBe(14);
    expect(new Set(KEYPOINT_NAMES).size).toBe(K);
    expect(KEYPOINT_NAMES.slice(0, 2)).toEqual(['head', 'neck']);
  });

  it('SKELETON pairs are in range, distinct, and connect all 14 keypoints into one figure', () => {
    const seen = new Set<string>();
    for (const [a, b] of SKELETON) {
      expect(a).toBeGreaterThanOrEqual(0);
      expect(b).toBeLessThan(K);
      expect(a).not.toBe(b);
      const key = [Math.min(a, b), Math.max(a, b)].join('-');
      expect(seen.has(key)).toBe(false);
      seen.add(key);
    }
    const reached = new Set([0]);
    for (let grew = true; grew; ) {
      grew = false;
      for (const [a, b] of SKELETON) {
        if (reached.has(a) !== reached.has(b)) {
          reached.add(a).add(b);
          grew = true;
        }
      }
    }
    expect(reached.size).toBe(K);
  });

  it('KEYPOINT_FLIP pairs each left_X with right_X, covers every sided keypoint once, and flipping twice is the identity', () => {
    const flip = Array.from({ length: K }, (_, i) => i);
    for (const [l, r] of KEYPOINT_FLIP) {
      expect(KEYPOINT_NAMES[l]!.replace('left_', '')).toBe(KEYPOINT_NAMES[r]!.replace('right_', ''));
      expect(KEYPOINT_NAMES[l]).toMatch(/^left_/);
      flip[l] = r;
      flip[r] = l;
    }
    KEYPOINT_NAMES.forEach((name, i) => {
      expect(flip[flip[i]!]).toBe(i);
      expect(flip[i] !== i).toBe(/^(left|right)_/.test(name));
    });
  });

  it('KEYPOINT_SIGMAS: one per keypoint, positive, equal within flip pairs, COCO values for the body joints', () => {
    expect(KEYPOINT_SIGMAS).toHaveLength(K);
    for (const s of KEYPOINT_SIGMAS) expect(s).toBeGreaterThan(0);
    for (const [l, r] of KEYPOINT_FLIP) expect(KEYPOINT_SIGMAS[l]).toBe(KEYPOINT_SIGMAS[r]);
    const coco = { shoulder: 0.079, elbow: 0.072, wrist: 0.062, hip: 0.107, knee: 0.087, ankle: 0.089 };
    for (const [joint, sigma] of Object.entries(coco)) expect(KEYPOINT_SIGMAS[idx(`left_${joint}` as (typeof KEYPOINT_NAMES)[number])]).toBe(sigma);
  });

  it('the figure splits are the scene splits (train 0…999999, val 500 seeds from 1000000, test from 2000000)', () => {
    expect(FIGURE_SPLITS).toEqual(SCENE_SPLITS);
  });
});

describe('a figure drawn alone with a known pose', () => {
  it('standing still (all joint angles 0), H = 100 at (128, 128): the joints sit at the hand-computed body proportions', () => {
    const scene = renderFiguresLayout(layoutOf([{ kind: 'figure', figure: figure() }]));
    expect(scene.instances).toHaveLength(1);
    // torso 30, neck 10, shoulders ±11 and 2.5 below the neck, hips ±7, arm 17 + 15, leg 24 + 23
    expectJoints(scene.instances[0]!.keypoints, {
      head: [128, 88],
      neck: [128, 98],
      left_shoulder: [139, 100.5],
      right_shoulder: [117, 100.5],
      left_elbow: [139, 117.5],
      right_elbow: [117, 117.5],
      left_wrist: [139, 132.5],
      right_wrist: [117, 132.5],
      left_hip: [135, 128],
      right_hip: [121, 128],
      left_knee: [135, 152],
      right_knee: [121, 152],
      left_ankle: [135, 175],
      right_ankle: [121, 175],
    });
    expect(rows(scene.instances[0]!.keypoints).map((r) => r[2])).toEqual(new Array(K).fill(2));
  });

  it('arms out 90° with elbows bent 90° up, left hip 30° out with knee −30°, spine leaning 30° left', () => {
    const pose: FigurePose = { spine: 0, neck: 0, shoulder: [90 * DEG, 90 * DEG], elbow: [90 * DEG, 90 * DEG], hip: [30 * DEG, 0], knee: [-30 * DEG, 0] };
    const a = renderFiguresLayout(layoutOf([{ kind: 'figure', figure: figure({ pose }) }])).instances[0]!.keypoints;
    const c30 = Math.cos(30 * DEG);
    expectJoints(a, {
      left_elbow: [156, 100.5],
      left_wrist: [156, 85.5],
      right_elbow: [100, 100.5],
      right_wrist: [100, 85.5],
      left_knee: [135 + 12, 128 + 24 * c30],
      left_ankle: [147, 128 + 24 * c30 + 23],
      right_ankle: [121, 175],
    });
    const lean = renderFiguresLayout(layoutOf([{ kind: 'figure', figure: figure({ pose: { ...STILL, spine: 30 * DEG } }) }])).instances[0]!.keypoints;
    // neck = pelvis + 30·(sin 30°, −cos 30°); the head continues along the spine; hips stay put
    expectJoints(lean, { neck: [143, 128 - 30 * c30], head: [148, 128 - 40 * c30], left_hip: [135, 128] });
  });

  it('seen from the back the figure is mirrored (left shoulder on the image left); angle 90° turns it clockwise', () => {
    const back = renderFiguresLayout(layoutOf([{ kind: 'figure', figure: figure({ back: true }) }])).instances[0]!.keypoints;
    expectJoints(back, { left_shoulder: [117, 100.5], right_shoulder: [139, 100.5], left_ankle: [121, 175], head: [128, 88] });
    const turned = renderFiguresLayout(layoutOf([{ kind: 'figure', figure: figure({ angle: 90 * DEG }) }])).instances[0]!.keypoints;
    // (x, y) = (128, 128) + (−w, u)·H: the head points to +x, the feet to −x
    expectJoints(turned, { head: [168, 128], neck: [158, 128], left_shoulder: [155.5, 139], left_ankle: [81, 135], right_ankle: [81, 121] });
  });

  it('the mask is exactly the pixel centres within the limb radius of a SKELETON segment, inside the torso pentagon, or in the head disc', () => {
    const pose: FigurePose = { spine: 10 * DEG, neck: -20 * DEG, shoulder: [140 * DEG, 40 * DEG], elbow: [-60 * DEG, 70 * DEG], hip: [25 * DEG, -10 * DEG], knee: [-50 * DEG, 20 * DEG] };
    for (const f of [figure({ pose }), figure({ pose, angle: 2.5, back: true, cx: 120.3, cy: 131.7, height: 87 })]) {
      const inst = renderFiguresLayout(layoutOf([{ kind: 'figure', figure: f }])).instances[0]!;
      const j = rows(inst.keypoints);
      const r = (f.body.limbWidth * f.height) / 2;
      const headR = f.body.headRadius * f.height;
      const torso = ['left_shoulder', 'neck', 'right_shoulder', 'right_hip', 'left_hip'].map((n) => j[idx(n as (typeof KEYPOINT_NAMES)[number])]!);
      let mismatches = 0;
      let pixels = 0;
      for (let y = 0; y < 256; y++) {
        for (let x = 0; x < 256; x++) {
          const [px, py] = [x + 0.5, y + 0.5];
          const margins = SKELETON.map(([a, b]) => segmentDistance(px, py, j[a]![0]!, j[a]![1]!, j[b]![0]!, j[b]![1]!) - r);
          margins.push(Math.hypot(px - j[0]![0]!, py - j[0]![1]!) - headR);
          const inside = margins.some((m) => m <= 0) || inPolygon(px, py, torso);
          if (Math.min(...margins.map(Math.abs)) < 1e-6) continue; // on an outline: float ties may go either way
          if (inside !== (inst.mask[y * 256 + x] === 1)) mismatches++;
          if (inside) pixels++;
        }
      }
      expect(mismatches).toBe(0);
      expect(pixels).toBe(inst.area);
      expect(pixels).toBeGreaterThan(1000);
    }
  });

  it('each keypoint lies on its limbs: points along every SKELETON segment fall on mask pixels', () => {
    const pose: FigurePose = { spine: -15 * DEG, neck: 25 * DEG, shoulder: [60 * DEG, 170 * DEG], elbow: [120 * DEG, -40 * DEG], hip: [70 * DEG, 5 * DEG], knee: [-110 * DEG, 0] };
    const inst = renderFiguresLayout(layoutOf([{ kind: 'figure', figure: figure({ pose, height: 30, angle: -0.7 }) }])).instances[0]!;
    const j = rows(inst.keypoints);
    for (const [a, b] of SKELETON) {
      for (let t = 0; t <= 1; t += 0.05) {
        const x = j[a]![0]! + t * (j[b]![0]! - j[a]![0]!);
        const y = j[a]![1]! + t * (j[b]![1]! - j[a]![1]!);
        expect(inst.mask[Math.floor(y) * 256 + Math.floor(x)], `${KEYPOINT_NAMES[a]}–${KEYPOINT_NAMES[b]} at t=${t.toFixed(2)}`).toBe(1);
      }
    }
  });

  it('side cue: left limbs are the colour mixed 45 % to white, right limbs 45 % to black, head and torso the colour itself', () => {
    for (const back of [false, true]) {
      const scene = renderFiguresLayout(layoutOf([{ kind: 'figure', figure: figure({ back }) }]));
      const j = rows(scene.instances[0]!.keypoints);
      const mid = (a: string, b: string) => [(j[idx(a as never)]![0]! + j[idx(b as never)]![0]!) / 2, (j[idx(a as never)]![1]! + j[idx(b as never)]![1]!) / 2] as const;
      // colour [100, 150, 200]: left = c + 0.45·(255 − c) = [169.75, 197.25, 224.75], right = 0.55·c = [55, 82.5, 110]
      expect(pixel(scene, ...mid('left_elbow', 'left_wrist'))).toEqual([170, 197, 225]);
      expect(pixel(scene, ...mid('left_knee', 'left_ankle'))).toEqual([170, 197, 225]);
      expect(pixel(scene, ...mid('right_elbow', 'right_wrist'))).toEqual([55, 83, 110]);
      expect(pixel(scene, ...mid('right_hip', 'right_knee'))).toEqual([55, 83, 110]);
      expect(pixel(scene, ...mid('neck', 'left_hip'))).toEqual([100, 150, 200]);
      expect(pixel(scene, j[0]![0]!, j[0]![1]!)).toEqual([100, 150, 200]);
      expect(pixel(scene, 5, 5)).toEqual([40, 40, 40]);
    }
  });
});

describe('keypoint visibility v', () => {
  const square = { label: 2, cx: 139, cy: 132.5, radius: 4, angle: 0, holeRatio: 0, color: [250, 0, 0] as [number, number, number], shading: [0, 0] as [number, number] };

  it('a shape drawn after the figure over its left wrist makes that keypoint v = 1 (and takes those pixels); drawn before, it hides nothing', () => {
    const f = figure();
    const front = renderFiguresLayout(layoutOf([{ kind: 'figure', figure: f }, { kind: 'shape', shape: square }]));
    const v = rows(front.instances[0]!.keypoints).map((r) => r[2]);
    expect(v).toEqual(KEYPOINT_NAMES.map((n) => (n === 'left_wrist' ? 1 : 2)));
    expect(front.instances[0]!.mask[132 * 256 + 139]).toBe(0);
    expect(front.instances).toHaveLength(1); // distractors carry no annotation
    const behind = renderFiguresLayout(layoutOf([{ kind: 'shape', shape: square }, { kind: 'figure', figure: f }]));
    expect(rows(behind.instances[0]!.keypoints).map((r) => r[2])).toEqual(new Array(K).fill(2));
    // the occluded keypoint keeps its position
    expect(rows(front.instances[0]!.keypoints)[idx('left_wrist')]!.slice(0, 2)).toEqual(rows(behind.instances[0]!.keypoints)[idx('left_wrist')]!.slice(0, 2));
  });

  it('a second figure drawn over the first one\'s head makes only that head v = 1', () => {
    const small = figure({ cx: 128, cy: 95, height: 40, color: [200, 60, 60] });
    const scene = renderFiguresLayout(layoutOf([{ kind: 'figure', figure: figure() }, { kind: 'figure', figure: small }]));
    expect(rows(scene.instances[0]!.keypoints).map((r) => r[2])).toEqual(KEYPOINT_NAMES.map((n) => (n === 'head' ? 1 : 2)));
    expect(rows(scene.instances[1]!.keypoints).map((r) => r[2])).toEqual(new Array(K).fill(2));
  });

  it('keypoints outside the image are v = 0 and stored as [0, 0, 0], as in COCO', () => {
    // pelvis at x = 5: the right shoulder (x = −6), hip (−2) and the right limbs fall left of the image
    const kp = rows(renderFiguresLayout(layoutOf([{ kind: 'figure', figure: figure({ cx: 5 }) }])).instances[0]!.keypoints);
    KEYPOINT_NAMES.forEach((name, i) => {
      if (name.startsWith('right_')) expect(kp[i]).toEqual([0, 0, 0]);
      else expect(kp[i]![2]).toBe(2);
    });
  });

  it('in generated images: v = 2 keypoints are on their own mask, v = 1 off it, v = 0 are [0, 0, 0]; removing the later layers makes every labelled keypoint visible', () => {
    let occluded = 0;
    let outside = 0;
    let labelled = 0;
    for (const scene of many) {
      const figureLayers = scene.layout.layers.flatMap((l, k) => (l.kind === 'figure' ? [k] : []));
      scene.instances.forEach((inst, n) => {
        for (const [x, y, v] of rows(inst.keypoints)) {
          if (v === 0) {
            expect([x, y]).toEqual([0, 0]);
            outside++;
            continue;
          }
          labelled++;
          expect(x! >= 0 && x! < 256 && y! >= 0 && y! < 256).toBe(true);
          expect(inst.mask[Math.floor(y!) * 256 + Math.floor(x!)]).toBe(v === 2 ? 1 : 0);
          if (v === 1) occluded++;
        }
        if (scene.seed < 40) {
          const alone = renderFiguresLayout({ ...scene.layout, layers: scene.layout.layers.slice(0, figureLayers[n]! + 1) });
          const last = alone.instances[alone.instances.length - 1]!;
          expect(rows(last.keypoints).map((r) => (r[2]! > 0 ? 2 : 0))).toEqual(rows(inst.keypoints).map((r) => (r[2]! > 0 ? 2 : 0)));
          expect(Array.from(last.keypoints)).toEqual(Array.from(inst.keypoints).map((v, i) => (i % 3 === 2 && v === 1 ? 2 : v)));
        }
      });
    }
    expect(occluded / labelled).toBeGreaterThan(0.02);
    expect(outside / (outside + labelled)).toBeGreaterThan(0.005);
  });
});

describe('generateFigures', () => {
  it('the same seed gives identical bytes, masks and keypoints; different seeds differ', () => {
    for (const seed of [0, 17, 1_000_123]) {
      const a = generateFigures(seed);
      const b = generateFigures(seed);
      expect(Buffer.from(a.image.data).equals(Buffer.from(b.image.data))).toBe(true);
      expect(a.instances.length).toBe(b.instances.length);
      a.instances.forEach((inst, k) => {
        expect(Buffer.from(inst.mask).equals(Buffer.from(b.instances[k]!.mask))).toBe(true);
        expect(Buffer.from(inst.keypoints.buffer).equals(Buffer.from(b.instances[k]!.keypoints.buffer))).toBe(true);
        expect(inst.box).toEqual(b.instances[k]!.box);
      });
    }
    const images = [0, 1, 2, 3, 1_000_000].map((s) => Buffer.from(generateFigures(s).image.data));
    for (let i = 0; i < images.length; i++) for (let j = i + 1; j < images.length; j++) expect(images[i]!.equals(images[j]!)).toBe(false);
  });

  it('generateFigures(seed) equals renderFiguresLayout(sampleFiguresLayout(seed)), also for other sizes and options', () => {
    for (const options of [{}, { width: 160, height: 96, antialias: false, noise: 0, maxDistractors: 0 }]) {
      const a = generateFigures(5, options);
      const b = renderFiguresLayout(sampleFiguresLayout(5, options));
      expect([a.image.width, a.image.height]).toEqual([options.width ?? 256, options.height ?? 256]);
      expect(Buffer.from(a.image.data).equals(Buffer.from(b.image.data))).toBe(true);
      expect(a.instances.map((i) => Array.from(i.keypoints))).toEqual(b.instances.map((i) => Array.from(i.keypoints)));
    }
  });

  it('masks never overlap, label 1, area = mask pixels, box = tight box, visible part ≥ 24 px and ≥ 30 % of the figure', () => {
    for (const scene of many.slice(0, 60)) {
      const cover = new Uint8Array(256 * 256);
      const figures = scene.layout.layers.flatMap((l) => (l.kind === 'figure' ? [l.figure] : []));
      expect(figures).toHaveLength(scene.instances.length);
      scene.instances.forEach((inst, k) => {
        let area = 0;
        inst.mask.forEach((v, p) => {
          if (v) {
            cover[p]!++;
            area++;
          }
        });
        expect(inst.label).toBe(1);
        expect(inst.iscrowd).toBe(0);
        expect(inst.area).toBe(area);
        expect(inst.box).toEqual(tightBox(inst.mask, 256));
        expect(area).toBeGreaterThanOrEqual(24);
        expect(area).toBeGreaterThanOrEqual(0.3 * rasterizeFigure(figures[k]!, 256, 256, true).area);
      });
      expect(Math.max(...cover)).toBeLessThanOrEqual(1);
    }
  });

  it('over 150 seeds: 1–6 figures per image, heights from 24 px to > 180 px with every octave populated, every pose family, half seen from the back, distractors', () => {
    const counts = many.map((s) => s.instances.length);
    expect(Math.max(...counts)).toBeLessThanOrEqual(6);
    expect(counts.filter((c) => c >= 1).length / counts.length).toBeGreaterThan(0.95);
    expect(counts.reduce((a, b) => a + b, 0) / counts.length).toBeGreaterThan(2.5);
    const figures = many.flatMap((s) => s.layout.layers.flatMap((l) => (l.kind === 'figure' ? [l.figure] : [])));
    const heights = figures.map((f) => f.height);
    expect(Math.min(...heights)).toBeLessThan(28);
    expect(Math.max(...heights)).toBeGreaterThan(180);
    for (const [lo, hi] of [[24, 48], [48, 96], [96, 192]]) expect(heights.filter((h) => h >= lo! && h < hi!).length / heights.length).toBeGreaterThan(0.15);
    const families = new Set(figures.map((f) => f.family));
    expect([...families].sort()).toEqual(POSE_FAMILIES.map((k) => k.family).sort());
    const back = figures.filter((f) => f.back).length / figures.length;
    expect(back).toBeGreaterThan(0.4);
    expect(back).toBeLessThan(0.6);
    expect(many.filter((s) => s.layout.layers.some((l) => l.kind === 'shape')).length).toBeGreaterThan(100);
    // every kept figure has labelled keypoints (COCO ignores a person with none)
    for (const s of many) for (const inst of s.instances) expect(rows(inst.keypoints).some((r) => r[2]! > 0)).toBe(true);
  });

  it('every sampled pose lies within FIGURE_JOINT_LIMITS', () => {
    for (let seed = 0; seed < 400; seed++) {
      for (const layer of sampleFiguresLayout(seed, { minVisiblePixels: 1, minVisibleFraction: 0 }).layers) {
        if (layer.kind !== 'figure') continue;
        const p = layer.figure.pose;
        const within = (v: number, [lo, hi]: readonly [number, number]) => v >= lo - 1e-12 && v <= hi + 1e-12;
        expect(within(p.spine, FIGURE_JOINT_LIMITS.spine)).toBe(true);
        expect(within(p.neck, FIGURE_JOINT_LIMITS.neck)).toBe(true);
        for (const j of ['shoulder', 'elbow', 'hip', 'knee'] as const) for (const v of p[j]) expect(within(v, FIGURE_JOINT_LIMITS[j]), `${j} ${v / DEG}°`).toBe(true);
      }
    }
  });

  it('left and right show in the pixels: a visible left wrist, elbow, knee or ankle is brighter than its visible right twin', () => {
    let pairs = 0;
    let brighter = 0;
    for (const scene of many) {
      for (const inst of scene.instances) {
        const j = rows(inst.keypoints);
        for (const [l, r] of KEYPOINT_FLIP.filter(([l]) => /elbow|wrist|knee|ankle/.test(KEYPOINT_NAMES[l]!))) {
          if (j[l]![2] !== 2 || j[r]![2] !== 2) continue;
          pairs++;
          const sum = (x: number, y: number) => pixel(scene, x, y).reduce((a, b) => a + b, 0);
          if (sum(j[l]![0]!, j[l]![1]!) > sum(j[r]![0]!, j[r]![1]!) + 150) brighter++;
        }
      }
    }
    expect(pairs).toBeGreaterThan(500);
    expect(brighter / pairs).toBeGreaterThan(0.9);
  });

  it('bad options throw a SceneError naming the option and the accepted range', () => {
    expect(() => generateFigures(0, { width: 8 })).toThrow(SceneError);
    expect(() => generateFigures(0, { width: 8 })).toThrow(/width must be an integer in 16…4096/);
    expect(() => generateFigures(0, { minSize: 4 })).toThrow(/8 ≤ minSize ≤ maxSize/);
    expect(() => generateFigures(0, { minSize: 50, maxSize: 40 })).toThrow(/minSize ≤ maxSize/);
    expect(() => generateFigures(0, { minInstances: 5, maxInstances: 2 })).toThrow(/maxInstances must be an integer ≥ minInstances/);
    expect(() => generateFigures(0, { maxDistractors: -1 })).toThrow(/maxDistractors/);
    expect(() => generateFigures(0, { backView: 1.5 })).toThrow(/backView must be a fraction in 0…1; found 1.5/);
  });
});

describe('figuresToCoco', () => {
  const seeds = [3, 4, 1_000_000];
  const scenes = seeds.map((s) => generateFigures(s));
  const coco = figuresToCoco(scenes);

  it('images have id = seed and figures_<seed>.png names; one category, person, with the keypoint names and a 1-based skeleton', () => {
    expect(coco.images).toEqual(seeds.map((s) => ({ id: s, width: 256, height: 256, file_name: figuresFileName(s) })));
    expect(figuresFileName(12)).toBe('figures_0000012.png');
    expect(coco.categories).toEqual([{ id: 1, name: 'person', supercategory: 'person', keypoints: [...KEYPOINT_NAMES], skeleton: SKELETON.map(([a, b]) => [a + 1, b + 1]) }]);
    for (const [a, b] of coco.categories[0]!.skeleton!) {
      expect(a).toBeGreaterThanOrEqual(1);
      expect(b).toBeLessThanOrEqual(K);
    }
  });

  it('annotations carry keypoints (flat [x, y, v] × 14), num_keypoints = count of v > 0, RLE decoding to the mask, area and bbox; JSON keeps them exactly', () => {
    const parsed = JSON.parse(JSON.stringify(coco)) as typeof coco;
    let n = 0;
    for (const scene of scenes) {
      for (const inst of scene.instances) {
        const a = parsed.annotations[n++]!;
        expect(a.image_id).toBe(scene.seed);
        expect(a.category_id).toBe(1);
        expect(a.keypoints).toEqual(Array.from(inst.keypoints));
        expect(a.keypoints).toHaveLength(3 * K);
        expect(a.num_keypoints).toBe(rows(inst.keypoints).filter((r) => r[2]! > 0).length);
        expect(Buffer.from(decodeRle(a.segmentation as CocoRle)).equals(Buffer.from(inst.mask))).toBe(true);
        expect(a.area).toBe(inst.area);
        const [x1, y1, x2, y2] = inst.box;
        expect(a.bbox).toEqual([x1, y1, x2 - x1, y2 - y1]);
      }
    }
    expect(n).toBe(parsed.annotations.length);
    expect(parsed.annotations.map((a) => a.id)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
    expect(parsed.annotations.some((a) => a.num_keypoints! < K)).toBe(true);
  });

  it('the ground truth evaluated against itself gives box and mask AP 1', () => {
    const results = coco.annotations.map((a) => ({ image_id: a.image_id, category_id: 1, score: 1, bbox: a.bbox, segmentation: a.segmentation as CocoRle }));
    for (const type of ['bbox', 'segm'] as const) expect(evaluateCoco(coco, results, type).stats.AP).toBeCloseTo(1, 10);
  });
});

describe('npm run scenes --kind figures', () => {
  const dir = mkdtempSync(join(tmpdir(), 'figures-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('--kind figures --seeds 3-4 --out DIR writes the PNGs (pixels = generateFigures) and annotations.json (= figuresToCoco)', async () => {
    expect(await main(['--kind', 'figures', '--seeds', '3-4', '--out', dir, '--quiet'])).toBe(0);
    expect(readdirSync(join(dir, 'images')).sort()).toEqual(['figures_0000003.png', 'figures_0000004.png']);
    for (const s of [3, 4]) {
      const img = decodeImage(readFileSync(join(dir, 'images', figuresFileName(s))));
      expect(Buffer.from(img.data).equals(Buffer.from(generateFigures(s).image.data))).toBe(true);
    }
    const written = JSON.parse(readFileSync(join(dir, 'annotations.json'), 'utf8'));
    expect(written).toEqual(JSON.parse(JSON.stringify(figuresToCoco([3, 4].map((s) => generateFigures(s))))));
  });

  it('figures options (--back-view 0 --max-distractors 0 --width 96 --height 64) are used and recorded', async () => {
    const out = join(dir, 'small');
    expect(await main(['--kind', 'figures', '--seeds', '7', '--out', out, '--back-view', '0', '--max-distractors', '0', '--width', '96', '--height', '64', '--quiet'])).toBe(0);
    const written = JSON.parse(readFileSync(join(out, 'annotations.json'), 'utf8'));
    const options = { backView: 0, maxDistractors: 0, width: 96, height: 64 };
    expect(written.info.options).toEqual(options);
    expect(written.images).toEqual([{ id: 7, width: 96, height: 64, file_name: 'figures_0000007.png' }]);
    const img = decodeImage(readFileSync(join(out, 'images', 'figures_0000007.png')));
    expect(Buffer.from(img.data).equals(Buffer.from(generateFigures(7, options).image.data))).toBe(true);
  });

  it('--kind people, figures-only flags with --kind shapes, and bad figures options are usage errors saying what is expected', async () => {
    await expect(main(['--kind', 'people', '--seeds', '1', '--out', dir])).rejects.toThrow(/--kind people: expected shapes or figures/);
    await expect(main(['--seeds', '1', '--out', dir, '--max-distractors', '2'])).rejects.toThrow(UsageError);
    await expect(main(['--seeds', '1', '--out', dir, '--max-distractors', '2'])).rejects.toThrow(/only for --kind figures/);
    await expect(main(['--kind', 'figures', '--seeds', '1', '--out', dir, '--back-view', '2'])).rejects.toThrow(/backView must be a fraction in 0…1/);
    await expect(main(['--kind', 'figures', '--seeds', '1', '--out', dir, '--min-size', 'tall'])).rejects.toThrow(/--min-size tall: expected a number/);
  });
});

describe('figuresToSample and trainFigures', () => {
  it('figuresToSample is sceneToSample plus the G × 14 × 3 keypoints in instance order', () => {
    const scene = generateFigures(9);
    const sample = figuresToSample(scene);
    const plain = sceneToSample(scene);
    expect(sample.boxes).toEqual(plain.boxes);
    expect(sample.labels).toEqual(plain.labels);
    expect(Buffer.from(sample.masks.data).equals(Buffer.from(plain.masks.data))).toBe(true);
    expect(sample.keypoints).toHaveLength(scene.instances.length * K * 3);
    expect(Array.from(sample.keypoints!)).toEqual(scene.instances.flatMap((i) => Array.from(i.keypoints)));
    expect(plain.keypoints).toBeUndefined();
  });

  it('trainFigures(index) is the figures image of seed first + index mod count', () => {
    const a = trainFigures(7, { first: 100, count: 5 });
    expect(a.seed).toBe(102);
    expect(Buffer.from(a.image.data).equals(Buffer.from(generateFigures(102).image.data))).toBe(true);
    expect(trainFigures(1, { first: 0, count: 10 }, { width: 64, height: 64 }).image.width).toBe(64);
  });
});
