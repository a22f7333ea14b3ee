// SPDX-License-Identifier: MIT
#pragma once

#include <ATen/ATen.h>

namespace sida::detail {

/// Textbook sparsemax (Martins & Astudillo, 2016) along `dim`: the Euclidean projection of z onto
/// the probability simplex, sparse where softmax is dense. Entries set to -inf (masked) get 0 and
/// do not enter the support; each slice needs at least one finite entry. Differentiable.
/// (The SiDA authors' code subtracts an extra 1/rho from the threshold; this is the paper's.)
at::Tensor sparsemax(const at::Tensor& z, int64_t dim = -1);

} // namespace sida::detail
