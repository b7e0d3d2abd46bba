// A minimal cas::BlobStore over a directory laid out like an OCI image layout
// (<root>/blobs/sha256/<hex>), for the OCI and registry tests and the push bench. No index, no
// eviction: the real store is tempa_cas's LocalCas.
#pragma once

#include <memory>
#include <string>

#include "common/cas/blob_store.h"

namespace tempa::testing {

class DirBlobStore : public cas::BlobStore {
 public:
  // Creates <root>/blobs/sha256 when missing.
  explicit DirBlobStore(std::string root);

  absl::StatusOr<std::unique_ptr<cas::BlobWriter>> NewWriter() override;
  absl::StatusOr<Digest> Put(absl::string_view data) override;
  absl::StatusOr<bool> Contains(const Digest& digest) override;
  absl::StatusOr<uint64_t> Size(const Digest& digest) override;
  absl::StatusOr<std::string> Path(const Digest& digest) override;
  absl::StatusOr<std::string> Read(const Digest& digest) override;
  absl::Status Verify(const Digest& digest) override;

  const std::string& root() const { return root_; }
  std::string BlobPath(const Digest& digest) const;

 private:
  std::string root_;
};

}  // namespace tempa::testing
