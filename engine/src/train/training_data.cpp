// SPDX-License-Identifier: MIT
#include "train/training_data.h"

#include "sida/errors.h"

#include <algorithm>
#include <set>

namespace sida::detail {

TokenizedSet tokenizeExamples(const Dataset& data, const Tokenizer& tokenizer, int64_t maxLength,
                              const std::vector<std::string>& labels) {
    TokenizedSet set;
    for (const Example& e : data.examples) {
        const int64_t label = e.label ? labelId(*e.label, labels) : -1;
        if (label < 0) {
            set.skipped.push_back(
                {e.line, "label '" + e.label.value_or("") + "' is not one of the model's labels"});
            continue;
        }
        const Encoding encoding =
            e.pair ? tokenizer.encodePair(e.text, *e.pair, maxLength) : tokenizer.encode(e.text, maxLength);
        set.examples.push_back({encoding.ids, label, e.line});
    }
    return set;
}

std::vector<std::string> trainingLabels(const Dataset& data, const std::vector<std::string>& names) {
    std::vector<std::string> found = data.labels();
    if (found.empty()) throw Error(data.source + ": no labeled rows to train on");
    const bool numeric = std::all_of(found.begin(), found.end(), [&](const std::string& l) {
        return !l.empty() && l.find_first_not_of("0123456789") == std::string::npos && l.size() < 6;
    });
    std::vector<std::string> labels;
    if (numeric) {
        std::set<int> ids;
        for (const auto& l : found) ids.insert(std::stoi(l));
        if (*ids.begin() != 0 || *ids.rbegin() != static_cast<int>(ids.size()) - 1)
            throw Error(data.source + ": integer labels must be 0.." + std::to_string(ids.size() - 1));
        for (int id : ids) labels.push_back(std::to_string(id));
    } else {
        labels = found;
        std::sort(labels.begin(), labels.end());
    }
    if (names.empty()) return labels;
    if (!numeric)
        throw Error("label names can only be given for integer labels; " + data.source + " has named labels");
    if (names.size() != labels.size())
        throw Error(std::to_string(names.size()) + " label names given but " + data.source + " has " +
                    std::to_string(labels.size()) + " labels");
    return names;
}

std::vector<size_t> lengthsOf(const std::vector<std::vector<int64_t>>& sequences) {
    std::vector<size_t> lengths;
    for (const auto& s : sequences) lengths.push_back(s.size());
    return lengths;
}

std::vector<std::vector<size_t>> bucketedBatches(const std::vector<size_t>& lengths, int batchSize,
                                                 std::mt19937_64& rng) {
    std::vector<size_t> order(lengths.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    std::shuffle(order.begin(), order.end(), rng);
    const size_t window = static_cast<size_t>(batchSize) * 50;
    for (size_t start = 0; start < order.size(); start += window) {
        const auto end = order.begin() + static_cast<std::ptrdiff_t>(std::min(order.size(), start + window));
        std::stable_sort(order.begin() + static_cast<std::ptrdiff_t>(start), end,
                         [&](size_t a, size_t b) { return lengths[a] < lengths[b]; });
    }
    std::vector<std::vector<size_t>> batches;
    for (size_t start = 0; start < order.size(); start += batchSize)
        batches.emplace_back(order.begin() + static_cast<std::ptrdiff_t>(start),
                             order.begin() +
                                 static_cast<std::ptrdiff_t>(std::min(order.size(), start + batchSize)));
    std::shuffle(batches.begin(), batches.end(), rng);
    return batches;
}

} // namespace sida::detail
