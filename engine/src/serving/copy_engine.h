// SPDX-License-Identifier: MIT
// The CPU's counterpart of the CUDA copy stream: one thread that runs expert copies in the order
// they were issued while the inference thread computes. Whoever needs a copy the engine has not
// started yet runs it at once instead of waiting behind the queue.
#pragma once

#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>

namespace sida::detail {

/// One copy, queued on a CopyEngine.
class CopyTicket {
public:
    explicit CopyTicket(std::function<void()> work) : work_(std::move(work)) {}

    /// What the caller had to spend on this copy, once it is done.
    struct Waited {
        double waitedMs = 0.0; ///< the caller's time: running the copy itself, or waiting for it
        double hiddenMs = 0.0; ///< the engine's copy time the caller did not wait for
    };
    /// Returns once the copy is done: runs it here if the engine has not started it, or waits for
    /// the engine. Rethrows the copy's error. Safe to call more than once (later calls report 0).
    Waited wait();

private:
    friend class CopyEngine;
    enum class State { Queued, Running, Done };
    /// Claims and runs the copy; false when someone else has claimed it.
    bool runIfQueued();

    std::mutex mutex_;
    std::condition_variable finished_;
    State state_ = State::Queued;
    std::function<void()> work_;
    std::exception_ptr error_;
    double busyMs_ = 0.0;
    bool accounted_ = false; ///< wait() has reported its times
};

class CopyEngine {
public:
    CopyEngine();
    /// Finishes the queued copies (their memory is still referenced by tickets), then joins.
    ~CopyEngine();
    CopyEngine(const CopyEngine&) = delete;
    CopyEngine& operator=(const CopyEngine&) = delete;

    std::shared_ptr<CopyTicket> submit(std::function<void()> work);

private:
    void loop();

    std::mutex mutex_;
    std::condition_variable wake_;
    std::deque<std::shared_ptr<CopyTicket>> queue_;
    bool stopping_ = false;
    std::thread thread_; ///< last: starts once everything above exists
};

} // namespace sida::detail
