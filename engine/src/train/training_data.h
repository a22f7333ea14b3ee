// SPDX-License-Identifier: MIT
// Data sets as token ids and class ids, and the length-bucketed batches training runs on.
#pragma once

#include "sida/dataset.h"
#include "sida/tokenizer.h"

#include <cstdint>
#include <random>
#include <string>
#include <vector>

namespace sida::detail {

struct TokenizedExample {
    std::vector<int64_t> ids;
    int64_t label = -1;
    int64_t line = 0;
};

struct TokenizedSet {
    std::vector<TokenizedExample> examples;
    std::vector<RowProblem> skipped; ///< rows with a label the model does not know
};

/// Tokenizes a data set and maps its labels to class ids (sida::labelId). Rows whose label is
/// unknown are listed in `skipped`, never dropped silently.
TokenizedSet tokenizeExamples(const Dataset& data, const Tokenizer& tokenizer, int64_t maxLength,
                              const std::vector<std::string>& labels);

/// The class names for training on `data`: integer labels 0..n-1 in numeric order (named by
/// `names` when given), otherwise the distinct labels sorted. sida::Error when `names` does not
/// fit the data.
std::vector<std::string> trainingLabels(const Dataset& data, const std::vector<std::string>& names);

/// Batches of indices into `lengths`. Indices are shuffled, sorted by length inside windows of 50
/// batches (so a batch holds similar lengths and little padding), and the batches shuffled.
std::vector<std::vector<size_t>> bucketedBatches(const std::vector<size_t>& lengths, int batchSize,
                                                 std::mt19937_64& rng);

/// The token count of each example.
std::vector<size_t> lengthsOf(const std::vector<std::vector<int64_t>>& sequences);

} // namespace sida::detail
