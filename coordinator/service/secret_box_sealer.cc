#include "coordinator/service/secret_box_sealer.h"

namespace tempa::coordinator {

absl::StatusOr<std::string> SecretBoxSealer::Seal(absl::string_view plaintext,
                                                  absl::string_view record) const {
  return box_.Seal(plaintext, record);
}

absl::StatusOr<std::string> SecretBoxSealer::Open(absl::string_view sealed,
                                                  absl::string_view record) const {
  return box_.Open(sealed, record);
}

}  // namespace tempa::coordinator
