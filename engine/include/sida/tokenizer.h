// SPDX-License-Identifier: MIT
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

namespace sida {

/// The ids of one encoded input.
struct Encoding {
    std::vector<int64_t> ids; ///< ends with </s> (single: `A </s>`, pair: `A </s> B </s>`)
    bool truncated = false;   ///< true when pieces were dropped to fit the maximum length
};

/// The T5 tokenizer: SentencePiece on `spiece.model` plus T5's conventions (pad 0, </s> 1,
/// unk 2, `<extra_id_N>` = vocab - 1 - N above the SentencePiece pieces, eos appended), as
/// Hugging Face's T5Tokenizer does it.
class Tokenizer {
public:
    static constexpr int kExtraIds = 100;

    /// Loads a SentencePiece model; throws sida::Error naming the file when it is missing or not
    /// a valid model.
    explicit Tokenizer(const std::filesystem::path& spieceModel);
    ~Tokenizer();
    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;

    /// Encodes one text: its pieces, then </s>; truncated to `maxLength` ids (</s> kept).
    /// Throws sida::Error when the text is not valid UTF-8.
    Encoding encode(const std::string& text, int64_t maxLength) const;
    /// Encodes a sentence pair as `A </s> B </s>`, truncating the longer side first.
    Encoding encodePair(const std::string& first, const std::string& second, int64_t maxLength) const;

    /// The piece text of an id (`▁the`, `</s>`, `<extra_id_3>`), for display.
    std::string piece(int64_t id) const;
    /// Pieces in the SentencePiece model, without the extra ids.
    int64_t pieceCount() const;
    /// pieceCount() + 100 extra ids: the smallest embedding this tokenizer needs.
    int64_t vocabSize() const { return pieceCount() + kExtraIds; }
    int64_t padId() const { return 0; }
    int64_t eosId() const { return 1; }
    int64_t unkId() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

/// The byte offset of the first invalid UTF-8 sequence in `text`, or -1 when it is valid.
int64_t findInvalidUtf8(const std::string& text);

/// True when valid UTF-8 `text` holds nothing but whitespace as Python's str.isspace() sees it
/// (U+3000 and no-break spaces included): such a text encodes to </s> alone.
bool isBlankText(const std::string& text);

} // namespace sida
