/**
 * The one table of foreign symbols of the native shim (native/ecn_torch.h).
 *
 * Parameter kinds: "pointer" is a tensor handle (owned by the caller when returned, borrowed when
 * passed); "buffer" is caller memory (shapes as BigInt64Array, handle lists as BigUint64Array of
 * pointer values, out-parameters). tests/ffi_symbols_test.ts checks this table against the header.
 * Tensor-returning calls return null on error, int32 calls a negative value; the message is then in
 * `ts_last_error()`.
 *
 * @module
 */

/** Foreign symbol declarations, in header order. */
export const SYMBOLS = {
  ts_abi_version: { parameters: [], result: "i32" },
  ts_version_string: { parameters: [], result: "pointer" },
  ts_last_error: { parameters: [], result: "pointer" },
  ts_live_tensors: { parameters: [], result: "i64" },
  ts_free: { parameters: ["pointer"], result: "void" },
  ts_set_num_threads: { parameters: ["i32"], result: "i32" },
  ts_get_num_threads: { parameters: [], result: "i32" },
  ts_manual_seed: { parameters: ["i64"], result: "i32" },
  ts_rng_get_state: { parameters: [], result: "pointer" },
  ts_rng_set_state: { parameters: ["pointer"], result: "i32" },
  ts_from_data: {
    parameters: ["buffer", "i64", "buffer", "i32", "i32", "i32", "i32"],
    result: "pointer",
  },
  ts_full: { parameters: ["buffer", "i32", "f64", "i32", "i32", "i32"], result: "pointer" },
  ts_arange: { parameters: ["f64", "f64", "f64", "i32", "i32", "i32"], result: "pointer" },
  ts_rand: {
    parameters: ["buffer", "i32", "i32", "f64", "f64", "i32", "i32", "i32"],
    result: "pointer",
  },
  ts_randint: { parameters: ["i64", "i64", "buffer", "i32", "i32", "i32"], result: "pointer" },
  ts_randperm: { parameters: ["i64", "i32", "i32"], result: "pointer" },
  ts_ndim: { parameters: ["pointer"], result: "i32" },
  ts_shape: { parameters: ["pointer", "buffer", "i32"], result: "i32" },
  ts_dtype: { parameters: ["pointer"], result: "i32" },
  ts_device: { parameters: ["pointer", "buffer"], result: "i32" },
  ts_numel: { parameters: ["pointer"], result: "i64" },
  ts_copy_to_buffer: { parameters: ["pointer", "buffer", "i64"], result: "i32" },
  ts_item: { parameters: ["pointer", "buffer"], result: "i32" },
  ts_to: { parameters: ["pointer", "i32", "i32", "i32", "i32"], result: "pointer" },
  ts_clone: { parameters: ["pointer"], result: "pointer" },
  ts_detach: { parameters: ["pointer"], result: "pointer" },
  ts_contiguous: { parameters: ["pointer"], result: "pointer" },
  ts_alias: { parameters: ["pointer"], result: "pointer" },
  ts_copy_: { parameters: ["pointer", "pointer"], result: "i32" },
  ts_fill_: { parameters: ["pointer", "f64"], result: "i32" },
  ts_binary: { parameters: ["i32", "pointer", "pointer"], result: "pointer" },
  ts_binary_scalar: { parameters: ["i32", "pointer", "f64"], result: "pointer" },
  ts_binary_: { parameters: ["i32", "pointer", "pointer"], result: "i32" },
  ts_binary_scalar_: { parameters: ["i32", "pointer", "f64"], result: "i32" },
  ts_unary: { parameters: ["i32", "pointer"], result: "pointer" },
  ts_clamp: { parameters: ["pointer", "f64", "f64", "i32", "i32"], result: "pointer" },
  ts_where: { parameters: ["pointer", "pointer", "pointer"], result: "pointer" },
  ts_masked_fill: { parameters: ["pointer", "pointer", "f64"], result: "pointer" },
  ts_reduce: { parameters: ["i32", "pointer", "buffer", "i32", "i32"], result: "pointer" },
  ts_argreduce: { parameters: ["i32", "pointer", "i64", "i32", "i32"], result: "pointer" },
  ts_norm: { parameters: ["pointer", "f64", "buffer", "i32", "i32"], result: "pointer" },
  ts_matmul: { parameters: ["pointer", "pointer"], result: "pointer" },
  ts_mm: { parameters: ["pointer", "pointer"], result: "pointer" },
  ts_addmm: { parameters: ["pointer", "pointer", "pointer", "f64", "f64"], result: "pointer" },
  ts_softmax: { parameters: ["pointer", "i64", "i32"], result: "pointer" },
  ts_topk: { parameters: ["pointer", "i64", "i64", "i32", "i32", "buffer"], result: "i32" },
  ts_sort: { parameters: ["pointer", "i64", "i32", "i32", "buffer"], result: "i32" },
  ts_cumsum: { parameters: ["pointer", "i64"], result: "pointer" },
  ts_reshape: { parameters: ["pointer", "buffer", "i32"], result: "pointer" },
  ts_view: { parameters: ["pointer", "buffer", "i32"], result: "pointer" },
  ts_permute: { parameters: ["pointer", "buffer", "i32"], result: "pointer" },
  ts_transpose: { parameters: ["pointer", "i64", "i64"], result: "pointer" },
  ts_expand: { parameters: ["pointer", "buffer", "i32"], result: "pointer" },
  ts_repeat: { parameters: ["pointer", "buffer", "i32"], result: "pointer" },
  ts_flip: { parameters: ["pointer", "buffer", "i32"], result: "pointer" },
  ts_squeeze: { parameters: ["pointer", "i64", "i32"], result: "pointer" },
  ts_unsqueeze: { parameters: ["pointer", "i64"], result: "pointer" },
  ts_flatten: { parameters: ["pointer", "i64", "i64"], result: "pointer" },
  ts_slice: { parameters: ["pointer", "i64", "i64", "i64", "i64"], result: "pointer" },
  ts_select: { parameters: ["pointer", "i64", "i64"], result: "pointer" },
  ts_cat: { parameters: ["buffer", "i32", "i64"], result: "pointer" },
  ts_stack: { parameters: ["buffer", "i32", "i64"], result: "pointer" },
  ts_index_select: { parameters: ["pointer", "i64", "pointer"], result: "pointer" },
  ts_index_copy: { parameters: ["pointer", "i64", "pointer", "pointer"], result: "pointer" },
  ts_index_copy_: { parameters: ["pointer", "i64", "pointer", "pointer"], result: "i32" },
  ts_gather: { parameters: ["pointer", "i64", "pointer"], result: "pointer" },
  ts_scatter: { parameters: ["pointer", "i64", "pointer", "pointer"], result: "pointer" },
  ts_scatter_value: { parameters: ["pointer", "i64", "pointer", "f64"], result: "pointer" },
  ts_masked_select: { parameters: ["pointer", "pointer"], result: "pointer" },
  ts_one_hot: { parameters: ["pointer", "i64"], result: "pointer" },
  ts_conv2d: { parameters: ["pointer", "pointer", "pointer", "buffer"], result: "pointer" },
  ts_batch_norm: {
    parameters: ["pointer", "pointer", "pointer", "pointer", "pointer", "i32", "f64", "f64"],
    result: "pointer",
  },
  ts_linear: { parameters: ["pointer", "pointer", "pointer"], result: "pointer" },
  ts_max_pool2d: { parameters: ["pointer", "buffer", "i32"], result: "pointer" },
  ts_avg_pool2d: { parameters: ["pointer", "buffer", "i32", "i32"], result: "pointer" },
  ts_adaptive_pool2d: { parameters: ["pointer", "i64", "i64", "i32"], result: "pointer" },
  ts_dropout: { parameters: ["pointer", "f64", "i32"], result: "pointer" },
  ts_cross_entropy: { parameters: ["pointer", "pointer", "i32", "i64", "f64"], result: "pointer" },
  ts_nll_loss: { parameters: ["pointer", "pointer", "i32", "i64"], result: "pointer" },
  ts_normalize: { parameters: ["pointer", "f64", "i64", "f64"], result: "pointer" },
  ts_interpolate: { parameters: ["pointer", "i64", "i64", "i32", "i32"], result: "pointer" },
  ts_set_requires_grad: { parameters: ["pointer", "i32"], result: "i32" },
  ts_requires_grad: { parameters: ["pointer"], result: "i32" },
  ts_is_leaf: { parameters: ["pointer"], result: "i32" },
  ts_backward: { parameters: ["pointer", "pointer", "i32"], result: "i32" },
  ts_grad: { parameters: ["pointer", "buffer"], result: "i32" },
  ts_set_grad: { parameters: ["pointer", "pointer"], result: "i32" },
  ts_set_grad_enabled: { parameters: ["i32"], result: "i32" },
  ts_is_grad_enabled: { parameters: [], result: "i32" },
  ts_exemplar_memory: { parameters: ["pointer", "pointer", "pointer", "f64"], result: "pointer" },
  ts_sgd_step: {
    parameters: ["buffer", "buffer", "i32", "f64", "f64", "f64", "f64", "i32"],
    result: "i32",
  },
  ts_cuda_is_available: { parameters: [], result: "i32" },
  ts_cuda_device_count: { parameters: [], result: "i32" },
  ts_cuda_synchronize: { parameters: ["i32"], result: "i32" },
  ts_cuda_memory: { parameters: ["i32", "i32"], result: "i64" },
  ts_cuda_reset_peak: { parameters: ["i32"], result: "i32" },
} as const satisfies Deno.ForeignLibraryInterface;

/** The loaded library's symbol functions. */
export type Native = Deno.DynamicLibrary<typeof SYMBOLS>["symbols"];

/** ABI version this TypeScript code was written for; must equal `ts_abi_version()`. */
export const ABI_VERSION = 1;
