// SPDX-License-Identifier: MIT
// Where the engine's threads leave results and batch traces for the GUI thread (the OBS meter
// pattern): callbacks copy a value in under a mutex and return; the GUI's frame timer takes everything
// at once, so a flood of small batches costs the event loop one wake-up per frame, not one per result.
#pragma once

#include "engine_types.h"

#include <atomic>
#include <cstdint>
#include <mutex>
#include <vector>

namespace sida::ui {

class EngineInbox {
public:
    struct Mail {
        std::vector<RequestResult> results;
        std::vector<TracePtr> traces;
        bool empty() const { return results.empty() && traces.empty(); }
    };

    /// Job ids are unique per pipeline; the inbox makes them unique per app by putting the
    /// pipeline's generation in the high 32 bits.
    static uint64_t appJobId(uint32_t generation, uint64_t engineJobId) {
        return (static_cast<uint64_t>(generation) << 32) | (engineJobId & 0xffffffffu);
    }
    static uint64_t engineJobId(uint64_t appJobId) { return appJobId & 0xffffffffu; }
    static uint32_t generationOf(uint64_t appJobId) { return static_cast<uint32_t>(appJobId >> 32); }

    /// From a pipeline of `generation`: results always arrive (each row needs its answer); a
    /// retired pipeline's batch numbers and traces are dropped, since they would name batches of the
    /// model now loaded.
    void postResult(uint32_t generation, RequestResult result);
    void postTrace(uint32_t generation, TracePtr trace);

    /// Everything posted since the last call.
    Mail take();

    void setCurrentGeneration(uint32_t generation) { m_current.store(generation); }
    uint32_t currentGeneration() const { return m_current.load(); }

private:
    std::mutex m_mutex;
    Mail m_mail;
    std::atomic<uint32_t> m_current{0};
};

} // namespace sida::ui
