// SPDX-License-Identifier: MIT
// Choosing the compute device. CUDA support (libtorch_cuda.so) is loaded on first use, so the
// engine runs on machines without NVIDIA's libraries.
#pragma once

#include "sida/device.h"

#include <ATen/ATen.h>

#include <exception>
#include <optional>
#include <string>
#include <thread>
#include <type_traits>

namespace sida::detail {

/// "auto" (CUDA when present, else CPU), "cpu", "cuda" or "cuda:N". Throws sida::Error naming
/// the setting when it is malformed or names a device that is not there.
at::Device resolveDevice(const std::string& spec);

/// Loads LibTorch's CUDA library once; true when a CUDA device is usable afterwards.
bool cudaAvailable();

/// Memory figures of a device, from the caching allocator and the driver (CUDA) or from the
/// operating system (CPU, where "allocated" stays 0: LibTorch keeps no CPU statistics).
DeviceMemory deviceMemory(const at::Device& device);

/// The CPU's model name (from /proc/cpuinfo), for records of where something ran.
std::string cpuModelName();

/// Sets LibTorch's intra-op thread count (0: one per core): the calling thread's, and the count
/// every thread that starts computing later takes (the serving pipeline's inference thread).
void setComputeThreads(int threads);

/// Sets the calling thread's own count only (0: one per core). The hash, copy and I/O threads, and
/// a thread that loads a model, use 1: their small ops gain nothing from a parallel team, and a
/// team, once made, outlives the work. With more OpenMP threads alive than cores, OpenMP stops
/// spin-waiting in every team, and each of the inference thread's parallel regions then pays for
/// waking its workers: the pipeline ran 4-5x slower with 2 threads than with 1 on 2 cores.
void setCallingThreadComputeThreads(int threads);

/// Runs `work` on a thread of its own whose LibTorch ops use `threads` threads, and returns what
/// it returns (or throws what it throws). For work done for a caller with a model's thread count
/// (classification, evaluation, collection, predictor training): its parallel team ends with the
/// thread.
template <class Work>
auto runWithComputeThreads(int threads, Work&& work) -> decltype(work()) {
    using Result = decltype(work());
    std::exception_ptr error;
    std::optional<std::conditional_t<std::is_void_v<Result>, bool, Result>> result;
    std::thread worker([&] {
        try {
            setCallingThreadComputeThreads(threads);
            if constexpr (std::is_void_v<Result>)
                work();
            else
                result.emplace(work());
        } catch (...) {
            error = std::current_exception();
        }
    });
    worker.join();
    if (error) std::rethrow_exception(error);
    if constexpr (!std::is_void_v<Result>) return std::move(*result);
}

} // namespace sida::detail
