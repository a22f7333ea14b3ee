// SPDX-License-Identifier: MIT
// The sparsity lesson's figures (the SiDA paper's Figs. 2 and 4), computed from batch traces: how
// many of each layer's experts a sentence leaves idle, and how much of the expert memory it uses,
// against the sentence's length; and how the tokens spread over the experts.
#pragma once

#include "engine_types.h"

#include <cstdint>
#include <map>
#include <vector>

namespace sida::ui {

class SparsityStats {
public:
    struct LengthPoint {
        double length = 0.0; ///< tokens, </s> included (the mean length of a bin's sentences)
        int64_t sentences = 0;
        std::vector<double> idleFraction; ///< per layer: mean share of its experts the sentence left idle
        double meanIdleFraction = 0.0;    ///< over layers
        double effectiveUse = 0.0;        ///< mean share of all expert memory the sentence needed
    };

    void clear();
    /// Adds every sentence of a trace; the router's choice counts when a router ran, otherwise the
    /// expert that ran.
    void add(const BatchTrace& trace);

    int64_t sentences() const { return m_sentences; }
    int layers() const { return static_cast<int>(m_blocks.size()); }
    int experts() const { return m_experts; }
    const std::vector<int64_t>& blocks() const { return m_blocks; }
    /// One point per sentence length seen, shortest first; with `binWidth` > 1 lengths are grouped
    /// into bins that wide, so that a few sentences per length do not make a jagged curve.
    std::vector<LengthPoint> byLength(int binWidth = 1) const;
    /// A bin width that gives at most `maxPoints` points.
    int binWidthFor(int maxPoints) const;
    /// Tokens routed to each expert of a layer, over all sentences.
    const std::vector<int64_t>& usage(int layer) const { return m_usage.at(static_cast<size_t>(layer)); }
    /// Mean share of experts left idle per sentence, over all sentences and layers.
    double meanIdleFraction() const;

private:
    struct Sums {
        int64_t sentences = 0;
        std::vector<double> idle; ///< per layer, summed over sentences
        double effectiveUse = 0.0;
    };
    std::vector<int64_t> m_blocks;
    int m_experts = 0;
    int64_t m_sentences = 0;
    std::map<int64_t, Sums> m_byLength;
    std::vector<std::vector<int64_t>> m_usage;
};

} // namespace sida::ui
