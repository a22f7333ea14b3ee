// SPDX-License-Identifier: MIT
#pragma once

#include "sida/dataset.h"
#include "sida/model.h"
#include "sida/progress.h"

#include <cstdint>
#include <string>
#include <vector>

namespace sida {

/// How one MoE layer spread the real tokens of a data set over its experts.
struct LayerUsage {
    int64_t block = 0;                    ///< encoder block index
    std::vector<int64_t> tokensPerExpert; ///< after the router's choice (before capacity)
    double entropy = 0.0;                 ///< of the usage distribution, in nats
    double normalizedEntropy = 0.0;       ///< entropy / log(E): 1 is perfectly balanced
    double minShare = 0.0;                ///< the least-used expert's share of the tokens
};

/// The paper's Fig. 4 quantity for sentences of one length: the fraction of a layer's experts
/// that a sentence activates, averaged over MoE layers and sentences.
struct ActivationByLength {
    int64_t length = 0; ///< tokens, </s> included
    int64_t sentences = 0;
    double activeFraction = 0.0;
};

struct EvalReport {
    int64_t n = 0; ///< examples evaluated
    double accuracy = 0.0;
    double macroF1 = 0.0;
    std::vector<std::string> labels;
    std::vector<std::vector<int64_t>> confusion; ///< [true label][predicted label]
    std::vector<LayerUsage> layers;
    std::vector<ActivationByLength> activation;
    std::vector<RowProblem> skipped; ///< rows of the data that were not evaluated, and why
    double seconds = 0.0;
};

/// Classifies every labeled example of `data` and measures accuracy, macro F1 and how the
/// experts were used. Examples whose label the model does not know are skipped and listed.
EvalReport evaluate(const Model& model, const Dataset& data, int batchSize = 64,
                    const ProgressCallback& progress = {}, const CancelToken& cancel = {});

} // namespace sida
