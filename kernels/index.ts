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
export {
  instrumentRois, instrumentMultiScale,
  type FeatureMapView, type InstrumentOptions, type MultiScaleInstrumentOptions, type MultiScaleGeometry,
  type RoiGeometry, type SampledRoiGeometry, type PooledRoiGeometry, type SampledBin, type CellBin,
  type SamplePoint, type Tap, type Rect, type QuantizationError,
} from './roi_instrument.ts';
// Importing roi_grad.ts registers the backward kernels and the gradients of the four RoI kernels.
export {
  registerRoiGradients, poolRoisHostGrad, RoiGradProgram,
  RoiAlignGradKernel, RoiPoolGradKernel, RoiWarpGradKernel, MultiScaleRoiPoolGradKernel, type RoiGradAttrs,
} from './roi_grad.ts';
