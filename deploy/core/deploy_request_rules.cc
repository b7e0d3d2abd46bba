#include "deploy/core/deploy_request_rules.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "deploy/core/deploy_settings.h"
#include "deploy/core/hosts.h"

namespace tempa::deploy {
namespace {

constexpr size_t kMaxIdLength = 128;
constexpr size_t kMaxEnvName = 256;
constexpr size_t kMaxEnvValue = 64 * 1024;
constexpr size_t kMaxEnvCount = 256;

std::string Quoted(absl::string_view text) {
  return absl::StrCat("\"", absl::CEscape(text.substr(0, 100)), text.size() > 100 ? "…" : "", "\"");
}

bool IsLowerHex(char c) { return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'f'); }

}  // namespace

absl::Status CheckDeployId(absl::string_view id) {
  bool ok =
      !id.empty() && id.size() <= kMaxIdLength && std::all_of(id.begin(), id.end(), [](char c) {
        return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.';
      });
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "deploy.id ", Quoted(id),
      " is not a deploy id: give 1-128 letters, digits, '.', '_' or '-', e.g. d-b-12"));
}

absl::Status CheckImageByDigest(absl::string_view image) {
  size_t at = image.rfind("@sha256:");
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("deploy.image ", Quoted(image), " ", why,
                     ": give the image by digest, HOST:PORT/REPO@sha256:<64 hex digits>"));
  };
  if (at == absl::string_view::npos || at == 0) return bad("is not by digest");
  absl::string_view hex = image.substr(at + 8);
  if (hex.size() != 64 || !std::all_of(hex.begin(), hex.end(), IsLowerHex)) {
    return bad("has a digest that is not 64 lowercase hex digits");
  }
  absl::string_view name = image.substr(0, at);
  if (std::any_of(name.begin(), name.end(),
                  [](char c) { return static_cast<unsigned char>(c) <= ' ' || c == 0x7f; })) {
    return bad("has a space or a control character in its name");
  }
  return absl::OkStatus();
}

absl::Status CheckCommitHex(absl::string_view commit) {
  if (commit.size() >= 7 && commit.size() <= 64 &&
      std::all_of(commit.begin(), commit.end(), IsLowerHex)) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      absl::StrCat("deploy.commit ", Quoted(commit),
                   " is not a commit id: give the full lowercase hexadecimal SHA"));
}

absl::Status CheckEnvName(absl::string_view name) {
  bool ok = !name.empty() && name.size() <= kMaxEnvName && !absl::ascii_isdigit(name.front()) &&
            std::all_of(name.begin(), name.end(),
                        [](char c) { return absl::ascii_isalnum(c) || c == '_'; });
  if (ok) return absl::OkStatus();
  return absl::InvalidArgumentError(
      absl::StrCat("env name ", Quoted(name),
                   " is not a variable name: use letters, digits and '_', not starting with a "
                   "digit, e.g. DATABASE_URL"));
}

absl::Status CheckDeployRequest(const tempa::v1::DeployRequest& request) {
  const tempa::v1::Deploy& deploy = request.deploy();
  if (absl::Status s = CheckDeployId(deploy.id()); !s.ok()) return s;
  if (absl::Status s = CheckAppLabel(deploy.app()); !s.ok()) return s;
  if (absl::Status s = CheckImageByDigest(deploy.image()); !s.ok()) return s;
  if (absl::Status s = CheckCommitHex(deploy.commit()); !s.ok()) return s;
  if (!deploy.production() && deploy.branch().empty()) {
    return absl::InvalidArgumentError(
        "deploy.branch is empty for a preview deploy: give the branch the commit is on, or set "
        "deploy.production for the app's production branch");
  }
  if (deploy.branch().size() > 1024) {
    return absl::InvalidArgumentError("deploy.branch is longer than 1024 characters");
  }
  if (absl::StatusOr<RunSettings> s = ResolveSettings(deploy.settings()); !s.ok()) {
    return s.status();
  }
  if (request.env_size() > static_cast<int>(kMaxEnvCount)) {
    return absl::InvalidArgumentError(
        absl::StrCat("env has ", request.env_size(), " variables: keep it to 256 at most"));
  }
  for (const auto& [name, value] : request.env()) {
    if (absl::Status s = CheckEnvName(name); !s.ok()) return s;
    // The value is secret: the message names the variable, never its value.
    if (value.size() > kMaxEnvValue || absl::StrContains(value, absl::string_view("\0", 1))) {
      return absl::InvalidArgumentError(
          absl::StrCat("env ", name, ": its value is over 64 KiB or holds a NUL byte"));
    }
  }
  return absl::OkStatus();
}

}  // namespace tempa::deploy
