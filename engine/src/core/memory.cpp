// SPDX-License-Identifier: MIT
#include "sida/memory.h"

#include "sida/errors.h"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <limits>
#include <sstream>
#include <utility>
#include <vector>

namespace sida {
namespace {

bool allDigits(const std::string& text) {
    return !text.empty() &&
           std::all_of(text.begin(), text.end(), [](unsigned char c) { return std::isdigit(c); });
}

std::string trimmed(const std::string& text) {
    const auto first = text.find_first_not_of(" \t");
    if (first == std::string::npos) return {};
    return text.substr(first, text.find_last_not_of(" \t") - first + 1);
}

const std::vector<std::pair<std::string, double>>& sizeUnits() {
    static const std::vector<std::pair<std::string, double>> units{
        {"B", 1},           {"KB", 1e3},           {"MB", 1e6},
        {"GB", 1e9},        {"TB", 1e12},          {"KiB", 1024.0},
        {"MiB", 1048576.0}, {"GiB", 1073741824.0}, {"TiB", 1099511627776.0}};
    return units;
}

// A number from /proc or /sys, or 0 when the file is absent or says "max".
uint64_t readNumber(const std::string& path) {
    std::ifstream in(path);
    std::string text;
    if (!(in >> text) || !allDigits(text)) return 0;
    return std::strtoull(text.c_str(), nullptr, 10);
}

// "VmRSS:   1234 kB" lines of /proc/self/status (and "MemAvailable:" of /proc/meminfo).
uint64_t procField(const char* path, const std::string& field) {
    std::ifstream in(path);
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field + ":", 0) == 0) {
            std::istringstream values(line.substr(field.size() + 1));
            uint64_t kib = 0;
            values >> kib;
            return kib * 1024;
        }
    return 0;
}

// The memory cgroup of this process: v2 (memory.max) or v1 (memory.limit_in_bytes). Limits of
// "unlimited" (v1 writes a huge number) count as none.
std::pair<uint64_t, uint64_t> cgroupLimitAndUsage() {
    std::ifstream in("/proc/self/cgroup");
    std::string line;
    while (std::getline(in, line)) {
        const auto first = line.find(':'), second = line.find(':', first + 1);
        if (first == std::string::npos || second == std::string::npos) continue;
        const std::string controllers = line.substr(first + 1, second - first - 1);
        const std::string path = line.substr(second + 1);
        uint64_t limit = 0, usage = 0;
        if (controllers.empty()) { // v2
            limit = readNumber("/sys/fs/cgroup" + path + "/memory.max");
            usage = readNumber("/sys/fs/cgroup" + path + "/memory.current");
        } else if (controllers.find("memory") != std::string::npos) { // v1
            limit = readNumber("/sys/fs/cgroup/memory" + path + "/memory.limit_in_bytes");
            usage = readNumber("/sys/fs/cgroup/memory" + path + "/memory.usage_in_bytes");
        }
        if (limit > 0 && limit < (uint64_t{1} << 60)) return {limit, usage};
    }
    return {0, 0};
}

} // namespace

Budget parseBudget(const std::string& raw, const std::string& what) {
    const std::string text = trimmed(raw);
    if (text == "auto") return Budget::automatic();
    if (allDigits(text) && std::strtoull(text.c_str(), nullptr, 10) > 1)
        throw Error(what + ": '" + text + "' has no unit: write " + text + "% for a share, or " + text +
                    "MiB / " + text + "GiB for a size");
    char* end = nullptr;
    const double value = std::strtod(text.c_str(), &end);
    const std::string unit = end ? trimmed(end) : "";
    if (text.empty() || end == text.c_str() || !std::isfinite(value) || value <= 0)
        throw Error(what + ": '" + text +
                    "' is not a budget (auto, a share such as 50% or 0.5, or a size "
                    "such as 2GiB)");
    if (unit == "%") {
        if (value > 100) throw Error(what + ": " + text + " is more than 100%");
        return Budget::ofFraction(value / 100);
    }
    if (unit.empty()) {
        if (value > 1) throw Error(what + ": " + text + " is more than 1 (a share is at most 1 or 100%)");
        return Budget::ofFraction(value);
    }
    for (const auto& [name, scale] : sizeUnits())
        if (unit == name) {
            const double bytes = value * scale;
            if (bytes < 1 || bytes > static_cast<double>(std::numeric_limits<int64_t>::max()))
                throw Error(what + ": " + text + " is not a usable size");
            return Budget::ofBytes(static_cast<int64_t>(bytes));
        }
    throw Error(what + ": unknown unit '" + unit + "' in '" + text +
                "' (use %, B, KB, MB, GB, TB, KiB, MiB, GiB or TiB)");
}

std::string budgetText(const Budget& budget) {
    char text[48];
    switch (budget.kind) {
    case Budget::Kind::Automatic:
        return "auto";
    case Budget::Kind::Fraction:
        std::snprintf(text, sizeof text, "%g%%", budget.fraction * 100);
        return text;
    case Budget::Kind::Bytes:
        if (budget.bytes % 1048576 == 0 && budget.bytes < (int64_t{1} << 30))
            std::snprintf(text, sizeof text, "%lldMiB", static_cast<long long>(budget.bytes / 1048576));
        else
            std::snprintf(text, sizeof text, "%.2fGiB", static_cast<double>(budget.bytes) / 1073741824.0);
        return text;
    }
    return "auto";
}

std::string automaticBudgetRule() {
    return "auto: from the memory available when serving starts: a quarter of the RAM available (MemAvailable, "
           "lowered to a memory cgroup's headroom) for the expert caches, and with CUDA 80% of the GPU's "
           "free "
           "memory for the device pool. The pool takes every expert when they fit in half of its share, else "
           "a "
           "quarter of it; the host cache takes the rest of the RAM share (at most every expert's stored "
           "bytes), "
           "or only a few experts' staging room when the pool holds every expert";
}

int64_t budgetBytes(const Budget& budget, int64_t whole) {
    switch (budget.kind) {
    case Budget::Kind::Fraction:
        return static_cast<int64_t>(budget.fraction * static_cast<double>(whole) + 1e-6);
    case Budget::Kind::Bytes:
        return budget.bytes;
    case Budget::Kind::Automatic:
        break;
    }
    return whole;
}

AvailableMemory availableMemory() {
    AvailableMemory memory;
    memory.ramAvailableBytes = procField("/proc/meminfo", "MemAvailable");
    const auto [limit, usage] = cgroupLimitAndUsage();
    memory.cgroupLimitBytes = limit;
    memory.cgroupUsageBytes = usage;
    if (limit > 0) {
        // The cgroup's usage counts page cache the kernel can reclaim; what this process still
        // gets before the OOM killer is at least the limit less its own resident set.
        const uint64_t rss = residentBytes();
        const uint64_t headroom = limit > rss ? limit - rss : 0;
        memory.ramAvailableBytes = std::min(memory.ramAvailableBytes, headroom);
    }
    return memory;
}

uint64_t residentBytes() { return procField("/proc/self/status", "VmRSS"); }

uint64_t peakResidentBytes() { return procField("/proc/self/status", "VmHWM"); }

bool resetPeakResident() {
    std::ofstream out("/proc/self/clear_refs");
    out << "5";
    out.flush();
    return static_cast<bool>(out);
}

} // namespace sida
