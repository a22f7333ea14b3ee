// SPDX-License-Identifier: MIT
// A terminal progress bar for long jobs: bar, counts, rate, ETA and the job's own detail line.
// On a terminal it redraws one line; otherwise (logs, CI) it prints a line every 10%.
#pragma once

#include "sida/progress.h"

#include <chrono>
#include <string>

namespace sida::cli {

class ProgressBar {
public:
    explicit ProgressBar(std::string unit = "it");
    /// Draws a report; cheap enough to call for every step.
    void update(const Progress& progress);
    /// Ends the current line so that other output starts on a fresh one.
    void finishLine();
    ProgressCallback callback();

private:
    std::string unit_;
    bool terminal_;
    std::string stage_;
    std::chrono::steady_clock::time_point stageStart_;
    std::chrono::steady_clock::time_point lastDraw_;
    int lastDecile_ = -1;
    bool lineOpen_ = false;
};

/// Ctrl-C cancels this token (once installed) instead of killing the process, so that jobs can
/// save their state and exit cleanly.
CancelToken installInterruptHandler();

} // namespace sida::cli
