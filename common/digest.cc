#include "common/digest.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "common/posix_status.h"

namespace tempa {
namespace {

bool IsLowerHex(absl::string_view s) {
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

absl::StatusOr<Digest> Digest::Parse(absl::string_view text) {
  constexpr absl::string_view kPrefix = "sha256:";
  if (text.substr(0, kPrefix.size()) != kPrefix) {
    return absl::InvalidArgumentError(
        absl::StrCat("digest \"", text, "\" is not of the form sha256:<64 hex digits>"));
  }
  absl::string_view hex = text.substr(kPrefix.size());
  if (hex.size() != 64 || !IsLowerHex(hex)) {
    return absl::InvalidArgumentError(
        absl::StrCat("digest \"", text, "\" must have 64 lowercase hex digits"));
  }
  Digest d;
  d.hex_ = std::string(hex);
  return d;
}

Digest Digest::FromHex(absl::string_view hex) {
  TEMPA_CHECK(hex.size() == 64 && IsLowerHex(hex), "bad sha256 hex");
  Digest d;
  d.hex_ = std::string(hex);
  return d;
}

struct Sha256::Impl {
  EVP_MD_CTX* ctx = nullptr;
};

Sha256::Sha256() : impl_(std::make_unique<Impl>()) {
  impl_->ctx = EVP_MD_CTX_new();
  TEMPA_CHECK(impl_->ctx != nullptr, "EVP_MD_CTX_new");
  TEMPA_CHECK(EVP_DigestInit_ex(impl_->ctx, EVP_sha256(), nullptr) == 1, "EVP_DigestInit_ex");
}

Sha256::~Sha256() { EVP_MD_CTX_free(impl_->ctx); }

void Sha256::Update(const void* data, size_t size) {
  TEMPA_CHECK(EVP_DigestUpdate(impl_->ctx, data, size) == 1, "EVP_DigestUpdate");
}

Digest Sha256::Finish() {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  TEMPA_CHECK(EVP_DigestFinal_ex(impl_->ctx, out, &len) == 1, "EVP_DigestFinal_ex");
  static constexpr char kHex[] = "0123456789abcdef";
  std::string hex(len * 2, '0');
  for (unsigned int i = 0; i < len; ++i) {
    hex[2 * i] = kHex[out[i] >> 4];
    hex[2 * i + 1] = kHex[out[i] & 0xf];
  }
  return Digest::FromHex(hex);
}

Digest Sha256Of(absl::string_view data) {
  Sha256 h;
  h.Update(data);
  return h.Finish();
}

absl::StatusOr<Digest> Sha256OfFile(const std::string& path, uint64_t* size) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, "open", path);
  return Sha256OfFd(fd.get(), path, size);
}

absl::StatusOr<Digest> Sha256OfFd(int fd, absl::string_view name, uint64_t* size) {
  Sha256 h;
  std::vector<char> buf(1 << 20);
  uint64_t total = 0;
  while (true) {
    ssize_t n = read(fd, buf.data(), buf.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return ErrnoStatus(errno, "read", name);
    }
    if (n == 0) break;
    h.Update(buf.data(), static_cast<size_t>(n));
    total += static_cast<uint64_t>(n);
  }
  if (size != nullptr) *size = total;
  return h.Finish();
}

}  // namespace tempa
