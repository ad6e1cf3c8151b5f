/**
 * The tensor library: Tensor, factories, functional nn ops, scopes, errors and runtime settings.
 *
 * This is the curated public surface: native handles never cross it. Tensors come from the
 * factories and ops and are freed by `dispose()`, `using` or `scope`; the handle plumbing
 * (`wrap`, `check`, `handleOf`, `dimsBuffer`, `handleList`, `Ptr`, dtype codes) stays inside
 * `src/` (modules there import it from `./tensor.ts` and `./dtype.ts` directly).
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
export {
  addmm,
  arange,
  cat,
  full,
  liveTensors,
  oneHot,
  ones,
  rand,
  randint,
  randn,
  randperm,
  stack,
  Tensor,
  tensor,
  type TensorOptions,
  where,
  zeros,
} from "./tensor.ts";
export {
  adaptiveAvgPool2d,
  adaptiveMaxPool2d,
  avgPool2d,
  batchNorm,
  conv2d,
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
  getNumThreads,
  isGradEnabled,
  manualSeed,
  noGrad,
  rngState,
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
