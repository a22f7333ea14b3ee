// SPDX-License-Identifier: MIT
// What the Experts view shows, accumulated from batch traces: for each MoE layer and expert, how
// often it was used, whether it is resident now, and whether the last batch copied it in or evicted it.
#pragma once

#include "engine_types.h"

#include <QString>

#include <cstdint>
#include <vector>

namespace sida::ui {

class ExpertActivity {
public:
    struct Layer {
        int64_t block = 0;
        std::vector<int64_t> usage;     ///< tokens routed to each expert, all batches so far
        std::vector<int64_t> lastUsage; ///< ... in the last batch
        std::vector<bool> resident;     ///< when the last batch finished
        std::vector<bool> copiedIn;     ///< by the last batch
        std::vector<bool> evicted;      ///< by the last batch
        int64_t maxUsage = 0;
    };

    /// Starts over for a model's MoE layers (all experts on the host, none used).
    void reset(const std::vector<int64_t>& blocks, int experts);
    void add(const BatchTrace& trace);

    const std::vector<Layer>& layers() const { return m_layers; }
    int experts() const { return m_experts; }
    uint64_t batches() const { return m_batches; }
    bool isCuda() const { return m_isCuda; }
    /// Usage relative to the layer's most used expert, in [0, 1].
    double usageShare(int layer, int expert) const;
    int residentCount(int layer) const;
    /// The hover text of one expert.
    QString describe(int layer, int expert) const;

private:
    std::vector<Layer> m_layers;
    int m_experts = 0;
    uint64_t m_batches = 0;
    bool m_isCuda = false;
};

} // namespace sida::ui
