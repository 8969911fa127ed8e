/**
 * The shape classes of the synthetic scenes, as signed distance functions (SDFs) in pixels.
 *
 * Glossary
 *   local frame   coordinates (u, v) relative to the shape's centre, rotated by −angle: a pixel centre
 *                 (x + 0.5, y + 0.5) maps to u = dx·cos + dy·sin, v = −dx·sin + dy·cos
 *   R             circumradius: every shape fits in the circle of radius R around its centre
 *   sd            signed distance to the outline: < 0 inside, > 0 outside, in pixels
 *   coverage      anti-aliased alpha of a pixel, clamp(0.5 − sd, 0, 1): the fraction of a pixel covered
 *                 by a straight edge at distance sd from its centre. coverage ≥ 0.5 ⇔ sd ≤ 0, so the
 *                 instance mask (the pixel centres inside the shape) is the ≥ 50 % coverage set
 *   raster        a shape's region (its bounding square clipped to the image) with per-pixel coverage
 *                 and inside flags
 */
import { detCos, detSin } from './random.ts';

/** Class names; index = label (COCO category id), 0 = background. */
export const SCENE_CLASSES = ['background', 'circle', 'square', 'triangle', 'star', 'hexagon', 'ring'] as const;
export type SceneClass = (typeof SCENE_CLASSES)[number];

/** Star inner/outer radius ratio (fixed: it is what makes a star a star). */
export const STAR_INNER_RATIO = 0.45;

export interface ShapeSpec {
  /** index into SCENE_CLASSES (1 … 6) */
  label: number;
  /** centre, image pixels (continuous coordinates: pixel (i, j) covers [j, j+1) × [i, i+1)) */
  cx: number;
  cy: number;
  /** circumradius R, pixels */
  radius: number;
  /** rotation, radians */
  angle: number;
  /** ring only: inner radius / outer radius (0 for the other classes) */
  holeRatio: number;
  /** fill colour, RGB 0–255 */
  color: [number, number, number];
  /** shading: colour change (per channel, all channels alike) across the local frame, per R along u and v */
  shading: [number, number];
}

export interface ShapeRaster {
  x0: number;
  y0: number;
  width: number;
  height: number;
  /** height × width coverage in [0, 1] (1/0 without anti-aliasing) */
  alpha: Float32Array;
  /** height × width: 1 where the pixel centre is inside (sd ≤ 0) */
  inside: Uint8Array;
  /** number of inside pixels */
  area: number;
}

export type Sdf = (u: number, v: number) => number;

/** Signed distance to a closed polygon given as flat [x0, y0, x1, y1, …] (exact, any simple polygon). */
export function polygonSdf(vertices: Float64Array): Sdf {
  const n = vertices.length / 2;
  return (u, v) => {
    let d = Infinity;
    let sign = 1;
    for (let i = 0, j = n - 1; i < n; j = i, i++) {
      const xi = vertices[2 * i]!;
      const yi = vertices[2 * i + 1]!;
      const ex = vertices[2 * j]! - xi;
      const ey = vertices[2 * j + 1]! - yi;
      const wx = u - xi;
      const wy = v - yi;
      let t = (wx * ex + wy * ey) / (ex * ex + ey * ey);
      t = t < 0 ? 0 : t > 1 ? 1 : t;
      const bx = wx - ex * t;
      const by = wy - ey * t;
      const dd = bx * bx + by * by;
      if (dd < d) d = dd;
      // crossing test of the ray towards +u (even–odd rule)
      const c1 = v >= yi;
      const c2 = v < vertices[2 * j + 1]!;
      const c3 = ex * wy > ey * wx;
      if ((c1 && c2 && c3) || (!c1 && !c2 && !c3)) sign = -sign;
    }
    return sign * Math.sqrt(d);
  };
}

/** Vertices of a star or regular polygon with `count` corners, first corner pointing up (−v). */
function regularVertices(count: number, radius: number, innerRadius?: number): Float64Array {
  const points = innerRadius === undefined ? count : 2 * count;
  const out = new Float64Array(2 * points);
  for (let k = 0; k < points; k++) {
    const r = innerRadius !== undefined && k % 2 === 1 ? innerRadius : radius;
    const a = -Math.PI / 2 + (2 * Math.PI * k) / points;
    out[2 * k] = r * detCos(a);
    out[2 * k + 1] = r * detSin(a);
  }
  return out;
}

/** The SDF of a shape in its local frame. */
export function shapeSdf(shape: ShapeSpec): Sdf {
  const R = shape.radius;
  switch (SCENE_CLASSES[shape.label]) {
    case 'circle':
      return (u, v) => Math.sqrt(u * u + v * v) - R;
    case 'square': {
      const a = R * Math.SQRT1_2; // half side
      return (u, v) => {
        const qx = Math.abs(u) - a;
        const qy = Math.abs(v) - a;
        const ox = qx > 0 ? qx : 0;
        const oy = qy > 0 ? qy : 0;
        return Math.sqrt(ox * ox + oy * oy) + Math.min(Math.max(qx, qy), 0);
      };
    }
    case 'triangle':
      return polygonSdf(regularVertices(3, R));
    case 'star':
      return polygonSdf(regularVertices(5, R, R * STAR_INNER_RATIO));
    case 'hexagon':
      return polygonSdf(regularVertices(6, R));
    case 'ring': {
      const inner = R * shape.holeRatio;
      const mid = (R + inner) / 2;
      const half = (R - inner) / 2;
      return (u, v) => Math.abs(Math.sqrt(u * u + v * v) - mid) - half;
    }
    default:
      throw new RangeError(`shape label ${shape.label} is not a scene class; expected 1…${SCENE_CLASSES.length - 1} (${SCENE_CLASSES.slice(1).join(', ')})`);
  }
}

/** Rasterize a shape into its region of a width × height image (coverage + inside flags). */
export function rasterizeShape(shape: ShapeSpec, width: number, height: number, antialias: boolean): ShapeRaster {
  const reach = shape.radius + 1; // the anti-aliased fringe reaches half a pixel beyond the outline
  const x0 = Math.max(0, Math.floor(shape.cx - reach));
  const y0 = Math.max(0, Math.floor(shape.cy - reach));
  const x1 = Math.min(width, Math.ceil(shape.cx + reach));
  const y1 = Math.min(height, Math.ceil(shape.cy + reach));
  const w = Math.max(0, x1 - x0);
  const h = Math.max(0, y1 - y0);
  const alpha = new Float32Array(w * h);
  const inside = new Uint8Array(w * h);
  const sdf = shapeSdf(shape);
  const c = detCos(shape.angle);
  const s = detSin(shape.angle);
  const reach2 = (shape.radius + 0.5) * (shape.radius + 0.5);
  let area = 0;
  for (let y = 0, i = 0; y < h; y++) {
    const dy = y0 + y + 0.5 - shape.cy;
    for (let x = 0; x < w; x++, i++) {
      const dx = x0 + x + 0.5 - shape.cx;
      if (dx * dx + dy * dy > reach2) continue; // beyond the circumcircle's fringe: sd > 0.5, alpha 0
      const sd = sdf(dx * c + dy * s, -dx * s + dy * c);
      if (sd <= 0) {
        inside[i] = 1;
        area++;
      }
      alpha[i] = antialias ? (sd <= -0.5 ? 1 : sd >= 0.5 ? 0 : 0.5 - sd) : sd <= 0 ? 1 : 0;
    }
  }
  return { x0, y0, width: w, height: h, alpha, inside, area };
}
