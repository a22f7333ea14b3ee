// SPDX-License-Identifier: MIT
// The `sida` subcommands. Each parses its own arguments and returns the process exit status.
#pragma once

#include "args.h"

#include "sida/model.h"

#include <filesystem>
#include <string>
#include <vector>

namespace sida::cli {

using Arguments = std::vector<std::string>;

int runInfo(const Arguments& arguments);
int runClassify(const Arguments& arguments);

/// --device, --dtype, --threads, --max-length, --no-drop: how to load a model.
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
