#include "tests/oci/dir_blob_store.h"

#include <sys/stat.h>

#include <cstdio>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "tests/oci/test_util.h"

namespace tempa::oci::testing {
namespace {

class DirBlobWriter : public cas::BlobWriter {
 public:
  DirBlobWriter(DirBlobStore& store, std::string tmp)
      : store_(store), tmp_(std::move(tmp)), out_(tmp_, std::ios::binary) {}
  ~DirBlobWriter() override {
    if (!committed_) std::remove(tmp_.c_str());
  }
  absl::Status Append(absl::string_view data) override {
    out_.write(data.data(), static_cast<std::streamsize>(data.size()));
    hash_.Update(data);
    size_ += data.size();
    return out_ ? absl::OkStatus() : absl::InternalError("write " + tmp_);
  }
  absl::StatusOr<Digest> Commit(std::optional<Digest> expected) override {
    out_.close();
    Digest digest = hash_.Finish();
    if (expected && *expected != digest) return absl::DataLossError("digest mismatch");
    if (std::rename(tmp_.c_str(), store_.BlobPath(digest).c_str()) != 0) {
      return absl::InternalError("rename " + tmp_);
    }
    committed_ = true;
    return digest;
  }
  uint64_t size() const override { return size_; }

 private:
  DirBlobStore& store_;
  std::string tmp_;
  std::ofstream out_;
  Sha256 hash_;
  uint64_t size_ = 0;
  bool committed_ = false;
};

}  // namespace

absl::StatusOr<std::unique_ptr<cas::BlobWriter>> DirBlobStore::NewWriter() {
  return std::make_unique<DirBlobWriter>(*this, absl::StrCat(root_, "/tmp.", next_tmp_++));
}

absl::StatusOr<Digest> DirBlobStore::Put(absl::string_view data) {
  Digest digest = Sha256Of(data);
  WriteFile(BlobPath(digest), data);
  return digest;
}

absl::StatusOr<bool> DirBlobStore::Contains(const Digest& digest) {
  struct stat st;
  return stat(BlobPath(digest).c_str(), &st) == 0;
}

absl::StatusOr<uint64_t> DirBlobStore::Size(const Digest& digest) {
  struct stat st;
  if (stat(BlobPath(digest).c_str(), &st) != 0) return absl::NotFoundError(digest.ToString());
  return static_cast<uint64_t>(st.st_size);
}

absl::StatusOr<std::string> DirBlobStore::Path(const Digest& digest) {
  struct stat st;
  if (stat(BlobPath(digest).c_str(), &st) != 0) return absl::NotFoundError(digest.ToString());
  return BlobPath(digest);
}

absl::StatusOr<std::string> DirBlobStore::Read(const Digest& digest) {
  struct stat st;
  if (stat(BlobPath(digest).c_str(), &st) != 0) return absl::NotFoundError(digest.ToString());
  std::string data = ReadWholeFile(BlobPath(digest));
  if (Sha256Of(data) != digest) return absl::DataLossError(digest.ToString());
  return data;
}

absl::Status DirBlobStore::Verify(const Digest& digest) { return Read(digest).status(); }

}  // namespace tempa::oci::testing
