/**
 * Custom tfjs RoI pooling ops with torchvision semantics (NHWC): `roiAlign`, `roiPool`, `roiWarp`
 * and `multiScaleRoiPool` (all pyramid levels in one kernel call). Importing this module registers
 * each op's kernel for `webgpu` (WGSL program), `webgl` (GLSL program) and for `cpu` and `wasm`
 * (CPU twin); it does not import or register any backend itself.
 */
import { registerHostKernels } from './roi_cpu.ts';
import { registerWebGlKernels } from './roi_webgl.ts';
import { registerWebGpuKernels } from './roi_webgpu.ts';

registerHostKernels();
registerWebGpuKernels();
registerWebGlKernels();

export {
  roiAlign, roiPool, roiWarp, multiScaleRoiPool, checkRoiValues, RoiOpError,
  RoiAlignKernel, RoiPoolKernel, RoiWarpKernel, MultiScaleRoiPoolKernel,
} from './roi_ops.ts';
export type {
  RoiAlignOptions, RoiPoolOptions, RoiWarpOptions, MultiScaleRoiPoolOptions, RoiPooler, RoiReduce, RoiKernelAttrs,
} from './roi_ops.ts';
export { poolRoisHost, type HostMap } from './roi_cpu.ts';
export * as roiGeometry from './roi_geometry.ts';
