/**
 * The memory layout of inference passes. In evaluation mode the CPU backbones run their float32
 * convolutions in channels-last layout: libtorch's oneDNN convolutions then read and write the
 * activations as they are, instead of reordering every input and output between row-major and
 * their blocked layout, which makes a ResNet-50 feature pass about 1.5x faster on the CPU.
 * Training keeps the row-major layout (its backward pass gains nothing here), as do float64
 * (no oneDNN kernels) and CUDA. Values agree with the row-major pass to float32 rounding
 * (tests/layout_test.ts compares both with a float64 pass).
 *
 * @module
 */
import type { Tensor } from "../tensor/mod.ts";

/** Whether an inference pass over `x` should run channels-last (see the module doc). */
export function wantsChannelsLast(training: boolean, enabled: boolean, x: Tensor): boolean {
  return !training && enabled && x.ndim === 4 && x.dtype === "float32" &&
    x.device.type === "cpu";
}

/**
 * `x` in the layout of the pass: a channels-last copy (owned by the caller) when
 * {@link wantsChannelsLast} says so, else `x` itself.
 */
export function inferenceInput(training: boolean, enabled: boolean, x: Tensor): Tensor {
  return wantsChannelsLast(training, enabled, x) ? x.contiguous("channels_last") : x;
}
