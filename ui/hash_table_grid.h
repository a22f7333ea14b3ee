// SPDX-License-Identifier: MIT
// The hash table of one sentence as a grid of tokens (x) by MoE layers (y): what the predictor chose
// for each cell, what the router chose when it ran, and whether they disagreed. A value type, so the
// heatmap's geometry and hover text are tested without a widget.
#pragma once

#include "engine_types.h"

#include <QString>
#include <QStringList>

#include <cstdint>
#include <utility>
#include <vector>

namespace sida::ui {

class HashTableGrid {
public:
    HashTableGrid() = default;

    /// The grid of sequence `sequence` of a batch; empty when the index is out of range.
    static HashTableGrid fromTrace(const BatchTrace& trace, int sequence);
    /// The sequence of `trace` that ran request `requestId`, or -1.
    static int sequenceOfRequest(const BatchTrace& trace, uint64_t requestId);

    bool isEmpty() const { return m_tokens.isEmpty() || m_blocks.empty(); }
    int tokenCount() const { return static_cast<int>(m_tokens.size()); }
    int layerCount() const { return static_cast<int>(m_blocks.size()); }
    int numExperts() const { return m_numExperts; }
    bool hasPrediction() const { return m_hasPrediction; }
    bool hasRouter() const { return m_hasRouter; }
    uint64_t batchIndex() const { return m_batchIndex; }
    uint64_t requestId() const { return m_requestId; }
    Policy policy() const { return m_policy; }

    /// The token's piece as the reader sees it ("▁movie" -> "movie").
    QString tokenLabel(int token) const { return m_tokens.value(token); }
    QStringList tokenLabels() const { return m_tokens; }
    /// "layer 1 (block 3)".
    QString layerLabel(int layer) const;
    int64_t block(int layer) const { return m_blocks.at(static_cast<size_t>(layer)); }

    /// The expert a cell is coloured by: the predicted top-1, or the expert that ran when the batch
    /// had no prediction (the standard and on-demand policies).
    int colourExpert(int token, int layer) const;
    /// The predictor's top-1 differs from the router's choice (only when a router ran).
    bool isMiss(int token, int layer) const;
    /// (token, layer) of every miss, in token order within each layer.
    std::vector<std::pair<int, int>> missCells() const;
    /// Hits / compared cells of this sentence, or -1 when nothing was compared.
    double hitRate() const;

    /// The hover text of a cell: predicted top-k with probabilities, and the router's choice.
    QString describe(int token, int layer) const;
    /// One line naming the sentence, its batch and what decided its experts.
    QString title() const;

private:
    struct Cell {
        std::vector<int32_t> predicted;
        std::vector<float> predictedProb;
        int32_t routed = -1;
        int32_t router = -1;
        float routerProb = 0.0f;
    };
    const Cell& cell(int token, int layer) const;

    QStringList m_tokens;
    std::vector<int64_t> m_blocks;
    std::vector<Cell> m_cells; ///< [layer][token], row-major
    int m_numExperts = 0;
    bool m_hasPrediction = false;
    bool m_hasRouter = false;
    uint64_t m_batchIndex = 0;
    uint64_t m_requestId = 0;
    Policy m_policy = Policy::Standard;
    QString m_sentence;
};

} // namespace sida::ui
