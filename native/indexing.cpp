// Views, joins and indexing.
#include "common.h"

using ts::T;

namespace {

std::vector<at::Tensor> list_of(const ts_tensor* list, int32_t n) {
  if (n < 1) throw std::invalid_argument("need at least one tensor, got " + std::to_string(n));
  if (list == nullptr) throw std::invalid_argument("null tensor list");
  std::vector<at::Tensor> v;
  v.reserve(static_cast<size_t>(n));
  for (int32_t i = 0; i < n; ++i) {
    std::string name = "tensors[" + std::to_string(i) + "]";
    v.push_back(T(list[i], name.c_str()));
  }
  return v;
}

}  // namespace

extern "C" {

ts_tensor ts_reshape(ts_tensor a, const int64_t* shape, int32_t ndim) {
  TS_TENSOR({ return ts::box(T(a).reshape(ts::dims(shape, ndim))); })
}

ts_tensor ts_view(ts_tensor a, const int64_t* shape, int32_t ndim) {
  TS_TENSOR({ return ts::box(T(a).view(ts::dims(shape, ndim))); })
}

ts_tensor ts_permute(ts_tensor a, const int64_t* dims, int32_t ndim) {
  TS_TENSOR({ return ts::box(T(a).permute(ts::dims(dims, ndim, "dims"))); })
}

ts_tensor ts_transpose(ts_tensor a, int64_t d0, int64_t d1) {
  TS_TENSOR({ return ts::box(T(a).transpose(d0, d1)); })
}

ts_tensor ts_expand(ts_tensor a, const int64_t* shape, int32_t ndim) {
  TS_TENSOR({ return ts::box(T(a).expand(ts::dims(shape, ndim))); })
}

ts_tensor ts_repeat(ts_tensor a, const int64_t* repeats, int32_t ndim) {
  TS_TENSOR({ return ts::box(T(a).repeat(ts::dims(repeats, ndim, "repeats"))); })
}

ts_tensor ts_flip(ts_tensor a, const int64_t* dims, int32_t ndim) {
  TS_TENSOR({ return ts::box(at::flip(T(a), ts::dims(dims, ndim, "dims"))); })
}

ts_tensor ts_squeeze(ts_tensor a, int64_t dim, int32_t has_dim) {
  TS_TENSOR({ return ts::box(has_dim ? T(a).squeeze(dim) : T(a).squeeze()); })
}

ts_tensor ts_unsqueeze(ts_tensor a, int64_t dim) {
  TS_TENSOR({ return ts::box(T(a).unsqueeze(dim)); })
}

ts_tensor ts_flatten(ts_tensor a, int64_t start, int64_t end) {
  TS_TENSOR({ return ts::box(T(a).flatten(start, end)); })
}

ts_tensor ts_slice(ts_tensor a, int64_t dim, int64_t start, int64_t end, int64_t step) {
  TS_TENSOR({
    if (step < 1) throw std::invalid_argument("slice step must be >= 1, got " + std::to_string(step));
    return ts::box(T(a).slice(dim, start, end, step));
  })
}

ts_tensor ts_select(ts_tensor a, int64_t dim, int64_t index) {
  TS_TENSOR({ return ts::box(T(a).select(dim, index)); })
}

ts_tensor ts_cat(const ts_tensor* list, int32_t n, int64_t dim) {
  TS_TENSOR({ return ts::box(at::cat(list_of(list, n), dim)); })
}

ts_tensor ts_stack(const ts_tensor* list, int32_t n, int64_t dim) {
  TS_TENSOR({ return ts::box(at::stack(list_of(list, n), dim)); })
}

ts_tensor ts_index_select(ts_tensor a, int64_t dim, ts_tensor index) {
  TS_TENSOR({ return ts::box(at::index_select(T(a, "a"), dim, T(index, "index"))); })
}

ts_tensor ts_index_copy(ts_tensor a, int64_t dim, ts_tensor index, ts_tensor src) {
  TS_TENSOR({ return ts::box(at::index_copy(T(a, "a"), dim, T(index, "index"), T(src, "src"))); })
}

int32_t ts_index_copy_(ts_tensor a, int64_t dim, ts_tensor index, ts_tensor src) {
  TS_STATUS({
    auto x = T(a, "a");
    x.index_copy_(dim, T(index, "index"), T(src, "src"));
    return 0;
  })
}

ts_tensor ts_gather(ts_tensor a, int64_t dim, ts_tensor index) {
  TS_TENSOR({ return ts::box(at::gather(T(a, "a"), dim, T(index, "index"))); })
}

ts_tensor ts_scatter(ts_tensor a, int64_t dim, ts_tensor index, ts_tensor src) {
  TS_TENSOR({ return ts::box(at::scatter(T(a, "a"), dim, T(index, "index"), T(src, "src"))); })
}

ts_tensor ts_scatter_value(ts_tensor a, int64_t dim, ts_tensor index, double value) {
  TS_TENSOR({ return ts::box(at::scatter(T(a, "a"), dim, T(index, "index"), value)); })
}

ts_tensor ts_masked_select(ts_tensor a, ts_tensor mask) {
  TS_TENSOR({ return ts::box(at::masked_select(T(a, "a"), T(mask, "mask"))); })
}

ts_tensor ts_one_hot(ts_tensor index, int64_t num_classes) {
  TS_TENSOR({ return ts::box(at::one_hot(T(index, "index"), num_classes)); })
}

}  // extern "C"
