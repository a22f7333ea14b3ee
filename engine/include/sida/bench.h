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
    double batchMs = 0.0; ///< mean inference-thread turn per batch
    double copyMs = 0.0;       ///< per batch: the inference thread's time on expert copies (TimingTrace)
    double copyHiddenMs = 0.0; ///< per batch: copy time that overlapped compute (CPU copy thread)
    uint64_t peakResidentExpertBytes = 0;
    double meanResidentExpertBytes = 0.0;
    double meanUsedExpertBytes = 0.0; ///< experts the batch's tokens actually ran on (the working set)
    uint64_t budgetBytes = 0;
    uint64_t allExpertBytes = 0;
    uint64_t bytesCopied = 0;
    double hitRate = -1.0;            ///< predicted top-1 == router; -1 when not measured
    double waitForHashFraction = 0.0; ///< inference thread waiting for hash tables / wall time
    double accuracy = -1.0;           ///< -1 without labels
    std::vector<int64_t> predictions; ///< label id per input (-1 on error)
};

struct BenchReport {
    std::string model;
    std::string device;
    std::string cpu;
    int threads = 0;
    std::vector<BenchRun> runs;
};

/// Runs every policy over `inputs` with one pipeline each, on the same loaded model.
BenchReport runBench(const std::shared_ptr<Model>& model, const std::vector<BenchInput>& inputs,
                     const BenchOptions& options, const ProgressCallback& progress = {},
                     const CancelToken& cancel = {});

} // namespace sida
