// SPDX-License-Identifier: MIT
// T5Tokenizer (transformers/models/t5/tokenization_t5.py, legacy mode, which is its default)
// rebuilt on the SentencePiece C++ library: special tokens in the text are split out first
// (`<extra_id_N>` also strips the whitespace around it), every other chunk goes through
// SentencePiece, and </s> is appended unless the text already ends with it.
#include "sida/tokenizer.h"

#include "sida/errors.h"

#include <sentencepiece_processor.h>

#include <algorithm>
#include <filesystem>

namespace sida {
namespace {

// Python's str.isspace() for the code points UTF-8 text can hold.
bool isUnicodeSpace(char32_t c) {
    return (c >= 0x09 && c <= 0x0d) || (c >= 0x1c && c <= 0x20) || c == 0x85 || c == 0xa0 || c == 0x1680 ||
           (c >= 0x2000 && c <= 0x200a) || c == 0x2028 || c == 0x2029 || c == 0x202f || c == 0x205f ||
           c == 0x3000;
}

// Decodes the code point starting at `pos` of valid UTF-8; returns its length in bytes.
size_t decodeAt(const std::string& s, size_t pos, char32_t& out) {
    const auto b = static_cast<unsigned char>(s[pos]);
    if (b < 0x80) {
        out = b;
        return 1;
    }
    const size_t len = b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : 2;
    out = b & (0xff >> (len + 1));
    for (size_t i = 1; i < len; ++i) out = (out << 6) | (static_cast<unsigned char>(s[pos + i]) & 0x3f);
    return len;
}

std::string stripLeft(const std::string& s) {
    size_t pos = 0;
    while (pos < s.size()) {
        char32_t c;
        const size_t len = decodeAt(s, pos, c);
        if (!isUnicodeSpace(c)) break;
        pos += len;
    }
    return s.substr(pos);
}

std::string stripRight(const std::string& s) {
    size_t keep = 0, pos = 0;
    while (pos < s.size()) {
        char32_t c;
        const size_t len = decodeAt(s, pos, c);
        pos += len;
        if (!isUnicodeSpace(c)) keep = pos;
    }
    return s.substr(0, keep);
}

struct Chunk {
    std::string text;
    int64_t specialId = -1; ///< >= 0 when the chunk is a special token
    bool stripsAround = false;
};

} // namespace

int64_t findInvalidUtf8(const std::string& text) {
    size_t i = 0;
    while (i < text.size()) {
        const auto b = static_cast<unsigned char>(text[i]);
        size_t len;
        char32_t min;
        if (b < 0x80) {
            ++i;
            continue;
        }
        if (b >= 0xc2 && b <= 0xdf) {
            len = 2;
            min = 0x80;
        } else if (b >= 0xe0 && b <= 0xef) {
            len = 3;
            min = 0x800;
        } else if (b >= 0xf0 && b <= 0xf4) {
            len = 4;
            min = 0x10000;
        } else
            return static_cast<int64_t>(i);
        if (i + len > text.size()) return static_cast<int64_t>(i);
        char32_t cp = b & (0xff >> (len + 1));
        for (size_t k = 1; k < len; ++k) {
            const auto c = static_cast<unsigned char>(text[i + k]);
            if ((c & 0xc0) != 0x80) return static_cast<int64_t>(i);
            cp = (cp << 6) | (c & 0x3f);
        }
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff)) return static_cast<int64_t>(i);
        i += len;
    }
    return -1;
}

bool isBlankText(const std::string& text) { return findInvalidUtf8(text) < 0 && stripLeft(text).empty(); }

struct Tokenizer::Impl {
    sentencepiece::SentencePieceProcessor processor;
    std::string path;

    int64_t extraId(int n) const { return processor.GetPieceSize() + kExtraIds - 1 - n; }

    // The special token that starts at `pos`, longest first, as the tokenizer's trie finds it.
    bool matchSpecial(const std::string& text, size_t pos, Chunk& chunk) const {
        if (text[pos] != '<') return false;
        static const std::pair<const char*, int64_t> fixed[] = {{"</s>", 1}, {"<pad>", 0}};
        for (const auto& [token, id] : fixed)
            if (text.compare(pos, std::char_traits<char>::length(token), token) == 0) {
                chunk = {token, id, false};
                return true;
            }
        if (text.compare(pos, 5, "<unk>") == 0) {
            chunk = {"<unk>", processor.unk_id(), false};
            return true;
        }
        static const std::string prefix = "<extra_id_";
        if (text.compare(pos, prefix.size(), prefix) != 0) return false;
        size_t end = pos + prefix.size();
        int number = 0, digits = 0;
        // Longest match: "<extra_id_10>" before "<extra_id_1>".
        while (end < text.size() && std::isdigit(static_cast<unsigned char>(text[end])) && digits < 3) {
            number = number * 10 + (text[end] - '0');
            ++end;
            ++digits;
        }
        if (digits == 0 || end >= text.size() || text[end] != '>' || number >= kExtraIds) return false;
        if (digits > 1 && text[pos + prefix.size()] == '0') return false;
        chunk = {text.substr(pos, end + 1 - pos), extraId(number), true};
        return true;
    }

    std::vector<Chunk> splitSpecial(const std::string& text) const {
        std::vector<Chunk> chunks;
        std::string plain;
        for (size_t pos = 0; pos < text.size();) {
            Chunk special;
            if (matchSpecial(text, pos, special)) {
                if (!plain.empty()) chunks.push_back({std::move(plain)});
                plain.clear();
                pos += special.text.size();
                chunks.push_back(std::move(special));
            } else {
                plain += text[pos++];
            }
        }
        if (!plain.empty()) chunks.push_back({std::move(plain)});
        // AddedToken(lstrip=True, rstrip=True) for <extra_id_N>: neighbours lose their
        // adjacent whitespace.
        for (size_t i = 0; i < chunks.size(); ++i) {
            if (!chunks[i].stripsAround) continue;
            if (i > 0 && chunks[i - 1].specialId < 0) chunks[i - 1].text = stripRight(chunks[i - 1].text);
            if (i + 1 < chunks.size() && chunks[i + 1].specialId < 0)
                chunks[i + 1].text = stripLeft(chunks[i + 1].text);
        }
        return chunks;
    }

    std::vector<int64_t> pieces(const std::string& text) const {
        if (const int64_t bad = findInvalidUtf8(text); bad >= 0)
            throw Error("input text is not valid UTF-8 (bad byte at offset " + std::to_string(bad) + ")");
        std::vector<int64_t> ids;
        for (const Chunk& chunk : splitSpecial(text)) {
            if (chunk.specialId >= 0) {
                ids.push_back(chunk.specialId);
                continue;
            }
            if (chunk.text.empty()) continue;
            std::vector<std::string> surface;
            const auto status = processor.Encode(chunk.text, &surface);
            if (!status.ok()) throw Error("tokenizer (" + path + "): " + status.ToString());
            for (const std::string& p : surface) ids.push_back(processor.PieceToId(p));
        }
        return ids;
    }
};

Tokenizer::Tokenizer(const std::filesystem::path& spieceModel) : impl_(std::make_unique<Impl>()) {
    impl_->path = spieceModel.string();
    if (!std::filesystem::exists(spieceModel))
        throw Error("tokenizer model '" + impl_->path + "' is missing");
    // The non-throwing overloads: a folder or an unreadable entry must give a sida::Error too.
    std::error_code error;
    if (!std::filesystem::is_regular_file(spieceModel, error))
        throw Error("tokenizer model '" + impl_->path + "' is not a file");
    const auto size = std::filesystem::file_size(spieceModel, error);
    if (error) throw Error("cannot read tokenizer model '" + impl_->path + "': " + error.message());
    if (size == 0) throw Error("tokenizer model '" + impl_->path + "' is empty");
    const auto status = impl_->processor.Load(impl_->path);
    if (!status.ok())
        throw Error("tokenizer model '" + impl_->path + "' is not a SentencePiece model (" +
                    status.ToString() + ")");
    const auto& p = impl_->processor;
    if (p.GetPieceSize() < 3 || p.IdToPiece(0) != "<pad>" || p.IdToPiece(1) != "</s>")
        throw Error("tokenizer model '" + impl_->path +
                    "' does not follow T5's conventions (<pad> must be id 0 and </s> id 1)");
}

Tokenizer::~Tokenizer() = default;
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;

namespace {

void appendEos(std::vector<int64_t>& ids) {
    if (ids.empty() || ids.back() != 1) ids.push_back(1);
}

} // namespace

Encoding Tokenizer::encode(const std::string& text, int64_t maxLength) const {
    if (maxLength < 2) throw Error("maximum length must be at least 2, not " + std::to_string(maxLength));
    Encoding encoding;
    encoding.ids = impl_->pieces(text);
    appendEos(encoding.ids);
    if (static_cast<int64_t>(encoding.ids.size()) > maxLength) {
        encoding.ids.resize(maxLength - 1);
        encoding.ids.push_back(1);
        encoding.truncated = true;
    }
    return encoding;
}

Encoding Tokenizer::encodePair(const std::string& first, const std::string& second, int64_t maxLength) const {
    if (maxLength < 4)
        throw Error("maximum length must be at least 4 for a pair, not " + std::to_string(maxLength));
    std::vector<int64_t> a = impl_->pieces(first), b = impl_->pieces(second);
    appendEos(a);
    appendEos(b);
    Encoding encoding;
    // Transformers' "longest_first": drop the last piece of the longer side (the second on a
    // tie), never the </s> that ends each side.
    while (static_cast<int64_t>(a.size() + b.size()) > maxLength) {
        auto& side = a.size() > b.size() ? a : b;
        if (side.size() <= 1) break;
        side.erase(side.end() - 2);
        encoding.truncated = true;
    }
    encoding.ids = std::move(a);
    encoding.ids.insert(encoding.ids.end(), b.begin(), b.end());
    return encoding;
}

std::string Tokenizer::piece(int64_t id) const {
    const int64_t n = impl_->processor.GetPieceSize();
    if (id >= 0 && id < n) return impl_->processor.IdToPiece(static_cast<int>(id));
    if (id >= n && id < n + kExtraIds) return "<extra_id_" + std::to_string(n + kExtraIds - 1 - id) + ">";
    return "<id " + std::to_string(id) + ">";
}

int64_t Tokenizer::pieceCount() const { return impl_->processor.GetPieceSize(); }
int64_t Tokenizer::unkId() const { return impl_->processor.unk_id(); }

} // namespace sida
