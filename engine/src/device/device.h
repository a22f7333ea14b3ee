// SPDX-License-Identifier: MIT
// Choosing the compute device. CUDA support (libtorch_cuda.so) is loaded on first use, so the
// engine runs on machines without NVIDIA's libraries.
#pragma once

#include "sida/device.h"

#include <ATen/ATen.h>

#include <string>

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

/// Sets LibTorch's intra-op thread count (0: one per core) once per call site that asks.
void setComputeThreads(int threads);

} // namespace sida::detail
