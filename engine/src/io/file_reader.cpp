// SPDX-License-Identifier: MIT
#include "io/file_reader.h"

#include "sida/errors.h"

#include <cerrno>
#include <cstring>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sida::detail {
namespace {

uint64_t roundDown(uint64_t value) { return value & ~(kDirectAlignment - 1); }
uint64_t roundUp(uint64_t value) { return roundDown(value + kDirectAlignment - 1); }

std::string rangeText(const std::filesystem::path& path, const FileRange& range) {
    return path.string() + " (bytes " + std::to_string(range.offset) + ".." +
           std::to_string(range.offset + range.length) + ")";
}

// O_DIRECT is accepted by open() on filesystems that then fail the first read with EINVAL:
// try one aligned read before trusting it.
bool directReadWorks(int fd) {
    void* probe = nullptr;
    if (posix_memalign(&probe, kDirectAlignment, kDirectAlignment) != 0) return false;
    const ssize_t n = ::pread(fd, probe, kDirectAlignment, 0);
    std::free(probe);
    return n >= 0;
}

class PreadReader : public SpanReader {
public:
    SpanOutcome read(int fd, std::byte* buffer, uint64_t offset, uint64_t length, uint64_t needed) override {
        uint64_t done = 0;
        while (done < needed) {
            const ssize_t n = ::pread(fd, buffer + done, length - done, static_cast<off_t>(offset + done));
            if (n < 0 && errno == EINTR) continue;
            if (n < 0) return {errno, false, 0};
            if (n == 0) return {0, true, done};
            done += static_cast<uint64_t>(n);
        }
        return {};
    }
    std::string name() const override { return "pread"; }
};

} // namespace

std::unique_ptr<SpanReader> makePreadReader() { return std::make_unique<PreadReader>(); }

IoMode parseIoMode(const std::string& text, const std::string& what) {
    if (text == "pread") return IoMode::Pread;
    if (text == "uring") return IoMode::Uring;
    throw Error(what + ": use uring or pread, not '" + text + "'");
}

AlignedSpan alignedSpan(const FileRange& range) {
    const uint64_t first = roundDown(range.offset);
    return {first, roundUp(range.offset + range.length) - first, range.offset - first};
}

FileByteSource::FileByteSource(std::vector<std::filesystem::path> files, std::vector<uint64_t> sizes,
                               bool preferDirect, IoMode mode)
    : paths_(std::move(files)), sizes_(std::move(sizes)) {
    if (mode == IoMode::Uring) reader_ = makeUringReader(&fallback_);
    if (!reader_) reader_ = makePreadReader();
    direct_ = preferDirect;
    for (const auto& path : paths_) {
        int fd = preferDirect ? ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_DIRECT) : -1;
        if (fd >= 0 && !directReadWorks(fd)) {
            ::close(fd);
            fd = -1;
        }
        if (fd < 0) {
            direct_ = false;
            fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        }
        if (fd < 0) {
            const int error = errno;
            for (int open : descriptors_) ::close(open);
            throw Error("cannot open '" + path.string() + "' for reading: " + std::strerror(error));
        }
        descriptors_.push_back(fd);
    }
}

FileByteSource::~FileByteSource() {
    for (int fd : descriptors_) ::close(fd);
}

std::string FileByteSource::description() const {
    std::string text = reader_->name() + (direct_ ? ", O_DIRECT" : ", buffered");
    if (!fallback_.empty()) text += " (io_uring unavailable: " + fallback_ + ")";
    return text;
}

std::string FileByteSource::describe(uint32_t file) const {
    return file < paths_.size() ? paths_[file].string() : "checkpoint file " + std::to_string(file);
}

void FileByteSource::read(const FileRange& range, std::byte* buffer) {
    if (range.file >= descriptors_.size())
        throw Error("internal error: no checkpoint file " + std::to_string(range.file));
    const int fd = descriptors_[range.file];
    const auto& path = paths_[range.file];
    struct stat status {};
    if (::fstat(fd, &status) != 0 || static_cast<uint64_t>(status.st_size) != sizes_[range.file])
        throw Error(path.string() + " changed under the engine: it was " +
                    std::to_string(sizes_[range.file]) + " bytes when the model was opened and is " +
                    std::to_string(status.st_size) + " now (re-exported or truncated?); reopen the model");
    const AlignedSpan span = alignedSpan(range);
    const SpanOutcome outcome =
        reader_->read(fd, buffer, span.fileOffset, span.bufferBytes, span.dataOffset + range.length);
    if (outcome.error != 0)
        throw Error("reading " + rangeText(path, range) + " failed: " + std::strerror(outcome.error));
    if (outcome.ended)
        throw Error("reading " + rangeText(path, range) + " failed: the file ends after " +
                    std::to_string(span.fileOffset + outcome.endedAt) +
                    " bytes (truncated under the engine?)");
}

} // namespace sida::detail
