// SPDX-License-Identifier: MIT
#include "synthetic_traces.h"

#include <algorithm>
#include <string>

namespace sida::test {

int predictedExpert(int token, int layer, int experts) { return (token + 2 * layer) % experts; }

int routerExpert(int token, int layer, int experts) {
    const int predicted = predictedExpert(token, layer, experts);
    return token % 3 == 0 ? (predicted + 1) % experts : predicted;
}

ui::TracePtr makeTrace(const TraceShape& shape) {
    auto trace = std::make_shared<BatchTrace>();
    trace->batchIndex = shape.batchIndex;
    trace->policy = shape.prediction ? Policy::Sida : Policy::Standard;
    trace->startedSeconds = shape.startedSeconds;
    trace->timing.totalMs = shape.totalMs;
    trace->hashQueueDepth = 2;
    trace->bytesCopied = 4096;
    trace->diskBytesRead = shape.diskBytesRead;
    trace->timing.diskReadExposedMs = shape.diskReadExposedMs;
    trace->timing.diskReadHiddenMs = shape.diskReadHiddenMs;
    int64_t first = 0;
    for (size_t s = 0; s < shape.lengths.size(); ++s) {
        SequenceTrace seq;
        seq.requestId = shape.firstRequestId + s;
        seq.tag = "row:" + std::to_string(seq.requestId);
        seq.firstToken = first;
        for (int t = 0; t < shape.lengths[s]; ++t) {
            const bool last = t + 1 == shape.lengths[s];
            seq.tokenIds.push_back(last ? 1 : 100 + t);
            seq.pieces.push_back(last ? "</s>" : "\u2581word" + std::to_string(t));
        }
        seq.label = 1;
        seq.confidence = 0.9;
        first += shape.lengths[s];
        trace->sequences.push_back(std::move(seq));
    }
    trace->tokens = first;
    for (int l = 0; l < shape.layers; ++l) {
        LayerTrace layer;
        layer.block = 2 * l + 1;
        layer.numExperts = shape.experts;
        layer.topK = shape.prediction ? shape.topK : 0;
        layer.usage.assign(static_cast<size_t>(shape.experts), 0);
        for (const SequenceTrace& seq : trace->sequences) {
            for (int t = 0; t < static_cast<int>(seq.tokenIds.size()); ++t) {
                const int predicted = predictedExpert(t, l, shape.experts);
                const int router = routerExpert(t, l, shape.experts);
                if (shape.prediction)
                    for (int j = 0; j < shape.topK; ++j) {
                        layer.predicted.push_back((predicted + j) % shape.experts);
                        layer.predictedProb.push_back(j == 0 ? 0.7f : 0.3f / static_cast<float>(shape.topK));
                    }
                if (shape.router) {
                    layer.router.push_back(router);
                    layer.routerProb.push_back(0.6f);
                }
                const int ran = shape.prediction ? predicted : router;
                layer.routed.push_back(ran);
                ++layer.usage[static_cast<size_t>(ran)];
                if (shape.prediction && shape.router) (predicted == router ? layer.hits : layer.misses)++;
            }
        }
        for (int e = 0; e < shape.experts / 2; ++e) layer.resident.push_back(e);
        layer.hostCached.push_back(0);
        for (int e = shape.experts / 2; e < shape.experts * 3 / 4; ++e) layer.hostCached.push_back(e);
        layer.copiedIn = {0};
        layer.evicted = {shape.experts - 1};
        trace->layers.push_back(std::move(layer));
    }
    MemoryTrace& m = trace->memory;
    m.isCuda = shape.cuda;
    m.tier = shape.cuda ? "GPU memory (cuda:0)" : "RAM pool (CPU)";
    m.nonExpertBytes = 1u << 20;
    m.residentExpertBytes = static_cast<uint64_t>(shape.layers * shape.experts / 2) * 1024;
    m.budgetBytes = static_cast<uint64_t>(shape.layers * shape.experts * 3 / 4) * 1024;
    m.allExpertBytes = static_cast<uint64_t>(shape.layers * shape.experts) * 1024;
    m.allocatedBytes = shape.cuda ? m.nonExpertBytes + m.residentExpertBytes + (1u << 19) : 0;
    // The host cache holds stored bytes (2048 per expert, as for a bf16 checkpoint served in float32),
    // a quarter of the experts plus expert 0 of each layer, against a budget of half of them.
    m.hostTier = shape.cuda ? "pinned host RAM" : "host RAM cache";
    m.io = "pread, O_DIRECT";
    const auto experts = static_cast<uint64_t>(shape.layers * shape.experts);
    m.hostResidentBytes = static_cast<uint64_t>(shape.layers * (shape.experts / 4 + 1)) * 2048;
    m.hostBudgetBytes = experts / 2 * 2048;
    m.allExpertStoredBytes = experts * 2048;
    m.processResidentBytes = 300u << 20;
    return trace;
}

} // namespace sida::test
