// SPDX-License-Identifier: MIT
// The teacher side of truncated knowledge distillation: the routers' top-T logits for every real
// token of a data set, and the loss and hit rates measured against them.
#pragma once

#include "model/model_impl.h"
#include "predictor/predictor_net.h"

#include <ATen/ATen.h>

#include <cstdint>
#include <vector>

namespace sida::detail {

/// Router logits of a set of sequences, kept as each token's top-T (values and expert ids, in
/// descending order; T = E keeps them all). Row r of a layer's tensors is the r-th real token in
/// sequence order.
struct TeacherData {
    std::vector<std::vector<int64_t>> sequences; ///< token ids, </s> included, no padding
    std::vector<int64_t> offsets;                ///< first row of each sequence; back() = rows
    std::vector<at::Tensor> topValues;           ///< per MoE layer [rows, T] float32
    std::vector<at::Tensor> topIndices;          ///< per MoE layer [rows, T] int64
    int64_t topT = 0;

    int64_t rows() const { return offsets.empty() ? 0 : offsets.back(); }
    /// Row indices of the given sequences' tokens, concatenated in order.
    at::Tensor rowsOf(const std::vector<size_t>& sequenceIndices) const;
};

/// Runs the model (routers deciding, no capacity limit) over `sequences` on the model's device.
TeacherData collectTeacher(const Model::Impl& model, std::vector<std::vector<int64_t>> sequences,
                           int64_t topT, int batchSize, const ProgressCallback& progress,
                           const CancelToken& cancel);

/// The frozen token embeddings of a batch of sequences and their mask, on `device`.
struct EmbeddedBatch {
    at::Tensor embeddings; ///< [B, S, d]
    at::Tensor mask;       ///< [B, S]
    at::Tensor realIndex;  ///< [N] positions of real tokens in the flattened [B*S]
};
EmbeddedBatch embedBatch(const at::Tensor& sharedEmbedding, int64_t padId,
                         const std::vector<const std::vector<int64_t>*>& sequences, const at::Device& device);

/// Predicted logits of real tokens: [MoE layers, N, E].
at::Tensor predictRealTokens(PredictorNet& net, const EmbeddedBatch& batch);

/// lambda * CE(student, teacher argmax) + L1(softmax of student over teacher's top-T, softmax of
/// teacher over top-T), averaged over tokens and MoE layers (the paper's loss).
at::Tensor distillationLoss(const at::Tensor& studentLogits, const std::vector<at::Tensor>& teacherValues,
                            const std::vector<at::Tensor>& teacherIndices, double crossEntropyWeight);

/// Top-1 and top-k hit counts of student logits [L, N, E] against the teacher's argmax, per layer.
struct HitCounts {
    std::vector<int64_t> top1, topK;
    int64_t tokens = 0;
};
void countHits(const at::Tensor& studentLogits, const std::vector<at::Tensor>& teacherTop1, int64_t k,
               HitCounts& counts);

} // namespace sida::detail
