// SPDX-License-Identifier: MIT
// config.json of Hugging Face SwitchTransformers (configuration_switch_transformers.py): the class
// defaults, the aliases, the sparse-step rule, and the classifier labels.
#include "sida/config.h"

#include "json_fields.h"

#include <set>

namespace sida {
namespace {

using detail::JsonFields;
using nlohmann::json;

constexpr int64_t kMaxLabels = 65536; ///< classes of a classification head

// Hugging Face's attribute_map: alias -> canonical name. Both present and different is a
// contradiction.
int64_t aliased(const JsonFields& f, const std::string& name, const std::string& alias, int64_t fallback) {
    const auto canonical = f.optionalInt(name);
    const auto aliasValue = f.optionalInt(alias);
    if (canonical && aliasValue && *canonical != *aliasValue)
        f.fail(alias,
               "is " + std::to_string(*aliasValue) + " but '" + name + "' is " + std::to_string(*canonical));
    const int64_t value = canonical.value_or(aliasValue.value_or(fallback));
    if (value <= 0) f.fail(canonical ? name : alias, "must be positive, not " + std::to_string(value));
    return value;
}

// Keys that older configs carry and current Transformers ignores. Their values are still checked
// when they describe a model this encoder would compute differently.
void checkLegacyKeys(const JsonFields& f) {
    if (f.has("num_selected_experts") && f.integer("num_selected_experts", 1) != 1)
        f.fail("num_selected_experts", "is not 1: Switch Transformers route each token to one expert");
    if (f.has("router_type") && f.string("router_type", "tokens_masked") != "tokens_masked")
        f.fail("router_type", "is '" + f.string("router_type", "") +
                                  "'; only token-choice routing ('tokens_masked') is supported");
    if (f.boolean("is_gated_act", false))
        f.fail("is_gated_act", "is true: gated feed-forward (GEGLU, switch-xxl) is not supported");
    const std::string proj = f.string("feed_forward_proj", "relu");
    if (proj.rfind("gated-", 0) == 0)
        f.fail("feed_forward_proj", "is '" + proj + "': gated feed-forward is not supported");
}

std::vector<std::string> parseLabels(const JsonFields& f) {
    std::vector<std::string> labels;
    if (f.has("id2label")) {
        const json& map = f.raw("id2label");
        if (!map.is_object()) f.fail("id2label", "must be an object of id -> label name");
        labels.resize(map.size());
        std::vector<bool> seen(map.size(), false);
        for (const auto& [key, value] : map.items()) {
            size_t used = 0;
            long long id = -1;
            try {
                id = std::stoll(key, &used);
            } catch (const std::exception&) {}
            if (used != key.size() || id < 0 || id >= static_cast<long long>(map.size()))
                f.fail("id2label",
                       "has key '" + key + "'; keys must be the ids 0.." + std::to_string(map.size() - 1));
            if (!value.is_string()) f.fail("id2label", "maps '" + key + "' to a non-string");
            if (seen[id]) f.fail("id2label", "names id " + key + " twice");
            seen[id] = true;
            labels[id] = value.get<std::string>();
        }
        // Results are reported by label name (label2id, the CLI's probabilities), so two classes
        // with one name could not be told apart.
        std::set<std::string> names;
        for (const std::string& name : labels)
            if (!names.insert(name).second) f.fail("id2label", "gives two classes the label '" + name + "'");
    }
    if (f.has("label2id")) {
        const json& map = f.raw("label2id");
        if (!map.is_object()) f.fail("label2id", "must be an object of label name -> id");
        if (!labels.empty()) {
            if (map.size() != labels.size())
                f.fail("label2id", "has " + std::to_string(map.size()) + " labels but id2label has " +
                                       std::to_string(labels.size()));
            for (const auto& [name, id] : map.items())
                if (!id.is_number_integer() || id.get<int64_t>() < 0 ||
                    id.get<int64_t>() >= static_cast<int64_t>(labels.size()) ||
                    labels[id.get<int64_t>()] != name)
                    f.fail("label2id", "maps '" + name + "' to " + detail::describeValue(id) +
                                           ", which contradicts id2label");
        }
    }
    if (f.has("num_labels")) {
        const int64_t n = f.positive("num_labels", 2);
        // Each class gets a name (LABEL_i) and a row of the head: a number from a hostile file
        // (11,844,674,461 was found by fuzz_config) must not make billions of them.
        if (n > kMaxLabels)
            f.fail("num_labels", "is " + std::to_string(n) + ", more than the " + std::to_string(kMaxLabels) +
                                     " classes SiDA supports");
        if (labels.empty()) {
            for (int64_t i = 0; i < n; ++i) labels.push_back("LABEL_" + std::to_string(i));
        } else if (n != static_cast<int64_t>(labels.size())) {
            f.fail("num_labels", "is " + std::to_string(n) + " but id2label has " +
                                     std::to_string(labels.size()) + " labels");
        }
    }
    return labels;
}

void checkRanges(const JsonFields& f, const SwitchConfig& c) {
    if (c.num_sparse_encoder_layers > c.num_layers)
        f.fail("num_sparse_encoder_layers", "is " + std::to_string(c.num_sparse_encoder_layers) +
                                                " but the encoder has " + std::to_string(c.num_layers) +
                                                " layers");
    if (c.encoder_sparse_step > c.num_layers)
        f.fail("encoder_sparse_step", "is " + std::to_string(c.encoder_sparse_step) +
                                          ", more than num_layers (" + std::to_string(c.num_layers) + ")");
    if (c.num_experts < 1) f.fail("num_experts", "must be at least 1");
    if (c.relative_attention_num_buckets < 2 || c.relative_attention_num_buckets % 2 != 0)
        f.fail("relative_attention_num_buckets", "must be an even number of at least 2");
    if (c.relative_attention_max_distance <= c.relative_attention_num_buckets / 4)
        f.fail("relative_attention_max_distance", "must exceed a quarter of relative_attention_num_buckets");
    if (c.pad_token_id >= c.vocab_size) f.fail("pad_token_id", "is not below vocab_size");
    if (c.eos_token_id >= c.vocab_size) f.fail("eos_token_id", "is not below vocab_size");
    if (!(c.layer_norm_epsilon > 0)) f.fail("layer_norm_epsilon", "must be positive");
    if (!(c.dropout_rate >= 0 && c.dropout_rate < 1)) f.fail("dropout_rate", "must be in [0, 1)");
    if (!(c.router_jitter_noise >= 0 && c.router_jitter_noise < 1))
        f.fail("router_jitter_noise", "must be in [0, 1)");
    static const std::set<std::string> routerDTypes{"float32", "float16", "bfloat16"};
    if (!routerDTypes.contains(c.router_dtype))
        f.fail("router_dtype", "is '" + c.router_dtype + "' (use float32, float16 or bfloat16)");
    static const std::set<std::string> activations{"relu", "gelu", "gelu_new", "silu"};
    if (!activations.contains(c.dense_act_fn))
        f.fail("dense_act_fn", "is '" + c.dense_act_fn + "' (supported: relu, gelu, gelu_new, silu)");
}

} // namespace

bool SwitchConfig::isSparse(int64_t block) const {
    if (encoder_sparse_step <= 0) return false;
    return encoder_sparse_step == 1 || block % encoder_sparse_step == 1;
}

std::vector<int64_t> SwitchConfig::sparseBlocks() const {
    std::vector<int64_t> blocks;
    for (int64_t i = 0; i < num_layers; ++i)
        if (isSparse(i)) blocks.push_back(i);
    return blocks;
}

SwitchConfig parseSwitchConfig(const std::string& jsonText, const std::string& source) {
    const json document = detail::parseJsonObject(jsonText, source);
    const JsonFields f(document, source);
    if (f.has("model_type") && f.string("model_type", "") != "switch_transformers")
        f.fail("model_type", "is '" + f.string("model_type", "") +
                                 "'; SiDA runs Switch Transformers ('switch_transformers')");
    checkLegacyKeys(f);

    SwitchConfig c;
    c.vocab_size = f.positive("vocab_size", c.vocab_size);
    c.d_model = aliased(f, "d_model", "hidden_size", c.d_model);
    c.d_kv = f.positive("d_kv", c.d_kv);
    c.d_ff = f.positive("d_ff", c.d_ff);
    c.num_layers = aliased(f, "num_layers", "num_hidden_layers", c.num_layers);
    c.num_heads = aliased(f, "num_heads", "num_attention_heads", c.num_heads);
    c.num_experts = f.positive("num_experts", c.num_experts);
    c.expert_capacity = f.positive("expert_capacity", c.expert_capacity);
    c.num_sparse_encoder_layers = f.nonNegative("num_sparse_encoder_layers", c.num_sparse_encoder_layers);
    // The spec's rule: the JSON value wins; otherwise derive it as Transformers does.
    const int64_t derivedStep =
        c.num_sparse_encoder_layers > 0 ? c.num_layers / c.num_sparse_encoder_layers : 0;
    c.encoder_sparse_step = f.nonNegative("encoder_sparse_step", derivedStep);
    c.router_bias = f.boolean("router_bias", c.router_bias);
    c.router_jitter_noise = f.number("router_jitter_noise", c.router_jitter_noise);
    c.router_dtype = f.string("router_dtype", c.router_dtype);
    c.router_ignore_padding_tokens =
        f.boolean("router_ignore_padding_tokens", c.router_ignore_padding_tokens);
    c.relative_attention_num_buckets =
        f.positive("relative_attention_num_buckets", c.relative_attention_num_buckets);
    c.relative_attention_max_distance =
        f.positive("relative_attention_max_distance", c.relative_attention_max_distance);
    c.dropout_rate = f.number("dropout_rate", c.dropout_rate);
    c.layer_norm_epsilon = f.number("layer_norm_epsilon", c.layer_norm_epsilon);
    c.dense_act_fn = f.string("dense_act_fn", c.dense_act_fn);
    c.pad_token_id = f.nonNegative("pad_token_id", c.pad_token_id);
    c.eos_token_id = f.nonNegative("eos_token_id", c.eos_token_id);
    c.torch_dtype = f.string("torch_dtype", f.string("dtype", ""));
    c.id2label = parseLabels(f);
    checkRanges(f, c);
    return c;
}

SwitchConfig loadSwitchConfig(const std::filesystem::path& path) {
    if (!std::filesystem::exists(path)) throw Error("'" + path.string() + "' does not exist");
    return parseSwitchConfig(detail::readTextFile(path), path.string());
}

std::string switchConfigToJson(const SwitchConfig& c) {
    json j;
    j["architectures"] = {"SwitchTransformersEncoderModel"};
    j["model_type"] = "switch_transformers";
    j["vocab_size"] = c.vocab_size;
    j["d_model"] = c.d_model;
    j["d_kv"] = c.d_kv;
    j["d_ff"] = c.d_ff;
    j["num_layers"] = c.num_layers;
    j["num_decoder_layers"] = c.num_layers;
    j["num_heads"] = c.num_heads;
    j["num_experts"] = c.num_experts;
    j["expert_capacity"] = c.expert_capacity;
    j["num_sparse_encoder_layers"] = c.num_sparse_encoder_layers;
    j["encoder_sparse_step"] = c.encoder_sparse_step;
    j["num_sparse_decoder_layers"] = c.num_sparse_encoder_layers;
    j["decoder_sparse_step"] = c.encoder_sparse_step;
    j["router_bias"] = c.router_bias;
    j["router_jitter_noise"] = c.router_jitter_noise;
    j["router_dtype"] = c.router_dtype;
    j["router_ignore_padding_tokens"] = c.router_ignore_padding_tokens;
    j["relative_attention_num_buckets"] = c.relative_attention_num_buckets;
    j["relative_attention_max_distance"] = c.relative_attention_max_distance;
    j["dropout_rate"] = c.dropout_rate;
    j["layer_norm_epsilon"] = c.layer_norm_epsilon;
    j["dense_act_fn"] = c.dense_act_fn;
    j["pad_token_id"] = c.pad_token_id;
    j["eos_token_id"] = c.eos_token_id;
    j["decoder_start_token_id"] = c.pad_token_id;
    if (!c.torch_dtype.empty()) j["torch_dtype"] = c.torch_dtype;
    if (!c.id2label.empty()) {
        json id2label = json::object(), label2id = json::object();
        for (size_t i = 0; i < c.id2label.size(); ++i) {
            id2label[std::to_string(i)] = c.id2label[i];
            label2id[c.id2label[i]] = i;
        }
        j["id2label"] = id2label;
        j["label2id"] = label2id;
        j["num_labels"] = c.id2label.size();
    }
    return j.dump(2) + "\n";
}

} // namespace sida
