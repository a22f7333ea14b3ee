// SPDX-License-Identifier: MIT
// The memory view: the three tiers experts live in, over time. The device pool (GPU memory, or the
// RAM pool on a CPU) split into non-expert weights, resident experts and the allocator's other use,
// with its budget and the all-experts-resident size as reference lines; the host cache against its
// budget; and the disk, as bytes read per batch and the read time the inference thread waited for
// against the read time hidden behind compute. Every tier is named as the engine names it.
#pragma once

#include "engine_types.h"
#include "time_series.h"

#include <QList>
#include <QWidget>

#include <array>

class QCustomPlot;
class QCPAxisRect;
class QCPGraph;
class QCPLegend;
class QCPTextElement;
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
    /// The summary line above the plots.
    QString title() const;
    /// The title over each tier's plot: the device pool, the host cache, disk reads, disk read time.
    QStringList plotTitles() const;
    /// The latest value each tier's main curve draws, in bytes (milliseconds for the read time), for
    /// tests: the pool's resident experts, the host cache, bytes read, read time waited.
    std::array<double, 4> latestDrawn() const;

protected:
    void changeEvent(QEvent* event) override;

private:
    enum Plot { PoolPlot, HostPlot, DiskPlot, ReadTimePlot, PlotCount };

    void createPlots();
    void createGraphs();
    QCPGraph* addGraph(Plot plot, const QString& name);
    void applyPalette();
    bool updateUnits();
    void appendPoint(const MemoryPoint& point);
    void rebuildAll();
    void updateTexts(const MemoryPoint& last);
    void updateRanges(double start, double end);

    MemorySeries m_series;
    QLabel* m_title;
    QLabel* m_note;
    QCustomPlot* m_plot;
    std::array<QCPAxisRect*, PlotCount> m_rects{};
    std::array<QCPTextElement*, PlotCount> m_titles{};
    std::array<QCPLegend*, PlotCount> m_legends{};
    // The device pool.
    QCPGraph* m_nonExpert = nullptr;
    QCPGraph* m_experts = nullptr;
    QCPGraph* m_other = nullptr;
    QCPGraph* m_budget = nullptr;
    QCPGraph* m_allResident = nullptr;
    // The host cache.
    QCPGraph* m_hostCached = nullptr;
    QCPGraph* m_hostBudget = nullptr;
    QCPGraph* m_allStored = nullptr;
    // The disk.
    QCPGraph* m_diskRead = nullptr;
    QCPGraph* m_readExposed = nullptr;
    QCPGraph* m_readHidden = nullptr;
    ByteUnit m_poolUnit;
    ByteUnit m_hostUnit;
    ByteUnit m_diskUnit;
    bool m_dirty = false;
};

} // namespace sida::ui
