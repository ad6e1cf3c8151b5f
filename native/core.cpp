// Version, errors, handle lifetimes, threads and the random state.
#include <ATen/Parallel.h>
#include <ATen/CPUGeneratorImpl.h>
#include <torch/version.h>

#include <csignal>
#include <cstring>
#include <unistd.h>

#include "common.h"

namespace ts {

// A native crash the exception barrier cannot catch (an integer division by zero, an illegal
// instruction, a bus error, an abort) ends the process with a message and status 128+signal,
// instead of whatever a launcher makes of a signal death (npm's Deno launcher reports 0). Only
// signals still at their default action are taken; SIGSEGV is left to V8, which uses it.
namespace {

void fatal_signal(int sig) {
  const char* name = sig == SIGFPE    ? "SIGFPE (arithmetic error, e.g. integer division by zero)"
                     : sig == SIGILL  ? "SIGILL (illegal instruction)"
                     : sig == SIGBUS  ? "SIGBUS (bus error)"
                     : sig == SIGABRT ? "SIGABRT (abort)"
                                      : "a fatal signal";
  const char* head = "\necn_torch: fatal ";
  const char* tail = " in native code; exiting with status 128+signal\n";
  ssize_t ignored = write(2, head, strlen(head));
  ignored = write(2, name, strlen(name));
  ignored = write(2, tail, strlen(tail));
  (void)ignored;
  _exit(128 + sig);
}

struct FatalSignalHandlers {
  FatalSignalHandlers() {
    for (int sig : {SIGFPE, SIGILL, SIGBUS, SIGABRT}) {
      struct sigaction old {};
      if (sigaction(sig, nullptr, &old) != 0 || old.sa_handler != SIG_DFL) continue;
      struct sigaction sa {};
      sa.sa_handler = fatal_signal;
      sigemptyset(&sa.sa_mask);
      sa.sa_flags = SA_RESETHAND;
      sigaction(sig, &sa, nullptr);
    }
  }
};
const FatalSignalHandlers g_fatal_signal_handlers;

}  // namespace

std::atomic<int64_t> g_live{0};
static thread_local std::string t_error;

void set_error(const std::string& msg) { t_error = msg.empty() ? "error without message" : msg; }

at::ScalarType dtype_of(int32_t code) {
  switch (code) {
    case 0: return at::kByte;
    case 1: return at::kChar;
    case 2: return at::kShort;
    case 3: return at::kInt;
    case 4: return at::kLong;
    case 5: return at::kHalf;
    case 6: return at::kFloat;
    case 7: return at::kDouble;
    case 11: return at::kBool;
    case 15: return at::kBFloat16;
    default: throw std::invalid_argument("unsupported dtype code " + std::to_string(code));
  }
}

at::Device device_of(int32_t type, int32_t index) {
  if (type == 0) return at::Device(at::kCPU);
  if (type == 1) {
    if (index < -1 || index > 64) throw std::invalid_argument("cuda device index " + std::to_string(index) + " out of range");
    return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index < 0 ? 0 : index));
  }
  throw std::invalid_argument("unsupported device type " + std::to_string(type) + " (0 = cpu, 1 = cuda)");
}

}  // namespace ts

extern "C" {

int32_t ts_abi_version(void) { return TS_ABI_VERSION; }

const char* ts_version_string(void) {
  static std::string v = std::string("libtorch ") + TORCH_VERSION +
#ifdef ECN_WITH_CUDA
                         " cuda";
#else
                         " cpu";
#endif
  return v.c_str();
}

const char* ts_last_error(void) { return ts::t_error.c_str(); }

int64_t ts_live_tensors(void) { return ts::g_live.load(); }

void ts_free(ts_tensor t) {
  if (t == nullptr || t->magic != ts::kLive) return;
  t->magic = ts::kDead;
  try {
    delete t;
  } catch (...) {
  }
  ts::g_live.fetch_sub(1, std::memory_order_relaxed);
}

int32_t ts_set_num_threads(int32_t n) {
  TS_STATUS({
    if (n < 1) throw std::invalid_argument("number of threads must be >= 1, got " + std::to_string(n));
    at::set_num_threads(n);
    return at::get_num_threads();
  })
}

int32_t ts_get_num_threads(void) { return at::get_num_threads(); }

int32_t ts_manual_seed(int64_t seed) {
  TS_STATUS({
    at::manual_seed(static_cast<uint64_t>(seed));
    return 0;
  })
}

ts_tensor ts_rng_get_state(void) {
  TS_TENSOR({
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    return ts::box(gen.get_state());
  })
}

int32_t ts_rng_set_state(ts_tensor state) {
  TS_STATUS({
    const auto& s = ts::T(state, "state");
    if (s.scalar_type() != at::kByte || s.dim() != 1)
      throw std::invalid_argument("random state must be a 1-d uint8 tensor from ts_rng_get_state");
    auto gen = at::detail::getDefaultCPUGenerator();
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(s);
    return 0;
  })
}

}  // extern "C"
