// SPDX-License-Identifier: MIT
#include "serving/budgets.h"

#include "device/device.h"

#include "sida/errors.h"

#include <algorithm>
#include <cstdio>

namespace sida::detail {
namespace {

constexpr double kGiB = 1073741824.0;
// The share of the available RAM automatic budgets give the expert caches: the rest stays free for
// activations, the page cache, the app and whatever else the workstation runs.
constexpr double kRamShare = 0.25;
// The share of a GPU's free memory: the device is the engine's, but activations need room.
constexpr double kDeviceShare = 0.8;
// A pool holding every expert needs the host cache only to stage reads (unless the oracle's hash
// thread reads its experts from it: with 8 entries it read the demo model's experts again for
// every sentence and served 4x slower).
constexpr int64_t kStagingEntries = 8;

std::string gib(double bytes) {
    char text[32];
    std::snprintf(text, sizeof text, "%.2f GiB", bytes / kGiB);
    return text;
}

// What automatic budgets may give the expert caches on a tier: a share of what is available now
// plus what the caches already hold (they are counted as used).
double usable(double available, double held, double share) { return share * (available + held); }

} // namespace

CacheSizes resolveCacheSizes(const Budget& device, const Budget& host, bool everyExpert, bool routersReadHost,
                             const ExpertStore& store) {
    const int64_t experts = store.totalExperts();
    const double poolEntry = static_cast<double>(store.expertBytes());
    const double hostEntry = static_cast<double>(store.hostEntryBytes());
    const double poolHeld = static_cast<double>(store.residentCount()) * poolEntry;
    const double hostHeld = static_cast<double>(store.hostCache().counters().entries) * hostEntry;
    const bool cuda = store.device().is_cuda();
    const double available = static_cast<double>(availableMemory().ramAvailableBytes);
    const double ram = usable(available, hostHeld + (cuda ? 0 : poolHeld), kRamShare);
    const double poolRoom =
        cuda ? usable(static_cast<double>(deviceMemory(store.device()).freeBytes), poolHeld, kDeviceShare)
             : ram;

    CacheSizes sizes;
    const double allPool = poolEntry * static_cast<double>(experts);
    if (everyExpert)
        sizes.poolSlots = experts;
    else if (device.kind == Budget::Kind::Automatic)
        sizes.poolSlots = allPool <= poolRoom / 2 ? experts : static_cast<int64_t>(poolRoom / 4 / poolEntry);
    else
        sizes.poolSlots = budgetBytes(device, static_cast<int64_t>(allPool)) / store.expertBytes();
    sizes.poolSlots = std::clamp<int64_t>(sizes.poolSlots, 1, experts);

    const double poolBytes = static_cast<double>(sizes.poolSlots) * poolEntry;
    const double hostShare = cuda ? ram : std::max(0.0, ram - poolBytes);
    if (host.kind == Budget::Kind::Automatic)
        sizes.hostEntries = sizes.poolSlots == experts && !routersReadHost
                                ? kStagingEntries
                                : static_cast<int64_t>(hostShare / hostEntry);
    else
        sizes.hostEntries =
            budgetBytes(host, static_cast<int64_t>(hostEntry * static_cast<double>(experts))) /
            store.hostEntryBytes();
    sizes.hostEntries = std::clamp<int64_t>(sizes.hostEntries, 1, experts);

    // Explicit budgets may use everything available (the share is the automatic rule's); more
    // would end in the kernel's out-of-memory killer, so it is refused here with the figures.
    const double hostBytes = static_cast<double>(sizes.hostEntries) * hostEntry;
    const double ramNeed = hostBytes + (cuda ? 0 : poolBytes);
    const double ramAvailable = available + hostHeld + (cuda ? 0 : poolHeld);
    if (ramNeed > ramAvailable)
        throw Error(std::string(everyExpert ? "the standard policy keeps every expert resident, "
                                            : "the budgets need ") +
                    gib(ramNeed) + " of RAM (" + (cuda ? "" : "device pool " + gib(poolBytes) + " + ") +
                    "host cache " + gib(hostBytes) + ") but only " + gib(ramAvailable) +
                    " is available to this process; lower --budget / --host-budget" +
                    (everyExpert ? ", or serve with ondemand or sida" : "") + " (or compute in bfloat16)");
    return sizes;
}

} // namespace sida::detail
