// The runtime config the compiled-language buildpacks (Go, Rust) share: one binary under /app,
// run from /app as the run base's non-root user, with $PORT, /app first on PATH, the run base's
// CA bundle, and labels naming the app, its language and the toolchain that built it.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "buildpacks/buildpack.h"

namespace tempa::buildpacks::internal {

// `title` is the app's name (org.opencontainers.image.title), `language` and `toolchain` go into
// dev.tempa.language and dev.tempa.toolchain. Callers add their own labels after.
ImageConfigSpec BinaryAppConfig(std::vector<std::string> entrypoint, int port,
                                const std::string& title, absl::string_view language,
                                const std::string& toolchain);

// A start command (shell form, from tempa.toml `start` or a Procfile `web:` line, named by
// `source`) as the exec-form argv such an image runs. The binary run bases have no shell, so a
// command that needs one ($VAR, quotes, pipes, ...) is bad_input naming the character and the fix.
// A relative program named like the app's binary (Heroku's `web: bin/NAME`, `./NAME`) is the
// binary where the image has it, /app/`binary`.
absl::StatusOr<std::vector<std::string>> BinaryStartCommand(absl::string_view start,
                                                            absl::string_view source,
                                                            absl::string_view language,
                                                            absl::string_view binary);

}  // namespace tempa::buildpacks::internal
