#include "common/oci/layer_writer.h"

#include <archive.h>
#include <archive_entry.h>
#include <fcntl.h>
#include <libdeflate.h>
#include <locale.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <map>
#include <memory>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/status_macros.h"

namespace tempa::oci {
namespace {

using Type = LayerEntry::Type;

// Bytes read from a source file per archive_write_data call.
constexpr size_t kReadBytes = size_t{1} << 20;

absl::Status ValidatePath(const std::string& path) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("layer entry path \"", path, "\" ", why,
                     "; paths are relative, '/'-separated, without \".\" or \"..\" parts"));
  };
  if (path.empty()) return bad("is empty");
  if (path.find('\0') != std::string::npos) return bad("contains a NUL byte");
  if (path.front() == '/') return bad("is absolute");
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part.empty()) return bad("has an empty part");
    if (part == "." || part == "..") return bad("has a \".\" or \"..\" part");
  }
  return absl::OkStatus();
}

// The spec's entries plus implicit 0755 parents, sorted by path bytes (std::string compares as
// unsigned char, so this is the byte order), with hard links checked to point backwards.
absl::StatusOr<std::vector<const LayerEntry*>> SortedEntries(const LayerSpec& spec,
                                                             std::vector<LayerEntry>& implicit) {
  std::map<std::string, const LayerEntry*> by_path;
  for (const LayerEntry& entry : spec.entries()) {
    RETURN_IF_ERROR(ValidatePath(entry.path));
    by_path[entry.path] = &entry;
  }
  std::vector<std::string> missing;
  for (const auto& [path, entry] : by_path) {
    for (size_t slash = path.find('/'); slash != std::string::npos;
         slash = path.find('/', slash + 1)) {
      std::string parent = path.substr(0, slash);
      auto it = by_path.find(parent);
      if (it == by_path.end()) {
        missing.push_back(std::move(parent));
      } else if (it->second->type != Type::kDirectory) {
        return absl::InvalidArgumentError(absl::StrCat("layer entry \"", path, "\" is under \"",
                                                       parent, "\", which is not a directory"));
      }
    }
  }
  std::sort(missing.begin(), missing.end());
  missing.erase(std::unique(missing.begin(), missing.end()), missing.end());
  implicit.reserve(missing.size());  // no reallocation: by_path keeps pointers into it
  for (std::string& path : missing) {
    implicit.push_back(LayerEntry{std::move(path), Type::kDirectory, 0755, "", {}, ""});
    by_path[implicit.back().path] = &implicit.back();
  }
  std::vector<const LayerEntry*> sorted;
  sorted.reserve(by_path.size());
  for (const auto& [path, entry] : by_path) {
    if (entry->type == Type::kHardlink) {
      auto target = by_path.find(entry->link_target);
      if (target == by_path.end() || target->second->type != Type::kFile ||
          !(entry->link_target < path)) {
        return absl::InvalidArgumentError(
            absl::StrCat("hard link \"", path, "\" -> \"", entry->link_target,
                         "\": the target must be a regular file entry that sorts before the link"));
      }
    }
    sorted.push_back(entry);
  }
  return sorted;
}

// Receives libarchive's output: hashes the tar for the diff_id and feeds the compressor.
struct TarOutput {
  Sha256 tar_hash;
  int64_t tar_size = 0;
  ParallelGzipWriter* gzip = nullptr;
  absl::Status status;
  bool abandoned = false;  // the layer is being thrown away: take no more bytes

  static la_ssize_t Write(struct archive*, void* self, const void* buf, size_t n) {
    auto* out = static_cast<TarOutput*>(self);
    if (out->abandoned) return -1;
    absl::string_view data(static_cast<const char*>(buf), n);
    out->tar_hash.Update(data);
    out->tar_size += static_cast<int64_t>(n);
    out->status = out->gzip->Write(data);
    return out->status.ok() ? static_cast<la_ssize_t>(n) : -1;
  }
};

// Pins this thread's locale to C.UTF-8 while a layer is written. libarchive converts entry
// names from the current locale's charset to UTF-8 for pax records, so under LANG=C a name like
// "日本.txt" would fail conversion and be written differently than under a UTF-8 locale. Names
// are taken as UTF-8 bytes whatever the process locale; uselocale() is per thread, so other
// threads are unaffected. (The pax "hdrcharset=BINARY" option would avoid conversion too, but
// it adds a pax header to every entry and GNU tar warns about each one.)
class ScopedUtf8Locale {
 public:
  ScopedUtf8Locale() {
    for (const char* name : {"C.UTF-8", "C.utf8", "en_US.UTF-8"}) {
      locale_ = newlocale(LC_ALL_MASK, name, static_cast<locale_t>(0));
      if (locale_ != static_cast<locale_t>(0)) break;
    }
    // Without any UTF-8 locale the process locale stays: ASCII names are unaffected.
    if (locale_ != static_cast<locale_t>(0)) previous_ = uselocale(locale_);
  }
  ~ScopedUtf8Locale() {
    if (locale_ == static_cast<locale_t>(0)) return;
    uselocale(previous_);
    freelocale(locale_);
  }
  ScopedUtf8Locale(const ScopedUtf8Locale&) = delete;
  ScopedUtf8Locale& operator=(const ScopedUtf8Locale&) = delete;

 private:
  locale_t locale_ = static_cast<locale_t>(0);
  locale_t previous_ = static_cast<locale_t>(0);
};

struct ArchiveDeleter {
  // On an error path archive_write_free "closes" the archive, pushing end blocks through the
  // callback: `abandoned` makes the callback refuse them, so nothing reaches a sink that already
  // failed. (archive_write_fail would skip the close, but libarchive then leaks its block
  // buffer, 64 KiB per failed layer.)
  TarOutput* out;
  void operator()(struct archive* a) const {
    out->abandoned = true;
    archive_write_free(a);
  }
};
struct EntryDeleter {
  void operator()(struct archive_entry* e) const { archive_entry_free(e); }
};
struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) close(fd);
  }
};

class TarWriter {
 public:
  TarWriter(struct archive* a, TarOutput& out) : a_(a), out_(out) {}

  // Turns a libarchive failure into a Status, preferring the sink's own error.
  absl::Status ArchiveError(absl::string_view what) {
    if (!out_.status.ok()) return out_.status;
    const char* message = archive_error_string(a_);
    return absl::InternalError(absl::StrCat(what, ": ", message ? message : "libarchive error"));
  }

  absl::Status WriteEntry(const LayerEntry& e, const LayerWriteOptions& options) {
    std::unique_ptr<struct archive_entry, EntryDeleter> entry(archive_entry_new());
    archive_entry_copy_pathname(entry.get(), e.path.c_str());
    archive_entry_set_perm(entry.get(), e.mode & 07777);
    archive_entry_set_mtime(entry.get(), options.mtime, 0);
    archive_entry_set_uid(entry.get(), e.uid.value_or(options.uid));
    archive_entry_set_gid(entry.get(), e.gid.value_or(options.gid));
    Fd file;
    int64_t size = 0;
    switch (e.type) {
      case Type::kDirectory:
        archive_entry_set_filetype(entry.get(), AE_IFDIR);
        break;
      case Type::kSymlink:
        archive_entry_set_filetype(entry.get(), AE_IFLNK);
        archive_entry_copy_symlink(entry.get(), e.link_target.c_str());
        break;
      case Type::kHardlink:
        archive_entry_set_filetype(entry.get(), AE_IFREG);
        archive_entry_copy_hardlink(entry.get(), e.link_target.c_str());
        break;
      case Type::kFile:
        archive_entry_set_filetype(entry.get(), AE_IFREG);
        if (e.source_path.empty()) {
          size = e.contents ? static_cast<int64_t>(e.contents->size()) : 0;
        } else {
          ASSIGN_OR_RETURN(size, OpenSource(e, file));
        }
        break;
    }
    archive_entry_set_size(entry.get(), size);
    // ARCHIVE_WARN is what a name that is not valid UTF-8 gets: libarchive then writes it as
    // raw bytes with a per-entry hdrcharset=BINARY record, which is deterministic too (the
    // locale is pinned), so only worse is an error.
    if (archive_write_header(a_, entry.get()) < ARCHIVE_WARN) {
      return ArchiveError(absl::StrCat("write tar header for ", e.path));
    }
    if (e.type == Type::kFile) {
      if (file.fd >= 0) {
        RETURN_IF_ERROR(CopyFile(e, file.fd, size));
      } else if (size > 0) {
        RETURN_IF_ERROR(WriteData(e, *e.contents));
      }
    }
    return absl::OkStatus();
  }

 private:
  absl::StatusOr<int64_t> OpenSource(const LayerEntry& e, Fd& file) {
    int64_t size = 0;
    ASSIGN_OR_RETURN(UniqueFd fd, OpenEntrySource(e, &size));
    file.fd = fd.Release();
    posix_fadvise(file.fd, 0, 0, POSIX_FADV_SEQUENTIAL);
    return size;
  }

  absl::Status WriteData(const LayerEntry& e, absl::string_view data) {
    la_ssize_t n = archive_write_data(a_, data.data(), data.size());
    if (n != static_cast<la_ssize_t>(data.size())) {
      return ArchiveError(absl::StrCat("write tar data for ", e.path));
    }
    return absl::OkStatus();
  }

  // Streams exactly `size` bytes; a file that shrank or grew since its header was written
  // would corrupt the archive, so it is an error.
  absl::Status CopyFile(const LayerEntry& e, int fd, int64_t size) {
    if (buffer_.empty()) buffer_.resize(kReadBytes);
    int64_t left = size;
    while (true) {
      size_t want = left > 0 ? std::min<size_t>(buffer_.size(), static_cast<size_t>(left)) : 1;
      ssize_t n = read(fd, buffer_.data(), want);
      if (n < 0) {
        if (errno == EINTR) continue;
        return absl::InternalError(
            absl::StrCat("layer entry ", e.path, ": read ", e.source_path, ": ", strerror(errno)));
      }
      if (left == 0 && n == 0) return absl::OkStatus();
      if (n == 0 || left == 0) {
        return absl::InternalError(absl::StrCat("layer entry ", e.path, ": ", e.source_path,
                                                " changed size while being written"));
      }
      RETURN_IF_ERROR(WriteData(e, absl::string_view(buffer_.data(), static_cast<size_t>(n))));
      left -= n;
    }
  }

  struct archive* a_;
  TarOutput& out_;
  std::vector<char> buffer_;
};

}  // namespace

std::string LayerWriterVersion(const LayerWriteOptions& options) {
  return absl::StrCat("pax1/libdeflate-", LIBDEFLATE_VERSION_STRING, "/members-",
                      options.chunk_bytes);
}

absl::StatusOr<LayerWriteResult> WriteLayerTo(const LayerSpec& spec,
                                              const LayerWriteOptions& options, ByteSink& sink,
                                              bool hash_output) {
  if (options.compression_level < 0 || options.compression_level > 12) {
    return absl::InvalidArgumentError(absl::StrCat("compression level ", options.compression_level,
                                                   " is outside libdeflate's 0..12"));
  }
  std::vector<LayerEntry> implicit;
  ASSIGN_OR_RETURN(std::vector<const LayerEntry*> entries, SortedEntries(spec, implicit));

  int threads =
      options.threads > 0 ? options.threads : static_cast<int>(std::thread::hardware_concurrency());
  Sha256 gzip_hash;
  ParallelGzipWriter gzip(options.compression_level, std::max(threads, 1), options.chunk_bytes,
                          sink, hash_output ? &gzip_hash : nullptr);
  TarOutput out;
  out.gzip = &gzip;

  ScopedUtf8Locale utf8_locale;  // before archive_write_new: libarchive caches the charset
  std::unique_ptr<struct archive, ArchiveDeleter> a(archive_write_new(), ArchiveDeleter{&out});
  TarWriter writer(a.get(), out);
  // pax_restricted: plain ustar headers unless an entry needs more (long or non-ASCII names,
  // big files), then a pax header named "<dir>/PaxHeader/<name>" (libarchive uses no pid, and
  // the pax header's own mtime is the entry's). No padding after the two end blocks.
  if (archive_write_set_format_pax_restricted(a.get()) != ARCHIVE_OK ||
      archive_write_add_filter_none(a.get()) != ARCHIVE_OK ||
      archive_write_set_bytes_per_block(a.get(), 64 * 1024) != ARCHIVE_OK ||
      archive_write_set_bytes_in_last_block(a.get(), 1) != ARCHIVE_OK ||
      archive_write_open(a.get(), &out, nullptr, &TarOutput::Write, nullptr) != ARCHIVE_OK) {
    return writer.ArchiveError("set up tar writer");
  }
  for (const LayerEntry* entry : entries) RETURN_IF_ERROR(writer.WriteEntry(*entry, options));
  if (archive_write_close(a.get()) != ARCHIVE_OK) return writer.ArchiveError("finish tar");
  RETURN_IF_ERROR(gzip.Finish());

  LayerWriteResult result;
  result.diff_id = out.tar_hash.Finish();
  if (hash_output) result.digest = gzip_hash.Finish();
  result.size = static_cast<int64_t>(gzip.size());
  result.tar_size = out.tar_size;
  result.entries = static_cast<int64_t>(entries.size());
  return result;
}

namespace {

class BlobWriterSink : public ByteSink {
 public:
  explicit BlobWriterSink(cas::BlobWriter& writer) : writer_(writer) {}
  absl::Status Write(absl::string_view data) override { return writer_.Append(data); }

 private:
  cas::BlobWriter& writer_;
};

}  // namespace

absl::StatusOr<LayerRecord> WriteLayer(const LayerSpec& spec, const LayerWriteOptions& options,
                                       cas::BlobStore& store) {
  ASSIGN_OR_RETURN(std::unique_ptr<cas::BlobWriter> writer, store.NewWriter());
  BlobWriterSink sink(*writer);
  // The BlobWriter hashes what it is given; no need to hash the gzip twice.
  ASSIGN_OR_RETURN(LayerWriteResult result,
                   WriteLayerTo(spec, options, sink, /*hash_output=*/false));
  ASSIGN_OR_RETURN(Digest digest, writer->Commit());
  LayerRecord record;
  record.blob.media_type = kMediaTypeLayerGzip;
  record.blob.digest = digest;
  record.blob.size = result.size;
  record.diff_id = result.diff_id;
  return record;
}

}  // namespace tempa::oci
