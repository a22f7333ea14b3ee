// SPDX-License-Identifier: MIT
// Tokenizer::encode and encodePair on arbitrary bytes with the fixture's spiece.model: the ids
// end with </s>, lie inside the vocabulary and respect the maximum length; text that is not
// valid UTF-8 (or a maximum length below the minimum) throws sida::Error, and only then.
#include "fuzz_check.h"

#include "sida/errors.h"
#include "sida/tokenizer.h"

#include <cstdint>
#include <string>

namespace {

const sida::Tokenizer& tokenizer() {
    static const sida::Tokenizer instance(SIDA_FIXTURES_DIR "/tokenizer/spiece.model");
    return instance;
}

void checkIds(const sida::Encoding& encoding, int64_t maxLength) {
    FUZZ_CHECK(!encoding.ids.empty() && encoding.ids.back() == 1, "ids end with </s>");
    FUZZ_CHECK(static_cast<int64_t>(encoding.ids.size()) <= maxLength, "ids fit the maximum length");
    for (int64_t id : encoding.ids)
        FUZZ_CHECK(id >= 0 && id < tokenizer().vocabSize(), "ids inside the vocabulary");
}

} // namespace

// The first three bytes choose the call, the rest is the text:
//   byte 0     bit 0: encodePair, the text split at its first tab as `sida classify` splits a line
//   bytes 1-2  the maximum length, from -1 to 600 (mostly usable, sometimes below the minimum)
constexpr size_t kChoiceBytes = 3;

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    uint8_t choice[kChoiceBytes] = {};
    for (size_t i = 0; i < kChoiceBytes && i < size; ++i) choice[i] = data[i];
    const bool pair = choice[0] & 1;
    const int64_t maxLength = ((choice[1] << 8) | choice[2]) % 602 - 1;
    const size_t skip = size < kChoiceBytes ? size : kChoiceBytes;
    std::string first(reinterpret_cast<const char*>(data) + skip, size - skip), second;
    if (pair) {
        const size_t tab = first.find('\t');
        if (tab != std::string::npos) {
            second = first.substr(tab + 1);
            first.resize(tab);
        }
    }

    const bool validText = sida::findInvalidUtf8(first) < 0 && sida::findInvalidUtf8(second) < 0;
    const bool validLength = maxLength >= (pair ? 4 : 2);
    bool threw = false;
    try {
        const sida::Encoding encoding =
            pair ? tokenizer().encodePair(first, second, maxLength) : tokenizer().encode(first, maxLength);
        checkIds(encoding, maxLength);
        if (pair) {
            int64_t ends = 0;
            for (int64_t id : encoding.ids) ends += id == 1;
            FUZZ_CHECK(ends >= 2, "a pair holds two </s>");
        }
        if (!encoding.truncated && !pair)
            FUZZ_CHECK(tokenizer().encode(first, maxLength + 50).ids == encoding.ids,
                       "an untruncated encoding does not depend on the maximum length");
    } catch (const sida::Error&) {
        threw = true;
    }
    FUZZ_CHECK(threw == !(validText && validLength), "sida::Error exactly for invalid UTF-8 or lengths");
    return 0;
}
