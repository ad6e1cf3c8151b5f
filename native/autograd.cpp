// Autograd: gradients, grad mode, and the exemplar memory's custom backward update.
#include <torch/csrc/autograd/custom_function.h>

#include <unordered_map>

#include "common.h"

using ts::T;
using torch::autograd::AutogradContext;
using torch::autograd::variable_list;

namespace {

// K[i] <- alpha * K[i] + (1 - alpha) * f, then K[i] <- K[i] / ||K[i]||, for each (i, f) of the batch in
// order. Vectorized in rounds: round r updates the r-th occurrence of every index at once, so a batch
// with duplicate indices gives exactly what the reference's sequential loop gives.
void update_memory(at::Tensor& memory, const at::Tensor& inputs, const at::Tensor& indexes, double alpha) {
  at::NoGradGuard no_grad;
  auto idx_cpu = indexes.to(at::kCPU).contiguous();
  const int64_t* idx = idx_cpu.data_ptr<int64_t>();
  const int64_t b = idx_cpu.numel();
  std::unordered_map<int64_t, int64_t> seen;
  std::vector<std::vector<int64_t>> rounds;
  for (int64_t i = 0; i < b; ++i) {
    int64_t r = seen[idx[i]]++;
    if (static_cast<size_t>(r) >= rounds.size()) rounds.emplace_back();
    rounds[static_cast<size_t>(r)].push_back(i);
  }
  auto x = inputs.detach().to(memory.scalar_type());
  for (auto& positions : rounds) {
    auto pos = at::tensor(positions, at::TensorOptions().dtype(at::kLong)).to(memory.device());
    auto rows_idx = indexes.index_select(0, pos);
    auto rows = memory.index_select(0, rows_idx).mul_(alpha).add_(x.index_select(0, pos), 1.0 - alpha);
    rows.div_(rows.norm(2, {1}, /*keepdim=*/true).clamp_min(1e-12));
    memory.index_copy_(0, rows_idx, rows);
  }
}

struct ExemplarMemoryFn : public torch::autograd::Function<ExemplarMemoryFn> {
  static at::Tensor forward(AutogradContext* ctx, const at::Tensor& inputs, const at::Tensor& indexes,
                            const at::Tensor& memory, double alpha) {
    ctx->saved_data["indexes"] = indexes;
    ctx->saved_data["memory"] = memory;
    ctx->saved_data["alpha"] = alpha;
    ctx->saved_data["inputs"] = inputs.detach();
    return inputs.mm(memory.t());
  }

  static variable_list backward(AutogradContext* ctx, variable_list grad_outputs) {
    auto memory = ctx->saved_data["memory"].toTensor();
    auto indexes = ctx->saved_data["indexes"].toTensor();
    auto inputs = ctx->saved_data["inputs"].toTensor();
    double alpha = ctx->saved_data["alpha"].toDouble();
    // The gradient uses the memory as it was in forward: compute it before the update.
    at::Tensor grad_inputs;
    if (grad_outputs[0].defined()) grad_inputs = grad_outputs[0].mm(memory.to(grad_outputs[0].scalar_type()));
    update_memory(memory, inputs, indexes, alpha);
    return {grad_inputs, at::Tensor(), at::Tensor(), at::Tensor()};
  }
};

}  // namespace

extern "C" {

int32_t ts_set_requires_grad(ts_tensor t, int32_t flag) {
  TS_STATUS({
    auto x = T(t);
    x.set_requires_grad(flag != 0);
    return 0;
  })
}

int32_t ts_requires_grad(ts_tensor t) {
  TS_STATUS({ return T(t).requires_grad() ? 1 : 0; })
}

int32_t ts_is_leaf(ts_tensor t) {
  TS_STATUS({ return T(t).is_leaf() ? 1 : 0; })
}

int32_t ts_backward(ts_tensor t, ts_tensor grad, int32_t retain_graph) {
  TS_STATUS({
    const auto& x = T(t);
    if (!x.requires_grad())
      throw std::invalid_argument("backward: the tensor does not require grad and has no grad_fn");
    at::Tensor g;
    if (grad != nullptr) {
      g = T(grad, "grad");
    } else if (x.numel() != 1) {
      throw std::invalid_argument("backward: a gradient is needed for a non-scalar output of shape " + c10::str(x.sizes()));
    }
    x.backward(g, retain_graph != 0, /*create_graph=*/false);
    return 0;
  })
}

int32_t ts_grad(ts_tensor t, ts_tensor* out) {
  TS_STATUS({
    const auto& g = T(t).grad();
    if (out == nullptr) throw std::invalid_argument("grad: null output buffer");
    out[0] = g.defined() ? ts::box(g) : nullptr;
    return g.defined() ? 1 : 0;
  })
}

int32_t ts_set_grad(ts_tensor t, ts_tensor grad) {
  TS_STATUS({
    auto x = T(t);
    if (grad == nullptr) {
      x.mutable_grad().reset();
    } else {
      const auto& g = T(grad, "grad");
      if (!g.sizes().equals(x.sizes()))
        throw std::invalid_argument("grad shape " + c10::str(g.sizes()) + " does not match tensor shape " + c10::str(x.sizes()));
      x.mutable_grad() = g.detach();
    }
    return 0;
  })
}

int32_t ts_set_grad_enabled(int32_t flag) {
  TS_STATUS({
    bool prev = c10::GradMode::is_enabled();
    c10::GradMode::set_enabled(flag != 0);
    return prev ? 1 : 0;
  })
}

int32_t ts_is_grad_enabled(void) { return c10::GradMode::is_enabled() ? 1 : 0; }

ts_tensor ts_exemplar_memory(ts_tensor inputs, ts_tensor indexes, ts_tensor memory, double alpha) {
  TS_TENSOR({
    const auto& x = T(inputs, "inputs");
    const auto& idx = T(indexes, "indexes");
    const auto& mem = T(memory, "memory");
    if (x.dim() != 2 || mem.dim() != 2 || x.size(1) != mem.size(1))
      throw std::invalid_argument("exemplar memory: inputs " + c10::str(x.sizes()) + " and memory " + c10::str(mem.sizes()) +
                                  " must be (B, d) and (N, d)");
    if (idx.dim() != 1 || idx.size(0) != x.size(0) || idx.scalar_type() != at::kLong)
      throw std::invalid_argument("exemplar memory: indexes must be int64 of shape (" + std::to_string(x.size(0)) +
                                  "), got " + c10::toString(idx.scalar_type()) + " " + c10::str(idx.sizes()));
    if (mem.requires_grad()) throw std::invalid_argument("exemplar memory: the memory must not require grad");
    if (idx.numel() > 0) {
      auto lo = idx.min().item<int64_t>(), hi = idx.max().item<int64_t>();
      if (lo < 0 || hi >= mem.size(0))
        throw std::invalid_argument("exemplar memory: index " + std::to_string(lo < 0 ? lo : hi) + " out of range [0, " +
                                    std::to_string(mem.size(0)) + ")");
    }
    if (!(alpha >= 0.0 && alpha <= 1.0)) throw std::invalid_argument("exemplar memory: alpha must be in [0, 1], got " + std::to_string(alpha));
    return ts::box(ExemplarMemoryFn::apply(x, idx, mem, alpha));
  })
}

}  // extern "C"
