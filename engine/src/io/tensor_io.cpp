// SPDX-License-Identifier: MIT
#include "io/tensor_io.h"

#include "sida/errors.h"

#include <cstring>

namespace sida::detail {

at::ScalarType scalarTypeOf(DType dtype, const std::string& tensorName, const std::string& file) {
    switch (dtype) {
    case DType::F32:
        return at::kFloat;
    case DType::F16:
        return at::kHalf;
    case DType::BF16:
        return at::kBFloat16;
    default:
        throw Error(file + ": tensor '" + tensorName + "' is stored as " + dtypeName(dtype) +
                    "; SiDA reads F32, F16 and BF16 weights");
    }
}

DType dtypeOf(at::ScalarType type) {
    switch (type) {
    case at::kFloat:
        return DType::F32;
    case at::kHalf:
        return DType::F16;
    case at::kBFloat16:
        return DType::BF16;
    case at::kLong:
        return DType::I64;
    case at::kInt:
        return DType::I32;
    case at::kBool:
        return DType::BOOL;
    default:
        throw Error(std::string("cannot store dtype ") + at::toString(type) + " in safetensors");
    }
}

namespace {

std::vector<int64_t> shapeOf(const TensorInfo& info) { return info.shape; }

} // namespace

at::Tensor readTensor(const TensorLocation& location, at::ScalarType target) {
    const TensorInfo& info = *location.info;
    const at::ScalarType stored = scalarTypeOf(info.dtype, info.name, location.file->path().string());
    at::Tensor tensor = at::empty(shapeOf(info), at::TensorOptions().dtype(stored));
    const auto bytes = location.file->data(info);
    if (!bytes.empty()) std::memcpy(tensor.data_ptr(), bytes.data(), bytes.size());
    return tensor.to(target);
}

at::Tensor readStoredTensor(const TensorLocation& location) {
    const TensorInfo& info = *location.info;
    at::ScalarType stored;
    if (info.dtype == DType::I64)
        stored = at::kLong;
    else if (info.dtype == DType::I32)
        stored = at::kInt;
    else
        return readTensor(location, scalarTypeOf(info.dtype, info.name, location.file->path().string()));
    at::Tensor tensor = at::empty(shapeOf(info), at::TensorOptions().dtype(stored));
    const auto bytes = location.file->data(info);
    if (!bytes.empty()) std::memcpy(tensor.data_ptr(), bytes.data(), bytes.size());
    return tensor;
}

at::Tensor mappedTensor(const TensorLocation& location) {
    const TensorInfo& info = *location.info;
    const at::ScalarType stored = scalarTypeOf(info.dtype, info.name, location.file->path().string());
    const auto bytes = location.file->data(info);
    const auto address = reinterpret_cast<uintptr_t>(bytes.data());
    if (bytes.empty() || address % dtypeSize(info.dtype) != 0) return readTensor(location, stored);
    // The mapping outlives every tensor made from it (the Checkpoint is owned by the model).
    return at::from_blob(const_cast<std::byte*>(bytes.data()), shapeOf(info),
                         at::TensorOptions().dtype(stored));
}

void addTensor(SafetensorsWriter& writer, const std::string& name, const at::Tensor& tensor) {
    const at::Tensor cpu = tensor.detach().to(at::kCPU).contiguous();
    const auto* data = static_cast<const std::byte*>(cpu.data_ptr());
    writer.add(name, dtypeOf(cpu.scalar_type()), cpu.sizes().vec(),
               {data, static_cast<size_t>(cpu.nbytes())});
}

void checkFinite(const at::Tensor& tensor, const std::string& name, const std::string& file) {
    if (!at::isfinite(tensor).all().item<bool>())
        throw Error(file + ": tensor '" + name + "' contains NaN or infinite values");
}

std::string shapeText(at::IntArrayRef shape) {
    std::string text = "[";
    for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
    return text + "]";
}

} // namespace sida::detail
