#include "buildpacks/internal/binary_app_config.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "buildpacks/runbase/static_base.h"

namespace tempa::buildpacks::internal {

ImageConfigSpec BinaryAppConfig(std::vector<std::string> entrypoint, int port,
                                const std::string& title, absl::string_view language,
                                const std::string& toolchain) {
  ImageConfigSpec config;
  config.entrypoint = std::move(entrypoint);
  config.port = port;
  config.env = {
      {"PORT", absl::StrCat(port)},
      {"PATH", "/app:/usr/bin:/bin"},
      {"SSL_CERT_FILE", absl::StrCat("/", runbase::kCaBundlePath)},
  };
  config.working_dir = "/app";
  config.user = absl::StrCat(runbase::kNonRootUid, ":", runbase::kNonRootUid);
  config.labels = {
      {"org.opencontainers.image.title", title},
      {"dev.tempa.language", std::string(language)},
      {"dev.tempa.toolchain", toolchain},
  };
  return config;
}

}  // namespace tempa::buildpacks::internal
