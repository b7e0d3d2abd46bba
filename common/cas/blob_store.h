// Content-addressed blob storage: blobs are named by their SHA-256 digest and verified on write.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/digest.h"

namespace tempa::cas {

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
};

}  // namespace tempa::cas
