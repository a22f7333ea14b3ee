// SPDX-License-Identifier: MIT
// `sida bench --synthetic NAME`: the synthetic model's options and its cached folder.
#pragma once

#include "args.h"
#include "progress_bar.h"

#include "sida/model.h"

#include <filesystem>
#include <optional>

namespace sida::cli {

/// --synthetic, --synthetic-context, --synthetic-train, --synthetic-sentences.
void addSyntheticOptions(ArgParser& parser);

/// The folder of the synthetic model the options name, written (and given a predictor) when the
/// cache does not hold it yet; nullopt without --synthetic.
std::optional<std::filesystem::path> syntheticModelFrom(const Args& args, const LoadOptions& load,
                                                        ProgressBar& bar);

} // namespace sida::cli
