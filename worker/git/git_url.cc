#include "worker/git/git_url.h"

#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"

namespace tempa::worker {
namespace {

bool HasControlChar(absl::string_view s) {
  for (unsigned char c : s) {
    if (c < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// "ext::sh -c ...", "fd::3": git's transport-helper syntax, "<name>::<address>".
bool IsTransportHelper(absl::string_view url) {
  size_t colons = url.find("::");
  if (colons == absl::string_view::npos || colons == 0) return false;
  for (char c : url.substr(0, colons)) {
    if (!absl::ascii_isalnum(c) && c != '+' && c != '-' && c != '.' && c != '_') return false;
  }
  return true;
}

absl::Status Invalid(absl::string_view url, absl::string_view why) {
  return absl::InvalidArgumentError(absl::StrCat("repository URL \"", RedactUrl(url), "\" ", why));
}

}  // namespace

std::string RedactUrl(absl::string_view url) {
  size_t scheme_end = url.find("://");
  if (scheme_end == absl::string_view::npos) return std::string(url);
  size_t authority = scheme_end + 3;
  size_t authority_end = url.find('/', authority);
  if (authority_end == absl::string_view::npos) authority_end = url.size();
  size_t at = url.substr(0, authority_end).rfind('@');
  if (at == absl::string_view::npos || at < authority) return std::string(url);
  absl::string_view userinfo = url.substr(authority, at - authority);
  absl::string_view scheme = url.substr(0, scheme_end);
  std::string kept;
  size_t colon = userinfo.find(':');
  if (colon != absl::string_view::npos) {
    kept = absl::StrCat(userinfo.substr(0, colon), ":***");
  } else if (absl::StartsWithIgnoreCase(scheme, "http")) {
    kept = "***";  // a token given as the user name
  } else {
    kept = std::string(userinfo);
  }
  return absl::StrCat(url.substr(0, authority), kept, url.substr(at));
}

absl::StatusOr<GitUrl> ParseGitUrl(absl::string_view url) {
  if (url.empty()) return absl::InvalidArgumentError("repository URL is empty");
  if (HasControlChar(url)) return Invalid(url, "contains control characters");
  if (url.front() == '-') return Invalid(url, "starts with '-'");
  if (IsTransportHelper(url)) {
    return Invalid(url, "uses a transport helper (\"name::\"), which can run commands");
  }
  GitUrl out;
  if (url.front() == '/') {
    out.scheme = "file";
    out.path = std::string(url);
    return out;
  }
  size_t scheme_end = url.find("://");
  size_t first_slash = url.find('/');
  size_t first_colon = url.find(':');
  if (scheme_end == absl::string_view::npos) {
    // scp-like: [user@]host:path, with no '/' before the ':'.
    if (first_colon == absl::string_view::npos ||
        (first_slash != absl::string_view::npos && first_slash < first_colon)) {
      return Invalid(url,
                     "is neither a URL (scheme://...), an scp-like user@host:path nor an "
                     "absolute path");
    }
    absl::string_view authority = url.substr(0, first_colon);
    size_t at = authority.rfind('@');
    if (at != absl::string_view::npos) {
      out.user = std::string(authority.substr(0, at));
      authority.remove_prefix(at + 1);
    }
    out.scheme = "ssh";
    out.scp_like = true;
    out.host = absl::AsciiStrToLower(authority);
    out.path = std::string(url.substr(first_colon + 1));
  } else {
    out.scheme = absl::AsciiStrToLower(url.substr(0, scheme_end));
    absl::string_view rest = url.substr(scheme_end + 3);
    size_t slash = rest.find('/');
    absl::string_view authority = rest.substr(0, slash);
    out.path = slash == absl::string_view::npos ? "" : std::string(rest.substr(slash));
    size_t at = authority.rfind('@');
    if (at != absl::string_view::npos) {
      absl::string_view userinfo = authority.substr(0, at);
      size_t colon = userinfo.find(':');
      out.user = std::string(userinfo.substr(0, colon));
      if (colon != absl::string_view::npos) out.password = std::string(userinfo.substr(colon + 1));
      authority.remove_prefix(at + 1);
    }
    // host[:port], or [v6]:port.
    size_t port_colon = authority.rfind(':');
    if (port_colon != absl::string_view::npos &&
        authority.find(']', port_colon) == authority.npos) {
      out.port = std::string(authority.substr(port_colon + 1));
      authority = authority.substr(0, port_colon);
    }
    out.host = absl::AsciiStrToLower(authority);
    if (out.scheme == "file") {
      if (!out.host.empty() && out.host != "localhost") {
        return Invalid(url, "names a file on another host");
      }
      out.host.clear();
      if (out.path.empty()) return Invalid(url, "has no path");
      return out;
    }
    if (out.scheme != "https" && out.scheme != "http" && out.scheme != "git" &&
        out.scheme != "ssh") {
      return Invalid(url, "has an unsupported scheme (use https, http, git, ssh or file)");
    }
    for (char c : out.port) {
      if (!absl::ascii_isdigit(c)) return Invalid(url, "has a bad port");
    }
  }
  if (out.host.empty()) return Invalid(url, "has no host");
  if (out.host.front() == '-') return Invalid(url, "has a host starting with '-'");
  if (out.user.size() > 0 && out.user.front() == '-') {
    return Invalid(url, "has a user starting with '-'");
  }
  if (!out.path.empty() && out.path.front() == '-') {
    return Invalid(url, "has a path starting with '-'");
  }
  return out;
}

std::string NormalizedUrl(const GitUrl& url) {
  if (url.local()) return absl::StrCat("file://", url.path);
  std::string port = url.port;
  if ((url.scheme == "https" && port == "443") || (url.scheme == "http" && port == "80") ||
      (url.scheme == "git" && port == "9418") || (url.scheme == "ssh" && port == "22")) {
    port.clear();
  }
  absl::string_view path = url.path;
  while (absl::ConsumeSuffix(&path, "/")) {
  }
  absl::ConsumeSuffix(&path, ".git");
  while (absl::ConsumeSuffix(&path, "/")) {
  }
  std::string slash = absl::StartsWith(path, "/") ? "" : "/";
  return absl::StrCat(url.scheme, "://", url.host, port.empty() ? "" : ":", port, slash, path);
}

absl::StatusOr<std::string> ResolveSubmoduleUrl(absl::string_view parent_url,
                                                absl::string_view submodule_url) {
  auto refuse = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("submodule URL \"", RedactUrl(submodule_url), "\" is refused: ", why));
  };
  if (submodule_url.empty()) return refuse("it is empty");
  if (HasControlChar(submodule_url)) return refuse("it contains control characters");
  if (submodule_url.front() == '-') return refuse("it starts with '-'");
  if (IsTransportHelper(submodule_url)) {
    return refuse("transport helpers (ext::, fd::) can run commands");
  }
  auto parent = ParseGitUrl(parent_url);
  if (!parent.ok()) return parent.status();

  std::string resolved;
  if (absl::StartsWith(submodule_url, "./") || absl::StartsWith(submodule_url, "../")) {
    // As git's relative_url(): each "../" drops one component of the parent URL.
    std::string base(parent_url);
    while (absl::EndsWith(base, "/")) base.pop_back();
    // The part of the URL components may be dropped from (after scheme://authority, or the
    // scp-like host:).
    size_t floor = 0;
    char separator = '/';
    if (size_t s = base.find("://"); s != std::string::npos) {
      size_t slash = base.find('/', s + 3);
      floor = slash == std::string::npos ? base.size() : slash;
    } else if (parent->scp_like) {
      floor = base.find(':') + 1;
    }
    absl::string_view rest = submodule_url;
    while (true) {
      if (absl::ConsumePrefix(&rest, "./")) continue;
      if (absl::ConsumePrefix(&rest, "../")) {
        size_t cut = base.rfind('/');
        if (cut == std::string::npos || cut < floor) {
          if (parent->scp_like && base.size() > floor) {
            cut = floor;  // "host:repo" + "../x" -> "host:x"
            separator = ':';
            base.resize(cut - 1);
            continue;
          }
          return refuse("it climbs above the parent repository's host");
        }
        base.resize(cut);
        continue;
      }
      break;
    }
    resolved = absl::StrCat(base, std::string(1, separator), rest);
  } else {
    resolved = std::string(submodule_url);
  }
  auto parsed = ParseGitUrl(resolved);
  if (!parsed.ok()) return refuse(parsed.status().message());
  if (parsed->local() && !parent->local()) {
    return refuse("a local path or file:// is only allowed when the parent repository is local");
  }
  return resolved;
}

}  // namespace tempa::worker
