// SPDX-License-Identifier: MIT
#include "sparsity_stats.h"

#include <algorithm>

namespace sida::ui {

void SparsityStats::clear() {
    m_blocks.clear();
    m_experts = 0;
    m_sentences = 0;
    m_byLength.clear();
    m_usage.clear();
}

void SparsityStats::add(const BatchTrace& trace) {
    if (trace.layers.empty()) return;
    const int experts = trace.layers.front().numExperts;
    if (static_cast<size_t>(layers()) != trace.layers.size() || experts != m_experts) {
        clear();
        m_experts = experts;
        for (const LayerTrace& layer : trace.layers) m_blocks.push_back(layer.block);
        m_usage.assign(trace.layers.size(), std::vector<int64_t>(static_cast<size_t>(experts), 0));
    }
    const size_t layerCount = trace.layers.size();
    std::vector<char> used(static_cast<size_t>(m_experts));
    for (const SequenceTrace& seq : trace.sequences) {
        const auto length =
            static_cast<int64_t>(seq.tokenIds.empty() ? seq.pieces.size() : seq.tokenIds.size());
        if (length == 0) continue;
        Sums& sums = m_byLength[length];
        sums.idle.resize(layerCount, 0.0);
        int64_t activated = 0;
        for (size_t l = 0; l < layerCount; ++l) {
            const LayerTrace& layer = trace.layers[l];
            const std::vector<int32_t>& choice = layer.router.empty() ? layer.routed : layer.router;
            std::fill(used.begin(), used.end(), 0);
            for (int64_t t = 0; t < length; ++t) {
                const auto index = static_cast<size_t>(seq.firstToken + t);
                if (index >= choice.size()) break;
                const int32_t e = choice[index];
                if (e < 0 || e >= m_experts) continue;
                used[static_cast<size_t>(e)] = 1;
                ++m_usage[l][static_cast<size_t>(e)];
            }
            const auto distinct = std::count(used.begin(), used.end(), 1);
            activated += distinct;
            sums.idle[l] += 1.0 - static_cast<double>(distinct) / m_experts;
        }
        sums.effectiveUse += static_cast<double>(activated) / static_cast<double>(m_experts * layerCount);
        ++sums.sentences;
        ++m_sentences;
    }
}

std::vector<SparsityStats::LengthPoint> SparsityStats::byLength(int binWidth) const {
    binWidth = std::max(binWidth, 1);
    struct Bin {
        double lengthSum = 0.0;
        Sums sums;
    };
    std::map<int64_t, Bin> bins;
    for (const auto& [length, sums] : m_byLength) {
        Bin& bin = bins[(length - 1) / binWidth];
        bin.lengthSum += static_cast<double>(length * sums.sentences);
        bin.sums.sentences += sums.sentences;
        bin.sums.effectiveUse += sums.effectiveUse;
        bin.sums.idle.resize(sums.idle.size(), 0.0);
        for (size_t l = 0; l < sums.idle.size(); ++l) bin.sums.idle[l] += sums.idle[l];
    }
    std::vector<LengthPoint> points;
    for (const auto& [key, bin] : bins) {
        const Sums& sums = bin.sums;
        const auto n = static_cast<double>(sums.sentences);
        LengthPoint p;
        p.length = bin.lengthSum / n;
        p.sentences = sums.sentences;
        double total = 0.0;
        for (double idle : sums.idle) {
            p.idleFraction.push_back(idle / n);
            total += idle / n;
        }
        p.meanIdleFraction = sums.idle.empty() ? 0.0 : total / static_cast<double>(sums.idle.size());
        p.effectiveUse = sums.effectiveUse / n;
        points.push_back(std::move(p));
    }
    return points;
}

int SparsityStats::binWidthFor(int maxPoints) const {
    if (m_byLength.empty() || maxPoints < 1) return 1;
    const int64_t span = m_byLength.rbegin()->first;
    return static_cast<int>(std::max<int64_t>(1, (span + maxPoints - 1) / maxPoints));
}

double SparsityStats::meanIdleFraction() const {
    double sum = 0.0;
    for (const auto& [length, sums] : m_byLength)
        for (double idle : sums.idle) sum += idle;
    const auto count = static_cast<double>(m_sentences) * static_cast<double>(layers());
    return count == 0 ? 0.0 : sum / count;
}

} // namespace sida::ui
