/**
 * The GLSL program of the RoI pooling kernels for tfjs-backend-webgl (a GPGPUProgram: `userCode`
 * runs once per output element (k, ph, pw, c) of [K, PH, PW, C]): one draw for all RoIs and, for
 * the multi-scale op, all pyramid levels (each level map is its own program input; a RoI's level
 * selects which one it reads). It repeats the WGSL program (roi_webgpu.ts) and roi_geometry.ts
 * line for line: torchvision semantics, float32.
 *
 * Exactness. GLSL ES 3.0 highp float is IEEE binary32 on current GPUs and on SwiftShader, but `a / b`
 * need not be correctly rounded, so bin sizes and adaptive grid sizes use `roiDivRn`, the WGSL
 * program's correctly rounded division (long division of the mantissas with uint ops; GLSL ES 3.0
 * has floatBitsToUint). A shader compiler may fuse `a * b + c` into one fma; the decisions that must
 * be exact are written so that no product feeds an add or subtract directly: RoIPool's rounding of
 * roi coordinates works on |x·scale| (the absolute value stops the fusion), and bin edges are
 * floor/ceil of a bare product. The RoIAlign sample coordinates (start + p·bin + …) may be fused;
 * that moves a coordinate by at most an ulp (≈ 1e-7 relative in the output), as on CUDA.
 *
 * Inputs: `F0 … F{L-1}` (maps, NHWC float32), then `Rois` [K, 5] (single-map ops) or `Boxes` [K, 4]
 * + `Levels` [K] int32 (multi-scale). Custom uniforms: samplingRatio, aligned, scale0 … scale{L-1}.
 * Map shapes and the output size are compiled in (tfjs keys WebGL programs by input shapes anyway).
 * Needs WebGL 2 (GLSL ES 3.0: uint, bit casts, loops with run-time bounds).
 *
 * This file imports nothing from @tensorflow/tfjs-backend-webgl at run time (types only), so
 * importing the kernels in Node, where there is no WebGL, registers no backend and fails nothing.
 */
import { env, getKernel, registerKernel, type KernelFunc, type TensorInfo } from '@tensorflow/tfjs-core';
import type { GPGPUProgram, MathBackendWebGL } from '@tensorflow/tfjs-backend-webgl';
import {
  MultiScaleRoiPoolKernel, RoiAlignKernel, RoiPoolKernel, RoiWarpKernel, RoiOpError, checkRoiValues,
  type RoiKernelAttrs, type RoiPooler, type RoiReduce,
} from './roi_ops.ts';

/** One feature map's shape: [N, H, W, C]. */
type MapShape = readonly [number, number, number, number];

type UniformType = 'float' | 'int';

export class RoiPoolWebGLProgram implements GPGPUProgram {
  variableNames: string[];
  outputShape: number[];
  userCode: string;
  customUniforms: { name: string; type: UniformType }[];

  constructor(
    readonly pooler: RoiPooler,
    readonly mode: RoiReduce,
    mapShapes: readonly MapShape[],
    /** Boxes [K, 4] + Levels [K] instead of Rois [K, 5] */
    readonly multi: boolean,
    outputShape: [number, number, number, number],
  ) {
    this.outputShape = outputShape;
    const maps = mapShapes.map((_, l) => `F${l}`);
    this.variableNames = multi ? [...maps, 'Boxes', 'Levels'] : [...maps, 'Rois'];
    this.customUniforms = [
      { name: 'samplingRatio', type: 'int' },
      { name: 'aligned', type: 'int' },
      ...maps.map((_, l) => ({ name: `scale${l}`, type: 'float' as const })),
    ];
    const [, ph, pw] = outputShape;
    const perLevel = mapShapes
      .map((shape, l) => (pooler === 'roiPool' ? roiPoolLevel(l, shape, ph, pw) : sampleLevel(l, shape, ph, pw, pooler, mode)))
      .join('\n');
    const readRoi = multi
      ? `vec4 roi = vec4(getBoxes(k, 0), getBoxes(k, 1), getBoxes(k, 2), getBoxes(k, 3));
        int b = 0;
        int level = int(floor(getLevels(k) + 0.5));`
      : `vec4 roi = vec4(getRois(k, 1), getRois(k, 2), getRois(k, 3), getRois(k, 4));
        int b = int(getRois(k, 0));
        int level = 0;`;
    const dispatchLevels = mapShapes
      .map((_, l) => `if (level == ${l}) { value = roiPoolLevel${l}(roi, b, ph, pw, c); }`)
      .join(' else ');
    this.userCode = `
      ${COMMON_GLSL}
      ${perLevel}
      void main() {
        ivec4 coords = getOutputCoords();
        int k = coords[0];
        int ph = coords[1];
        int pw = coords[2];
        int c = coords[3];
        ${readRoi}
        float value = 0.0;
        ${dispatchLevels}
        setOutput(value);
      }
    `;
  }
}

/** Helpers shared by every level: rounding, correctly rounded division. */
export const COMMON_GLSL = `
  // C round(): half away from zero (GLSL round() may round half either way). Works on |v| so that
  // no compiler can fuse the product that made v into the subtraction (see the file comment).
  float roiRoundHalfAway(float v) {
    float a = abs(v);
    float t = floor(a);
    if (a - t >= 0.5) { t = t + 1.0; }
    return v < 0.0 ? -t : t;
  }

  // Correctly rounded (to nearest, ties to even) a / b for normal a, b and a normal quotient, by
  // long division of the 24-bit mantissas; zeros, subnormals and overflow fall back to a / b.
  float roiDivRn(float a, float b) {
    float q0 = a / b;
    uint ua = floatBitsToUint(a);
    uint ub = floatBitsToUint(b);
    int ea = int((ua >> 23u) & 0xffu);
    int eb = int((ub >> 23u) & 0xffu);
    if (ea == 0 || ea == 255 || eb == 0 || eb == 255) { return q0; }
    uint ma = (ua & 0x7fffffu) | 0x800000u;
    uint mb = (ub & 0x7fffffu) | 0x800000u;
    int e = ea - eb;
    uint r = ma;
    if (ma < mb) { r = r << 1u; e = e - 1; }
    uint q = 0u;
    for (int i = 0; i < 25; i++) {
      q = q << 1u;
      if (r >= mb) { r = r - mb; q = q | 1u; }
      r = r << 1u;
    }
    uint m = q >> 1u;
    if ((q & 1u) == 1u && (r != 0u || (m & 1u) == 1u)) {
      m = m + 1u;
      if (m == 0x1000000u) { m = m >> 1u; e = e + 1; }
    }
    int be = e + 127;
    if (be <= 0 || be >= 255) { return q0; }
    uint sgn = (ua ^ ub) & 0x80000000u;
    return uintBitsToFloat(sgn | (uint(be) << 23u) | (m & 0x7fffffu));
  }
`;

/** -FLT_MAX, torchvision's start value of a max. */
const NEG_FLT_MAX = 'uintBitsToFloat(0xff7fffffu)';

/** RoIAlign / RoIWarp on level l: frame, sampling points, bilinear taps, average or max. */
function sampleLevel(l: number, [n, h, w]: MapShape, ph: number, pw: number, pooler: RoiPooler, mode: RoiReduce): string {
  const frame = pooler === 'roiAlign'
    ? `float o = aligned != 0 ? 0.5 : 0.0;
      float startX = roi.x * scale - o;
      float startY = roi.y * scale - o;
      float endX = roi.z * scale - o;
      float endY = roi.w * scale - o;
      float roiW = endX - startX;
      float roiH = endY - startY;
      if (aligned == 0) {
        roiW = max(roiW, 1.0);
        roiH = max(roiH, 1.0);
      }`
    : `float startX = roiRoundHalfAway(roi.x * scale);
      float startY = roiRoundHalfAway(roi.y * scale);
      float endX = roiRoundHalfAway(roi.z * scale);
      float endY = roiRoundHalfAway(roi.w * scale);
      float roiW = max(endX - startX, 1.0);
      float roiH = max(endY - startY, 1.0);`;
  const reduce = mode === 'avg'
    ? { init: 'float acc = 0.0;', add: 'acc = acc + v;', done: 'return acc / float(max(gridH * gridW, 1));' }
    : { init: `float acc = ${NEG_FLT_MAX};`, add: 'acc = max(acc, v);', done: 'return acc;' };
  return `
    float roiBilinear${l}(int b, int c, float yIn, float xIn) {
      const int H = ${h};
      const int W = ${w};
      if (!(yIn >= -1.0 && yIn <= float(H) && xIn >= -1.0 && xIn <= float(W))) { return 0.0; }
      float y = max(yIn, 0.0);
      float x = max(xIn, 0.0);
      int yLow = int(y);
      int xLow = int(x);
      int yHigh = yLow + 1;
      int xHigh = xLow + 1;
      if (yLow >= H - 1) { yLow = H - 1; yHigh = H - 1; y = float(yLow); }
      if (xLow >= W - 1) { xLow = W - 1; xHigh = W - 1; x = float(xLow); }
      float ly = y - float(yLow);
      float lx = x - float(xLow);
      float hy = 1.0 - ly;
      float hx = 1.0 - lx;
      float w1 = hy * hx;
      float w2 = hy * lx;
      float w3 = ly * hx;
      float w4 = ly * lx;
      return w1 * getF${l}(b, yLow, xLow, c) + w2 * getF${l}(b, yLow, xHigh, c)
           + w3 * getF${l}(b, yHigh, xLow, c) + w4 * getF${l}(b, yHigh, xHigh, c);
    }

    float roiPoolLevel${l}(vec4 roi, int b, int ph, int pw, int c) {
      if (b < 0 || b >= ${n}) { return 0.0; }
      float scale = scale${l};
      ${frame}
      float binH = roiDivRn(roiH, ${ph}.0);
      float binW = roiDivRn(roiW, ${pw}.0);
      int gridH = samplingRatio;
      int gridW = samplingRatio;
      if (samplingRatio <= 0) {
        gridH = int(ceil(binH));
        gridW = int(ceil(binW));
      }
      if (gridH <= 0 || gridW <= 0) { return 0.0; }
      float y0 = startY + float(ph) * binH;
      float x0 = startX + float(pw) * binW;
      ${reduce.init}
      for (int iy = 0; iy < gridH; iy++) {
        float y = y0 + roiDivRn((float(iy) + 0.5) * binH, float(gridH));
        for (int ix = 0; ix < gridW; ix++) {
          float x = x0 + roiDivRn((float(ix) + 0.5) * binW, float(gridW));
          float v = roiBilinear${l}(b, c, y, x);
          ${reduce.add}
        }
      }
      ${reduce.done}
    }
  `;
}

/** RoIPool on level l: quantized bins, max over cells, 0 for an empty bin. */
function roiPoolLevel(l: number, [n, h, w]: MapShape, ph: number, pw: number): string {
  return `
    float roiPoolLevel${l}(vec4 roi, int b, int ph, int pw, int c) {
      const int H = ${h};
      const int W = ${w};
      if (b < 0 || b >= ${n}) { return 0.0; }
      float scale = scale${l};
      int startX = int(roiRoundHalfAway(roi.x * scale));
      int startY = int(roiRoundHalfAway(roi.y * scale));
      int endX = int(roiRoundHalfAway(roi.z * scale));
      int endY = int(roiRoundHalfAway(roi.w * scale));
      int roiW = max(endX - startX + 1, 1);
      int roiH = max(endY - startY + 1, 1);
      float binH = roiDivRn(float(roiH), ${ph}.0);
      float binW = roiDivRn(float(roiW), ${pw}.0);
      int hStart = clamp(int(floor(float(ph) * binH)) + startY, 0, H);
      int hEnd = clamp(int(ceil(float(ph + 1) * binH)) + startY, 0, H);
      int wStart = clamp(int(floor(float(pw) * binW)) + startX, 0, W);
      int wEnd = clamp(int(ceil(float(pw + 1) * binW)) + startX, 0, W);
      if (hEnd <= hStart || wEnd <= wStart) { return 0.0; }
      float acc = ${NEG_FLT_MAX};
      for (int y = hStart; y < hEnd; y++) {
        for (int x = wStart; x < wEnd; x++) {
          float v = getF${l}(b, y, x, c);
          if (v > acc) { acc = v; }
        }
      }
      return acc;
    }
  `;
}

/** Host-side values of a tensor on the webgl backend, if it has not been uploaded yet (else null). */
function hostValues(backend: MathBackendWebGL, info: TensorInfo): ArrayLike<number> | null {
  const values = backend.texData.get(info.dataId)?.values as unknown;
  return values instanceof Float32Array || values instanceof Int32Array ? values : null;
}

function webglKernel(kernelName: string): KernelFunc {
  return ({ inputs, backend, attrs }) => {
    const gl = backend as MathBackendWebGL;
    const a = attrs as unknown as RoiKernelAttrs;
    const multi = kernelName === MultiScaleRoiPoolKernel;
    const need = (name: string): TensorInfo => {
      const t = inputs[name];
      if (t === undefined) throw new RoiOpError(`${kernelName}: input '${name}' is missing`);
      return t;
    };
    const version = env().getNumber('WEBGL_VERSION');
    if (version !== 2) {
      throw new RoiOpError(
        `${kernelName}: the webgl kernel needs WebGL 2 (GLSL ES 3.0 integer and bit-cast ops); this context is WebGL ${version}. ` +
          `Use the webgpu, wasm or cpu backend`,
      );
    }
    const maps = multi ? a.scales.map((_, i) => need(`level${i}`)) : [need('x')];
    const extra = multi ? [need('boxes'), need('levels')] : [need('rois')];
    const limit = env().getNumber('WEBGL_MAX_TEXTURES_IN_SHADER');
    if (maps.length + extra.length > limit) {
      throw new RoiOpError(
        `${kernelName}: ${maps.length} feature maps need ${maps.length + extra.length} textures in one WebGL program; ` +
          `this device allows ${limit}; pool from at most ${limit - extra.length} levels per call`,
      );
    }
    // Check RoI values when they are still on the host (see roi_ops.ts).
    const rois = hostValues(gl, extra[0]!);
    const levels = multi ? hostValues(gl, extra[1]!) : null;
    if (rois !== null && (!multi || levels !== null)) {
      checkRoiValues(kernelName, rois, multi ? 4 : 5, maps[0]!.shape[0]!, levels === null ? undefined : { values: levels, count: maps.length });
    }
    const mapShapes = maps.map((m) => m.shape as unknown as MapShape);
    const outShape: [number, number, number, number] = [extra[0]!.shape[0]!, a.outputSize[0], a.outputSize[1], maps[0]!.shape[3]!];
    const program = new RoiPoolWebGLProgram(a.pooler, a.mode, mapShapes, multi, outShape);
    const uniforms = [[a.samplingRatio], [a.aligned ? 1 : 0], ...a.scales.map((s) => [s])];
    return gl.runWebGLProgram(program, [...maps, ...extra], 'float32', uniforms);
  };
}

/** Register the GLSL kernels for `webgl` (idempotent; harmless when that backend is never used). */
export function registerWebGlKernels(): void {
  for (const kernelName of [RoiAlignKernel, RoiPoolKernel, RoiWarpKernel, MultiScaleRoiPoolKernel]) {
    if (getKernel(kernelName, 'webgl') === undefined) {
      registerKernel({ kernelName, backendName: 'webgl', kernelFunc: webglKernel(kernelName) });
    }
  }
}
