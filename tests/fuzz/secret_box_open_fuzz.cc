// Sealed secrets are read back from the coordinator's database, which an attacker with disk
// access could alter. Open must refuse anything Seal did not make under this key and these
// associated data, never crash, and what Seal makes must open to exactly its plaintext.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "common/crypto/secret_box.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tempa::crypto::SecretBox;
  static const SecretBox* box = [] {
    auto made = SecretBox::FromKey(std::string(SecretBox::kKeySize, 'k'));
    tempa::fuzz::Check(made.ok(), "a 32-byte key is refused");
    return new SecretBox(*std::move(made));
  }();
  absl::string_view input(reinterpret_cast<const char*>(data), size);
  // Forging a GCM tag by chance is a 2^-128 event: anything the fuzzer makes must be refused.
  tempa::fuzz::Check(!box->Open(input, "app/web/webhook_secret").ok(),
                     "Open accepted bytes Seal never made");
  std::string sealed = box->Seal(input, "app/web/webhook_secret");
  auto opened = box->Open(sealed, "app/web/webhook_secret");
  tempa::fuzz::Check(opened.ok() && *opened == input, "a sealed value does not open to itself");
  tempa::fuzz::Check(!box->Open(sealed, "app/web/git_credentials").ok(),
                     "a sealed value opens under another record's associated data");
  return 0;
}
