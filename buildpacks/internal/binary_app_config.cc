#include "buildpacks/internal/binary_app_config.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "buildpacks/runbase/static_base.h"
#include "common/build_error.h"

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

absl::StatusOr<std::vector<std::string>> BinaryStartCommand(absl::string_view start,
                                                            absl::string_view source,
                                                            absl::string_view language,
                                                            absl::string_view binary) {
  // Accepted only when splitting on blanks means what a shell would make of it.
  constexpr absl::string_view kShellOnly = "$`\\\"'|&;<>()*?[]{}~#\n";
  auto bad = [](std::string message) {
    return WithFailure(absl::InvalidArgumentError(std::move(message)),
                       {FailureKind::kBadInput, "detect", ""});
  };
  size_t at = start.find_first_of(kShellOnly);
  if (at != absl::string_view::npos) {
    return bad(absl::StrCat(
        "start command from ", source.empty() ? "the config" : source, " (\"", start,
        "\") needs a shell for `", start.substr(at, 1), "`, and the ", language,
        " run base has none (no /bin/sh, by design); write it as a program and plain arguments, "
        "e.g. \"/app/NAME --flag value\", and read variables such as $PORT in the program"));
  }
  std::vector<std::string> argv = absl::StrSplit(start, absl::ByAnyChar(" \t"), absl::SkipEmpty());
  if (argv.empty()) return bad("start command is empty");
  absl::string_view program = argv[0];
  size_t slash = program.rfind('/');
  if (!absl::StartsWith(program, "/") &&
      program.substr(slash == absl::string_view::npos ? 0 : slash + 1) == binary) {
    argv[0] = absl::StrCat("/app/", binary);
  }
  return argv;
}

}  // namespace tempa::buildpacks::internal
