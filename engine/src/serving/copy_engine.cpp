// SPDX-License-Identifier: MIT
#include "serving/copy_engine.h"

#include "device/device.h"

#include <algorithm>
#include <chrono>

namespace sida::detail {
namespace {

using Clock = std::chrono::steady_clock;

double millisecondsSince(Clock::time_point start) {
    return std::chrono::duration<double, std::milli>(Clock::now() - start).count();
}

} // namespace

bool CopyTicket::runIfQueued() {
    {
        std::lock_guard lock(mutex_);
        if (state_ != State::Queued) return false;
        state_ = State::Running;
    }
    const auto start = Clock::now();
    std::exception_ptr error;
    try {
        work_();
    } catch (...) {
        error = std::current_exception();
    }
    const double busy = millisecondsSince(start);
    {
        std::lock_guard lock(mutex_);
        error_ = error;
        busyMs_ = busy;
        work_ = nullptr; // what the copy referenced is released as soon as it is done
        state_ = State::Done;
    }
    finished_.notify_all();
    return true;
}

CopyTicket::Waited CopyTicket::wait() {
    const auto start = Clock::now();
    const bool ranHere = runIfQueued();
    std::unique_lock lock(mutex_);
    finished_.wait(lock, [&] { return state_ == State::Done; });
    Waited waited;
    if (!accounted_) {
        waited.waitedMs = millisecondsSince(start);
        waited.hiddenMs = ranHere ? 0.0 : std::max(0.0, busyMs_ - waited.waitedMs);
        accounted_ = true;
    }
    if (error_) std::rethrow_exception(error_);
    return waited;
}

CopyEngine::CopyEngine() : thread_([this] { loop(); }) {}

CopyEngine::~CopyEngine() {
    {
        std::lock_guard lock(mutex_);
        stopping_ = true;
    }
    wake_.notify_all();
    thread_.join();
}

std::shared_ptr<CopyTicket> CopyEngine::submit(std::function<void()> work) {
    auto ticket = std::make_shared<CopyTicket>(std::move(work));
    {
        std::lock_guard lock(mutex_);
        queue_.push_back(ticket);
    }
    wake_.notify_one();
    return ticket;
}

void CopyEngine::loop() {
    setCallingThreadComputeThreads(1);
    while (true) {
        std::shared_ptr<CopyTicket> ticket;
        {
            std::unique_lock lock(mutex_);
            wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
            if (queue_.empty()) return;
            ticket = std::move(queue_.front());
            queue_.pop_front();
        }
        ticket->runIfQueued(); // false: its owner needed it first and ran it
    }
}

} // namespace sida::detail
