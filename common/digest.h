// SHA-256 content digests ("sha256:<64 hex>") and a streaming hasher on OpenSSL EVP.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa {

// A validated OCI digest. Only sha256 is produced; parsing accepts only sha256 too.
class Digest {
 public:
  Digest() = default;
  // Parses "sha256:<64 lowercase hex>"; anything else is InvalidArgument.
  static absl::StatusOr<Digest> Parse(absl::string_view text);
  // Builds from a raw 64-char lowercase hex string (trusted: crashes if malformed).
  static Digest FromHex(absl::string_view hex);

  const std::string& hex() const { return hex_; }
  std::string ToString() const { return "sha256:" + hex_; }
  bool empty() const { return hex_.empty(); }

  friend bool operator==(const Digest& a, const Digest& b) { return a.hex_ == b.hex_; }
  friend bool operator<(const Digest& a, const Digest& b) { return a.hex_ < b.hex_; }
  template <typename H>
  friend H AbslHashValue(H h, const Digest& d) {
    return H::combine(std::move(h), d.hex_);
  }

 private:
  std::string hex_;
};

// Incremental SHA-256. Not thread-safe; one per stream.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t size);
  void Update(absl::string_view data) { Update(data.data(), data.size()); }
  // Finishes the hash; the object must not be updated afterwards.
  Digest Finish();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

Digest Sha256Of(absl::string_view data);
// Hashes a file's contents, streaming; returns the digest and fills *size when given.
absl::StatusOr<Digest> Sha256OfFile(const std::string& path, uint64_t* size = nullptr);
// Hashes what is left to read from the open descriptor `fd` (`name` is for messages).
absl::StatusOr<Digest> Sha256OfFd(int fd, absl::string_view name, uint64_t* size = nullptr);

}  // namespace tempa
