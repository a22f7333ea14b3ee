// SPDX-License-Identifier: MIT
// sida bench: the same inputs through the pipeline under each policy.
#include "device/device.h"
#include "io/tensor_io.h"
#include "model/model_impl.h"
#include "train/trainer.h"

#include "sida/bench.h"
#include "sida/errors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <fstream>
#include <mutex>
#include <set>

namespace sida {
namespace {

using Clock = std::chrono::steady_clock;

double percentile(std::vector<double> values, double p) {
    if (values.empty()) return 0.0;
    std::sort(values.begin(), values.end());
    const size_t index = static_cast<size_t>(p * static_cast<double>(values.size() - 1) + 0.5);
    return values[std::min(index, values.size() - 1)];
}

// What the observers of one timed pass gather.
struct Collected {
    std::mutex mutex;
    bool measuring = false;
    std::vector<double> latencies;
    std::vector<int64_t> predictions;
    int64_t errors = 0, tokens = 0, hits = 0, misses = 0, batches = 0;
    double batchMs = 0, copyMs = 0, copyHiddenMs = 0, usedBytes = 0, residentBytes = 0;
    uint64_t peakResident = 0, bytesCopied = 0, budget = 0, allExperts = 0;
    std::map<std::string, size_t> indexOfTag;
};

BenchRun runPolicy(const std::shared_ptr<Model>& model, const std::vector<BenchInput>& inputs, Policy policy,
                   const BenchOptions& options, const ProgressCallback& progress, const CancelToken& cancel) {
    PipelineOptions o = options.pipeline;
    o.policy = policy;
    if (policy == Policy::Oracle) o.topK = 1;
    Collected c;
    c.predictions.assign(inputs.size(), -1);
    const int64_t expertBytes = model->info().expertBytes;
    auto onResult = [&](const RequestResult& r) {
        std::lock_guard lock(c.mutex);
        if (!c.measuring) return;
        c.latencies.push_back(r.latencyMs);
        if (!r.classification.ok())
            ++c.errors;
        else
            c.predictions[std::stoul(r.tag)] = r.classification.label;
        if (progress)
            progress({"bench " + policyName(policy), static_cast<int64_t>(c.latencies.size()),
                      static_cast<int64_t>(inputs.size()), ""});
    };
    auto onTrace = [&](std::shared_ptr<const BatchTrace> t) {
        std::lock_guard lock(c.mutex);
        if (!c.measuring) return;
        ++c.batches;
        c.tokens += t->tokens;
        c.batchMs += t->timing.totalMs - t->timing.waitForHashMs;
        c.copyMs += t->timing.copyMs;
        c.copyHiddenMs += t->timing.copyHiddenMs;
        c.residentBytes += static_cast<double>(t->memory.residentExpertBytes);
        c.peakResident = std::max(c.peakResident, t->memory.residentExpertBytes);
        c.bytesCopied += t->bytesCopied;
        c.budget = t->memory.budgetBytes;
        c.allExperts = t->memory.allExpertBytes;
        int64_t used = 0;
        for (const LayerTrace& l : t->layers) {
            used += static_cast<int64_t>(std::set<int32_t>(l.routed.begin(), l.routed.end()).size());
            c.hits += l.hits;
            c.misses += l.misses;
        }
        c.usedBytes += static_cast<double>(used * expertBytes);
        if (options.onTrace) options.onTrace(t);
    };
    Pipeline pipeline(model, o, onResult, onTrace);
    auto requests = [&](size_t first, size_t last) {
        std::vector<Request> batch;
        for (size_t i = first; i < last; ++i)
            batch.push_back({inputs[i].input.text, inputs[i].input.pair, std::to_string(i)});
        return batch;
    };
    const size_t warmup = std::min(inputs.size(), static_cast<size_t>(options.warmupBatches * o.batchSize));
    pipeline.submit(requests(0, warmup));
    pipeline.waitIdle();
    cancel.throwIfCancelled();
    const PipelineStats before = pipeline.stats();
    {
        std::lock_guard lock(c.mutex);
        c.measuring = true;
    }
    const auto start = Clock::now();
    const uint64_t job = pipeline.submit(requests(0, inputs.size()));
    while (true) {
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
        if (cancel.cancelled()) pipeline.cancelJob(job);
        const PipelineStats now = pipeline.stats();
        if (now.completed == now.submitted) break;
    }
    pipeline.waitIdle();
    const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
    cancel.throwIfCancelled();
    const PipelineStats after = pipeline.stats();

    std::lock_guard lock(c.mutex);
    BenchRun run;
    run.policy = policy;
    run.samples = static_cast<int64_t>(inputs.size());
    run.tokens = c.tokens;
    run.errors = c.errors;
    run.seconds = seconds;
    run.samplesPerSecond = static_cast<double>(run.samples) / seconds;
    run.tokensPerSecond = static_cast<double>(run.tokens) / seconds;
    run.latencyP50Ms = percentile(c.latencies, 0.50);
    run.latencyP95Ms = percentile(c.latencies, 0.95);
    run.latencyP99Ms = percentile(c.latencies, 0.99);
    const double batches = static_cast<double>(std::max<int64_t>(1, c.batches));
    run.batchMs = c.batchMs / batches;
    run.copyMs = c.copyMs / batches;
    run.copyHiddenMs = c.copyHiddenMs / batches;
    run.peakResidentExpertBytes = c.peakResident;
    run.meanResidentExpertBytes = c.residentBytes / batches;
    run.meanUsedExpertBytes = c.usedBytes / batches;
    run.budgetBytes = c.budget;
    run.allExpertBytes = c.allExperts;
    run.bytesCopied = c.bytesCopied;
    if (c.hits + c.misses > 0)
        run.hitRate = static_cast<double>(c.hits) / static_cast<double>(c.hits + c.misses);
    run.waitForHashFraction = (after.waitForHashSeconds - before.waitForHashSeconds) / seconds;
    run.predictions = c.predictions;
    int64_t labeled = 0, correct = 0;
    for (size_t i = 0; i < inputs.size(); ++i) {
        if (!inputs[i].label) continue;
        ++labeled;
        correct +=
            c.predictions[i] >= 0 && c.predictions[i] == labelId(*inputs[i].label, model->info().labels);
    }
    if (labeled > 0) run.accuracy = static_cast<double>(correct) / static_cast<double>(labeled);
    return run;
}

} // namespace

BenchReport runBench(const std::shared_ptr<Model>& model, const std::vector<BenchInput>& inputs,
                     const BenchOptions& options, const ProgressCallback& progress,
                     const CancelToken& cancel) {
    if (inputs.empty()) throw Error("nothing to benchmark: no inputs");
    if (options.policies.empty()) throw Error("no policy to benchmark");
    BenchReport report;
    report.model = model->info().path.string();
    report.device = model->info().device;
    report.cpu = detail::cpuModelName();
    report.threads = at::get_num_threads();
    for (const DeviceDescription& d : listDevices())
        if (d.id == model->info().device) report.device += " (" + d.name + ")";
    for (Policy policy : options.policies)
        report.runs.push_back(runPolicy(model, inputs, policy, options, progress, cancel));
    return report;
}

} // namespace sida
