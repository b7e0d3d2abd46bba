#include "buildpacks/runbase/installed_package.h"

#include <fcntl.h>
#include <openssl/evp.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <map>
#include <set>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "buildpacks/internal/fs_util.h"
#include "buildpacks/runbase/host_command.h"
#include "common/status_macros.h"

namespace tempa::buildpacks::runbase {
namespace {

// Top-level directories that merged-/usr systems turn into symlinks into usr/. Packages still
// list them as directories, so they are reported as directories whatever the host has.
const std::set<std::string>& MergedUsrAliases() {
  static const auto* aliases =
      new std::set<std::string>{"bin", "sbin", "lib", "lib32", "lib64", "libx32"};
  return *aliases;
}

absl::StatusOr<std::string> Md5OfFile(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) return absl::InternalError(absl::StrCat("open ", path, ": ", std::strerror(errno)));
  EVP_MD_CTX* ctx = EVP_MD_CTX_new();
  EVP_DigestInit_ex(ctx, EVP_md5(), nullptr);
  char buf[1 << 16];
  ssize_t n;
  while ((n = read(fd, buf, sizeof buf)) > 0) EVP_DigestUpdate(ctx, buf, static_cast<size_t>(n));
  close(fd);
  unsigned char md[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  EVP_DigestFinal_ex(ctx, md, &len);
  EVP_MD_CTX_free(ctx);
  if (n < 0) return absl::InternalError(absl::StrCat("read ", path, ": ", std::strerror(errno)));
  static const char kHex[] = "0123456789abcdef";
  std::string hex;
  for (unsigned i = 0; i < len; ++i) {
    hex.push_back(kHex[md[i] >> 4]);
    hex.push_back(kHex[md[i] & 15]);
  }
  return hex;
}

absl::StatusOr<std::string> Query(const std::vector<std::string>& argv) {
  ASSIGN_OR_RETURN(CommandOutput out, RunHostCommand(argv));
  if (out.exit_code != 0) {
    return absl::FailedPreconditionError(absl::StrCat(
        argv[0], " ", argv[1], " ", argv.back(), " failed: ", absl::StripAsciiWhitespace(out.err)));
  }
  return out.out;
}

// path (no leading '/') → md5 hex, from the md5sums control file and the Conffiles field.
absl::StatusOr<std::map<std::string, std::string>> RecordedMd5s(const std::string& spec) {
  std::map<std::string, std::string> sums;
  ASSIGN_OR_RETURN(std::string control,
                   Query({"dpkg-query", "--control-path", spec, "md5sums"}));
  std::string md5sums_path(absl::StripAsciiWhitespace(control));
  if (!md5sums_path.empty()) {
    ASSIGN_OR_RETURN(std::string text, internal::ReadSmallFile(md5sums_path, 64 << 20));
    for (absl::string_view line : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
      // "<md5>  <path>"; the path may contain spaces.
      if (line.size() < 35) continue;
      sums[std::string(line.substr(34))] = std::string(line.substr(0, 32));
    }
  }
  ASSIGN_OR_RETURN(std::string conffiles,
                   Query({"dpkg-query", "-W", "-f=${Conffiles}", spec}));
  for (absl::string_view line : absl::StrSplit(conffiles, '\n', absl::SkipEmpty())) {
    // " /etc/foo <md5> [obsolete|remove-on-upgrade]"
    std::vector<absl::string_view> f = absl::StrSplit(line, ' ', absl::SkipEmpty());
    if (f.size() >= 2 && absl::ConsumePrefix(&f[0], "/")) sums[std::string(f[0])] = std::string(f[1]);
  }
  return sums;
}

}  // namespace

absl::StatusOr<std::vector<PackageEntry>> ReadInstalledPackage(
    const DebPackage& package, const std::function<bool(const std::string&)>& skip,
    const std::string& host_root) {
  std::string spec = package.arch == "all" ? package.name : package.name + ":" + package.arch;
  ASSIGN_OR_RETURN(std::string version, Query({"dpkg-query", "-W", "-f=${Version}", spec}));
  if (version != package.version) {
    return absl::FailedPreconditionError(absl::StrCat(
        "run base: ", package.name, " changed while building (planned ", package.version,
        ", now ", version, "); build again"));
  }
  ASSIGN_OR_RETURN(std::string listing, Query({"dpkg-query", "-L", spec}));
  using Md5Map = std::map<std::string, std::string>;
  ASSIGN_OR_RETURN(Md5Map md5s, RecordedMd5s(spec));
  std::string root = host_root;
  while (!root.empty() && root.back() == '/') root.pop_back();

  std::vector<PackageEntry> entries;
  std::map<std::pair<dev_t, ino_t>, std::string> first_by_inode;
  for (absl::string_view line : absl::StrSplit(listing, '\n', absl::SkipEmpty())) {
    // "diverted by X to: /path": the previous file lives elsewhere now; read it from there.
    if (absl::ConsumePrefix(&line, "diverted by ")) {
      size_t to = line.find(" to: ");
      if (to != absl::string_view::npos && !entries.empty() &&
          entries.back().type == PackageEntry::Type::kFile) {
        entries.back().source_path = absl::StrCat(root, line.substr(to + 5));
      }
      continue;
    }
    if (!absl::StartsWith(line, "/")) continue;  // "package diverts others to: …"
    std::optional<std::string> path = NormalizePackagePath(std::string(line));
    if (!path || path->empty() || (skip && skip(*path))) {
      // A skipped path must not take the diversion note meant for it.
      entries.push_back(PackageEntry{"", PackageEntry::Type::kDirectory});
      continue;
    }
    PackageEntry entry;
    entry.path = *path;
    std::string host = absl::StrCat(root, "/", entry.path);
    struct stat st;
    if (lstat(host.c_str(), &st) != 0) {
      return absl::FailedPreconditionError(absl::StrCat(
          "run base: ", host, " from ", package.Pin(), " is missing on this worker; reinstall: "
          "apt-get install --reinstall ", package.name));
    }
    entry.mode = st.st_mode & 07777;
    if (S_ISDIR(st.st_mode) || MergedUsrAliases().count(entry.path)) {
      entry.type = PackageEntry::Type::kDirectory;
      entry.mode = 0755;
    } else if (S_ISLNK(st.st_mode)) {
      char target[PATH_MAX];
      ssize_t n = readlink(host.c_str(), target, sizeof target);
      if (n <= 0 || n == sizeof target) {
        return absl::InternalError(absl::StrCat("readlink ", host, ": ", std::strerror(errno)));
      }
      entry.type = PackageEntry::Type::kSymlink;
      entry.link_target.assign(target, static_cast<size_t>(n));
    } else if (S_ISREG(st.st_mode)) {
      auto [it, first] = first_by_inode.emplace(std::make_pair(st.st_dev, st.st_ino), entry.path);
      if (!first) {
        entry.type = PackageEntry::Type::kHardlink;
        entry.link_target = it->second;
      } else {
        entry.type = PackageEntry::Type::kFile;
        entry.size = st.st_size;
        entry.source_path = host;
      }
    } else {
      return absl::FailedPreconditionError(
          absl::StrCat("run base: ", host, " from ", package.Pin(), " is not a file"));
    }
    entries.push_back(std::move(entry));
  }
  std::erase_if(entries, [](const PackageEntry& e) { return e.path.empty(); });
  // Verify after the walk, so a diversion noted after its path is the file checked.
  for (const PackageEntry& entry : entries) {
    if (entry.type != PackageEntry::Type::kFile) continue;
    auto want = md5s.find(entry.path);
    if (want == md5s.end()) continue;  // dpkg records none (e.g. files created by scripts)
    ASSIGN_OR_RETURN(std::string got, Md5OfFile(entry.source_path));
    if (got != want->second) {
      return absl::FailedPreconditionError(absl::StrCat(
          "run base: ", entry.source_path, " differs from what ", package.Pin(),
          " installed (modified locally?); restore it: apt-get install --reinstall ",
          package.name));
    }
  }
  return entries;
}

}  // namespace tempa::buildpacks::runbase
