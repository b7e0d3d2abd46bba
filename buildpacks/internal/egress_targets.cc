#include "buildpacks/internal/egress_targets.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/status_macros.h"

namespace tempa::buildpacks::internal {
namespace {

constexpr char kAllowHosts[] = "TEMPA_ALLOW_HOSTS";
constexpr char kSpaces[] = " \t\r\n";

void AddUnique(std::vector<NetworkTarget>& out, const NetworkTarget& t) {
  if (std::find(out.begin(), out.end(), t) == out.end()) out.push_back(t);
}

absl::Status AddUrls(const BuildEnv& env, const std::string& name, absl::string_view separators,
                     bool skip_paths, std::vector<NetworkTarget>& out) {
  auto it = env.find(name);
  if (it == env.end()) return absl::OkStatus();
  for (absl::string_view item : absl::StrSplit(it->second, absl::ByAnyChar(separators),
                                               absl::SkipWhitespace())) {
    item = absl::StripAsciiWhitespace(item);
    // A local directory or file:// URL needs no network.
    if (absl::StartsWithIgnoreCase(item, "file:") || (skip_paths && !absl::StrContains(item, "://"))) {
      continue;
    }
    absl::StatusOr<NetworkTarget> t = TargetOfUrl(std::string(item));
    if (!t.ok()) return Annotate(t.status(), name);
    AddUnique(out, *t);
  }
  return absl::OkStatus();
}

// TEMPA_ALLOW_HOSTS: URLs or host:port, separated by commas or spaces.
absl::Status AddAllowHosts(const BuildEnv& env, std::vector<NetworkTarget>& out) {
  auto it = env.find(kAllowHosts);
  if (it == env.end()) return absl::OkStatus();
  for (absl::string_view item :
       absl::StrSplit(it->second, absl::ByAnyChar(", "), absl::SkipWhitespace())) {
    std::string text(item);
    if (!absl::StrContains(text, "://")) text = "tcp://" + text;
    absl::StatusOr<NetworkTarget> t = TargetOfUrl(text);
    if (!t.ok() || t->port == 0) {  // tcp://host without a port
      return absl::InvalidArgumentError(absl::StrCat(
          kAllowHosts, ": \"", item, "\" is not HOST:PORT or a URL (e.g. git.example.com:443)"));
    }
    AddUnique(out, *t);
  }
  return absl::OkStatus();
}

}  // namespace

bool IsEgressVariable(absl::string_view key) {
  for (absl::string_view name : {"PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL", "PIP_FIND_LINKS",
                                 "GOPROXY", "GOSUMDB", "CARGO_NET_OFFLINE", kAllowHosts}) {
    if (key == name) return true;
  }
  return (absl::StartsWith(key, "CARGO_REGISTRIES_") && absl::EndsWith(key, "_INDEX")) ||
         (absl::StartsWith(key, "CARGO_SOURCE_") && absl::EndsWith(key, "_REGISTRY"));
}

absl::StatusOr<NetworkTarget> TargetOfUrl(const std::string& url) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("\"", url, "\" is not a usable URL: ", why));
  };
  absl::string_view rest = url;
  for (absl::string_view prefix : {"sparse+", "git+", "registry+"}) absl::ConsumePrefix(&rest, prefix);
  size_t scheme_end = rest.find("://");
  if (scheme_end == absl::string_view::npos) return bad("no scheme (https://...)");
  std::string scheme = absl::AsciiStrToLower(rest.substr(0, scheme_end));
  rest.remove_prefix(scheme_end + 3);
  absl::string_view authority = rest.substr(0, rest.find_first_of("/?#"));
  size_t at = authority.rfind('@');
  if (at != absl::string_view::npos) authority.remove_prefix(at + 1);
  NetworkTarget t;
  absl::string_view port_text;
  if (absl::StartsWith(authority, "[")) {
    size_t close = authority.find(']');
    if (close == absl::string_view::npos) return bad("unclosed [");
    t.host = std::string(authority.substr(1, close - 1));
    if (authority.size() > close + 1 && authority[close + 1] == ':') {
      port_text = authority.substr(close + 2);
    }
  } else {
    size_t colon = authority.rfind(':');
    t.host = std::string(authority.substr(0, colon));
    if (colon != absl::string_view::npos) port_text = authority.substr(colon + 1);
  }
  if (t.host.empty()) return bad("no host");
  if (!port_text.empty()) {
    if (!absl::SimpleAtoi(port_text, &t.port) || t.port <= 0 || t.port > 65535) {
      return bad("bad port");
    }
  } else if (scheme == "http") {
    t.port = 80;
  } else if (scheme == "https") {
    t.port = 443;
  } else if (scheme == "ssh") {
    t.port = 22;
  } else if (scheme != "tcp") {
    return bad(absl::StrCat("no port, and none is implied by ", scheme, "://"));
  }
  return t;
}

absl::StatusOr<std::vector<NetworkTarget>> PipEgress(const BuildEnv& env) {
  std::vector<NetworkTarget> out;
  RETURN_IF_ERROR(AddUrls(env, "PIP_INDEX_URL", kSpaces, false, out));
  RETURN_IF_ERROR(AddUrls(env, "PIP_EXTRA_INDEX_URL", kSpaces, false, out));
  RETURN_IF_ERROR(AddUrls(env, "PIP_FIND_LINKS", kSpaces, true, out));
  if (!out.empty()) RETURN_IF_ERROR(AddAllowHosts(env, out));
  return out;
}

absl::StatusOr<std::vector<NetworkTarget>> GoEgress(const BuildEnv& env) {
  std::vector<NetworkTarget> out;
  auto proxy = env.find("GOPROXY");
  if (proxy == env.end()) return out;
  for (absl::string_view item : absl::StrSplit(proxy->second, absl::ByAnyChar(",|"),
                                               absl::SkipWhitespace())) {
    if (item == "direct" || item == "off" || absl::StartsWithIgnoreCase(item, "file:")) continue;
    absl::StatusOr<NetworkTarget> t = TargetOfUrl(std::string(item));
    if (!t.ok()) return Annotate(t.status(), "GOPROXY");
    AddUnique(out, *t);
  }
  if (out.empty()) return out;
  // Go checks modules missing from go.sum against the checksum database.
  auto sumdb = env.find("GOSUMDB");
  std::string db = sumdb == env.end() ? "sum.golang.org" : sumdb->second;
  if (db != "off") {
    // "name", "name+key" or "name+key url".
    std::vector<std::string> parts = absl::StrSplit(db, ' ', absl::SkipWhitespace());
    if (parts.size() > 1) {
      absl::StatusOr<NetworkTarget> t = TargetOfUrl(parts[1]);
      if (!t.ok()) return Annotate(t.status(), "GOSUMDB");
      AddUnique(out, *t);
    } else if (!parts.empty()) {
      AddUnique(out, {parts[0].substr(0, parts[0].find('+')), 443});
    }
  }
  RETURN_IF_ERROR(AddAllowHosts(env, out));
  return out;
}

absl::StatusOr<std::vector<NetworkTarget>> CargoEgress(const BuildEnv& env) {
  std::vector<NetworkTarget> out;
  for (const auto& [key, value] : env) {
    // Named registries, and source replacement (CARGO_SOURCE_<NAME>_REGISTRY).
    if ((absl::StartsWith(key, "CARGO_REGISTRIES_") && absl::EndsWith(key, "_INDEX")) ||
        (absl::StartsWith(key, "CARGO_SOURCE_") && absl::EndsWith(key, "_REGISTRY"))) {
      absl::StatusOr<NetworkTarget> t = TargetOfUrl(value);
      if (!t.ok()) return Annotate(t.status(), key);
      AddUnique(out, *t);
    }
  }
  auto offline = env.find("CARGO_NET_OFFLINE");
  if (offline != env.end() && (offline->second == "false" || offline->second == "0")) {
    AddUnique(out, {"index.crates.io", 443});
    AddUnique(out, {"static.crates.io", 443});
  }
  if (!out.empty()) RETURN_IF_ERROR(AddAllowHosts(env, out));
  return out;
}

}  // namespace tempa::buildpacks::internal
