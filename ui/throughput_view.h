// SPDX-License-Identifier: MIT
// The throughput view: samples/s and tokens/s, batch latency, the hash queue's depth (how far the hash
// thread runs ahead of inference) and bytes copied per second, over time, in stacked plots.
#pragma once

#include "engine_types.h"
#include "time_series.h"

#include <QColor>
#include <QList>
#include <QWidget>

class QCustomPlot;
class QCPAxisRect;
class QCPGraph;
class QLabel;

namespace sida::ui {

class ThroughputView : public QWidget {
    Q_OBJECT

public:
    static constexpr double kWindowSeconds = 120.0;

    explicit ThroughputView(QWidget* parent = nullptr);

    void clear();
    void addTraces(const QList<TracePtr>& traces);
    void refresh();

    const ThroughputSeries& series() const { return m_series; }
    int pointCount() const;

    /// How the samples/s and tokens/s curves, which share the throughput plot, tell themselves
    /// apart: each curve's colour and the colours of its own value axis's label and tick labels.
    struct CurveColours {
        QString name;
        QColor curve, axisLabel, tickLabels;
    };
    QList<CurveColours> throughputCurveColours() const;

protected:
    void changeEvent(QEvent* event) override;

private:
    void applyPalette();

    ThroughputSeries m_series;
    QLabel* m_summary;
    QCustomPlot* m_plot;
    QList<QCPAxisRect*> m_rects;
    QCPGraph* m_samples;
    QCPGraph* m_tokens;
    QCPGraph* m_latency;
    QCPGraph* m_queue;
    QCPGraph* m_copied;
    double m_copiedDivisor = 1.0;
    bool m_dirty = false;
};

} // namespace sida::ui
