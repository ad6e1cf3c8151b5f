// The fused convolution of inference passes: relu(conv(x, w) + b + residual), one kernel.
//
// libtorch 1.13's channels-last convolution (oneDNN through ideep) reorders the plain kernel into
// oneDNN's blocked layout on every call, and the residual sum and the ReLU after it are two more
// passes over the activation. When the shim is built against the same shared oneDNN that
// libtorch uses (Debian's libtorch-dev with libdnnl-dev: ECN_WITH_DNNL), this file calls oneDNN
// directly: the kernel is reordered once and kept while its tensor lives unchanged (keyed on the
// tensor and its version counter), and the sum and ReLU run as post-ops of the convolution,
// the sum accumulating into the residual's own buffer when the caller gives it up. Everywhere
// else (other libtorch builds, gradients on, float64, CUDA, grouped convolutions, row-major
// inputs) the same call is at::conv2d, then add_, then relu_: one entry point, same values.
#include <mutex>
#include <unordered_map>

#include "common.h"

#ifdef ECN_WITH_DNNL
#include <oneapi/dnnl/dnnl.hpp>
#endif

using ts::T;

namespace {

std::atomic<bool> g_use_dnnl{true};

struct ConvArgs {
  int64_t stride[2], pad[2], dil[2], groups;
};

// Output size of spatial dimension i (0: height, 1: width), as at::conv2d computes it.
int64_t out_size(const at::Tensor& x, const at::Tensor& w, const ConvArgs& a, int i) {
  return (x.size(2 + i) + 2 * a.pad[i] - a.dil[i] * (w.size(2 + i) - 1) - 1) / a.stride[i] + 1;
}

// The residual must have the convolution's output shape (no broadcasting: it is a shortcut).
void check_residual(const at::Tensor& x, const at::Tensor& w, const ConvArgs& a, const at::Tensor& r) {
  if (w.dim() != 4 || a.stride[0] < 1 || a.stride[1] < 1) return;  // at::conv2d words these errors
  std::vector<int64_t> want{x.size(0), w.size(0), 0, 0};
  for (int i = 0; i < 2; ++i)
    want[2 + i] = out_size(x, w, a, i);
  if (r.sizes() != at::IntArrayRef(want)) {
    throw std::invalid_argument("conv2d_fused: residual of shape " + c10::str(r.sizes()) +
                                " does not match the convolution's output " + c10::str(at::IntArrayRef(want)));
  }
}

// Reference path: three libtorch ops.
at::Tensor conv_add_relu_aten(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& b,
                              const ConvArgs& a, const c10::optional<at::Tensor>& residual, bool relu) {
  auto y = at::conv2d(x, w, b, {a.stride[0], a.stride[1]}, {a.pad[0], a.pad[1]}, {a.dil[0], a.dil[1]}, a.groups);
  if (residual) y.add_(*residual);
  if (relu) y.relu_();
  return y;
}

#ifdef ECN_WITH_DNNL

dnnl::engine& cpu_engine() {
  static dnnl::engine engine(dnnl::engine::kind::cpu, 0);
  return engine;
}

// A kernel reordered into the layout a convolution primitive asked for. The entry holds the
// source tensor weakly: it is dropped once that tensor is freed, and not used once the tensor was
// modified in place (version) or the primitive wants another layout.
struct PackedKernel {
  c10::weak_intrusive_ptr<c10::TensorImpl> source;
  uint32_t version;
  dnnl::memory::desc desc;
  at::Tensor bytes;  // uint8 buffer of desc.get_size() bytes
};

std::mutex g_packed_mutex;
std::unordered_map<const c10::TensorImpl*, PackedKernel> g_packed;

// The packed copy of `w` for `want`, made (and cached) when absent or stale.
at::Tensor packed_kernel(const at::Tensor& w, const dnnl::memory::desc& plain, const dnnl::memory::desc& want) {
  std::lock_guard<std::mutex> lock(g_packed_mutex);
  for (auto it = g_packed.begin(); it != g_packed.end();) {
    it = it->second.source.expired() ? g_packed.erase(it) : std::next(it);
  }
  const auto* impl = w.unsafeGetTensorImpl();
  const uint32_t version = w._version();
  auto found = g_packed.find(impl);
  if (found != g_packed.end() && found->second.version == version && found->second.desc == want) {
    return found->second.bytes;
  }
  auto bytes = at::empty({static_cast<int64_t>(want.get_size())}, at::kByte);
  dnnl::memory src(plain, cpu_engine(), w.data_ptr());
  dnnl::memory dst(want, cpu_engine(), bytes.data_ptr());
  dnnl::stream stream(cpu_engine());
  dnnl::reorder(src, dst).execute(stream, src, dst);
  stream.wait();
  g_packed.insert_or_assign(
      impl, PackedKernel{c10::weak_intrusive_ptr<c10::TensorImpl>(w.getIntrusivePtr()), version, want, bytes});
  return bytes;
}

dnnl::memory::dims dims_of(const at::Tensor& t) { return dnnl::memory::dims(t.sizes().begin(), t.sizes().end()); }
dnnl::memory::dims strides_of(const at::Tensor& t) {
  return dnnl::memory::dims(t.strides().begin(), t.strides().end());
}

bool dnnl_applies(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& b, const ConvArgs& a,
                  const c10::optional<at::Tensor>& residual) {
  if (at::GradMode::is_enabled() && (x.requires_grad() || w.requires_grad() || (b && b->requires_grad()) ||
                                     (residual && residual->requires_grad())))
    return false;
  auto plain_f32 = [](const at::Tensor& t) {
    return t.device().is_cpu() && t.scalar_type() == at::kFloat && t.layout() == at::kStrided && !t.is_neg() &&
           !t.is_conj();
  };
  if (!plain_f32(x) || !plain_f32(w) || (b && !plain_f32(*b)) || (residual && !plain_f32(*residual))) return false;
  if (a.groups != 1 || x.dim() != 4 || w.dim() != 4 || x.size(1) != w.size(1)) return false;
  if (x.numel() == 0 || w.numel() == 0) return false;  // empty shapes: libtorch's ops handle them
  if (!x.is_contiguous(at::MemoryFormat::ChannelsLast)) return false;
  if (b && (b->dim() != 1 || b->size(0) != w.size(0) || !b->is_contiguous())) return false;
  for (int i = 0; i < 2; ++i)
    if (a.stride[i] < 1 || a.pad[i] < 0 || a.dil[i] < 1) return false;
  return true;
}

at::Tensor conv_add_relu_dnnl(const at::Tensor& x, const at::Tensor& w, const c10::optional<at::Tensor>& b,
                              const ConvArgs& a, const c10::optional<at::Tensor>& residual, bool relu,
                              bool overwrite_residual) {
  using dnnl::memory;
  const int64_t n = x.size(0), h = x.size(2), wd = x.size(3), oc = w.size(0), kh = w.size(2), kw = w.size(3);
  const int64_t oh = out_size(x, w, a, 0), ow = out_size(x, w, a, 1);
  if (oh < 1 || ow < 1 || oc < 1) return conv_add_relu_aten(x, w, b, a, residual, relu);  // libtorch words the error
  at::Tensor out;
  if (residual) {
    const auto& r = *residual;
    const bool reusable = overwrite_residual && r.is_contiguous(at::MemoryFormat::ChannelsLast) &&
                          r.storage().use_count() == 1 && !r.is_alias_of(x) && !r.is_alias_of(w);
    out = reusable ? r : r.contiguous(at::MemoryFormat::ChannelsLast).clone(at::MemoryFormat::ChannelsLast);
  } else {
    out = at::empty({n, oc, oh, ow}, x.options().memory_format(at::MemoryFormat::ChannelsLast));
  }
  const memory::dims strides{a.stride[0], a.stride[1]};
  const memory::dims dilates{a.dil[0] - 1, a.dil[1] - 1};
  const memory::dims pad_l{a.pad[0], a.pad[1]};
  const memory::dims pad_r{(oh - 1) * a.stride[0] + a.dil[0] * (kh - 1) + 1 - h - a.pad[0],
                           (ow - 1) * a.stride[1] + a.dil[1] * (kw - 1) + 1 - wd - a.pad[1]};
  const auto f32 = memory::data_type::f32;
  memory::desc src_md(dims_of(x), f32, memory::format_tag::nhwc);
  memory::desc dst_md(dims_of(out), f32, memory::format_tag::nhwc);
  memory::desc w_plain(dims_of(w), f32, strides_of(w));
  memory::desc w_any(dims_of(w), f32, memory::format_tag::any);
  memory::desc b_md({oc}, f32, memory::format_tag::a);

  dnnl::post_ops ops;
  if (residual) ops.append_sum(1.0f);
  if (relu) ops.append_eltwise(1.0f, dnnl::algorithm::eltwise_relu, 0.0f, 0.0f);
  dnnl::primitive_attr attr;
  attr.set_post_ops(ops);
  auto desc = b ? dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                  dnnl::algorithm::convolution_direct, src_md, w_any, b_md, dst_md,
                                                  strides, dilates, pad_l, pad_r)
                : dnnl::convolution_forward::desc(dnnl::prop_kind::forward_inference,
                                                  dnnl::algorithm::convolution_direct, src_md, w_any, dst_md, strides,
                                                  dilates, pad_l, pad_r);
  dnnl::convolution_forward::primitive_desc pd(desc, attr, cpu_engine());
  auto& engine = cpu_engine();
  // The primitive may take the kernel as it is; else the cached reordered copy.
  auto kernel = pd.weights_desc() == w_plain ? w : packed_kernel(w, w_plain, pd.weights_desc());
  memory src_m(src_md, engine, x.data_ptr());
  memory w_m(pd.weights_desc(), engine, kernel.data_ptr());
  memory dst_m(dst_md, engine, out.data_ptr());
  std::unordered_map<int, memory> io{{DNNL_ARG_SRC, src_m}, {DNNL_ARG_WEIGHTS, w_m}, {DNNL_ARG_DST, dst_m}};
  at::Tensor bias;
  if (b) {
    bias = b->contiguous();
    io.emplace(DNNL_ARG_BIAS, memory(b_md, engine, bias.data_ptr()));
  }
  dnnl::stream stream(engine);
  dnnl::convolution_forward(pd).execute(stream, io);
  stream.wait();
  return out;
}

#endif  // ECN_WITH_DNNL

}  // namespace

extern "C" {

// relu(conv2d(x, w, b) + residual) without gradients through one fused kernel where it applies
// (see the file comment). params7 as ts_conv2d; residual may be NULL; flags: bit 0 ReLU, bit 1
// the residual's buffer may receive the result (the caller gives the residual up).
ts_tensor ts_conv2d_fused(ts_tensor x, ts_tensor w, ts_tensor b, const int64_t* params7, ts_tensor residual,
                          int32_t flags) {
  TS_TENSOR({
    const auto& in = T(x, "input");
    if (in.dim() != 4)
      throw std::invalid_argument("conv2d_fused expects a 4-d input (N, C, H, W), got shape " + c10::str(in.sizes()));
    if (flags < 0 || flags > 3) throw std::invalid_argument("conv2d_fused: flags must be 0..3, got " + std::to_string(flags));
    auto p = ts::dims(params7, 7, "conv2d params");
    ConvArgs a{{p[0], p[1]}, {p[2], p[3]}, {p[4], p[5]}, p[6]};
    const auto& weight = T(w, "weight");
    auto bias = ts::opt(b, "bias");
    auto res = ts::opt(residual, "residual");
    const bool relu = flags & 1;
    if (res) check_residual(in, weight, a, *res);
#ifdef ECN_WITH_DNNL
    if (g_use_dnnl.load(std::memory_order_relaxed) && dnnl_applies(in, weight, bias, a, res)) {
      return ts::box(conv_add_relu_dnnl(in, weight, bias, a, res, relu, flags & 2));
    }
#endif
    return ts::box(conv_add_relu_aten(in, weight, bias, a, res, relu));
  })
}

// Turns the direct oneDNN path of ts_conv2d_fused on (1) or off (0; libtorch's three ops), or
// only asks (-1). Returns 1 when it is now on: built with ECN_WITH_DNNL and enabled.
int32_t ts_conv2d_fused_native(int32_t on) {
  if (on == 0 || on == 1) g_use_dnnl.store(on == 1);
#ifdef ECN_WITH_DNNL
  return g_use_dnnl.load() ? 1 : 0;
#else
  return 0;
#endif
}

}  // extern "C"
