#include "common/crypto/private_file.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/posix_status.h"

namespace tempa::crypto {

absl::StatusOr<std::string> ReadPrivateFile(const std::string& path,
                                            const PrivateFileRules& rules) {
  // O_NONBLOCK: opening a FIFO planted at the path must not hang; fstat refuses it below.
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd.valid()) {
    int err = errno;
    if (err == ELOOP) {
      return absl::InvalidArgumentError(
          absl::StrCat(rules.what, " ", path,
                       " is a symbolic link: give the path of the file itself (a link could be "
                       "redirected to another file)"));
    }
    return ErrnoStatus(err, absl::StrCat("open ", rules.what), path);
  }
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "fstat", path);
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(
        absl::StrCat(rules.what, " ", path, " is not a regular file"));
  }
  uid_t me = ::geteuid();
  if (st.st_uid != me) {
    return absl::PermissionDeniedError(absl::StrFormat(
        "%s %s is owned by uid %d, not by this process's user (uid %d), who alone may hold it: "
        "chown %d %s",
        rules.what, path, st.st_uid, me, me, path));
  }
  mode_t forbidden = rules.allow_group_read ? (S_IWGRP | S_IXGRP | S_IRWXO) : (S_IRWXG | S_IRWXO);
  if ((st.st_mode & forbidden) != 0) {
    return absl::PermissionDeniedError(
        absl::StrFormat("%s %s is open to %s (mode %04o): chmod %s %s", rules.what, path,
                        rules.allow_group_read ? "others or group writes" : "group or others",
                        st.st_mode & 07777, rules.allow_group_read ? "640" : "600", path));
  }
  if (static_cast<uint64_t>(st.st_size) > rules.max_bytes) {
    return absl::InvalidArgumentError(
        absl::StrFormat("%s %s is %d bytes, more than the %d a %s may hold", rules.what, path,
                        st.st_size, rules.max_bytes, rules.what));
  }
  std::string contents;
  contents.resize(rules.max_bytes + 1);
  size_t used = 0;
  while (used < contents.size()) {
    ssize_t n = ::read(fd.get(), contents.data() + used, contents.size() - used);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "read", path);
    }
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  if (used > rules.max_bytes) {
    return absl::InvalidArgumentError(absl::StrFormat("%s %s grew past %d bytes while being read",
                                                      rules.what, path, rules.max_bytes));
  }
  contents.resize(used);
  return contents;
}

}  // namespace tempa::crypto
