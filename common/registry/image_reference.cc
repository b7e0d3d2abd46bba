#include "common/registry/image_reference.h"

#include <cctype>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tempa::registry {
namespace {

constexpr size_t kMaxNameLength = 255;  // distribution's limit on the repository name
constexpr size_t kMaxTagLength = 128;

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

// path-component := [a-z0-9]+ (separator [a-z0-9]+)*, separator := [_.] | "__" | "-"+
bool IsValidPathComponent(absl::string_view c) {
  if (c.empty() || !IsLowerAlnum(c.front()) || !IsLowerAlnum(c.back())) return false;
  size_t i = 0;
  while (i < c.size()) {
    if (IsLowerAlnum(c[i])) {
      ++i;
      continue;
    }
    size_t j = i;
    while (j < c.size() && !IsLowerAlnum(c[j])) ++j;
    absl::string_view sep = c.substr(i, j - i);
    bool dashes = sep.find_first_not_of('-') == absl::string_view::npos;
    if (!(sep == "_" || sep == "." || sep == "__" || dashes)) return false;
    i = j;
  }
  return true;
}

bool IsValidTag(absl::string_view tag) {
  if (tag.empty() || tag.size() > kMaxTagLength) return false;
  auto word = [](char c) { return std::isalnum(static_cast<unsigned char>(c)) || c == '_'; };
  if (!word(tag[0])) return false;
  for (char c : tag) {
    if (!word(c) && c != '.' && c != '-') return false;
  }
  return true;
}

// Domain components ([a-zA-Z0-9] with inner '-'), dot-separated, or a bracketed IPv6 address;
// then an optional numeric port.
bool IsValidHost(absl::string_view host_port) {
  absl::string_view host = host_port;
  absl::string_view port;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == absl::string_view::npos || close == 1) return false;
    absl::string_view inner = host.substr(1, close - 1);
    for (char c : inner) {
      if (!std::isxdigit(static_cast<unsigned char>(c)) && c != ':' && c != '.') return false;
    }
    absl::string_view rest = host.substr(close + 1);
    if (!rest.empty()) {
      if (rest.front() != ':') return false;
      port = rest.substr(1);
      if (port.empty()) return false;
    }
  } else {
    size_t colon = host.rfind(':');
    if (colon != absl::string_view::npos) {
      port = host.substr(colon + 1);
      host = host.substr(0, colon);
      if (port.empty()) return false;
    }
    if (host.empty()) return false;
    for (absl::string_view label : absl::StrSplit(host, '.')) {
      if (label.empty() || label.front() == '-' || label.back() == '-') return false;
      for (char c : label) {
        if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') return false;
      }
    }
  }
  if (!port.empty()) {
    int n = 0;
    if (!absl::SimpleAtoi(port, &n) || n <= 0 || n > 65535) return false;
  }
  return true;
}

absl::Status BadName(absl::string_view text, absl::string_view why) {
  return absl::InvalidArgumentError(
      absl::StrCat("bad image name \"", text, "\": ", why,
                   "; expected HOST[:PORT]/NAME[:TAG], e.g. 127.0.0.1:5000/hello:latest"));
}

}  // namespace

namespace {

// 127.0.0.0/8 or 0.0.0.0/8 (which connects to this host too), as four decimal octets.
bool IsLocalIpv4(absl::string_view host) {
  std::vector<absl::string_view> octets = absl::StrSplit(host, '.');
  if (octets.size() != 4 || (octets[0] != "127" && octets[0] != "0")) return false;
  for (absl::string_view o : octets) {
    int n = 0;
    if (o.empty() || !absl::SimpleAtoi(o, &n) || n < 0 || n > 255) return false;
  }
  return true;
}

}  // namespace

bool IsLoopbackHost(absl::string_view host_port) {
  absl::string_view host = host_port;
  if (!host.empty() && host.front() == '[') {
    size_t close = host.find(']');
    if (close == absl::string_view::npos) return false;
    std::string v6 = absl::AsciiStrToLower(host.substr(1, close - 1));
    // ::1, the unspecified ::, and IPv4-mapped local addresses (::ffff:127.0.0.1).
    if (v6 == "::1" || v6 == "::" || v6 == "0:0:0:0:0:0:0:1") return true;
    return absl::StartsWith(v6, "::ffff:") && IsLocalIpv4(absl::string_view(v6).substr(7));
  }
  size_t colon = host.rfind(':');
  if (colon != absl::string_view::npos) host = host.substr(0, colon);
  std::string name = absl::AsciiStrToLower(host);
  if (!name.empty() && name.back() == '.') name.pop_back();  // "localhost." is localhost
  // localhost and every name under it (RFC 6761: resolvers, curl included, answer loopback).
  if (name == "localhost" || absl::EndsWith(name, ".localhost")) return true;
  return IsLocalIpv4(name);
}

absl::StatusOr<ImageReference> ImageReference::Parse(absl::string_view text) {
  if (text.empty()) return BadName(text, "empty");
  absl::string_view rest = text;
  ImageReference ref;

  size_t at = rest.find('@');
  if (at != absl::string_view::npos) {
    auto digest = Digest::Parse(rest.substr(at + 1));
    if (!digest.ok()) return BadName(text, "the part after '@' is not a sha256:<64 hex> digest");
    ref.digest_ = *digest;
    rest = rest.substr(0, at);
  }

  size_t slash = rest.find('/');
  if (slash == absl::string_view::npos) {
    return BadName(text, "no registry host (Tempa needs an explicit registry)");
  }
  absl::string_view host = rest.substr(0, slash);
  // Docker's rule: the first component is a host only when it looks like one.
  bool looks_like_host = host.find('.') != absl::string_view::npos ||
                         host.find(':') != absl::string_view::npos || host == "localhost" ||
                         (!host.empty() && host.front() == '[');
  if (!looks_like_host) {
    return BadName(text, absl::StrCat("\"", host,
                                      "\" is not a registry host (a host has a '.', a ':port' "
                                      "or is localhost)"));
  }
  if (!IsValidHost(host))
    return BadName(text, absl::StrCat("invalid registry host \"", host, "\""));
  ref.registry_ = std::string(host);
  rest = rest.substr(slash + 1);

  // A ':' after the last '/' separates the tag.
  size_t last_slash = rest.rfind('/');
  size_t colon = rest.find(':', last_slash == absl::string_view::npos ? 0 : last_slash);
  if (colon != absl::string_view::npos) {
    absl::string_view tag = rest.substr(colon + 1);
    if (!IsValidTag(tag)) {
      return BadName(text, absl::StrCat("invalid tag \"", tag,
                                        "\" (letters, digits, '_', '.', '-'; at most 128, not "
                                        "starting with '.' or '-')"));
    }
    ref.tag_ = std::string(tag);
    rest = rest.substr(0, colon);
  }

  if (rest.empty()) return BadName(text, "missing repository name");
  if (rest.size() > kMaxNameLength) return BadName(text, "repository name longer than 255");
  for (absl::string_view component : absl::StrSplit(rest, '/')) {
    if (!IsValidPathComponent(component)) {
      return BadName(text, absl::StrCat("invalid name component \"", component,
                                        "\" (lowercase letters and digits, separated by '.', "
                                        "'_', '__' or '-')"));
    }
  }
  ref.repository_ = std::string(rest);
  if (ref.tag_.empty() && !ref.digest_) ref.tag_ = "latest";
  return ref;
}

std::string ImageReference::WithDigest(const Digest& digest) const {
  return absl::StrCat(registry_, "/", repository_, "@", digest.ToString());
}

std::string ImageReference::ToString() const {
  std::string out = absl::StrCat(registry_, "/", repository_);
  if (!tag_.empty()) absl::StrAppend(&out, ":", tag_);
  if (digest_) absl::StrAppend(&out, "@", digest_->ToString());
  return out;
}

}  // namespace tempa::registry
