// The hosts a build step may reach, read from the build env the user gave: the package indexes,
// module proxies and registries it names, plus TEMPA_ALLOW_HOSTS for anything else (a mirror of
// a mirror, a git host). Everything else stays out of the sandbox's reach.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "common/sandbox/sandbox.h"

namespace tempa::buildpacks::internal {

using BuildEnv = std::map<std::string, std::string>;

// PIP_INDEX_URL, PIP_EXTRA_INDEX_URL and PIP_FIND_LINKS (URLs only; paths are skipped).
absl::StatusOr<std::vector<NetworkTarget>> PipEgress(const BuildEnv& env);
// GOPROXY's proxies (not "direct" or "off") and GOSUMDB's server unless it is "off".
absl::StatusOr<std::vector<NetworkTarget>> GoEgress(const BuildEnv& env);
// CARGO_REGISTRIES_<NAME>_INDEX, CARGO_SOURCE_<NAME>_REGISTRY, and crates.io when
// CARGO_NET_OFFLINE is false/0.
absl::StatusOr<std::vector<NetworkTarget>> CargoEgress(const BuildEnv& env);

// Whether `key` can widen what a build step reaches (the variables above, GOSUMDB,
// CARGO_NET_OFFLINE, TEMPA_ALLOW_HOSTS). Only the operator may set these: a repository's
// tempa.toml may not, or a hostile repository could open the worker's own network to itself.
bool IsEgressVariable(absl::string_view key);

// The host and port of a URL ("https://user@host:8443/simple" → host:8443; scheme defaults:
// http 80, https 443; "sparse+" and "git+" prefixes are dropped). InvalidArgument otherwise.
absl::StatusOr<NetworkTarget> TargetOfUrl(const std::string& url);

}  // namespace tempa::buildpacks::internal
