/*
 * ecn_torch.h -- the C API of the ECN libtorch shim.
 *
 * Conventions (kept in agreement with src/ffi/symbols.ts by tests/ffi_symbols_test.ts, which parses
 * this file: keep one declaration per line, starting with TS_API):
 *   - ts_tensor is an opaque handle owned by the caller. Every returned handle is fresh and must be
 *     released with ts_free. Tensor arguments are borrowed, never consumed.
 *   - Functions returning ts_tensor return NULL on error; functions returning int32_t return a negative
 *     value on error (and otherwise 0 or the documented value). The message is then in ts_last_error()
 *     (thread-local: read it on the thread that made the call).
 *   - No C++ exception ever crosses this boundary.
 *   - dtype codes are c10::ScalarType values (uint8 0, int8 1, int32 3, int64 4, float16 5, float32 6,
 *     float64 7, bool 11, bfloat16 15); device type 0 is CPU, 1 is CUDA.
 */
#ifndef ECN_TORCH_H
#define ECN_TORCH_H
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define TS_API __attribute__((visibility("default")))
#define TS_ABI_VERSION 5

typedef struct ts_tensor_box* ts_tensor;

/* core: version, errors, lifetimes, threads, random state (native/core.cpp) */
TS_API int32_t ts_abi_version(void);
TS_API const char* ts_version_string(void);
TS_API const char* ts_last_error(void);
TS_API int64_t ts_live_tensors(void);
TS_API void ts_free(ts_tensor t);
TS_API int32_t ts_set_num_threads(int32_t n);
TS_API int32_t ts_get_num_threads(void);
TS_API int32_t ts_manual_seed(int64_t seed);
TS_API ts_tensor ts_rng_get_state(void);
TS_API int32_t ts_rng_set_state(ts_tensor state);

/* the caching CPU allocator (native/alloc.cpp); stats: enabled, cap, in use, held, peak in use,
   peak held (bytes), hits, misses, reused bytes, evicted bytes, blocks in use */
#define TS_CPU_CACHE_STATS 11
TS_API int32_t ts_cpu_cache_configure(int32_t enabled, int64_t cap_bytes);
TS_API int32_t ts_cpu_cache_stats(int64_t* out, int32_t n);
TS_API int32_t ts_cpu_cache_release(void);
TS_API int32_t ts_cpu_cache_reset_peaks(void);

/* creation and data (native/creation.cpp) */
TS_API ts_tensor ts_from_data(const void* data, int64_t nbytes, const int64_t* shape, int32_t ndim, int32_t dtype, int32_t device_type, int32_t device_index);
TS_API ts_tensor ts_full(const int64_t* shape, int32_t ndim, double value, int32_t dtype, int32_t device_type, int32_t device_index);
TS_API ts_tensor ts_arange(double start, double end, double step, int32_t dtype, int32_t device_type, int32_t device_index);
TS_API ts_tensor ts_rand(const int64_t* shape, int32_t ndim, int32_t normal, double a, double b, int32_t dtype, int32_t device_type, int32_t device_index);
TS_API ts_tensor ts_randint(int64_t low, int64_t high, const int64_t* shape, int32_t ndim, int32_t device_type, int32_t device_index);
TS_API ts_tensor ts_randperm(int64_t n, int32_t device_type, int32_t device_index);
TS_API int32_t ts_ndim(ts_tensor t);
TS_API int32_t ts_shape(ts_tensor t, int64_t* out, int32_t capacity);
TS_API int32_t ts_dtype(ts_tensor t);
TS_API int32_t ts_device(ts_tensor t, int32_t* out_type_index);
TS_API int64_t ts_numel(ts_tensor t);
TS_API int32_t ts_copy_to_buffer(ts_tensor t, void* out, int64_t nbytes);
TS_API int32_t ts_item(ts_tensor t, double* out);
TS_API ts_tensor ts_to(ts_tensor t, int32_t dtype, int32_t device_type, int32_t device_index, int32_t copy);
TS_API ts_tensor ts_clone(ts_tensor t);
TS_API ts_tensor ts_detach(ts_tensor t);
TS_API ts_tensor ts_contiguous(ts_tensor t);
/* format: 0 row-major (contiguous), 1 channels-last (4-D: N, H, W, C in memory) */
TS_API ts_tensor ts_contiguous_format(ts_tensor t, int32_t format);
/* 1 if t is dense in that format, 0 if not, -1 on error */
TS_API int32_t ts_is_contiguous_format(ts_tensor t, int32_t format);
/* the in-place modification counter of t's data (libtorch's _version), -1 on error */
TS_API int64_t ts_version(ts_tensor t);
TS_API ts_tensor ts_alias(ts_tensor t);
TS_API int32_t ts_copy_(ts_tensor dst, ts_tensor src);
TS_API int32_t ts_fill_(ts_tensor t, double value);

/* elementwise math, reductions, linear algebra, sorting (native/math.cpp) */
TS_API ts_tensor ts_binary(int32_t op, ts_tensor a, ts_tensor b);
TS_API ts_tensor ts_binary_scalar(int32_t op, ts_tensor a, double s);
TS_API int32_t ts_binary_(int32_t op, ts_tensor a, ts_tensor b);
TS_API int32_t ts_binary_scalar_(int32_t op, ts_tensor a, double s);
TS_API ts_tensor ts_unary(int32_t op, ts_tensor a);
TS_API ts_tensor ts_clamp(ts_tensor a, double lo, double hi, int32_t has_lo, int32_t has_hi);
TS_API ts_tensor ts_where(ts_tensor cond, ts_tensor a, ts_tensor b);
TS_API ts_tensor ts_masked_fill(ts_tensor a, ts_tensor mask, double value);
TS_API ts_tensor ts_reduce(int32_t op, ts_tensor a, const int64_t* dims, int32_t ndims, int32_t keepdim);
TS_API ts_tensor ts_argreduce(int32_t op, ts_tensor a, int64_t dim, int32_t has_dim, int32_t keepdim);
TS_API ts_tensor ts_norm(ts_tensor a, double p, const int64_t* dims, int32_t ndims, int32_t keepdim);
TS_API ts_tensor ts_matmul(ts_tensor a, ts_tensor b);
TS_API ts_tensor ts_mm(ts_tensor a, ts_tensor b);
TS_API ts_tensor ts_addmm(ts_tensor bias, ts_tensor a, ts_tensor b, double beta, double alpha);
TS_API ts_tensor ts_softmax(ts_tensor a, int64_t dim, int32_t log);
TS_API int32_t ts_topk(ts_tensor a, int64_t k, int64_t dim, int32_t largest, int32_t sorted, ts_tensor* out2);
TS_API int32_t ts_sort(ts_tensor a, int64_t dim, int32_t descending, int32_t stable, ts_tensor* out2);
TS_API ts_tensor ts_cumsum(ts_tensor a, int64_t dim);

/* views, joins and indexing (native/indexing.cpp) */
TS_API ts_tensor ts_reshape(ts_tensor a, const int64_t* shape, int32_t ndim);
TS_API ts_tensor ts_view(ts_tensor a, const int64_t* shape, int32_t ndim);
TS_API ts_tensor ts_permute(ts_tensor a, const int64_t* dims, int32_t ndim);
TS_API ts_tensor ts_transpose(ts_tensor a, int64_t d0, int64_t d1);
TS_API ts_tensor ts_expand(ts_tensor a, const int64_t* shape, int32_t ndim);
TS_API ts_tensor ts_repeat(ts_tensor a, const int64_t* repeats, int32_t ndim);
TS_API ts_tensor ts_flip(ts_tensor a, const int64_t* dims, int32_t ndim);
TS_API ts_tensor ts_squeeze(ts_tensor a, int64_t dim, int32_t has_dim);
TS_API ts_tensor ts_unsqueeze(ts_tensor a, int64_t dim);
TS_API ts_tensor ts_flatten(ts_tensor a, int64_t start, int64_t end);
TS_API ts_tensor ts_slice(ts_tensor a, int64_t dim, int64_t start, int64_t end, int64_t step);
TS_API ts_tensor ts_select(ts_tensor a, int64_t dim, int64_t index);
TS_API ts_tensor ts_cat(const ts_tensor* list, int32_t n, int64_t dim);
TS_API ts_tensor ts_stack(const ts_tensor* list, int32_t n, int64_t dim);
TS_API ts_tensor ts_index_select(ts_tensor a, int64_t dim, ts_tensor index);
TS_API ts_tensor ts_index_copy(ts_tensor a, int64_t dim, ts_tensor index, ts_tensor src);
TS_API int32_t ts_index_copy_(ts_tensor a, int64_t dim, ts_tensor index, ts_tensor src);
TS_API ts_tensor ts_gather(ts_tensor a, int64_t dim, ts_tensor index);
TS_API ts_tensor ts_scatter(ts_tensor a, int64_t dim, ts_tensor index, ts_tensor src);
TS_API ts_tensor ts_scatter_value(ts_tensor a, int64_t dim, ts_tensor index, double value);
TS_API ts_tensor ts_masked_select(ts_tensor a, ts_tensor mask);
TS_API ts_tensor ts_one_hot(ts_tensor index, int64_t num_classes);

/* neural-network ops (native/nn.cpp) */
TS_API ts_tensor ts_conv2d(ts_tensor x, ts_tensor w, ts_tensor b, const int64_t* params7);
// relu(conv2d(x, w, b) + residual) for inference passes (native/fused_conv.cpp); residual may be
// NULL; flags: bit 0 ReLU, bit 1 the residual's buffer may receive the result.
TS_API ts_tensor ts_conv2d_fused(ts_tensor x, ts_tensor w, ts_tensor b, const int64_t* params7, ts_tensor r, int32_t flags);
// Turns ts_conv2d_fused's direct oneDNN path on (1) or off (0), or asks (-1); returns 1 when it
// is on (built with ECN_WITH_DNNL and enabled).
TS_API int32_t ts_conv2d_fused_native(int32_t on);
TS_API ts_tensor ts_batch_norm(ts_tensor x, ts_tensor w, ts_tensor b, ts_tensor running_mean, ts_tensor running_var, int32_t training, double momentum, double eps);
TS_API ts_tensor ts_linear(ts_tensor x, ts_tensor w, ts_tensor b);
TS_API ts_tensor ts_max_pool2d(ts_tensor x, const int64_t* params8, int32_t ceil_mode);
TS_API ts_tensor ts_avg_pool2d(ts_tensor x, const int64_t* params6, int32_t ceil_mode, int32_t count_include_pad);
TS_API ts_tensor ts_adaptive_pool2d(ts_tensor x, int64_t out_h, int64_t out_w, int32_t max);
TS_API ts_tensor ts_dropout(ts_tensor x, double p, int32_t training);
TS_API ts_tensor ts_cross_entropy(ts_tensor logits, ts_tensor target, int32_t reduction, int64_t ignore_index, double label_smoothing);
TS_API ts_tensor ts_nll_loss(ts_tensor logp, ts_tensor target, int32_t reduction, int64_t ignore_index);
TS_API ts_tensor ts_normalize(ts_tensor x, double p, int64_t dim, double eps);
TS_API ts_tensor ts_interpolate(ts_tensor x, int64_t out_h, int64_t out_w, int32_t mode, int32_t align_corners);

/* autograd (native/autograd.cpp) */
TS_API int32_t ts_set_requires_grad(ts_tensor t, int32_t flag);
TS_API int32_t ts_requires_grad(ts_tensor t);
TS_API int32_t ts_is_leaf(ts_tensor t);
TS_API int32_t ts_backward(ts_tensor t, ts_tensor grad, int32_t retain_graph);
TS_API int32_t ts_grad(ts_tensor t, ts_tensor* out);
TS_API int32_t ts_set_grad(ts_tensor t, ts_tensor grad);
TS_API int32_t ts_set_grad_enabled(int32_t flag);
TS_API int32_t ts_is_grad_enabled(void);
TS_API ts_tensor ts_exemplar_memory(ts_tensor inputs, ts_tensor indexes, ts_tensor memory, double alpha);

/* fused optimizer steps (native/optim.cpp) */
TS_API int32_t ts_sgd_step(const ts_tensor* params, ts_tensor* momentum_buffers, int32_t n, double lr, double momentum, double dampening, double weight_decay, int32_t nesterov);

/* devices (native/device.cpp) */
TS_API int32_t ts_cuda_is_available(void);
TS_API int32_t ts_cuda_device_count(void);
TS_API int32_t ts_cuda_synchronize(int32_t device_index);
TS_API int64_t ts_cuda_memory(int32_t device_index, int32_t which);
TS_API int32_t ts_cuda_reset_peak(int32_t device_index);

/* collectives across processes on c10d's TCPStore and ProcessGroupGloo (native/dist.cpp). A group is
   an int64 id (> 0); every call blocks until the collective is done or failed (then it fails at once
   on later calls). ts_dist_available returns 0 when this libtorch has no c10d/Gloo. bind: an address
   or hostname to bind Gloo to, "iface:NAME" for an interface, "" for this machine's hostname. */
TS_API int32_t ts_dist_available(void);
TS_API int64_t ts_dist_init(const uint8_t* master_addr, int32_t port, int32_t rank, int32_t world_size, const uint8_t* bind, int64_t timeout_ms);
TS_API int32_t ts_dist_destroy(int64_t group);
TS_API int32_t ts_dist_allreduce(int64_t group, const ts_tensor* tensors, int32_t n, int32_t average, int64_t bucket_bytes);
TS_API int32_t ts_dist_broadcast(int64_t group, const ts_tensor* tensors, int32_t n, int32_t root, int64_t bucket_bytes);
TS_API ts_tensor ts_dist_all_gather(int64_t group, ts_tensor t);
TS_API int32_t ts_dist_barrier(int64_t group, int64_t timeout_ms);

#ifdef __cplusplus
}
#endif
#endif
