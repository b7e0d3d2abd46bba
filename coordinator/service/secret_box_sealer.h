// The coordinator's SecretSealer over AES-256-GCM with the operator's key file.
#pragma once

#include <utility>

#include "common/crypto/secret_box.h"
#include "coordinator/core/secret_sealer.h"

namespace tempa::coordinator {

class SecretBoxSealer final : public SecretSealer {
 public:
  explicit SecretBoxSealer(crypto::SecretBox box) : box_(std::move(box)) {}
  absl::StatusOr<std::string> Seal(absl::string_view plaintext,
                                   absl::string_view record) const override;
  absl::StatusOr<std::string> Open(absl::string_view sealed,
                                   absl::string_view record) const override;

 private:
  crypto::SecretBox box_;
};

}  // namespace tempa::coordinator
