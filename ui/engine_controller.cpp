// SPDX-License-Identifier: MIT
#include "engine_controller.h"

#include "sida/errors.h"

#include <QtConcurrent/QtConcurrentRun>

#include <chrono>

namespace sida::ui {

namespace {

// Recent traces kept for pinning a results row or a miss to its sentence's hash table.
constexpr size_t kRecentTraces = 2048;
// Progress reports are posted to the GUI at most this often; loads report every tensor.
constexpr auto kProgressInterval = std::chrono::milliseconds(50);

QString errorText(const std::exception& error) { return QString::fromUtf8(error.what()); }

} // namespace

EngineController::EngineController(QObject* parent) : QObject(parent) {
    registerMetaTypes();
    m_workers.setMaxThreadCount(4);
    connect(&m_loadWatcher, &QFutureWatcher<LoadOutcome>::finished, this, &EngineController::onLoadFinished);
    connect(&m_trainWatcher, &QFutureWatcher<TrainOutcome>::finished, this,
            &EngineController::onTrainFinished);
    connect(&m_deviceWatcher, &QFutureWatcher<std::vector<DeviceDescription>>::finished, this,
            [this] { Q_EMIT devicesListed(m_deviceWatcher.result()); });
    m_frameTimer.setInterval(kFrameIntervalMs);
    connect(&m_frameTimer, &QTimer::timeout, this, &EngineController::onFrame);
    m_frameTimer.start();
}

EngineController::~EngineController() {
    // Worker lambdas post progress to this object; none may outlive it.
    if (m_loadCancel) m_loadCancel->cancel();
    if (m_trainCancel) m_trainCancel->cancel();
    m_loadWatcher.waitForFinished();
    m_trainWatcher.waitForFinished();
    m_deviceWatcher.waitForFinished();
    m_pipeline.reset();
    for (QFuture<void>& retiring : m_retiring) retiring.waitForFinished();
    m_workers.waitForDone();
}

const ModelInfo& EngineController::modelInfo() const { return m_model->info(); }

ProgressCallback EngineController::throttledProgress(
    std::function<void(const QString&, qint64, qint64, const QString&)> deliver) {
    auto last = std::make_shared<std::chrono::steady_clock::time_point>();
    auto lastStage = std::make_shared<std::string>();
    return [this, deliver = std::move(deliver), last, lastStage](const Progress& p) {
        const auto now = std::chrono::steady_clock::now();
        const bool finalStep = p.total > 0 && p.done >= p.total;
        if (p.stage == *lastStage && !finalStep && now - *last < kProgressInterval) return;
        *last = now;
        *lastStage = p.stage;
        QMetaObject::invokeMethod(
            this,
            [deliver, stage = qs(p.stage), done = p.done, total = p.total, detail = qs(p.detail)] {
                deliver(stage, done, total, detail);
            },
            Qt::QueuedConnection);
    };
}

void EngineController::loadModel(const QString& dir, const LoadOptions& options) {
    if (isLoading()) {
        m_loadCancel->cancel();
        m_loadWatcher.waitForFinished();
    }
    m_loadCancel.emplace();
    m_loadingDir = dir;
    m_pendingLoadOptions = options;
    const CancelToken cancel = *m_loadCancel;
    const ProgressCallback progress =
        throttledProgress([this](const QString& stage, qint64 done, qint64 total, const QString&) {
            Q_EMIT loadProgress(stage, done, total);
        });
    Q_EMIT loadStarted(dir);
    m_loadWatcher.setFuture(QtConcurrent::run(&m_workers, [dir, options, cancel, progress]() -> LoadOutcome {
        LoadOutcome outcome;
        try {
            outcome.model = Model::load(dir.toStdString(), options, progress, cancel);
        } catch (const Cancelled&) {
            outcome.cancelled = true;
        } catch (const std::exception& error) {
            outcome.error = errorText(error);
        }
        return outcome;
    }));
}

void EngineController::reloadModel(const LoadOptions& options) {
    if (!m_modelDir.isEmpty()) loadModel(m_modelDir, options);
}

void EngineController::cancelLoad() {
    if (m_loadCancel) m_loadCancel->cancel();
}

void EngineController::onLoadFinished() {
    LoadOutcome outcome = m_loadWatcher.result();
    if (outcome.cancelled) {
        Q_EMIT loadCancelled(m_loadingDir);
        return;
    }
    if (!outcome.model) {
        Q_EMIT loadFailed(m_loadingDir, outcome.error);
        return;
    }
    retirePipeline();
    m_model = std::move(outcome.model);
    m_modelDir = m_loadingDir;
    m_loadOptions = m_pendingLoadOptions;
    m_latestTrace.reset();
    m_recentTraces.clear();
    m_traceByBatch.clear();
    Q_EMIT modelLoaded(m_model->info());
    startPipeline();
}

PipelineOptions EngineController::runnableOptions(const PipelineOptions& requested, QString* note) const {
    PipelineOptions options = requested;
    const ModelInfo& info = m_model->info();
    if (policyNeedsPredictor(options.policy) && !info.predictor.present) {
        *note = QStringLiteral("This model has no predictor, so %1 cannot run: serving On demand. "
                               "Train a predictor on the Model page to use SiDA.")
                    .arg(policyTitle(options.policy));
        options.policy = Policy::OnDemand;
    }
    const int experts = static_cast<int>(info.config.num_experts);
    if (options.topK > experts) options.topK = experts;
    if (options.policy == Policy::Oracle) options.topK = 1;
    return options;
}

void EngineController::startPipeline() {
    QString note;
    m_options = runnableOptions(m_requested, &note);
    ++m_generation;
    m_inbox->setCurrentGeneration(m_generation);
    const std::shared_ptr<EngineInbox> inbox = m_inbox;
    const uint32_t generation = m_generation;
    try {
        m_pipeline = std::make_unique<Pipeline>(
            m_model, m_options,
            [inbox, generation](const RequestResult& r) { inbox->postResult(generation, r); },
            [inbox, generation](std::shared_ptr<const BatchTrace> trace) {
                inbox->postTrace(generation, std::move(trace));
            });
    } catch (const std::exception& error) {
        note = QStringLiteral("The pipeline could not start: %1").arg(errorText(error));
    }
    if (!note.isEmpty()) Q_EMIT servingNote(note);
    Q_EMIT optionsChanged(m_options);
}

void EngineController::retirePipeline() {
    if (!m_pipeline) return;
    // Its destructor cancels what is pending (those results still reach the inbox) and joins the
    // engine threads, which waits for the running batch: never on the GUI thread.
    std::shared_ptr<Pipeline> retiring(std::move(m_pipeline));
    m_retiring.removeIf([](const QFuture<void>& f) { return f.isFinished(); });
    m_retiring << QtConcurrent::run(&m_workers, [retiring]() mutable { retiring.reset(); });
}

QString EngineController::setOptions(const PipelineOptions& requested) {
    m_requested = requested;
    if (!m_model) {
        m_options = requested;
        Q_EMIT optionsChanged(m_options);
        return {};
    }
    QString note;
    const PipelineOptions options = runnableOptions(requested, &note);
    try {
        validate(options, m_model->info());
        if (m_pipeline) m_pipeline->setOptions(options);
    } catch (const std::exception& error) {
        return errorText(error);
    }
    m_options = options;
    if (!note.isEmpty()) Q_EMIT servingNote(note);
    Q_EMIT optionsChanged(m_options);
    return {};
}

quint64 EngineController::submit(std::vector<Request> requests, QString* error) {
    auto fail = [error](const QString& message) -> quint64 {
        if (error) *error = message;
        return 0;
    };
    if (!m_pipeline)
        return fail(m_model ? QStringLiteral("the pipeline is not running")
                            : QStringLiteral("no model is loaded"));
    try {
        return EngineInbox::appJobId(m_generation, m_pipeline->submit(std::move(requests)));
    } catch (const std::exception& e) {
        return fail(errorText(e));
    }
}

void EngineController::cancelJob(quint64 jobId) {
    if (m_pipeline && EngineInbox::generationOf(jobId) == m_generation)
        m_pipeline->cancelJob(EngineInbox::engineJobId(jobId));
}

void EngineController::cancelAll() {
    if (m_pipeline) m_pipeline->cancelAll();
}

PipelineStats EngineController::stats() const { return m_pipeline ? m_pipeline->stats() : PipelineStats{}; }

TracePtr EngineController::traceForBatch(quint64 batchIndex) const {
    const auto it = m_traceByBatch.find(batchIndex);
    return it == m_traceByBatch.end() ? nullptr : it->second;
}

void EngineController::onFrame() {
    EngineInbox::Mail mail = m_inbox->take();
    if (!mail.results.empty())
        Q_EMIT resultsArrived(QList<RequestResult>(mail.results.begin(), mail.results.end()));
    if (!mail.traces.empty()) {
        for (const TracePtr& trace : mail.traces) {
            m_recentTraces.push_back(trace);
            m_traceByBatch[trace->batchIndex] = trace;
        }
        while (m_recentTraces.size() > kRecentTraces) {
            m_traceByBatch.erase(m_recentTraces.front()->batchIndex);
            m_recentTraces.pop_front();
        }
        m_latestTrace = mail.traces.back();
        Q_EMIT tracesArrived(QList<TracePtr>(mail.traces.begin(), mail.traces.end()));
    }
    Q_EMIT frameTick();
}

void EngineController::refreshDevices() {
    if (m_deviceWatcher.isRunning()) return;
    m_deviceWatcher.setFuture(QtConcurrent::run(&m_workers, [] {
        try {
            return listDevices();
        } catch (const std::exception&) {
            // The CPU is always there, even when probing CUDA fails.
            return std::vector<DeviceDescription>{DeviceDescription{"cpu", "CPU", false, 0, 0}};
        }
    }));
}

bool EngineController::startPredictorTraining(PredictorTrainOptions options) {
    if (isBackgroundJobRunning() || m_modelDir.isEmpty()) return false;
    options.modelDir = m_modelDir.toStdString();
    if (options.command.empty()) options.command = "SiDA Studio: Train predictor";
    m_trainCancel.emplace();
    const CancelToken cancel = *m_trainCancel;
    const ProgressCallback progress =
        throttledProgress([this](const QString& stage, qint64 done, qint64 total, const QString& detail) {
            Q_EMIT backgroundProgress(stage, done, total, detail);
        });
    auto onEpoch = [this](const PredictorEpoch& e) {
        const QString line = QStringLiteral("epoch %1: loss %2, dev top-1 %3%, top-3 %4%%5")
                                 .arg(e.epoch)
                                 .arg(e.loss, 0, 'f', 4)
                                 .arg(e.devTop1 * 100.0, 0, 'f', 1)
                                 .arg(e.devTop3 * 100.0, 0, 'f', 1)
                                 .arg(e.best ? QStringLiteral(" (best)") : QString());
        QMetaObject::invokeMethod(
            this, [this, line] { Q_EMIT backgroundProgress(QStringLiteral("training"), 0, 0, line); },
            Qt::QueuedConnection);
    };
    Q_EMIT backgroundStarted(QStringLiteral("Training the predictor"));
    m_trainWatcher.setFuture(
        QtConcurrent::run(&m_workers, [options, cancel, progress, onEpoch]() -> TrainOutcome {
            TrainOutcome outcome;
            try {
                const PredictorTrainResult r = trainPredictor(options, onEpoch, progress, cancel);
                outcome.cancelled = r.interrupted && r.bestEpoch == 0;
                outcome.summary =
                    QStringLiteral("Predictor trained: best dev top-1 hit rate %1% at epoch %2 (%3 s)%4")
                        .arg(r.bestDevTop1 * 100.0, 0, 'f', 1)
                        .arg(r.bestEpoch)
                        .arg(r.seconds, 0, 'f', 0)
                        .arg(r.interrupted ? QStringLiteral(", stopped early") : QString());
            } catch (const Cancelled&) {
                outcome.cancelled = true;
            } catch (const std::exception& error) {
                outcome.error = errorText(error);
            }
            return outcome;
        }));
    return true;
}

void EngineController::cancelBackgroundJob() {
    if (m_trainCancel) m_trainCancel->cancel();
}

void EngineController::onTrainFinished() {
    const TrainOutcome outcome = m_trainWatcher.result();
    if (!outcome.error.isEmpty()) {
        Q_EMIT backgroundFailed(outcome.error);
        return;
    }
    if (outcome.cancelled) {
        Q_EMIT backgroundFailed(QStringLiteral("Training was cancelled before any epoch finished."));
        return;
    }
    Q_EMIT backgroundFinished(outcome.summary);
    // The predictor files now sit beside the model: load it again to serve with them.
    reloadModel(m_loadOptions);
}

} // namespace sida::ui
