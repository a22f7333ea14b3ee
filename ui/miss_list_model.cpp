// SPDX-License-Identifier: MIT
#include "miss_list_model.h"

#include <algorithm>

namespace sida::ui {

namespace {

QString choice(int expert, float probability) {
    return QStringLiteral("%1 (%2%)").arg(expert).arg(probability * 100.0, 0, 'f', 1);
}

} // namespace

MissListModel::MissListModel(QObject* parent, int capacity)
    : QAbstractTableModel(parent), m_capacity(std::max(capacity, 1)) {}

int MissListModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(m_misses.size());
}

int MissListModel::columnCount(const QModelIndex& parent) const { return parent.isValid() ? 0 : ColumnCount; }

QVariant MissListModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal) return {};
    if (role == Qt::DisplayRole) {
        switch (section) {
        case BatchColumn:
            return QStringLiteral("Batch");
        case SentenceColumn:
            return QStringLiteral("Sentence");
        case TokenColumn:
            return QStringLiteral("Token");
        case LayerColumn:
            return QStringLiteral("Layer");
        case PredictedColumn:
            return QStringLiteral("Predicted (prob.)");
        case RouterColumn:
            return QStringLiteral("Router (prob.)");
        }
    }
    if (role == Qt::ToolTipRole && section == BatchColumn)
        return QStringLiteral("The number of the batch the miss happened in (1: the pipeline's first)");
    if (role == Qt::ToolTipRole && section == PredictedColumn)
        return QStringLiteral("The predictor's top-1 expert and its probability");
    if (role == Qt::ToolTipRole && section == RouterColumn)
        return QStringLiteral("The expert the (shadow) router chose and its probability");
    return {};
}

QVariant MissListModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount()) return {};
    const Miss& m = m_misses[static_cast<size_t>(index.row())];
    switch (role) {
    case Qt::DisplayRole:
        switch (index.column()) {
        case BatchColumn:
            return m.batchIndex;
        case SentenceColumn:
            return m.sentence;
        case TokenColumn:
            return QStringLiteral("%1 “%2”").arg(m.token).arg(m.piece);
        case LayerColumn:
            return QStringLiteral("%1 (block %2)").arg(m.layer).arg(m.block);
        case PredictedColumn:
            return choice(m.predicted, m.predictedProb);
        case RouterColumn:
            return choice(m.router, m.routerProb);
        }
        return {};
    case SortRole:
        switch (index.column()) {
        case BatchColumn:
            return m.batchIndex;
        case SentenceColumn:
            return m.sentence;
        case TokenColumn:
            return m.token;
        case LayerColumn:
            return m.layer;
        case PredictedColumn:
            return m.predictedProb;
        case RouterColumn:
            return m.routerProb;
        }
        return {};
    case LayerRole:
        return m.layer;
    case PredictedRole:
        return m.predicted;
    case RouterRole:
        return m.router;
    case BatchIndexRole:
        return m.batchIndex;
    case RequestIdRole:
        return m.requestId;
    case TokenRole:
        return m.token;
    case Qt::ToolTipRole:
        return QStringLiteral("%1<br>Click to open this sentence's hash table")
            .arg(m.sentence.toHtmlEscaped());
    }
    return {};
}

void MissListModel::addTraces(const QList<TracePtr>& traces) {
    std::vector<Miss> found;
    for (const TracePtr& trace : traces) {
        for (const SequenceTrace& seq : trace->sequences) {
            const QString sentence = sentenceFromPieces(seq.pieces);
            const auto tokens =
                static_cast<int64_t>(seq.pieces.empty() ? seq.tokenIds.size() : seq.pieces.size());
            for (size_t l = 0; l < trace->layers.size(); ++l) {
                const LayerTrace& layer = trace->layers[l];
                const auto k = static_cast<size_t>(std::max(layer.topK, 0));
                if (k == 0 || layer.predicted.empty() || layer.router.empty()) continue;
                for (int64_t t = 0; t < tokens; ++t) {
                    const auto g = static_cast<size_t>(seq.firstToken + t);
                    if (g >= layer.router.size() || (g + 1) * k > layer.predicted.size()) break;
                    if (layer.predicted[g * k] == layer.router[g]) continue;
                    Miss m;
                    m.batchIndex = trace->batchIndex;
                    m.requestId = seq.requestId;
                    m.sentence = sentence;
                    m.token = static_cast<int>(t);
                    m.piece = static_cast<size_t>(t) < seq.pieces.size()
                                  ? pieceText(seq.pieces[static_cast<size_t>(t)]).trimmed()
                                  : QString();
                    m.layer = static_cast<int>(l);
                    m.block = layer.block;
                    m.predicted = layer.predicted[g * k];
                    m.predictedProb = g * k < layer.predictedProb.size() ? layer.predictedProb[g * k] : 0.0f;
                    m.router = layer.router[g];
                    m.routerProb = g < layer.routerProb.size() ? layer.routerProb[g] : 0.0f;
                    found.push_back(std::move(m));
                }
            }
        }
    }
    if (found.empty()) return;
    // Keep the newest: when the new misses alone overflow the list, only their tail is kept.
    const auto capacity = static_cast<size_t>(m_capacity);
    if (found.size() > capacity) {
        m_dropped += found.size() - capacity;
        found.erase(found.begin(), found.end() - static_cast<ptrdiff_t>(capacity));
    }
    const size_t overflow =
        m_misses.size() + found.size() > capacity ? m_misses.size() + found.size() - capacity : 0;
    if (overflow > 0) {
        beginRemoveRows({}, 0, static_cast<int>(overflow) - 1);
        m_misses.erase(m_misses.begin(), m_misses.begin() + static_cast<ptrdiff_t>(overflow));
        m_dropped += overflow;
        endRemoveRows();
    }
    const int first = rowCount();
    beginInsertRows({}, first, first + static_cast<int>(found.size()) - 1);
    for (Miss& m : found) m_misses.push_back(std::move(m));
    endInsertRows();
}

void MissListModel::clear() {
    beginResetModel();
    m_misses.clear();
    m_dropped = 0;
    endResetModel();
}

MissFilterProxy::MissFilterProxy(QObject* parent) : QSortFilterProxyModel(parent) {
    setSortRole(MissListModel::SortRole);
}

void MissFilterProxy::setLayer(int layer) {
    if (layer == m_layer) return;
    m_layer = layer;
    invalidateFilter();
}

void MissFilterProxy::setExpert(int expert) {
    if (expert == m_expert) return;
    m_expert = expert;
    invalidateFilter();
}

bool MissFilterProxy::filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const {
    const QModelIndex index = sourceModel()->index(sourceRow, 0, sourceParent);
    if (m_layer >= 0 && index.data(MissListModel::LayerRole).toInt() != m_layer) return false;
    if (m_expert >= 0 && index.data(MissListModel::PredictedRole).toInt() != m_expert &&
        index.data(MissListModel::RouterRole).toInt() != m_expert)
        return false;
    return true;
}

} // namespace sida::ui
