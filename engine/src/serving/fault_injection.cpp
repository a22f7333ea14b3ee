// SPDX-License-Identifier: MIT
#include "serving/fault_injection.h"

#include <c10/util/Exception.h>

#include <atomic>

namespace sida::detail {
namespace {

/// Allocations left before the failure; negative when disarmed.
std::atomic<int64_t> allocationsBeforeFailure{-1};

} // namespace

void failSlotAllocationAfter(int64_t successes) { allocationsBeforeFailure = successes < 0 ? -1 : successes; }

void checkSlotAllocation() {
    int64_t left = allocationsBeforeFailure.load();
    // Counts down to -1, where it stays: the failure happens exactly once.
    while (left >= 0 && !allocationsBeforeFailure.compare_exchange_weak(left, left - 1)) {}
    if (left == 0) C10_THROW_ERROR(OutOfMemoryError, "injected out-of-memory error (expert slot allocation)");
}

} // namespace sida::detail
