#include "worker/cli/farm/farm_session.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <istream>
#include <iterator>
#include <ostream>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "common/posix_status.h"

namespace tempa::cli::farm {
namespace {

constexpr char kDefaultCoordinator[] = "127.0.0.1:7070";
constexpr size_t kMaxSecretBytes = 1 << 20;

// The whole file at `path`, at most kMaxSecretBytes.
absl::StatusOr<std::string> ReadSmallFile(const std::string& path) {
  UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
  if (!fd.valid()) return ErrnoStatus(errno, "open", path);
  std::string content;
  char buffer[8192];
  for (;;) {
    ssize_t n = read(fd.get(), buffer, sizeof(buffer));
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read", path);
    if (n == 0) break;
    content.append(buffer, static_cast<size_t>(n));
    if (content.size() > kMaxSecretBytes) {
      return absl::InvalidArgumentError(
          absl::StrCat(path, " is larger than ", kMaxSecretBytes, " bytes"));
    }
  }
  return content;
}

}  // namespace

tempa::v1::ControlService::Stub* Session::Connect() {
  if (stub_) return stub_.get();
  ConnectionOptions options;
  options.timeout = flags_.timeout;
  if (flags_.coordinator) {
    options.address = *flags_.coordinator;
  } else if (auto env = env_.getenv("TEMPA_COORDINATOR"); env && !env->empty()) {
    options.address = *env;
  } else {
    options.address = kDefaultCoordinator;
  }

  std::string token_source;
  std::optional<std::string> token_file = flags_.token_file;
  if (token_file) {
    token_source = absl::StrCat("--token-file ", *token_file);
  } else if (auto env = env_.getenv("TEMPA_TOKEN_FILE"); env && !env->empty()) {
    token_file = *env;
    token_source = absl::StrCat("TEMPA_TOKEN_FILE (", *env, ")");
  }
  if (token_file) {
    absl::StatusOr<std::string> token =
        ReadSecret(flags_.token_file ? "--token-file" : "TEMPA_TOKEN_FILE", *token_file);
    if (!token.ok()) {
      Fail(token.status());
      return nullptr;
    }
    options.token = *token;
  } else if (auto env = env_.getenv("TEMPA_TOKEN"); env && !env->empty()) {
    options.token = std::string(absl::StripAsciiWhitespace(*env));
    token_source = "TEMPA_TOKEN";
  }

  // A header value carries printable ASCII only; a token file with a second line (or a stray
  // control character) would otherwise fail every call with an obscure transport error.
  for (char c : options.token) {
    if (c < 0x20 || c > 0x7e) {
      Fail(absl::InvalidArgumentError(absl::StrCat(
          "the token from ", token_source,
          " holds a character a request header cannot carry (a second line?): put only the "
          "token in it")));
      return nullptr;
    }
  }

  if (flags_.tls_ca) {
    absl::StatusOr<std::string> pem = ReadSmallFile(*flags_.tls_ca);
    if (!pem.ok()) {
      Fail(absl::Status(pem.status().code(),
                        absl::StrCat("read --tls-ca: ", pem.status().message(),
                                     ": pass a PEM file with the CA that signed the "
                                     "coordinator's certificate")));
      return nullptr;
    }
    options.tls_ca_pem = *pem;
    options.tls_server_name = flags_.tls_server_name.value_or("");
  }

  rpc_.address = options.address;
  rpc_.tls = options.tls_ca_pem.has_value();
  rpc_.token_source = token_source;
  rpc_.timeout = options.timeout;
  connection_ = options;
  stub_ = tempa::v1::ControlService::NewStub(MakeControlChannel(options));
  return stub_.get();
}

std::unique_ptr<grpc::ClientContext> Session::Context(bool with_deadline) const {
  return MakeCallContext(connection_, with_deadline);
}

int Session::Fail(const grpc::Status& status, const RpcSubject& subject) {
  err_ << "tempa: " << DescribeRpcError(status, subject, rpc_) << "\n";
  return 1;
}

int Session::Fail(const absl::Status& status) {
  err_ << "tempa: " << status.message() << "\n";
  return 1;
}

int Session::Usage(const std::string& command, const std::string& problem) {
  err_ << "tempa " << command << ": " << problem << "\n" << FarmUsage(command, false);
  return 2;
}

absl::StatusOr<std::string> Session::ReadSecret(const std::string& flag, const std::string& path,
                                                bool verbatim) {
  absl::StatusOr<std::string> content;
  if (path == "-") {
    if (env_.in == nullptr) return absl::InvalidArgumentError(absl::StrCat(flag, " -: no input"));
    content = std::string(std::istreambuf_iterator<char>(*env_.in), {});
  } else {
    content = ReadSmallFile(path);
  }
  if (!content.ok()) {
    return absl::Status(content.status().code(),
                        absl::StrCat("read ", flag, ": ", content.status().message(),
                                     ": pass a file you can read"));
  }
  std::string secret = verbatim ? *content : std::string(absl::StripAsciiWhitespace(*content));
  if (absl::StripAsciiWhitespace(secret).empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, " is empty: put the secret in it (one line)"));
  }
  return secret;
}

}  // namespace tempa::cli::farm
