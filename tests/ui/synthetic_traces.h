// SPDX-License-Identifier: MIT
// Batch traces built in memory, shaped like the pipeline's, so that item models, view data and views
// are tested without running a model. Every third token of each layer is a miss. Of each layer's
// experts the first half is in the device pool, the third quarter in the host cache only and the
// last quarter on disk only; expert 0 is in the host cache as well as the pool.
#pragma once

#include "engine_types.h"

#include <cstdint>
#include <vector>

namespace sida::test {

struct TraceShape {
    uint64_t batchIndex = 1;
    std::vector<int> lengths{5, 3}; ///< tokens of each sequence
    int layers = 2;
    int experts = 8;
    int topK = 2;
    bool prediction = true;
    bool router = true;
    bool cuda = false;
    uint64_t firstRequestId = 1;
    double startedSeconds = 0.0;
    double totalMs = 10.0;
    uint64_t diskBytesRead = 3u << 20;
    double diskReadExposedMs = 1.5;
    double diskReadHiddenMs = 4.0;
};

ui::TracePtr makeTrace(const TraceShape& shape);

/// The predicted top-1 of token t in layer l, as makeTrace writes it.
int predictedExpert(int token, int layer, int experts);
/// The router's choice: the prediction, except for every third token (t % 3 == 0), one expert on.
int routerExpert(int token, int layer, int experts);

} // namespace sida::test
