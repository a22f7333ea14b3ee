// SPDX-License-Identifier: MIT
// Runs the same inputs once per setting (Compare: standard vs sida vs ondemand; the sparsity lesson:
// one standard run over a data set) through the app's pipeline, one run after the other, and measures
// each from its results and batch traces. Settings change between runs only, never mid-batch.
#pragma once

#include "engine_types.h"
#include "results_model.h"
#include "time_series.h"

#include <QElapsedTimer>
#include <QList>
#include <QObject>
#include <QString>

#include <vector>

namespace sida::ui {

class EngineController;

struct RunSpec {
    QString name;
    PipelineOptions options;
};

/// What one run measured.
struct RunRecord {
    RunSpec spec;
    int submitted = 0;
    int completed = 0;
    int failed = 0;   ///< errors and cancellations
    int traced = 0;   ///< answered inputs seen in batch traces
    int labelled = 0; ///< inputs with an expected label the model knows
    int correct = 0;
    int agreeing = 0; ///< same label as the first run
    int compared = 0; ///< inputs both this run and the first run labelled
    std::vector<double> latenciesMs;
    std::vector<int64_t> labels; ///< per input, -1 until answered
    uint64_t batches = 0;
    uint64_t tokens = 0;
    uint64_t bytesCopied = 0;
    double firstStart = -1.0; ///< pipeline seconds of the run's first batch
    double lastEnd = 0.0;
    double residentSum = 0.0; ///< resident expert bytes, summed over batches
    double peakResident = 0.0;
    double allExpertBytes = 0.0;
    int64_t hits = 0;
    int64_t misses = 0;
    QString memoryTier;
    MemorySeries memory; ///< for the overlaid plots, seconds from the run's start
    ThroughputSeries throughput;
    bool finished = false;

    /// Every input has its result, and every answered input's batch trace has arrived (traces are
    /// published after results, so the last one may come a frame later).
    bool complete() const { return completed >= submitted && traced >= completed - failed; }
    double samplesPerSecond() const;
    double tokensPerSecond() const;
    double meanLatencyMs() const;
    double percentileLatencyMs(double p) const;
    double meanResidentBytes() const;
    double accuracy() const;  ///< -1 without labels
    double agreement() const; ///< -1 for the first run
    double hitRate() const;   ///< -1 without a shadow router
};

class ExperimentRunner : public QObject {
    Q_OBJECT

public:
    explicit ExperimentRunner(EngineController* controller, QObject* parent = nullptr);

    /// Starts the runs; false with `error` when the pipeline is busy or a setting is refused.
    bool start(const QList<RunSpec>& runs, const QList<InputText>& inputs, QString* error = nullptr);
    /// Cancels the run in progress and skips the rest; the settings are restored.
    void cancel();
    bool isRunning() const { return m_current >= 0; }
    int currentRun() const { return m_current; }
    const std::vector<RunRecord>& runs() const { return m_runs; }
    int inputCount() const { return static_cast<int>(m_inputs.size()); }

Q_SIGNALS:
    void runStarted(int run);
    /// New batches of a run arrived (its record is updated).
    void runTraces(int run, const QList<sida::ui::TracePtr>& traces);
    void runFinished(int run);
    void finished(bool cancelled);
    void failed(const QString& message);

private:
    void onResults(const QList<RequestResult>& results);
    void onTraces(const QList<TracePtr>& traces);
    bool startRun(int run, QString* error);
    void finishRunIfComplete();
    void finishAll(bool cancelled);
    QString tagPrefix(int run) const;

    EngineController* m_controller;
    QList<InputText> m_inputs;
    std::vector<RunRecord> m_runs;
    std::vector<int64_t> m_expected; ///< per input: the expected class id, -1 when unknown
    PipelineOptions m_userOptions;
    int m_current = -1;
    quint64 m_currentJob = 0;
    quint64 m_experiment = 0;
    bool m_cancelled = false;
};

} // namespace sida::ui
