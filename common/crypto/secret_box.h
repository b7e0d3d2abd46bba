// Encryption of secrets at rest (webhook secrets, git credentials): AES-256-GCM through
// OpenSSL's EVP, under a key the operator keeps in a file. A sealed value is bound to its
// associated data, the identity of the record holding it ("app/NAME/webhook_secret"), so a
// sealed value copied into another record does not open there.
//
// Sealed layout: version byte (1) | 12-byte random nonce | ciphertext | 16-byte GCM tag.
// The version byte is authenticated too. A SecretBox is immutable once made: Seal and Open may
// run on many threads at once.
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa::crypto {

class SecretBox {
 public:
  static constexpr size_t kKeySize = 32;
  static constexpr size_t kNonceSize = 12;
  static constexpr size_t kTagSize = 16;
  static constexpr uint8_t kVersion = 1;
  // What Seal adds to the plaintext's length.
  static constexpr size_t kOverhead = 1 + kNonceSize + kTagSize;

  // Reads a key file holding the 32-byte key as 32 raw bytes, 64 hex digits, or base64 (a
  // trailing newline is fine). The file must be a regular file owned by this process's user,
  // not a symbolic link, with no access for group or others; otherwise the error names the fix
  // ("chmod 600 F").
  static absl::StatusOr<SecretBox> FromKeyFile(const std::string& path);

  // A box over `key`, which must be exactly kKeySize raw bytes.
  static absl::StatusOr<SecretBox> FromKey(absl::string_view key);

  // Creates `path` (it must not exist) with mode 0600 holding a fresh random key as 64 hex
  // digits and a newline.
  static absl::Status GenerateKeyFile(const std::string& path);

  SecretBox(SecretBox&& other) noexcept;
  SecretBox& operator=(SecretBox&& other) noexcept;
  SecretBox(const SecretBox&) = delete;
  SecretBox& operator=(const SecretBox&) = delete;
  // Zeroes the key (OPENSSL_cleanse).
  ~SecretBox();

  // Encrypts `plaintext` under a fresh random nonce, bound to `associated_data`. Crashes only
  // when OpenSSL itself fails (no randomness), never on input.
  std::string Seal(absl::string_view plaintext, absl::string_view associated_data) const;

  // The plaintext of a value Seal made with the same key and associated data. Any other input
  // (tampered, truncated, another key, other associated data, garbage) is an error:
  // InvalidArgument when it is not a sealed value at all (too short, unknown version), DataLoss
  // when it does not authenticate.
  absl::StatusOr<std::string> Open(absl::string_view sealed,
                                   absl::string_view associated_data) const;

 private:
  SecretBox() = default;

  std::array<uint8_t, kKeySize> key_{};
};

}  // namespace tempa::crypto
