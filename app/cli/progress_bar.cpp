// SPDX-License-Identifier: MIT
#include "progress_bar.h"

#include <csignal>
#include <cstdio>
#include <iostream>
#include <unistd.h>

namespace sida::cli {
namespace {

std::string clock(double seconds) {
    const auto total = static_cast<long>(seconds + 0.5);
    char text[32];
    if (total >= 3600)
        std::snprintf(text, sizeof text, "%ld:%02ld:%02ld", total / 3600, total / 60 % 60, total % 60);
    else
        std::snprintf(text, sizeof text, "%02ld:%02ld", total / 60, total % 60);
    return text;
}

CancelToken* interruptToken = nullptr;

extern "C" void onInterrupt(int) {
    if (interruptToken) interruptToken->cancel();
}

} // namespace

ProgressBar::ProgressBar(std::string unit) : unit_(std::move(unit)), terminal_(isatty(STDERR_FILENO) != 0) {}

void ProgressBar::update(const Progress& p) {
    const auto now = std::chrono::steady_clock::now();
    if (p.stage != stage_) {
        finishLine();
        stage_ = p.stage;
        stageStart_ = now;
        lastDecile_ = -1;
    }
    const double elapsed = std::chrono::duration<double>(now - stageStart_).count();
    const double fraction = p.total > 0 ? static_cast<double>(p.done) / static_cast<double>(p.total) : 0.0;
    const bool finished = p.total > 0 && p.done >= p.total;
    if (terminal_ && !finished && now - lastDraw_ < std::chrono::milliseconds(100)) return;
    const int decile = static_cast<int>(fraction * 10);
    if (!terminal_ && decile == lastDecile_ && !finished) return;
    lastDraw_ = now;
    lastDecile_ = decile;

    char line[512];
    if (p.total > 0) {
        const int width = 24, filled = static_cast<int>(fraction * width);
        const double rate = elapsed > 0 ? static_cast<double>(p.done) / elapsed : 0.0;
        const double eta = rate > 0 ? static_cast<double>(p.total - p.done) / rate : 0.0;
        std::snprintf(line, sizeof line, "%s [%s%s] %3.0f%% %lld/%lld %.1f %s/s ETA %s %s", p.stage.c_str(),
                      std::string(filled, '#').c_str(), std::string(width - filled, '.').c_str(),
                      fraction * 100, static_cast<long long>(p.done), static_cast<long long>(p.total), rate,
                      unit_.c_str(), clock(eta).c_str(), p.detail.c_str());
    } else {
        std::snprintf(line, sizeof line, "%s %s", p.stage.c_str(), p.detail.c_str());
    }
    if (terminal_) {
        std::cerr << "\r\033[K" << line << std::flush;
        lineOpen_ = true;
    } else {
        std::cerr << line << "\n";
    }
    if (finished) finishLine();
}

void ProgressBar::finishLine() {
    if (lineOpen_) std::cerr << "\n";
    lineOpen_ = false;
}

ProgressCallback ProgressBar::callback() {
    return [this](const Progress& p) { update(p); };
}

CancelToken installInterruptHandler() {
    static CancelToken token;
    interruptToken = &token;
    std::signal(SIGINT, onInterrupt);
    std::signal(SIGTERM, onInterrupt);
    return token;
}

} // namespace sida::cli
