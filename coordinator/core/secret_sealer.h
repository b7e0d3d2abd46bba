// Seals secrets before the coordinator stores them. The real one is AES-256-GCM with the
// operator's key file (common/crypto/secret_box.h); the associated data names the record, so a
// sealed value copied to another app's record does not open.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa::coordinator {

class SecretSealer {
 public:
  virtual ~SecretSealer() = default;
  virtual absl::StatusOr<std::string> Seal(absl::string_view plaintext,
                                           absl::string_view record) const = 0;
  virtual absl::StatusOr<std::string> Open(absl::string_view sealed,
                                           absl::string_view record) const = 0;
};

}  // namespace tempa::coordinator
