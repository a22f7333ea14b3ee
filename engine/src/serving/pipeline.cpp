// SPDX-License-Identifier: MIT
// The two-thread pipeline. Requests flow in submission order through one path:
//   pending deque -> hash thread (batch, tokenize, hash table) -> bounded queue -> inference
//   thread (residency, encoder, results, trace).
// Cancelled and invalid requests travel the same path as marked entries, so that every request
// gets exactly one result, in order, from the inference thread.
#include "device/device.h"
#include "serving/bounded_queue.h"
#include "serving/budgets.h"
#include "serving/hash_builder.h"

#include "sida/errors.h"
#include "sida/pipeline.h"

#include <ATen/DeviceAccelerator.h>
#include <c10/core/Event.h>
#include <c10/core/InferenceMode.h>
#include <c10/core/StreamGuard.h>
#include <c10/core/impl/VirtualGuardImpl.h>
#include <c10/util/Exception.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <deque>
#include <map>
#include <set>
#include <thread>

namespace sida {
namespace {

using Clock = std::chrono::steady_clock;

double millisecondsSince(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

struct Entry {
    uint64_t id = 0;
    uint64_t job = 0;
    Request request;
    Clock::time_point submitted;
    std::atomic<bool> cancelled{false};
};
using EntryPtr = std::shared_ptr<Entry>;

// One batch on its way from the hash thread to the inference thread.
struct WorkItem {
    std::vector<EntryPtr> entries;
    std::vector<std::string> errors; ///< per entry; empty when it runs
    std::vector<Encoding> encodings; ///< per entry
    std::vector<size_t> runnable;    ///< entries in the batch, in order
    PipelineOptions options;
    uint64_t optionsVersion = 0; ///< which setOptions call `options` came from
    detail::TokenBatch batch;
    detail::HashTable table;
    std::string failure; ///< the hash thread could not build the table
    double hashBuildMs = 0.0;
    uint64_t lookaheadTicket = 0; ///< its experts in the store's lookahead (0: none)
    /// CUDA: recorded on the hash thread's stream once `batch` is made there; the inference
    /// thread's stream waits for it before reading the batch.
    std::optional<c10::Event> batchMade;
};

c10::Stream currentStream(const at::Device& device) {
    return c10::impl::VirtualGuardImpl(device.type()).getStream(device);
}

// The hash thread makes a batch on its own stream (CUDA): marks the point after which it is ready.
void markBatchMade(WorkItem& item, const at::Device& device) {
    if (!device.is_cuda() || !item.batch.ids.defined()) return;
    item.batchMade.emplace(device.type());
    item.batchMade->record(currentStream(device));
}

// The inference thread's stream waits for the hash thread's work on the batch before reading it,
// and the caching allocator learns that the batch's memory is in use on this stream too, so that
// the hash thread's stream cannot reuse it while kernels queued here may still read it.
void awaitBatch(const WorkItem& item, const at::Device& device) {
    if (!item.batchMade) return;
    const c10::Stream stream = currentStream(device);
    item.batchMade->block(stream);
    for (const at::Tensor* t :
         {&item.batch.ids, &item.batch.mask, &item.batch.realIndex, &item.batch.sequenceOf})
        if (t->defined() && t->is_cuda()) t->record_stream(stream);
}

template <class T>
std::vector<T> toVector(const at::Tensor& tensor) {
    const at::Tensor cpu = tensor.contiguous().cpu();
    return std::vector<T>(cpu.data_ptr<T>(), cpu.data_ptr<T>() + cpu.numel());
}

// What decides the caches' sizes: resolved again only when one of these changes.
struct AppliedBudgets {
    Budget device, host;
    bool everyExpert = false;
    bool operator==(const AppliedBudgets&) const = default;
};

AppliedBudgets budgetsOf(const PipelineOptions& o) {
    return {o.deviceBudget, o.hostBudget, o.policy == Policy::Standard};
}

} // namespace

struct Pipeline::Impl {
    Impl(std::shared_ptr<Model> model, PipelineOptions options, ResultCallback onResult,
         TraceObserver onTrace)
        : model(std::move(model)), m(this->model->impl()), onResult(std::move(onResult)),
          onTrace(std::move(onTrace)), options(options), queue(static_cast<size_t>(queueDepthFor(options))) {}

    std::shared_ptr<Model> model;
    Model::Impl& m;
    ResultCallback onResult;
    TraceObserver onTrace;

    mutable std::mutex mutex;
    std::condition_variable wake; ///< the hash thread: new requests, or stop
    std::condition_variable idle; ///< waitIdle: a result was delivered
    std::deque<EntryPtr> pending;
    struct Job {
        std::vector<std::weak_ptr<Entry>> entries;
        size_t remaining = 0; ///< results not delivered yet
    };
    std::map<uint64_t, Job> jobs; ///< jobs with results still to come
    PipelineOptions options;
    uint64_t optionsVersion = 0; ///< counts setOptions calls
    bool stopping = false;
    uint64_t nextRequest = 1, nextJob = 1;
    PipelineStats stats;
    Clock::time_point started = Clock::now();

    detail::BoundedQueue<WorkItem> queue;
    uint64_t nextBatch = 1;                ///< inference thread only
    std::optional<AppliedBudgets> applied; ///< inference thread only
    /// A budget lowered after the device ran out of memory (inference thread only). It holds for
    /// every later batch until new settings arrive: restoring the old budget would only run out again.
    struct LoweredBudget {
        uint64_t optionsVersion = 0;
        int64_t slots = 0;
    };
    std::optional<LoweredBudget> lowered;
    std::thread hashThread, inferenceThread;

    void hashLoop();
    void inferenceLoop();
    WorkItem form(std::vector<EntryPtr> entries, const PipelineOptions& options, uint64_t optionsVersion);
    void run(WorkItem& item, double waitMs, int depth);
    /// Fills the trace's identity, timing and memory once the batch has run.
    void describe(BatchTrace& trace, const WorkItem& item, double waitMs, int depth, Clock::time_point start);
    /// Adds a finished batch to the totals.
    void record(const BatchTrace& trace, double waitMs, Clock::time_point start);
    void apply(const WorkItem& item);
    /// Puts a batch's predicted experts in the lookahead and starts reading them from disk.
    void announce(WorkItem& item);
    void deliver(std::vector<RequestResult>& results);
    std::shared_ptr<BatchTrace> compute(WorkItem& item, std::vector<RequestResult>& results);
};

WorkItem Pipeline::Impl::form(std::vector<EntryPtr> entries, const PipelineOptions& o,
                              uint64_t optionsVersion) {
    WorkItem item;
    item.options = o;
    item.optionsVersion = optionsVersion;
    item.entries = std::move(entries);
    item.errors.resize(item.entries.size());
    item.encodings.resize(item.entries.size());
    std::vector<std::vector<int64_t>> sequences;
    for (size_t i = 0; i < item.entries.size(); ++i) {
        const Entry& e = *item.entries[i];
        if (e.cancelled) continue;
        const TextInput input{e.request.text, e.request.pair};
        item.errors[i] = validateInput(input);
        if (!item.errors[i].empty()) continue;
        try {
            item.encodings[i] = m.encode(input);
        } catch (const std::exception& error) {
            item.errors[i] = error.what();
            continue;
        }
        item.runnable.push_back(i);
        sequences.push_back(item.encodings[i].ids);
    }
    if (item.runnable.empty()) return item;
    const auto start = Clock::now();
    try {
        item.batch = m.pad(sequences);
        item.table = detail::buildHashTable(m, item.batch, o.policy, o.topK);
    } catch (const std::exception& error) {
        item.failure = std::string("building the hash table failed: ") + error.what();
    }
    markBatchMade(item, m.device);
    item.hashBuildMs = millisecondsSince(start);
    return item;
}

void Pipeline::Impl::hashLoop() {
    detail::setCallingThreadComputeThreads(1);
    c10::InferenceMode inference;
    // With CUDA the predictor runs on its own stream, beside the inference thread's work.
    std::optional<c10::StreamGuard> ownStream;
    if (m.device.is_cuda())
        ownStream.emplace(
            c10::impl::VirtualGuardImpl(m.device.type()).getStreamFromGlobalPool(m.device, false));
    while (true) {
        std::vector<EntryPtr> taken;
        PipelineOptions o;
        uint64_t version = 0;
        {
            std::unique_lock lock(mutex);
            wake.wait(lock, [&] { return stopping || !pending.empty(); });
            if (pending.empty()) break;
            o = options;
            version = optionsVersion;
            while (!pending.empty() && taken.size() < static_cast<size_t>(o.batchSize)) {
                taken.push_back(std::move(pending.front()));
                pending.pop_front();
            }
        }
        queue.setCapacity(static_cast<size_t>(queueDepthFor(o)));
        WorkItem item = form(std::move(taken), o, version);
        announce(item);
        const uint64_t ticket = item.lookaheadTicket;
        if (!queue.push(std::move(item))) {
            m.experts->lookahead().remove(ticket);
            break;
        }
    }
    queue.close();
}

void Pipeline::Impl::announce(WorkItem& item) {
    if (item.table.empty()) return;
    item.lookaheadTicket = m.experts->lookahead().add(item.table.needed);
    m.experts->planReads();
}

void Pipeline::Impl::apply(const WorkItem& item) {
    detail::ExpertStore& store = *m.experts;
    const PipelineOptions& o = item.options;
    // Settings the user chose after the budget was lowered replace it.
    if (lowered && lowered->optionsVersion != item.optionsVersion) {
        lowered.reset();
        applied.reset();
    }
    if (applied != budgetsOf(o)) {
        const detail::CacheSizes sizes = detail::resolveCacheSizes(
            o.deviceBudget, o.hostBudget, o.policy == Policy::Standard, o.policy == Policy::Oracle, store);
        store.setCapacity(lowered ? std::min(sizes.poolSlots, lowered->slots) : sizes.poolSlots, o.eviction);
        store.hostCache().setCapacity(sizes.hostEntries);
        applied = budgetsOf(o);
    }
    // Standard holds every expert, unless a lowered budget leaves no room for them all: then its
    // experts are fetched as the routers ask for them, which changes the cost but not the output.
    if (o.policy == Policy::Standard && store.capacity() == store.totalExperts() &&
        store.residentCount() < store.totalExperts())
        store.fillAll();
}

std::shared_ptr<BatchTrace> Pipeline::Impl::compute(WorkItem& item, std::vector<RequestResult>& results) {
    detail::ExpertStore& store = *m.experts;
    const PipelineOptions& o = item.options;
    const bool hasTable = !item.table.empty();
    auto trace = std::make_shared<BatchTrace>();
    detail::ResidencyLog log;
    detail::EncoderOutput out;
    at::Tensor probs;
    const auto computeStart = Clock::now();
    const detail::HostCache::Counters diskBefore = store.hostCache().counters();
    double applyMs = 0.0; ///< sizing and filling the pool: not compute
    for (int attempt = 0;; ++attempt) {
        try {
            // Inside the retry: filling the pool can run out of memory too.
            const auto applyStart = Clock::now();
            apply(item);
            applyMs += millisecondsSince(applyStart);
            detail::ServingHooks hooks(store, o, m.options.noDrop, hasTable ? &item.table : nullptr, m.dtype,
                                       m.device, log);
            hooks.prefetch();
            out = detail::runEncoder(m.config(), m.weights, item.batch, hooks, {});
            probs = at::softmax(detail::classifierLogits(m.weights, out.hidden, item.batch.mask, {}), -1)
                        .to(at::kDouble)
                        .cpu();
            break;
        } catch (const c10::OutOfMemoryError&) {
            // Degrade instead of failing: a smaller expert pool, then the same batch again.
            if (store.capacity() <= 1 || attempt >= 16) throw;
            lowered = LoweredBudget{item.optionsVersion, store.capacity() / 2};
            store.setCapacity(lowered->slots, o.eviction);
            // The caching allocator's free blocks go back to the device (there is none on the CPU).
            if (!m.device.is_cpu()) at::accelerator::emptyCache();
        }
    }
    trace->timing.computeMs = millisecondsSince(computeStart) - applyMs - log.copyMs;
    trace->timing.copyMs = log.copyMs;
    trace->timing.copyHiddenMs = log.copyHiddenMs;
    const detail::HostCache::Counters diskAfter = store.hostCache().counters();
    trace->diskBytesRead = diskAfter.bytesRead - diskBefore.bytesRead;
    trace->timing.diskReadExposedMs = log.diskWaitMs;
    trace->timing.diskReadHiddenMs =
        std::max(0.0, 1000.0 * (diskAfter.readBusySeconds - diskBefore.readBusySeconds) - log.diskWaitMs);

    // Sequences and their results.
    const at::Tensor sequenceOf = item.batch.sequenceOf.cpu();
    int64_t firstToken = 0;
    for (size_t b = 0; b < item.runnable.size(); ++b) {
        const size_t i = item.runnable[b];
        RequestResult& r = results[i];
        const at::Tensor row = probs[static_cast<int64_t>(b)];
        r.classification.probabilities = toVector<double>(row);
        r.classification.label = row.argmax().item<int64_t>();
        r.classification.labelName = m.info.labels.empty() ? "" : m.info.labels[r.classification.label];
        r.classification.confidence = r.classification.probabilities[r.classification.label];
        r.classification.tokens = static_cast<int64_t>(item.encodings[i].ids.size());
        r.classification.truncated = item.encodings[i].truncated;
        SequenceTrace s;
        s.requestId = r.requestId;
        s.tag = r.tag;
        s.firstToken = firstToken;
        s.tokenIds = item.encodings[i].ids;
        for (int64_t id : s.tokenIds) s.pieces.push_back(m.tokenizer->piece(id));
        s.label = r.classification.label;
        s.confidence = r.classification.confidence;
        firstToken += static_cast<int64_t>(s.tokenIds.size());
        trace->sequences.push_back(std::move(s));
    }

    // Layers.
    for (size_t l = 0; l < out.moe.size(); ++l) {
        const detail::MoeRecord& record = out.moe[l];
        LayerTrace layer;
        layer.block = m.info.moeBlocks[l];
        layer.numExperts = static_cast<int>(m.config().num_experts);
        const at::Tensor decided = record.decision.experts.cpu();
        layer.routed = toVector<int32_t>(decided.select(1, 0).to(at::kInt));
        layer.usage = toVector<int64_t>(at::bincount(decided.reshape({-1}), {}, m.config().num_experts));
        if (hasTable) {
            layer.topK = static_cast<int>(item.table.experts[l].size(1));
            layer.predicted = toVector<int32_t>(item.table.experts[l].to(at::kInt));
            layer.predictedProb = toVector<float>(item.table.probs[l].to(at::kFloat));
        }
        if (record.router) {
            layer.router = toVector<int32_t>(record.router->expert.to(at::kInt));
            layer.routerProb = toVector<float>(record.router->prob.to(at::kFloat));
        }
        layer.copiedIn = log.copiedIn[l];
        layer.evicted = log.evicted[l];
        layer.fetchedOnDemand = log.fetchedOnDemand[l];
        layer.resident = store.residentExperts(static_cast<int>(l));
        layer.hostCached = store.hostCache().cachedExperts(static_cast<int>(l));
        const bool comparable = hasTable && record.router;
        for (size_t t = 0; t < layer.routed.size(); ++t) {
            const size_t b = static_cast<size_t>(sequenceOf[static_cast<int64_t>(t)].item<int64_t>());
            RequestResult& r = results[item.runnable[b]];
            if (!comparable) continue;
            const bool hit = layer.predicted[t * layer.topK] == layer.router[t];
            (hit ? layer.hits : layer.misses)++;
            (hit ? r.predictorHits : r.predictorMisses)++;
        }
        // Distinct experts each request's tokens used in this layer.
        std::vector<std::set<int64_t>> used(item.runnable.size());
        const auto flat = toVector<int64_t>(decided);
        const auto k = decided.size(1);
        for (size_t t = 0; t < layer.routed.size(); ++t)
            for (int64_t j = 0; j < k; ++j)
                used[static_cast<size_t>(sequenceOf[static_cast<int64_t>(t)].item<int64_t>())].insert(
                    flat[t * k + j]);
        for (size_t b = 0; b < used.size(); ++b)
            results[item.runnable[b]].expertsActivated += static_cast<int64_t>(used[b].size());
        trace->layers.push_back(std::move(layer));
    }
    trace->tokens = firstToken;
    trace->bytesCopied = log.bytesCopied;
    return trace;
}

void Pipeline::Impl::run(WorkItem& item, double waitMs, int depth) {
    const auto start = Clock::now();
    // Cancellation is decided here, before the batch runs: what is cancelled now gets a
    // cancelled result; what runs gets its real result.
    std::vector<bool> cancelled(item.entries.size());
    bool anyToRun = false;
    for (size_t i = 0; i < item.entries.size(); ++i) cancelled[i] = item.entries[i]->cancelled;
    for (size_t i : item.runnable) anyToRun = anyToRun || !cancelled[i];

    std::vector<RequestResult> results(item.entries.size());
    for (size_t i = 0; i < item.entries.size(); ++i) {
        results[i].requestId = item.entries[i]->id;
        results[i].jobId = item.entries[i]->job;
        results[i].tag = item.entries[i]->request.tag;
    }
    std::shared_ptr<BatchTrace> trace;
    if (anyToRun && item.failure.empty()) {
        m.experts->planReads();
        const auto lock = m.experts->lock();
        try {
            awaitBatch(item, m.device);
            trace = compute(item, results);
            describe(*trace, item, waitMs, depth, start);
        } catch (const std::exception& error) {
            item.failure = std::string("inference failed: ") + error.what();
            trace.reset();
        }
    }
    for (size_t i = 0; i < item.entries.size(); ++i) {
        RequestResult& r = results[i];
        const bool ran =
            trace && std::find(item.runnable.begin(), item.runnable.end(), i) != item.runnable.end();
        if (cancelled[i]) {
            RequestResult blank;
            blank.requestId = r.requestId;
            blank.jobId = r.jobId;
            blank.tag = std::move(r.tag);
            r = std::move(blank);
            r.cancelled = true;
            r.classification.error = "cancelled";
        } else if (!item.errors[i].empty()) {
            r.classification.error = item.errors[i];
        } else if (!ran) {
            r.classification = Classification{};
            r.classification.error = item.failure;
        } else {
            r.batchIndex = trace->batchIndex;
        }
        r.latencyMs =
            std::chrono::duration<double, std::milli>(Clock::now() - item.entries[i]->submitted).count();
    }
    // Its experts no longer count as needed ahead, whether it ran or not.
    m.experts->lookahead().remove(item.lookaheadTicket);
    if (trace) {
        trace->timing.totalMs = millisecondsSince(start) + waitMs;
        record(*trace, waitMs, start);
    }
    deliver(results);
    if (trace && onTrace) onTrace(std::move(trace));
}

void Pipeline::Impl::describe(BatchTrace& trace, const WorkItem& item, double waitMs, int depth,
                              Clock::time_point start) {
    trace.batchIndex = nextBatch++;
    trace.policy = item.options.policy;
    trace.startedSeconds = std::chrono::duration<double>(start - started).count();
    trace.hashQueueDepth = depth;
    trace.timing.hashBuildMs = item.hashBuildMs;
    trace.timing.waitForHashMs = waitMs;
    const detail::ExpertStore& store = *m.experts;
    if (lowered)
        trace.notice = "device out of memory: expert budget lowered to " + std::to_string(lowered->slots) +
                       " of " + std::to_string(store.totalExperts()) +
                       " experts until the settings are changed";
    const DeviceMemory device = detail::deviceMemory(m.device);
    MemoryTrace& memory = trace.memory;
    memory.isCuda = device.isCuda;
    memory.tier = device.isCuda ? "GPU memory (" + m.device.str() + ")" : std::string("RAM pool (CPU)");
    memory.hostTier = device.isCuda ? "pinned host RAM" : "host RAM cache";
    memory.io = store.ioDescription();
    const detail::HostCache& host = store.hostCache();
    memory.hostBudgetBytes = static_cast<uint64_t>(host.capacity() * store.hostEntryBytes());
    memory.hostResidentBytes = static_cast<uint64_t>(host.counters().entries * store.hostEntryBytes());
    memory.allExpertStoredBytes = static_cast<uint64_t>(store.totalExperts() * store.hostEntryBytes());
    memory.processResidentBytes = residentBytes();
    memory.nonExpertBytes = static_cast<uint64_t>(m.info.nonExpertBytes);
    memory.residentExpertBytes = static_cast<uint64_t>(store.residentCount() * store.expertBytes());
    memory.budgetBytes = static_cast<uint64_t>(store.capacity() * store.expertBytes());
    memory.allExpertBytes = static_cast<uint64_t>(store.totalExperts() * store.expertBytes());
    memory.allocatedBytes = device.allocatedBytes;
    memory.reservedBytes = device.reservedBytes;
    memory.deviceTotalBytes = device.totalBytes;
    memory.deviceFreeBytes = device.freeBytes;
}

void Pipeline::Impl::record(const BatchTrace& trace, double waitMs, Clock::time_point start) {
    std::lock_guard lock(mutex);
    ++stats.batches;
    stats.tokens += static_cast<uint64_t>(trace.tokens);
    stats.bytesCopied += trace.bytesCopied;
    stats.diskBytesRead += trace.diskBytesRead;
    stats.peakResidentExpertBytes = std::max(stats.peakResidentExpertBytes, trace.memory.residentExpertBytes);
    stats.meanResidentExpertBytes +=
        (static_cast<double>(trace.memory.residentExpertBytes) - stats.meanResidentExpertBytes) /
        static_cast<double>(stats.batches);
    stats.waitForHashSeconds += waitMs / 1000.0;
    stats.busySeconds += millisecondsSince(start) / 1000.0;
    for (const LayerTrace& layer : trace.layers) {
        stats.hits += layer.hits;
        stats.misses += layer.misses;
    }
}

void Pipeline::Impl::deliver(std::vector<RequestResult>& results) {
    for (const RequestResult& r : results)
        if (onResult) onResult(r);
    std::lock_guard lock(mutex);
    for (const RequestResult& r : results) {
        ++stats.completed;
        if (r.cancelled)
            ++stats.cancelled;
        else if (!r.classification.ok())
            ++stats.failed;
        auto job = jobs.find(r.jobId);
        if (job != jobs.end() && --job->second.remaining == 0) jobs.erase(job);
    }
    idle.notify_all();
}

void Pipeline::Impl::inferenceLoop() {
    c10::InferenceMode inference;
    while (true) {
        const auto waitStart = Clock::now();
        std::optional<WorkItem> item = queue.pop();
        const double waitMs = millisecondsSince(waitStart);
        if (!item) break;
        run(*item, waitMs, static_cast<int>(queue.size()));
    }
}

Pipeline::Pipeline(std::shared_ptr<Model> model, PipelineOptions options, ResultCallback onResult,
                   TraceObserver onTrace) {
    if (!model) throw Error("the pipeline needs a model");
    validate(options, model->info());
    // Budgets that cannot fit are refused here, before a single expert is read.
    detail::resolveCacheSizes(options.deviceBudget, options.hostBudget, options.policy == Policy::Standard,
                              options.policy == Policy::Oracle, *model->impl().experts);
    impl_ = std::make_unique<Impl>(std::move(model), options, std::move(onResult), std::move(onTrace));
    impl_->hashThread = std::thread([this] { impl_->hashLoop(); });
    impl_->inferenceThread = std::thread([this] { impl_->inferenceLoop(); });
}

Pipeline::~Pipeline() {
    {
        std::lock_guard lock(impl_->mutex);
        impl_->stopping = true;
        for (const EntryPtr& e : impl_->pending) e->cancelled = true;
        for (const auto& [id, job] : impl_->jobs)
            for (const auto& weak : job.entries)
                if (const auto e = weak.lock()) e->cancelled = true;
    }
    impl_->wake.notify_all();
    impl_->hashThread.join();
    impl_->inferenceThread.join();
}

uint64_t Pipeline::submit(std::vector<Request> requests) {
    std::lock_guard lock(impl_->mutex);
    if (impl_->stopping) throw Error("the pipeline is shutting down");
    const uint64_t job = impl_->nextJob++;
    auto& jobEntries = impl_->jobs[job];
    jobEntries.remaining = requests.size();
    const auto now = Clock::now();
    for (Request& request : requests) {
        auto entry = std::make_shared<Entry>();
        entry->id = impl_->nextRequest++;
        entry->job = job;
        entry->request = std::move(request);
        entry->submitted = now;
        jobEntries.entries.push_back(entry);
        impl_->pending.push_back(std::move(entry));
    }
    impl_->stats.submitted += requests.size();
    if (requests.empty()) impl_->jobs.erase(job);
    impl_->wake.notify_all();
    return job;
}

void Pipeline::cancelJob(uint64_t jobId) {
    std::lock_guard lock(impl_->mutex);
    auto job = impl_->jobs.find(jobId);
    if (job == impl_->jobs.end()) return;
    for (const auto& weak : job->second.entries)
        if (const auto e = weak.lock()) e->cancelled = true;
}

void Pipeline::cancelAll() {
    std::lock_guard lock(impl_->mutex);
    for (const auto& [id, job] : impl_->jobs)
        for (const auto& weak : job.entries)
            if (const auto e = weak.lock()) e->cancelled = true;
}

void Pipeline::setOptions(const PipelineOptions& options) {
    validate(options, impl_->m.info);
    std::lock_guard lock(impl_->mutex);
    impl_->options = options;
    ++impl_->optionsVersion;
}

PipelineOptions Pipeline::options() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->options;
}

void Pipeline::waitIdle() {
    std::unique_lock lock(impl_->mutex);
    impl_->idle.wait(lock, [&] { return impl_->stats.completed == impl_->stats.submitted; });
}

PipelineStats Pipeline::stats() const {
    std::lock_guard lock(impl_->mutex);
    return impl_->stats;
}

const Model& Pipeline::model() const { return *impl_->model; }

} // namespace sida
