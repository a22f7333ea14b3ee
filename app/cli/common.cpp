// SPDX-License-Identifier: MIT
#include "commands.h"

#include "sida/errors.h"
#include "sida/memory.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>

namespace sida::cli {

void addLoadOptions(ArgParser& parser) {
    parser.option("--device", "D", "compute device: auto, cpu, cuda or cuda:N", "auto")
        .option("--dtype", "T", "compute dtype: float32 or bfloat16", "float32")
        .option("--threads", "N", "CPU threads for LibTorch, 0 = one per core", "0")
        .option("--max-length", "N", "truncate inputs to N tokens", "512")
        .option(
            "--io", "M",
            "how experts are read from disk: pread, or uring (io_uring; pread where the kernel refuses it)",
            "pread")
        .flag("--no-drop", "ignore expert_capacity: never drop a token");
}

LoadOptions loadOptionsFrom(const Args& args) {
    LoadOptions options;
    options.device = args.get("--device");
    options.dtype = args.get("--dtype");
    options.threads = static_cast<int>(args.integer("--threads", 0, 1024));
    options.maxLength = args.integer("--max-length", 4, 65536);
    options.noDrop = args.has("--no-drop");
    options.io = args.get("--io");
    if (options.io != "uring" && options.io != "pread")
        throw UsageError("--io: use uring or pread, not '" + options.io + "'");
    return options;
}

std::filesystem::path resolveModelDir(const std::optional<std::string>& named) {
    if (named) return *named;
    const auto bundled = defaultModelDir();
    if (bundled.empty())
        throw UsageError("no model folder given and the bundled demo model was not found "
                         "(set SIDA_DEFAULT_MODEL or name a folder)");
    return bundled;
}

void addDataOptions(ArgParser& parser) {
    parser
        .option("--text-column", "C",
                "column of the text (header name or 0-based index); detected if omitted")
        .option("--pair-column", "C", "column of the second sentence of a pair")
        .option("--label-column", "C", "column of the label")
        .flag("--strict", "stop at the first malformed row instead of reporting and skipping it");
}

DatasetOptions dataOptionsFrom(const Args& args) {
    DatasetOptions options;
    options.textColumn = args.optional("--text-column");
    options.pairColumn = args.optional("--pair-column");
    options.labelColumn = args.optional("--label-column");
    options.strict = args.has("--strict");
    return options;
}

void reportProblems(const std::vector<RowProblem>& problems, const std::string& source) {
    if (problems.empty()) return;
    std::cerr << source << ": " << problems.size() << " row(s) skipped\n";
    for (size_t i = 0; i < problems.size() && i < 10; ++i)
        std::cerr << "  line " << problems[i].line << ": " << problems[i].message << "\n";
    if (problems.size() > 10) std::cerr << "  ... (" << problems.size() - 10 << " more; --json lists all)\n";
}

Budget budgetOption(const Args& args, const std::string& option) {
    try {
        return parseBudget(args.get(option), option);
    } catch (const Error& e) {
        throw UsageError(e.what());
    }
}

void addServingOptions(ArgParser& parser, const std::string& defaultPolicy) {
    const PipelineOptions d;
    parser.option("--policy", "P", "standard, ondemand, sida, sida-exact or oracle", defaultPolicy)
        .option("--batch", "N", "requests per batch", std::to_string(d.batchSize))
        .option("--budget", "X",
                "the device pool (GPU memory, or the RAM pool on the CPU): auto, a share of every expert's "
                "bytes in the compute dtype (50%, 0.5) or a size (2GiB, 512MiB)",
                "auto")
        .option("--host-budget", "X",
                "the host cache of experts read from disk (RAM; pinned with CUDA): auto, a share of every "
                "expert's bytes on disk (50%) or a size (4GiB). " +
                    automaticBudgetRule(),
                "auto")
        .option("--top-k", "K", "experts per token in the hash table", std::to_string(d.topK))
        .option("--eviction", "E",
                "fifo or lru (ties after the queued batches' needs), or plain-fifo (blind to the queue)",
                "lru")
        .flag("--no-cache", "evict every expert a batch does not need before it runs (the paper's setup; "
                            "standard keeps every expert)")
        .option("--queue", "N",
                "hash tables the hash thread may build ahead: how far ahead both expert caches see; auto: "
                "enough to see 16 inputs ahead, at least 4",
                "auto")
        .flag("--no-shadow", "sida: do not run the routers (no hit rate)")
        .flag("--paper", "sida with the paper's settings: plain-fifo eviction, --no-cache, --no-shadow "
                         "(no router runs); other policies refuse it")
        .flag("--scale-by-router", "sida: weight each expert's output by the router's probability "
                                   "instead of the predictor's")
        .option("--trace", "FILE",
                "write every batch's trace (hash table, residency, memory, timings) as JSON lines");
}

PipelineOptions servingOptionsFrom(const Args& args) {
    PipelineOptions o;
    try {
        o.policy = parsePolicy(args.get("--policy"));
        o.eviction = parseEviction(args.get("--eviction"));
    } catch (const std::exception& e) {
        throw UsageError(e.what());
    }
    o.deviceBudget = budgetOption(args, "--budget");
    o.hostBudget = budgetOption(args, "--host-budget");
    o.batchSize = static_cast<int>(args.integer("--batch", 1, 4096));
    o.topK = static_cast<int>(args.integer("--top-k", 1, 4096));
    o.cacheAcrossBatches = !args.has("--no-cache");
    o.hashQueueDepth = args.get("--queue") == "auto" ? 0 : static_cast<int>(args.integer("--queue", 1, 1024));
    o.shadowRouter = !args.has("--no-shadow");
    o.scaleByRouter = args.has("--scale-by-router");
    if (args.has("--paper")) {
        if (o.policy != Policy::Sida)
            throw UsageError("--paper is a preset of the sida policy; --policy " + policyName(o.policy) +
                             " keeps its own semantics (drop --paper, or use --policy sida)");
        o = paperPreset(o);
    }
    return o;
}

TraceWriter::TraceWriter(const std::optional<std::string>& path) {
    if (!path) return;
    file_.open(*path);
    if (!file_) throw Error("cannot write trace file '" + *path + "'");
}

TraceObserver TraceWriter::observer() {
    if (!file_.is_open()) return {};
    return [this](std::shared_ptr<const BatchTrace> t) {
        std::lock_guard lock(mutex_);
        file_ << traceToJson(*t) << "\n";
    };
}

std::string commandLine(const std::string& command, const Arguments& arguments) {
    std::string line = "sida " + command;
    for (const auto& a : arguments) {
        const bool quote = a.find_first_of(" \t'\"") != std::string::npos || a.empty();
        line += " " + (quote ? "'" + a + "'" : a);
    }
    return line;
}

std::vector<std::string> splitList(const std::string& text) {
    std::vector<std::string> items;
    size_t start = 0;
    while (start <= text.size()) {
        const size_t comma = text.find(',', start);
        const std::string item =
            text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
        if (!item.empty()) items.push_back(item);
        if (comma == std::string::npos) break;
        start = comma + 1;
    }
    return items;
}

std::string validUtf8(std::string text) {
    for (int64_t bad; (bad = findInvalidUtf8(text)) >= 0;) text.replace(bad, 1, "\xEF\xBF\xBD");
    return text;
}

std::string humanBytes(double bytes) {
    const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
    int unit = 0;
    while (bytes >= 1024 && unit < 4) {
        bytes /= 1024;
        ++unit;
    }
    char text[32];
    std::snprintf(text, sizeof text, unit ? "%.1f %s" : "%.0f %s", bytes, units[unit]);
    return text;
}

std::shared_ptr<Model> loadModel(const std::filesystem::path& dir, const LoadOptions& options) {
    return Model::load(dir, options);
}

} // namespace sida::cli
