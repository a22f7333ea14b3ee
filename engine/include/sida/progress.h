// SPDX-License-Identifier: MIT
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

namespace sida {

/// One progress report of a long job (load, train, collect, evaluate, benchmark).
struct Progress {
    std::string stage;  ///< what is happening now, e.g. "loading weights", "epoch 2/3"
    int64_t done = 0;   ///< units finished in this stage
    int64_t total = 0;  ///< units in this stage; 0 when unknown
    std::string detail; ///< a short free-form line (loss, rate, current file)
};

/// Called from the job's thread; must be cheap (copy and return).
using ProgressCallback = std::function<void(const Progress&)>;

/// A cancel flag shared between the caller and a job. Copies share the same flag.
class CancelToken {
public:
    CancelToken() : flag_(std::make_shared<std::atomic<bool>>(false)) {}
    void cancel() const { flag_->store(true); }
    bool cancelled() const { return flag_->load(); }
    /// Throws sida::Cancelled when cancel() was called.
    void throwIfCancelled() const;

private:
    std::shared_ptr<std::atomic<bool>> flag_;
};

} // namespace sida
