// What the host toolchain locators (Go, Rust) share: the order they look in (an explicit binary,
// then a TEMPA_* variable, then their own default places), resolving a candidate binary, and
// running it once to ask for its version. Each locator keeps its wording through ToolchainNames.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace tempa::buildpacks::internal {

// How one language's locator names things in its errors.
struct ToolchainNames {
  absl::string_view language;      // "Go", as in "no Go toolchain: ..."
  const char* env_variable;        // "TEMPA_GO": the variable naming a binary
  absl::string_view install_hint;  // the one-line fix appended to every "missing" error

  // FailedPrecondition "no <language> toolchain: <detail>; <install_hint>".
  absl::Status Missing(absl::string_view detail) const;
};

// `injected` when set (tests pin it), else the process environment's `name` ("" when unset).
std::string EnvOr(const std::optional<std::string>& injected, const char* name);

// The absolute, symlink-free path of the executable file `candidate`; Missing("<candidate> is
// not an executable file") when it is not one.
absl::StatusOr<std::string> ResolveExecutable(const ToolchainNames& names,
                                              const std::string& candidate);

// Runs `argv` (argv[0] a path, not looked up on PATH) with exactly `env`, stdin and stderr
// inherited, and returns what it printed on stdout (at most `max_bytes` of it). Missing("cannot
// run ...") when it cannot start, Missing("`argv...` failed") when it does not exit 0.
absl::StatusOr<std::string> RunToolchainProbe(const ToolchainNames& names,
                                              const std::vector<std::string>& argv,
                                              const std::vector<std::string>& env,
                                              size_t max_bytes);

// The order every host locator looks in. An explicit binary (a flag) is inspected and never
// silently replaced by another; else the binary named by names.env_variable (`injected_env` when
// set, else the process environment) is, and its error says so ("TEMPA_GO=/opt/go: ..."); else
// `fallback()` searches the language's default places. `inspect(binary)` turns a candidate into a
// Toolchain.
template <typename Toolchain, typename Inspect, typename Fallback>
absl::StatusOr<Toolchain> LocateInOrder(const ToolchainNames& names,
                                        const std::string& explicit_binary,
                                        const std::optional<std::string>& injected_env,
                                        Inspect inspect, Fallback fallback) {
  if (!explicit_binary.empty()) return inspect(explicit_binary);
  std::string from_env = EnvOr(injected_env, names.env_variable);
  if (!from_env.empty()) {
    absl::StatusOr<Toolchain> toolchain = inspect(from_env);
    if (!toolchain.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat(names.env_variable, "=", from_env, ": ", toolchain.status().message()));
    }
    return toolchain;
  }
  return fallback();
}

}  // namespace tempa::buildpacks::internal
