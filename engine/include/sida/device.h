// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace sida {

/// A device the engine can compute on.
struct DeviceDescription {
    std::string id;   ///< "cpu" or "cuda:N", what --device accepts
    std::string name; ///< "CPU (16 threads)", "NVIDIA H200"
    bool isCuda = false;
    uint64_t totalBytes = 0; ///< device memory (CUDA) or physical RAM (CPU)
    uint64_t freeBytes = 0;
};

/// Memory figures of one device at one moment.
struct DeviceMemory {
    bool isCuda = false;
    uint64_t allocatedBytes = 0; ///< held by live tensors (CUDA caching allocator)
    uint64_t reservedBytes = 0;  ///< held by the caching allocator, in use or cached
    uint64_t totalBytes = 0;     ///< device memory, or physical RAM on CPU
    uint64_t freeBytes = 0;      ///< free device memory, or available RAM on CPU
};

/// The CPU and every CUDA device, in that order. Loads CUDA support when it is installed.
std::vector<DeviceDescription> listDevices();

/// Versions of the libraries the engine runs on, for About boxes and `sida --version`.
struct RuntimeVersions {
    std::string sida;
    std::string libtorch;
    std::string cuda; ///< the CUDA runtime LibTorch was built with, or "not loaded"
    bool cudaDevicePresent = false;
};
RuntimeVersions runtimeVersions();

} // namespace sida
