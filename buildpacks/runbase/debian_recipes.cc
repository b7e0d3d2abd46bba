// The Debian run-base recipes (Python runtime, glibc for Rust) and the soname → package lookup
// the Rust buildpack uses to extend the glibc recipe.
#include <sys/stat.h>

#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "buildpacks/runbase/debian_base.h"
#include "buildpacks/runbase/host_command.h"
#include "common/status_macros.h"

namespace tempa::buildpacks::runbase {
namespace {

// OpenSSL looks for CAs in its OPENSSLDIR (/usr/lib/ssl on Debian), which the openssl package —
// not libssl3 — links to /etc/ssl; the static base puts the bundle in /etc/ssl/certs.
void AddOpenSslCaLinks(DebianBaseRecipe& recipe) {
  recipe.symlinks.emplace_back("usr/lib/ssl/certs", "/etc/ssl/certs");
  recipe.symlinks.emplace_back("usr/lib/ssl/cert.pem", "/etc/ssl/certs/ca-certificates.crt");
}

// Where the host's dynamic linker finds libraries, /usr forms first (merged /usr: dpkg knows
// most libraries by their /usr path, libc6's by its /lib path; both are tried).
constexpr const char* kLibraryDirs[] = {
    "/usr/lib/x86_64-linux-gnu", "/lib/x86_64-linux-gnu", "/usr/lib/aarch64-linux-gnu",
    "/lib/aarch64-linux-gnu",    "/usr/lib64",            "/lib64",
    "/usr/lib",                  "/lib"};

}  // namespace

DebianBaseRecipe PythonRuntimeRecipe() {
  DebianBaseRecipe recipe;
  recipe.name = "python3.11";
  // python3.11 and every library its interpreter and lib-dynload modules link (the closure of
  // the three python packages' Depends on Debian 12), media-types for mimetypes, and dash so
  // `sh -c` start commands work. Certificates and tzdata come from the static base.
  recipe.packages = {
      "python3.11-minimal", "libpython3.11-minimal", "libpython3.11-stdlib",
      "libc6", "libgcc-s1", "libssl3", "zlib1g", "libffi8", "libexpat1", "libsqlite3-0",
      "libbz2-1.0", "liblzma5", "libncursesw6", "libtinfo6", "libreadline8", "libuuid1",
      "libdb5.3", "libgdbm6", "libcrypt1", "libnsl2", "libtirpc3", "libtirpc-common",
      "libgssapi-krb5-2", "libkrb5-3", "libk5crypto3", "libkrb5support0", "libcom-err2",
      "libkeyutils1", "media-types", "dash"};
  recipe.symlinks = {{"usr/bin/python3", "python3.11"},
                     {"usr/bin/python", "python3.11"},
                     {"usr/bin/sh", "dash"}};
  AddOpenSslCaLinks(recipe);
  return recipe;
}

DebianBaseRecipe GlibcRecipe(const std::vector<std::string>& extra_packages) {
  DebianBaseRecipe recipe;
  std::set<std::string> packages = {"libc6", "libgcc-s1"};
  packages.insert(extra_packages.begin(), extra_packages.end());
  recipe.packages.assign(packages.begin(), packages.end());
  // The name is part of the layer key; extras already are, through the package list.
  recipe.name = "glibc";
  if (packages.count("libssl3")) AddOpenSslCaLinks(recipe);
  return recipe;
}

absl::StatusOr<std::vector<std::string>> PackagesForSharedLibraries(
    const std::vector<std::string>& sonames) {
  // Every existing candidate path, asked of dpkg in one run (each run reads the whole database).
  std::vector<std::string> candidates;
  for (const std::string& soname : sonames) {
    if (soname.empty() || absl::StrContains(soname, "/")) {
      return absl::InvalidArgumentError(absl::StrCat("not a soname: '", soname, "'"));
    }
    for (const char* dir : kLibraryDirs) {
      std::string path = absl::StrCat(dir, "/", soname);
      struct stat st;
      if (stat(path.c_str(), &st) == 0) candidates.push_back(path);
    }
  }
  std::map<std::string, std::string> owner;  // path → package
  if (!candidates.empty()) {
    std::vector<std::string> argv = {"dpkg-query", "-S"};
    argv.insert(argv.end(), candidates.begin(), candidates.end());
    // Exit 1 when some path is unknown to dpkg (the /lib twin of a /usr/lib library): expected.
    ASSIGN_OR_RETURN(CommandOutput out, RunHostCommand(argv));
    // "libssl3:amd64: /usr/lib/x86_64-linux-gnu/libssl.so.3"; skip "diversion by …" lines.
    for (absl::string_view line : absl::StrSplit(out.out, '\n', absl::SkipEmpty())) {
      if (absl::StartsWith(line, "diversion by")) continue;
      size_t sep = line.find(": /");
      size_t end = line.find_first_of(":,");
      if (sep == absl::string_view::npos || end > sep) continue;
      owner.emplace(std::string(line.substr(sep + 2)), std::string(line.substr(0, end)));
    }
  }
  std::set<std::string> packages;
  std::vector<std::string> unknown;
  for (const std::string& soname : sonames) {
    bool found = false;
    for (const char* dir : kLibraryDirs) {
      auto it = owner.find(absl::StrCat(dir, "/", soname));
      if (it == owner.end()) continue;
      packages.insert(it->second);
      found = true;
      break;
    }
    if (!found) unknown.push_back(soname);
  }
  if (!unknown.empty()) {
    return absl::FailedPreconditionError(absl::StrCat(
        "no installed Debian package ships ", absl::StrJoin(unknown, ", "),
        "; install the package that provides it (apt-file search ", unknown[0], ")"));
  }
  return std::vector<std::string>(packages.begin(), packages.end());
}

}  // namespace tempa::buildpacks::runbase
