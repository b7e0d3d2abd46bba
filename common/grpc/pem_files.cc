#include "common/grpc/pem_files.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/crypto/private_file.h"
#include "common/posix_status.h"

namespace tempa::rpc {
namespace {

constexpr size_t kMaxPemBytes = 1 << 20;

}  // namespace

absl::StatusOr<std::string> ReadCertificatePem(const std::string& path, absl::string_view what) {
  UniqueFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY));
  if (!fd.valid()) return ErrnoStatus(errno, absl::StrCat("open ", what), path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "fstat", path);
  if (!S_ISREG(st.st_mode)) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", path, " is not a regular file"));
  }
  if (static_cast<uint64_t>(st.st_size) > kMaxPemBytes) {
    return absl::InvalidArgumentError(absl::StrCat(what, " ", path, " is larger than 1 MiB"));
  }
  std::string pem(static_cast<size_t>(st.st_size), '\0');
  size_t used = 0;
  while (used < pem.size()) {
    ssize_t n = ::read(fd.get(), pem.data() + used, pem.size() - used);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read", path);
    if (n == 0) break;
    used += static_cast<size_t>(n);
  }
  pem.resize(used);
  if (!absl::StrContains(pem, "-----BEGIN CERTIFICATE-----")) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " ", path, " holds no PEM certificate (-----BEGIN CERTIFICATE-----)"));
  }
  return pem;
}

absl::StatusOr<std::string> ReadPrivateKeyPem(const std::string& path, absl::string_view what) {
  crypto::PrivateFileRules rules;
  rules.what = std::string(what);
  rules.max_bytes = kMaxPemBytes;
  rules.allow_group_read = true;
  absl::StatusOr<std::string> pem = crypto::ReadPrivateFile(path, rules);
  if (!pem.ok()) return pem.status();
  if (!absl::StrContains(*pem, "-----BEGIN ") || !absl::StrContains(*pem, "PRIVATE KEY-----")) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " ", path, " holds no PEM private key (-----BEGIN ... PRIVATE KEY-----)"));
  }
  return pem;
}

}  // namespace tempa::rpc
