// SPDX-License-Identifier: MIT
// The one bridge between SiDA Studio and the engine. It owns the model and the serving pipeline, runs
// everything slow (loading, training) on worker threads, and turns engine callbacks into signals on
// the GUI thread carrying value snapshots. Views never call the engine themselves.
#pragma once

#include "engine_inbox.h"
#include "engine_types.h"

#include "sida/device.h"
#include "sida/predictor.h"

#include <QFutureWatcher>
#include <QList>
#include <QObject>
#include <QString>
#include <QThreadPool>
#include <QTimer>

#include <deque>
#include <map>
#include <memory>
#include <optional>

namespace sida::ui {

class EngineController : public QObject {
    Q_OBJECT

public:
    /// Frames per second at most: the views repaint on this clock, never per batch.
    static constexpr int kFrameIntervalMs = 33;

    explicit EngineController(QObject* parent = nullptr);
    ~EngineController() override;

    // --- The model ---------------------------------------------------------------------------
    /// Loads a model folder off the GUI thread; a load in progress is cancelled first.
    void loadModel(const QString& dir, const LoadOptions& options);
    /// Loads the same folder again with other options (another device, after training a predictor).
    void reloadModel(const LoadOptions& options);
    void cancelLoad();
    bool isLoading() const { return m_loadWatcher.isRunning(); }
    bool hasModel() const { return m_model != nullptr; }
    /// Only valid while hasModel().
    const ModelInfo& modelInfo() const;
    QString modelDir() const { return m_modelDir; }
    LoadOptions loadOptions() const { return m_loadOptions; }

    // --- Serving -----------------------------------------------------------------------------
    bool isServing() const { return m_pipeline != nullptr; }
    /// The settings the pipeline runs with (the requested ones, or a fallback the model allows).
    PipelineOptions options() const { return m_options; }
    /// Applies new settings from the next batch on. Returns the reason when the model cannot run
    /// them (nothing changes then).
    QString setOptions(const PipelineOptions& options);
    /// Queues requests as one job and returns its app-wide id, or 0 with `error` set.
    quint64 submit(std::vector<Request> requests, QString* error = nullptr);
    void cancelJob(quint64 jobId);
    void cancelAll();
    PipelineStats stats() const;

    /// The newest trace, and recent ones by batch index (for pinning a results row).
    TracePtr latestTrace() const { return m_latestTrace; }
    TracePtr traceForBatch(quint64 batchIndex) const;

    // --- Devices -----------------------------------------------------------------------------
    /// Lists the CPU and CUDA devices off the GUI thread (probing CUDA can take a moment);
    /// devicesListed follows.
    void refreshDevices();

    // --- Background jobs ---------------------------------------------------------------------
    /// Trains the loaded model's predictor, then loads the model again with it.
    bool startPredictorTraining(PredictorTrainOptions options);
    void cancelBackgroundJob();
    bool isBackgroundJobRunning() const { return m_trainWatcher.isRunning(); }

Q_SIGNALS:
    void loadStarted(const QString& dir);
    void loadProgress(const QString& stage, qint64 done, qint64 total);
    void modelLoaded(const sida::ModelInfo& info);
    void loadFailed(const QString& dir, const QString& message);
    void loadCancelled(const QString& dir);
    /// Something the user should know about the serving setup ("no predictor: using Standard").
    void servingNote(const QString& note);
    void optionsChanged(const sida::PipelineOptions& options);
    void resultsArrived(const QList<sida::RequestResult>& results);
    void tracesArrived(const QList<sida::ui::TracePtr>& traces);
    /// Every frame, after the data of that frame was delivered: the moment to repaint.
    void frameTick();

    void devicesListed(const std::vector<sida::DeviceDescription>& devices);

    void backgroundStarted(const QString& what);
    void backgroundProgress(const QString& stage, qint64 done, qint64 total, const QString& detail);
    void backgroundFinished(const QString& summary);
    void backgroundFailed(const QString& message);

private:
    struct LoadOutcome {
        std::shared_ptr<Model> model;
        QString error;
        bool cancelled = false;
    };
    struct TrainOutcome {
        QString summary;
        QString error;
        bool cancelled = false;
    };

    void onLoadFinished();
    void onTrainFinished();
    void onFrame();
    void startPipeline();
    void retirePipeline();
    /// The requested settings, or the closest ones this model can run, with the reason.
    PipelineOptions runnableOptions(const PipelineOptions& requested, QString* note) const;
    ProgressCallback
    throttledProgress(std::function<void(const QString&, qint64, qint64, const QString&)> deliver);

    QThreadPool m_workers;
    QFutureWatcher<LoadOutcome> m_loadWatcher;
    QFutureWatcher<TrainOutcome> m_trainWatcher;
    QFutureWatcher<std::vector<DeviceDescription>> m_deviceWatcher;
    std::optional<CancelToken> m_loadCancel;
    std::optional<CancelToken> m_trainCancel;
    QString m_loadingDir;
    LoadOptions m_pendingLoadOptions;

    std::shared_ptr<Model> m_model;
    QString m_modelDir;
    LoadOptions m_loadOptions;

    std::shared_ptr<EngineInbox> m_inbox = std::make_shared<EngineInbox>();
    std::unique_ptr<Pipeline> m_pipeline;
    uint32_t m_generation = 0;
    PipelineOptions m_requested;
    PipelineOptions m_options;
    QList<QFuture<void>> m_retiring; ///< pipelines being shut down off the GUI thread

    QTimer m_frameTimer;
    TracePtr m_latestTrace;
    std::deque<TracePtr> m_recentTraces; ///< oldest first
    std::map<quint64, TracePtr> m_traceByBatch;
};

} // namespace sida::ui
