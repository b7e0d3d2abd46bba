#include "buildpacks/runbase/apt_deb_fetcher.h"

#include <fcntl.h>
#include <pwd.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/synchronization/mutex.h"
#include "buildpacks/internal/fs_util.h"
#include "buildpacks/runbase/host_command.h"
#include "common/posix_status.h"
#include "common/status_macros.h"

namespace tempa::buildpacks::runbase {

std::string DebPackage::FileName() const {
  return absl::StrCat(name, "_", absl::StrReplaceAll(version, {{":", "%3a"}}), "_", arch, ".deb");
}

namespace {

absl::StatusOr<std::string> ReadSmall(const std::string& path) {
  return internal::ReadSmallFile(path, 1024);
}

absl::Status WriteSmall(const std::string& path, const std::string& contents) {
  std::string tmp = path + ".tmp";
  FILE* f = fopen(tmp.c_str(), "w");
  if (f == nullptr) return absl::InternalError(absl::StrCat("create ", tmp));
  bool ok = fwrite(contents.data(), 1, contents.size(), f) == contents.size();
  ok = (fclose(f) == 0) && ok;
  if (!ok || rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("write ", path, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

class AptDebFetcher : public DebFetcher {
 public:
  explicit AptDebFetcher(AptDebFetcherOptions options) : options_(std::move(options)) {}

  absl::StatusOr<std::vector<DebPackage>> Installed(
      const std::vector<std::string>& names) override {
    ASSIGN_OR_RETURN(std::string native, NativeArch());
    std::vector<std::string> argv = {
        "dpkg-query", "-W", "-f=${Package}\t${Version}\t${Architecture}\t${db:Status-Status}\n"};
    argv.insert(argv.end(), names.begin(), names.end());
    ASSIGN_OR_RETURN(CommandOutput out, RunHostCommand(argv));
    // name → package; a native-arch entry beats a foreign one (multiarch i386 copies).
    std::map<std::string, DebPackage> found;
    for (absl::string_view line : absl::StrSplit(out.out, '\n', absl::SkipEmpty())) {
      std::vector<std::string> f = absl::StrSplit(line, '\t');
      if (f.size() != 4 || f[3] != "installed") continue;
      bool native_or_all = f[2] == native || f[2] == "all";
      if (!native_or_all && found.count(f[0])) continue;
      found[f[0]] = DebPackage{f[0], f[1], f[2]};
    }
    std::vector<DebPackage> result;
    std::vector<std::string> missing;
    for (const std::string& name : names) {
      auto it = found.find(name);
      if (it == found.end()) {
        missing.push_back(name);
      } else {
        result.push_back(it->second);
      }
    }
    if (!missing.empty()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "run base: package(s) not installed on this worker: ", absl::StrJoin(missing, ", "),
          "; install it: apt-get install ", absl::StrJoin(missing, " "),
          " (the run base carries the exact versions the build runs with)"));
    }
    return result;
  }

  absl::StatusOr<FetchedDeb> Fetch(const DebPackage& package) override {
    RETURN_IF_ERROR(internal::MakeDirs(options_.cache_dir, 0711));
    std::string cached = absl::StrCat(options_.cache_dir, "/", package.FileName());
    std::string digest_file = cached + ".sha256";
    if (internal::IsRegularFile(cached)) {
      absl::StatusOr<std::string> recorded = ReadSmall(digest_file);
      absl::StatusOr<Digest> actual = Sha256OfFile(cached);
      if (recorded.ok() && actual.ok() &&
          absl::StripAsciiWhitespace(*recorded) == actual->ToString()) {
        return FetchedDeb{package, cached, *actual};
      }
      // Torn download or a corrupted disk: fetch again rather than ship it.
      unlink(cached.c_str());
    }
    std::string from_apt = absl::StrCat(options_.apt_archives, "/", package.FileName());
    if (internal::IsRegularFile(from_apt)) {
      // apt verified it when it downloaded it; copy, since apt-get clean may remove it.
      std::string tmp = absl::StrCat(cached, ".part-", getpid());
      RETURN_IF_ERROR(internal::CopyFile(from_apt, tmp, 0644));
      return Commit(package, tmp, cached);
    }
    if (MarkedUnavailable(package)) return Unavailable(package, "(remembered from earlier)");
    return Download(package, cached);
  }

  void Prefetch(const std::vector<DebPackage>& packages) override {
    std::vector<DebPackage> missing;
    for (const DebPackage& p : packages) {
      if (!internal::IsRegularFile(absl::StrCat(options_.cache_dir, "/", p.FileName())) &&
          !internal::IsRegularFile(absl::StrCat(options_.apt_archives, "/", p.FileName())) &&
          !MarkedUnavailable(p)) {
        missing.push_back(p);
      }
    }
    // apt refuses the whole batch when one version is unknown: note those, retry once.
    for (int attempt = 0; attempt < 2 && !missing.empty(); ++attempt) {
      absl::StatusOr<CommandOutput> out = DownloadBatch(missing);
      if (!out.ok() || out->exit_code == 0) return;
      std::vector<DebPackage> rest;
      for (const DebPackage& p : missing) {
        if (absl::StrContains(out->err, absl::StrCat("version '", p.version, "' of '", p.name))) {
          MarkUnavailable(p);
        } else {
          rest.push_back(p);
        }
      }
      if (rest.size() == missing.size()) return;  // some other failure: Fetch will report it
      missing = std::move(rest);
    }
  }

 private:
  absl::StatusOr<std::string> NativeArch() {
    absl::MutexLock lock(&mu_);
    if (!native_arch_.empty()) return native_arch_;
    ASSIGN_OR_RETURN(CommandOutput out, RunHostCommand({"dpkg", "--print-architecture"}));
    if (out.exit_code != 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("dpkg --print-architecture failed: ", out.err));
    }
    native_arch_ = std::string(absl::StripAsciiWhitespace(out.out));
    return native_arch_;
  }

  std::string MarkerPath(const DebPackage& p) const {
    return absl::StrCat(options_.cache_dir, "/", p.FileName(), ".unavailable");
  }
  bool MarkedUnavailable(const DebPackage& p) const {
    struct stat st;
    return stat(MarkerPath(p).c_str(), &st) == 0 && time(nullptr) - st.st_mtime < 24 * 3600;
  }
  void MarkUnavailable(const DebPackage& p) {
    (void)WriteSmall(MarkerPath(p), p.Pin() + "\n");  // only an optimisation
  }
  static std::string AptSpec(const DebPackage& p) {
    return p.arch == "all" ? absl::StrCat(p.name, "=", p.version)
                           : absl::StrCat(p.name, ":", p.arch, "=", p.version);
  }
  absl::Status Unavailable(const DebPackage& package, absl::string_view why) {
    return absl::NotFoundError(absl::StrCat(
        package.Pin(),
        " is installed here but no apt source offers that version any more"
        " (mirrors keep only the newest); upgrade the worker (apt-get install --only-upgrade ",
        package.name, ") or keep apt's archives: ", why));
  }

  // Hands the fresh download directory `dir` (root's, 0700) to apt's download user when we
  // are root and it exists, through a descriptor.
  static absl::Status GiveToAptUser(const std::string& dir) {
    if (geteuid() != 0) return absl::OkStatus();
    struct passwd* apt = getpwnam("_apt");
    if (apt == nullptr) return absl::OkStatus();
    UniqueFd fd(open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return ErrnoStatus(errno, "open", dir);
    if (fchown(fd.get(), apt->pw_uid, apt->pw_gid) != 0) return ErrnoStatus(errno, "chown", dir);
    return absl::OkStatus();
  }

  // One apt-get run for several packages; what it downloads is committed to the cache.
  absl::StatusOr<CommandOutput> DownloadBatch(const std::vector<DebPackage>& packages) {
    RETURN_IF_ERROR(internal::MakeDirs(options_.cache_dir, 0711));
    std::string dir = absl::StrCat(options_.cache_dir, "/download-XXXXXX");
    if (mkdtemp(dir.data()) == nullptr) {
      return absl::InternalError(absl::StrCat("mkdtemp ", dir, ": ", std::strerror(errno)));
    }
    // apt downloads as its sandbox user _apt when that user can write the directory (else it
    // warns and downloads as root): the directory is given to _apt alone, 0700.
    RETURN_IF_ERROR(GiveToAptUser(dir));
    std::vector<std::string> argv = {"apt-get", "download", "-q"};
    for (const DebPackage& p : packages) argv.push_back(AptSpec(p));
    absl::StatusOr<CommandOutput> out = RunHostCommand(argv, dir);
    for (const DebPackage& p : packages) {
      std::string downloaded = absl::StrCat(dir, "/", p.FileName());
      if (internal::IsRegularFile(downloaded)) {
        (void)Commit(p, downloaded, absl::StrCat(options_.cache_dir, "/", p.FileName()));
      }
    }
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
    return out;
  }

  absl::StatusOr<FetchedDeb> Download(const DebPackage& package, const std::string& cached) {
    ASSIGN_OR_RETURN(CommandOutput out, DownloadBatch({package}));
    if (out.exit_code == 0 && internal::IsRegularFile(cached)) {
      ASSIGN_OR_RETURN(Digest digest, Sha256OfFile(cached));
      return FetchedDeb{package, cached, digest};
    }
    std::string why(absl::StripAsciiWhitespace(out.err));
    if (absl::StrContains(why, "Can't find a source to download version") ||
        absl::StrContains(why, "Unable to locate package")) {
      MarkUnavailable(package);
      return Unavailable(package, why);
    }
    return absl::UnavailableError(absl::StrCat("apt-get download ", AptSpec(package),
                                               " failed (exit ", out.exit_code, "): ", why));
  }

  // Records the digest, then moves the file into place: a reader never sees a .deb without it.
  absl::StatusOr<FetchedDeb> Commit(const DebPackage& package, const std::string& tmp,
                                    const std::string& cached) {
    absl::StatusOr<Digest> digest = Sha256OfFile(tmp);
    absl::Status s = digest.status();
    if (s.ok()) s = WriteSmall(cached + ".sha256", digest->ToString() + "\n");
    if (s.ok() && rename(tmp.c_str(), cached.c_str()) != 0) {
      s = absl::InternalError(
          absl::StrCat("rename ", tmp, " → ", cached, ": ", std::strerror(errno)));
    }
    if (!s.ok()) {
      unlink(tmp.c_str());
      return s;
    }
    return FetchedDeb{package, cached, *digest};
  }

  AptDebFetcherOptions options_;
  absl::Mutex mu_;
  std::string native_arch_ ABSL_GUARDED_BY(mu_);
};

}  // namespace

DebFetcherPtr NewAptDebFetcher(AptDebFetcherOptions options) {
  return std::make_shared<AptDebFetcher>(std::move(options));
}

}  // namespace tempa::buildpacks::runbase
