// PinningBlobStore: one build's view of a shared BlobStore. Every blob the build writes through
// it is pinned as it is published, and Hold pins one it found (a cached layer), until the view
// is destroyed: another build's eviction on the same store never takes a blob this build still
// needs. Thread-safe; the inner store must outlive it.
#pragma once

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "common/cas/blob_store.h"

namespace tempa::cas {

class PinningBlobStore : public BlobStore {
 public:
  explicit PinningBlobStore(BlobStore* inner) : inner_(inner) {}
  PinningBlobStore(const PinningBlobStore&) = delete;
  PinningBlobStore& operator=(const PinningBlobStore&) = delete;

  // Pins `digest` until this view is destroyed; NotFound when it is not in the store.
  absl::Status Hold(const Digest& digest);

  absl::StatusOr<std::unique_ptr<BlobWriter>> NewWriter() override;
  absl::StatusOr<Digest> Put(absl::string_view data) override;
  absl::StatusOr<bool> Contains(const Digest& digest) override { return inner_->Contains(digest); }
  absl::StatusOr<uint64_t> Size(const Digest& digest) override { return inner_->Size(digest); }
  absl::StatusOr<std::string> Path(const Digest& digest) override { return inner_->Path(digest); }
  absl::StatusOr<std::string> Read(const Digest& digest) override { return inner_->Read(digest); }
  absl::Status Verify(const Digest& digest) override { return inner_->Verify(digest); }
  absl::StatusOr<BlobPin> Pin(const Digest& digest) override { return inner_->Pin(digest); }

 private:
  friend class PinningBlobWriter;
  void Keep(BlobPin pin);

  BlobStore* inner_;
  absl::Mutex mu_;
  std::vector<BlobPin> pins_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tempa::cas
