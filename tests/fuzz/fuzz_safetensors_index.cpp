// SPDX-License-Identifier: MIT
// parseSafetensorsIndex (model.safetensors.index.json) on arbitrary text: every shard name it
// accepts must be a plain file name inside the model folder.
#include "fuzz_check.h"

#include "sida/errors.h"
#include "sida/safetensors.h"

#include <cstdint>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    try {
        const auto weightMap = sida::parseSafetensorsIndex(text, "fuzz.index.json");
        FUZZ_CHECK(!weightMap.empty(), "an accepted weight map is not empty");
        for (const auto& [tensor, shard] : weightMap) {
            FUZZ_CHECK(!shard.empty(), "shard names are not empty");
            FUZZ_CHECK(shard.find('/') == std::string::npos && shard.find('\\') == std::string::npos,
                       "shard names have no path separator");
            FUZZ_CHECK(shard.find("..") == std::string::npos, "shard names do not climb out of the folder");
            FUZZ_CHECK(shard.find('\0') == std::string::npos, "shard names have no NUL byte");
        }
    } catch (const sida::Error&) {}
    return 0;
}
