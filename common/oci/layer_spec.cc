#include "common/oci/layer_spec.h"

#include <dirent.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

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
  int err = errno;
  std::string message = absl::StrCat(what, " ", path, ": ", strerror(err));
  if (err == ENOENT) return absl::NotFoundError(message);
  if (err == EACCES || err == EPERM) return absl::PermissionDeniedError(message);
  return absl::InternalError(message);
}

absl::StatusOr<std::string> ReadLink(const std::string& path) {
  std::string target(256, '\0');
  while (true) {
    ssize_t n = readlink(path.c_str(), target.data(), target.size());
    if (n < 0) return ErrnoError("readlink", path);
    if (static_cast<size_t>(n) < target.size()) {
      target.resize(static_cast<size_t>(n));
      return target;
    }
    target.resize(target.size() * 2);
  }
}

// Checks that the symlink at `rel_link` (relative to `root`) with `target` stays inside the
// tree. Resolution is lexical against the link's directory, except that every component that
// is itself a symlink on disk is followed (so "a -> ../x" is refused when "x" is a link to "/").
// Components that do not exist are taken as plain names: a dangling link inside the tree is
// harmless. The tree is hostile input, so loops are refused too.
absl::Status CheckSymlink(const std::string& root, const std::string& rel_link,
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
    std::string on_disk = JoinPath(root, absl::StrJoin(resolved, "/"));
    struct stat st;
    if (lstat(on_disk.c_str(), &st) != 0 || !S_ISLNK(st.st_mode)) continue;
    if (++hops > kMaxSymlinkHops) return refuse("loops (too many levels of symlinks)");
    ASSIGN_OR_RETURN(std::string next, ReadLink(on_disk));
    if (next.empty() || next[0] == '/') {
      return refuse(absl::StrCat("passes through ", absl::StrJoin(resolved, "/"), " -> ", next,
                                 ", which is absolute"));
    }
    resolved.pop_back();
    std::vector<std::string> parts = absl::StrSplit(next, '/');
    pending.insert(pending.begin(), parts.begin(), parts.end());
  }
  return absl::OkStatus();
}

struct Walker {
  const std::string& root;
  const TreeOptions& options;
  LayerSpec& spec;
  // (dev, inode) → image paths of regular files with more than one link.
  std::map<std::pair<dev_t, ino_t>, std::vector<std::string>> links;

  absl::Status WalkDir(const std::string& rel, const std::string& dest) {
    std::string dir_path = JoinPath(root, rel);
    DIR* dir = opendir(dir_path.c_str());
    if (dir == nullptr) return ErrnoError("open directory", dir_path);
    std::vector<std::string> names;
    errno = 0;
    while (struct dirent* d = readdir(dir)) {
      absl::string_view name = d->d_name;
      if (name == "." || name == "..") continue;
      if (std::find(options.exclude_names.begin(), options.exclude_names.end(), name) !=
          options.exclude_names.end()) {
        continue;
      }
      names.emplace_back(name);
    }
    int read_errno = errno;
    closedir(dir);
    if (read_errno != 0) {
      errno = read_errno;
      return ErrnoError("read directory", dir_path);
    }
    std::sort(names.begin(), names.end());
    for (const std::string& name : names) {
      RETURN_IF_ERROR(Visit(JoinPath(rel, name), JoinPath(dest, name)));
    }
    return absl::OkStatus();
  }

  absl::Status Visit(const std::string& rel, const std::string& dest) {
    std::string path = JoinPath(root, rel);
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) return ErrnoError("lstat", path);
    LayerEntry entry;
    entry.path = dest;
    if (S_ISDIR(st.st_mode)) {
      entry.type = LayerEntry::Type::kDirectory;
      entry.mode = 0755;
      spec.Add(std::move(entry));
      return WalkDir(rel, dest);
    }
    if (S_ISREG(st.st_mode)) {
      entry.type = LayerEntry::Type::kFile;
      entry.mode = (st.st_mode & 0111) != 0 ? 0755 : 0644;
      entry.source_path = path;
      if (st.st_nlink > 1) links[{st.st_dev, st.st_ino}].push_back(dest);
      spec.Add(std::move(entry));
      return absl::OkStatus();
    }
    if (S_ISLNK(st.st_mode)) {
      ASSIGN_OR_RETURN(std::string target, ReadLink(path));
      RETURN_IF_ERROR(CheckSymlink(root, rel, target));
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
    return absl::InvalidArgumentError(
        absl::StrCat(path, " is ", kind,
                     "; only files, directories and symlinks can go into a layer"));
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
  struct stat st;
  if (stat(src_root.c_str(), &st) != 0) return ErrnoError("stat", src_root);
  if (!S_ISDIR(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(src_root, " is not a directory"));
  }
  std::string root = src_root;
  while (root.size() > 1 && root.back() == '/') root.pop_back();
  std::string dest = dest_prefix;
  while (!dest.empty() && dest.back() == '/') dest.pop_back();
  while (!dest.empty() && dest.front() == '/') dest.erase(0, 1);
  if (!dest.empty()) Add(LayerEntry{dest, LayerEntry::Type::kDirectory, 0755, "", {}, ""});

  Walker walker{root, options, *this, {}};
  RETURN_IF_ERROR(Annotate(walker.WalkDir("", dest), absl::StrCat("add tree ", src_root)));

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
      entry.link_target = paths[0];
    }
  }
  return absl::OkStatus();
}

}  // namespace tempa::oci
