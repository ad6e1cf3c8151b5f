// Elementwise math, reductions, linear algebra and sorting.
#include "common.h"

using ts::T;

namespace {

// Op codes shared with src/tensor/tensor.ts (the Bin and Un enums, the codes #reduce passes).
at::Tensor binary(int32_t op, const at::Tensor& a, const at::Tensor& b) {
  switch (op) {
    case 0: return at::add(a, b);
    case 1: return at::sub(a, b);
    case 2: return at::mul(a, b);
    case 3: return at::div(a, b);
    case 4: return at::pow(a, b);
    case 5: return at::maximum(a, b);
    case 6: return at::minimum(a, b);
    case 7: return at::eq(a, b);
    case 8: return at::ne(a, b);
    case 9: return at::lt(a, b);
    case 10: return at::le(a, b);
    case 11: return at::gt(a, b);
    case 12: return at::ge(a, b);
    case 13: return at::logical_and(a, b);
    case 14: return at::logical_or(a, b);
    case 15: return at::sub(b, a);
    case 16: return at::div(b, a);
    default: throw std::invalid_argument("unknown binary op code " + std::to_string(op));
  }
}

at::Tensor binary_scalar(int32_t op, const at::Tensor& a, double s) {
  switch (op) {
    case 0: return at::add(a, s);
    case 1: return at::sub(a, s);
    case 2: return at::mul(a, s);
    case 3: return at::div(a, s);
    case 4: return at::pow(a, s);
    case 5: return at::clamp_min(a, s);
    case 6: return at::clamp_max(a, s);
    case 7: return at::eq(a, s);
    case 8: return at::ne(a, s);
    case 9: return at::lt(a, s);
    case 10: return at::le(a, s);
    case 11: return at::gt(a, s);
    case 12: return at::ge(a, s);
    case 15: return at::rsub(a, s);
    case 16: return at::mul(at::reciprocal(a), s);
    default: throw std::invalid_argument("unknown scalar op code " + std::to_string(op));
  }
}

void binary_inplace(int32_t op, at::Tensor& a, const at::Tensor& b) {
  switch (op) {
    case 0: a.add_(b); return;
    case 1: a.sub_(b); return;
    case 2: a.mul_(b); return;
    case 3: a.div_(b); return;
    default: throw std::invalid_argument("in-place op code " + std::to_string(op) + " not supported (add, sub, mul, div)");
  }
}

void binary_scalar_inplace(int32_t op, at::Tensor& a, double s) {
  switch (op) {
    case 0: a.add_(s); return;
    case 1: a.sub_(s); return;
    case 2: a.mul_(s); return;
    case 3: a.div_(s); return;
    case 5: a.clamp_min_(s); return;
    default: throw std::invalid_argument("in-place op code " + std::to_string(op) + " not supported (add, sub, mul, div, clamp_min)");
  }
}

at::Tensor unary(int32_t op, const at::Tensor& a) {
  switch (op) {
    case 0: return at::neg(a);
    case 1: return at::exp(a);
    case 2: return at::log(a);
    case 3: return at::sqrt(a);
    case 4: return at::rsqrt(a);
    case 5: return at::abs(a);
    case 6: return at::relu(a);
    case 7: return at::sigmoid(a);
    case 8: return at::tanh(a);
    case 9: return at::hardtanh(a, 0.0, 6.0);
    case 10: return at::sign(a);
    case 11: return at::floor(a);
    case 12: return at::ceil(a);
    case 13: return at::round(a);
    case 14: return at::logical_not(a);
    case 15: return at::square(a);
    case 16: return at::reciprocal(a);
    case 17: return at::isnan(a);
    case 18: return at::isinf(a);
    case 19: return at::isfinite(a);
    case 20: return at::sin(a);
    case 21: return at::cos(a);
    default: throw std::invalid_argument("unknown unary op code " + std::to_string(op));
  }
}

}  // namespace

extern "C" {

ts_tensor ts_binary(int32_t op, ts_tensor a, ts_tensor b) {
  TS_TENSOR({ return ts::box(binary(op, T(a, "a"), T(b, "b"))); })
}

ts_tensor ts_binary_scalar(int32_t op, ts_tensor a, double s) {
  TS_TENSOR({ return ts::box(binary_scalar(op, T(a, "a"), s)); })
}

int32_t ts_binary_(int32_t op, ts_tensor a, ts_tensor b) {
  TS_STATUS({
    auto x = T(a, "a");
    binary_inplace(op, x, T(b, "b"));
    return 0;
  })
}

int32_t ts_binary_scalar_(int32_t op, ts_tensor a, double s) {
  TS_STATUS({
    auto x = T(a, "a");
    binary_scalar_inplace(op, x, s);
    return 0;
  })
}

ts_tensor ts_unary(int32_t op, ts_tensor a) {
  TS_TENSOR({ return ts::box(unary(op, T(a))); })
}

ts_tensor ts_clamp(ts_tensor a, double lo, double hi, int32_t has_lo, int32_t has_hi) {
  TS_TENSOR({
    c10::optional<at::Scalar> l = has_lo ? c10::optional<at::Scalar>(lo) : c10::nullopt;
    c10::optional<at::Scalar> h = has_hi ? c10::optional<at::Scalar>(hi) : c10::nullopt;
    return ts::box(at::clamp(T(a), l, h));
  })
}

ts_tensor ts_where(ts_tensor cond, ts_tensor a, ts_tensor b) {
  TS_TENSOR({ return ts::box(at::where(T(cond, "cond"), T(a, "a"), T(b, "b"))); })
}

ts_tensor ts_masked_fill(ts_tensor a, ts_tensor mask, double value) {
  TS_TENSOR({ return ts::box(at::masked_fill(T(a, "a"), T(mask, "mask"), value)); })
}

ts_tensor ts_reduce(int32_t op, ts_tensor a, const int64_t* dims, int32_t ndims, int32_t keepdim) {
  TS_TENSOR({
    const auto& x = T(a);
    auto d = ts::dims(dims, ndims, "dims");
    bool all = d.empty();
    bool k = keepdim != 0;
    switch (op) {
      case 0: return ts::box(all && !k ? at::sum(x) : at::sum(x, d, k));
      case 1: return ts::box(all && !k ? at::mean(x) : at::mean(x, d, k));
      case 2: return ts::box(at::amax(x, d, k));
      case 3: return ts::box(at::amin(x, d, k));
      case 4: {
        if (all) return ts::box(at::logsumexp(x.flatten(), {0}, false));
        return ts::box(at::logsumexp(x, d, k));
      }
      case 5: return ts::box(at::var(x, all ? at::OptionalIntArrayRef() : at::OptionalIntArrayRef(d), /*unbiased=*/false, k));
      case 6: return ts::box(at::var(x, all ? at::OptionalIntArrayRef() : at::OptionalIntArrayRef(d), /*unbiased=*/true, k));
      case 7: return ts::box(at::any(all ? x.flatten() : x, all ? 0 : d[0], k));
      case 8: return ts::box(at::all(all ? x.flatten() : x, all ? 0 : d[0], k));
      default: throw std::invalid_argument("unknown reduce op code " + std::to_string(op));
    }
  })
}

ts_tensor ts_argreduce(int32_t op, ts_tensor a, int64_t dim, int32_t has_dim, int32_t keepdim) {
  TS_TENSOR({
    c10::optional<int64_t> d = has_dim ? c10::optional<int64_t>(dim) : c10::nullopt;
    if (op == 0) return ts::box(at::argmax(T(a), d, keepdim != 0));
    if (op == 1) return ts::box(at::argmin(T(a), d, keepdim != 0));
    throw std::invalid_argument("unknown arg-reduce op code " + std::to_string(op));
  })
}

ts_tensor ts_norm(ts_tensor a, double p, const int64_t* dims, int32_t ndims, int32_t keepdim) {
  TS_TENSOR({
    auto d = ts::dims(dims, ndims, "dims");
    if (d.empty()) return ts::box(at::norm(T(a), p));
    return ts::box(at::norm(T(a), p, d, keepdim != 0));
  })
}

ts_tensor ts_matmul(ts_tensor a, ts_tensor b) {
  TS_TENSOR({ return ts::box(at::matmul(T(a, "a"), T(b, "b"))); })
}

ts_tensor ts_mm(ts_tensor a, ts_tensor b) {
  TS_TENSOR({ return ts::box(at::mm(T(a, "a"), T(b, "b"))); })
}

ts_tensor ts_addmm(ts_tensor bias, ts_tensor a, ts_tensor b, double beta, double alpha) {
  TS_TENSOR({ return ts::box(at::addmm(T(bias, "bias"), T(a, "a"), T(b, "b"), beta, alpha)); })
}

ts_tensor ts_softmax(ts_tensor a, int64_t dim, int32_t log) {
  TS_TENSOR({ return ts::box(log ? at::log_softmax(T(a), dim) : at::softmax(T(a), dim)); })
}

int32_t ts_topk(ts_tensor a, int64_t k, int64_t dim, int32_t largest, int32_t sorted, ts_tensor* out2) {
  TS_STATUS({
    if (out2 == nullptr) throw std::invalid_argument("topk: null output buffer");
    auto r = at::topk(T(a), k, dim, largest != 0, sorted != 0);
    out2[0] = ts::box(std::get<0>(r));
    out2[1] = ts::box(std::get<1>(r));
    return 0;
  })
}

int32_t ts_sort(ts_tensor a, int64_t dim, int32_t descending, int32_t stable, ts_tensor* out2) {
  TS_STATUS({
    if (out2 == nullptr) throw std::invalid_argument("sort: null output buffer");
    auto r = at::sort(T(a), c10::optional<bool>(stable != 0), dim, descending != 0);
    out2[0] = ts::box(std::get<0>(r));
    out2[1] = ts::box(std::get<1>(r));
    return 0;
  })
}

ts_tensor ts_cumsum(ts_tensor a, int64_t dim) {
  TS_TENSOR({ return ts::box(at::cumsum(T(a), dim)); })
}

}  // extern "C"
