// SPDX-License-Identifier: MIT
// Benchmarks of the serving pipeline: the same inputs under several policies, in one process.
#pragma once

#include "sida/pipeline.h"
#include "sida/synthetic.h"

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace sida {

struct BenchInput {
    TextInput input;
    std::optional<std::string> label; ///< as written in the data file, for accuracy
};

struct BenchOptions {
    std::vector<Policy> policies{Policy::Sida};
    PipelineOptions pipeline; ///< the policy field is replaced by each of `policies`
    int warmupBatches = 2;    ///< run (and not measured) before each policy's timed pass
    TraceObserver onTrace;    ///< also sees every measured batch's trace (e.g. --trace FILE)
};

/// One policy's figures over the inputs.
struct BenchRun {
    Policy policy = Policy::Sida;
    int64_t samples = 0;
    int64_t tokens = 0;
    int64_t errors = 0;
    double seconds = 0.0;
    double samplesPerSecond = 0.0;
    double tokensPerSecond = 0.0;
    double latencyP50Ms = 0.0, latencyP95Ms = 0.0, latencyP99Ms = 0.0; ///< per request, submit to result
    double batchMs = 0.0;      ///< mean inference-thread turn per batch
    double copyMs = 0.0;       ///< per batch: the inference thread's time on expert copies (TimingTrace)
    double copyHiddenMs = 0.0; ///< per batch: copy time that overlapped compute (CPU copy thread)
    uint64_t peakResidentExpertBytes = 0;
    double meanResidentExpertBytes = 0.0;
    double meanUsedExpertBytes = 0.0; ///< experts the batch's tokens actually ran on (the working set)
    uint64_t budgetBytes = 0;
    uint64_t allExpertBytes = 0;
    uint64_t bytesCopied = 0;
    // The disk tier, over the timed pass.
    uint64_t hostBudgetBytes = 0;        ///< the host cache's capacity, as applied
    uint64_t diskBytesRead = 0;          ///< read from the checkpoint files
    uint64_t diskBytesReadOptimal = 0;   ///< Belady's offline optimum for the same needs (below)
    double diskReadSecondsExposed = 0.0; ///< the inference thread waited for them
    double diskReadSecondsHidden = 0.0;  ///< read time it did not wait for
    uint64_t peakRssBytes = 0;           ///< the process's peak resident set during this run
    double hitRate = -1.0;               ///< predicted top-1 == router; -1 when not measured
    double waitForHashFraction = 0.0;    ///< inference thread waiting for hash tables / wall time
    double accuracy = -1.0;              ///< -1 without labels
    std::vector<int64_t> predictions;    ///< label id per input (-1 on error)
};

struct BenchReport {
    std::string model;
    std::string device;
    std::string cpu;
    int threads = 0;
    PipelineOptions options;       ///< as run (the policy field is each run's)
    uint64_t memoryLimitBytes = 0; ///< the memory cgroup's limit it ran under; 0: none
    uint64_t nonExpertBytes = 0;   ///< the weights other than experts, held throughout
    std::string io;                ///< how experts were read ("pread, O_DIRECT")
    std::vector<BenchRun> runs;
};

/// The report as the JSON object `sida bench --json` prints (and the app and bindings share).
std::string benchReportToJson(const BenchReport& report);

/// The fewest bytes a cache of `capacity` experts must read for `needs` (each step: the experts
/// used, in order of use), knowing the whole sequence: Belady's rule, evicting the expert whose
/// next use is farthest away. Every expert costs `entryBytes`.
uint64_t optimalReadBytes(const std::vector<std::vector<int64_t>>& needs, int64_t capacity,
                          uint64_t entryBytes);

/// Runs every policy over `inputs` with one pipeline each, on the same loaded model.
BenchReport runBench(const std::shared_ptr<Model>& model, const std::vector<BenchInput>& inputs,
                     const BenchOptions& options, const ProgressCallback& progress = {},
                     const CancelToken& cancel = {});

} // namespace sida
