/**
 * Seeded randomness and elementary functions that give the same bits on every JavaScript engine.
 *
 * Why: ECMAScript fixes +, −, ×, ÷ and `Math.sqrt` (IEEE 754, correctly rounded) but not `Math.sin`,
 * `Math.cos`, `Math.exp` or `Math.log`, whose last bit may differ between engines (V8, SpiderMonkey,
 * JavaScriptCore). The scene generator must give identical bytes in Node and in any browser, so
 * everything it computes goes through the functions below, built from the exact operations only.
 * They are accurate to a few ulps, which is all a scene needs; what matters is that they are the
 * same everywhere.
 *
 * Glossary
 *   Rng        a stream of uniform numbers in [0, 1) from a 32-bit seed (mulberry32 state update,
 *              seed scrambled by splitmix32 first so that seeds 0, 1, 2 … start far apart)
 */

/** splitmix32-style finalizer: scrambles a 32-bit integer. */
export function mix32(x: number): number {
  let z = (x + 0x9e3779b9) >>> 0;
  z = Math.imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
  z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
  return (z ^ (z >>> 16)) >>> 0;
}

/** A seeded uniform random stream. Seeds are integers in [0, 2^53); two 32-bit halves are mixed in. */
export class Rng {
  private state: number;
  constructor(seed: number, stream = 0) {
    if (!Number.isSafeInteger(seed) || seed < 0) throw new RangeError(`expected a seed that is a non-negative integer; found ${seed}`);
    const lo = seed >>> 0;
    const hi = Math.floor(seed / 4294967296) >>> 0;
    this.state = mix32(mix32(lo) ^ mix32(hi + 0x632be5ab) ^ mix32(stream + 0x2545f491));
  }
  /** 32 random bits as an unsigned integer (mulberry32). */
  nextUint32(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }
  /** Uniform in [0, 1). */
  next(): number {
    return this.nextUint32() / 4294967296;
  }
  /** Uniform in [a, b). */
  uniform(a: number, b: number): number {
    return a + (b - a) * this.next();
  }
  /** Uniform integer in [a, b] (both included). */
  int(a: number, b: number): number {
    return a + Math.floor(this.next() * (b - a + 1));
  }
  /** Log-uniform in [a, b): every octave equally likely. */
  logUniform(a: number, b: number): number {
    return a * detExp(this.next() * detLog(b / a));
  }
  /** One element of a non-empty array. */
  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.next() * items.length)]!;
  }
}

const TWO_PI = 6.283185307179586;

/** (−1)^k / (2k + 3)! for k = 11 … 0: sin x = x − x³·P(x²), P by Horner from the highest power. */
const SIN_COEFFS = [
  -6.446950284384474e-26, 3.868170170630684e-23, -1.9572941063391263e-20, 8.22063524662433e-18, -2.8114572543455206e-15,
  7.647163731819816e-13, -1.6059043836821613e-10, 2.505210838544172e-8, -2.7557319223985893e-6, 1.984126984126984e-4,
  -8.333333333333333e-3, 1.6666666666666666e-1,
];

/** sin on [−π, π] by its Taylor polynomial to x^25 (error < 3e-15 on that range). */
function sinReduced(x: number): number {
  const x2 = x * x;
  let p = SIN_COEFFS[0]!;
  for (let i = 1; i < SIN_COEFFS.length; i++) p = p * x2 + SIN_COEFFS[i]!;
  return x - x * x2 * p;
}

/** Reduce x to [−π, π] (plain x − k·2π: precise enough for the angles and phases a scene uses). */
function reduce(x: number): number {
  return x - Math.round(x / TWO_PI) * TWO_PI;
}

/** sin x, identical on every engine. */
export function detSin(x: number): number {
  return sinReduced(reduce(x));
}

/** cos x, identical on every engine. */
export function detCos(x: number): number {
  return sinReduced(reduce(x + 1.5707963267948966));
}

/** e^x, identical on every engine (x in about [−700, 700]). */
export function detExp(x: number): number {
  // e^x = 2^k · e^r with r = x − k·ln2 in [−ln2/2, ln2/2]
  const k = Math.round(x / 0.6931471805599453);
  const r = x - k * 0.6931471803691238 - k * 1.9082149292705877e-10;
  let p = 1;
  for (let n = 20; n >= 1; n--) p = 1 + (r * p) / n; // Taylor series, Horner form
  return p * pow2(k);
}

/** 2^k for an integer k, exactly. */
function pow2(k: number): number {
  let v = 1;
  const step = k > 0 ? 2 : 0.5;
  for (let i = Math.abs(k); i > 0; i--) v *= step;
  return v;
}

/** ln x for x > 0, identical on every engine. */
export function detLog(x: number): number {
  if (!(x > 0)) throw new RangeError(`detLog expects a positive number; found ${x}`);
  // x = m · 2^k with m in [√½, √2)
  let k = 0;
  let m = x;
  while (m >= 1.4142135623730951) {
    m /= 2;
    k++;
  }
  while (m < 0.7071067811865476) {
    m *= 2;
    k--;
  }
  // ln m = 2·atanh(s), s = (m − 1)/(m + 1), |s| < 0.172
  const s = (m - 1) / (m + 1);
  const s2 = s * s;
  let t = 0;
  for (let n = 31; n >= 1; n -= 2) t = 1 / n + s2 * t;
  return 2 * s * t + k * 0.6931471805599453;
}
