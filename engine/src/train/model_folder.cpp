// SPDX-License-Identifier: MIT
#include "train/model_folder.h"

#include "device/device.h"
#include "model/model_impl.h"

#include "sida/checksum.h"
#include "sida/device.h"
#include "sida/errors.h"

#include <chrono>
#include <ctime>
#include <fstream>
#include <thread>

namespace sida::detail {

void writeModelFolder(const std::filesystem::path& dir, const SwitchConfig& config,
                      const SwitchWeights& weights, at::ScalarType storage,
                      const std::filesystem::path& spiece) {
    std::filesystem::create_directories(dir);
    SwitchConfig stored = config;
    stored.torch_dtype = storage == at::kBFloat16 ? "bfloat16" : "float32";
    std::ofstream(dir / "config.json") << switchConfigToJson(stored);
    saveSwitchWeights(config, weights, storage, dir / "model.safetensors");
    const auto target = dir / "spiece.model";
    if (!std::filesystem::exists(target) || !std::filesystem::equivalent(spiece, target))
        std::filesystem::copy_file(spiece, target, std::filesystem::copy_options::overwrite_existing);
}

nlohmann::json trainingRecord(const std::string& command, uint64_t seed, const std::string& device,
                              const std::vector<std::pair<std::string, std::filesystem::path>>& dataFiles) {
    const RuntimeVersions versions = runtimeVersions();
    nlohmann::json record = {{"command", command},
                             {"seed", seed},
                             {"machine",
                              {{"cpu", cpuModelName()},
                               {"logical_cores", std::thread::hardware_concurrency()},
                               {"torch_threads", at::get_num_threads()},
                               {"device", device}}},
                             {"software", {{"sida", versions.sida}, {"libtorch", versions.libtorch}}},
                             {"data", nlohmann::json::array()}};
    for (const auto& [role, path] : dataFiles)
        record["data"].push_back({{"role", role},
                                  {"file", path.filename().string()},
                                  {"sha256", sha256File(path)},
                                  {"bytes", std::filesystem::file_size(path)}});
    return record;
}

nlohmann::json epochToJson(const EpochMetrics& m) {
    return {{"epoch", m.epoch},
            {"loss", m.loss},
            {"aux_loss", m.auxLoss},
            {"z_loss", m.zLoss},
            {"dev_accuracy", m.devAccuracy},
            {"dev_f1", m.devF1},
            {"expert_entropy", m.expertEntropy},
            {"min_expert_share", m.minExpertShare},
            {"seconds", m.seconds},
            {"best", m.best}};
}

EpochMetrics epochFromJson(const nlohmann::json& j) {
    EpochMetrics m;
    m.epoch = j.at("epoch");
    m.loss = j.at("loss");
    m.auxLoss = j.at("aux_loss");
    m.zLoss = j.at("z_loss");
    m.devAccuracy = j.at("dev_accuracy");
    m.devF1 = j.at("dev_f1");
    m.expertEntropy = j.at("expert_entropy");
    m.minExpertShare = j.at("min_expert_share");
    m.seconds = j.at("seconds");
    m.best = j.at("best");
    return m;
}

nlohmann::json epochsToJson(const std::vector<EpochMetrics>& epochs) {
    nlohmann::json list = nlohmann::json::array();
    for (const EpochMetrics& m : epochs) list.push_back(epochToJson(m));
    return list;
}

void writeTrainingJson(const std::filesystem::path& dir, nlohmann::json record, TrainResult& result) {
    double seconds = 0;
    for (const EpochMetrics& m : result.epochs) seconds += m.seconds;
    result.seconds = seconds;
    record["epochs"] = epochsToJson(result.epochs);
    record["best_epoch"] = result.bestEpoch;
    record["best_dev_accuracy"] = result.bestDevAccuracy;
    record["interrupted"] = result.interrupted;
    record["wall_seconds"] = seconds;
    // Stamped here, as the record is written after the last epoch, not when the run started.
    const auto now = std::chrono::system_clock::to_time_t(std::chrono::system_clock::now());
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%dT%H:%M:%SZ", std::gmtime(&now));
    record["finished"] = date;
    std::ofstream(dir / "training.json") << record.dump(2) << "\n";
}

at::ScalarType parseStorageDType(const std::string& name) {
    if (name == "float32" || name == "bfloat16") return parseComputeDType(name);
    throw Error("storage dtype '" + name + "' is not supported (use float32 or bfloat16)");
}

} // namespace sida::detail
