#include "deploy/edge/private_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <random>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace tempa::deploy {
namespace {

absl::StatusOr<std::string> ReadAll(int fd, const std::string& path, size_t max_bytes) {
  std::string out;
  char buf[16384];
  while (true) {
    ssize_t n = read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
    if (out.size() > max_bytes) {
      return absl::FailedPreconditionError(
          absl::StrCat(path, " is larger than ", max_bytes, " bytes: is it the right file?"));
    }
  }
  return out;
}

}  // namespace

absl::StatusOr<UniqueFd> OpenPrivateDir(const std::string& path, mode_t mode) {
  if (mkdir(path.c_str(), mode) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "mkdir", path);
  }
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    return Annotate(ErrnoStatus(errno, "open directory", path),
                    "(a symbolic link or a file is in the way: remove it)");
  }
  struct stat st;
  if (fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "stat", path);
  if (st.st_uid != geteuid()) {
    return absl::PermissionDeniedError(absl::StrCat(
        path, " is owned by uid ", st.st_uid, ", not by us (uid ", geteuid(),
        "): another user could change what the edge serves; remove it or pick another dir"));
  }
  if ((st.st_mode & 07777) != mode && fchmod(fd.get(), mode) != 0) {
    return ErrnoStatus(errno, "chmod", path);
  }
  return fd;
}

absl::Status WriteFileAtomically(int dir_fd, const std::string& dir_path, const std::string& name,
                                 const std::string& contents, mode_t mode) {
  const std::string path = absl::StrCat(dir_path, "/", name);
  std::string tmp_name = absl::StrCat(".", name, ".tmp", std::random_device()());
  UniqueFd fd(openat(dir_fd, tmp_name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC,
                     mode & 0600));
  if (!fd.valid()) return ErrnoStatus(errno, "create", absl::StrCat(dir_path, "/", tmp_name));
  auto fail = [&](absl::Status status) {
    unlinkat(dir_fd, tmp_name.c_str(), 0);
    return status;
  };
  size_t done = 0;
  while (done < contents.size()) {
    ssize_t n = write(fd.get(), contents.data() + done, contents.size() - done);
    if (n < 0) {
      if (errno == EINTR) continue;
      return fail(ErrnoStatus(errno, "write", path));
    }
    done += static_cast<size_t>(n);
  }
  if (fchmod(fd.get(), mode) != 0) return fail(ErrnoStatus(errno, "chmod", path));
  if (fsync(fd.get()) != 0) return fail(ErrnoStatus(errno, "fsync", path));
  if (renameat(dir_fd, tmp_name.c_str(), dir_fd, name.c_str()) != 0) {
    return fail(ErrnoStatus(errno, "rename into place", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadFileBeneath(int dir_fd, const std::string& dir_path,
                                            const std::string& name, size_t max_bytes) {
  const std::string path = absl::StrCat(dir_path, "/", name);
  UniqueFd fd(openat(dir_fd, name.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, "open", path);
  return ReadAll(fd.get(), path, max_bytes);
}

absl::StatusOr<std::string> ReadFileAt(const std::string& path, size_t max_bytes) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, "open", path);
  return ReadAll(fd.get(), path, max_bytes);
}

}  // namespace tempa::deploy
