/**
 * float32 arithmetic as torch 1.13 does it on CPU, so thresholds and ties fall the same way.
 *
 * Glossary
 * - f32(x): round a double to the nearest float32 (`Math.fround`). +, −, ×, ÷ and √ of float32
 *   inputs computed in double and rounded once give the IEEE float32 result exactly.
 * - fmaf(a, b, c): fused multiply-add, a·b + c rounded once (what AVX2 `vfmadd` does).
 * - expf(x): torch's vectorized `exp` for float32 on an AVX2 machine, which is SLEEF's
 *   `expf_u10` (≤ 1 ulp, not correctly rounded: it differs from `f32(Math.exp(x))` for ~10 % of
 *   inputs). Reproduced step by step here, bit for bit.
 * - sigmoidf(x): torch's vectorized sigmoid, 1 / (1 + expf(−x)) with every step in float32.
 * - softmaxRowf: torch's `_vec_softmax_lastdim` (max, expf(x − max), 8-lane sum, × 1/sum).
 *
 * Where torch falls back to scalar code (the last n mod 16 elements of `sigmoid`, glibc `expf`)
 * we use the correctly rounded `f32(Math.exp(x))`, which glibc's expf matches in all but ~0.07 %
 * of inputs. Machines where torch picks another CPU capability (AVX-512, plain C) can round
 * differently by an ulp; our oracle and the reference dumps come from an AVX2 build.
 */

export const f32 = Math.fround;

/** Round half to even (`torch.round`, `np.round`), for any double. */
export function roundHalfEven(x: number): number {
  const r = Math.round(x); // half up
  if (r - x === 0.5 && r % 2 !== 0) return r - 1;
  return r;
}

/** a·b + c for float32 a, b, c, rounded once to float32 (an exact emulation of `vfmadd`). */
export function fmaf(a: number, b: number, c: number): number {
  const p = a * b; // exact: 24 + 24 bits fit in a double's 53
  const s = p + c;
  const r = f32(s);
  // The double rounding of `s` can only mislead `f32` when `s` lands exactly on a float32 midpoint.
  const bb = s - p;
  const err = (p - (s - bb)) + (c - bb); // s + err = p + c exactly (TwoSum)
  if (err === 0 || r === s) return r;
  const other = r + 2 * (s - r);
  if (f32(other) !== other) return r; // s is not a midpoint: f32(s) is the correctly rounded value
  // s is the midpoint between r and other; the exact value lies on the side of err.
  return (s - r > 0) === (err > 0) ? other : r;
}

const R_LN2F = f32(1.442695040888963407359924681001892137426645954152985934135449406931);
const L2UF = f32(0.693145751953125);
const L2LF = f32(1.428606765330187045e-6);
const EXP_C = [
  0.000198527617612853646278381, 0.00139304355252534151077271, 0.00833336077630519866943359,
  0.0416664853692054748535156, 0.166666671633720397949219, 0.5,
].map(f32);

/** Multiply by 2^q in two steps like SLEEF's `vldexp2` (exact for the ranges exp reaches). */
function ldexp2(u: number, q: number): number {
  const h = q >> 1;
  return f32(f32(u * 2 ** h) * 2 ** (q - h));
}

/** torch.exp on float32 (AVX2 build: SLEEF `xexpf`, FMA variant), bit for bit. */
export function expf(d: number): number {
  d = f32(d);
  if (Number.isNaN(d)) return NaN;
  if (d > 100) return Infinity;
  if (d < -104) return 0;
  const q = roundHalfEven(f32(d * R_LN2F)); // cvtps2dq, round to nearest even
  let s = fmaf(q, -L2UF, d);
  s = fmaf(q, -L2LF, s);
  let u = EXP_C[0]!;
  for (let i = 1; i < EXP_C.length; i++) u = fmaf(u, s, EXP_C[i]!);
  u = f32(1 + fmaf(f32(s * s), u, s));
  return ldexp2(u, q);
}

/** glibc's scalar expf, approximated by the correctly rounded value (they agree ~99.93 %). */
export function expfScalar(d: number): number {
  return f32(Math.exp(f32(d)));
}

/**
 * torch.sigmoid over a contiguous float32 array (`cpu_kernel_vec`): blocks of 16 go through the
 * vectorized 1 / (1 + exp(−x)); the last n mod 16 elements take the scalar path.
 */
export function sigmoidf32(x: ArrayLike<number>): Float32Array {
  const n = x.length;
  const out = new Float32Array(n);
  const vecEnd = n - (n % 16);
  for (let i = 0; i < n; i++) out[i] = sigmoidf(x[i]!, i >= vecEnd);
  return out;
}

/**
 * One element of torch.sigmoid on float32: 1 / (1 + expf(−x)) in float32, with the vectorized exp,
 * or glibc's scalar exp for an element in the last n mod 16 of its array (`scalarTail`). The one
 * sigmoid of the engine and the site: the mask probabilities and every figure of them use it.
 */
export function sigmoidf(x: number, scalarTail = false): number {
  const e = scalarTail ? expfScalar(-x) : expf(-x);
  return f32(1 / f32(1 + e));
}

/** Lanes of torch's `Vectorized<float>` on AVX2. */
const LANES = 8;

/**
 * torch's `vec::reduce_all` sum for float32 on AVX2: 8 running lane sums, then the lanes
 * folded left to right (lane 0 + lane 1 + … + lane 7).
 */
function reduceSumf(x: ArrayLike<number>, start: number, size: number): number {
  const acc = new Float64Array(LANES);
  if (size < LANES) {
    let s = x[start]!;
    for (let i = 1; i < size; i++) s = f32(s + x[start + i]!);
    return s;
  }
  for (let l = 0; l < LANES; l++) acc[l] = x[start + l]!;
  let d = LANES;
  for (; d < size - (size % LANES); d += LANES) {
    for (let l = 0; l < LANES; l++) acc[l] = f32(acc[l]! + x[start + d + l]!);
  }
  for (let l = 0; d + l < size; l++) acc[l] = f32(acc[l]! + x[start + d + l]!);
  // Horizontal fold by shuffles: 128-bit halves, then 64-bit pairs, then neighbours.
  const a = (i: number) => acc[i]!;
  const h = [0, 1, 2, 3].map((l) => f32(a(l) + a(l + 4)));
  const q0 = f32(h[0]! + h[2]!);
  const q1 = f32(h[1]! + h[3]!);
  return f32(q0 + q1);
}

/**
 * torch.softmax(x, -1) over rows of length `dim` (N × dim, row-major), float32 on AVX2:
 * m = max(row); e = expf(x − m); p = e · f32(1 / Σe) with Σ in torch's lane order.
 */
export function softmaxRowsf32(x: Float32Array, dim: number): Float32Array {
  if (dim <= 0 || x.length % dim !== 0) {
    throw new Error(`softmaxRowsf32: expected a length that is a multiple of dim = ${dim}, found ${x.length}`);
  }
  const out = new Float32Array(x.length);
  for (let r = 0; r < x.length; r += dim) {
    let m = -Infinity;
    for (let i = 0; i < dim; i++) m = Math.max(m, x[r + i]!);
    for (let i = 0; i < dim; i++) out[r + i] = expf(f32(x[r + i]! - m));
    const inv = f32(1 / reduceSumf(out, r, dim));
    for (let i = 0; i < dim; i++) out[r + i] = f32(out[r + i]! * inv);
  }
  return out;
}
