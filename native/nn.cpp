// Neural-network ops: convolution, normalization, pooling, dropout, losses, resizing.
#include "common.h"

using ts::T;

namespace {

void check_nchw(const at::Tensor& x, const char* op) {
  if (x.dim() != 4)
    throw std::invalid_argument(std::string(op) + " expects a 4-d input (N, C, H, W), got shape " + c10::str(x.sizes()));
}

int64_t reduction_of(int32_t r) {
  if (r < 0 || r > 2) throw std::invalid_argument("reduction must be 0 (none), 1 (mean) or 2 (sum)");
  // at::Reduction: None 0, Mean 1, Sum 2.
  return r;
}

}  // namespace

extern "C" {

// params7: stride h, stride w, padding h, padding w, dilation h, dilation w, groups.
ts_tensor ts_conv2d(ts_tensor x, ts_tensor w, ts_tensor b, const int64_t* params7) {
  TS_TENSOR({
    const auto& in = T(x, "input");
    check_nchw(in, "conv2d");
    auto p = ts::dims(params7, 7, "conv2d params");
    return ts::box(at::conv2d(in, T(w, "weight"), ts::opt(b, "bias"), {p[0], p[1]}, {p[2], p[3]}, {p[4], p[5]}, p[6]));
  })
}

ts_tensor ts_batch_norm(ts_tensor x, ts_tensor w, ts_tensor b, ts_tensor running_mean, ts_tensor running_var,
                        int32_t training, double momentum, double eps) {
  TS_TENSOR({
    const auto& in = T(x, "input");
    if (in.dim() < 2) throw std::invalid_argument("batch_norm expects (N, C, ...) input, got shape " + c10::str(in.sizes()));
    // Values per channel: N * H * W... (computed without dividing by C, which may be 0).
    int64_t per_channel = in.size(0);
    for (int64_t d = 2; d < in.dim(); ++d) per_channel *= in.size(d);
    if (training && per_channel <= 1)
      throw std::invalid_argument("batch_norm in training mode needs more than one value per channel, got input shape " +
                                  c10::str(in.sizes()));
    return ts::box(at::batch_norm(in, ts::opt(w, "weight"), ts::opt(b, "bias"), ts::opt(running_mean, "running_mean"),
                                  ts::opt(running_var, "running_var"), training != 0, momentum, eps,
                                  /*cudnn_enabled=*/true));
  })
}

ts_tensor ts_linear(ts_tensor x, ts_tensor w, ts_tensor b) {
  TS_TENSOR({ return ts::box(at::linear(T(x, "input"), T(w, "weight"), ts::opt(b, "bias"))); })
}

// params8: kernel h, kernel w, stride h, stride w, padding h, padding w, dilation h, dilation w.
ts_tensor ts_max_pool2d(ts_tensor x, const int64_t* params8, int32_t ceil_mode) {
  TS_TENSOR({
    const auto& in = T(x, "input");
    check_nchw(in, "max_pool2d");
    auto p = ts::dims(params8, 8, "max_pool2d params");
    return ts::box(at::max_pool2d(in, {p[0], p[1]}, {p[2], p[3]}, {p[4], p[5]}, {p[6], p[7]}, ceil_mode != 0));
  })
}

// params6: kernel h, kernel w, stride h, stride w, padding h, padding w.
ts_tensor ts_avg_pool2d(ts_tensor x, const int64_t* params6, int32_t ceil_mode, int32_t count_include_pad) {
  TS_TENSOR({
    const auto& in = T(x, "input");
    check_nchw(in, "avg_pool2d");
    auto p = ts::dims(params6, 6, "avg_pool2d params");
    return ts::box(at::avg_pool2d(in, {p[0], p[1]}, {p[2], p[3]}, {p[4], p[5]}, ceil_mode != 0, count_include_pad != 0));
  })
}

ts_tensor ts_adaptive_pool2d(ts_tensor x, int64_t out_h, int64_t out_w, int32_t max) {
  TS_TENSOR({
    const auto& in = T(x, "input");
    check_nchw(in, "adaptive_pool2d");
    if (max) return ts::box(std::get<0>(at::adaptive_max_pool2d(in, {out_h, out_w})));
    // Global average pooling is a mean over H and W; it is faster than the generic kernel.
    if (out_h == 1 && out_w == 1) return ts::box(in.mean({2, 3}, /*keepdim=*/true));
    return ts::box(at::adaptive_avg_pool2d(in, {out_h, out_w}));
  })
}

ts_tensor ts_dropout(ts_tensor x, double p, int32_t training) {
  TS_TENSOR({
    if (!(p >= 0.0 && p <= 1.0)) throw std::invalid_argument("dropout probability must be in [0, 1], got " + std::to_string(p));
    return ts::box(at::dropout(T(x, "input"), p, training != 0));
  })
}

ts_tensor ts_cross_entropy(ts_tensor logits, ts_tensor target, int32_t reduction, int64_t ignore_index,
                           double label_smoothing) {
  TS_TENSOR({
    return ts::box(at::cross_entropy_loss(T(logits, "logits"), T(target, "target"), c10::nullopt,
                                          reduction_of(reduction), ignore_index, label_smoothing));
  })
}

ts_tensor ts_nll_loss(ts_tensor logp, ts_tensor target, int32_t reduction, int64_t ignore_index) {
  TS_TENSOR({
    return ts::box(at::nll_loss_nd(T(logp, "input"), T(target, "target"), c10::nullopt, reduction_of(reduction), ignore_index));
  })
}

// F.normalize: x / max(||x||_p, eps) along dim.
ts_tensor ts_normalize(ts_tensor x, double p, int64_t dim, double eps) {
  TS_TENSOR({
    const auto& in = T(x, "input");
    auto denom = at::norm(in, p, {dim}, /*keepdim=*/true).clamp_min(eps).expand_as(in);
    return ts::box(in / denom);
  })
}

// mode: 0 nearest, 1 bilinear, 2 bicubic.
ts_tensor ts_interpolate(ts_tensor x, int64_t out_h, int64_t out_w, int32_t mode, int32_t align_corners) {
  TS_TENSOR({
    const auto& in = T(x, "input");
    check_nchw(in, "interpolate");
    std::vector<int64_t> size{out_h, out_w};
    switch (mode) {
      case 0: return ts::box(at::upsample_nearest2d(in, size));
      case 1: return ts::box(at::upsample_bilinear2d(in, size, align_corners != 0));
      case 2: return ts::box(at::upsample_bicubic2d(in, size, align_corners != 0));
      default: throw std::invalid_argument("interpolate mode must be 0 (nearest), 1 (bilinear) or 2 (bicubic)");
    }
  })
}

}  // extern "C"
