#include "buildpacks/runbase/deb_reader.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <memory>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "buildpacks/internal/fs_util.h"
#include "common/status_macros.h"

namespace tempa::buildpacks::runbase {
namespace {

using ArchivePtr = std::unique_ptr<archive, decltype(&archive_read_free)>;

constexpr size_t kBlock = 1 << 16;

// Feeds the current member of the outer ar reader to the inner tar reader, block by block.
struct MemberStream {
  archive* outer;
  char buf[kBlock];
};

la_ssize_t ReadMember(archive* inner, void* client, const void** out) {
  auto* stream = static_cast<MemberStream*>(client);
  la_ssize_t n = archive_read_data(stream->outer, stream->buf, sizeof stream->buf);
  if (n < 0) {
    archive_set_error(inner, EIO, "reading ar member: %s", archive_error_string(stream->outer));
    return -1;
  }
  *out = stream->buf;
  return n;
}

absl::Status WriteData(archive* a, const std::string& deb, const std::string& dest) {
  int fd = open(dest.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("create ", dest, ": ", std::strerror(errno)));
  }
  char buf[kBlock];
  for (;;) {
    la_ssize_t n = archive_read_data(a, buf, sizeof buf);
    if (n < 0) {
      close(fd);
      return absl::InvalidArgumentError(
          absl::StrCat(deb, ": reading ", dest, ": ", archive_error_string(a)));
    }
    if (n == 0) break;
    for (la_ssize_t done = 0; done < n;) {
      ssize_t w = write(fd, buf + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) {
        absl::Status s =
            absl::InternalError(absl::StrCat("write ", dest, ": ", std::strerror(errno)));
        close(fd);
        return s;
      }
      done += w;
    }
  }
  if (close(fd) != 0) {
    return absl::InternalError(absl::StrCat("close ", dest, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> ReadDataToString(archive* a, const std::string& deb) {
  std::string out;
  char buf[kBlock];
  for (;;) {
    la_ssize_t n = archive_read_data(a, buf, sizeof buf);
    if (n < 0) return absl::InvalidArgumentError(absl::StrCat(deb, ": ", archive_error_string(a)));
    if (n == 0) return out;
    out.append(buf, static_cast<size_t>(n));
  }
}

absl::StatusOr<std::vector<PackageEntry>> ReadDataTar(archive* inner, const std::string& deb,
                                                      const DebReadOptions& options) {
  std::vector<PackageEntry> entries;
  archive_entry* e;
  for (;;) {
    int r = archive_read_next_header(inner, &e);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      return absl::InvalidArgumentError(
          absl::StrCat(deb, ": data.tar: ", archive_error_string(inner)));
    }
    const char* raw = archive_entry_pathname(e);
    std::optional<std::string> path = NormalizePackagePath(raw ? raw : "");
    if (!path) {
      return absl::InvalidArgumentError(
          absl::StrCat(deb, ": entry '", raw ? raw : "", "' leaves the package root"));
    }
    if (path->empty()) continue;  // "./": the root itself
    PackageEntry entry;
    entry.path = *std::move(path);
    entry.mode = archive_entry_perm(e);
    if (const char* hardlink = archive_entry_hardlink(e)) {
      std::optional<std::string> target = NormalizePackagePath(hardlink);
      if (!target || target->empty()) {
        return absl::InvalidArgumentError(
            absl::StrCat(deb, ": hard link ", entry.path, " to '", hardlink, "'"));
      }
      entry.type = PackageEntry::Type::kHardlink;
      entry.link_target = *std::move(target);
      if (!options.extract_dir.empty() && !options.files_already_extracted) {
        // A real link, so the staging tree mirrors the package (and costs no extra space).
        std::string dest = absl::StrCat(options.extract_dir, "/", entry.path);
        std::string from = absl::StrCat(options.extract_dir, "/", entry.link_target);
        unlink(dest.c_str());
        if (link(from.c_str(), dest.c_str()) != 0) {
          return absl::InternalError(
              absl::StrCat("link ", from, " → ", dest, ": ", std::strerror(errno)));
        }
      }
      entries.push_back(std::move(entry));
      continue;
    }
    switch (archive_entry_filetype(e)) {
      case AE_IFDIR:
        entry.type = PackageEntry::Type::kDirectory;
        if (!options.extract_dir.empty() && !options.files_already_extracted) {
          RETURN_IF_ERROR(
              internal::MakeDirs(absl::StrCat(options.extract_dir, "/", entry.path), 0755));
        }
        break;
      case AE_IFLNK: {
        const char* target = archive_entry_symlink(e);
        entry.type = PackageEntry::Type::kSymlink;
        entry.link_target = target ? target : "";
        if (entry.link_target.empty()) {
          return absl::InvalidArgumentError(
              absl::StrCat(deb, ": symlink ", entry.path, " has no target"));
        }
        break;
      }
      case AE_IFREG: {
        entry.type = PackageEntry::Type::kFile;
        entry.size = archive_entry_size(e);
        if (options.extract_dir.empty()) {
          ASSIGN_OR_RETURN(entry.contents, ReadDataToString(inner, deb));
          entry.size = static_cast<int64_t>(entry.contents->size());
          break;
        }
        entry.source_path = absl::StrCat(options.extract_dir, "/", entry.path);
        if (options.files_already_extracted) break;  // next_header skips the data
        size_t slash = entry.source_path.rfind('/');
        RETURN_IF_ERROR(internal::MakeDirs(entry.source_path.substr(0, slash), 0755));
        RETURN_IF_ERROR(WriteData(inner, deb, entry.source_path));
        break;
      }
      default:
        return absl::InvalidArgumentError(absl::StrCat(
            deb, ": ", entry.path, " is not a file, directory or link (device or fifo)"));
    }
    entries.push_back(std::move(entry));
  }
  return entries;
}

}  // namespace

std::optional<std::string> NormalizePackagePath(const std::string& raw) {
  std::vector<std::string> parts;
  for (absl::string_view part : absl::StrSplit(raw, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") return std::nullopt;
    parts.emplace_back(part);
  }
  return absl::StrJoin(parts, "/");
}

absl::StatusOr<std::vector<PackageEntry>> ReadDebData(const std::string& deb_path,
                                                      const DebReadOptions& options) {
  ArchivePtr outer(archive_read_new(), archive_read_free);
  archive_read_support_format_ar(outer.get());
  if (archive_read_open_filename(outer.get(), deb_path.c_str(), kBlock) != ARCHIVE_OK) {
    return absl::InvalidArgumentError(
        absl::StrCat(deb_path, ": not a .deb: ", archive_error_string(outer.get())));
  }
  archive_entry* member;
  for (;;) {
    int r = archive_read_next_header(outer.get(), &member);
    if (r == ARCHIVE_EOF) break;
    if (r < ARCHIVE_WARN) {
      return absl::InvalidArgumentError(
          absl::StrCat(deb_path, ": not a .deb: ", archive_error_string(outer.get())));
    }
    const char* name = archive_entry_pathname(member);
    if (name == nullptr || !absl::StartsWith(name, "data.tar")) continue;

    ArchivePtr inner(archive_read_new(), archive_read_free);
    // Only what dpkg writes, decoded in process: filter_all would also run external programs
    // (lrzip, lzop, grzip) for other formats when they happen to be installed.
    for (auto support : {archive_read_support_filter_gzip, archive_read_support_filter_xz,
                         archive_read_support_filter_lzma, archive_read_support_filter_zstd,
                         archive_read_support_filter_bzip2}) {
      support(inner.get());
    }
    archive_read_support_format_tar(inner.get());
    archive_read_support_format_gnutar(inner.get());
    auto stream = std::make_unique<MemberStream>();
    stream->outer = outer.get();
    if (archive_read_open(inner.get(), stream.get(), nullptr, ReadMember, nullptr) != ARCHIVE_OK) {
      return absl::InvalidArgumentError(
          absl::StrCat(deb_path, ": ", name, ": ", archive_error_string(inner.get())));
    }
    return ReadDataTar(inner.get(), deb_path, options);
  }
  return absl::InvalidArgumentError(absl::StrCat(deb_path, ": no data.tar member"));
}

}  // namespace tempa::buildpacks::runbase
