#include "common/crypto/secret_box.h"

#include <fcntl.h>
#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/rand.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "common/crypto/private_file.h"
#include "common/posix_status.h"

namespace tempa::crypto {
namespace {

struct CipherCtxFree {
  void operator()(EVP_CIPHER_CTX* ctx) const { EVP_CIPHER_CTX_free(ctx); }
};
using CipherCtx = std::unique_ptr<EVP_CIPHER_CTX, CipherCtxFree>;

// Zeroes a string's bytes when it goes out of scope (key material read from a file).
class CleansedString {
 public:
  explicit CleansedString(std::string s) : s_(std::move(s)) {}
  ~CleansedString() { OPENSSL_cleanse(s_.data(), s_.size()); }
  CleansedString(const CleansedString&) = delete;
  CleansedString& operator=(const CleansedString&) = delete;
  std::string& get() { return s_; }

 private:
  std::string s_;
};

bool IsHex(absl::string_view s) {
  for (char c : s) {
    if (!absl::ascii_isxdigit(static_cast<unsigned char>(c))) return false;
  }
  return true;
}

uint8_t HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  return absl::ascii_tolower(static_cast<unsigned char>(c)) - 'a' + 10;
}

// EVP_CipherUpdate over `size` bytes in chunks an int can count (AAD when out is null).
bool CipherUpdate(EVP_CIPHER_CTX* ctx, unsigned char* out, const void* in, size_t size) {
  const auto* from = static_cast<const unsigned char*>(in);
  constexpr size_t kChunk = size_t{1} << 30;
  while (size > 0) {
    int n = static_cast<int>(std::min(size, kChunk));
    int len = 0;
    if (EVP_CipherUpdate(ctx, out, &len, from, n) != 1) return false;
    if (out != nullptr) out += len;
    from += n;
    size -= static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

absl::StatusOr<SecretBox> SecretBox::FromKey(absl::string_view key) {
  if (key.size() != kKeySize) {
    return absl::InvalidArgumentError(
        absl::StrCat("an AES-256 key is ", kKeySize, " bytes, not ", key.size()));
  }
  SecretBox box;
  std::copy(key.begin(), key.end(), box.key_.begin());
  return box;
}

absl::StatusOr<SecretBox> SecretBox::FromKeyFile(const std::string& path) {
  PrivateFileRules rules;
  rules.what = "key file";
  rules.max_bytes = 4096;
  absl::StatusOr<std::string> read = ReadPrivateFile(path, rules);
  if (!read.ok()) return read.status();
  CleansedString contents(std::move(*read));
  absl::string_view text = contents.get();
  if (text.size() == kKeySize) return FromKey(text);  // raw bytes

  while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.remove_suffix(1);
  if (text.size() == 2 * kKeySize && IsHex(text)) {
    std::array<uint8_t, kKeySize> raw;
    for (size_t i = 0; i < kKeySize; ++i) {
      raw[i] = static_cast<uint8_t>(HexValue(text[2 * i]) << 4 | HexValue(text[2 * i + 1]));
    }
    absl::StatusOr<SecretBox> box =
        FromKey(absl::string_view(reinterpret_cast<const char*>(raw.data()), raw.size()));
    OPENSSL_cleanse(raw.data(), raw.size());
    return box;
  }
  CleansedString decoded("");
  if (absl::Base64Unescape(text, &decoded.get()) && decoded.get().size() == kKeySize) {
    return FromKey(decoded.get());
  }
  return absl::InvalidArgumentError(
      absl::StrCat("key file ", path,
                   " holds no 32-byte key: want 32 raw bytes, 64 hex digits or base64 of "
                   "32 bytes (make one with: (umask 077; openssl rand -hex 32 > ",
                   path, "))"));
}

absl::Status SecretBox::GenerateKeyFile(const std::string& path) {
  std::array<uint8_t, kKeySize> raw;
  if (RAND_bytes(raw.data(), raw.size()) != 1) {
    return absl::InternalError("generate key: OpenSSL RAND_bytes failed");
  }
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string hex;
  hex.reserve(2 * kKeySize + 1);
  for (uint8_t b : raw) {
    hex.push_back(kDigits[b >> 4]);
    hex.push_back(kDigits[b & 0xf]);
  }
  hex.push_back('\n');
  OPENSSL_cleanse(raw.data(), raw.size());
  CleansedString guard(std::move(hex));

  UniqueFd fd(::open(path.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!fd.valid()) return ErrnoStatus(errno, "create key file", path);
  // The umask cannot widen 0600, but a file created through an ACL'd directory could differ.
  if (::fchmod(fd.get(), 0600) != 0) return ErrnoStatus(errno, "chmod 600", path);
  absl::string_view rest = guard.get();
  while (!rest.empty()) {
    ssize_t n = ::write(fd.get(), rest.data(), rest.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      absl::Status status = ErrnoStatus(errno, "write key file", path);
      ::unlink(path.c_str());
      return status;
    }
    rest.remove_prefix(static_cast<size_t>(n));
  }
  if (::fsync(fd.get()) != 0) {
    absl::Status status = ErrnoStatus(errno, "fsync key file", path);
    ::unlink(path.c_str());
    return status;
  }
  return absl::OkStatus();
}

SecretBox::SecretBox(SecretBox&& other) noexcept : key_(other.key_) {
  OPENSSL_cleanse(other.key_.data(), other.key_.size());
}

SecretBox& SecretBox::operator=(SecretBox&& other) noexcept {
  if (this != &other) {
    key_ = other.key_;
    OPENSSL_cleanse(other.key_.data(), other.key_.size());
  }
  return *this;
}

SecretBox::~SecretBox() { OPENSSL_cleanse(key_.data(), key_.size()); }

std::string SecretBox::Seal(absl::string_view plaintext, absl::string_view associated_data) const {
  std::string sealed(kOverhead + plaintext.size(), '\0');
  auto* out = reinterpret_cast<unsigned char*>(sealed.data());
  out[0] = kVersion;
  unsigned char* nonce = out + 1;
  unsigned char* ciphertext = nonce + kNonceSize;
  unsigned char* tag = ciphertext + plaintext.size();
  TEMPA_CHECK(RAND_bytes(nonce, kNonceSize) == 1, "OpenSSL RAND_bytes failed");

  CipherCtx ctx(EVP_CIPHER_CTX_new());
  TEMPA_CHECK(ctx != nullptr, "EVP_CIPHER_CTX_new failed");
  int len = 0;
  TEMPA_CHECK(EVP_EncryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1,
              "EVP_EncryptInit_ex");
  TEMPA_CHECK(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) == 1,
              "set GCM nonce length");
  TEMPA_CHECK(EVP_EncryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), nonce) == 1,
              "EVP_EncryptInit_ex key");
  // Associated data: the version byte, then the caller's.
  TEMPA_CHECK(CipherUpdate(ctx.get(), nullptr, out, 1), "GCM AAD");
  TEMPA_CHECK(CipherUpdate(ctx.get(), nullptr, associated_data.data(), associated_data.size()),
              "GCM AAD");
  TEMPA_CHECK(CipherUpdate(ctx.get(), ciphertext, plaintext.data(), plaintext.size()),
              "GCM encrypt");
  TEMPA_CHECK(EVP_EncryptFinal_ex(ctx.get(), ciphertext + plaintext.size(), &len) == 1,
              "GCM final");
  TEMPA_CHECK(EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_GET_TAG, kTagSize, tag) == 1, "GCM tag");
  return sealed;
}

absl::StatusOr<std::string> SecretBox::Open(absl::string_view sealed,
                                            absl::string_view associated_data) const {
  if (sealed.size() < kOverhead) {
    return absl::InvalidArgumentError(absl::StrCat("sealed value is ", sealed.size(),
                                                   " bytes, shorter than the ", kOverhead,
                                                   " every sealed value has"));
  }
  const auto* in = reinterpret_cast<const unsigned char*>(sealed.data());
  if (in[0] != kVersion) {
    return absl::InvalidArgumentError(
        absl::StrCat("sealed value has version ", in[0], ", this build knows ", kVersion));
  }
  const unsigned char* nonce = in + 1;
  const unsigned char* ciphertext = nonce + kNonceSize;
  size_t ciphertext_size = sealed.size() - kOverhead;
  const unsigned char* tag = ciphertext + ciphertext_size;
  std::string plaintext(ciphertext_size, '\0');
  auto* out = reinterpret_cast<unsigned char*>(plaintext.data());
  CipherCtx ctx(EVP_CIPHER_CTX_new());
  TEMPA_CHECK(ctx != nullptr, "EVP_CIPHER_CTX_new failed");
  int len = 0;
  bool ok = EVP_DecryptInit_ex(ctx.get(), EVP_aes_256_gcm(), nullptr, nullptr, nullptr) == 1 &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_IVLEN, kNonceSize, nullptr) == 1 &&
            EVP_DecryptInit_ex(ctx.get(), nullptr, nullptr, key_.data(), nonce) == 1 &&
            CipherUpdate(ctx.get(), nullptr, in, 1) &&
            CipherUpdate(ctx.get(), nullptr, associated_data.data(), associated_data.size()) &&
            CipherUpdate(ctx.get(), out, ciphertext, ciphertext_size) &&
            EVP_CIPHER_CTX_ctrl(ctx.get(), EVP_CTRL_GCM_SET_TAG, kTagSize,
                                const_cast<unsigned char*>(tag)) == 1 &&
            EVP_DecryptFinal_ex(ctx.get(), out + ciphertext_size, &len) == 1;
  if (!ok) {
    OPENSSL_cleanse(plaintext.data(), plaintext.size());
    return absl::DataLossError(
        "sealed value does not open: it was altered, sealed with another key, or belongs to "
        "another record");
  }
  return plaintext;
}

}  // namespace tempa::crypto
