// SPDX-License-Identifier: MIT
// The `sida` subcommands. Each parses its own arguments and returns the process exit status.
#pragma once

#include "args.h"

#include "sida/dataset.h"
#include "sida/model.h"
#include "sida/pipeline.h"

#include <filesystem>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

namespace sida::cli {

using Arguments = std::vector<std::string>;

int runInfo(const Arguments& arguments);
int runClassify(const Arguments& arguments);
int runTrain(const Arguments& arguments);
int runEval(const Arguments& arguments);
int runFinetune(const Arguments& arguments);
int runCollect(const Arguments& arguments);
int runTrainPredictor(const Arguments& arguments);
int runEvalPredictor(const Arguments& arguments);
int runBench(const Arguments& arguments);

/// --text-column, --pair-column, --label-column, --strict: how to read a data file.
void addDataOptions(ArgParser& parser);
DatasetOptions dataOptionsFrom(const Args& args);
/// Reports a data file's skipped rows on stderr (all of them when `all`, else the first ten).
void reportProblems(const std::vector<RowProblem>& problems, const std::string& source);

/// --policy, --batch, --budget, --top-k, --eviction, --no-cache, --queue, --no-shadow, --trace:
/// how the serving pipeline runs.
void addServingOptions(ArgParser& parser, const std::string& defaultPolicy);
PipelineOptions servingOptionsFrom(const Args& args);

/// Writes batch traces as JSON lines to --trace FILE (nothing without a file).
class TraceWriter {
public:
    explicit TraceWriter(const std::optional<std::string>& path);
    TraceObserver observer();

private:
    std::ofstream file_;
    std::mutex mutex_;
};

/// The command line as typed, for records such as training.json.
std::string commandLine(const std::string& command, const Arguments& arguments);
/// Splits "a,b,c".
std::vector<std::string> splitList(const std::string& text);

/// --device, --dtype, --threads, --max-length, --io, --no-drop: how to load a model.
void addLoadOptions(ArgParser& parser);
LoadOptions loadOptionsFrom(const Args& args);

/// The model folder a command names, or the bundled demo model; UsageError when neither exists.
std::filesystem::path resolveModelDir(const std::optional<std::string>& named);

/// `text` with each invalid UTF-8 byte replaced by U+FFFD, safe to print and to put in JSON.
std::string validUtf8(std::string text);

/// "1.5 MiB".
std::string humanBytes(double bytes);

/// Loads a model, reporting progress on stderr when it takes a while.
std::shared_ptr<Model> loadModel(const std::filesystem::path& dir, const LoadOptions& options);

} // namespace sida::cli
