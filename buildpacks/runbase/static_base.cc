#include "buildpacks/runbase/static_base.h"

#include <sys/stat.h>
#include <unistd.h>

#include <climits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "buildpacks/internal/fs_util.h"
#include "common/digest.h"
#include "common/status_macros.h"

namespace tempa::buildpacks::runbase {
namespace {

using oci::LayerEntry;

// Bump when the recipe below changes, so old cached bases are not reused.
constexpr char kVersionTag[] = "static-base-v1";
constexpr char kZoneinfo[] = "usr/share/zoneinfo";

constexpr char kPasswd[] =
    "root:x:0:0:root:/root:/sbin/nologin\n"
    "nonroot:x:65532:65532:nonroot:/home/nonroot:/sbin/nologin\n";
constexpr char kGroup[] =
    "root:x:0:\n"
    "nonroot:x:65532:\n";
// Go's resolver reads this to decide between /etc/hosts and DNS.
constexpr char kNsswitch[] = "hosts: files dns\n";

class Assembler {
 public:
  explicit Assembler(std::string host_root) : host_root_(std::move(host_root)) {
    if (host_root_.size() > 1 && host_root_.back() == '/') host_root_.pop_back();
    key_.Update(absl::StrCat(kVersionTag, "\n"));
  }

  void Dir(const std::string& path, uint32_t mode) {
    Record(path, "dir", mode, "");
    spec_.Add(LayerEntry{path, LayerEntry::Type::kDirectory, mode, "", std::nullopt, ""});
  }

  // A directory owned by `uid` (group = uid), e.g. the non-root user's home.
  void OwnedDir(const std::string& path, uint32_t mode, int uid) {
    Record(path, absl::StrCat("dir owner=", uid), mode, "");
    LayerEntry entry{path, LayerEntry::Type::kDirectory, mode, "", std::nullopt, ""};
    entry.uid = uid;
    entry.gid = uid;
    spec_.Add(std::move(entry));
  }

  void Contents(const std::string& path, std::string contents, uint32_t mode = 0644) {
    Record(path, "file", mode, Sha256Of(contents).ToString());
    spec_.Add(LayerEntry{path, LayerEntry::Type::kFile, mode, "", std::move(contents), ""});
  }

  // A host file at the same path in the image; its digest keys the layer.
  absl::Status HostFile(const std::string& path) {
    std::string source = HostPath(path);
    ASSIGN_OR_RETURN(Digest digest, Sha256OfFile(source));
    Record(path, "file", 0644, digest.ToString());
    spec_.Add(LayerEntry{path, LayerEntry::Type::kFile, 0644, source, std::nullopt, ""});
    ++files_;
    return absl::OkStatus();
  }

  // Copies the zoneinfo tree: files, directories and the relative links (aliases such as
  // "UTC -> Etc/UTC") that stay inside it.
  absl::Status ZoneinfoTree(const std::string& rel) {
    ASSIGN_OR_RETURN(std::vector<std::string> names, internal::ListDir(HostPath(rel)));
    for (const std::string& name : names) {
      // posix/ and right/ repeat the whole database (as links or leap-second variants);
      // nobody needs them in a container, and they would double the layer.
      if (rel == kZoneinfo && (name == "posix" || name == "right")) continue;
      std::string path = absl::StrCat(rel, "/", name);
      std::string host = HostPath(path);
      struct stat st;
      if (lstat(host.c_str(), &st) != 0) continue;
      if (S_ISDIR(st.st_mode)) {
        Dir(path, 0755);
        RETURN_IF_ERROR(ZoneinfoTree(path));
      } else if (S_ISREG(st.st_mode)) {
        RETURN_IF_ERROR(HostFile(path));
      } else if (S_ISLNK(st.st_mode)) {
        char target[PATH_MAX];
        ssize_t n = readlink(host.c_str(), target, sizeof target - 1);
        if (n <= 0) continue;
        std::string link(target, static_cast<size_t>(n));
        // localtime -> /etc/localtime and the like point at the host, not the database.
        if (!LinkStaysInside(rel, link)) continue;
        Record(path, "link", 0777, link);
        spec_.Add(LayerEntry{path, LayerEntry::Type::kSymlink, 0777, "", std::nullopt, link});
      }
    }
    return absl::OkStatus();
  }

  StaticBase Finish() && {
    StaticBase base;
    base.input_key = key_.Finish().ToString();
    base.spec = std::move(spec_);
    base.file_count = files_;
    return base;
  }

  std::string HostPath(const std::string& path) const {
    return host_root_ == "/" ? "/" + path : absl::StrCat(host_root_, "/", path);
  }

 private:
  // One line per entry, in the deterministic order the walk visits them.
  void Record(absl::string_view path, absl::string_view type, uint32_t mode,
              absl::string_view what) {
    key_.Update(absl::StrCat(type, " ", path, " ", mode, " ", what, "\n"));
  }

  static bool LinkStaysInside(const std::string& dir, const std::string& link) {
    if (link.empty() || link[0] == '/') return false;
    int depth = 0;
    for (char c : dir) depth += c == '/';
    depth -= 2;  // depth below usr/share/zoneinfo
    for (absl::string_view part : absl::StrSplit(link, '/', absl::SkipEmpty())) {
      if (part == "..") {
        if (--depth < 0) return false;
      } else if (part != ".") {
        ++depth;
      }
    }
    return true;
  }

  std::string host_root_;
  oci::LayerSpec spec_;
  Sha256 key_;
  int files_ = 0;
};

}  // namespace

absl::StatusOr<StaticBase> BuildStaticBase(const StaticBaseOptions& options) {
  Assembler a(options.host_root);
  if (!internal::IsRegularFile(a.HostPath(kCaBundlePath))) {
    return absl::FailedPreconditionError(
        absl::StrCat("run base: no CA bundle at ", a.HostPath(kCaBundlePath),
                     "; install the ca-certificates package (scripts/setup does it)"));
  }
  if (!internal::IsDirectory(a.HostPath(kZoneinfo))) {
    return absl::FailedPreconditionError(
        absl::StrCat("run base: no time zone database at ", a.HostPath(kZoneinfo),
                     "; install the tzdata package (scripts/setup does it)"));
  }
  // Order matters only for the key, and it is fixed here.
  a.Dir("etc", 0755);
  a.Contents("etc/passwd", kPasswd);
  a.Contents("etc/group", kGroup);
  a.Contents("etc/nsswitch.conf", kNsswitch);
  a.Dir("etc/ssl", 0755);
  a.Dir("etc/ssl/certs", 0755);
  RETURN_IF_ERROR(a.HostFile(kCaBundlePath));
  a.Dir("home", 0755);
  a.OwnedDir("home/nonroot", 0700, kNonRootUid);
  a.Dir("tmp", 01777);
  a.Dir("usr", 0755);
  a.Dir("usr/share", 0755);
  a.Dir(kZoneinfo, 0755);
  RETURN_IF_ERROR(a.ZoneinfoTree(kZoneinfo));
  return std::move(a).Finish();
}

absl::Status CheckStaticBaseUnchanged(const StaticBase& now, absl::string_view planned_key) {
  if (now.input_key == planned_key) return absl::OkStatus();
  return absl::FailedPreconditionError(
      "the worker's CA certificates or time zones changed during this build (ca-certificates or "
      "tzdata upgraded?), after its run base was keyed: build again");
}

absl::StatusOr<PlannedLayer> StaticBaseLayer(const StaticBaseOptions& options) {
  ASSIGN_OR_RETURN(StaticBase base, BuildStaticBase(options));
  PlannedLayer layer;
  layer.role = LayerRole::kBase;
  layer.input_key = base.input_key;
  // The spec is only a list of paths; the writer reads the files when the layer is written, so
  // they are read again now: a host upgraded since the key was computed never puts other bytes
  // under it.
  layer.produce = [options, key = base.input_key]() -> absl::StatusOr<LayerOutput> {
    ASSIGN_OR_RETURN(StaticBase now, BuildStaticBase(options));
    RETURN_IF_ERROR(CheckStaticBaseUnchanged(now, key));
    return LayerOutput{std::move(now.spec), ""};
  };
  return layer;
}

}  // namespace tempa::buildpacks::runbase
