// Shared by every op family: the handle box, argument checks and the one exception barrier.
#pragma once
#include <ATen/ATen.h>
#include <atomic>
#include <stdexcept>
#include <string>
#include <vector>

#include "ecn_torch.h"

// A handle is a heap box around an at::Tensor. The magic word catches most stale or foreign
// pointers before they are dereferenced as tensors.
struct ts_tensor_box {
  uint32_t magic;
  at::Tensor t;
};

namespace ts {

constexpr uint32_t kLive = 0x7e45a11eu;
constexpr uint32_t kDead = 0xdeadbeefu;

extern std::atomic<int64_t> g_live;
void set_error(const std::string& msg);

inline ts_tensor box(at::Tensor t) {
  auto* b = new ts_tensor_box{kLive, std::move(t)};
  g_live.fetch_add(1, std::memory_order_relaxed);
  return b;
}

inline const at::Tensor& T(ts_tensor h, const char* what = "tensor") {
  if (h == nullptr) throw std::invalid_argument(std::string("null handle for argument '") + what + "'");
  if (h->magic != kLive) throw std::invalid_argument(std::string("argument '") + what + "' is a freed or invalid tensor handle");
  if (!h->t.defined()) throw std::invalid_argument(std::string("argument '") + what + "' is an undefined tensor");
  return h->t;
}

// Optional tensor argument: NULL means absent.
inline c10::optional<at::Tensor> opt(ts_tensor h, const char* what) {
  if (h == nullptr) return c10::nullopt;
  return T(h, what);
}

inline std::vector<int64_t> dims(const int64_t* p, int32_t n, const char* what = "shape") {
  if (n < 0 || n > 64) throw std::invalid_argument(std::string(what) + ": rank " + std::to_string(n) + " out of range 0..64");
  if (n > 0 && p == nullptr) throw std::invalid_argument(std::string(what) + ": null array");
  return std::vector<int64_t>(p, p + n);
}

at::ScalarType dtype_of(int32_t code);
at::Device device_of(int32_t type, int32_t index);

}  // namespace ts

// The exception barrier: every entry point's body runs inside it.
#define TS_GUARD(fail_value, ...)                                          \
  try {                                                                     \
    __VA_ARGS__                                                             \
  } catch (const c10::Error& e) {                                           \
    ts::set_error(e.what_without_backtrace());                              \
  } catch (const std::exception& e) {                                       \
    ts::set_error(e.what());                                                \
  } catch (...) {                                                           \
    ts::set_error("unknown C++ exception");                                 \
  }                                                                         \
  return fail_value;

#define TS_TENSOR(...) TS_GUARD(nullptr, __VA_ARGS__)
#define TS_STATUS(...) TS_GUARD(-1, __VA_ARGS__)
