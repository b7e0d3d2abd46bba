#include "common/cas/file_blob_store.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/posix_status.h"
#include "common/status_macros.h"

namespace tempa::cas {
namespace {

// Appends are buffered so many small writes (a gzip stream's output) cost few syscalls.
constexpr size_t kWriteBufferSize = 1 << 20;

absl::Status WriteAll(int fd, const char* data, size_t size, const std::string& path) {
  while (size > 0) {
    ssize_t n = ::write(fd, data, size);
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "write", path);
    }
    data += n;
    size -= static_cast<size_t>(n);
  }
  return absl::OkStatus();
}

// Makes a rename durable: the directory entry lives in the directory's own blocks.
absl::Status FsyncDir(const std::string& dir) {
  int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open directory", dir);
  int rc = ::fsync(fd);
  int err = errno;
  ::close(fd);
  if (rc != 0) return ErrnoStatus(err, "fsync directory", dir);
  return absl::OkStatus();
}

absl::Status UnlinkIfPresent(const std::string& path) {
  if (::unlink(path.c_str()) != 0 && errno != ENOENT) return ErrnoStatus(errno, "remove", path);
  return absl::OkStatus();
}

bool IsDigestHex(absl::string_view name) {
  if (name.size() != 64) return false;
  for (char c : name) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

absl::StatusOr<std::string> ReadFile(const std::string& path) {
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open", path);
  std::string out;
  char buf[1 << 16];
  while (true) {
    ssize_t n = ::read(fd, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      int err = errno;
      ::close(fd);
      return ErrnoStatus(err, "read", path);
    }
    if (n == 0) break;
    out.append(buf, static_cast<size_t>(n));
  }
  ::close(fd);
  return out;
}

}  // namespace

// Writes to a private temp file in root/tmp, hashing as it goes; Commit publishes by rename.
class FileBlobWriter : public BlobWriter {
 public:
  FileBlobWriter(FileBlobStore* store, int fd, std::string temp_path)
      : store_(store), fd_(fd), temp_path_(std::move(temp_path)) {
    buffer_.reserve(kWriteBufferSize);
  }

  ~FileBlobWriter() override {
    if (fd_ >= 0) ::close(fd_);
    if (!published_) ::unlink(temp_path_.c_str());  // abandoned or failed: leave nothing behind
  }

  absl::Status Append(absl::string_view data) override {
    if (done_) return absl::FailedPreconditionError("blob writer already committed");
    hasher_.Update(data);
    size_ += data.size();
    if (buffer_.size() + data.size() > kWriteBufferSize) {
      RETURN_IF_ERROR(Flush());
      if (data.size() >= kWriteBufferSize)
        return WriteAll(fd_, data.data(), data.size(), temp_path_);
    }
    buffer_.append(data.data(), data.size());
    return absl::OkStatus();
  }

  absl::StatusOr<Digest> Commit(std::optional<Digest> expected) override {
    return CommitPinned(expected, nullptr);
  }

  absl::StatusOr<Digest> CommitPinned(std::optional<Digest> expected, BlobPin* pin) override {
    if (done_) return absl::FailedPreconditionError("blob writer already committed");
    done_ = true;
    RETURN_IF_ERROR(Flush());
    // Blobs are immutable once published; read-only files make accidental edits fail loudly.
    if (::fchmod(fd_, 0444) != 0) return ErrnoStatus(errno, "chmod", temp_path_);
    if (::fsync(fd_) != 0) return ErrnoStatus(errno, "fsync", temp_path_);
    int rc = ::close(fd_);
    fd_ = -1;
    if (rc != 0) return ErrnoStatus(errno, "close", temp_path_);
    Digest digest = hasher_.Finish();
    if (expected.has_value() && !(*expected == digest)) {
      return absl::DataLossError(absl::StrCat("blob content hashes to ", digest.ToString(), " but ",
                                              expected->ToString(),
                                              " was expected; nothing was stored"));
    }
    RETURN_IF_ERROR(store_->Publish(temp_path_, digest, size_, pin));
    published_ = true;
    return digest;
  }

  uint64_t size() const override { return size_; }

 private:
  absl::Status Flush() {
    RETURN_IF_ERROR(WriteAll(fd_, buffer_.data(), buffer_.size(), temp_path_));
    buffer_.clear();
    return absl::OkStatus();
  }

  FileBlobStore* store_;
  int fd_;
  std::string temp_path_;
  std::string buffer_;
  Sha256 hasher_;
  uint64_t size_ = 0;
  bool done_ = false;
  bool published_ = false;
};

FileBlobStore::FileBlobStore(std::string root, rocksdb::DB* db, rocksdb::ColumnFamilyHandle* cf,
                             FileBlobStoreOptions options)
    : root_(std::move(root)),
      blob_dir_(root_ + "/blobs/sha256"),
      tmp_dir_(root_ + "/tmp"),
      options_(std::move(options)),
      index_(db, cf) {}

absl::StatusOr<std::unique_ptr<FileBlobStore>> FileBlobStore::Open(std::string root,
                                                                   rocksdb::DB* db,
                                                                   rocksdb::ColumnFamilyHandle* cf,
                                                                   FileBlobStoreOptions options) {
  std::unique_ptr<FileBlobStore> store(
      new FileBlobStore(std::move(root), db, cf, std::move(options)));
  RETURN_IF_ERROR(Annotate(store->Reconcile(), absl::StrCat("open blob store ", store->root_)));
  return store;
}

std::string FileBlobStore::BlobPath(absl::string_view hex) const {
  return absl::StrCat(blob_dir_, "/", hex);
}

absl::Status FileBlobStore::Reconcile() {
  namespace fs = std::filesystem;
  std::error_code ec;
  // We hold the store's lock, so whatever is in tmp/ belongs to a writer that died.
  for (fs::directory_iterator it(tmp_dir_, ec), end; !ec && it != end; it.increment(ec)) {
    fs::remove_all(it->path(), ec);
    if (ec)
      return absl::InternalError(
          absl::StrCat("remove stale ", it->path().string(), ": ", ec.message()));
  }
  if (ec) return absl::InternalError(absl::StrCat("list ", tmp_dir_, ": ", ec.message()));

  absl::MutexLock lock(&mu_);
  RETURN_IF_ERROR(index_.Load());
  // Entries whose file vanished or changed size are dropped.
  for (const std::string& hex : index_.AllHex()) {
    RETURN_IF_ERROR(CheckPresentLocked(hex).status());
  }
  // Files without an entry (a crash between rename and index write) are re-hashed and indexed
  // when intact; anything else in the directory is not ours to keep.
  for (fs::directory_iterator it(blob_dir_, ec), end; !ec && it != end; it.increment(ec)) {
    std::string name = it->path().filename().string();
    std::string path = it->path().string();
    if (IsDigestHex(name) && index_.Lookup(name).has_value()) continue;
    if (IsDigestHex(name) && it->is_regular_file()) {
      uint64_t size = 0;
      absl::StatusOr<Digest> actual = Sha256OfFile(path, &size);
      if (actual.ok() && actual->hex() == name) {
        RETURN_IF_ERROR(index_.Put(name, size, options_.now()));
        continue;
      }
    }
    std::error_code remove_ec;
    fs::remove_all(it->path(), remove_ec);
    if (remove_ec) {
      return absl::InternalError(absl::StrCat("remove stray ", path, ": ", remove_ec.message()));
    }
  }
  if (ec) return absl::InternalError(absl::StrCat("list ", blob_dir_, ": ", ec.message()));
  return EvictLocked("");
}

absl::StatusOr<std::unique_ptr<BlobWriter>> FileBlobStore::NewWriter() {
  std::string path = tmp_dir_ + "/blob-XXXXXX";
  int fd = ::mkostemp(path.data(), O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "create temp file in", tmp_dir_);
  return std::make_unique<FileBlobWriter>(this, fd, std::move(path));
}

absl::StatusOr<Digest> FileBlobStore::Put(absl::string_view data) {
  ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> writer, NewWriter());
  RETURN_IF_ERROR(writer->Append(data));
  return writer->Commit();
}

absl::Status FileBlobStore::Publish(const std::string& temp_path, const Digest& digest,
                                    uint64_t size, BlobPin* pin) {
  {
    absl::MutexLock lock(&mu_);
    // Renaming over an existing copy is safe: both hold the same verified bytes, rename is
    // atomic, and readers that already opened the old inode keep reading it.
    std::string final_path = BlobPath(digest.hex());
    if (::rename(temp_path.c_str(), final_path.c_str()) != 0) {
      return ErrnoStatus(errno, "publish blob as", final_path);
    }
    RETURN_IF_ERROR(index_.Put(digest.hex(), size, options_.now()));
    if (pin != nullptr) *pin = PinLocked(digest.hex());
    RETURN_IF_ERROR(EvictLocked(digest.hex()));
  }
  return FsyncDir(blob_dir_);
}

absl::StatusOr<bool> FileBlobStore::CheckPresentLocked(absl::string_view hex) {
  std::optional<BlobIndex::Entry> entry = index_.Lookup(hex);
  if (!entry) return false;
  struct stat st;
  std::string path = BlobPath(hex);
  if (::stat(path.c_str(), &st) == 0 && static_cast<uint64_t>(st.st_size) == entry->size) {
    return true;
  }
  RETURN_IF_ERROR(RemoveLocked(hex));
  return false;
}

absl::Status FileBlobStore::RemoveLocked(absl::string_view hex) {
  RETURN_IF_ERROR(UnlinkIfPresent(BlobPath(hex)));
  return index_.Erase(hex);
}

absl::Status FileBlobStore::EvictLocked(absl::string_view keep) {
  if (options_.max_bytes == 0) return absl::OkStatus();
  auto spared = [&](const std::string& hex) { return hex == keep || pins_.contains(hex); };
  for (const std::string& hex : index_.EvictionCandidates(options_.max_bytes, spared)) {
    RETURN_IF_ERROR(RemoveLocked(hex));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> FileBlobStore::Contains(const Digest& digest) {
  absl::MutexLock lock(&mu_);
  return CheckPresentLocked(digest.hex());
}

absl::StatusOr<uint64_t> FileBlobStore::Size(const Digest& digest) {
  absl::MutexLock lock(&mu_);
  std::optional<BlobIndex::Entry> entry = index_.Lookup(digest.hex());
  if (!entry) return absl::NotFoundError(absl::StrCat("blob ", digest.ToString(), " not in store"));
  return entry->size;
}

absl::StatusOr<std::string> FileBlobStore::AcquirePath(const Digest& digest) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(bool present, CheckPresentLocked(digest.hex()));
  if (!present)
    return absl::NotFoundError(absl::StrCat("blob ", digest.ToString(), " not in store"));
  RETURN_IF_ERROR(index_.Touch(digest.hex(), options_.now()));
  return BlobPath(digest.hex());
}

absl::StatusOr<std::string> FileBlobStore::Path(const Digest& digest) {
  return AcquirePath(digest);
}

absl::Status FileBlobStore::ReportCorruption(const Digest& digest, const Digest& actual) {
  {
    absl::MutexLock lock(&mu_);
    RETURN_IF_ERROR(RemoveLocked(digest.hex()));
  }
  return absl::DataLossError(absl::StrCat("blob ", digest.ToString(),
                                          " is corrupted on disk (its content hashes to ",
                                          actual.ToString(), "); removed it from the store"));
}

absl::StatusOr<std::string> FileBlobStore::Read(const Digest& digest) {
  ASSIGN_OR_RETURN(std::string path, AcquirePath(digest));
  // Hashing happens outside the lock: blobs can be large and other callers should not wait.
  ASSIGN_OR_RETURN(std::string data, ReadFile(path));
  Digest actual = Sha256Of(data);
  if (!(actual == digest)) return ReportCorruption(digest, actual);
  return data;
}

absl::Status FileBlobStore::Verify(const Digest& digest) {
  ASSIGN_OR_RETURN(std::string path, AcquirePath(digest));
  ASSIGN_OR_RETURN(Digest actual, Sha256OfFile(path));
  if (!(actual == digest)) return ReportCorruption(digest, actual);
  return absl::OkStatus();
}

absl::StatusOr<BlobPin> FileBlobStore::Pin(const Digest& digest) {
  absl::MutexLock lock(&mu_);
  ASSIGN_OR_RETURN(bool present, CheckPresentLocked(digest.hex()));
  if (!present) {
    return absl::NotFoundError(absl::StrCat("blob ", digest.ToString(), " not in store"));
  }
  RETURN_IF_ERROR(index_.Touch(digest.hex(), options_.now()));
  return PinLocked(digest.hex());
}

BlobPin FileBlobStore::PinLocked(const std::string& hex) {
  ++pins_[hex];
  return BlobPin([this, hex] {
    absl::MutexLock lock(&mu_);
    auto it = pins_.find(hex);
    if (it != pins_.end() && --it->second == 0) pins_.erase(it);
  });
}

absl::Status FileBlobStore::EvictToFit() {
  absl::MutexLock lock(&mu_);
  return EvictLocked("");
}

uint64_t FileBlobStore::total_bytes() {
  absl::MutexLock lock(&mu_);
  return index_.total_bytes();
}

}  // namespace tempa::cas
