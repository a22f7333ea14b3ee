// SPDX-License-Identifier: MIT
// The experts view: for each MoE layer a strip of its experts, coloured by how often each was used,
// marked by the memory tier that holds each (the device pool, the host cache, or only the disk), with
// marks for the experts the last batch copied in or evicted, and a legend drawn with the same cells.
#pragma once

#include "engine_types.h"
#include "expert_activity.h"
#include "expert_palette.h"
#include "expert_strip_layout.h"

#include <QList>
#include <QStringList>
#include <QWidget>

#include <vector>

class QLabel;
class QPainter;
class QScrollArea;

namespace sida::ui {

/// How one expert's cell is drawn.
struct ExpertCellLook {
    QColor fill; ///< from its usage
    ExpertTier tier = ExpertTier::Disk;
    bool copiedIn = false;
    bool evicted = false;
};
void paintExpertCell(QPainter& painter, const QRectF& cell, const ExpertCellLook& look,
                     const SemanticColors& colors);

/// The key to the cells: one sample cell per tier and mark, painted as the strips paint them.
class ExpertLegend : public QWidget {
    Q_OBJECT

public:
    explicit ExpertLegend(QWidget* parent = nullptr);
    /// Names the tiers as the engine does ("RAM pool (CPU)", "host RAM cache").
    void setTierNames(const QString& pool, const QString& host);
    /// The entries' texts, in order: pool, host cache, disk, copied in, evicted.
    QStringList entries() const;

protected:
    void changeEvent(QEvent* event) override;

private:
    struct Entry {
        QLabel* swatch = nullptr;
        QLabel* text = nullptr;
        ExpertCellLook look;
    };
    void paintSwatches();

    std::vector<Entry> m_entries;
};

/// The painted strips; geometry comes from ExpertStripLayout.
class ExpertStrips : public QWidget {
    Q_OBJECT

public:
    explicit ExpertStrips(const ExpertActivity& activity, QWidget* parent = nullptr);
    void refresh();
    const ExpertStripLayout& layout() const { return m_layout; }
    QSize sizeHint() const override;

protected:
    void paintEvent(QPaintEvent* event) override;
    void resizeEvent(QResizeEvent* event) override;
    bool event(QEvent* event) override;

private:
    void relayout();
    QString layerLabel(int layer) const;

    const ExpertActivity& m_activity;
    ExpertStripLayout m_layout;
};

class ExpertsView : public QWidget {
    Q_OBJECT

public:
    explicit ExpertsView(QWidget* parent = nullptr);

    /// Starts over for a model (its MoE blocks and experts per layer).
    void reset(const ModelInfo& info);
    void addTraces(const QList<TracePtr>& traces);
    /// Repaints when something changed since the last frame.
    void refresh();

    const ExpertActivity& activity() const { return m_activity; }
    const ExpertLegend& legend() const { return *m_legend; }
    /// The line above the strips.
    QString summary() const;

private:
    void updateSummary();

    ExpertActivity m_activity;
    QLabel* m_summary;
    ExpertLegend* m_legend;
    ExpertStrips* m_strips;
    QScrollArea* m_scroll;
    bool m_dirty = false;
};

} // namespace sida::ui
