// SPDX-License-Identifier: MIT
#include "train/trainer.h"

#include "model/switch_encoder.h"
#include "train/evaluation.h"
#include "train/model_folder.h"

#include "sida/errors.h"

#include <nlohmann/json.hpp>
#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>

namespace sida::detail {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

// Embedding tables and vectors (norms, biases) are not decayed.
torch::optim::AdamW makeOptimizer(const SwitchConfig& c, TrainingRun& run) {
    std::vector<at::Tensor> decayed, plain;
    for (const at::Tensor& p : trainableParameters(c, run.weights, run.optimizer.headOnly))
        (p.dim() >= 2 && !p.is_same(run.weights.shared) && !p.is_same(run.weights.relativeBias) ? decayed
                                                                                                : plain)
            .push_back(p);
    auto options =
        torch::optim::AdamWOptions(run.optimizer.learningRate).weight_decay(run.optimizer.weightDecay);
    auto plainOptions = std::make_unique<torch::optim::AdamWOptions>(options);
    plainOptions->weight_decay(0.0);
    std::vector<torch::optim::OptimizerParamGroup> groups;
    groups.emplace_back(decayed, std::make_unique<torch::optim::AdamWOptions>(options));
    groups.emplace_back(plain, std::move(plainOptions));
    return torch::optim::AdamW(std::move(groups), options);
}

// Linear warm-up to the peak rate, then linear decay to zero at the last step.
double learningRateAt(const OptimizerOptions& o, int64_t step, int64_t totalSteps) {
    if (step < o.warmupSteps)
        return o.learningRate * static_cast<double>(step + 1) / static_cast<double>(o.warmupSteps);
    const double remaining = static_cast<double>(totalSteps - step) /
                             static_cast<double>(std::max<int64_t>(1, totalSteps - o.warmupSteps));
    return o.learningRate * std::max(0.0, remaining);
}

// Switch Transformers' auxiliary loss (HF load_balancing_loss_func): E^2 x mean over experts of
// (fraction of tokens routed there) x (mean router probability there). 1 when balanced.
at::Tensor loadBalancingLoss(const RouterOutput& router, int64_t numExperts) {
    const at::Tensor routed = at::one_hot(router.expert, numExperts).to(at::kFloat).mean(0);
    const at::Tensor probability = router.probs.to(at::kFloat).mean(0);
    return (routed * probability).mean() * static_cast<double>(numExperts * numExperts);
}

at::Tensor routerZLoss(const RouterOutput& router) { return at::logsumexp(router.logits, -1).pow(2).mean(); }

struct StepLosses {
    at::Tensor total;
    double crossEntropy = 0, aux = 0, z = 0;
};

StepLosses batchLoss(TrainingRun& run, const std::vector<size_t>& indices, const TokenizedSet& set) {
    std::vector<const std::vector<int64_t>*> sequences;
    std::vector<int64_t> labels;
    for (size_t i : indices) {
        sequences.push_back(&set.examples[i].ids);
        labels.push_back(set.examples[i].label);
    }
    const TokenBatch batch = padSequences(sequences, run.config.pad_token_id, run.device);
    const OptimizerOptions& o = run.optimizer;
    const ForwardOptions forward{true, o.dropout, o.routerJitter};
    RouterHooks hooks(run.weights, run.config.sparseBlocks(), false);
    const EncoderOutput out = runEncoder(run.config, run.weights, batch, hooks, forward);
    const at::Tensor logits = classifierLogits(run.weights, out.hidden, batch.mask, forward);
    const at::Tensor target = at::tensor(labels, at::kLong).to(run.device);

    StepLosses losses;
    const at::Tensor crossEntropy = at::cross_entropy_loss(logits, target);
    at::Tensor aux = at::zeros({}, logits.options()), z = at::zeros({}, logits.options());
    at::Tensor tokenRouting = at::zeros({}, logits.options());
    const at::Tensor tokenIds = batch.ids.reshape({-1}).index_select(0, batch.realIndex);
    for (size_t layer = 0; layer < out.moe.size(); ++layer) {
        const RouterOutput& router = *out.moe[layer].router;
        aux = aux + loadBalancingLoss(router, run.config.num_experts);
        z = z + routerZLoss(router);
        if (!run.tokenExperts.empty())
            tokenRouting =
                tokenRouting +
                at::cross_entropy_loss(router.logits, run.tokenExperts[layer].index_select(0, tokenIds));
    }
    const double layers = static_cast<double>(std::max<size_t>(1, out.moe.size()));
    losses.total =
        crossEntropy +
        (o.loadBalanceWeight * aux + o.zLossWeight * z + o.tokenRoutingWeight * tokenRouting) / layers;
    losses.crossEntropy = crossEntropy.item<double>();
    losses.aux = aux.item<double>() / layers;
    losses.z = z.item<double>() / layers;
    return losses;
}

// --- resumable state -------------------------------------------------------------------------

/// The running sums of the epoch in progress, saved with it so that a resumed epoch reports
/// its metrics over all of its batches, not only those after the resume.
struct EpochSums {
    double loss = 0, aux = 0, z = 0;
    int64_t batches = 0;
    double seconds = 0;
};

struct Position {
    int epoch = 0;     ///< 0-based epoch in progress
    int64_t batch = 0; ///< batches of it already done
    double bestAccuracy = -1;
    int bestEpoch = 0;
    EpochSums partial; ///< of the batches already done
};

void saveState(TrainingRun& run, torch::optim::AdamW& optimizer, const Position& position,
               const std::vector<EpochMetrics>& history) {
    std::filesystem::create_directories(run.stateDir);
    torch::serialize::OutputArchive archive;
    for (const ConstTensorSlot& slot :
         tensorSlots(run.config, headLabels(run.weights), std::as_const(run.weights)))
        archive.write("weights/" + slot.name, *slot.tensor, /*is_buffer=*/true);
    torch::serialize::OutputArchive optimizerArchive;
    optimizer.save(optimizerArchive);
    archive.write("optimizer", optimizerArchive);
    archive.save_to((run.stateDir / "state.pt").string());
    nlohmann::json j = {{"config", nlohmann::json::parse(switchConfigToJson(run.config))},
                        {"epoch", position.epoch},
                        {"batch", position.batch},
                        {"best_accuracy", position.bestAccuracy},
                        {"best_epoch", position.bestEpoch},
                        {"epochs", nlohmann::json::array()}};
    j["epochs"] = epochsToJson(history);
    const EpochSums& sums = position.partial;
    j["partial"] = {{"loss_sum", sums.loss},
                    {"aux_sum", sums.aux},
                    {"z_sum", sums.z},
                    {"batches", sums.batches},
                    {"seconds", sums.seconds}};
    std::ofstream(run.stateDir / "position.json") << j.dump(2);
}

Position loadState(TrainingRun& run, torch::optim::AdamW& optimizer, std::vector<EpochMetrics>& history) {
    const auto positionFile = run.stateDir / "position.json";
    if (!std::filesystem::exists(positionFile))
        throw Error("nothing to resume: '" + run.stateDir.string() + "' holds no saved training state");
    std::ifstream in(positionFile);
    const nlohmann::json j = nlohmann::json::parse(in);
    if (j.at("config") != nlohmann::json::parse(switchConfigToJson(run.config)))
        throw Error(positionFile.string() +
                    ": the saved run has a different model configuration; resume with the "
                    "same options, or train into a new folder");
    torch::serialize::InputArchive archive;
    archive.load_from((run.stateDir / "state.pt").string());
    at::NoGradGuard noGrad;
    for (const TensorSlot& slot : tensorSlots(run.config, headLabels(run.weights), run.weights)) {
        at::Tensor saved;
        archive.read("weights/" + slot.name, saved, true);
        slot.tensor->copy_(saved);
    }
    torch::serialize::InputArchive optimizerArchive;
    archive.read("optimizer", optimizerArchive);
    optimizer.load(optimizerArchive);
    for (const auto& m : j.at("epochs")) history.push_back(epochFromJson(m));
    EpochSums partial;
    if (j.contains("partial")) {
        const nlohmann::json& p = j.at("partial");
        partial = {p.at("loss_sum"), p.at("aux_sum"), p.at("z_sum"), p.at("batches"), p.at("seconds")};
    }
    return {j.at("epoch"), j.at("batch"), j.at("best_accuracy"), j.at("best_epoch"), partial};
}

EpochMetrics finishEpoch(TrainingRun& run, int epoch, const EpochSums& sums) {
    EpochMetrics m;
    m.epoch = epoch + 1;
    m.loss = sums.loss / std::max<int64_t>(1, sums.batches);
    m.auxLoss = sums.aux / std::max<int64_t>(1, sums.batches);
    m.zLoss = sums.z / std::max<int64_t>(1, sums.batches);
    m.seconds = sums.seconds;
    if (!run.dev.examples.empty()) {
        // Not cancellable: a cancel that arrives during this dev pass is honoured at the next
        // step, once the epoch is finished and saved (throwing here would lose the epoch).
        RouterHooks hooks(run.weights, run.config.sparseBlocks(), false);
        const EvalReport dev =
            evaluateTokenized(run.config, run.weights, run.device, hooks, run.dev, run.labels, 128, {}, {});
        m.devAccuracy = dev.accuracy;
        m.devF1 = dev.macroF1;
        m.minExpertShare = 1;
        for (const LayerUsage& layer : dev.layers) {
            m.expertEntropy += layer.normalizedEntropy / static_cast<double>(dev.layers.size());
            m.minExpertShare = std::min(m.minExpertShare, layer.minShare);
        }
        if (dev.layers.empty()) m.minExpertShare = 0;
    }
    return m;
}

void require(bool condition, const std::string& message) {
    if (!condition) throw Error(message);
}

// Also false for NaN, so that a NaN setting is refused rather than trained with.
bool nonNegative(double value) { return std::isfinite(value) && value >= 0; }

} // namespace

void validateOptimizerOptions(const OptimizerOptions& p) {
    require(p.epochs >= 1, "epochs must be at least 1");
    require(p.batchSize >= 1, "batch size must be at least 1");
    require(nonNegative(p.learningRate) && p.learningRate > 0, "learning rate must be positive");
    require(nonNegative(p.weightDecay), "weight decay must not be negative");
    require(p.dropout >= 0 && p.dropout < 1, "dropout must be in [0, 1)");
    require(p.routerJitter >= 0 && p.routerJitter < 1, "router jitter must be in [0, 1)");
    require(p.warmupSteps >= 0, "warm-up steps must not be negative");
    require(nonNegative(p.clipNorm) && p.clipNorm > 0, "gradient clipping norm must be positive");
    require(nonNegative(p.loadBalanceWeight), "the load-balancing loss weight must not be negative");
    require(nonNegative(p.zLossWeight), "the router z-loss weight must not be negative");
    require(nonNegative(p.tokenRoutingWeight), "the token-routing weight must not be negative");
}

TrainResult runTraining(TrainingRun& run, bool resume,
                        const std::function<void(const EpochMetrics&)>& onEpoch,
                        const ProgressCallback& progress, const CancelToken& cancel) {
    const auto start = Clock::now();
    if (run.train.examples.empty()) throw Error("no training examples");
    torch::manual_seed(run.seed);
    torch::optim::AdamW optimizer = makeOptimizer(run.config, run);
    TrainResult result;
    Position position;
    if (resume) position = loadState(run, optimizer, result.epochs);

    const OptimizerOptions& o = run.optimizer;
    const int64_t batchesPerEpoch =
        (static_cast<int64_t>(run.train.examples.size()) + o.batchSize - 1) / o.batchSize;
    const int64_t totalSteps = batchesPerEpoch * o.epochs;
    std::vector<size_t> lengths;
    for (const TokenizedExample& e : run.train.examples) lengths.push_back(e.ids.size());
    auto parameters = optimizer.param_groups()[0].params();
    for (const auto& p : optimizer.param_groups()[1].params()) parameters.push_back(p);

    for (int epoch = position.epoch; epoch < o.epochs; ++epoch) {
        // The batch order of an epoch depends only on the seed and the epoch: a resumed run skips
        // exactly the batches it had done.
        std::mt19937_64 rng(run.seed * 1000003ull + static_cast<uint64_t>(epoch));
        const auto batches = bucketedBatches(lengths, o.batchSize, rng);
        const auto epochStart = Clock::now();
        EpochSums sums = epoch == position.epoch ? position.partial : EpochSums{};
        const double earlierSeconds = sums.seconds;
        for (int64_t b = epoch == position.epoch ? position.batch : 0; b < batchesPerEpoch; ++b) {
            if (cancel.cancelled()) {
                sums.seconds = earlierSeconds + secondsSince(epochStart);
                saveState(run, optimizer, {epoch, b, position.bestAccuracy, position.bestEpoch, sums},
                          result.epochs);
                result.interrupted = true;
                result.bestEpoch = position.bestEpoch;
                result.bestDevAccuracy = position.bestAccuracy;
                result.seconds = secondsSince(start);
                return result;
            }
            const double rate = learningRateAt(o, epoch * batchesPerEpoch + b, totalSteps);
            for (auto& group : optimizer.param_groups()) group.options().set_lr(rate);
            optimizer.zero_grad();
            const StepLosses losses = batchLoss(run, batches[b], run.train);
            losses.total.backward();
            torch::nn::utils::clip_grad_norm_(parameters, o.clipNorm);
            optimizer.step();
            sums.loss += losses.crossEntropy;
            sums.aux += losses.aux;
            sums.z += losses.z;
            ++sums.batches;
            if (progress) {
                char detail[96];
                std::snprintf(detail, sizeof detail, "loss %.4f  aux %.3f  lr %.2e", sums.loss / sums.batches,
                              sums.aux / sums.batches, rate);
                progress({"epoch " + std::to_string(epoch + 1) + "/" + std::to_string(o.epochs), b + 1,
                          batchesPerEpoch, detail});
            }
        }
        sums.seconds = earlierSeconds + secondsSince(epochStart);
        EpochMetrics m = finishEpoch(run, epoch, sums);
        if (m.devAccuracy > position.bestAccuracy || run.dev.examples.empty()) {
            m.best = true;
            position.bestAccuracy = m.devAccuracy;
            position.bestEpoch = m.epoch;
            run.saveBest(run);
        }
        result.epochs.push_back(m);
        saveState(run, optimizer, {epoch + 1, 0, position.bestAccuracy, position.bestEpoch, {}},
                  result.epochs);
        if (onEpoch) onEpoch(m);
    }
    result.bestEpoch = position.bestEpoch;
    result.bestDevAccuracy = position.bestAccuracy;
    result.seconds = secondsSince(start);
    return result;
}

} // namespace sida::detail
