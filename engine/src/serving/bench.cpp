// SPDX-License-Identifier: MIT
// sida bench: the same inputs through the pipeline under each policy.
#include "device/device.h"
#include "io/tensor_io.h"
#include "model/model_impl.h"
#include "serving/expert_store.h"
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
    uint64_t peakResident = 0, bytesCopied = 0, budget = 0, allExperts = 0, hostBudget = 0;
    // From the policy's start, warm-up included: what the disk tier is measured over.
    std::vector<std::vector<int64_t>> needs; ///< per batch, the experts used in order of use
    double diskExposedMs = 0, diskHiddenMs = 0;
};

// The experts a batch's tokens ran on, as flat ids (layer-major), in the order the encoder used them.
std::vector<int64_t> expertsUsed(const BatchTrace& trace) {
    std::vector<int64_t> used;
    int64_t base = 0;
    for (const LayerTrace& layer : trace.layers) {
        for (size_t e = 0; e < layer.usage.size(); ++e)
            if (layer.usage[e] > 0) used.push_back(base + static_cast<int64_t>(e));
        base += layer.numExperts;
    }
    return used;
}

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
        c.needs.push_back(expertsUsed(*t));
        c.diskExposedMs += t->timing.diskReadExposedMs;
        c.diskHiddenMs += t->timing.diskReadHiddenMs;
        c.hostBudget = t->memory.hostBudgetBytes;
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
    // Each policy starts from empty caches, so that none pays for or profits from the one before.
    detail::ExpertStore& store = *model->impl().experts;
    {
        const auto lock = store.lock();
        store.clearCaches();
    }
    resetPeakResident();
    const uint64_t diskStart = store.hostCache().counters().bytesRead;
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
    run.hostBudgetBytes = c.hostBudget;
    run.diskBytesRead = store.hostCache().counters().bytesRead - diskStart;
    const auto entry = static_cast<uint64_t>(store.hostEntryBytes());
    run.diskBytesReadOptimal = optimalReadBytes(c.needs, static_cast<int64_t>(c.hostBudget / entry), entry);
    run.diskReadSecondsExposed = c.diskExposedMs / 1000.0;
    run.diskReadSecondsHidden = c.diskHiddenMs / 1000.0;
    run.peakRssBytes = peakResidentBytes();
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
    report.options = options.pipeline;
    report.memoryLimitBytes = availableMemory().cgroupLimitBytes;
    report.io = model->impl().experts->ioDescription();
    report.nonExpertBytes = static_cast<uint64_t>(model->info().nonExpertBytes);
    for (const DeviceDescription& d : listDevices())
        if (d.id == model->info().device) report.device += " (" + d.name + ")";
    for (Policy policy : options.policies)
        report.runs.push_back(runPolicy(model, inputs, policy, options, progress, cancel));
    return report;
}

uint64_t optimalReadBytes(const std::vector<std::vector<int64_t>>& needs, int64_t capacity,
                          uint64_t entryBytes) {
    std::vector<int64_t> sequence;
    for (const auto& step : needs) sequence.insert(sequence.end(), step.begin(), step.end());
    // nextUse[i]: where sequence[i] is needed again (sequence.size(): never).
    std::vector<size_t> nextUse(sequence.size());
    std::map<int64_t, size_t> seenAt;
    for (size_t i = sequence.size(); i-- > 0;) {
        const auto it = seenAt.find(sequence[i]);
        nextUse[i] = it == seenAt.end() ? sequence.size() : it->second;
        seenAt[sequence[i]] = i;
    }
    std::map<int64_t, size_t> cached;           // expert -> its next use
    std::set<std::pair<size_t, int64_t>> byUse; // (next use, expert), farthest last
    uint64_t reads = 0;
    for (size_t i = 0; i < sequence.size(); ++i) {
        const int64_t expert = sequence[i];
        if (const auto it = cached.find(expert); it != cached.end()) {
            byUse.erase({it->second, expert});
        } else {
            ++reads;
            if (static_cast<int64_t>(cached.size()) >= std::max<int64_t>(1, capacity)) {
                const auto farthest = std::prev(byUse.end());
                cached.erase(farthest->second);
                byUse.erase(farthest);
            }
        }
        cached[expert] = nextUse[i];
        byUse.insert({nextUse[i], expert});
    }
    return reads * entryBytes;
}

namespace {

nlohmann::json optionalRate(double value) {
    return value < 0 ? nlohmann::json(nullptr) : nlohmann::json(value);
}

} // namespace

std::string benchReportToJson(const BenchReport& report) {
    nlohmann::json runs = nlohmann::json::array();
    for (const BenchRun& r : report.runs)
        runs.push_back({{"policy", policyName(r.policy)},
                        {"samples", r.samples},
                        {"tokens", r.tokens},
                        {"errors", r.errors},
                        {"seconds", r.seconds},
                        {"samples_per_second", r.samplesPerSecond},
                        {"tokens_per_second", r.tokensPerSecond},
                        {"latency_p50_ms", r.latencyP50Ms},
                        {"latency_p95_ms", r.latencyP95Ms},
                        {"latency_p99_ms", r.latencyP99Ms},
                        {"batch_ms", r.batchMs},
                        {"copy_ms", r.copyMs},
                        {"copy_hidden_ms", r.copyHiddenMs},
                        {"peak_resident_expert_bytes", r.peakResidentExpertBytes},
                        {"mean_resident_expert_bytes", r.meanResidentExpertBytes},
                        {"mean_used_expert_bytes", r.meanUsedExpertBytes},
                        {"budget_bytes", r.budgetBytes},
                        {"all_expert_bytes", r.allExpertBytes},
                        {"bytes_copied", r.bytesCopied},
                        {"host_budget_bytes", r.hostBudgetBytes},
                        {"disk_bytes_read", r.diskBytesRead},
                        {"disk_bytes_read_optimal", r.diskBytesReadOptimal},
                        {"disk_read_seconds_exposed", r.diskReadSecondsExposed},
                        {"disk_read_seconds_hidden", r.diskReadSecondsHidden},
                        {"peak_rss_bytes", r.peakRssBytes},
                        {"hit_rate", optionalRate(r.hitRate)},
                        {"wait_for_hash_fraction", r.waitForHashFraction},
                        {"accuracy", optionalRate(r.accuracy)}});
    const PipelineOptions& o = report.options;
    const nlohmann::json out = {{"model", report.model},
                                {"device", report.device},
                                {"cpu", report.cpu},
                                {"threads", report.threads},
                                {"batch", o.batchSize},
                                {"top_k", o.topK},
                                {"device_budget", budgetText(o.deviceBudget)},
                                {"host_budget", budgetText(o.hostBudget)},
                                {"queue_depth", queueDepthFor(o)},
                                {"io", report.io},
                                {"memory_limit_bytes", report.memoryLimitBytes},
                                {"non_expert_bytes", report.nonExpertBytes},
                                {"eviction", evictionName(o.eviction)},
                                {"cache_across_batches", o.cacheAcrossBatches},
                                {"shadow_router", o.shadowRouter},
                                {"paper_preset", isPaperPreset(o)},
                                {"runs", runs}};
    return out.dump(2);
}

} // namespace sida
