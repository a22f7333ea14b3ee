// SPDX-License-Identifier: MIT
#include "json_fields.h"

#include <cerrno>
#include <cstring>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace sida::detail {

nlohmann::json parseJsonObject(const std::string& text, const std::string& source) {
    nlohmann::json document;
    try {
        document = nlohmann::json::parse(text);
    } catch (const nlohmann::json::exception& e) {
        throw Error(source + ": not valid JSON (" + e.what() + ")");
    }
    if (!document.is_object()) throw Error(source + ": not a JSON object");
    return document;
}

std::string readTextFile(const std::string& path) {
    // Opened without blocking and checked through the descriptor: a FIFO would wait forever for a
    // writer and a device such as /dev/zero never ends, and a check by name before opening could
    // be raced.
    const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) throw Error("cannot read '" + path + "': " + std::strerror(errno));
    struct stat st {};
    if (::fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        ::close(fd);
        throw Error("'" + path + "' is not a regular file");
    }
    // A sparse file costs nothing on disk or in an archive, but reading one of 100 GB exhausts
    // memory; real config, index and predictor files are kilobytes.
    const std::string tooLarge = "'" + path + "' is larger than the " + std::to_string(kMaxTextFileBytes) +
                                 " bytes a model folder's JSON file may have";
    if (static_cast<uint64_t>(st.st_size) > kMaxTextFileBytes) {
        ::close(fd);
        throw Error(tooLarge);
    }
    std::string text;
    char buffer[65536];
    // The size limit holds while reading too: the file may grow after fstat().
    while (text.size() <= kMaxTextFileBytes) {
        const ssize_t n = ::read(fd, buffer, sizeof buffer);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0) {
            const int err = errno;
            ::close(fd);
            throw Error("cannot read '" + path + "': " + std::strerror(err));
        }
        if (n == 0) break;
        text.append(buffer, static_cast<size_t>(n));
    }
    ::close(fd);
    if (text.size() > kMaxTextFileBytes) throw Error(tooLarge);
    return text;
}

} // namespace sida::detail
