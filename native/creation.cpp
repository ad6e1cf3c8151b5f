// Tensor creation, metadata, and copies between libtorch and caller memory.
#include <cstring>

#include "common.h"

using ts::T;

namespace {

int64_t numel_of(const std::vector<int64_t>& shape) {
  int64_t n = 1;
  for (auto d : shape) {
    if (d < 0) throw std::invalid_argument("negative dimension " + std::to_string(d) + " in shape");
    n *= d;
  }
  return n;
}

at::TensorOptions options(int32_t dtype, int32_t dt, int32_t di) {
  return at::TensorOptions().dtype(ts::dtype_of(dtype)).device(ts::device_of(dt, di));
}

}  // namespace

extern "C" {

ts_tensor ts_from_data(const void* data, int64_t nbytes, const int64_t* shape, int32_t ndim, int32_t dtype,
                       int32_t device_type, int32_t device_index) {
  TS_TENSOR({
    auto s = ts::dims(shape, ndim);
    auto st = ts::dtype_of(dtype);
    int64_t n = numel_of(s);
    int64_t need = n * static_cast<int64_t>(c10::elementSize(st));
    if (nbytes != need)
      throw std::invalid_argument("data has " + std::to_string(nbytes) + " bytes but shape " + c10::str(at::IntArrayRef(s)) +
                                  " of " + c10::toString(st) + " needs " + std::to_string(need));
    if (need > 0 && data == nullptr) throw std::invalid_argument("null data pointer");
    auto t = at::empty(s, at::TensorOptions().dtype(st));
    if (need > 0) std::memcpy(t.data_ptr(), data, static_cast<size_t>(need));
    auto dev = ts::device_of(device_type, device_index);
    if (dev.type() != at::kCPU) t = t.to(dev);
    return ts::box(t);
  })
}

ts_tensor ts_full(const int64_t* shape, int32_t ndim, double value, int32_t dtype, int32_t device_type,
                  int32_t device_index) {
  TS_TENSOR({
    auto s = ts::dims(shape, ndim);
    numel_of(s);
    return ts::box(at::full(s, value, options(dtype, device_type, device_index)));
  })
}

ts_tensor ts_arange(double start, double end, double step, int32_t dtype, int32_t device_type, int32_t device_index) {
  TS_TENSOR({ return ts::box(at::arange(start, end, step, options(dtype, device_type, device_index))); })
}

ts_tensor ts_rand(const int64_t* shape, int32_t ndim, int32_t normal, double a, double b, int32_t dtype,
                  int32_t device_type, int32_t device_index) {
  TS_TENSOR({
    auto s = ts::dims(shape, ndim);
    numel_of(s);
    auto t = at::empty(s, options(dtype, device_type, device_index));
    if (normal) {
      if (!(b >= 0)) throw std::invalid_argument("normal std must be >= 0, got " + std::to_string(b));
      t.normal_(a, b);
    } else {
      if (!(a <= b)) throw std::invalid_argument("uniform range needs low <= high");
      t.uniform_(a, b);
    }
    return ts::box(t);
  })
}

ts_tensor ts_randint(int64_t low, int64_t high, const int64_t* shape, int32_t ndim, int32_t device_type,
                     int32_t device_index) {
  TS_TENSOR({
    auto s = ts::dims(shape, ndim);
    numel_of(s);
    return ts::box(at::randint(low, high, s, options(4, device_type, device_index)));
  })
}

ts_tensor ts_randperm(int64_t n, int32_t device_type, int32_t device_index) {
  TS_TENSOR({ return ts::box(at::randperm(n, options(4, device_type, device_index))); })
}

int32_t ts_ndim(ts_tensor t) {
  TS_STATUS({ return static_cast<int32_t>(T(t).dim()); })
}

int32_t ts_shape(ts_tensor t, int64_t* out, int32_t capacity) {
  TS_STATUS({
    const auto& x = T(t);
    if (x.dim() > capacity) throw std::invalid_argument("shape buffer too small");
    if (out == nullptr && x.dim() > 0) throw std::invalid_argument("shape: null output buffer");
    for (int64_t i = 0; i < x.dim(); ++i) out[i] = x.size(i);
    return static_cast<int32_t>(x.dim());
  })
}

int32_t ts_dtype(ts_tensor t) {
  TS_STATUS({ return static_cast<int32_t>(T(t).scalar_type()); })
}

int32_t ts_device(ts_tensor t, int32_t* out_type_index) {
  TS_STATUS({
    auto d = T(t).device();
    if (out_type_index == nullptr) throw std::invalid_argument("device: null output buffer");
    out_type_index[0] = d.is_cuda() ? 1 : 0;
    out_type_index[1] = d.has_index() ? d.index() : 0;
    return 0;
  })
}

int64_t ts_numel(ts_tensor t) {
  TS_STATUS({ return T(t).numel(); })
}

int32_t ts_copy_to_buffer(ts_tensor t, void* out, int64_t nbytes) {
  TS_STATUS({
    auto x = T(t).detach().to(at::kCPU).contiguous();
    int64_t need = x.numel() * static_cast<int64_t>(x.element_size());
    if (nbytes != need)
      throw std::invalid_argument("buffer has " + std::to_string(nbytes) + " bytes, tensor needs " + std::to_string(need));
    if (need > 0 && out == nullptr) throw std::invalid_argument("copy_to_buffer: null output buffer");
    if (need > 0) std::memcpy(out, x.data_ptr(), static_cast<size_t>(need));
    return 0;
  })
}

int32_t ts_item(ts_tensor t, double* out) {
  TS_STATUS({
    const auto& x = T(t);
    if (x.numel() != 1)
      throw std::invalid_argument("item() needs a tensor with one element, got shape " + c10::str(x.sizes()));
    if (out == nullptr) throw std::invalid_argument("item: null output buffer");
    out[0] = x.item<double>();
    return 0;
  })
}

ts_tensor ts_to(ts_tensor t, int32_t dtype, int32_t device_type, int32_t device_index, int32_t copy) {
  TS_TENSOR({
    const auto& x = T(t);
    auto st = dtype < 0 ? x.scalar_type() : ts::dtype_of(dtype);
    auto dev = device_type < 0 ? x.device() : ts::device_of(device_type, device_index);
    return ts::box(x.to(dev, st, /*non_blocking=*/false, /*copy=*/copy != 0));
  })
}

ts_tensor ts_clone(ts_tensor t) {
  TS_TENSOR({ return ts::box(T(t).clone()); })
}

ts_tensor ts_detach(ts_tensor t) {
  TS_TENSOR({ return ts::box(T(t).detach()); })
}

ts_tensor ts_contiguous(ts_tensor t) {
  TS_TENSOR({ return ts::box(T(t).contiguous()); })
}

namespace {
c10::MemoryFormat memory_format_of(int32_t format) {
  switch (format) {
    case 0: return c10::MemoryFormat::Contiguous;
    case 1: return c10::MemoryFormat::ChannelsLast;
    default:
      throw std::invalid_argument("memory format " + std::to_string(format) +
                                  ": expected 0 (contiguous) or 1 (channels-last)");
  }
}

void check_channels_last_rank(const at::Tensor& x, c10::MemoryFormat f) {
  if (f == c10::MemoryFormat::ChannelsLast && x.dim() != 4) {
    throw std::invalid_argument("channels-last needs a 4-D tensor (N, C, H, W), got " +
                                std::to_string(x.dim()) + "-D");
  }
}
}  // namespace

ts_tensor ts_contiguous_format(ts_tensor t, int32_t format) {
  TS_TENSOR({
    auto f = memory_format_of(format);
    const auto& x = T(t);
    check_channels_last_rank(x, f);
    return ts::box(x.contiguous(f));
  })
}

int32_t ts_is_contiguous_format(ts_tensor t, int32_t format) {
  TS_STATUS({
    auto f = memory_format_of(format);
    const auto& x = T(t);
    check_channels_last_rank(x, f);
    return x.is_contiguous(f) ? 1 : 0;
  })
}

int64_t ts_version(ts_tensor t) {
  TS_STATUS({ return static_cast<int64_t>(T(t)._version()); })
}

ts_tensor ts_alias(ts_tensor t) {
  TS_TENSOR({ return ts::box(T(t)); })
}

int32_t ts_copy_(ts_tensor dst, ts_tensor src) {
  TS_STATUS({
    at::NoGradGuard g;
    auto d = T(dst, "dst");
    d.copy_(T(src, "src"));
    return 0;
  })
}

int32_t ts_fill_(ts_tensor t, double value) {
  TS_STATUS({
    at::NoGradGuard g;
    auto d = T(t);
    d.fill_(value);
    return 0;
  })
}

}  // extern "C"
