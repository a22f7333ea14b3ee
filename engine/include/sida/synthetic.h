// SPDX-License-Identifier: MIT
// Synthetic Switch Transformers checkpoints: the shapes of google/switch-base-N and
// switch-large-N with seeded weights whose routers route mostly by token, as pretrained Switch
// routers do, so that SiDA's predictor meets realistic routing where no real checkpoint can be
// downloaded.
#pragma once

#include "sida/model.h"
#include "sida/progress.h"

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace sida {

/// Bumped whenever the same options would give other weights, so that cached folders made by an
/// older generator are never reused (it is part of syntheticCacheKey).
inline constexpr int kSyntheticGeneratorVersion = 2;

/// The default of SyntheticOptions::context: Hugging Face's init scales, which on SST-2 give a
/// trained predictor about the paper's top-3 hit rate on pretrained Switch (docs/MODELS.md).
inline constexpr double kDefaultSyntheticContext = 1.0;

/// An encoder's shape. MoE sits at every other block (1, 3, ...), as in switch-base/large.
struct SyntheticShape {
    std::string name = "switch-base-8"; ///< part of the cache key
    int64_t vocabSize = 32128;
    int64_t dModel = 768;
    int64_t dFf = 3072;
    int64_t heads = 12;
    int64_t dKv = 64;
    int64_t blocks = 12;
    int64_t experts = 8;
};

/// "switch-base-N" (d_model 768, d_ff 3072, 12 heads x 64, 12 blocks) or "switch-large-N" (1024,
/// 4096, 16 heads x 64, 24 blocks), N experts in 1..4096. Throws sida::Error for anything else.
SyntheticShape syntheticShape(const std::string& name);

struct SyntheticOptions {
    SyntheticShape shape;
    /// How strongly the context steers routing, in 0..4: the scale of what attention and the
    /// feed-forward layers add to a token's embedding in the residual stream, against Hugging
    /// Face's init scales. 0 routes by token id alone (every router follows its token table);
    /// larger values let more tokens be routed by their context.
    double context = kDefaultSyntheticContext;
    uint64_t seed = 7;
};

/// Throws sida::Error naming the first field out of range.
void validateSyntheticOptions(const SyntheticOptions& options);

/// A folder name for the options' weights: the shape's name, the generator version, the context
/// and a hash of every shape field and the seed, e.g. "switch-base-128-gen2-context0.500-1f3a9c2e".
std::string syntheticCacheKey(const SyntheticOptions& options);

/// Writes the checkpoint into `dir` as a sharded Hugging Face folder: bf16 shards of about 1 GiB
/// (routers float32) streamed from the seeded generator, config.json, `spiece` copied as
/// spiece.model, and synthetic.json recording the options. A folder already complete for the
/// same options is reused; one made with other options is refused rather than overwritten.
void writeSyntheticSwitch(const SyntheticOptions& options, const std::filesystem::path& dir,
                          const std::filesystem::path& spiece, const ProgressCallback& progress = {},
                          const CancelToken& cancel = {});

/// The expert that MoE layer `layer` (0-based among the MoE blocks) routes `token` to when the
/// context does not override it: the token table the routers are built from.
int64_t syntheticTokenExpert(const SyntheticOptions& options, int64_t layer, int64_t token);

/// How the routers of a model route the tokens of some texts (real tokens only).
struct RoutingPurity {
    std::vector<int64_t> blocks;        ///< the MoE blocks
    std::vector<double> purity;         ///< per block: share of tokens routed to the expert their
                                        ///< token id goes to most often in that block
    std::vector<double> tableAgreement; ///< per block: share routed as the token table says
                                        ///< (synthetic models only, else empty)
    int64_t tokens = 0;
    double meanPurity() const;
    double meanTableAgreement() const; ///< -1 when not measured
};

/// Runs the model's routers over `texts`; pass `options` (the model's own) to also measure the
/// agreement with its token table.
RoutingPurity measureRoutingPurity(const Model& model, const std::vector<std::string>& texts,
                                   const SyntheticOptions* options = nullptr,
                                   const ProgressCallback& progress = {}, const CancelToken& cancel = {});

/// How the predictor shipped with a synthetic model is made.
struct SyntheticPredictorOptions {
    std::filesystem::path trainData; ///< sentences (e.g. SST-2 train.tsv) whose routes it learns
    int64_t sentences = 3000;        ///< routes of the first N sentences teach it
    int64_t devSentences = 500;      ///< the next N, held out, pick the best epoch
    int epochs = 20;
    int threads = 0;
    std::string device = "cpu";
    /// The routers' pass: float32 is several times faster than bfloat16 on a CPU without native
    /// bf16 arithmetic; the pool holds two MoE layers' experts either way.
    std::string dtype = "float32";
};

struct SyntheticPredictorResult {
    bool reused = false; ///< the folder already had a predictor
    RoutingPurity routing;
    double devTop1 = 0.0;
    double devTop3 = 0.0;
    double seconds = 0.0;
};

/// Gives the synthetic model in `dir` a predictor (hidden 128, one LSTM layer, the recipe of
/// docs/MODELS.md) trained on its routers' choices for `predictor.sentences` sentences, unless it
/// has one. Records the routers' token purity on those sentences in synthetic.json.
SyntheticPredictorResult ensureSyntheticPredictor(const std::filesystem::path& dir,
                                                  const SyntheticOptions& options,
                                                  const SyntheticPredictorOptions& predictor,
                                                  const ProgressCallback& progress = {},
                                                  const CancelToken& cancel = {});

/// The generator behind every synthetic weight: splitmix64 and the Box-Muller transform in plain
/// C++, so that a seed gives the same numbers on every machine and LibTorch version (a predictor
/// is bound to a hash of its model's embedding).
class SyntheticRandom {
public:
    explicit SyntheticRandom(uint64_t seed) : state_(seed) {}
    /// A generator for one named stream (a tensor) of a seed, independent of the others.
    SyntheticRandom(uint64_t seed, std::string_view stream);
    uint64_t nextU64();
    /// Uniform in (0, 1): never 0, so that the logarithm in normal() is finite.
    double uniform();
    /// Standard normal.
    double normal();

private:
    uint64_t state_;
    double spare_ = 0.0;
    bool hasSpare_ = false;
};

/// Float to bfloat16 bits, rounding to nearest even (NaN stays NaN).
uint16_t toBfloat16(float value);

} // namespace sida
