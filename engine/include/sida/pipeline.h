// SPDX-License-Identifier: MIT
// The SiDA serving pipeline: a hash-building thread predicts each batch's experts ahead of the
// inference thread, which keeps only the experts a batch needs in a budgeted device pool.
//
//   submit() -> batcher -> hash thread: tokenize, embed, predict -> bounded queue of hash tables
//            -> inference thread: make experts resident, run the encoder -> results (in order)
//                                                                        -> BatchTrace observers
#pragma once

#include "sida/device.h"
#include "sida/memory.h"
#include "sida/model.h"

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace sida {

/// Who chooses each token's expert, and when experts are fetched. One engine path for all.
enum class Policy {
    Standard,  ///< every expert resident, the router decides (the reference)
    OnDemand,  ///< the router decides; missing experts are fetched when needed, cached (LRU) under the budget
    Sida,      ///< the hash table decides (routers skipped), output scaled by the predicted probability
    SidaExact, ///< the hash table prefetches; a shadow router decides; misses are fetched: output == Standard
    Oracle,    ///< the hash table is the router's own choice: the best SiDA could do
};
std::string policyName(Policy policy);
/// "standard", "ondemand", "sida", "sida-exact", "oracle"; sida::Error naming the value otherwise.
Policy parsePolicy(const std::string& name);
std::vector<Policy> allPolicies();

/// Which resident expert makes room when the pool is full (never one the batch still needs).
/// Fifo and Lru first keep what the queued batches need, soonest first, and break ties by age;
/// PlainFifo is blind to the queue: the oldest copy goes, as in the paper.
enum class Eviction { Fifo, Lru, PlainFifo };
std::string evictionName(Eviction eviction);
Eviction parseEviction(const std::string& name);

struct PipelineOptions {
    Policy policy = Policy::Sida;
    int batchSize = 8;
    /// Hash tables the hash thread may build ahead: how far ahead both expert caches see. 0:
    /// automatic (queueDepthFor).
    int hashQueueDepth = 0;
    int topK = 1; ///< experts per token the hash table holds (sida: all run, weighted)
    /// The device pool (GPU memory, or the RAM pool on the CPU): a share of every expert's bytes
    /// in the compute dtype, a size, or automatic. Standard always holds every expert.
    Budget deviceBudget;
    /// The host cache of experts' stored bytes (RAM, pinned with CUDA), filled from the
    /// checkpoint files: a share of every expert's bytes on disk, a size, or automatic.
    Budget hostBudget;
    Eviction eviction = Eviction::Lru;
    /// false: before each batch, evict every expert the batch does not need (the paper's setup,
    /// minimal memory); true: keep them cached under the budget. Standard keeps every expert.
    bool cacheAcrossBatches = true;
    bool shadowRouter = true;   ///< sida: also run each router to record hits and misses
    bool scaleByRouter = false; ///< sida: scale by the (shadow) router's probability instead
};

/// The paper's setup (Du et al., MLSys 2024): sida with plain FIFO eviction, no caching across
/// batches and no shadow router, so no router runs. The other settings keep `base`'s values.
PipelineOptions paperPreset(PipelineOptions base = {});
/// Whether `options` are the paper's setup.
bool isPaperPreset(const PipelineOptions& options);

/// The hash queue's depth these options give: hashQueueDepth, or when it is 0 enough tables to see
/// 16 inputs ahead, and at least 4.
int queueDepthFor(const PipelineOptions& options);

/// Checks every setting; sida::Error naming the one at fault.
void validate(const PipelineOptions& options, const ModelInfo& model);

/// One input to classify.
struct Request {
    std::string text;
    std::optional<std::string> pair;
    std::string tag; ///< the caller's label for it (a table row, a line number), returned as is
};

/// Exactly one per request, in submission order.
struct RequestResult {
    uint64_t requestId = 0;
    uint64_t jobId = 0;
    std::string tag;
    Classification classification; ///< classification.error is set for failed or cancelled requests
    bool cancelled = false;
    double latencyMs = 0.0;       ///< from submit to result
    uint64_t batchIndex = 0;      ///< the BatchTrace it ran in (0: never ran)
    int64_t expertsActivated = 0; ///< distinct (layer, expert) pairs its tokens used
    int64_t predictorHits = 0;    ///< tokens x layers where the predicted top-1 equalled the router
    int64_t predictorMisses = 0;  ///< ... and where it did not (both 0 without a shadow router)
};

/// One MoE layer of one batch. Token arrays are indexed by the batch's real tokens, sequence after
/// sequence (SequenceTrace::firstToken locates a sequence).
struct LayerTrace {
    int64_t block = 0;
    int numExperts = 0;
    int topK = 0;                     ///< entries per token in predicted / predictedProb
    std::vector<int32_t> predicted;   ///< [tokens x topK] the hash table (empty: no prediction)
    std::vector<float> predictedProb; ///< [tokens x topK]
    std::vector<int32_t> routed;      ///< [tokens] the expert that ran (top-1 of the decision)
    std::vector<int32_t> router;      ///< [tokens] the router's choice, when a router ran
    std::vector<float> routerProb;    ///< [tokens]
    std::vector<int64_t> usage;       ///< [experts] tokens routed to each expert
    std::vector<int32_t> copiedIn;    ///< experts made resident for this batch
    std::vector<int32_t> evicted;     ///< experts evicted during this batch
    std::vector<int32_t> resident;    ///< experts in the device pool when the batch finished
    std::vector<int32_t> hostCached;  ///< experts in the host cache when the batch finished
    int64_t hits = 0;                 ///< predicted top-1 == router (shadow router ran)
    int64_t misses = 0;
    int64_t fetchedOnDemand = 0; ///< experts fetched while the layer waited
};

struct SequenceTrace {
    uint64_t requestId = 0;
    std::string tag;
    int64_t firstToken = 0;
    std::vector<int64_t> tokenIds;
    std::vector<std::string> pieces;
    int64_t label = -1;
    double confidence = 0.0;
};

/// The memory tiers after a batch: the device pool (GPU memory, or a RAM pool on the CPU: `tier`
/// says which), the host cache, and the checkpoint on disk.
struct MemoryTrace {
    bool isCuda = false;
    std::string tier;                  ///< "GPU memory (cuda:0)" or "RAM pool (CPU)"
    std::string hostTier;              ///< "pinned host RAM" or "host RAM cache"
    std::string io;                    ///< how experts are read from disk ("pread, O_DIRECT")
    uint64_t hostBudgetBytes = 0;      ///< the host cache's capacity
    uint64_t hostResidentBytes = 0;    ///< experts' stored bytes in it now
    uint64_t allExpertStoredBytes = 0; ///< every expert's read spans (the host cache's 100%)
    uint64_t processResidentBytes = 0; ///< the process's resident set now (VmRSS)
    uint64_t nonExpertBytes = 0;       ///< weights other than experts, on the device
    uint64_t residentExpertBytes = 0;  ///< experts in the pool now
    uint64_t budgetBytes = 0;          ///< the pool's capacity
    uint64_t allExpertBytes = 0;       ///< every expert resident (the standard policy's need)
    uint64_t allocatedBytes = 0;       ///< CUDA: allocator allocated; CPU: 0
    uint64_t reservedBytes = 0;        ///< CUDA: allocator reserved; CPU: 0
    uint64_t deviceTotalBytes = 0;
    uint64_t deviceFreeBytes = 0;
};

struct TimingTrace {
    double hashBuildMs = 0.0;   ///< the hash thread's work for this batch
    double waitForHashMs = 0.0; ///< the inference thread waiting for this batch's hash table
    double copyMs = 0.0;        ///< the inference thread's time on expert copies: making them, or waiting
    double copyHiddenMs = 0.0;  ///< CPU: the copy thread's time on them that overlapped compute
    /// Of copyMs: the inference thread waiting for expert bytes still being read from disk.
    double diskReadExposedMs = 0.0;
    /// Disk-read time during this batch's turn that the inference thread did not wait for.
    double diskReadHiddenMs = 0.0;
    double computeMs = 0.0; ///< encoder + head
    double totalMs = 0.0;   ///< the inference thread's whole turn
};

/// What one batch did. Immutable once published; observers get a shared pointer.
struct BatchTrace {
    uint64_t batchIndex = 0; ///< 1, 2, ...
    Policy policy = Policy::Sida;
    double startedSeconds = 0.0; ///< since the pipeline started
    int64_t tokens = 0;
    std::vector<SequenceTrace> sequences;
    std::vector<LayerTrace> layers;
    uint64_t bytesCopied = 0;
    uint64_t diskBytesRead = 0; ///< read from the checkpoint during this batch's turn (any batch's)
    int hashQueueDepth = 0;     ///< hash tables waiting when this batch began
    MemoryTrace memory;
    TimingTrace timing;
    std::string notice; ///< something the user should know (e.g. the budget was lowered after OOM)
};

using TraceObserver = std::function<void(std::shared_ptr<const BatchTrace>)>;

/// A trace as one line of JSON (for `--trace FILE` and exports).
std::string traceToJson(const BatchTrace& trace);
using ResultCallback = std::function<void(const RequestResult&)>;

/// Totals since the pipeline started.
struct PipelineStats {
    uint64_t submitted = 0;
    uint64_t completed = 0; ///< results delivered, errors and cancellations included
    uint64_t failed = 0;
    uint64_t cancelled = 0;
    uint64_t batches = 0;
    uint64_t tokens = 0;
    uint64_t bytesCopied = 0;
    uint64_t diskBytesRead = 0;
    uint64_t peakResidentExpertBytes = 0;
    double meanResidentExpertBytes = 0.0; ///< over batches
    double waitForHashSeconds = 0.0;
    double busySeconds = 0.0; ///< the inference thread's batch turns
    int64_t hits = 0;
    int64_t misses = 0;
};

/// The two-thread pipeline on one model. Thread-safe: submit, cancel and setOptions may be
/// called from any thread. Callbacks run on the pipeline's threads and must be cheap.
class Pipeline {
public:
    /// Starts the threads. The model must have a predictor for the sida and sida-exact policies.
    Pipeline(std::shared_ptr<Model> model, PipelineOptions options, ResultCallback onResult,
             TraceObserver onTrace = {});
    /// Cancels what is pending (each gets a cancelled result) and joins the threads.
    ~Pipeline();
    Pipeline(const Pipeline&) = delete;
    Pipeline& operator=(const Pipeline&) = delete;

    /// Queues requests as one job; returns its id. Every request will get exactly one result.
    uint64_t submit(std::vector<Request> requests);
    /// Requests of the job that have not started get a cancelled result; running batches finish.
    void cancelJob(uint64_t jobId);
    void cancelAll();
    /// New settings, applied from the next batch on (never in the middle of one).
    void setOptions(const PipelineOptions& options);
    PipelineOptions options() const;
    /// Blocks until every submitted request has its result.
    void waitIdle();
    PipelineStats stats() const;
    const Model& model() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

} // namespace sida
