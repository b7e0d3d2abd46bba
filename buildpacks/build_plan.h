// The explicit result of detection: what will be built, with what, and how it runs.
#pragma once

#include <map>
#include <string>
#include <vector>

namespace tempa::buildpacks {

struct DetectOptions {
  std::string main_package;  // Go: the cmd/* (or path) to build when there are several
};

struct BuildPlan {
  std::string language;     // "go", "rust", "python"
  std::string toolchain;    // e.g. "go1.23.5"
  std::string app_name;     // binary / app name
  std::string main_package; // Go: "." or "./cmd/api"
  bool vendored = false;    // dependencies come from vendor/
  int port = 8080;
  std::vector<std::string> reasons;  // why this plan, in order, for `tempa detect`
};

}  // namespace tempa::buildpacks
