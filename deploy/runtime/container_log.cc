#include "deploy/runtime/container_log.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>

#include "absl/strings/str_cat.h"

namespace tempa::deploy {
namespace {

absl::StatusOr<UniqueFd> OpenExistingLog(const std::string& path, int flags) {
  UniqueFd fd(open(path.c_str(), flags | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return ErrnoStatus(errno, "open log", path);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "stat log", path);
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("log ", path, " is not a regular file; remove it"));
  }
  return fd;
}

absl::StatusOr<std::string> ReadAt(int fd, int64_t offset, int64_t size, const std::string& path) {
  std::string data(static_cast<size_t>(size), '\0');
  int64_t done = 0;
  while (done < size) {
    ssize_t n = pread(fd, data.data() + done, static_cast<size_t>(size - done), offset + done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read log", path);
    if (n == 0) break;
    done += n;
  }
  data.resize(static_cast<size_t>(done));
  return data;
}

}  // namespace

absl::StatusOr<UniqueFd> OpenLogForAppend(const std::string& path) {
  UniqueFd fd(open(path.c_str(),
                   O_WRONLY | O_APPEND | O_CREAT | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK, 0600));
  if (!fd.valid()) return ErrnoStatus(errno, "open log", path);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "stat log", path);
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(
        absl::StrCat("log ", path, " is not a regular file; remove it"));
  }
  if (st.st_uid != geteuid() && fchown(fd.get(), geteuid(), getegid()) != 0) {
    return ErrnoStatus(errno, "chown log", path);
  }
  if ((st.st_mode & 07777) != 0600 && fchmod(fd.get(), 0600) != 0) {
    return ErrnoStatus(errno, "chmod log", path);
  }
  // The container writes through this descriptor; it must block like a normal file.
  int flags = fcntl(fd.get(), F_GETFL);
  if (flags < 0 || fcntl(fd.get(), F_SETFL, flags & ~O_NONBLOCK) != 0) {
    return ErrnoStatus(errno, "fcntl log", path);
  }
  return fd;
}

absl::Status TruncateLogIfLarger(const std::string& path, int64_t max_bytes, int64_t keep_bytes) {
  absl::StatusOr<UniqueFd> fd = OpenExistingLog(path, O_RDWR | O_APPEND);
  if (!fd.ok()) return absl::IsNotFound(fd.status()) ? absl::OkStatus() : fd.status();
  struct stat st;
  if (fstat(fd->get(), &st) != 0) return ErrnoStatus(errno, "stat log", path);
  if (st.st_size <= max_bytes) return absl::OkStatus();
  keep_bytes = std::min<int64_t>(keep_bytes, st.st_size);
  absl::StatusOr<std::string> tail = ReadAt(fd->get(), st.st_size - keep_bytes, keep_bytes, path);
  if (!tail.ok()) return tail.status();
  size_t newline = tail->find('\n');
  std::string kept = absl::StrCat("[log truncated by tempa]\n",
                                  newline == std::string::npos ? "" : tail->substr(newline + 1));
  if (ftruncate(fd->get(), 0) != 0) return ErrnoStatus(errno, "truncate log", path);
  size_t done = 0;
  while (done < kept.size()) {
    ssize_t n = write(fd->get(), kept.data() + done, kept.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "write log", path);
    done += static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadLogTail(const std::string& path, int lines, int64_t max_bytes) {
  if (lines <= 0) return std::string();
  absl::StatusOr<UniqueFd> fd = OpenExistingLog(path, O_RDONLY);
  if (!fd.ok())
    return absl::IsNotFound(fd.status()) ? absl::StatusOr<std::string>("") : fd.status();
  struct stat st;
  if (fstat(fd->get(), &st) != 0) return ErrnoStatus(errno, "stat log", path);
  int64_t size = std::min<int64_t>(st.st_size, max_bytes);
  absl::StatusOr<std::string> data = ReadAt(fd->get(), st.st_size - size, size, path);
  if (!data.ok()) return data.status();
  // Walk back over `lines` line ends (a final newline ends the last line, it starts none).
  size_t end = data->size();
  if (end > 0 && (*data)[end - 1] == '\n') --end;
  size_t start = end;
  int found = 0;
  while (start > 0) {
    if ((*data)[start - 1] == '\n' && ++found == lines) break;
    --start;
  }
  return data->substr(start);
}

}  // namespace tempa::deploy
