// Command-line parsing for the `tempa` CLI. Kept apart from main so tests can drive it.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tempa::cli {

struct BuildArgs {
  std::string source_dir;
  std::string image;  // HOST[:PORT]/NAME[:TAG], validated later
  bool json = false;
  std::string cache_dir;  // empty: $XDG_CACHE_HOME/tempa or ~/.cache/tempa
  std::map<std::string, std::string> build_env;
  bool insecure_registry = false;
  std::string go_main;
};

struct DetectArgs {
  std::string source_dir;
  bool json = false;
  std::string go_main;
};

extern const char kUsage[];

// Parses the arguments after `tempa build`. Errors name the bad flag and show the usage line.
absl::StatusOr<BuildArgs> ParseBuildArgs(const std::vector<std::string>& args);
absl::StatusOr<DetectArgs> ParseDetectArgs(const std::vector<std::string>& args);

// $XDG_CACHE_HOME/tempa, else $HOME/.cache/tempa.
std::string DefaultCacheDir();

}  // namespace tempa::cli
