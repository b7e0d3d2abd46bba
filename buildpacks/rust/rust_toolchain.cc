#include "buildpacks/rust/rust_toolchain.h"

#include <fcntl.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tempa::buildpacks {
namespace {

absl::Status Missing(absl::string_view detail) {
  return absl::FailedPreconditionError(
      absl::StrCat("no Rust toolchain: ", detail, "; ", kInstallRustHint));
}

// Runs `binary -V` with an empty environment (no RUSTUP_TOOLCHAIN or RUSTFLAGS leaking in) and
// returns its first line of stdout.
absl::StatusOr<std::string> VersionLine(const std::string& binary) {
  int fds[2];
  if (pipe2(fds, O_CLOEXEC) != 0) {
    return absl::InternalError(absl::StrCat("pipe: ", strerror(errno)));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  std::string arg0 = binary, arg1 = "-V", path = "PATH=/usr/bin:/bin";
  char* argv[] = {arg0.data(), arg1.data(), nullptr};
  char* envp[] = {path.data(), nullptr};
  pid_t pid;
  int rc = posix_spawn(&pid, binary.c_str(), &actions, nullptr, argv, envp);
  posix_spawn_file_actions_destroy(&actions);
  close(fds[1]);
  if (rc != 0) {
    close(fds[0]);
    return Missing(absl::StrCat("cannot run ", binary, ": ", strerror(rc)));
  }
  std::string out;
  char buf[1024];
  for (ssize_t n; (n = read(fds[0], buf, sizeof buf)) != 0;) {
    if (n < 0 && errno == EINTR) continue;
    if (n < 0 || out.size() > 4096) break;
    out.append(buf, static_cast<size_t>(n));
  }
  close(fds[0]);
  int wstatus = 0;
  while (waitpid(pid, &wstatus, 0) < 0 && errno == EINTR) {
  }
  if (!WIFEXITED(wstatus) || WEXITSTATUS(wstatus) != 0) {
    return Missing(absl::StrCat("`", binary, " -V` failed"));
  }
  return std::string(absl::StripAsciiWhitespace(out.substr(0, out.find('\n'))));
}

absl::StatusOr<std::string> Resolve(const std::string& candidate) {
  char resolved[PATH_MAX];
  if (realpath(candidate.c_str(), resolved) == nullptr || access(resolved, X_OK) != 0) {
    return Missing(absl::StrCat(candidate, " is not an executable file"));
  }
  return std::string(resolved);
}

absl::StatusOr<RustToolchain> Inspect(const std::string& cargo, const std::string& rustc) {
  RustToolchain toolchain;
  absl::StatusOr<std::string> path = Resolve(cargo);
  if (!path.ok()) return path.status();
  toolchain.cargo = *path;
  path = Resolve(rustc);
  if (!path.ok()) return path.status();
  toolchain.rustc = *path;
  absl::StatusOr<std::string> version = VersionLine(toolchain.rustc);
  if (!version.ok()) return version.status();
  if (!absl::StartsWith(*version, "rustc ")) {
    return Missing(absl::StrCat(rustc, " reports version \"", *version, "\""));
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
  // An explicit choice is never silently replaced by another Rust.
  if (!options_.cargo.empty()) {
    return Inspect(options_.cargo, Beside(options_.cargo, "rustc"));
  }
  std::string tempa_cargo;
  if (options_.tempa_cargo_env) {
    tempa_cargo = *options_.tempa_cargo_env;
  } else if (const char* v = getenv("TEMPA_CARGO")) {
    tempa_cargo = v;
  }
  if (!tempa_cargo.empty()) {
    absl::StatusOr<RustToolchain> toolchain = Inspect(tempa_cargo, Beside(tempa_cargo, "rustc"));
    if (!toolchain.ok()) {
      return absl::FailedPreconditionError(
          absl::StrCat("TEMPA_CARGO=", tempa_cargo, ": ", toolchain.status().message()));
    }
    return toolchain;
  }
  std::string looked;
  for (const auto& [cargo, rustc] : options_.default_paths) {
    if (access(cargo.c_str(), X_OK) == 0 && access(rustc.c_str(), X_OK) == 0) {
      return Inspect(cargo, rustc);
    }
    absl::StrAppend(&looked, cargo, ", ");
  }
  return Missing(absl::StrCat("looked at TEMPA_CARGO, ", looked, "and found no cargo"));
}

}  // namespace tempa::buildpacks
