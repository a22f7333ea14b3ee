// SPDX-License-Identifier: MIT
#include "device/device.h"

#include "sida/errors.h"
#include "sida/version.h"

#include <ATen/DeviceAccelerator.h>
#include <ATen/Parallel.h>
#include <ATen/detail/CUDAHooksInterface.h>
#include <torch/version.h>

#include <cstdlib>
#include <dlfcn.h>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <thread>

namespace sida::detail {
namespace {

// libtorch_cuda.so registers LibTorch's CUDA hooks from its static initialisers. It sits beside
// libtorch_cpu.so (in the wheel and in the installed package), so find that one first.
bool loadTorchCuda() {
    if (const char* off = std::getenv("SIDA_DISABLE_CUDA"); off && std::string(off) == "1") return false;
    Dl_info info{};
    if (!dladdr(reinterpret_cast<void*>(&at::globalContext), &info) || !info.dli_fname) return false;
    const auto dir = std::filesystem::path(info.dli_fname).parent_path();
    return dlopen((dir / "libtorch_cuda.so").c_str(), RTLD_NOW | RTLD_GLOBAL) != nullptr;
}

// The device name comes from the CUDA driver API, looked up at run time like everything CUDA.
std::string cudaDeviceName(int index) {
    using InitFn = int (*)(unsigned);
    using GetFn = int (*)(int*, int);
    using NameFn = int (*)(char*, int, int);
    void* driver = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
    if (!driver) return "CUDA device " + std::to_string(index);
    auto init = reinterpret_cast<InitFn>(dlsym(driver, "cuInit"));
    auto get = reinterpret_cast<GetFn>(dlsym(driver, "cuDeviceGet"));
    auto name = reinterpret_cast<NameFn>(dlsym(driver, "cuDeviceGetName"));
    char buffer[256] = {};
    int device = 0;
    if (init && get && name && init(0) == 0 && get(&device, index) == 0 &&
        name(buffer, sizeof buffer, device) == 0)
        return buffer;
    return "CUDA device " + std::to_string(index);
}

uint64_t meminfoBytes(const std::string& key) {
    std::ifstream in("/proc/meminfo");
    std::string name;
    uint64_t kib = 0;
    std::string unit;
    while (in >> name >> kib >> unit)
        if (name == key + ":") return kib * 1024;
    return 0;
}

int resolvedThreads(int threads) {
    return threads > 0 ? threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
}

} // namespace

bool cudaAvailable() {
    static const bool available = [] { return loadTorchCuda() && at::hasCUDA(); }();
    return available;
}

at::Device resolveDevice(const std::string& spec) {
    if (spec == "cpu") return at::Device(at::kCPU);
    if (spec == "auto") return cudaAvailable() ? at::Device(at::kCUDA, 0) : at::Device(at::kCPU);
    int index = 0;
    if (spec == "cuda") {
        index = 0;
    } else if (spec.rfind("cuda:", 0) == 0) {
        const std::string number = spec.substr(5);
        if (number.empty() || number.size() > 3 ||
            number.find_first_not_of("0123456789") != std::string::npos)
            throw Error("device '" + spec + "' is malformed (use auto, cpu, cuda or cuda:N)");
        index = std::stoi(number);
    } else {
        throw Error("device '" + spec + "' is unknown (use auto, cpu, cuda or cuda:N)");
    }
    if (!cudaAvailable())
        throw Error("device '" + spec +
                    "' was asked for, but no CUDA device is usable here (no NVIDIA driver or GPU "
                    "found, or LibTorch's CUDA libraries are not installed)");
    const int count = at::accelerator::deviceCount();
    if (index >= count)
        throw Error("device '" + spec + "' does not exist (this machine has " + std::to_string(count) +
                    " CUDA device(s))");
    return at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(index));
}

DeviceMemory deviceMemory(const at::Device& device) {
    DeviceMemory memory;
    if (device.is_cuda()) {
        memory.isCuda = true;
        const auto stats = at::accelerator::getDeviceStats(device.index());
        const auto aggregate = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
        memory.allocatedBytes = stats.allocated_bytes[aggregate].current;
        memory.reservedBytes = stats.reserved_bytes[aggregate].current;
        const auto [freeBytes, totalBytes] = at::accelerator::getMemoryInfo(device.index());
        memory.freeBytes = freeBytes;
        memory.totalBytes = totalBytes;
    } else {
        memory.totalBytes = meminfoBytes("MemTotal");
        memory.freeBytes = meminfoBytes("MemAvailable");
    }
    return memory;
}

std::string cpuModelName() {
    std::ifstream in("/proc/cpuinfo");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind("model name", 0) == 0) {
            const size_t colon = line.find(':');
            if (colon != std::string::npos) return line.substr(line.find_first_not_of(' ', colon + 1));
        }
    return "unknown CPU";
}

void setComputeThreads(int threads) {
    const int count = resolvedThreads(threads);
    // LibTorch allows the inter-op pool to be sized once, before any parallel work.
    static std::once_flag interop;
    std::call_once(interop, [] { at::set_num_interop_threads(1); });
    at::set_num_threads(count);
}

// OpenMP and MKL size their teams per thread, but LibTorch offers only a process-wide setter, which
// would change the other threads' counts too. Both runtimes are loaded with LibTorch; looked up at
// run time, so that a LibTorch built without them works too. (MKL's C name for
// mkl_set_num_threads_local: the lower-case symbol is its Fortran entry point, taking a pointer.)
void setCallingThreadComputeThreads(int threads) {
    static const auto setOpenMpThreads =
        reinterpret_cast<void (*)(int)>(dlsym(RTLD_DEFAULT, "omp_set_num_threads"));
    static const auto setMklThreads =
        reinterpret_cast<int (*)(int)>(dlsym(RTLD_DEFAULT, "MKL_Set_Num_Threads_Local"));
    // LibTorch sets a thread's count when it first asks for it, from the process-wide count: ask
    // now (inside LibTorch, whose thread-local flag this is), so that it does not undo what follows.
    (void)at::get_num_threads();
    const int count = resolvedThreads(threads);
    if (setOpenMpThreads) setOpenMpThreads(count);
    if (setMklThreads) setMklThreads(count);
}

} // namespace sida::detail

namespace sida {

std::vector<DeviceDescription> listDevices() {
    std::vector<DeviceDescription> devices;
    const unsigned cores = std::max(1u, std::thread::hardware_concurrency());
    const DeviceMemory ram = detail::deviceMemory(at::Device(at::kCPU));
    devices.push_back(
        {"cpu", "CPU (" + std::to_string(cores) + " threads)", false, ram.totalBytes, ram.freeBytes});
    if (detail::cudaAvailable()) {
        for (int i = 0; i < at::accelerator::deviceCount(); ++i) {
            const auto memory = detail::deviceMemory(at::Device(at::kCUDA, static_cast<c10::DeviceIndex>(i)));
            devices.push_back({"cuda:" + std::to_string(i), detail::cudaDeviceName(i), true,
                               memory.totalBytes, memory.freeBytes});
        }
    }
    return devices;
}

RuntimeVersions runtimeVersions() {
    RuntimeVersions versions;
    versions.sida = kVersion;
    versions.libtorch = TORCH_VERSION;
    versions.cudaDevicePresent = detail::cudaAvailable();
    if (versions.cudaDevicePresent) {
        const long v = at::detail::getCUDAHooks().versionCUDART();
        versions.cuda = std::to_string(v / 1000) + "." + std::to_string((v % 1000) / 10);
    } else {
        versions.cuda = "not in use (no CUDA device found)";
    }
    return versions;
}

} // namespace sida
