// SPDX-License-Identifier: MIT
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace sida {

/// Every dtype the safetensors format names. The engine computes with F32, F16 and BF16 only;
/// the others are parsed (so that files are validated completely) and rejected by name on use.
enum class DType {
    BOOL,
    U8,
    I8,
    F8_E5M2,
    F8_E4M3,
    I16,
    U16,
    F16,
    BF16,
    I32,
    U32,
    F32,
    F64,
    I64,
    U64,
    F8_E8M0,
    F8_E4M3FNUZ,
    F8_E5M2FNUZ,
    C64,
};

std::string dtypeName(DType dtype);
/// Bytes per element.
size_t dtypeSize(DType dtype);
/// True for F32, F16 and BF16, the dtypes whose tensors the engine can load.
bool dtypeIsSupported(DType dtype);

/// One tensor entry of a safetensors header.
struct TensorInfo {
    std::string name;
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    uint64_t begin = 0; ///< offset of the first byte, relative to the start of the data buffer
    uint64_t end = 0;   ///< one past the last byte
    uint64_t numel() const;
    uint64_t byteSize() const { return end - begin; }
};

/// A validated safetensors header: every check the official reader makes (header size limit,
/// UTF-8 JSON, duplicate names, dtype and shape syntax, contiguous offsets without gaps or
/// overlaps, size = numel x dtype size with overflow checks, the buffer ending exactly at the end
/// of the file) plus Transformers' rule on `__metadata__.format`.
struct SafetensorsHeader {
    std::map<std::string, std::string> metadata;
    std::vector<TensorInfo> tensors;         ///< in data-offset order
    uint64_t dataOffset = 0;                 ///< 8 + header length: where the data buffer starts in the file
    std::map<std::string, size_t> positions; ///< tensor name -> index into `tensors`

    const TensorInfo* find(const std::string& name) const;
};

/// The largest header the official reader accepts (HeaderTooLarge).
inline constexpr uint64_t kMaxSafetensorsHeaderBytes = 100'000'000;

/// Parses and validates the header of a safetensors file of `fileSize` bytes whose first bytes
/// are `prefix` (at least 8 + header length of them). `source` names the file in errors.
SafetensorsHeader parseSafetensorsHeader(std::span<const std::byte> prefix, uint64_t fileSize,
                                         const std::string& source);

/// A read-only memory mapping of a whole file.
class MappedFile {
public:
    explicit MappedFile(const std::filesystem::path& path);
    ~MappedFile();
    MappedFile(const MappedFile&) = delete;
    MappedFile& operator=(const MappedFile&) = delete;

    std::span<const std::byte> bytes() const { return {data_, size_}; }
    const std::filesystem::path& path() const { return path_; }

    /// Drops this mapping's pages from the process's resident set (they stay in the page cache
    /// while the kernel has room): once a model's weights are copied out of it, nothing reads it.
    void release() const;

private:
    std::filesystem::path path_;
    const std::byte* data_ = nullptr;
    size_t size_ = 0;
};

/// One memory-mapped, validated safetensors file.
class SafetensorsFile {
public:
    explicit SafetensorsFile(const std::filesystem::path& path);

    const SafetensorsHeader& header() const { return header_; }
    const std::filesystem::path& path() const { return file_.path(); }
    /// The bytes of one tensor, inside the mapping (not necessarily aligned).
    std::span<const std::byte> data(const TensorInfo& info) const;
    /// Where a tensor's bytes start in the file.
    uint64_t fileOffset(const TensorInfo& info) const { return header_.dataOffset + info.begin; }
    const MappedFile& mapping() const { return file_; }

private:
    MappedFile file_;
    SafetensorsHeader header_;
};

/// Where one tensor of a checkpoint lives.
struct TensorLocation {
    const SafetensorsFile* file = nullptr;
    const TensorInfo* info = nullptr;
};

/// The weights of a model folder: `model.safetensors`, or the shards listed by
/// `model.safetensors.index.json` (each opened once and memory-mapped).
class Checkpoint {
public:
    explicit Checkpoint(const std::filesystem::path& modelDir);

    bool contains(const std::string& name) const;
    /// Throws sida::Error naming the tensor and the checkpoint when it is absent.
    TensorLocation locate(const std::string& name) const;
    std::vector<std::string> tensorNames() const;
    /// The file or index that describes the checkpoint, for messages.
    const std::filesystem::path& describedBy() const { return describedBy_; }
    uint64_t totalBytes() const;
    /// Every file, in the order they were opened.
    const std::vector<std::unique_ptr<SafetensorsFile>>& files() const { return files_; }

private:
    std::filesystem::path describedBy_;
    std::vector<std::unique_ptr<SafetensorsFile>> files_;
    std::map<std::string, TensorLocation> index_;
};

/// The weight map of a sharded checkpoint's index file, validated: shard names are plain file
/// names (no '/', no '..', not absolute).
std::map<std::string, std::string> parseSafetensorsIndex(const std::string& jsonText,
                                                         const std::string& source);

/// Writes safetensors files the Python `safetensors` library reads: tensors ordered by dtype
/// alignment then name, the header padded with spaces to a multiple of 8.
class SafetensorsWriter {
public:
    /// Copies `bytes`; their size must equal numel(shape) x dtypeSize(dtype).
    void add(const std::string& name, DType dtype, std::vector<int64_t> shape,
             std::span<const std::byte> bytes);
    void setMetadata(const std::string& key, const std::string& value);
    /// Writes to a temporary file beside `path`, then renames it into place.
    void write(const std::filesystem::path& path) const;

private:
    struct Pending {
        std::string name;
        DType dtype;
        std::vector<int64_t> shape;
        std::vector<std::byte> bytes;
    };
    std::vector<Pending> tensors_;
    std::map<std::string, std::string> metadata_{{"format", "pt"}};
};

} // namespace sida
