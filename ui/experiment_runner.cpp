// SPDX-License-Identifier: MIT
#include "experiment_runner.h"

#include "engine_controller.h"

#include "sida/dataset.h"

#include <algorithm>
#include <cmath>
#include <numeric>

namespace sida::ui {

namespace {

double ratio(double a, double b) { return b <= 0.0 ? -1.0 : a / b; }

} // namespace

double RunRecord::samplesPerSecond() const {
    const double span = lastEnd - firstStart;
    return firstStart < 0 || span <= 0 ? 0.0 : completed / span;
}

double RunRecord::tokensPerSecond() const {
    const double span = lastEnd - firstStart;
    return firstStart < 0 || span <= 0 ? 0.0 : static_cast<double>(tokens) / span;
}

double RunRecord::meanLatencyMs() const {
    if (latenciesMs.empty()) return 0.0;
    return std::accumulate(latenciesMs.begin(), latenciesMs.end(), 0.0) /
           static_cast<double>(latenciesMs.size());
}

double RunRecord::percentileLatencyMs(double p) const {
    if (latenciesMs.empty()) return 0.0;
    std::vector<double> sorted = latenciesMs;
    std::sort(sorted.begin(), sorted.end());
    const auto index = static_cast<size_t>(std::ceil(p * static_cast<double>(sorted.size()))) - 1;
    return sorted[std::min(index, sorted.size() - 1)];
}

double RunRecord::meanResidentBytes() const {
    return batches == 0 ? 0.0 : residentSum / static_cast<double>(batches);
}
double RunRecord::accuracy() const { return ratio(correct, labelled); }
double RunRecord::agreement() const { return ratio(agreeing, compared); }
double RunRecord::hitRate() const {
    return ratio(static_cast<double>(hits), static_cast<double>(hits + misses));
}

ExperimentRunner::ExperimentRunner(EngineController* controller, QObject* parent)
    : QObject(parent), m_controller(controller) {
    connect(controller, &EngineController::resultsArrived, this, &ExperimentRunner::onResults);
    connect(controller, &EngineController::tracesArrived, this, &ExperimentRunner::onTraces);
}

QString ExperimentRunner::tagPrefix(int run) const {
    return QStringLiteral("exp:%1:%2:").arg(m_experiment).arg(run);
}

bool ExperimentRunner::start(const QList<RunSpec>& runs, const QList<InputText>& inputs, QString* error) {
    auto fail = [error](const QString& message) {
        if (error) *error = message;
        return false;
    };
    if (isRunning()) return fail(QStringLiteral("a comparison is already running"));
    if (!m_controller->isServing()) return fail(QStringLiteral("no model is being served"));
    if (runs.isEmpty() || inputs.isEmpty()) return fail(QStringLiteral("nothing to run"));
    const PipelineStats stats = m_controller->stats();
    if (stats.completed < stats.submitted)
        return fail(
            QStringLiteral("the pipeline is still busy with %1 inputs: wait for them or cancel them first")
                .arg(stats.submitted - stats.completed));

    m_inputs = inputs;
    m_runs.clear();
    for (const RunSpec& spec : runs) {
        RunRecord record;
        record.spec = spec;
        record.labels.assign(static_cast<size_t>(inputs.size()), -1);
        m_runs.push_back(std::move(record));
    }
    const std::vector<std::string>& labels = m_controller->modelInfo().labels;
    m_expected.clear();
    for (const InputText& input : inputs)
        m_expected.push_back(
            input.expectedLabel.isEmpty() ? -1 : labelId(input.expectedLabel.toStdString(), labels));
    m_userOptions = m_controller->options();
    m_cancelled = false;
    ++m_experiment;
    if (!startRun(0, error)) {
        m_current = -1;
        m_controller->setOptions(m_userOptions);
        return false;
    }
    return true;
}

bool ExperimentRunner::startRun(int run, QString* error) {
    m_current = run;
    RunRecord& record = m_runs[static_cast<size_t>(run)];
    if (const QString refused = m_controller->setOptions(record.spec.options); !refused.isEmpty()) {
        if (error) *error = QStringLiteral("%1: %2").arg(record.spec.name, refused);
        return false;
    }
    // The controller may have adjusted the settings to what the model can run.
    record.spec.options = m_controller->options();
    std::vector<Request> requests;
    for (qsizetype i = 0; i < m_inputs.size(); ++i) {
        Request request;
        request.text = m_inputs[i].text.toStdString();
        if (m_inputs[i].pair) request.pair = m_inputs[i].pair->toStdString();
        request.tag = (tagPrefix(run) + QString::number(i)).toStdString();
        requests.push_back(std::move(request));
    }
    record.submitted = static_cast<int>(requests.size());
    m_currentJob = m_controller->submit(std::move(requests), error);
    if (m_currentJob == 0) return false;
    Q_EMIT runStarted(run);
    return true;
}

void ExperimentRunner::cancel() {
    if (!isRunning()) return;
    m_cancelled = true;
    m_controller->cancelJob(m_currentJob);
}

void ExperimentRunner::onResults(const QList<RequestResult>& results) {
    if (!isRunning()) return;
    RunRecord& record = m_runs[static_cast<size_t>(m_current)];
    const std::string prefix = tagPrefix(m_current).toStdString();
    for (const RequestResult& r : results) {
        if (r.tag.rfind(prefix, 0) != 0) continue;
        const auto index = static_cast<size_t>(std::stoul(r.tag.substr(prefix.size())));
        ++record.completed;
        if (!r.classification.ok()) {
            ++record.failed;
            continue;
        }
        record.latenciesMs.push_back(r.latencyMs);
        record.labels[index] = r.classification.label;
        if (m_expected[index] >= 0) {
            ++record.labelled;
            record.correct += r.classification.label == m_expected[index] ? 1 : 0;
        }
        if (m_current > 0 && m_runs.front().labels[index] >= 0) {
            ++record.compared;
            record.agreeing += m_runs.front().labels[index] == r.classification.label ? 1 : 0;
        }
    }
    finishRunIfComplete();
}

void ExperimentRunner::onTraces(const QList<TracePtr>& traces) {
    if (!isRunning()) return;
    RunRecord& record = m_runs[static_cast<size_t>(m_current)];
    const std::string prefix = tagPrefix(m_current).toStdString();
    QList<TracePtr> mine;
    for (const TracePtr& trace : traces) {
        const bool ours = std::any_of(trace->sequences.begin(), trace->sequences.end(),
                                      [&](const SequenceTrace& s) { return s.tag.rfind(prefix, 0) == 0; });
        if (!ours) continue;
        record.traced += static_cast<int>(
            std::count_if(trace->sequences.begin(), trace->sequences.end(),
                          [&](const SequenceTrace& s) { return s.tag.rfind(prefix, 0) == 0; }));
        if (record.firstStart < 0) record.firstStart = trace->startedSeconds;
        record.lastEnd = std::max(record.lastEnd, batchEndSeconds(*trace));
        ++record.batches;
        record.tokens += static_cast<uint64_t>(trace->tokens);
        record.bytesCopied += trace->bytesCopied;
        const auto resident = static_cast<double>(trace->memory.residentExpertBytes);
        record.residentSum += resident;
        record.peakResident = std::max(record.peakResident, resident);
        record.allExpertBytes = static_cast<double>(trace->memory.allExpertBytes);
        record.memoryTier = qs(trace->memory.tier);
        for (const LayerTrace& layer : trace->layers) {
            record.hits += layer.hits;
            record.misses += layer.misses;
        }
        // The overlay plots start every run at zero seconds.
        BatchTrace shifted;
        shifted.startedSeconds = trace->startedSeconds - record.firstStart;
        shifted.timing = trace->timing;
        shifted.memory = trace->memory;
        shifted.tokens = trace->tokens;
        shifted.bytesCopied = trace->bytesCopied;
        shifted.hashQueueDepth = trace->hashQueueDepth;
        shifted.sequences.resize(trace->sequences.size());
        record.memory.add(shifted);
        record.throughput.add(shifted);
        mine << trace;
    }
    if (!mine.isEmpty()) Q_EMIT runTraces(m_current, mine);
    finishRunIfComplete();
}

void ExperimentRunner::finishRunIfComplete() {
    const int run = m_current;
    if (run < 0 || !m_runs[static_cast<size_t>(run)].complete()) return;
    m_runs[static_cast<size_t>(run)].finished = true;
    Q_EMIT runFinished(run);
    if (m_cancelled || run + 1 >= static_cast<int>(m_runs.size())) {
        finishAll(m_cancelled);
        return;
    }
    QString error;
    if (!startRun(run + 1, &error)) {
        finishAll(true);
        Q_EMIT failed(error);
    }
}

void ExperimentRunner::finishAll(bool cancelled) {
    m_current = -1;
    m_currentJob = 0;
    m_controller->setOptions(m_userOptions);
    Q_EMIT finished(cancelled);
}

} // namespace sida::ui
