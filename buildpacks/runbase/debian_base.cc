#include "buildpacks/runbase/debian_base.h"

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <filesystem>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "buildpacks/internal/fs_util.h"
#include "buildpacks/runbase/apt_deb_fetcher.h"
#include "buildpacks/runbase/deb_reader.h"
#include "buildpacks/runbase/installed_package.h"
#include "common/digest.h"
#include "common/status_macros.h"

namespace tempa::buildpacks::runbase {
namespace {

using oci::LayerEntry;

// Bump when the layout rules below change, so old cached bases are not reused.
constexpr char kVersionTag[] = "debian-base-v1";

// Debian 12's merged /usr: these top-level directories are links into usr/. Packages still ship
// files under them (libc6: lib64/ld-linux-x86-64.so.2), so those are moved to usr/.
constexpr const char* kMergedUsr[] = {"bin", "sbin", "lib", "lib64"};
constexpr const char* kMovedToUsr[] = {"bin", "sbin", "lib", "lib32", "lib64", "libx32"};

// "lib/x86_64-linux-gnu/libc.so.6" → "usr/lib/x86_64-linux-gnu/libc.so.6"; "lib" → "" (the
// directory itself becomes the merged-/usr link).
std::string CanonicalPath(const std::string& path) {
  for (const char* top : kMovedToUsr) {
    if (path == top) return "";
    if (absl::StartsWith(path, top) && path[std::strlen(top)] == '/') {
      return absl::StrCat("usr/", path);
    }
  }
  return path;
}

std::vector<std::string> EffectiveExcludes(const DebianBaseRecipe& recipe) {
  std::set<std::string> all(recipe.exclude_prefixes.begin(), recipe.exclude_prefixes.end());
  for (const char* prefix : kDefaultExcludes) all.insert(prefix);
  return {all.begin(), all.end()};
}

bool Excluded(const std::string& canonical, const std::vector<std::string>& excludes) {
  if (canonical.empty()) return true;
  for (const std::string& prefix : excludes) {
    if (absl::StartsWith(canonical, prefix)) return true;
    // "usr/share/doc/" also drops the directory "usr/share/doc" itself.
    if (absl::EndsWith(prefix, "/") && canonical == prefix.substr(0, prefix.size() - 1)) {
      return true;
    }
  }
  return false;
}

std::string InputKey(const DebianBaseRecipe& recipe, const std::vector<DebPackage>& packages,
                     const std::vector<std::string>& excludes, const std::string& static_key) {
  Sha256 key;
  key.Update(absl::StrCat(kVersionTag, "\nrecipe ", recipe.name, "\n"));
  std::vector<std::string> pins;
  for (const DebPackage& p : packages) pins.push_back(p.Pin());
  std::sort(pins.begin(), pins.end());
  for (const std::string& pin : pins) key.Update(absl::StrCat("package ", pin, "\n"));
  for (const std::string& e : excludes) key.Update(absl::StrCat("exclude ", e, "\n"));
  for (const auto& [path, target] : recipe.symlinks) {
    key.Update(absl::StrCat("symlink ", path, " -> ", target, "\n"));
  }
  key.Update(absl::StrCat("static-base ", static_key, "\n"));
  return key.Finish().ToString();
}

// Extracts a fetched .deb once into staging/<name_version_arch>-<digest>; the directory appears
// atomically (rename), so an existing one is complete and only its entry list is read back.
absl::StatusOr<std::vector<PackageEntry>> ExtractDeb(const FetchedDeb& deb,
                                                     const std::string& cache_dir) {
  std::string staging = absl::StrCat(cache_dir, "/staging");
  RETURN_IF_ERROR(internal::MakeDirs(staging, 0755));
  std::string name = deb.package.FileName();
  std::string final_dir = absl::StrCat(staging, "/", name.substr(0, name.size() - 4), "-",
                                       deb.sha256.hex().substr(0, 16));
  if (internal::IsDirectory(final_dir)) {
    return ReadDebData(deb.path, {final_dir, /*files_already_extracted=*/true});
  }
  std::string tmp = absl::StrCat(final_dir, ".tmp-XXXXXX");
  if (mkdtemp(tmp.data()) == nullptr) {
    return absl::InternalError(absl::StrCat("mkdtemp ", tmp, ": ", std::strerror(errno)));
  }
  chmod(tmp.c_str(), 0755);
  absl::StatusOr<std::vector<PackageEntry>> entries = ReadDebData(deb.path, {tmp, false});
  std::error_code ec;
  if (!entries.ok() || rename(tmp.c_str(), final_dir.c_str()) != 0) {
    std::filesystem::remove_all(tmp, ec);
    if (!entries.ok()) return entries.status();
    // Another build extracted the same .deb first: use its copy.
    return ReadDebData(deb.path, {final_dir, /*files_already_extracted=*/true});
  }
  for (PackageEntry& e : *entries) {
    if (!e.source_path.empty()) e.source_path.replace(0, tmp.size(), final_dir);
  }
  return entries;
}

struct ProduceContext {
  DebianBaseRecipe recipe;
  std::vector<DebPackage> packages;  // sorted by name
  std::vector<std::string> excludes;
  StaticBase static_base;
  DebianBaseOptions options;
};

void Log(const ProduceContext& ctx, const std::string& line) {
  if (ctx.options.log) ctx.options.log(line);
}

absl::StatusOr<std::vector<PackageEntry>> LoadPackage(const ProduceContext& ctx,
                                                      const DebPackage& package) {
  absl::StatusOr<FetchedDeb> deb = ctx.options.fetcher->Fetch(package);
  if (deb.ok()) return ExtractDeb(*deb, ctx.options.deb_cache_dir);
  if (!absl::IsNotFound(deb.status()) || !ctx.options.installed_files_fallback) {
    return deb.status();
  }
  Log(ctx, absl::StrCat("run base: ", package.Pin(),
                        " is no longer downloadable; using the worker's installed files"));
  auto skip = [&ctx](const std::string& path) {
    std::string canonical = CanonicalPath(path);
    return !canonical.empty() && Excluded(canonical, ctx.excludes);
  };
  return ReadInstalledPackage(package, skip);
}

// Adds one package's entries: merged-/usr paths, exclusions, normalised modes. Hard links are
// regrouped so the link set's smallest path holds the bytes and the others link to it: the
// layer writer wants a link's target earlier in path order, whatever order the .deb used.
void AddPackage(const std::vector<PackageEntry>& entries, const std::vector<std::string>& excl,
                oci::LayerSpec& spec) {
  std::map<std::string, std::vector<std::string>> links;  // file path → its hard links
  for (const PackageEntry& e : entries) {
    if (e.type == PackageEntry::Type::kHardlink) links[e.link_target].push_back(e.path);
  }
  for (const PackageEntry& e : entries) {
    std::string path = CanonicalPath(e.path);
    switch (e.type) {
      case PackageEntry::Type::kDirectory:
        if (!Excluded(path, excl)) spec.Add(LayerEntry{path, LayerEntry::Type::kDirectory, 0755});
        break;
      case PackageEntry::Type::kSymlink:
        if (!Excluded(path, excl)) {
          spec.Add(
              LayerEntry{path, LayerEntry::Type::kSymlink, 0777, "", std::nullopt, e.link_target});
        }
        break;
      case PackageEntry::Type::kHardlink:
        break;  // written with its file below
      case PackageEntry::Type::kFile: {
        std::vector<std::string> members;
        if (!Excluded(path, excl)) members.push_back(path);
        for (const std::string& link : links[e.path]) {
          std::string canonical = CanonicalPath(link);
          if (!Excluded(canonical, excl)) members.push_back(canonical);
        }
        if (members.empty()) break;
        std::sort(members.begin(), members.end());
        spec.Add(LayerEntry{members[0], LayerEntry::Type::kFile, e.mode & 0777, e.source_path,
                            e.contents, ""});
        for (size_t i = 1; i < members.size(); ++i) {
          spec.Add(LayerEntry{members[i], LayerEntry::Type::kHardlink, e.mode & 0777, "",
                              std::nullopt, members[0]});
        }
        break;
      }
    }
  }
}

absl::StatusOr<LayerOutput> Produce(const ProduceContext& ctx) {
  if (ctx.options.deb_cache_dir.empty()) {
    return absl::InvalidArgumentError("run base: DebianBaseOptions.deb_cache_dir is not set");
  }
  auto start = std::chrono::steady_clock::now();
  ctx.options.fetcher->Prefetch(ctx.packages);
  oci::LayerSpec spec;
  for (const DebPackage& package : ctx.packages) {
    absl::StatusOr<std::vector<PackageEntry>> entries = LoadPackage(ctx, package);
    if (!entries.ok()) {
      return Annotate(entries.status(),
                      absl::StrCat("run base ", ctx.recipe.name, ": ", package.Pin()));
    }
    AddPackage(*entries, ctx.excludes, spec);
  }
  for (const char* top : kMergedUsr) {
    spec.Add(LayerEntry{absl::StrCat("usr/", top), LayerEntry::Type::kDirectory, 0755});
    spec.Add(LayerEntry{top, LayerEntry::Type::kSymlink, 0777, "", std::nullopt,
                        absl::StrCat("usr/", top)});
  }
  for (const auto& [path, target] : ctx.recipe.symlinks) {
    spec.Add(LayerEntry{path, LayerEntry::Type::kSymlink, 0777, "", std::nullopt, target});
  }
  // Last, so the base's passwd/group (the non-root user) win over base-files' copies. Read
  // again: the key named the host's files as they were when the build planned.
  absl::StatusOr<StaticBase> static_base = BuildStaticBase(ctx.options.static_base);
  if (!static_base.ok()) return static_base.status();
  if (absl::Status same = CheckStaticBaseUnchanged(*static_base, ctx.static_base.input_key);
      !same.ok()) {
    return same;
  }
  for (const LayerEntry& e : static_base->spec.entries()) spec.Add(e);
  auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() -
                                                                  start)
                .count();
  Log(ctx, absl::StrCat("run base ", ctx.recipe.name, ": ", ctx.packages.size(), " packages, ",
                        spec.entries().size(), " entries in ", ms, " ms"));
  return LayerOutput{std::move(spec), ""};
}

}  // namespace

absl::StatusOr<PlannedLayer> DebianBaseLayer(const DebianBaseRecipe& recipe,
                                             const DebianBaseOptions& options) {
  auto ctx = std::make_shared<ProduceContext>();
  ctx->recipe = recipe;
  ctx->options = options;
  if (!ctx->options.fetcher) {
    ctx->options.fetcher = NewAptDebFetcher({options.deb_cache_dir});
  }
  std::set<std::string> unique(recipe.packages.begin(), recipe.packages.end());
  if (unique.empty()) return absl::InvalidArgumentError("run base: recipe lists no packages");
  ASSIGN_OR_RETURN(ctx->packages, ctx->options.fetcher->Installed({unique.begin(), unique.end()}));
  std::sort(ctx->packages.begin(), ctx->packages.end(),
            [](const DebPackage& a, const DebPackage& b) { return a.name < b.name; });
  ctx->excludes = EffectiveExcludes(recipe);
  ASSIGN_OR_RETURN(ctx->static_base, BuildStaticBase(options.static_base));

  PlannedLayer layer;
  layer.role = LayerRole::kBase;
  layer.input_key = InputKey(recipe, ctx->packages, ctx->excludes, ctx->static_base.input_key);
  layer.produce = [ctx]() { return Produce(*ctx); };
  return layer;
}

}  // namespace tempa::buildpacks::runbase
