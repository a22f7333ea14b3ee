// SPDX-License-Identifier: MIT
// Between safetensors bytes and LibTorch tensors.
#pragma once

#include "sida/safetensors.h"

#include <ATen/ATen.h>

#include <string>
#include <vector>

namespace sida::detail {

/// The LibTorch dtype of a supported safetensors dtype; sida::Error naming the tensor otherwise.
at::ScalarType scalarTypeOf(DType dtype, const std::string& tensorName, const std::string& file);
DType dtypeOf(at::ScalarType type);

/// Copies one tensor out of its (possibly unaligned) mapping and converts it to `target`.
at::Tensor readTensor(const TensorLocation& location, at::ScalarType target);

/// Copies one tensor as stored (F32, F16, BF16, I32 or I64), e.g. collected expert ids.
at::Tensor readStoredTensor(const TensorLocation& location);

/// A zero-copy view of a tensor's bytes in the mapping when they are aligned for `dtype`, else
/// an aligned copy; either way in the stored dtype.
at::Tensor mappedTensor(const TensorLocation& location);

/// Adds a CPU-contiguous copy of `tensor` to a writer.
void addTensor(SafetensorsWriter& writer, const std::string& name, const at::Tensor& tensor);

/// Throws sida::Error naming the tensor when it holds NaN or infinity.
void checkFinite(const at::Tensor& tensor, const std::string& name, const std::string& file);

/// "[a, b]".
std::string shapeText(at::IntArrayRef shape);

} // namespace sida::detail
