// SPDX-License-Identifier: MIT
// The experts view: for each MoE layer a strip of its experts, coloured by how often each was used,
// framed when resident on the device (or in the CPU pool), with marks for the experts the last batch
// copied in or evicted.
#pragma once

#include "engine_types.h"
#include "expert_activity.h"
#include "expert_strip_layout.h"

#include <QList>
#include <QWidget>

class QLabel;
class QScrollArea;

namespace sida::ui {

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

private:
    void updateSummary();

    ExpertActivity m_activity;
    QLabel* m_summary;
    ExpertStrips* m_strips;
    QScrollArea* m_scroll;
    bool m_dirty = false;
};

} // namespace sida::ui
