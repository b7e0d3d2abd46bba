#include "common/oci/byte_sink.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"

namespace tempa::oci {

absl::StatusOr<std::unique_ptr<FileSink>> FileSink::Create(const std::string& path) {
  int fd = open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("create ", path, ": ", strerror(errno)));
  }
  return std::unique_ptr<FileSink>(new FileSink(path, fd));
}

FileSink::~FileSink() { (void)Close(); }

absl::Status FileSink::Write(absl::string_view data) {
  while (!data.empty()) {
    ssize_t n = write(fd_, data.data(), data.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return absl::InternalError(absl::StrCat("write ", path_, ": ", strerror(errno)));
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::Status FileSink::Close() {
  if (fd_ < 0) return absl::OkStatus();
  int rc = close(fd_);
  fd_ = -1;
  if (rc != 0) return absl::InternalError(absl::StrCat("close ", path_, ": ", strerror(errno)));
  return absl::OkStatus();
}

}  // namespace tempa::oci
