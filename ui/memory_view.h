// SPDX-License-Identifier: MIT
// The memory view: device memory over time, split into non-expert weights, resident experts and the
// allocator's other use, with the expert budget and the all-experts-resident size as reference lines.
// On a CPU the same plot shows the RAM expert pool and says so.
#pragma once

#include "engine_types.h"
#include "time_series.h"

#include <QList>
#include <QWidget>

class QCustomPlot;
class QCPGraph;
class QLabel;

namespace sida::ui {

class MemoryView : public QWidget {
    Q_OBJECT

public:
    /// Seconds of history the plot shows.
    static constexpr double kWindowSeconds = 120.0;

    explicit MemoryView(QWidget* parent = nullptr);

    void clear();
    void addTraces(const QList<TracePtr>& traces);
    void refresh();

    const MemorySeries& series() const { return m_series; }
    /// Points drawn now (the capped window).
    int pointCount() const;
    QString title() const;

protected:
    void changeEvent(QEvent* event) override;

private:
    void applyPalette();
    void appendPoint(const MemoryPoint& point);
    void rebuildAll();

    MemorySeries m_series;
    QLabel* m_title;
    QLabel* m_note;
    QCustomPlot* m_plot;
    QCPGraph* m_nonExpert;
    QCPGraph* m_experts;
    QCPGraph* m_other;
    QCPGraph* m_budget;
    QCPGraph* m_allResident;
    ByteUnit m_unit;
    bool m_dirty = false;
};

} // namespace sida::ui
