// SPDX-License-Identifier: MIT
// The predictor debugger's list of misses: every token and layer where the predictor's top-1 differed
// from the shadow router's choice, newest last, capped so that a long session stays bounded.
#pragma once

#include "engine_types.h"

#include <QAbstractTableModel>
#include <QList>
#include <QSortFilterProxyModel>

#include <deque>

namespace sida::ui {

class MissListModel : public QAbstractTableModel {
    Q_OBJECT

public:
    enum Column {
        BatchColumn,
        SentenceColumn,
        TokenColumn,
        LayerColumn,
        PredictedColumn,
        RouterColumn,
        ColumnCount
    };
    enum Role {
        LayerRole = Qt::UserRole + 1,
        PredictedRole,
        RouterRole,
        BatchIndexRole,
        RequestIdRole,
        TokenRole,
        SortRole
    };

    struct Miss {
        quint64 batchIndex = 0;
        quint64 requestId = 0;
        QString sentence;
        int token = 0;
        QString piece;
        int layer = 0;
        qint64 block = 0;
        int predicted = -1;
        float predictedProb = 0.0f;
        int router = -1;
        float routerProb = 0.0f;
    };

    explicit MissListModel(QObject* parent = nullptr, int capacity = 20000);

    int rowCount(const QModelIndex& parent = {}) const override;
    int columnCount(const QModelIndex& parent = {}) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation, int role = Qt::DisplayRole) const override;

    /// Appends the misses of the traces (those with a prediction and a shadow router).
    void addTraces(const QList<TracePtr>& traces);
    void clear();

    const Miss& miss(int row) const { return m_misses.at(static_cast<size_t>(row)); }
    /// Misses that fell out of the list because it was full.
    quint64 dropped() const { return m_dropped; }

private:
    std::deque<Miss> m_misses;
    int m_capacity;
    quint64 m_dropped = 0;
};

/// Shows the misses of one layer and/or one expert (predicted or router's), or all.
class MissFilterProxy : public QSortFilterProxyModel {
    Q_OBJECT

public:
    explicit MissFilterProxy(QObject* parent = nullptr);
    void setLayer(int layer);   ///< -1: every layer
    void setExpert(int expert); ///< -1: every expert
    int layer() const { return m_layer; }
    int expert() const { return m_expert; }

protected:
    bool filterAcceptsRow(int sourceRow, const QModelIndex& sourceParent) const override;

private:
    int m_layer = -1;
    int m_expert = -1;
};

} // namespace sida::ui
