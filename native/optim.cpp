// Fused optimizer steps: one foreign call updates every parameter of a group.
#include "common.h"

using ts::T;

extern "C" {

// torch.optim.SGD semantics (PyTorch 1.13): d = g + wd * p; buf = d on the first step, else
// buf = momentum * buf + (1 - dampening) * d; d = nesterov ? d + momentum * buf : buf; p -= lr * d.
// momentum_buffers[i] NULL means "not created yet": the new buffer's handle is written back there.
// Parameters without a gradient are skipped, as PyTorch does.
int32_t ts_sgd_step(const ts_tensor* params, ts_tensor* momentum_buffers, int32_t n, double lr, double momentum,
                    double dampening, double weight_decay, int32_t nesterov) {
  TS_STATUS({
    if (n < 0 || (n > 0 && (params == nullptr || momentum_buffers == nullptr))) throw std::invalid_argument("sgd: bad parameter list");
    if (nesterov && (momentum <= 0 || dampening != 0))
      throw std::invalid_argument("sgd: Nesterov momentum requires a momentum and zero dampening");
    at::NoGradGuard no_grad;
    int32_t stepped = 0;
    for (int32_t i = 0; i < n; ++i) {
      std::string name = "params[" + std::to_string(i) + "]";
      auto p = T(params[i], name.c_str());
      const auto& g = p.grad();
      if (!g.defined()) continue;
      at::Tensor d = weight_decay != 0 ? g.add(p, weight_decay) : g;
      if (momentum != 0) {
        if (momentum_buffers[i] == nullptr) {
          momentum_buffers[i] = ts::box(d.clone().detach());
        } else {
          auto buf = T(momentum_buffers[i], "momentum buffer");
          buf.mul_(momentum).add_(d, 1.0 - dampening);
        }
        const auto& buf = momentum_buffers[i]->t;
        d = nesterov ? d.add(buf, momentum) : buf;
      }
      p.add_(d, -lr);
      ++stepped;
    }
    return stepped;
  })
}

}  // extern "C"
