// SPDX-License-Identifier: MIT
// Memory budgets and what the machine has: one syntax for every budget (the CLI, the app and the
// bindings all parse through here), the memory a process may still use, and its resident set.
#pragma once

#include <cstdint>
#include <string>

namespace sida {

/// An amount of memory for one tier: chosen by the engine from the memory available, a fraction
/// of what the tier could hold at most, or a size in bytes.
struct Budget {
    enum class Kind { Automatic, Fraction, Bytes };
    Kind kind = Kind::Automatic;
    double fraction = 1.0; ///< Kind::Fraction: in (0, 1]
    int64_t bytes = 0;     ///< Kind::Bytes: > 0

    static Budget automatic() { return {}; }
    static Budget ofFraction(double f) { return {Kind::Fraction, f, 0}; }
    static Budget ofBytes(int64_t b) { return {Kind::Bytes, 1.0, b}; }
    bool operator==(const Budget&) const = default;
};

/// "auto", "50%", "0.5" (fractions), "2GiB", "512MiB", "1.5GB", "4096B" (sizes). A bare integer
/// above 1 ("10") is refused: it could mean a percentage or bytes. `what` names the setting in
/// the sida::Error thrown for anything else ("--budget", "the host cache budget").
Budget parseBudget(const std::string& text, const std::string& what);
/// The inverse of parseBudget: "auto", "50%" or "2.00 GiB".
std::string budgetText(const Budget& budget);
/// How "auto" is resolved, in a sentence for --help and the app.
std::string automaticBudgetRule();
/// Bytes of a budget against the most the tier could hold; Automatic resolves to `whole`.
int64_t budgetBytes(const Budget& budget, int64_t whole);

/// What this process may still allocate, from /proc/meminfo and its memory cgroup.
struct AvailableMemory {
    uint64_t ramAvailableBytes = 0; ///< MemAvailable, lowered to the cgroup's headroom when tighter
    uint64_t cgroupLimitBytes = 0;  ///< the memory cgroup's limit; 0 when there is none
    uint64_t cgroupUsageBytes = 0;  ///< the cgroup's usage (page cache included) when limited
};
AvailableMemory availableMemory();

/// The process's resident set now (VmRSS) and its peak (VmHWM), in bytes; 0 where unknown.
uint64_t residentBytes();
uint64_t peakResidentBytes();
/// Restarts the peak at the current resident set (Linux's clear_refs), so that a benchmark can
/// report each run's own peak. Returns false where the kernel does not allow it.
bool resetPeakResident();

} // namespace sida
