// SPDX-License-Identifier: MIT
// From budgets (automatic, a share or a size) to the two caches' sizes in experts, against the
// memory this process may still use.
#pragma once

#include "serving/expert_store.h"
#include "sida/memory.h"

#include <string>

namespace sida::detail {

struct CacheSizes {
    int64_t poolSlots = 1;   ///< device pool (GPU memory, or the RAM pool on the CPU)
    int64_t hostEntries = 1; ///< host cache
};

/// Resolves the device pool's and the host cache's budgets for `store`. `everyExpert`: the pool
/// must hold every expert (the standard policy). `routersReadHost`: the hash thread runs the
/// routers on experts from the host cache (the oracle policy), so an automatic host budget is
/// never cut to a few staging entries. sida::Error, before anything is allocated, when the budgets
/// cannot fit in the memory available, saying what would.
CacheSizes resolveCacheSizes(const Budget& device, const Budget& host, bool everyExpert, bool routersReadHost,
                             const ExpertStore& store);

} // namespace sida::detail
