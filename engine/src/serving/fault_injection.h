// SPDX-License-Identifier: MIT
// Faults that tests inject into the engine, so that paths which only a device under pressure would
// reach (running out of memory) run and are checked on any machine. Off unless a test arms them.
#pragma once

#include <cstdint>

namespace sida::detail {

/// Arms the expert pool's slot allocation to fail: after `successes` more allocations, the next
/// one throws c10::OutOfMemoryError, as a device out of memory would, once. Negative disarms it.
void failSlotAllocationAfter(int64_t successes);

/// Called just before the pool allocates a slot: throws when an armed failure is due.
void checkSlotAllocation();

} // namespace sida::detail
