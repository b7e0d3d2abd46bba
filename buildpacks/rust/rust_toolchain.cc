#include "buildpacks/rust/rust_toolchain.h"

#include <unistd.h>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "buildpacks/internal/toolchain_locator.h"

namespace tempa::buildpacks {
namespace {

constexpr internal::ToolchainNames kRust = {"Rust", "TEMPA_CARGO", kInstallRustHint};

// Runs `binary -V` with an empty environment (no RUSTUP_TOOLCHAIN or RUSTFLAGS leaking in) and
// returns its first line of stdout.
absl::StatusOr<std::string> VersionLine(const std::string& binary) {
  absl::StatusOr<std::string> out =
      internal::RunToolchainProbe(kRust, {binary, "-V"}, {"PATH=/usr/bin:/bin"}, 4096);
  if (!out.ok()) return out.status();
  return std::string(absl::StripAsciiWhitespace(out->substr(0, out->find('\n'))));
}

absl::StatusOr<RustToolchain> Inspect(const std::string& cargo, const std::string& rustc) {
  RustToolchain toolchain;
  absl::StatusOr<std::string> path = internal::ResolveExecutable(kRust, cargo);
  if (!path.ok()) return path.status();
  toolchain.cargo = *path;
  path = internal::ResolveExecutable(kRust, rustc);
  if (!path.ok()) return path.status();
  toolchain.rustc = *path;
  absl::StatusOr<std::string> version = VersionLine(toolchain.rustc);
  if (!version.ok()) return version.status();
  if (!absl::StartsWith(*version, "rustc ")) {
    return kRust.Missing(absl::StrCat(rustc, " reports version \"", *version, "\""));
  }
  toolchain.version = *version;
  return toolchain;
}

std::string Beside(const std::string& cargo, absl::string_view name) {
  size_t slash = cargo.rfind('/');
  return slash == std::string::npos ? std::string(name)
                                    : absl::StrCat(cargo.substr(0, slash + 1), name);
}

}  // namespace

std::string RustToolchain::Short() const {
  size_t close = version.find(')');
  return close == std::string::npos ? version : version.substr(0, close + 1);
}

std::string RustToolchain::Release() const {
  std::vector<absl::string_view> words = absl::StrSplit(version, ' ', absl::SkipEmpty());
  return words.size() >= 2 ? std::string(words[1]) : "";
}

std::string RustToolchain::CacheKey() const {
  // "rustc 1.96.0 (ac68faa20 2026-05-25)" → "rustc-1.96.0-ac68faa20": name, release and the
  // commit hash, which tells apart two builds of the same release.
  std::vector<absl::string_view> words = absl::StrSplit(version, ' ', absl::SkipEmpty());
  std::string key;
  for (size_t i = 0; i < words.size() && i < 3; ++i) {
    if (i > 0) key += '-';
    for (char c : words[i]) {
      if (absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-') key += c;
    }
  }
  return key.empty() ? "rustc-unknown" : key;
}

HostRustToolchainLocator::HostRustToolchainLocator(HostRustToolchainOptions options)
    : options_(std::move(options)) {}

absl::StatusOr<RustToolchain> HostRustToolchainLocator::Locate() {
  auto inspect_with_rustc_beside = [](const std::string& cargo) {
    return Inspect(cargo, Beside(cargo, "rustc"));
  };
  return internal::LocateInOrder<RustToolchain>(
      kRust, options_.cargo, options_.tempa_cargo_env, inspect_with_rustc_beside,
      [this]() -> absl::StatusOr<RustToolchain> {
        std::string looked;
        for (const auto& [cargo, rustc] : options_.default_paths) {
          if (access(cargo.c_str(), X_OK) == 0 && access(rustc.c_str(), X_OK) == 0) {
            return Inspect(cargo, rustc);
          }
          absl::StrAppend(&looked, cargo, ", ");
        }
        return kRust.Missing(absl::StrCat("looked at TEMPA_CARGO, ", looked, "and found no cargo"));
      });
}

}  // namespace tempa::buildpacks
