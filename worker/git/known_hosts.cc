#include "worker/git/known_hosts.h"

#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tempa::worker {
namespace {

bool Glob(absl::string_view pattern, absl::string_view text) {
  if (pattern.empty()) return text.empty();
  if (pattern.front() == '*') {
    for (size_t i = 0; i <= text.size(); ++i) {
      if (Glob(pattern.substr(1), text.substr(i))) return true;
    }
    return false;
  }
  if (text.empty()) return false;
  if (pattern.front() != '?' &&
      absl::ascii_tolower(pattern.front()) != absl::ascii_tolower(text.front())) {
    return false;
  }
  return Glob(pattern.substr(1), text.substr(1));
}

// |1|base64(salt)|base64(HMAC-SHA1(salt, name))
bool HashedMatch(absl::string_view pattern, absl::string_view name) {
  std::vector<absl::string_view> parts = absl::StrSplit(pattern.substr(3), '|');
  if (parts.size() != 2) return false;
  std::string salt, hash;
  if (!absl::Base64Unescape(parts[0], &salt) || !absl::Base64Unescape(parts[1], &hash)) {
    return false;
  }
  unsigned char mac[EVP_MAX_MD_SIZE];
  unsigned int mac_len = 0;
  if (HMAC(EVP_sha1(), salt.data(), static_cast<int>(salt.size()),
           reinterpret_cast<const unsigned char*>(name.data()), name.size(), mac,
           &mac_len) == nullptr) {
    return false;
  }
  return absl::string_view(reinterpret_cast<const char*>(mac), mac_len) == hash;
}

// Whether the comma-separated `patterns` field names `name`; a matching negated pattern wins.
bool HostsMatch(absl::string_view patterns, absl::string_view name) {
  if (absl::StartsWith(patterns, "|1|")) return HashedMatch(patterns, name);
  bool matched = false;
  for (absl::string_view p : absl::StrSplit(patterns, ',')) {
    bool negated = absl::ConsumePrefix(&p, "!");
    if (Glob(p, name)) {
      if (negated) return false;
      matched = true;
    }
  }
  return matched;
}

}  // namespace

absl::Status CheckKnownHost(absl::string_view known_hosts, absl::string_view host,
                            absl::string_view port, absl::string_view key_blob) {
  std::string name =
      (port.empty() || port == "22") ? std::string(host) : absl::StrCat("[", host, "]:", port);
  bool revoked = false;
  bool accepted = false;
  bool host_known = false;
  for (absl::string_view line : absl::StrSplit(known_hosts, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    std::string marker;
    if (!fields.empty() && fields[0].front() == '@') {
      marker = std::string(fields[0]);
      fields.erase(fields.begin());
    }
    if (fields.size() < 3 || marker == "@cert-authority") continue;
    if (!HostsMatch(fields[0], name)) continue;
    std::string blob;
    if (!absl::Base64Unescape(fields[2], &blob)) continue;
    host_known = true;
    if (blob != key_blob) continue;
    if (marker == "@revoked")
      revoked = true;
    else if (marker.empty())
      accepted = true;
  }
  if (revoked) {
    return absl::UnauthenticatedError(
        absl::StrCat("the SSH host key of ", name, " is marked @revoked in known_hosts"));
  }
  if (accepted) return absl::OkStatus();
  if (host_known) {
    return absl::UnauthenticatedError(absl::StrCat(
        "the SSH host key of ", name,
        " does not match known_hosts (the key changed, or someone is in the middle); fix "
        "known_hosts for the app if the change is expected"));
  }
  return absl::UnauthenticatedError(
      absl::StrCat("no known_hosts line for ", name,
                   ": add the host's key to the app's ssh_known_hosts (ssh-keyscan ", host,
                   ") before fetching over SSH"));
}

}  // namespace tempa::worker
