// SPDX-License-Identifier: MIT
// What the serving suites collect from a pipeline's threads, and how they make its requests.
#pragma once

#include "sida/pipeline.h"

#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

namespace sida::test {

/// One request per text, tagged with its index (plus `offset`).
inline std::vector<Request> requests(const std::vector<std::string>& texts, size_t offset = 0) {
    std::vector<Request> out;
    for (size_t i = 0; i < texts.size(); ++i)
        out.push_back({texts[i], std::nullopt, std::to_string(offset + i)});
    return out;
}

/// Collects results and traces from the pipeline's threads.
struct Sink {
    std::mutex mutex;
    std::vector<RequestResult> results;
    std::vector<std::shared_ptr<const BatchTrace>> traces;
    ResultCallback resultCallback() {
        return [this](const RequestResult& r) {
            std::lock_guard lock(mutex);
            results.push_back(r);
        };
    }
    TraceObserver traceObserver() {
        return [this](std::shared_ptr<const BatchTrace> t) {
            std::lock_guard lock(mutex);
            traces.push_back(std::move(t));
        };
    }
    /// Traces reach the observer after their batch's results: waitIdle() does not wait for them.
    size_t traceCount() {
        std::lock_guard lock(mutex);
        return traces.size();
    }
};

} // namespace sida::test
