// The runtime config the compiled-language buildpacks (Go, Rust) share: one binary under /app,
// run from /app as the run base's non-root user, with $PORT, /app first on PATH, the run base's
// CA bundle, and labels naming the app, its language and the toolchain that built it.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "buildpacks/buildpack.h"

namespace tempa::buildpacks::internal {

// `title` is the app's name (org.opencontainers.image.title), `language` and `toolchain` go into
// dev.tempa.language and dev.tempa.toolchain. Callers add their own labels after.
ImageConfigSpec BinaryAppConfig(std::vector<std::string> entrypoint, int port,
                                const std::string& title, absl::string_view language,
                                const std::string& toolchain);

}  // namespace tempa::buildpacks::internal
