// SPDX-License-Identifier: MIT
// The predictor debugger: per-layer hit rates (top-1, top-k), a predicted-vs-router confusion heatmap
// for one layer, and the list of misses, filterable by layer and expert; a miss opens its sentence's
// hash table.
#pragma once

#include "engine_types.h"
#include "miss_list_model.h"
#include "predictor_stats.h"

#include <QList>
#include <QWidget>

class QComboBox;
class QCustomPlot;
class QCPBars;
class QCPColorMap;
class QCPColorScale;
class QLabel;
class QTableView;

namespace sida::ui {

class PredictorView : public QWidget {
    Q_OBJECT

public:
    explicit PredictorView(QWidget* parent = nullptr);

    void reset(const ModelInfo& info);
    void addTraces(const QList<TracePtr>& traces);
    void refresh();
    /// Explains why there is nothing to show when the settings cannot produce misses.
    void setServingOptions(const PipelineOptions& options, bool hasPredictor);

    const PredictorStats& stats() const { return m_stats; }
    MissListModel* misses() const { return m_misses; }
    MissFilterProxy* missFilter() const { return m_filter; }
    QTableView* missTable() const { return m_table; }

Q_SIGNALS:
    /// The user picked a miss: show that sentence's hash table with the token outlined.
    void openSentence(quint64 batchIndex, quint64 requestId, int token);

protected:
    void changeEvent(QEvent* event) override;

private:
    void rebuildHitRates();
    void rebuildConfusion();
    void fillFilterChoices();
    void applyPalette();
    void onMissActivated(const QModelIndex& index);

    PredictorStats m_stats;
    MissListModel* m_misses;
    MissFilterProxy* m_filter;
    QLabel* m_summary;
    QLabel* m_hint;
    QCustomPlot* m_ratesPlot;
    QCPBars* m_top1;
    QCPBars* m_topK;
    QCustomPlot* m_confusionPlot;
    QCPColorMap* m_confusion;
    QCPColorScale* m_confusionScale;
    QComboBox* m_confusionLayer;
    QComboBox* m_layerFilter;
    QComboBox* m_expertFilter;
    QTableView* m_table;
    int m_layers = 0;
    int m_experts = 0;
    bool m_dirty = false;
};

} // namespace sida::ui
