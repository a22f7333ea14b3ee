// SPDX-License-Identifier: MIT
// The predictor debugger's figures, accumulated from batch traces in which a router ran beside the
// hash table (the shadow router): per layer, top-1 and top-k hit rates and the predicted-vs-router
// confusion matrix.
#pragma once

#include "engine_types.h"

#include <cstdint>
#include <vector>

namespace sida::ui {

class PredictorStats {
public:
    struct Layer {
        int64_t block = 0;
        int experts = 0;
        int topK = 0;
        int64_t compared = 0; ///< tokens with both a prediction and a router choice
        int64_t top1Hits = 0;
        int64_t topKHits = 0;
        std::vector<int64_t> confusion; ///< [predicted top-1 * experts + router choice]

        double top1Rate() const;
        double topKRate() const;
        int64_t count(int predicted, int router) const;
    };

    void clear();
    /// Adds the tokens of a trace that have both a prediction and a router choice.
    void add(const BatchTrace& trace);

    const std::vector<Layer>& layers() const { return m_layers; }
    int64_t compared() const;
    /// Mean over layers, or -1 before anything was compared.
    double top1Rate() const;
    double topKRate() const;

private:
    std::vector<Layer> m_layers;
};

} // namespace sida::ui
