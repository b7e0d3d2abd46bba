// Command-line parsing for the `tempa` CLI. Kept apart from main so tests can drive it.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"

namespace tempa::cli {

struct BuildArgs {
  std::string source_dir;
  std::string image;  // HOST[:PORT]/NAME[:TAG], validated later
  bool json = false;
  std::string cache_dir;  // empty: $XDG_CACHE_HOME/tempa or ~/.cache/tempa
  std::map<std::string, std::string> build_env;
  bool insecure_registry = false;
  std::string go_main;
  std::string run_image;  // base image to build onto instead of the buildpack's run base
  std::string start;      // --start: the operator's start command, over the repository's
  // --env K=V: the image config's Env (names checked, PORT refused); wins over --env-file.
  std::map<std::string, std::string> runtime_env;
  std::vector<std::string> env_files;  // --env-file F, read when the build runs
  // Sandbox limits for the build steps; 0 / zero duration = the default.
  uint64_t memory_bytes = 0;
  absl::Duration timeout = absl::ZeroDuration();
  int max_processes = 0;
  uint64_t max_output_bytes = 0;
  uint64_t max_file_bytes = 0;
};

struct DetectArgs {
  std::string source_dir;
  bool json = false;
  std::string go_main;
  std::string start;  // --start, as for `tempa build`
  // As for `tempa build`: the operator's build env, which tempa.toml may not override.
  std::map<std::string, std::string> build_env;
};

// The usage lines of build and detect.
extern const char kUsage[];

// The usage and flags of "build" or "detect", for `tempa help CMD` and `tempa CMD --help`;
// "" for another command.
std::string CommandHelp(absl::string_view command);

// Parses the arguments after `tempa build`. Errors name the bad flag and show the usage line.
absl::StatusOr<BuildArgs> ParseBuildArgs(const std::vector<std::string>& args);
absl::StatusOr<DetectArgs> ParseDetectArgs(const std::vector<std::string>& args);

// "512m", "2g", "1048576" → bytes (k, m, g are powers of 1024).
absl::StatusOr<uint64_t> ParseByteSize(absl::string_view text);

// DIR made absolute and normal, without a trailing slash: the source directory both commands
// resolve the app from, so their paths and messages match.
std::string AbsoluteSourceDir(const std::string& dir);

// $XDG_CACHE_HOME/tempa, else /var/cache/tempa for root, else $HOME/.cache/tempa.
std::string DefaultCacheDir();

}  // namespace tempa::cli
