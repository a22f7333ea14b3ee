// SPDX-License-Identifier: MIT
#include "serving/hash_builder.h"

#include "predictor/distillation.h"

#include "sida/errors.h"

namespace sida::detail {
namespace {

// The oracle's hash thread runs the routers itself, with experts straight from the host tier
// (temporaries outside the budgeted pool), so the table is the routers' own choice.
class OracleHooks : public MoeHooks {
public:
    OracleHooks(const ExpertStore& store, const at::Device& device) : store_(store), device_(device) {}
    MoeDecision decide(int, const at::Tensor&, const std::function<RouterOutput()>& runRouter) override {
        return top1Decision(runRouter(), false);
    }
    ExpertWeights expert(int moeLayer, int64_t expert) override {
        return store_.hostWeights({moeLayer, expert}, device_);
    }

private:
    const ExpertStore& store_;
    at::Device device_;
};

HashTable fromPredictor(const Model::Impl& m, const TokenBatch& batch, int topK) {
    if (!m.predictor) throw Error("model '" + m.info.path.string() + "' has no predictor for the hash table");
    EmbeddedBatch embedded;
    embedded.embeddings = at::embedding(m.weights.shared, batch.ids).to(at::kFloat);
    embedded.mask = batch.mask;
    embedded.realIndex = batch.realIndex;
    const at::Tensor probs = at::softmax(predictRealTokens(*m.predictor, embedded), -1);
    const auto [values, indices] = probs.topk(topK, -1);
    HashTable table;
    for (int64_t l = 0; l < probs.size(0); ++l) {
        table.experts.push_back(indices[l].cpu());
        table.probs.push_back(values[l].cpu());
    }
    return table;
}

HashTable fromRouters(const Model::Impl& m, const TokenBatch& batch) {
    OracleHooks hooks(*m.experts, m.device);
    const EncoderOutput out = runEncoder(m.config(), m.weights, batch, hooks, {});
    HashTable table;
    for (const MoeRecord& record : out.moe) {
        table.experts.push_back(record.router->expert.unsqueeze(1).cpu());
        table.probs.push_back(record.router->prob.unsqueeze(1).to(at::kFloat).cpu());
    }
    return table;
}

} // namespace

HashTable buildHashTable(const Model::Impl& model, const TokenBatch& batch, Policy policy, int topK) {
    HashTable table;
    if (policy == Policy::Sida || policy == Policy::SidaExact)
        table = fromPredictor(model, batch, topK);
    else if (policy == Policy::Oracle)
        table = fromRouters(model, batch);
    else
        return table;
    collectNeeded(table);
    return table;
}

} // namespace sida::detail
