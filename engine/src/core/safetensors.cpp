// SPDX-License-Identifier: MIT
// The safetensors format (github.com/huggingface/safetensors): u64 header length, JSON header,
// data buffer. Validation mirrors the official reader's `read_metadata` and `validate`.
#include "sida/safetensors.h"

#include "json_fields.h"
#include "sida/errors.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <fstream>
#include <set>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sida {
namespace {

using nlohmann::json;

struct DTypeRecord {
    DType dtype;
    const char* name;
    size_t size;
};

constexpr std::array kDTypes{
    DTypeRecord{DType::BOOL, "BOOL", 1},
    DTypeRecord{DType::U8, "U8", 1},
    DTypeRecord{DType::I8, "I8", 1},
    DTypeRecord{DType::F8_E5M2, "F8_E5M2", 1},
    DTypeRecord{DType::F8_E4M3, "F8_E4M3", 1},
    DTypeRecord{DType::I16, "I16", 2},
    DTypeRecord{DType::U16, "U16", 2},
    DTypeRecord{DType::F16, "F16", 2},
    DTypeRecord{DType::BF16, "BF16", 2},
    DTypeRecord{DType::I32, "I32", 4},
    DTypeRecord{DType::U32, "U32", 4},
    DTypeRecord{DType::F32, "F32", 4},
    DTypeRecord{DType::F64, "F64", 8},
    DTypeRecord{DType::I64, "I64", 8},
    DTypeRecord{DType::U64, "U64", 8},
    DTypeRecord{DType::F8_E8M0, "F8_E8M0", 1},
    DTypeRecord{DType::F8_E4M3FNUZ, "F8_E4M3FNUZ", 1},
    DTypeRecord{DType::F8_E5M2FNUZ, "F8_E5M2FNUZ", 1},
    DTypeRecord{DType::C64, "C64", 8},
};

const DTypeRecord& recordOf(DType dtype) {
    for (const auto& r : kDTypes)
        if (r.dtype == dtype) return r;
    throw Error("internal error: dtype without a record");
}

[[noreturn]] void fail(const std::string& source, const std::string& what) {
    throw Error(source + ": " + what);
}

uint64_t readU64LittleEndian(std::span<const std::byte> bytes) {
    uint64_t value = 0;
    for (int i = 7; i >= 0; --i) value = (value << 8) | static_cast<uint8_t>(bytes[i]);
    return value;
}

// nlohmann::json keeps the last of duplicate keys silently; the format forbids duplicates.
json parseRejectingDuplicates(const std::string& text, const std::string& source, const char* what) {
    std::vector<std::set<std::string>> seenPerObject;
    std::string duplicate;
    auto callback = [&](int /*depth*/, json::parse_event_t event, json& parsed) {
        if (event == json::parse_event_t::object_start)
            seenPerObject.emplace_back();
        else if (event == json::parse_event_t::object_end)
            seenPerObject.pop_back();
        else if (event == json::parse_event_t::key && duplicate.empty() &&
                 !seenPerObject.back().insert(parsed.get<std::string>()).second)
            duplicate = parsed.get<std::string>();
        return true;
    };
    json document;
    try {
        document = json::parse(text, callback);
    } catch (const json::exception& e) {
        fail(source, std::string(what) + " is not valid UTF-8 JSON (" + e.what() + ")");
    }
    if (!duplicate.empty()) fail(source, std::string(what) + " names '" + duplicate + "' twice");
    return document;
}

bool multiplyChecked(uint64_t a, uint64_t b, uint64_t& out) { return !__builtin_mul_overflow(a, b, &out); }

DType parseDType(const std::string& text, const std::string& source, const std::string& tensor) {
    for (const auto& r : kDTypes)
        if (text == r.name) return r.dtype;
    fail(source, "tensor '" + tensor + "' has dtype '" + text +
                     "', which SiDA does not know (it reads F32, F16 and BF16)");
}

TensorInfo parseTensorEntry(const std::string& name, const json& entry, const std::string& source) {
    const std::string where = "tensor '" + name + "'";
    if (!entry.is_object()) fail(source, where + ": entry is not a JSON object");
    for (const char* key : {"dtype", "shape", "data_offsets"})
        if (!entry.contains(key)) fail(source, where + ": entry has no '" + key + "'");
    if (!entry["dtype"].is_string()) fail(source, where + ": 'dtype' is not a string");

    TensorInfo info;
    info.name = name;
    info.dtype = parseDType(entry["dtype"].get<std::string>(), source, name);
    const json& shape = entry["shape"];
    if (!shape.is_array()) fail(source, where + ": 'shape' is not an array");
    for (const json& dim : shape) {
        if (!dim.is_number_unsigned())
            fail(source,
                 where + ": 'shape' holds " + detail::describeValue(dim) + ", not a non-negative integer");
        const uint64_t value = dim.get<uint64_t>();
        if (value > static_cast<uint64_t>(INT64_MAX)) fail(source, where + ": shape overflows");
        info.shape.push_back(static_cast<int64_t>(value));
    }
    const json& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
        fail(source, where + ": 'data_offsets' must be two non-negative integers");
    info.begin = offsets[0].get<uint64_t>();
    info.end = offsets[1].get<uint64_t>();
    if (info.end < info.begin) fail(source, where + ": data_offsets end before they begin");

    uint64_t bytes = dtypeSize(info.dtype);
    for (int64_t dim : info.shape)
        if (!multiplyChecked(bytes, static_cast<uint64_t>(dim), bytes))
            fail(source, where + ": shape x dtype size overflows 64 bits");
    if (bytes != info.end - info.begin)
        fail(source, where + ": shape and dtype make " + std::to_string(bytes) +
                         " bytes but data_offsets span " + std::to_string(info.end - info.begin));
    return info;
}

std::map<std::string, std::string> parseMetadata(const json& metadata, const std::string& source) {
    if (!metadata.is_object()) fail(source, "'__metadata__' is not a JSON object");
    std::map<std::string, std::string> result;
    for (const auto& [key, value] : metadata.items()) {
        if (!value.is_string()) fail(source, "'__metadata__." + key + "' is not a string");
        result[key] = value.get<std::string>();
    }
    // Transformers' load_state_dict accepts only these formats.
    if (auto it = result.find("format"); it != result.end()) {
        static const std::set<std::string> known{"pt", "tf", "flax", "mlx"};
        if (!known.contains(it->second))
            fail(source,
                 "'__metadata__.format' is '" + it->second + "' (Transformers accepts pt, tf, flax or mlx)");
    }
    return result;
}

void checkContiguous(const std::vector<TensorInfo>& sorted, uint64_t fileSize, uint64_t dataOffset,
                     const std::string& source) {
    uint64_t expectedBegin = 0;
    const TensorInfo* previous = nullptr;
    for (const TensorInfo& t : sorted) {
        if (t.begin != expectedBegin) {
            const std::string relation = t.begin < expectedBegin ? "overlaps" : "leaves a gap after";
            fail(source, "tensor '" + t.name + "' (bytes " + std::to_string(t.begin) + ".." +
                             std::to_string(t.end) + ") " + relation + " " +
                             (previous ? "tensor '" + previous->name + "'"
                                       : std::string("the start of the data buffer")));
        }
        expectedBegin = t.end;
        previous = &t;
    }
    if (dataOffset + expectedBegin != fileSize)
        fail(source, "the tensors end at byte " + std::to_string(dataOffset + expectedBegin) +
                         " but the file has " + std::to_string(fileSize) +
                         " bytes (truncated, or trailing data)");
}

} // namespace

std::string dtypeName(DType dtype) { return recordOf(dtype).name; }
size_t dtypeSize(DType dtype) { return recordOf(dtype).size; }
bool dtypeIsSupported(DType dtype) {
    return dtype == DType::F32 || dtype == DType::F16 || dtype == DType::BF16;
}

uint64_t TensorInfo::numel() const {
    uint64_t n = 1;
    for (int64_t dim : shape) n *= static_cast<uint64_t>(dim);
    return n;
}

const TensorInfo* SafetensorsHeader::find(const std::string& name) const {
    auto it = positions.find(name);
    return it == positions.end() ? nullptr : &tensors[it->second];
}

SafetensorsHeader parseSafetensorsHeader(std::span<const std::byte> prefix, uint64_t fileSize,
                                         const std::string& source) {
    if (fileSize < 8 || prefix.size() < 8)
        fail(source, "file has " + std::to_string(fileSize) + " bytes, too small for a safetensors header");
    const uint64_t headerLength = readU64LittleEndian(prefix);
    if (headerLength > kMaxSafetensorsHeaderBytes)
        fail(source, "header length " + std::to_string(headerLength) + " exceeds the limit of " +
                         std::to_string(kMaxSafetensorsHeaderBytes) + " bytes");
    if (headerLength > fileSize - 8)
        fail(source, "header length " + std::to_string(headerLength) + " runs past the end of the " +
                         std::to_string(fileSize) + "-byte file");
    if (prefix.size() < 8 + headerLength) fail(source, "header is incomplete");

    const std::string text(reinterpret_cast<const char*>(prefix.data() + 8), headerLength);
    const json document = parseRejectingDuplicates(text, source, "header");
    if (!document.is_object()) fail(source, "header is not a JSON object");

    SafetensorsHeader header;
    header.dataOffset = 8 + headerLength;
    for (const auto& [name, entry] : document.items()) {
        if (name == "__metadata__")
            header.metadata = parseMetadata(entry, source);
        else
            header.tensors.push_back(parseTensorEntry(name, entry, source));
    }
    std::sort(header.tensors.begin(), header.tensors.end(), [](const TensorInfo& a, const TensorInfo& b) {
        return a.begin != b.begin ? a.begin < b.begin : a.end < b.end;
    });
    checkContiguous(header.tensors, fileSize, header.dataOffset, source);
    for (size_t i = 0; i < header.tensors.size(); ++i) header.positions[header.tensors[i].name] = i;
    return header;
}

MappedFile::MappedFile(const std::filesystem::path& path) : path_(path) {
    // O_NONBLOCK: opening a FIFO (a named pipe in a model folder) would otherwise wait forever for
    // a writer; fstat() below then refuses it like any file that is not regular.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) throw Error("cannot open '" + path.string() + "': " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error("'" + path.string() + "' is not a regular file");
    }
    size_ = static_cast<size_t>(st.st_size);
    void* mapped = size_ > 0 ? ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0) : nullptr;
    const int err = errno;
    ::close(fd); // the mapping keeps the file
    if (mapped == MAP_FAILED) throw Error("cannot memory-map '" + path.string() + "': " + std::strerror(err));
    data_ = static_cast<const std::byte*>(mapped);
}

MappedFile::~MappedFile() {
    if (data_) ::munmap(const_cast<std::byte*>(data_), size_);
}

void MappedFile::release() const {
    if (data_) ::madvise(const_cast<std::byte*>(data_), size_, MADV_DONTNEED);
}

SafetensorsFile::SafetensorsFile(const std::filesystem::path& path)
    : file_(path), header_(parseSafetensorsHeader(file_.bytes(), file_.bytes().size(), path.string())) {}

std::span<const std::byte> SafetensorsFile::data(const TensorInfo& info) const {
    return file_.bytes().subspan(header_.dataOffset + info.begin, info.byteSize());
}

std::map<std::string, std::string> parseSafetensorsIndex(const std::string& jsonText,
                                                         const std::string& source) {
    const json document = parseRejectingDuplicates(jsonText, source, "index");
    if (!document.is_object() || !document.contains("weight_map") || !document["weight_map"].is_object())
        fail(source, "has no 'weight_map' object");
    std::map<std::string, std::string> weightMap;
    for (const auto& [tensor, shard] : document["weight_map"].items()) {
        if (!shard.is_string()) fail(source, "weight_map['" + tensor + "'] is not a file name");
        const std::string name = shard.get<std::string>();
        // A control character (JSON's \u0000 included) is no part of a file name: a NUL would
        // also cut the path short at open(), so that another file than the one named is read.
        const bool hasControl = std::any_of(name.begin(), name.end(), [](char c) {
            return static_cast<unsigned char>(c) < 0x20 || c == 0x7f;
        });
        if (name.empty() || hasControl || name.find('/') != std::string::npos ||
            name.find('\\') != std::string::npos || name.find("..") != std::string::npos)
            fail(source, "weight_map['" + tensor + "'] names shard " +
                             (hasControl ? detail::describeValue(shard) : "'" + name + "'") +
                             ", which is not a plain file name in the model folder");
        weightMap[tensor] = name;
    }
    if (weightMap.empty()) fail(source, "weight_map is empty");
    return weightMap;
}

Checkpoint::Checkpoint(const std::filesystem::path& modelDir) {
    const auto indexPath = modelDir / "model.safetensors.index.json";
    const auto singlePath = modelDir / "model.safetensors";
    // Transformers' from_pretrained looks for model.safetensors first and reads the index only
    // without it; a folder holding both loads the same weights here as there.
    if (std::filesystem::exists(singlePath)) {
        describedBy_ = singlePath;
        files_.push_back(std::make_unique<SafetensorsFile>(singlePath));
        for (const TensorInfo& info : files_.back()->header().tensors)
            index_[info.name] = {files_.back().get(), &info};
    } else if (std::filesystem::exists(indexPath)) {
        describedBy_ = indexPath;
        const auto weightMap = parseSafetensorsIndex(detail::readTextFile(indexPath), indexPath.string());
        std::map<std::string, const SafetensorsFile*> opened;
        for (const auto& [tensor, shard] : weightMap) {
            if (!opened.contains(shard)) {
                if (!std::filesystem::exists(modelDir / shard))
                    fail(indexPath.string(),
                         "shard '" + shard + "' (holding '" + tensor + "') is missing from the model folder");
                files_.push_back(std::make_unique<SafetensorsFile>(modelDir / shard));
                opened[shard] = files_.back().get();
            }
            const SafetensorsFile* file = opened[shard];
            const TensorInfo* info = file->header().find(tensor);
            if (!info)
                fail(indexPath.string(),
                     "maps tensor '" + tensor + "' to '" + shard + "', which does not contain it");
            index_[tensor] = {file, info};
        }
    } else if (std::filesystem::exists(modelDir / "pytorch_model.bin") ||
               std::filesystem::exists(modelDir / "pytorch_model.bin.index.json")) {
        throw Error("'" + modelDir.string() +
                    "' holds PyTorch pickle weights (pytorch_model.bin), which SiDA does not "
                    "unpickle; convert them once to model.safetensors (see README, 'Real "
                    "checkpoints')");
    } else {
        throw Error("'" + modelDir.string() + "' has no model.safetensors or model.safetensors.index.json");
    }
}

bool Checkpoint::contains(const std::string& name) const { return index_.contains(name); }

TensorLocation Checkpoint::locate(const std::string& name) const {
    auto it = index_.find(name);
    if (it == index_.end()) throw Error(describedBy_.string() + ": tensor '" + name + "' is missing");
    return it->second;
}

std::vector<std::string> Checkpoint::tensorNames() const {
    std::vector<std::string> names;
    for (const auto& [name, location] : index_) names.push_back(name);
    return names;
}

uint64_t Checkpoint::totalBytes() const {
    uint64_t total = 0;
    for (const auto& [name, location] : index_) total += location.info->byteSize();
    return total;
}

void SafetensorsWriter::add(const std::string& name, DType dtype, std::vector<int64_t> shape,
                            std::span<const std::byte> bytes) {
    uint64_t expected = dtypeSize(dtype);
    for (int64_t dim : shape) expected *= static_cast<uint64_t>(dim);
    if (expected != bytes.size())
        throw Error("safetensors writer: tensor '" + name + "' has " + std::to_string(bytes.size()) +
                    " bytes, its shape needs " + std::to_string(expected));
    for (const Pending& p : tensors_)
        if (p.name == name) throw Error("safetensors writer: tensor '" + name + "' added twice");
    tensors_.push_back({name, dtype, std::move(shape), {bytes.begin(), bytes.end()}});
}

void SafetensorsWriter::setMetadata(const std::string& key, const std::string& value) {
    metadata_[key] = value;
}

void SafetensorsWriter::write(const std::filesystem::path& path) const {
    std::vector<const Pending*> order;
    for (const Pending& p : tensors_) order.push_back(&p);
    std::stable_sort(order.begin(), order.end(), [](const Pending* a, const Pending* b) {
        const size_t sa = dtypeSize(a->dtype), sb = dtypeSize(b->dtype);
        return sa != sb ? sa > sb : a->name < b->name;
    });

    // Key order as the Python library writes it: __metadata__ first, then the tensors in data
    // order, each as dtype, shape, data_offsets. Files come out byte-identical to save_file's.
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    header["__metadata__"] = metadata_;
    uint64_t offset = 0;
    for (const Pending* p : order) {
        nlohmann::ordered_json entry;
        entry["dtype"] = dtypeName(p->dtype);
        entry["shape"] = p->shape;
        entry["data_offsets"] = {offset, offset + p->bytes.size()};
        header[p->name] = std::move(entry);
        offset += p->bytes.size();
    }
    std::string text = header.dump();
    text.append((8 - text.size() % 8) % 8, ' ');

    const auto temporary = std::filesystem::path(path.string() + ".partial");
    {
        std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
        if (!out) throw Error("cannot write '" + temporary.string() + "'");
        uint64_t length = text.size();
        std::array<char, 8> lengthBytes{};
        for (int i = 0; i < 8; ++i) lengthBytes[i] = static_cast<char>((length >> (8 * i)) & 0xff);
        out.write(lengthBytes.data(), 8);
        out.write(text.data(), static_cast<std::streamsize>(text.size()));
        for (const Pending* p : order)
            out.write(reinterpret_cast<const char*>(p->bytes.data()),
                      static_cast<std::streamsize>(p->bytes.size()));
        if (!out) throw Error("writing '" + temporary.string() + "' failed (disk full?)");
    }
    std::filesystem::rename(temporary, path);
}

} // namespace sida
