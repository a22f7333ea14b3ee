// SPDX-License-Identifier: MIT
#include "predictor/distillation.h"

#include "model/switch_encoder.h"
#include "serving/serving_hooks.h"

#include <c10/core/InferenceMode.h>

namespace sida::detail {

at::Tensor TeacherData::rowsOf(const std::vector<size_t>& sequenceIndices) const {
    std::vector<int64_t> rows;
    for (size_t s : sequenceIndices)
        for (int64_t r = offsets[s]; r < offsets[s + 1]; ++r) rows.push_back(r);
    return at::tensor(rows, at::kLong);
}

TeacherData collectTeacher(const Model::Impl& model, std::vector<std::vector<int64_t>> sequences,
                           int64_t topT, int batchSize, const ProgressCallback& progress,
                           const CancelToken& cancel) {
    const SwitchConfig& c = model.config();
    TeacherData teacher;
    teacher.topT = std::min(topT, c.num_experts);
    teacher.sequences = std::move(sequences);
    teacher.offsets = {0};
    for (const auto& s : teacher.sequences)
        teacher.offsets.push_back(teacher.offsets.back() + static_cast<int64_t>(s.size()));
    const size_t layers = model.info.moeBlocks.size();
    std::vector<std::vector<at::Tensor>> values(layers), indices(layers);

    c10::InferenceMode guard;
    const auto lock = model.experts->lock();
    StoreRouterHooks hooks(*model.experts, /*noDrop=*/true);
    const auto total = static_cast<int64_t>(teacher.sequences.size());
    for (int64_t first = 0; first < total; first += batchSize) {
        cancel.throwIfCancelled();
        const int64_t last = std::min(total, first + batchSize);
        std::vector<const std::vector<int64_t>*> batchSequences;
        for (int64_t i = first; i < last; ++i) batchSequences.push_back(&teacher.sequences[i]);
        const TokenBatch batch = padSequences(batchSequences, c.pad_token_id, model.device);
        const EncoderOutput out = runEncoder(c, model.weights, batch, hooks, {});
        for (size_t l = 0; l < layers; ++l) {
            const auto [v, i] = out.moe[l].router->logits.topk(teacher.topT, -1);
            values[l].push_back(v.cpu());
            indices[l].push_back(i.cpu());
        }
        if (progress) progress({"running the routers", last, total, ""});
    }
    for (size_t l = 0; l < layers; ++l) {
        teacher.topValues.push_back(values[l].empty() ? at::empty({0, teacher.topT}) : at::cat(values[l]));
        teacher.topIndices.push_back(indices[l].empty() ? at::empty({0, teacher.topT}, at::kLong)
                                                        : at::cat(indices[l]));
    }
    return teacher;
}

EmbeddedBatch embedBatch(const at::Tensor& sharedEmbedding, int64_t padId,
                         const std::vector<const std::vector<int64_t>*>& sequences,
                         const at::Device& device) {
    const TokenBatch tokens = padSequences(sequences, padId, sharedEmbedding.device());
    EmbeddedBatch batch;
    batch.embeddings = at::embedding(sharedEmbedding, tokens.ids).to(device, at::kFloat);
    batch.mask = tokens.mask.to(device);
    batch.realIndex = tokens.realIndex.to(device);
    return batch;
}

at::Tensor predictRealTokens(PredictorNet& net, const EmbeddedBatch& batch) {
    const at::Tensor logits = net.forward(batch.embeddings, batch.mask); // [L, B, S, E]
    return logits.flatten(1, 2).index_select(1, batch.realIndex);
}

at::Tensor distillationLoss(const at::Tensor& student, const std::vector<at::Tensor>& teacherValues,
                            const std::vector<at::Tensor>& teacherIndices, double crossEntropyWeight) {
    at::Tensor total = at::zeros({}, student.options());
    for (size_t l = 0; l < teacherValues.size(); ++l) {
        const at::Tensor& indices = teacherIndices[l];
        const at::Tensor truncated = student[static_cast<int64_t>(l)].gather(1, indices);
        const at::Tensor l1 = (at::softmax(truncated, -1) - at::softmax(teacherValues[l], -1)).abs().mean();
        const at::Tensor ce = at::cross_entropy_loss(student[static_cast<int64_t>(l)], indices.select(1, 0));
        total = total + crossEntropyWeight * ce + l1;
    }
    return total / static_cast<double>(std::max<size_t>(1, teacherValues.size()));
}

void countHits(const at::Tensor& student, const std::vector<at::Tensor>& teacherTop1, int64_t k,
               HitCounts& counts) {
    const auto layers = static_cast<int64_t>(teacherTop1.size());
    counts.top1.resize(layers, 0);
    counts.topK.resize(layers, 0);
    const int64_t kk = std::min<int64_t>(k, student.size(2));
    for (int64_t l = 0; l < layers; ++l) {
        const at::Tensor actual = teacherTop1[l].to(student.device()).unsqueeze(1);
        const at::Tensor topk = std::get<1>(student[l].topk(kk, -1));
        counts.top1[l] += topk.select(1, 0).eq(actual.squeeze(1)).sum().item<int64_t>();
        counts.topK[l] += topk.eq(actual).any(1).sum().item<int64_t>();
    }
    counts.tokens += student.size(1);
}

} // namespace sida::detail
