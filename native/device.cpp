// Devices: CUDA availability, synchronization and memory figures (zero on CPU-only builds).
#include <torch/cuda.h>

#include "common.h"

#ifdef ECN_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

extern "C" {

int32_t ts_cuda_is_available(void) {
  TS_STATUS({ return torch::cuda::is_available() ? 1 : 0; })
}

int32_t ts_cuda_device_count(void) {
  TS_STATUS({ return static_cast<int32_t>(torch::cuda::device_count()); })
}

int32_t ts_cuda_synchronize(int32_t device_index) {
  TS_STATUS({
    if (!torch::cuda::is_available()) throw std::invalid_argument("CUDA is not available in this libtorch build or machine");
    torch::cuda::synchronize(device_index);
    return 0;
  })
}

// which: 0 allocated bytes now, 1 peak allocated, 2 reserved now, 3 peak reserved.
int64_t ts_cuda_memory(int32_t device_index, int32_t which) {
  TS_STATUS({
#ifdef ECN_WITH_CUDA
    if (!torch::cuda::is_available()) return 0;
    auto s = c10::cuda::CUDACachingAllocator::getDeviceStats(device_index);
    using c10::cuda::CUDACachingAllocator::StatType;
    auto agg = static_cast<size_t>(StatType::AGGREGATE);
    switch (which) {
      case 0: return s.allocated_bytes[agg].current;
      case 1: return s.allocated_bytes[agg].peak;
      case 2: return s.reserved_bytes[agg].current;
      case 3: return s.reserved_bytes[agg].peak;
      default: throw std::invalid_argument("memory figure must be 0..3");
    }
#else
    (void)device_index;
    if (which < 0 || which > 3) throw std::invalid_argument("memory figure must be 0..3");
    return 0;
#endif
  })
}

int32_t ts_cuda_reset_peak(int32_t device_index) {
  TS_STATUS({
#ifdef ECN_WITH_CUDA
    if (torch::cuda::is_available()) c10::cuda::CUDACachingAllocator::resetPeakStats(device_index);
#else
    (void)device_index;
#endif
    return 0;
  })
}

}  // extern "C"
