// SPDX-License-Identifier: MIT
// What the Experts view shows, accumulated from batch traces: for each MoE layer and expert, how
// often it was used, which memory tier holds it now, and whether the last batch copied it in or
// evicted it.
#pragma once

#include "engine_types.h"

#include <QString>

#include <cstdint>
#include <vector>

namespace sida::ui {

/// Where an expert is after a batch, fastest first. An expert in the device pool may also be in the
/// host cache; the pool is what matters to the next batch, so it wins.
enum class ExpertTier { Pool, Host, Disk };

class ExpertActivity {
public:
    struct Layer {
        int64_t block = 0;
        std::vector<int64_t> usage;     ///< tokens routed to each expert, all batches so far
        std::vector<int64_t> lastUsage; ///< ... in the last batch
        std::vector<bool> resident;     ///< in the device pool when the last batch finished
        std::vector<bool> hostCached;   ///< in the host cache when the last batch finished
        std::vector<bool> copiedIn;     ///< by the last batch
        std::vector<bool> evicted;      ///< by the last batch
        int64_t maxUsage = 0;
    };

    /// Starts over for a model's MoE layers (all experts on disk, none used).
    void reset(const std::vector<int64_t>& blocks, int experts);
    void add(const BatchTrace& trace);

    const std::vector<Layer>& layers() const { return m_layers; }
    int experts() const { return m_experts; }
    uint64_t batches() const { return m_batches; }
    bool isCuda() const { return m_isCuda; }
    /// The tiers' names from the latest trace: "RAM pool (CPU)" or "GPU memory (cuda:0)", and
    /// "host RAM cache" or "pinned host RAM".
    QString poolName() const { return m_poolName; }
    QString hostName() const { return m_hostName; }
    /// Usage relative to the layer's most used expert, in [0, 1].
    double usageShare(int layer, int expert) const;
    ExpertTier tier(int layer, int expert) const;
    /// Experts of a layer in the tier (Host counts those in the host cache only).
    int tierCount(int layer, ExpertTier tier) const;
    int residentCount(int layer) const { return tierCount(layer, ExpertTier::Pool); }
    /// Which tier holds the expert, in words with the tier's name.
    QString tierText(int layer, int expert) const;
    /// The hover text of one expert.
    QString describe(int layer, int expert) const;

private:
    std::vector<Layer> m_layers;
    int m_experts = 0;
    uint64_t m_batches = 0;
    bool m_isCuda = false;
    QString m_poolName;
    QString m_hostName;
};

} // namespace sida::ui
