// SPDX-License-Identifier: MIT
#include "hash_table_grid.h"

#include <algorithm>

namespace sida::ui {

namespace {

template <typename T>
T valueAt(const std::vector<T>& values, size_t index, T fallback) {
    return index < values.size() ? values[index] : fallback;
}

QString percent(double share) { return QString::number(share * 100.0, 'f', 1) + u'%'; }

} // namespace

int HashTableGrid::sequenceOfRequest(const BatchTrace& trace, uint64_t requestId) {
    for (size_t i = 0; i < trace.sequences.size(); ++i)
        if (trace.sequences[i].requestId == requestId) return static_cast<int>(i);
    return -1;
}

HashTableGrid HashTableGrid::fromTrace(const BatchTrace& trace, int sequence) {
    HashTableGrid grid;
    if (sequence < 0 || sequence >= static_cast<int>(trace.sequences.size())) return grid;
    const SequenceTrace& seq = trace.sequences[static_cast<size_t>(sequence)];
    grid.m_batchIndex = trace.batchIndex;
    grid.m_requestId = seq.requestId;
    grid.m_policy = trace.policy;
    grid.m_sentence = sentenceFromPieces(seq.pieces);
    const size_t tokens = seq.pieces.empty() ? seq.tokenIds.size() : seq.pieces.size();
    for (size_t t = 0; t < tokens; ++t)
        grid.m_tokens << (t < seq.pieces.size() ? pieceText(seq.pieces[t]).trimmed()
                                                : QString::number(seq.tokenIds[t]));
    grid.m_cells.resize(trace.layers.size() * tokens);
    for (size_t l = 0; l < trace.layers.size(); ++l) {
        const LayerTrace& layer = trace.layers[l];
        grid.m_blocks.push_back(layer.block);
        grid.m_numExperts = std::max(grid.m_numExperts, layer.numExperts);
        const size_t k = static_cast<size_t>(std::max(layer.topK, 0));
        grid.m_hasPrediction = grid.m_hasPrediction || (k > 0 && !layer.predicted.empty());
        grid.m_hasRouter = grid.m_hasRouter || !layer.router.empty();
        for (size_t t = 0; t < tokens; ++t) {
            const size_t global = static_cast<size_t>(seq.firstToken) + t;
            Cell& c = grid.m_cells[l * tokens + t];
            if (k > 0 && (global + 1) * k <= layer.predicted.size()) {
                c.predicted.assign(layer.predicted.begin() + static_cast<ptrdiff_t>(global * k),
                                   layer.predicted.begin() + static_cast<ptrdiff_t>((global + 1) * k));
                for (size_t j = 0; j < k; ++j)
                    c.predictedProb.push_back(valueAt(layer.predictedProb, global * k + j, 0.0f));
            }
            c.routed = valueAt<int32_t>(layer.routed, global, -1);
            c.router = valueAt<int32_t>(layer.router, global, -1);
            c.routerProb = valueAt(layer.routerProb, global, 0.0f);
        }
    }
    return grid;
}

const HashTableGrid::Cell& HashTableGrid::cell(int token, int layer) const {
    return m_cells.at(static_cast<size_t>(layer) * static_cast<size_t>(tokenCount()) +
                      static_cast<size_t>(token));
}

QString HashTableGrid::layerLabel(int layer) const {
    return QStringLiteral("layer %1 (block %2)").arg(layer).arg(block(layer));
}

int HashTableGrid::colourExpert(int token, int layer) const {
    const Cell& c = cell(token, layer);
    return c.predicted.empty() ? c.routed : c.predicted.front();
}

bool HashTableGrid::isMiss(int token, int layer) const {
    const Cell& c = cell(token, layer);
    return !c.predicted.empty() && c.router >= 0 && c.router != c.predicted.front();
}

std::vector<std::pair<int, int>> HashTableGrid::missCells() const {
    std::vector<std::pair<int, int>> misses;
    for (int l = 0; l < layerCount(); ++l)
        for (int t = 0; t < tokenCount(); ++t)
            if (isMiss(t, l)) misses.emplace_back(t, l);
    return misses;
}

double HashTableGrid::hitRate() const {
    int64_t compared = 0;
    int64_t hits = 0;
    for (const Cell& c : m_cells) {
        if (c.predicted.empty() || c.router < 0) continue;
        ++compared;
        hits += c.router == c.predicted.front() ? 1 : 0;
    }
    return compared == 0 ? -1.0 : static_cast<double>(hits) / static_cast<double>(compared);
}

QString HashTableGrid::describe(int token, int layer) const {
    if (token < 0 || layer < 0 || token >= tokenCount() || layer >= layerCount()) return {};
    const Cell& c = cell(token, layer);
    QString text = QStringLiteral("<b>%1</b> (token %2), %3<br>")
                       .arg(tokenLabel(token).toHtmlEscaped())
                       .arg(token)
                       .arg(layerLabel(layer));
    if (!c.predicted.empty()) {
        QStringList choices;
        for (size_t j = 0; j < c.predicted.size(); ++j)
            choices << QStringLiteral("expert %1 (%2)").arg(c.predicted[j]).arg(percent(c.predictedProb[j]));
        text += QStringLiteral("Predicted top-%1: %2<br>").arg(c.predicted.size()).arg(choices.join(u", "));
    } else {
        text += QStringLiteral("No prediction (%1 policy)<br>").arg(policyTitle(m_policy));
    }
    if (c.router >= 0) {
        text += QStringLiteral("Router: expert %1 (%2)").arg(c.router).arg(percent(c.routerProb));
        if (isMiss(token, layer))
            text += QStringLiteral(" <b>miss</b>");
        else if (!c.predicted.empty())
            text += QStringLiteral(" hit");
    } else {
        text += QStringLiteral("Router: not run (shadow router off)");
    }
    if (c.routed >= 0) text += QStringLiteral("<br>Ran: expert %1").arg(c.routed);
    return text;
}

QString HashTableGrid::title() const {
    if (isEmpty()) return {};
    QString text = QStringLiteral("“%1” · request %2 · batch %3 · %4 tokens · %5")
                       .arg(m_sentence.size() > 60 ? m_sentence.left(57) + QStringLiteral("…") : m_sentence)
                       .arg(m_requestId)
                       .arg(m_batchIndex)
                       .arg(tokenCount())
                       .arg(m_hasPrediction ? QStringLiteral("coloured by the predicted expert")
                                            : QStringLiteral("coloured by the expert that ran"));
    if (const double rate = hitRate(); rate >= 0) text += QStringLiteral(" · %1 hits").arg(percent(rate));
    return text;
}

} // namespace sida::ui
