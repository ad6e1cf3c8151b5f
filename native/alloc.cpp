// A caching allocator for CPU tensors.
//
// libtorch frees every activation as soon as autograd is done with it. With glibc, blocks above
// the mmap threshold go straight back to the kernel on free, and the next training step faults
// them in again page by page: a ResNet-50 forward pass of 32x256x128 spends most of its time in
// the kernel (6.6 s against 0.73 s with tcmalloc). This allocator keeps freed large blocks for
// reuse, by size class, up to a cap on the bytes it holds, so that a step reuses the memory of
// the step before. It is registered with libtorch for the CPU device, so every CPU tensor the
// process creates through libtorch uses it, whichever program loaded the shim.
//
// - Blocks below kMinCached bytes go to libtorch's default CPU allocator (glibc serves those
//   from its heaps without page faults).
// - Larger requests are rounded up to a size class (an eighth of their power of two), so blocks
//   of slightly different sizes are shared; the waste is at most 12.5 %.
// - The cap bounds the bytes held while free; a freed block that would exceed it goes back to
//   the system. An allocation that fails releases every held block and retries once.
// - Off, the previous allocator is registered again; blocks still in use come back through
//   this allocator's deleter, which then frees them.
#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>
#include <c10/core/impl/alloc_cpu.h>

#include <cstdlib>
#include <cstring>
#include <mutex>
#include <new>
#include <unordered_map>
#include <vector>

#include "common.h"

namespace {

constexpr size_t kMinCached = size_t(1) << 16;  // 64 KiB
constexpr size_t kAlignment = 64;                // as libtorch's own CPU allocator

size_t size_class(size_t n) {
  if (n < kMinCached) return n;
  size_t pow2 = size_t(1) << (63 - __builtin_clzll(static_cast<unsigned long long>(n)));
  size_t step = pow2 / 8;
  return (n + step - 1) / step * step;
}

void cached_delete(void* ptr);

class CachingCpuAllocator final : public c10::Allocator {
 public:
  c10::DataPtr allocate(size_t n) const override {
    auto* self = const_cast<CachingCpuAllocator*>(this);
    if (n < kMinCached) {
      // Small blocks never enter the cache: freed straight to libtorch's allocator, without the
      // lock and the lookup that give_back takes.
      void* p = c10::alloc_cpu(n);
      return {p, p, &c10::free_cpu, c10::Device(c10::DeviceType::CPU)};
    }
    void* p = self->take(size_class(n));
    return {p, p, &cached_delete, c10::Device(c10::DeviceType::CPU)};
  }

  c10::DeleterFnPtr raw_deleter() const override { return &cached_delete; }

  // Pure virtual in libtorch >= 2.3, absent before: declared without `override` for both.
  void copy_data(void* dest, const void* src, std::size_t count) const { std::memcpy(dest, src, count); }

  // Called by the deleter of every cached-size block (and by raw_deleter's users, whose small
  // blocks are not in in_use_ and go to libtorch's allocator).
  void give_back(void* p) {
    if (p == nullptr) return;
    std::unique_lock<std::mutex> lock(mu_);
    auto it = in_use_.find(p);
    if (it == in_use_.end()) {
      lock.unlock();
      c10::free_cpu(p);  // a small block, from libtorch's allocator
      return;
    }
    size_t size = it->second;
    in_use_.erase(it);
    in_use_bytes_ -= size;
    if (!enabled_ || held_bytes_ + size > cap_) {
      evicted_bytes_ += size;
      lock.unlock();
      std::free(p);
      return;
    }
    free_[size].push_back(p);
    held_bytes_ += size;
    if (held_bytes_ > peak_held_) peak_held_ = held_bytes_;
  }

  void release() {
    std::vector<void*> blocks;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto& kv : free_) {
        for (void* p : kv.second) blocks.push_back(p);
      }
      free_.clear();
      held_bytes_ = 0;
    }
    for (void* p : blocks) std::free(p);
  }

  void configure(bool enabled, size_t cap) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      enabled_ = enabled;
      cap_ = cap;
    }
    // Held blocks above a smaller cap (or all of them when off) go back at once.
    if (!enabled) {
      release();
      return;
    }
    std::vector<void*> over;
    {
      std::lock_guard<std::mutex> lock(mu_);
      for (auto it = free_.begin(); it != free_.end() && held_bytes_ > cap_;) {
        while (!it->second.empty() && held_bytes_ > cap_) {
          over.push_back(it->second.back());
          it->second.pop_back();
          held_bytes_ -= it->first;
          evicted_bytes_ += it->first;
        }
        it = it->second.empty() ? free_.erase(it) : std::next(it);
      }
    }
    for (void* p : over) std::free(p);
  }

  void stats(int64_t* out) {
    std::lock_guard<std::mutex> lock(mu_);
    out[0] = enabled_ ? 1 : 0;
    out[1] = static_cast<int64_t>(cap_);
    out[2] = static_cast<int64_t>(in_use_bytes_);
    out[3] = static_cast<int64_t>(held_bytes_);
    out[4] = static_cast<int64_t>(peak_in_use_);
    out[5] = static_cast<int64_t>(peak_held_);
    out[6] = static_cast<int64_t>(hits_);
    out[7] = static_cast<int64_t>(misses_);
    out[8] = static_cast<int64_t>(reused_bytes_);
    out[9] = static_cast<int64_t>(evicted_bytes_);
    out[10] = static_cast<int64_t>(in_use_.size());
  }

  void reset_peaks() {
    std::lock_guard<std::mutex> lock(mu_);
    peak_in_use_ = in_use_bytes_;
    peak_held_ = held_bytes_;
  }

 private:
  void* take(size_t size) {
    {
      std::lock_guard<std::mutex> lock(mu_);
      auto it = free_.find(size);
      if (it != free_.end() && !it->second.empty()) {
        void* p = it->second.back();
        it->second.pop_back();
        held_bytes_ -= size;
        ++hits_;
        reused_bytes_ += size;
        note_in_use(p, size);
        return p;
      }
      ++misses_;
    }
    void* p = nullptr;
    if (posix_memalign(&p, kAlignment, size) != 0 || p == nullptr) {
      release();  // out of memory: give back everything held, then try once more
      if (posix_memalign(&p, kAlignment, size) != 0 || p == nullptr) {
        throw std::bad_alloc();
      }
    }
    std::lock_guard<std::mutex> lock(mu_);
    note_in_use(p, size);
    return p;
  }

  // Under mu_.
  void note_in_use(void* p, size_t size) {
    in_use_.emplace(p, size);
    in_use_bytes_ += size;
    if (in_use_bytes_ > peak_in_use_) peak_in_use_ = in_use_bytes_;
  }

  std::mutex mu_;
  bool enabled_ = false;
  size_t cap_ = 0;
  std::unordered_map<void*, size_t> in_use_;
  std::unordered_map<size_t, std::vector<void*>> free_;
  size_t in_use_bytes_ = 0, held_bytes_ = 0, peak_in_use_ = 0, peak_held_ = 0;
  size_t hits_ = 0, misses_ = 0, reused_bytes_ = 0, evicted_bytes_ = 0;
};

// Never destroyed: tensors freed during static destruction still come back through it.
CachingCpuAllocator& cache() {
  static auto* a = new CachingCpuAllocator();
  return *a;
}

void cached_delete(void* ptr) { cache().give_back(ptr); }

c10::Allocator* g_previous = nullptr;
bool g_registered = false;
std::once_flag g_atexit_once;

}  // namespace

extern "C" {

int32_t ts_cpu_cache_configure(int32_t enabled, int64_t cap_bytes) {
  TS_STATUS({
    if (cap_bytes < 0) throw std::invalid_argument("cpu cache: cap must be >= 0 bytes, got " + std::to_string(cap_bytes));
    auto& a = cache();
    if (enabled) {
      a.configure(true, static_cast<size_t>(cap_bytes));
      if (!g_registered) {
        g_previous = c10::GetAllocator(c10::DeviceType::CPU);
        c10::SetAllocator(c10::DeviceType::CPU, &a, /*priority=*/100);
        g_registered = true;
      }
      // Held blocks go back to the system when the process ends normally.
      std::call_once(g_atexit_once, [] { std::atexit([] { cache().release(); }); });
    } else {
      if (g_registered) {
        c10::SetAllocator(c10::DeviceType::CPU, g_previous, /*priority=*/100);
        g_registered = false;
      }
      a.configure(false, static_cast<size_t>(cap_bytes));
    }
    return 0;
  })
}

int32_t ts_cpu_cache_stats(int64_t* out, int32_t n) {
  TS_STATUS({
    if (out == nullptr) throw std::invalid_argument("cpu cache stats: null output array");
    if (n < TS_CPU_CACHE_STATS) {
      throw std::invalid_argument("cpu cache stats: output array of " + std::to_string(n) + " slots, need " +
                                  std::to_string(TS_CPU_CACHE_STATS));
    }
    cache().stats(out);
    return 0;
  })
}

int32_t ts_cpu_cache_release(void) {
  TS_STATUS({
    cache().release();
    return 0;
  })
}

int32_t ts_cpu_cache_reset_peaks(void) {
  TS_STATUS({
    cache().reset_peaks();
    return 0;
  })
}

}  // extern "C"
