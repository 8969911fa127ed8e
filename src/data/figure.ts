/**
 * One stick person for the figures data set (figures.ts): keypoint set and OKS sigmas, body
 * proportions, joint angles, forward kinematics to the K keypoints, the painted parts and their
 * raster, and the sampling of poses. Pure functions on plain data; sin/cos are random.ts's.
 *
 * Glossary
 *   K             the number of keypoints, 14 (KEYPOINT_NAMES)
 *   H             a figure's height (`FigureSpec.height`), pixels. Every length of its body is a
 *                 fraction of H (FigureBody); standing straight, head top to soles is about 0.97·H
 *   figure frame  coordinates (u, w) in units of H around the pelvis (mid-hip), w pointing down the
 *                 legs of a figure standing straight, u towards its left hand as seen from the front.
 *                 Image point (x, y) = (cx, cy) + H·R(angle)·(m·u, w), with m = −1 for a figure seen
 *                 from the back (its left hand then on the image left at angle 0), 1 otherwise, and
 *                 R(a) = [[cos a, −sin a], [sin a, cos a]] (as in shapes.ts: clockwise on screen)
 *   pose          joint angles (FigurePose), each limb's direction relative to its parent, in radians,
 *                 + away from the midline on the limb's own side (an arm out and up, a leg spread);
 *                 the ranges are FIGURE_JOINT_LIMITS; the pose families are POSE_FAMILIES
 *   joints        the K keypoints of a figure in image pixels, before visibility: `figureJoints`
 *                 (continuous coordinates: pixel (i, j) covers [j, j+1) × [i, i+1))
 *   part          one painted piece of a figure (`figureParts`): 4 leg capsules, the torso (the
 *                 pentagon left shoulder, neck, right shoulder, right hip, left hip, rounded by the
 *                 limb radius), the neck capsule (neck → head centre), the head disc, 4 arm capsules,
 *                 in this order, the back side's limbs before the front side's. Limb radius ≥ 1 px
 *                 and head radius ≥ 1.5 px, so the pixel under every keypoint is the figure's own
 *   side cue      left limbs are painted in a lighter shade of the figure's colour, right limbs in a
 *                 darker one (FIGURE_SIDE_SHADE); head, neck and torso in the colour itself. Left and
 *                 right are told apart by the pixels, whichever way a figure turns or faces. Hence a
 *                 horizontally flipped image keeps its labels (the light arm is still the left one; the
 *                 flip only turns a front view into a back view, which the data has too): flip
 *                 augmentation must NOT swap the KEYPOINT_FLIP pairs on these images
 */
import { Rng, detCos, detSin } from './random.ts';
import type { Rgb } from './scenes.ts';
import { type ShapeRaster, polygonSdf } from './shapes.ts';

/** Class names; index = label (COCO category id). Every person has keypoints, as in COCO. */
export const FIGURE_CLASSES = ['background', 'person'] as const;

/**
 * The K = 14 keypoints, CrowdPose's set (head, neck and COCO's 12 body joints) in COCO's order
 * (centre first, then left/right pairs). `head` is the centre of the head disc (CrowdPose marks the
 * head top; the centre is where a disc's drawing defines a point), `neck` is the top of the torso,
 * where the neck capsule leaves it.
 */
export const KEYPOINT_NAMES = [
  'head',
  'neck',
  'left_shoulder',
  'right_shoulder',
  'left_elbow',
  'right_elbow',
  'left_wrist',
  'right_wrist',
  'left_hip',
  'right_hip',
  'left_knee',
  'right_knee',
  'left_ankle',
  'right_ankle',
] as const;
export type KeypointName = (typeof KEYPOINT_NAMES)[number];

const kp = (name: KeypointName) => KEYPOINT_NAMES.indexOf(name);

/**
 * The drawn limbs as 0-based keypoint index pairs (the COCO category's `skeleton` is these + 1):
 * head–neck (neck capsule), the torso's outline (neck–shoulders, shoulders–hips, hip–hip), arms and
 * legs (one capsule each).
 */
export const SKELETON: readonly (readonly [number, number])[] = (
  [
    ['head', 'neck'],
    ['neck', 'left_shoulder'],
    ['neck', 'right_shoulder'],
    ['left_shoulder', 'left_elbow'],
    ['left_elbow', 'left_wrist'],
    ['right_shoulder', 'right_elbow'],
    ['right_elbow', 'right_wrist'],
    ['left_shoulder', 'left_hip'],
    ['right_shoulder', 'right_hip'],
    ['left_hip', 'right_hip'],
    ['left_hip', 'left_knee'],
    ['left_knee', 'left_ankle'],
    ['right_hip', 'right_knee'],
    ['right_knee', 'right_ankle'],
  ] as const
).map(([a, b]) => [kp(a), kp(b)] as const);

/**
 * Per-keypoint OKS sigmas (COCO's keypoint evaluation: OKS = mean over labelled keypoints of
 * exp(−d² / (2·s²·(2σ)²)), s² = the gt area). The body joints take COCO's values (shoulders .079,
 * elbows .072, wrists .062, hips .107, knees .087, ankles .089); head and neck take CrowdPose's,
 * .079 each (the data set with exactly this keypoint set). Not COCO's face values (.025–.035):
 * those measure annotators on sharp small features (eyes, nose), while our head point is the
 * centre of a disc found from its outline, like a joint from its limbs.
 */
export const KEYPOINT_SIGMAS: readonly number[] = [0.079, 0.079, 0.079, 0.079, 0.072, 0.072, 0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089];

/** The left ↔ right keypoint index pairs (for evaluation and drawing; see "side cue" about flips). */
export const KEYPOINT_FLIP: readonly (readonly [number, number])[] = (
  [
    ['left_shoulder', 'right_shoulder'],
    ['left_elbow', 'right_elbow'],
    ['left_wrist', 'right_wrist'],
    ['left_hip', 'right_hip'],
    ['left_knee', 'right_knee'],
    ['left_ankle', 'right_ankle'],
  ] as const
).map(([a, b]) => [kp(a), kp(b)] as const);

/**
 * The side cue: left limbs are the colour mixed this far towards white, right limbs this far
 * towards black (0.45: the two shades differ by 0.45·255 ≈ 115 levels per channel, whatever the colour).
 */
export const FIGURE_SIDE_SHADE = 0.45;

/**
 * Documented splits, as SCENE_SPLITS: train seeds 0 … 999 999 (use a prefix), validation
 * 1 000 000 … 1 000 499 (500 images), test 2 000 000 … 2 000 499.
 */
/** Body proportions, fractions of H. */
export interface FigureBody {
  /** pelvis → neck */
  torso: number;
  /** neck → head centre */
  neck: number;
  headRadius: number;
  /** neck → each shoulder, across the spine */
  shoulderHalfWidth: number;
  /** shoulders below the neck, along the spine */
  shoulderDrop: number;
  /** pelvis → each hip */
  hipHalfWidth: number;
  upperArm: number;
  forearm: number;
  thigh: number;
  shin: number;
  /** limb (and neck) thickness; the torso is rounded by half of it */
  limbWidth: number;
}

/** The proportions FIGURE_BODY scales per figure (lengths ±8 %, widths −15…+20 %, limbs 0.05–0.08, head 0.065–0.085). */
export const FIGURE_BODY: Readonly<FigureBody> = {
  torso: 0.3,
  neck: 0.1,
  headRadius: 0.075,
  shoulderHalfWidth: 0.11,
  shoulderDrop: 0.025,
  hipHalfWidth: 0.07,
  upperArm: 0.17,
  forearm: 0.15,
  thigh: 0.24,
  shin: 0.23,
  limbWidth: 0.06,
};

/** Joint angles, radians; [left, right] pairs, + away from the midline on that side. */
export interface FigurePose {
  /** torso lean from the figure's up, + towards the figure's left */
  spine: number;
  /** head tilt from the spine, + towards the figure's left */
  neck: number;
  /** upper arm from the torso's down direction: 0 hanging, π/2 straight out, π straight up, < 0 across the body */
  shoulder: [number, number];
  /** forearm from the upper arm's direction */
  elbow: [number, number];
  /** thigh from straight down: > 0 spread, < 0 across the midline */
  hip: [number, number];
  /** shin from the thigh's direction */
  knee: [number, number];
}

const DEG = Math.PI / 180;

/**
 * Human-like ranges of the joint angles in the picture plane, radians (degrees: spine ±30, neck ±40,
 * shoulder −50…180, elbow ±150, hip −105…110, knee ±150). Elbows and knees bend one way in 3D, but
 * drawn flat they bend either way on screen, depending on which way the person faces. Every pose
 * sampled lies in these ranges.
 */
export const FIGURE_JOINT_LIMITS = {
  spine: [-30 * DEG, 30 * DEG],
  neck: [-40 * DEG, 40 * DEG],
  shoulder: [-50 * DEG, 180 * DEG],
  elbow: [-150 * DEG, 150 * DEG],
  hip: [-105 * DEG, 110 * DEG],
  knee: [-150 * DEG, 150 * DEG],
} as const;

/** The pose families and how often each is drawn. `lie` is a standing pose turned by about ±90°. */
export const POSE_FAMILIES = [
  { family: 'stand', weight: 0.14 },
  { family: 'walk', weight: 0.14 },
  { family: 'run', weight: 0.1 },
  { family: 'armsUp', weight: 0.1 },
  { family: 'armsOut', weight: 0.08 },
  { family: 'wave', weight: 0.1 },
  { family: 'sit', weight: 0.1 },
  { family: 'crouch', weight: 0.08 },
  { family: 'lie', weight: 0.08 },
  { family: 'free', weight: 0.08 },
] as const;
export type PoseFamily = (typeof POSE_FAMILIES)[number]['family'];

export interface FigureSpec {
  /** the pose family sampled (plain information; the pose itself is `pose`) */
  family: PoseFamily;
  /** pelvis (mid-hip), image pixels */
  cx: number;
  cy: number;
  /** H, pixels */
  height: number;
  /** rotation of the figure frame, radians */
  angle: number;
  /** seen from the back: the figure frame is mirrored (its left hand on the image left at angle 0) */
  back: boolean;
  /** the left limbs are painted over the right ones (else the right over the left) */
  leftInFront: boolean;
  body: FigureBody;
  pose: FigurePose;
  /** RGB 0–255 of head, neck and torso; the limbs take its shades (FIGURE_SIDE_SHADE) */
  color: Rgb;
}

// ---------------------------------------------------------------------------------------------
// Geometry: pose → joints → parts

/** Unit direction at angle a from straight down (0, 1), + turning towards +u: (sin a, cos a). */
const dirX = (a: number) => detSin(a);
const dirY = (a: number) => detCos(a);

/**
 * The K joints in the figure frame, units of H, flat [u0, w0, u1, w1, …] (KEYPOINT_NAMES order).
 * The pelvis is (0, 0); a side σ (+1 left, −1 right) turns its limbs by σ·angle.
 */
export function figureJointsLocal(body: FigureBody, pose: FigurePose): Float64Array {
  const out = new Float64Array(2 * KEYPOINT_NAMES.length);
  const set = (name: KeypointName, u: number, w: number) => {
    out[2 * kp(name)] = u;
    out[2 * kp(name) + 1] = w;
  };
  const a = pose.spine;
  // spine up (sin a, −cos a); across it towards the left (cos a, sin a)
  const [upU, upW] = [detSin(a), -detCos(a)];
  const [lU, lW] = [detCos(a), detSin(a)];
  const neckU = body.torso * upU;
  const neckW = body.torso * upW;
  set('neck', neckU, neckW);
  const h = a + pose.neck;
  set('head', neckU + body.neck * detSin(h), neckW - body.neck * detCos(h));
  const sides = [
    { sigma: 1, i: 0, shoulder: 'left_shoulder', elbow: 'left_elbow', wrist: 'left_wrist', hip: 'left_hip', knee: 'left_knee', ankle: 'left_ankle' },
    { sigma: -1, i: 1, shoulder: 'right_shoulder', elbow: 'right_elbow', wrist: 'right_wrist', hip: 'right_hip', knee: 'right_knee', ankle: 'right_ankle' },
  ] as const;
  for (const s of sides) {
    const { sigma, i } = s;
    const shU = neckU + sigma * body.shoulderHalfWidth * lU - body.shoulderDrop * upU;
    const shW = neckW + sigma * body.shoulderHalfWidth * lW - body.shoulderDrop * upW;
    set(s.shoulder, shU, shW);
    // the torso's down direction is at −a from straight down
    const arm = -a + sigma * pose.shoulder[i];
    const fore = arm + sigma * pose.elbow[i];
    const elU = shU + body.upperArm * dirX(arm);
    const elW = shW + body.upperArm * dirY(arm);
    set(s.elbow, elU, elW);
    set(s.wrist, elU + body.forearm * dirX(fore), elW + body.forearm * dirY(fore));
    const hipU = sigma * body.hipHalfWidth;
    set(s.hip, hipU, 0);
    const thigh = sigma * pose.hip[i];
    const shin = thigh + sigma * pose.knee[i];
    const knU = hipU + body.thigh * dirX(thigh);
    const knW = body.thigh * dirY(thigh);
    set(s.knee, knU, knW);
    set(s.ankle, knU + body.shin * dirX(shin), knW + body.shin * dirY(shin));
  }
  return out;
}

/** The K joints of a figure in image pixels, flat [x0, y0, x1, y1, …] (before visibility). */
export function figureJoints(figure: FigureSpec): Float64Array {
  const local = figureJointsLocal(figure.body, figure.pose);
  const c = detCos(figure.angle);
  const s = detSin(figure.angle);
  const m = figure.back ? -1 : 1;
  const H = figure.height;
  const out = new Float64Array(local.length);
  for (let k = 0; k < local.length; k += 2) {
    const u = m * local[k]! * H;
    const w = local[k + 1]! * H;
    out[k] = figure.cx + u * c - w * s;
    out[k + 1] = figure.cy + u * s + w * c;
  }
  return out;
}

/** Which colour a part takes: the figure's colour, its light (left) or dark (right) shade. */
export type FigureShade = 'color' | 'left' | 'right';

export type FigurePart =
  | { shape: 'capsule'; a: [number, number]; b: [number, number]; radius: number; shade: FigureShade }
  | { shape: 'disc'; center: [number, number]; radius: number; shade: FigureShade }
  | { shape: 'polygon'; points: number[]; radius: number; shade: FigureShade };

/** Limb radius and head radius of a figure, pixels (at least 1 and 1.5). */
export function figureRadii(figure: FigureSpec): { limb: number; head: number } {
  return { limb: Math.max(1, (figure.body.limbWidth * figure.height) / 2), head: Math.max(1.5, figure.body.headRadius * figure.height) };
}

/** The painted parts of a figure in image pixels, in painting order (see "part" in the glossary). */
export function figureParts(figure: FigureSpec): FigurePart[] {
  const j = figureJoints(figure);
  const at = (name: KeypointName): [number, number] => [j[2 * kp(name)]!, j[2 * kp(name) + 1]!];
  const { limb, head } = figureRadii(figure);
  const capsule = (a: KeypointName, b: KeypointName, shade: FigureShade): FigurePart => ({ shape: 'capsule', a: at(a), b: at(b), radius: limb, shade });
  const leg = (side: 'left' | 'right') => [capsule(`${side}_hip`, `${side}_knee`, side), capsule(`${side}_knee`, `${side}_ankle`, side)];
  const arm = (side: 'left' | 'right') => [capsule(`${side}_shoulder`, `${side}_elbow`, side), capsule(`${side}_elbow`, `${side}_wrist`, side)];
  const [back, front] = figure.leftInFront ? (['right', 'left'] as const) : (['left', 'right'] as const);
  const torso = (['left_shoulder', 'neck', 'right_shoulder', 'right_hip', 'left_hip'] as const).flatMap(at);
  return [
    ...leg(back),
    ...leg(front),
    { shape: 'polygon', points: torso, radius: limb, shade: 'color' },
    capsule('neck', 'head', 'color'),
    { shape: 'disc', center: at('head'), radius: head, shade: 'color' },
    ...arm(back),
    ...arm(front),
  ];
}

/** The colour of each shade: [colour, left (lighter), right (darker)]. */
export function figureShades(color: Rgb): Record<FigureShade, Rgb> {
  const t = FIGURE_SIDE_SHADE;
  return {
    color,
    left: color.map((v) => v + t * (255 - v)) as Rgb,
    right: color.map((v) => v * (1 - t)) as Rgb,
  };
}

/** A figure rasterized: coverage and inside flags (as a ShapeRaster) and the shade of each pixel. */
export interface FigureRaster extends ShapeRaster {
  /** height × width: 0 colour, 1 left shade, 2 right shade */
  shade: Uint8Array;
}

const SHADE_INDEX: Record<FigureShade, number> = { color: 0, left: 1, right: 2 };

/** The part's bounding box in pixels, widened by its radius and one pixel of anti-aliasing fringe. */
function partBox(part: FigurePart): [number, number, number, number] {
  const xs = part.shape === 'capsule' ? [part.a[0], part.b[0]] : part.shape === 'disc' ? [part.center[0]] : part.points.filter((_, i) => i % 2 === 0);
  const ys = part.shape === 'capsule' ? [part.a[1], part.b[1]] : part.shape === 'disc' ? [part.center[1]] : part.points.filter((_, i) => i % 2 === 1);
  const r = part.radius + 1;
  return [Math.floor(Math.min(...xs) - r), Math.floor(Math.min(...ys) - r), Math.ceil(Math.max(...xs) + r), Math.ceil(Math.max(...ys) + r)];
}

/**
 * Rasterize a figure into its region of a width × height image: per pixel centre, the signed
 * distance to the union of its parts (min over parts), coverage clamp(0.5 − sd, 0, 1), inside sd ≤ 0,
 * and the shade of the last-painted part containing the centre (or, in the fringe, of the nearest part).
 */
export function rasterizeFigure(figure: FigureSpec, width: number, height: number, antialias: boolean): FigureRaster {
  const parts = figureParts(figure);
  const boxes = parts.map(partBox);
  const x0 = Math.max(0, Math.min(...boxes.map((b) => b[0])));
  const y0 = Math.max(0, Math.min(...boxes.map((b) => b[1])));
  const w = Math.max(0, Math.min(width, Math.max(...boxes.map((b) => b[2]))) - x0);
  const h = Math.max(0, Math.min(height, Math.max(...boxes.map((b) => b[3]))) - y0);
  const sd = new Float64Array(w * h).fill(Infinity);
  const top = new Int8Array(w * h).fill(-1);
  const near = new Int8Array(w * h);
  parts.forEach((part, k) => {
    const [bx0, by0, bx1, by1] = boxes[k]!;
    const xa = Math.max(bx0, x0);
    const xb = Math.min(bx1, x0 + w);
    const ya = Math.max(by0, y0);
    const yb = Math.min(by1, y0 + h);
    const r = part.radius;
    let dist: (px: number, py: number) => number;
    if (part.shape === 'capsule') {
      const [ax, ay] = part.a;
      const ex = part.b[0] - ax;
      const ey = part.b[1] - ay;
      const ee = ex * ex + ey * ey;
      dist = (px, py) => {
        const qx = px - ax;
        const qy = py - ay;
        let t = ee > 0 ? (qx * ex + qy * ey) / ee : 0;
        t = t < 0 ? 0 : t > 1 ? 1 : t;
        const dx = qx - ex * t;
        const dy = qy - ey * t;
        return Math.sqrt(dx * dx + dy * dy) - r;
      };
    } else if (part.shape === 'disc') {
      const [cx, cy] = part.center;
      dist = (px, py) => Math.sqrt((px - cx) * (px - cx) + (py - cy) * (py - cy)) - r;
    } else {
      const poly = polygonSdf(Float64Array.from(part.points));
      dist = (px, py) => poly(px, py) - r;
    }
    for (let y = ya; y < yb; y++) {
      for (let x = xa, i = (y - y0) * w + (xa - x0); x < xb; x++, i++) {
        const d = dist(x + 0.5, y + 0.5);
        if (d < sd[i]!) {
          sd[i] = d;
          near[i] = k;
        }
        if (d <= 0) top[i] = k;
      }
    }
  });
  const alpha = new Float32Array(w * h);
  const inside = new Uint8Array(w * h);
  const shade = new Uint8Array(w * h);
  let area = 0;
  for (let i = 0; i < w * h; i++) {
    const d = sd[i]!;
    if (d >= 0.5 && antialias) continue;
    if (d <= 0) {
      inside[i] = 1;
      area++;
    }
    alpha[i] = antialias ? (d <= -0.5 ? 1 : 0.5 - d) : d <= 0 ? 1 : 0;
    shade[i] = SHADE_INDEX[parts[top[i]! >= 0 ? top[i]! : near[i]!]!.shade];
  }
  return { x0, y0, width: w, height: h, alpha, inside, area, shade };
}

/** Composite a figure's anti-aliased fill (each pixel in its part's shade) over float RGB pixels. */
export function paintFigure(pixels: Float32Array, figure: FigureSpec, raster: FigureRaster, width: number): void {
  const shades = figureShades(figure.color);
  const palette = [shades.color, shades.left, shades.right];
  for (let y = 0, i = 0; y < raster.height; y++) {
    for (let x = 0, p = ((raster.y0 + y) * width + raster.x0) * 3; x < raster.width; x++, i++, p += 3) {
      const alpha = raster.alpha[i]!;
      if (alpha === 0) continue;
      const fill = palette[raster.shade[i]!]!;
      pixels[p] = alpha * fill[0] + (1 - alpha) * pixels[p]!;
      pixels[p + 1] = alpha * fill[1] + (1 - alpha) * pixels[p + 1]!;
      pixels[p + 2] = alpha * fill[2] + (1 - alpha) * pixels[p + 2]!;
    }
  }
}

// ---------------------------------------------------------------------------------------------
// Sampling

const clampTo = (v: number, [lo, hi]: readonly [number, number]) => (v < lo ? lo : v > hi ? hi : v);

/** Both sides' (upper, lower) joint angles from screen directions ψ (from the parent's down, + towards +u). */
function fromDirections(left: [number, number], right: [number, number]): { upper: [number, number]; lower: [number, number] } {
  // side σ: joint = σ·ψ_upper, bend = σ·(ψ_lower − ψ_upper)
  return { upper: [left[0], -right[0]], lower: [left[1] - left[0], -(right[1] - right[0])] };
}

/** A pose of the family, within FIGURE_JOINT_LIMITS, and the figure's rotation (mostly upright, a quarter any way up; `lie` ±90° ± 20°). */
export function sampleFigurePose(rng: Rng, family: PoseFamily): { pose: FigurePose; angle: number } {
  const U = (a: number, b: number) => rng.uniform(a, b) * DEG;
  const pair = (a: number, b: number): [number, number] => [U(a, b), U(a, b)];
  // mostly upright (±20°), sometimes any way up
  const angle = rng.next() < 0.75 ? U(-20, 20) : U(-180, 180);
  const face = rng.next() < 0.5 ? 1 : -1; // side-view families: the direction of travel, ±u
  let pose: FigurePose;
  switch (family) {
    case 'stand':
    case 'lie':
      pose = { spine: U(-6, 6), neck: U(-15, 15), shoulder: pair(5, 35), elbow: pair(-10, 30), hip: pair(0, 12), knee: pair(-8, 8) };
      break;
    case 'armsUp':
      pose = { spine: U(-8, 8), neck: U(-20, 20), shoulder: pair(120, 175), elbow: pair(-30, 30), hip: pair(0, 20), knee: pair(-8, 8) };
      break;
    case 'armsOut':
      pose = { spine: U(-8, 8), neck: U(-20, 20), shoulder: pair(70, 110), elbow: pair(-25, 25), hip: pair(0, 20), knee: pair(-8, 8) };
      break;
    case 'wave': {
      const up: [number, number] = [U(100, 160), U(20, 90)];
      const down: [number, number] = [U(5, 35), U(-10, 30)];
      const leftUp = rng.next() < 0.5;
      pose = {
        spine: U(-8, 8),
        neck: U(-20, 20),
        shoulder: leftUp ? [up[0], down[0]] : [down[0], up[0]],
        elbow: leftUp ? [up[1], down[1]] : [down[1], up[1]],
        hip: pair(0, 12),
        knee: pair(-8, 8),
      };
      break;
    }
    case 'walk':
    case 'run': {
      const run = family === 'run';
      const swing = run ? U(25, 50) : U(12, 30);
      const armSwing = run ? U(20, 50) : U(10, 35);
      // the leg ahead (towards `face`) stays nearly straight; the one behind bends at the knee
      const ahead = face * swing;
      const behind = -face * swing;
      const legs = fromDirections(
        [ahead, ahead - face * U(0, run ? 30 : 10)],
        [behind, behind - face * U(run ? 40 : 5, run ? 100 : 35)],
      );
      const elbows = run ? [U(60, 110), U(60, 110)] : [U(0, 40), U(0, 40)];
      const arms = fromDirections([-face * armSwing, -face * armSwing + face * elbows[0]!], [face * armSwing, face * armSwing + face * elbows[1]!]);
      const swapLegs = rng.next() < 0.5; // which leg is ahead
      pose = {
        spine: face * U(run ? 5 : -3, run ? 18 : 6),
        neck: U(-15, 15),
        shoulder: swapLegs ? [arms.upper[1], arms.upper[0]].map((v) => -v) as [number, number] : arms.upper,
        elbow: swapLegs ? [arms.lower[1], arms.lower[0]].map((v) => -v) as [number, number] : arms.lower,
        hip: swapLegs ? [legs.upper[1], legs.upper[0]].map((v) => -v) as [number, number] : legs.upper,
        knee: swapLegs ? [legs.lower[1], legs.lower[0]].map((v) => -v) as [number, number] : legs.lower,
      };
      break;
    }
    case 'sit': {
      const thigh = face * U(70, 100);
      const legs = fromDirections([thigh + face * U(-8, 8), face * U(-15, 15)], [thigh + face * U(-8, 8), face * U(-15, 15)]);
      const armL = face * U(10, 60);
      const armR = face * U(10, 60);
      const arms = fromDirections([armL, armL + face * U(0, 70)], [armR, armR + face * U(0, 70)]);
      pose = { spine: U(-10, 10), neck: U(-15, 15), shoulder: arms.upper, elbow: arms.lower, hip: legs.upper, knee: legs.lower };
      break;
    }
    case 'crouch': {
      const hip = pair(45, 95);
      pose = {
        spine: U(-10, 10),
        neck: U(-20, 20),
        shoulder: pair(20, 90),
        elbow: pair(-40, 40),
        hip,
        // shins come back under the body: each shin ends up −30…20° out from straight down
        knee: [U(-30, 20) - hip[0], U(-30, 20) - hip[1]],
      };
      break;
    }
    case 'free':
      pose = { spine: U(-25, 25), neck: U(-35, 35), shoulder: pair(-40, 175), elbow: pair(-140, 140), hip: pair(-30, 100), knee: pair(-120, 120) };
      break;
  }
  const L = FIGURE_JOINT_LIMITS;
  const clampPair = (p: [number, number], lim: readonly [number, number]): [number, number] => [clampTo(p[0], lim), clampTo(p[1], lim)];
  pose = {
    spine: clampTo(pose.spine, L.spine),
    neck: clampTo(pose.neck, L.neck),
    shoulder: clampPair(pose.shoulder, L.shoulder),
    elbow: clampPair(pose.elbow, L.elbow),
    hip: clampPair(pose.hip, L.hip),
    knee: clampPair(pose.knee, L.knee),
  };
  return { pose, angle: family === 'lie' ? (rng.next() < 0.5 ? 90 : -90) * DEG + U(-20, 20) : angle };
}

/** Proportions around FIGURE_BODY: lengths ×0.92–1.08 together, widths ×0.85–1.2, limbs 0.05–0.08, head 0.065–0.085. */
export function sampleFigureBody(rng: Rng): FigureBody {
  const b = FIGURE_BODY;
  const len = rng.uniform(0.92, 1.08);
  const wide = rng.uniform(0.85, 1.2);
  return {
    torso: b.torso * len,
    neck: b.neck * rng.uniform(0.92, 1.08),
    headRadius: rng.uniform(0.065, 0.085),
    shoulderHalfWidth: b.shoulderHalfWidth * wide,
    shoulderDrop: b.shoulderDrop,
    hipHalfWidth: b.hipHalfWidth * wide,
    upperArm: b.upperArm * len,
    forearm: b.forearm * len,
    thigh: b.thigh * len,
    shin: b.shin * len,
    limbWidth: rng.uniform(0.05, 0.08),
  };
}

/**
 * A figure colour whose three shades all stand ≥ 80 levels from the background's gradient colours,
 * and ≥ 60 from the colours already placed (or the best of 24 tries).
 */
/** A pose family drawn with the POSE_FAMILIES weights. */
export function samplePoseFamily(rng: Rng): PoseFamily {
  let r = rng.next() * POSE_FAMILIES.reduce((s, k) => s + k.weight, 0);
  for (const k of POSE_FAMILIES) {
    r -= k.weight;
    if (r < 0) return k.family;
  }
  return POSE_FAMILIES[POSE_FAMILIES.length - 1]!.family;
}

/** Number of labelled keypoints (v > 0) of an instance: COCO's `num_keypoints`. */
export function numKeypoints(keypoints: Float32Array): number {
  let n = 0;
  for (let i = 2; i < keypoints.length; i += 3) if (keypoints[i]! > 0) n++;
  return n;
}