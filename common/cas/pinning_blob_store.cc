#include "common/cas/pinning_blob_store.h"

#include <utility>

#include "common/status_macros.h"

namespace tempa::cas {

// Commits through the inner writer pinned, handing the pin to the store's view.
class PinningBlobWriter : public BlobWriter {
 public:
  PinningBlobWriter(PinningBlobStore* store, std::unique_ptr<BlobWriter> inner)
      : store_(store), inner_(std::move(inner)) {}

  absl::Status Append(absl::string_view data) override { return inner_->Append(data); }
  absl::StatusOr<Digest> Commit(std::optional<Digest> expected) override {
    BlobPin pin;
    ASSIGN_OR_RETURN(Digest digest, inner_->CommitPinned(expected, &pin));
    store_->Keep(std::move(pin));
    return digest;
  }
  absl::StatusOr<Digest> CommitPinned(std::optional<Digest> expected, BlobPin* pin) override {
    return inner_->CommitPinned(expected, pin);
  }
  uint64_t size() const override { return inner_->size(); }

 private:
  PinningBlobStore* store_;
  std::unique_ptr<BlobWriter> inner_;
};

void PinningBlobStore::Keep(BlobPin pin) {
  absl::MutexLock lock(&mu_);
  pins_.push_back(std::move(pin));
}

absl::Status PinningBlobStore::Hold(const Digest& digest) {
  ASSIGN_OR_RETURN(BlobPin pin, inner_->Pin(digest));
  Keep(std::move(pin));
  return absl::OkStatus();
}

absl::StatusOr<std::unique_ptr<BlobWriter>> PinningBlobStore::NewWriter() {
  ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> inner, inner_->NewWriter());
  return std::make_unique<PinningBlobWriter>(this, std::move(inner));
}

absl::StatusOr<Digest> PinningBlobStore::Put(absl::string_view data) {
  ASSIGN_OR_RETURN(std::unique_ptr<BlobWriter> writer, NewWriter());
  RETURN_IF_ERROR(writer->Append(data));
  return writer->Commit();
}

}  // namespace tempa::cas
