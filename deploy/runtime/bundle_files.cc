#include "deploy/runtime/bundle_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "common/posix_status.h"

namespace tempa::deploy {

absl::Status EnsurePrivateDirectory(const std::string& path) {
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat("directory \"", path, "\" is not absolute"));
  }
  size_t slash = path.find_last_of('/');
  if (slash > 0) {
    std::string parent = path.substr(0, slash);
    struct stat st;
    if (lstat(parent.c_str(), &st) != 0) {
      if (absl::Status made = EnsurePrivateDirectory(parent); !made.ok()) return made;
    }
  }
  if (mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) return ErrnoStatus(errno, "mkdir", path);
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, "open directory", path);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "stat", path);
  if (st.st_uid != geteuid()) {
    return absl::PermissionDeniedError(absl::StrCat("directory ", path, " is owned by uid ",
                                                    st.st_uid, ", not by tempa; remove it"));
  }
  if ((st.st_mode & 07777) != 0700 && fchmod(fd.get(), 0700) != 0) {
    return ErrnoStatus(errno, "chmod", path);
  }
  return absl::OkStatus();
}

absl::Status WritePrivateFile(const std::string& path, const std::string& contents) {
  std::string temp = absl::StrCat(path, ".tmp");
  unlink(temp.c_str());
  UniqueFd fd(open(temp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus(errno, "create", temp);
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = write(fd.get(), contents.data() + done, contents.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "write", temp);
    done += static_cast<size_t>(n);
  }
  if (fsync(fd.get()) != 0) return ErrnoStatus(errno, "fsync", temp);
  if (rename(temp.c_str(), path.c_str()) != 0) return ErrnoStatus(errno, "rename to", path);
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadPrivateFile(const std::string& path, size_t max_bytes) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) return ErrnoStatus(errno, "open", path);
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "stat", path);
  if (!S_ISREG(st.st_mode)) {
    return absl::FailedPreconditionError(absl::StrCat(path, " is not a regular file"));
  }
  std::string data;
  char buf[8192];
  while (data.size() < max_bytes) {
    ssize_t n = read(fd.get(), buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read", path);
    if (n == 0) break;
    data.append(buf, static_cast<size_t>(n));
  }
  if (data.size() > max_bytes) data.resize(max_bytes);
  return data;
}

}  // namespace tempa::deploy
