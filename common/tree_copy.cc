#include "common/tree_copy.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/posix_status.h"
#include "common/status_macros.h"

namespace tempa {

absl::StatusOr<std::vector<std::string>> ListDirectoryNames(int fd, const std::string& path) {
  int list_fd = ::dup(fd);
  if (list_fd < 0) return ErrnoStatus(errno, "dup", path);
  DIR* dir = ::fdopendir(list_fd);
  if (dir == nullptr) {
    int err = errno;
    ::close(list_fd);
    return ErrnoStatus(err, "read directory", path);
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* d = ::readdir(dir)) {
    std::string name = d->d_name;
    if (name != "." && name != "..") names.push_back(std::move(name));
    errno = 0;
  }
  int err = errno;
  ::closedir(dir);
  if (err != 0) return ErrnoStatus(err, "read directory", path);
  std::sort(names.begin(), names.end());
  return names;
}

namespace {

absl::Status CopyBytes(int in, int out, const std::string& from, const std::string& to) {
  char buffer[1 << 16];
  while (true) {
    ssize_t n = ::read(in, buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read", from);
    if (n == 0) return absl::OkStatus();
    for (ssize_t done = 0; done < n;) {
      ssize_t w = ::write(out, buffer + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return ErrnoStatus(errno, "write", to);
      done += w;
    }
  }
}

struct Copier {
  const TreeCopyOptions& options;
  // Set when entries must be handed to the parent directory's owner.
  std::optional<std::pair<uid_t, gid_t>> owner;

  absl::Status Own(int fd, const std::string& path) {
    if (owner && ::fchown(fd, owner->first, owner->second) != 0) {
      return ErrnoStatus(errno, "chown", path);
    }
    return absl::OkStatus();
  }

  bool Excluded(const std::string& name) const {
    return std::find(options.exclude_names.begin(), options.exclude_names.end(), name) !=
           options.exclude_names.end();
  }

  absl::Status CopyFile(int src_dir, int dst_dir, const std::string& name, const struct stat& st,
                        const std::string& from, const std::string& to) {
    UniqueFd in(::openat(src_dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NONBLOCK | O_CLOEXEC));
    if (!in.valid()) return ErrnoStatus(errno, "open", from);
    struct stat now;
    if (::fstat(in.get(), &now) != 0) return ErrnoStatus(errno, "stat", from);
    if (!S_ISREG(now.st_mode)) {
      return absl::InvalidArgumentError(absl::StrCat(from, " changed type while being copied"));
    }
    mode_t mode = (st.st_mode & 0111) != 0 ? 0755 : 0644;
    UniqueFd out(::openat(dst_dir, name.c_str(),
                          O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, mode));
    if (!out.valid()) return ErrnoStatus(errno, "create", to);
    RETURN_IF_ERROR(Own(out.get(), to));
    RETURN_IF_ERROR(CopyBytes(in.get(), out.get(), from, to));
    if (::fchmod(out.get(), mode) != 0) return ErrnoStatus(errno, "chmod", to);
    if (options.keep_mtimes) {
      struct timespec times[2] = {now.st_atim, now.st_mtim};
      if (::futimens(out.get(), times) != 0) return ErrnoStatus(errno, "set times of", to);
    }
    return absl::OkStatus();
  }

  absl::Status CopySymlink(int src_dir, int dst_dir, const std::string& name, const struct stat& st,
                           const std::string& from, const std::string& to) {
    std::string target(static_cast<size_t>(std::max<off_t>(st.st_size, 0)) + 1, '\0');
    ssize_t n = ::readlinkat(src_dir, name.c_str(), target.data(), target.size());
    if (n < 0) return ErrnoStatus(errno, "readlink", from);
    if (static_cast<size_t>(n) >= target.size()) {
      return absl::InvalidArgumentError(absl::StrCat(from, " changed while being copied"));
    }
    target.resize(static_cast<size_t>(n));
    if (::symlinkat(target.c_str(), dst_dir, name.c_str()) != 0) {
      return ErrnoStatus(errno, "create symlink", to);
    }
    if (owner &&
        ::fchownat(dst_dir, name.c_str(), owner->first, owner->second, AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoStatus(errno, "chown", to);
    }
    if (options.keep_mtimes) {
      struct timespec times[2] = {st.st_atim, st.st_mtim};
      ::utimensat(dst_dir, name.c_str(), times, AT_SYMLINK_NOFOLLOW);
    }
    return absl::OkStatus();
  }

  // Copies the entries of `src_dir` into the (new, empty) directory `dst_dir`.
  absl::Status CopyEntries(int src_dir, int dst_dir, const std::string& from, const std::string& to,
                           const std::string& rel = "", int depth = 0) {
    if (depth > kMaxTreeDepth) {
      return absl::InvalidArgumentError(absl::StrCat(from, " is nested more than ", kMaxTreeDepth,
                                                     " directories deep; not copied"));
    }
    ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirectoryNames(src_dir, from));
    for (const std::string& name : names) {
      if (Excluded(name)) continue;
      std::string child_from = absl::StrCat(from, "/", name);
      std::string child_to = absl::StrCat(to, "/", name);
      struct stat st;
      if (::fstatat(src_dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
        return ErrnoStatus(errno, "stat", child_from);
      }
      const std::string child_rel = rel.empty() ? name : absl::StrCat(rel, "/", name);
      if (options.skip && options.skip(child_rel, S_ISDIR(st.st_mode))) continue;
      if (S_ISREG(st.st_mode)) {
        RETURN_IF_ERROR(CopyFile(src_dir, dst_dir, name, st, child_from, child_to));
      } else if (S_ISLNK(st.st_mode)) {
        RETURN_IF_ERROR(CopySymlink(src_dir, dst_dir, name, st, child_from, child_to));
      } else if (S_ISDIR(st.st_mode)) {
        UniqueFd sub_src(
            ::openat(src_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub_src.valid()) return ErrnoStatus(errno, "open directory", child_from);
        if (::mkdirat(dst_dir, name.c_str(), 0700) != 0) {
          return ErrnoStatus(errno, "create directory", child_to);
        }
        UniqueFd sub_dst(
            ::openat(dst_dir, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
        if (!sub_dst.valid()) return ErrnoStatus(errno, "open directory", child_to);
        RETURN_IF_ERROR(Own(sub_dst.get(), child_to));
        RETURN_IF_ERROR(
            CopyEntries(sub_src.get(), sub_dst.get(), child_from, child_to, child_rel, depth + 1));
        RETURN_IF_ERROR(FinishDirectory(sub_dst.get(), st, child_to));
      }
      // Sockets, fifos and devices have no place in a source tree: skipped.
    }
    return absl::OkStatus();
  }

  absl::Status FinishDirectory(int fd, const struct stat& st, const std::string& path) {
    if (::fchmod(fd, 0755) != 0) return ErrnoStatus(errno, "chmod", path);
    if (options.keep_mtimes) {
      struct timespec times[2] = {st.st_atim, st.st_mtim};
      if (::futimens(fd, times) != 0) return ErrnoStatus(errno, "set times of", path);
    }
    return absl::OkStatus();
  }
};

// Removes what is in the open directory `fd` down to `budget` levels; a directory below that is
// renamed into `top_fd` as a fresh name added to `hoisted`, for the caller to remove next.
absl::Status RemoveEntries(int fd, const std::string& path, int budget, int top_fd,
                           std::vector<std::string>& hoisted) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirectoryNames(fd, path));
  for (const std::string& child : names) {
    std::string child_path = absl::StrCat(path, "/", child);
    if (::unlinkat(fd, child.c_str(), 0) == 0 || errno == ENOENT) continue;
    if (errno != EISDIR && errno != EPERM) return ErrnoStatus(errno, "remove", child_path);
    if (budget == 0) {
      std::string moved = absl::StrCat(".tempa-deep-", ::getpid(), "-", hoisted.size());
      if (::renameat(fd, child.c_str(), top_fd, moved.c_str()) != 0) {
        return ErrnoStatus(errno, "move up to remove", child_path);
      }
      hoisted.push_back(moved);
      continue;
    }
    UniqueFd sub(::openat(fd, child.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!sub.valid()) return ErrnoStatus(errno, "open directory", child_path);
    // The build may have left a directory its owner cannot list or enter.
    ::fchmod(sub.get(), 0700);
    RETURN_IF_ERROR(RemoveEntries(sub.get(), child_path, budget - 1, top_fd, hoisted));
    sub.Reset();
    if (::unlinkat(fd, child.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, "remove directory", child_path);
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status RemoveTreeAt(int parent_fd, const std::string& name, const std::string& path) {
  std::vector<std::string> pending = {name};
  std::vector<std::string> hoisted;
  while (!pending.empty()) {
    std::string next = pending.back();
    pending.pop_back();
    std::string where = next == name ? path : absl::StrCat(path, " (part of it: ", next, ")");
    if (::unlinkat(parent_fd, next.c_str(), 0) == 0 || errno == ENOENT) continue;
    if (errno != EISDIR && errno != EPERM) return ErrnoStatus(errno, "remove", where);
    UniqueFd fd(::openat(parent_fd, next.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return ErrnoStatus(errno, "open directory", where);
    ::fchmod(fd.get(), 0700);
    RETURN_IF_ERROR(RemoveEntries(fd.get(), where, kMaxTreeDepth, parent_fd, hoisted));
    fd.Reset();
    if (::unlinkat(parent_fd, next.c_str(), AT_REMOVEDIR) != 0 && errno != ENOENT) {
      return ErrnoStatus(errno, "remove directory", where);
    }
    pending.insert(pending.end(), hoisted.begin(), hoisted.end());
    hoisted.clear();
  }
  return absl::OkStatus();
}

absl::Status CopyTree(const std::string& from, const std::string& to,
                      const TreeCopyOptions& options) {
  UniqueFd src(::open(from.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!src.valid()) return ErrnoStatus(errno, "open directory", from);
  struct stat st;
  if (::fstat(src.get(), &st) != 0) return ErrnoStatus(errno, "stat", from);
  if (::mkdir(to.c_str(), 0700) != 0) return ErrnoStatus(errno, "create directory", to);
  UniqueFd dst(::open(to.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!dst.valid()) return ErrnoStatus(errno, "open directory", to);
  Copier copier{options, std::nullopt};
  if (options.owner_from_parent) {
    UniqueFd parent(::openat(dst.get(), "..", O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    struct stat parent_st;
    if (!parent.valid() || ::fstat(parent.get(), &parent_st) != 0) {
      return ErrnoStatus(errno, "stat the parent of", to);
    }
    if (parent_st.st_uid != ::geteuid() || parent_st.st_gid != ::getegid()) {
      copier.owner = std::make_pair(parent_st.st_uid, parent_st.st_gid);
    }
    RETURN_IF_ERROR(copier.Own(dst.get(), to));
  }
  RETURN_IF_ERROR(copier.CopyEntries(src.get(), dst.get(), from, to));
  return copier.FinishDirectory(dst.get(), st, to);
}

}  // namespace tempa
