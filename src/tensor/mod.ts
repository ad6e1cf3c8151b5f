/**
 * The tensor library: Tensor, factories, functional nn ops, scopes, errors and runtime settings.
 *
 * This is the curated public surface: native handles never cross it. Tensors come from the
 * factories and ops and are freed by `dispose()`, `using` or `scope`; the handle plumbing
 * (`wrap`, `check`, `handleOf`, `dimsBuffer`, `handleList`, `Ptr`, in handle.ts; dtype codes)
 * stays inside `src/` (modules there import it from `./tensor.ts` and `./dtype.ts` directly).
 *
 * @module
 */
export {
  type Device,
  type DeviceLike,
  deviceName,
  type DType,
  DTYPE_SIZE,
  dtypeOfArray,
  isFloating,
  toDevice,
  type TypedArray,
} from "./dtype.ts";
export { TorchError } from "./errors.ts";
export { type Disposable, keep, scope, scopeAsync } from "./scope.ts";
export { addmm, cat, type MemoryFormat, oneHot, stack, Tensor, where } from "./tensor.ts";
export {
  arange,
  full,
  ones,
  rand,
  randint,
  randn,
  randperm,
  tensor,
  type TensorOptions,
  zeros,
} from "./creation.ts";
export {
  adaptiveAvgPool2d,
  adaptiveMaxPool2d,
  avgPool2d,
  batchNorm,
  conv2d,
  conv2dFused,
  crossEntropy,
  dropout,
  exemplarMemory,
  interpolate,
  linear,
  maxPool2d,
  nllLoss,
  normalize,
  type Pair,
  type Reduction,
  sgdStep,
  type SgdStepOptions,
} from "./functional.ts";
export {
  cudaAvailable,
  cudaDeviceCount,
  cudaMemory,
  cudaResetPeak,
  cudaSynchronize,
  fusedConvolutionIsNative,
  getNumThreads,
  isGradEnabled,
  liveTensors,
  manualSeed,
  noGrad,
  rngState,
  setFusedConvolution,
  setNumThreads,
  setRngState,
  torchVersion,
} from "./runtime.ts";
export {
  configureCpuCache,
  type CpuCacheStats,
  cpuCacheStats,
  releaseCpuCache,
  resetCpuCachePeaks,
} from "./cpu_cache.ts";
