// tempa.toml and the Procfile come from the repository. The input is the tempa.toml text, then
// "\n%%\n", then the Procfile text (either may be absent). LoadAppConfig must answer a config or
// an error, and an accepted subdirectory must stay inside the repository.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "buildpacks/app_config.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tempa::fuzz::Check;
  const std::string& dir = tempa::fuzz::ScratchDir();
  std::vector<std::string_view> parts = tempa::fuzz::SplitParts(data, size, 2);
  tempa::fuzz::WriteFile(dir + "/tempa.toml", parts[0]);
  if (parts.size() > 1) {
    tempa::fuzz::WriteFile(dir + "/Procfile", parts[1]);
  } else {
    tempa::fuzz::RemoveFile(dir + "/Procfile");
  }
  absl::StatusOr<tempa::buildpacks::AppConfig> config = tempa::buildpacks::LoadAppConfig(dir);
  if (!config.ok()) return 0;
  Check(!absl::StartsWith(config->subdirectory, "/"), "an absolute subdirectory was accepted");
  for (absl::string_view part : absl::StrSplit(config->subdirectory, '/')) {
    Check(part != "..", "a subdirectory with '..' was accepted");
  }
  Check(!config->port || (*config->port >= 1 && *config->port <= 65535), "port out of range");
  return 0;
}
