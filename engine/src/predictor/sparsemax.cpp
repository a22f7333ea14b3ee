// SPDX-License-Identifier: MIT
#include "predictor/sparsemax.h"

namespace sida::detail {

at::Tensor sparsemax(const at::Tensor& z, int64_t dim) {
    dim = at::maybe_wrap_dim(dim, z.dim());
    const at::Tensor sorted = std::get<0>(z.sort(dim, /*descending=*/true));
    std::vector<int64_t> shape(z.dim(), 1);
    shape[dim] = z.size(dim);
    const at::Tensor k = at::arange(1, z.size(dim) + 1, z.options()).view(shape);
    const at::Tensor cumulative = sorted.cumsum(dim);
    // The support is the prefix of sorted entries with 1 + k z_(k) > sum_{j<=k} z_(j).
    const at::Tensor supportSize = (1 + k * sorted).gt(cumulative).sum(dim, /*keepdim=*/true);
    const at::Tensor threshold =
        (cumulative.gather(dim, supportSize - 1) - 1) / supportSize.to(z.scalar_type());
    return at::clamp_min(z - threshold, 0);
}

} // namespace sida::detail
