#include "common/oci/layer_extractor.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/posix_status.h"
#include "common/status_macros.h"
#include "common/oci/beneath_tree.h"

namespace tempa::oci {
namespace {

constexpr char kOpaque[] = ".wh..wh..opq";
constexpr char kWhiteoutPrefix[] = ".wh.";

struct ArchiveDeleter {
  void operator()(archive* a) const { archive_read_free(a); }
};
using ArchivePtr = std::unique_ptr<archive, ArchiveDeleter>;

// The decompressed layer, pulled by the tar reader through ReadTar and hashed on the way.
struct TarStream {
  archive* outer = nullptr;
  Sha256 hash;
  uint64_t bytes = 0;
  uint64_t max_bytes = 0;
  std::vector<char> buffer = std::vector<char>(1 << 16);
  absl::Status error;
};

la_ssize_t ReadTar(archive* inner, void* data, const void** out) {
  auto* s = static_cast<TarStream*>(data);
  la_ssize_t n = archive_read_data(s->outer, s->buffer.data(), s->buffer.size());
  if (n < 0) {
    s->error = absl::InvalidArgumentError(
        absl::StrCat("cannot decompress: ", archive_error_string(s->outer)));
    archive_set_error(inner, EIO, "decompression failed");
    return -1;
  }
  s->bytes += static_cast<uint64_t>(n);
  if (s->bytes > s->max_bytes) {
    s->error = absl::ResourceExhaustedError(absl::StrCat(
        "the uncompressed layer is longer than ", s->max_bytes,
        " bytes, past what the limit on the image's extracted size (max_total_bytes) allows"));
    archive_set_error(inner, EFBIG, "too long");
    return -1;
  }
  s->hash.Update(s->buffer.data(), static_cast<size_t>(n));
  *out = s->buffer.data();
  return n;
}

const char* TypeName(mode_t type) {
  switch (type) {
    case AE_IFCHR:
      return "a character device";
    case AE_IFBLK:
      return "a block device";
    case AE_IFIFO:
      return "a fifo";
    case AE_IFSOCK:
      return "a socket";
    default:
      return "of an unknown type";
  }
}

}  // namespace

LayerExtractor::LayerExtractor(int rootfs_fd, std::string rootfs_name, ExtractLimits limits,
                               bool apply_owners)
    : rootfs_fd_(rootfs_fd),
      rootfs_name_(std::move(rootfs_name)),
      limits_(limits),
      apply_owners_(apply_owners),
      euid_(::geteuid()),
      egid_(::getegid()) {}

absl::StatusOr<Digest> LayerExtractor::Apply(const std::string& blob_path,
                                             absl::string_view layer_name) {
  this_layer_.clear();
  parent_fd_.Reset();
  int fd = ::open(blob_path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return Annotate(ErrnoStatus(errno, "open", blob_path), layer_name);
  UniqueFd blob(fd);

  ArchivePtr outer(archive_read_new());
  archive_read_support_filter_gzip(outer.get());
  archive_read_support_filter_zstd(outer.get());
  archive_read_support_format_raw(outer.get());
  archive_entry* raw = nullptr;
  if (archive_read_open_fd(outer.get(), blob.get(), 1 << 16) != ARCHIVE_OK ||
      archive_read_next_header(outer.get(), &raw) != ARCHIVE_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat(layer_name, ": cannot read the layer: ", archive_error_string(outer.get())));
  }

  TarStream stream;
  stream.outer = outer.get();
  // Headers and padding on top of the files' declared sizes.
  stream.max_bytes = limits_.max_total_bytes + (limits_.max_entries + 16) * 3 * 512;
  ArchivePtr tar(archive_read_new());
  archive_read_support_format_tar(tar.get());
  if (archive_read_open(tar.get(), &stream, nullptr, ReadTar, nullptr) != ARCHIVE_OK) {
    if (!stream.error.ok()) return Annotate(stream.error, layer_name);
    return absl::InvalidArgumentError(
        absl::StrCat(layer_name, ": not a tar archive: ", archive_error_string(tar.get())));
  }
  while (true) {
    archive_entry* entry = nullptr;
    int r = archive_read_next_header(tar.get(), &entry);
    if (r == ARCHIVE_EOF) break;
    if (!stream.error.ok()) return Annotate(stream.error, layer_name);
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      return absl::InvalidArgumentError(
          absl::StrCat(layer_name, ": malformed tar: ", archive_error_string(tar.get())));
    }
    absl::Status applied = ApplyEntry(tar.get(), entry);
    if (!applied.ok()) {
      if (!stream.error.ok()) return Annotate(stream.error, layer_name);
      return Annotate(applied, layer_name);
    }
  }
  // What follows the end-of-archive blocks is part of the diff_id too.
  while (true) {
    const void* unused = nullptr;
    la_ssize_t n = ReadTar(tar.get(), &stream, &unused);
    if (n == 0) break;
    if (n < 0) return Annotate(stream.error, layer_name);
  }
  return stream.hash.Finish();
}

void LayerExtractor::NoteInThisLayer(const std::vector<std::string>& parts) {
  std::string path;
  for (const std::string& part : parts) {
    absl::StrAppend(&path, path.empty() ? "" : "/", part);
    this_layer_.insert(path);
  }
}

absl::StatusOr<int> LayerExtractor::Parent(const std::vector<std::string>& parts) {
  std::string path = absl::StrJoin(parts.begin(), parts.end() - 1, "/");
  if (parent_fd_.valid() && path == parent_path_) return parent_fd_.get();
  parent_fd_.Reset();
  ASSIGN_OR_RETURN(parent_fd_, OpenDirBeneath(rootfs_fd_, parts, parts.size() - 1,
                                              /*create=*/true, 0755));
  parent_path_ = std::move(path);
  return parent_fd_.get();
}

absl::Status LayerExtractor::ApplyEntry(archive* a, archive_entry* e) {
  const char* raw_path = archive_entry_pathname(e);
  if (raw_path == nullptr) return absl::InvalidArgumentError("an entry has no readable path");
  std::string what = absl::StrCat("entry \"", raw_path, "\"");
  if (++total_entries_ > limits_.max_entries) {
    return absl::ResourceExhaustedError(
        absl::StrCat(what, ": the image has more than ", limits_.max_entries,
                     " entries, the limit (max_entries); raise it or slim the image"));
  }
  ASSIGN_OR_RETURN(std::vector<std::string> parts, SplitEntryPath(raw_path, what));
  if (parts.empty()) return absl::OkStatus();  // "./": the rootfs itself keeps its owner and mode
  std::string path = absl::StrJoin(parts, "/");
  const std::string& name = parts.back();
  if (absl::StartsWith(name, kWhiteoutPrefix)) return ApplyWhiteout(parts, path);

  mode_t type = archive_entry_filetype(e);
  const char* link_target = archive_entry_hardlink(e);
  if (link_target == nullptr && type != AE_IFREG && type != AE_IFDIR && type != AE_IFLNK) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " is ", TypeName(type),
        "; device nodes, fifos and sockets are refused in images Tempa runs (the runtime makes "
        "/dev): rebuild the image without it"));
  }
  NoteInThisLayer(parts);
  ASSIGN_OR_RETURN(const int parent, Parent(parts));
  struct stat existing;
  bool exists = ::fstatat(parent, name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0;

  if (link_target != nullptr) {
    ASSIGN_OR_RETURN(std::vector<std::string> target,
                     SplitEntryPath(link_target, absl::StrCat(what, " (hard link target)")));
    std::string target_path = absl::StrJoin(target, "/");
    if (target.empty()) return absl::InvalidArgumentError(absl::StrCat(what, ": hard link to /"));
    if (target_path == path) return absl::OkStatus();
    absl::StatusOr<UniqueFd> target_dir =
        OpenDirBeneath(rootfs_fd_, target, target.size() - 1, /*create=*/false);
    struct stat st;
    if (!target_dir.ok() ||
        ::fstatat(target_dir->get(), target.back().c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0 ||
        !S_ISREG(st.st_mode)) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " is a hard link to \"", link_target,
          "\", which is not a regular file an earlier entry put in the image; hard links may "
          "only name files inside the image"));
    }
    if (exists) RETURN_IF_ERROR(RemoveBeneath(parent, name, path));
    if (::linkat(target_dir->get(), target.back().c_str(), parent, name.c_str(), 0) != 0) {
      return ErrnoStatus(errno, "link", path);
    }
    return absl::OkStatus();
  }

  switch (type) {
    case AE_IFDIR: {
      if (exists && !S_ISDIR(existing.st_mode)) {
        RETURN_IF_ERROR(RemoveBeneath(parent, name, path));
        exists = false;
      }
      if (!exists && ::mkdirat(parent, name.c_str(), 0700) != 0) {
        return ErrnoStatus(errno, "mkdir", path);
      }
      int fd = ::openat(parent, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      if (fd < 0) return ErrnoStatus(errno, "open directory", path);
      UniqueFd dir(fd);
      return ApplyOwnerAndMode(dir.get(), e, path, /*fresh=*/!exists);
    }
    case AE_IFLNK: {
      const char* target = archive_entry_symlink(e);
      if (target == nullptr || *target == '\0') {
        return absl::InvalidArgumentError(absl::StrCat(what, ": symlink without a target"));
      }
      if (exists) RETURN_IF_ERROR(RemoveBeneath(parent, name, path));
      if (::symlinkat(target, parent, name.c_str()) != 0) {
        return ErrnoStatus(errno, "symlink", path);
      }
      if (apply_owners_ &&
          ::fchownat(parent, name.c_str(), static_cast<uid_t>(archive_entry_uid(e)),
                     static_cast<gid_t>(archive_entry_gid(e)), AT_SYMLINK_NOFOLLOW) != 0) {
        return ErrnoStatus(errno, "chown", path);
      }
      struct timespec times[2] = {{archive_entry_mtime(e), 0}, {archive_entry_mtime(e), 0}};
      ::utimensat(parent, name.c_str(), times, AT_SYMLINK_NOFOLLOW);
      return absl::OkStatus();
    }
    default:  // AE_IFREG
      if (exists) RETURN_IF_ERROR(RemoveBeneath(parent, name, path));
      return WriteRegular(a, e, parent, name, path);
  }
}

absl::Status LayerExtractor::WriteRegular(archive* a, archive_entry* e, int parent_fd,
                                          const std::string& name, const std::string& path) {
  int64_t declared = archive_entry_size_is_set(e) ? archive_entry_size(e) : 0;
  if (declared < 0) return absl::InvalidArgumentError(absl::StrCat(path, ": negative size"));
  uint64_t size = static_cast<uint64_t>(declared);
  if (size > limits_.max_total_bytes || total_bytes_ + size > limits_.max_total_bytes) {
    return absl::ResourceExhaustedError(absl::StrCat(
        "entry \"", path, "\" declares ", size, " bytes, which takes the image past the limit of ",
        limits_.max_total_bytes, " extracted bytes (max_total_bytes); raise it or slim the image"));
  }
  total_bytes_ += size;
  int fd =
      ::openat(parent_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(errno, "create", path);
  UniqueFd file(fd);
  uint64_t end = 0;  // past the last byte written: below `size` when the file ends in a hole
  while (true) {
    const void* buf = nullptr;
    size_t len = 0;
    la_int64_t offset = 0;
    int r = archive_read_data_block(a, &buf, &len, &offset);
    if (r == ARCHIVE_EOF) break;
    if (r != ARCHIVE_OK && r != ARCHIVE_WARN) {
      return absl::InvalidArgumentError(
          absl::StrCat("entry \"", path, "\": cannot read its data: ", archive_error_string(a)));
    }
    if (offset < 0 || static_cast<uint64_t>(offset) + len > size) {
      return absl::InvalidArgumentError(
          absl::StrCat("entry \"", path, "\": data beyond its declared size of ", size, " bytes"));
    }
    const char* p = static_cast<const char*>(buf);
    end = std::max<uint64_t>(end, static_cast<uint64_t>(offset) + len);
    while (len > 0) {
      ssize_t n = ::pwrite(file.get(), p, len, offset);
      if (n < 0) {
        if (errno == EINTR) continue;
        return ErrnoStatus(errno, "write", path);
      }
      p += n, len -= static_cast<size_t>(n), offset += n;
    }
  }
  if (end != size && ::ftruncate(file.get(), static_cast<off_t>(size)) != 0) {
    return ErrnoStatus(errno, "truncate", path);
  }
  RETURN_IF_ERROR(ApplyOwnerAndMode(file.get(), e, path, /*fresh=*/true));
  struct timespec times[2] = {{archive_entry_mtime(e), 0}, {archive_entry_mtime(e), 0}};
  ::futimens(file.get(), times);
  return absl::OkStatus();
}

absl::Status LayerExtractor::ApplyOwnerAndMode(int fd, archive_entry* e, const std::string& path,
                                               bool fresh) {
  if (apply_owners_) {
    int64_t uid = archive_entry_uid(e), gid = archive_entry_gid(e);
    if (uid < 0 || gid < 0 || uid >= 0xFFFFFFFF || gid >= 0xFFFFFFFF) {
      return absl::InvalidArgumentError(
          absl::StrCat("entry \"", path, "\": owner ", uid, ":", gid, " is out of range"));
    }
    // What we just made is ours already: most entries (root's) need no chown.
    bool ours = fresh && uid == euid_ && gid == egid_;
    if (!ours && ::fchown(fd, static_cast<uid_t>(uid), static_cast<gid_t>(gid)) != 0) {
      return ErrnoStatus(errno, "chown", path);
    }
  }
  mode_t mode = SanitizedMode(archive_entry_perm(e));
  // Without root our own permission bits are all that lets us write below a directory.
  if (!apply_owners_ && archive_entry_filetype(e) == AE_IFDIR) mode |= 0700;
  if (::fchmod(fd, mode) != 0) return ErrnoStatus(errno, "chmod", path);
  return absl::OkStatus();
}

absl::Status LayerExtractor::ApplyWhiteout(const std::vector<std::string>& parts,
                                           const std::string& path) {
  // What it removes may be the cached parent directory or hold it.
  parent_fd_.Reset();
  absl::StatusOr<UniqueFd> parent =
      OpenDirBeneath(rootfs_fd_, parts, parts.size() - 1, /*create=*/false);
  // Nothing below to hide when the directory is not there (or is no directory any more).
  if (absl::IsNotFound(parent.status())) return absl::OkStatus();
  if (!parent.ok()) return parent.status();
  std::string dir_path = absl::StrJoin(parts.begin(), parts.end() - 1, "/");
  const std::string& name = parts.back();
  if (name == kOpaque) return RemoveLowerEntries(parent->get(), dir_path, 0);
  std::string hidden = name.substr(sizeof(kWhiteoutPrefix) - 1);
  if (hidden.empty() || hidden == "." || hidden == "..") {
    return absl::InvalidArgumentError(absl::StrCat("whiteout \"", path, "\" names no file"));
  }
  std::string hidden_path = dir_path.empty() ? hidden : absl::StrCat(dir_path, "/", hidden);
  // A whiteout hides lower layers only, never what its own layer added.
  if (this_layer_.contains(hidden_path)) return absl::OkStatus();
  return RemoveBeneath(parent->get(), hidden, hidden_path);
}

absl::Status LayerExtractor::RemoveLowerEntries(int dir_fd, const std::string& dir_path,
                                                size_t depth) {
  ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirectory(dir_fd, dir_path));
  for (const std::string& name : names) {
    std::string child = dir_path.empty() ? name : absl::StrCat(dir_path, "/", name);
    if (!this_layer_.contains(child)) {
      RETURN_IF_ERROR(RemoveBeneath(dir_fd, name, child));
      continue;
    }
    // Added by this layer: keep it, but a directory's lower contents still go.
    if (depth >= kMaxPathDepth) continue;
    int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) continue;  // not a directory (or a link to one): nothing below to hide
    UniqueFd sub(fd);
    RETURN_IF_ERROR(RemoveLowerEntries(sub.get(), child, depth + 1));
  }
  return absl::OkStatus();
}

}  // namespace tempa::oci
