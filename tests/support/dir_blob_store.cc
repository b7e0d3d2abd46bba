#include "tests/support/dir_blob_store.h"

#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace tempa::testing {
namespace fs = std::filesystem;
namespace {

class DirBlobWriter : public cas::BlobWriter {
 public:
  DirBlobWriter(DirBlobStore* store, std::string temp)
      : store_(store), temp_(std::move(temp)), out_(temp_, std::ios::binary) {}
  ~DirBlobWriter() override {
    if (!committed_) {
      out_.close();
      std::remove(temp_.c_str());
    }
  }

  absl::Status Append(absl::string_view data) override {
    out_.write(data.data(), static_cast<std::streamsize>(data.size()));
    if (!out_.good()) return absl::InternalError(absl::StrCat("write ", temp_));
    hasher_.Update(data);
    size_ += data.size();
    return absl::OkStatus();
  }

  absl::StatusOr<Digest> Commit(std::optional<Digest> expected) override {
    out_.close();
    if (!out_.good()) return absl::InternalError(absl::StrCat("close ", temp_));
    Digest digest = hasher_.Finish();
    if (expected && *expected != digest) {
      return absl::DataLossError(
          absl::StrCat("blob hashes to ", digest.ToString(), ", expected ", expected->ToString()));
    }
    std::error_code ec;
    fs::rename(temp_, store_->BlobPath(digest), ec);
    if (ec) return absl::InternalError(absl::StrCat("rename ", temp_, ": ", ec.message()));
    committed_ = true;
    return digest;
  }

  uint64_t size() const override { return size_; }

 private:
  DirBlobStore* store_;
  std::string temp_;
  std::ofstream out_;
  Sha256 hasher_;
  uint64_t size_ = 0;
  bool committed_ = false;
};

}  // namespace

DirBlobStore::DirBlobStore(std::string root) : root_(std::move(root)) {
  fs::create_directories(root_ + "/blobs/sha256");
}

std::string DirBlobStore::BlobPath(const Digest& digest) const {
  return absl::StrCat(root_, "/blobs/sha256/", digest.hex());
}

absl::StatusOr<std::unique_ptr<cas::BlobWriter>> DirBlobStore::NewWriter() {
  static std::atomic<int> counter{0};
  std::string temp = absl::StrCat(root_, "/blobs/.tmp-", getpid(), "-", counter++);
  return std::unique_ptr<cas::BlobWriter>(new DirBlobWriter(this, temp));
}

absl::StatusOr<Digest> DirBlobStore::Put(absl::string_view data) {
  ASSIGN_OR_RETURN(std::unique_ptr<cas::BlobWriter> writer, NewWriter());
  RETURN_IF_ERROR(writer->Append(data));
  return writer->Commit();
}

absl::StatusOr<bool> DirBlobStore::Contains(const Digest& digest) {
  return fs::exists(BlobPath(digest));
}

absl::StatusOr<uint64_t> DirBlobStore::Size(const Digest& digest) {
  std::error_code ec;
  uint64_t size = fs::file_size(BlobPath(digest), ec);
  if (ec) return absl::NotFoundError(absl::StrCat("blob ", digest.ToString(), " not in store"));
  return size;
}

absl::StatusOr<std::string> DirBlobStore::Path(const Digest& digest) {
  if (!fs::exists(BlobPath(digest))) {
    return absl::NotFoundError(absl::StrCat("blob ", digest.ToString(), " not in store"));
  }
  return BlobPath(digest);
}

absl::StatusOr<std::string> DirBlobStore::Read(const Digest& digest) {
  std::ifstream in(BlobPath(digest), std::ios::binary);
  if (!in) return absl::NotFoundError(absl::StrCat("blob ", digest.ToString(), " not in store"));
  std::stringstream buffer;
  buffer << in.rdbuf();
  std::string data = buffer.str();
  if (Sha256Of(data) != digest) {
    return absl::DataLossError(absl::StrCat("blob ", digest.ToString(), " is corrupt"));
  }
  return data;
}

absl::Status DirBlobStore::Verify(const Digest& digest) { return Read(digest).status(); }

}  // namespace tempa::testing
