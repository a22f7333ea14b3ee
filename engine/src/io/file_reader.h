// SPDX-License-Identifier: MIT
// Explicit reads of checkpoint bytes, never through a memory mapping: a file that shrinks or
// changes under the engine then gives an error for the read that meets it, not a SIGBUS, and
// the bytes read count in the process's memory only where the engine keeps them.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <mutex>
#include <string>
#include <vector>

namespace sida::detail {

/// O_DIRECT wants the file offset, the length and the buffer aligned to the logical block size;
/// 4 KiB covers every block size in use.
inline constexpr uint64_t kDirectAlignment = 4096;

/// Bytes [offset, offset + length) of one of a checkpoint's files.
struct FileRange {
    uint32_t file = 0;
    uint64_t offset = 0;
    uint64_t length = 0;
};

/// How a range is read into an aligned buffer: the whole aligned span around it (safetensors
/// offsets are not aligned), the range's bytes starting `dataOffset` bytes in.
struct AlignedSpan {
    uint64_t fileOffset = 0;  ///< the range's offset rounded down
    uint64_t bufferBytes = 0; ///< the range's end rounded up, less fileOffset
    uint64_t dataOffset = 0;  ///< where the range begins inside the buffer
};
AlignedSpan alignedSpan(const FileRange& range);

/// Reads ranges of a checkpoint's files. Thread-safe. Errors are sida::Error naming the file and
/// the range: a short read, an I/O error, or a file whose size changed since the model was opened.
class ByteSource {
public:
    virtual ~ByteSource() = default;
    /// Reads `alignedSpan(range)` into `buffer` (kDirectAlignment-aligned, bufferBytes long).
    virtual void read(const FileRange& range, std::byte* buffer) = 0;
    /// Whether reads bypass the page cache (O_DIRECT).
    virtual bool direct() const = 0;
    /// The file's path, for messages.
    virtual std::string describe(uint32_t file) const = 0;
};

/// The checkpoint's files, read with pread(): with O_DIRECT where the filesystem allows it
/// (tmpfs and some others refuse it: buffered reads there).
class FileByteSource : public ByteSource {
public:
    /// `sizes`: each file's size when its header was validated.
    FileByteSource(std::vector<std::filesystem::path> files, std::vector<uint64_t> sizes, bool preferDirect);
    ~FileByteSource() override;
    FileByteSource(const FileByteSource&) = delete;
    FileByteSource& operator=(const FileByteSource&) = delete;

    void read(const FileRange& range, std::byte* buffer) override;
    bool direct() const override { return direct_; }
    std::string describe(uint32_t file) const override;

private:
    std::vector<std::filesystem::path> paths_;
    std::vector<uint64_t> sizes_;
    std::vector<int> descriptors_;
    bool direct_ = false;
};

} // namespace sida::detail
