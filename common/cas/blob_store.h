// Content-addressed blob storage: blobs are named by their SHA-256 digest and verified on write.
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"
#include "common/digest.h"

namespace tempa::cas {

// Keeps one blob of a store from eviction while it lives; move-only. Pins nest: a blob stays
// while any pin on it lives. A default-constructed pin holds nothing. The store must outlive it.
class BlobPin {
 public:
  BlobPin() = default;
  explicit BlobPin(std::function<void()> release) : release_(std::move(release)) {}
  BlobPin(BlobPin&& other) noexcept : release_(std::exchange(other.release_, nullptr)) {}
  BlobPin& operator=(BlobPin&& other) noexcept {
    if (this != &other) {
      Release();
      release_ = std::exchange(other.release_, nullptr);
    }
    return *this;
  }
  BlobPin(const BlobPin&) = delete;
  BlobPin& operator=(const BlobPin&) = delete;
  ~BlobPin() { Release(); }

  // Lets the blob go now (idempotent).
  void Release() {
    if (release_) std::exchange(release_, nullptr)();
  }

 private:
  std::function<void()> release_;
};

// Streams one blob into the store. Nothing is visible under the digest until Commit succeeds;
// destroying a writer that was not committed discards what was written.
class BlobWriter {
 public:
  virtual ~BlobWriter() = default;
  virtual absl::Status Append(absl::string_view data) = 0;
  // Fsyncs and publishes the blob under the digest of what was appended. When `expected` is
  // given and differs, fails with DataLoss and publishes nothing. Safe when another writer
  // publishes the same digest concurrently.
  virtual absl::StatusOr<Digest> Commit(std::optional<Digest> expected = std::nullopt) = 0;
  // Commit, and pin the published blob in the same step: no eviction can come between (see
  // BlobStore::Pin). Stores that never evict leave `pin` empty.
  virtual absl::StatusOr<Digest> CommitPinned(std::optional<Digest> expected, BlobPin* pin) {
    return Commit(expected);
  }
  // Bytes appended so far.
  virtual uint64_t size() const = 0;
};

class BlobStore {
 public:
  virtual ~BlobStore() = default;
  virtual absl::StatusOr<std::unique_ptr<BlobWriter>> NewWriter() = 0;
  // Stores a small in-memory blob; returns its digest.
  virtual absl::StatusOr<Digest> Put(absl::string_view data) = 0;
  // True when the blob is present (its file exists with the indexed size).
  virtual absl::StatusOr<bool> Contains(const Digest& digest) = 0;
  // Size in bytes; NotFound when absent.
  virtual absl::StatusOr<uint64_t> Size(const Digest& digest) = 0;
  // Path of the blob's file for streaming readers; marks it recently used. NotFound when absent.
  // The file must not be modified; it may be evicted once no build holds it.
  virtual absl::StatusOr<std::string> Path(const Digest& digest) = 0;
  // Reads the whole blob and checks it against its digest. A corrupted blob is removed from the
  // store and reported as DataLoss.
  virtual absl::StatusOr<std::string> Read(const Digest& digest) = 0;
  // Re-hashes the blob's file; DataLoss (and removal) when it no longer matches.
  virtual absl::Status Verify(const Digest& digest) = 0;
  // Keeps the blob from eviction until the returned pin is destroyed: a running build pins what
  // it uses, so another build's eviction cannot take it. NotFound when the blob is absent (the
  // check and the pin are one step). Stores that never evict only check presence.
  virtual absl::StatusOr<BlobPin> Pin(const Digest& digest) {
    absl::StatusOr<bool> present = Contains(digest);
    if (!present.ok()) return present.status();
    if (!*present) {
      return absl::NotFoundError(absl::StrCat("blob ", digest.ToString(), " not in store"));
    }
    return BlobPin();
  }
};

}  // namespace tempa::cas
