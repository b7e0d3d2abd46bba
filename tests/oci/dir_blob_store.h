// A minimal BlobStore on a plain directory (root/<hex>) for the OCI tests: no index, no
// eviction, no fsync. Enough to exercise WriteLayer and WriteOciLayout without RocksDB.
#pragma once

#include <memory>
#include <string>

#include "common/cas/blob_store.h"

namespace tempa::oci::testing {

class DirBlobStore : public cas::BlobStore {
 public:
  explicit DirBlobStore(std::string root) : root_(std::move(root)) {}

  absl::StatusOr<std::unique_ptr<cas::BlobWriter>> NewWriter() override;
  absl::StatusOr<Digest> Put(absl::string_view data) override;
  absl::StatusOr<bool> Contains(const Digest& digest) override;
  absl::StatusOr<uint64_t> Size(const Digest& digest) override;
  absl::StatusOr<std::string> Path(const Digest& digest) override;
  absl::StatusOr<std::string> Read(const Digest& digest) override;
  absl::Status Verify(const Digest& digest) override;

  std::string BlobPath(const Digest& digest) const { return root_ + "/" + digest.hex(); }

 private:
  std::string root_;
  int next_tmp_ = 0;
};

}  // namespace tempa::oci::testing
