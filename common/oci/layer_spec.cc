#include "common/oci/layer_spec.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/beneath.h"
#include "common/status_macros.h"
#include "common/tree_copy.h"

namespace tempa::oci {
namespace {

// Symlink hops followed while checking one link before it counts as a loop (Linux's own limit).
constexpr int kMaxSymlinkHops = 40;

std::string JoinPath(absl::string_view a, absl::string_view b) {
  if (a.empty()) return std::string(b);
  if (b.empty()) return std::string(a);
  return absl::StrCat(a, "/", b);
}

absl::Status ErrnoError(absl::string_view what, const std::string& path) {
  return ErrnoStatus(errno, what, path);
}

// The target of the symlink `name` in the open directory `dir_fd`.
absl::StatusOr<std::string> ReadLinkAt(int dir_fd, const std::string& name,
                                       const std::string& path) {
  std::string target(256, '\0');
  while (true) {
    ssize_t n = readlinkat(dir_fd, name.c_str(), target.data(), target.size());
    if (n < 0) return ErrnoError("readlink", path);
    if (static_cast<size_t>(n) < target.size()) {
      target.resize(static_cast<size_t>(n));
      return target;
    }
    target.resize(target.size() * 2);
  }
}

// When `rel` (symlink-free up to its last component, relative to `root_fd`) names a symlink,
// its target; nullopt when it is anything else or does not exist.
absl::StatusOr<std::optional<std::string>> SymlinkBeneath(int root_fd, const std::string& rel,
                                                          const std::string& root) {
  size_t slash = rel.rfind('/');
  std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
  UniqueFd parent;
  int at = root_fd;
  if (slash != std::string::npos) {
    absl::StatusOr<UniqueFd> opened =
        OpenBeneath(root_fd, rel.substr(0, slash), O_PATH | O_DIRECTORY, root);
    if (!opened.ok()) return std::optional<std::string>();  // missing or not a directory
    parent = *std::move(opened);
    at = parent.get();
  }
  struct stat st;
  if (fstatat(at, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 || !S_ISLNK(st.st_mode)) {
    return std::optional<std::string>();
  }
  ASSIGN_OR_RETURN(std::string target, ReadLinkAt(at, name, JoinPath(root, rel)));
  return std::optional<std::string>(std::move(target));
}

// Checks that the symlink at `rel_link` (relative to the root) with `target` stays inside the
// tree. Resolution is lexical against the link's directory, except that every component that
// is itself a symlink on disk is followed (so "a -> ../x" is refused when "x" is a link to "/").
// Components that do not exist are taken as plain names: a dangling link inside the tree is
// harmless. The tree is hostile input, so loops are refused too.
absl::Status CheckSymlink(int root_fd, const std::string& root, const std::string& rel_link,
                          const std::string& target) {
  auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("symlink ", rel_link, " -> ", target, " ", why,
                     "; only relative links inside the tree can go into a layer"));
  };
  if (target.empty()) return refuse("is empty");
  if (target[0] == '/') return refuse("is absolute");

  std::vector<std::string> resolved = absl::StrSplit(rel_link, '/');
  resolved.pop_back();  // the link's own name: resolve from its directory
  std::deque<std::string> pending = absl::StrSplit(target, '/');
  int hops = 0;
  while (!pending.empty()) {
    std::string part = std::move(pending.front());
    pending.pop_front();
    if (part.empty() || part == ".") continue;
    if (part == "..") {
      if (resolved.empty()) return refuse("resolves outside the source tree");
      resolved.pop_back();
      continue;
    }
    resolved.push_back(part);
    ASSIGN_OR_RETURN(std::optional<std::string> next,
                     SymlinkBeneath(root_fd, absl::StrJoin(resolved, "/"), root));
    if (!next) continue;
    if (++hops > kMaxSymlinkHops) return refuse("loops (too many levels of symlinks)");
    if (next->empty() || (*next)[0] == '/') {
      return refuse(absl::StrCat("passes through ", absl::StrJoin(resolved, "/"), " -> ", *next,
                                 ", which is absolute"));
    }
    resolved.pop_back();
    std::vector<std::string> parts = absl::StrSplit(*next, '/');
    pending.insert(pending.begin(), parts.begin(), parts.end());
  }
  return absl::OkStatus();
}

struct Walker {
  const std::string& root;
  int root_fd;
  const TreeOptions& options;
  LayerSpec& spec;
  // (dev, inode) → image paths of regular files with more than one link.
  std::map<std::pair<dev_t, ino_t>, std::vector<std::string>> links;

  bool Excluded(absl::string_view name) const {
    if (std::find(options.exclude_names.begin(), options.exclude_names.end(), name) !=
        options.exclude_names.end()) {
      return true;
    }
    for (const std::string& suffix : options.exclude_suffixes) {
      if (absl::EndsWith(name, suffix)) return true;
    }
    return false;
  }

  // Walks the open directory `dir_fd` (at `rel` under the root), never following a link.
  absl::Status WalkDir(int dir_fd, const std::string& rel, const std::string& dest) {
    std::string dir_path = JoinPath(root, rel);
    if (std::count(rel.begin(), rel.end(), '/') >= kMaxTreeDepth) {
      return absl::InvalidArgumentError(
          absl::StrCat(dir_path, " is nested more than ", kMaxTreeDepth,
                       " directories deep; flatten it, no image needs such a tree"));
    }
    int list_fd = dup(dir_fd);
    if (list_fd < 0) return ErrnoError("dup", dir_path);
    DIR* dir = fdopendir(list_fd);
    if (dir == nullptr) {
      close(list_fd);
      return ErrnoError("open directory", dir_path);
    }
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* d = readdir(dir)) {
      absl::string_view name = d->d_name;
      if (name != "." && name != ".." && !Excluded(name)) names.emplace_back(name);
      errno = 0;
    }
    int read_errno = errno;
    closedir(dir);
    if (read_errno != 0) {
      errno = read_errno;
      return ErrnoError("read directory", dir_path);
    }
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      RETURN_IF_ERROR(Visit(dir_fd, name, JoinPath(rel, name), JoinPath(dest, name)));
    }
    return absl::OkStatus();
  }

  absl::Status Visit(int dir_fd, const std::string& name, const std::string& rel,
                     const std::string& dest) {
    std::string path = JoinPath(root, rel);
    struct stat st;
    if (fstatat(dir_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
      return ErrnoError("lstat", path);
    }
    if (options.skip && options.skip(rel, S_ISDIR(st.st_mode))) return absl::OkStatus();
    LayerEntry entry;
    entry.path = dest;
    if (S_ISDIR(st.st_mode)) {
      UniqueFd sub(openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
      if (!sub.valid()) return ErrnoError("open directory", path);
      entry.type = LayerEntry::Type::kDirectory;
      entry.mode = 0755;
      spec.Add(std::move(entry));
      return WalkDir(sub.get(), rel, dest);
    }
    if (S_ISREG(st.st_mode)) {
      entry.type = LayerEntry::Type::kFile;
      entry.mode = (st.st_mode & 0111) != 0 ? 0755 : 0644;
      entry.source_root = root;
      entry.source_path = rel;
      if (st.st_nlink > 1) links[{st.st_dev, st.st_ino}].push_back(dest);
      spec.Add(std::move(entry));
      return absl::OkStatus();
    }
    if (S_ISLNK(st.st_mode)) {
      ASSIGN_OR_RETURN(std::string target, ReadLinkAt(dir_fd, name, path));
      if (!options.allow_links_out) RETURN_IF_ERROR(CheckSymlink(root_fd, root, rel, target));
      entry.type = LayerEntry::Type::kSymlink;
      entry.mode = 0777;
      entry.link_target = std::move(target);
      spec.Add(std::move(entry));
      return absl::OkStatus();
    }
    const char* kind = S_ISFIFO(st.st_mode)   ? "a fifo"
                       : S_ISSOCK(st.st_mode) ? "a socket"
                       : S_ISCHR(st.st_mode)  ? "a character device"
                       : S_ISBLK(st.st_mode)  ? "a block device"
                                              : "of an unknown file type";
    return absl::InvalidArgumentError(absl::StrCat(
        path, " is ", kind, "; only files, directories and symlinks can go into a layer"));
  }
};

}  // namespace

void LayerSpec::Add(LayerEntry entry) {
  auto [it, inserted] = index_.try_emplace(entry.path, entries_.size());
  if (inserted) {
    entries_.push_back(std::move(entry));
  } else {
    entries_[it->second] = std::move(entry);
  }
}

absl::Status LayerSpec::AddTree(const std::string& src_root, const std::string& dest_prefix,
                                const TreeOptions& options) {
  // The root itself is the caller's (a source root or a sandbox mount point): resolved once,
  // so every entry below names the same directory however the caller spelled it.
  char* resolved = realpath(src_root.c_str(), nullptr);
  if (resolved == nullptr) return ErrnoError("resolve", src_root);
  std::string root(resolved);
  free(resolved);
  absl::StatusOr<UniqueFd> root_fd = OpenRootDirectory(root);
  if (!root_fd.ok()) {
    return Annotate(root_fd.status(), absl::StrCat("add tree ", src_root));
  }
  std::string dest = dest_prefix;
  while (!dest.empty() && dest.back() == '/') dest.pop_back();
  while (!dest.empty() && dest.front() == '/') dest.erase(0, 1);
  if (!dest.empty()) Add(LayerEntry{dest, LayerEntry::Type::kDirectory, 0755, "", {}, ""});

  Walker walker{root, root_fd->get(), options, *this, {}};
  RETURN_IF_ERROR(
      Annotate(walker.WalkDir(root_fd->get(), "", dest), absl::StrCat("add tree ", src_root)));

  // Hard links: the first path in byte order carries the data and the others link to it, so
  // the target always precedes its links in the sorted tar. Links to files outside the tree (or
  // excluded) have a single member here and stay plain files.
  for (auto& [key, paths] : walker.links) {
    if (paths.size() < 2) continue;
    std::sort(paths.begin(), paths.end());
    for (size_t i = 1; i < paths.size(); ++i) {
      LayerEntry& entry = entries_[index_.at(paths[i])];
      entry.type = LayerEntry::Type::kHardlink;
      entry.source_path.clear();
      entry.source_root.clear();
      entry.link_target = paths[0];
    }
  }
  return absl::OkStatus();
}

}  // namespace tempa::oci

namespace tempa::oci {

absl::StatusOr<UniqueFd> OpenEntrySource(const LayerEntry& entry, int64_t* size) {
  struct stat st;
  if (!entry.source_root.empty()) {
    absl::StatusOr<UniqueFd> fd = OpenRegularFileBeneath(entry.source_root, entry.source_path, &st);
    if (!fd.ok()) return Annotate(fd.status(), absl::StrCat("layer entry ", entry.path));
    *size = static_cast<int64_t>(st.st_size);
    return fd;
  }
  UniqueFd fd(open(entry.source_path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK));
  if (!fd.valid()) {
    return Annotate(ErrnoError("open", entry.source_path),
                    absl::StrCat("layer entry ", entry.path));
  }
  if (fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat("layer entry ", entry.path, ": ",
                                                   entry.source_path, " is not a regular file"));
  }
  fcntl(fd.get(), F_SETFL, fcntl(fd.get(), F_GETFL) & ~O_NONBLOCK);
  *size = static_cast<int64_t>(st.st_size);
  return fd;
}

}  // namespace tempa::oci
