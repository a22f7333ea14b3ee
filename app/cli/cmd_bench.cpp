// SPDX-License-Identifier: MIT
// sida bench: throughput, latency, expert memory and hit rate of the serving policies.
#include "commands.h"
#include "progress_bar.h"
#include "synthetic_model.h"

#include "sida/bench.h"
#include "sida/errors.h"

#include <nlohmann/json.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <iostream>
#include <mutex>

namespace sida::cli {
namespace {

std::vector<Policy> parsePolicies(const std::string& list) {
    std::vector<Policy> policies;
    for (const auto& name : splitList(list)) {
        try {
            policies.push_back(parsePolicy(name));
        } catch (const std::exception& e) {
            throw UsageError(e.what());
        }
    }
    if (policies.empty()) throw UsageError("no policy named");
    return policies;
}

double mib(double bytes) { return bytes / 1048576.0; }

void printTable(const BenchReport& report) {
    const PipelineOptions& o = report.options;
    std::printf("model %s\ndevice %s, CPU %s, %d threads; batch %d, top-k %d, eviction %s, %s, sida's shadow "
                "router %s%s, queue %d; budgets: device %s, host %s; I/O %s%s\n\n",
                report.model.c_str(), report.device.c_str(), report.cpu.c_str(), report.threads, o.batchSize,
                o.topK, evictionName(o.eviction).c_str(),
                o.cacheAcrossBatches ? "caching across batches" : "no caching across batches",
                o.shadowRouter ? "on" : "off", isPaperPreset(o) ? " (the paper's preset)" : "",
                queueDepthFor(o), budgetText(o.deviceBudget).c_str(), budgetText(o.hostBudget).c_str(),
                report.io.c_str(),
                report.memoryLimitBytes
                    ? (", memory limit " + std::to_string(report.memoryLimitBytes >> 20) + " MiB").c_str()
                    : "");
    std::printf("%-11s %9s %9s %8s %8s %8s %13s %13s %10s %10s %8s %8s %8s %6s %8s %7s\n", "policy",
                "samples/s", "tokens/s", "p50 ms", "p95 ms", "p99 ms", "resident MiB", "(peak MiB)",
                "used MiB", "copied MiB", "copy ms", "hidden", "hit rate", "wait%", "accuracy", "x first");
    const double base = report.runs.front().samplesPerSecond;
    for (const BenchRun& r : report.runs) {
        char hit[16] = "-", accuracy[16] = "-";
        if (r.hitRate >= 0) std::snprintf(hit, sizeof hit, "%.4f", r.hitRate);
        if (r.accuracy >= 0) std::snprintf(accuracy, sizeof accuracy, "%.4f", r.accuracy);
        std::printf("%-11s %9.2f %9.1f %8.2f %8.2f %8.2f %13.2f %13.2f %10.2f %10.1f %8.3f %8.3f %8s %6.2f "
                    "%8s %7.2f\n",
                    policyName(r.policy).c_str(), r.samplesPerSecond, r.tokensPerSecond, r.latencyP50Ms,
                    r.latencyP95Ms, r.latencyP99Ms, mib(r.meanResidentExpertBytes),
                    mib(static_cast<double>(r.peakResidentExpertBytes)), mib(r.meanUsedExpertBytes),
                    mib(static_cast<double>(r.bytesCopied)), r.copyMs, r.copyHiddenMs, hit,
                    100 * r.waitForHashFraction, accuracy, r.samplesPerSecond / base);
    }
    std::printf("\n%-11s %10s %10s %9s %10s %10s %10s %9s\n", "policy", "host MiB", "read MiB", "optimal",
                "x optimal", "exposed s", "hidden s", "peak RSS");
    for (const BenchRun& r : report.runs)
        std::printf("%-11s %10.1f %10.1f %9.1f %10.2f %10.3f %10.3f %9.1f\n", policyName(r.policy).c_str(),
                    mib(static_cast<double>(r.hostBudgetBytes)), mib(static_cast<double>(r.diskBytesRead)),
                    mib(static_cast<double>(r.diskBytesReadOptimal)),
                    r.diskBytesReadOptimal
                        ? static_cast<double>(r.diskBytesRead) / static_cast<double>(r.diskBytesReadOptimal)
                        : 0.0,
                    r.diskReadSecondsExposed, r.diskReadSecondsHidden,
                    mib(static_cast<double>(r.peakRssBytes)));
    const BenchRun& first = report.runs.front();
    std::printf(
        "\nall experts: %.2f MiB; budget: %.2f MiB; resident = mean expert bytes in the pool per batch,\n"
        "used = mean bytes of the experts a batch's tokens ran on (its working set); copy ms = the\n"
        "inference thread's time per batch on expert copies (making them or waiting for them), hidden =\n"
        "copy time per batch that overlapped compute on the copy thread (CPU). Disk figures run from each\n"
        "policy's start (warm-up included, caches emptied first): read = bytes read from the checkpoint,\n"
        "optimal = Belady's offline optimum for the same needs with the same host cache, exposed = the\n"
        "inference thread waiting for reads, hidden = read time it did not wait for; peak RSS per run\n",
        mib(static_cast<double>(first.allExpertBytes)), mib(static_cast<double>(first.budgetBytes)));
}

} // namespace

int runBench(const Arguments& arguments) {
    ArgParser parser(
        "bench", "(MODEL_DIR | --synthetic NAME) --data FILE [--policy P | --compare P1,P2,...] [options]",
        "Benchmark the serving pipeline: throughput (samples/s, tokens/s), latency p50/p95/p99,\n"
        "resident expert bytes (peak and mean) against all experts' bytes, bytes copied and the\n"
        "copy time the inference thread waited for (and, on the CPU, how much ran hidden on the\n"
        "copy thread), the predictor's hit rate, the time the inference thread waited for hash\n"
        "tables, and accuracy when the data has labels. --compare runs several policies on the\n"
        "same inputs in one process and prints ratios against the first.\n"
        "--synthetic writes a model with the shapes of google/switch-base-N or switch-large-N\n"
        "(encoder only, bf16 shards; no download) whose routers route mostly by token, as\n"
        "pretrained Switch routers do; --synthetic-context sets how much the context overrides\n"
        "that. A switch-base model also gets a predictor trained on its routes for the first\n"
        "--synthetic-sentences sentences of --synthetic-train (minutes, once). Both are cached\n"
        "under ~/.cache/sida-studio/synthetic, in a folder named after the options and the\n"
        "generator's version.");
    parser.positionals("MODEL_DIR", "the model folder (default: the bundled demo model)", 0, 1)
        .option("--data", "FILE", "inputs (TSV/CSV/TXT; labels give accuracy)")
        .option("--limit", "N", "use the first N inputs")
        .option("--compare", "P1,P2", "run several policies (overrides --policy)")
        .option("--warmup", "N", "batches run before timing", "2")
        .flag("--json", "print one JSON object");
    addSyntheticOptions(parser);
    addServingOptions(parser, "sida");
    addDataOptions(parser);
    addLoadOptions(parser);
    const auto args = parser.parse(arguments);
    if (!args) return 0;
    if (!args->optional("--data"))
        throw UsageError("--data is required (e.g. ../shared/data/glue/SST-2/dev.tsv)");

    const PipelineOptions o = servingOptionsFrom(*args);
    BenchOptions options;
    options.pipeline = o;
    options.warmupBatches = static_cast<int>(args->integer("--warmup", 0, 1000));
    options.policies = parsePolicies(args->optional("--compare").value_or(args->get("--policy")));
    for (Policy policy : options.policies)
        if (args->has("--paper") && policy != Policy::Sida)
            throw UsageError("--paper is a preset of the sida policy; " + policyName(policy) +
                             " keeps its own semantics (compare it in a run without --paper)");

    DatasetOptions dataOptions = dataOptionsFrom(*args);
    dataOptions.requireLabels = false;
    if (args->optional("--limit")) dataOptions.limit = args->integer("--limit", 1, INT64_MAX);
    const Dataset data = readDataset(args->get("--data"), dataOptions);
    reportProblems(data.problems, args->get("--data"));
    std::vector<BenchInput> inputs;
    for (const Example& e : data.examples) inputs.push_back({{e.text, e.pair}, e.label});

    std::filesystem::path dir;
    ProgressBar bar("items");
    LoadOptions load = loadOptionsFrom(*args);
    if (const auto synthetic = syntheticModelFrom(*args, load, bar)) {
        dir = *synthetic;
    } else {
        const auto& p = args->positionals();
        dir = resolveModelDir(p.empty() ? std::nullopt : std::optional(p[0]));
    }
    TraceWriter traces(args->optional("--trace"));
    options.onTrace = traces.observer();
    const auto model = Model::load(dir, load, bar.callback());
    bar.finishLine();
    const BenchReport report =
        sida::runBench(model, inputs, options, bar.callback(), installInterruptHandler());
    bar.finishLine();
    if (args->has("--json"))
        std::cout << benchReportToJson(report) << "\n";
    else
        printTable(report);
    return 0;
}

} // namespace sida::cli
