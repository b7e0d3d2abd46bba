#include "buildpacks/detector.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "buildpacks/go/go_buildpack.h"
#include "buildpacks/internal/fs_util.h"
#include "buildpacks/python/python_buildpack.h"
#include "buildpacks/rust/rust_buildpack.h"
#include "common/build_error.h"

namespace tempa::buildpacks {
namespace {

// "a", "a or b", "a, b or c".
std::string OrList(const std::vector<std::string>& items) {
  if (items.size() <= 1) return absl::StrJoin(items, "");
  return absl::StrCat(absl::StrJoin(items.begin(), items.end() - 1, ", "), " or ", items.back());
}

}  // namespace

std::vector<DetectorEntry> DefaultDetectorEntries(const DefaultBuildpackOptions& options) {
  std::shared_ptr<GoToolchainLocator> go = options.go_toolchain;
  if (go == nullptr) go = std::make_shared<HostGoToolchainLocator>();
  std::vector<DetectorEntry> entries;
  entries.push_back({"Go",
                     {"go.mod", "go.work", "main.go"},
                     std::make_unique<GoBuildpack>(go, options.static_base)});
  entries.push_back({"Rust",
                     {"Cargo.toml"},
                     std::make_unique<RustBuildpack>(std::make_shared<HostRustToolchainLocator>(),
                                                     RustBuildpackOptions{options.static_base})});
  entries.push_back(
      {"Python",
       {"requirements.txt", "pyproject.toml", "Pipfile", "Pipfile.lock", "uv.lock", "setup.py",
        "main.py", "app.py"},
       std::make_unique<PythonBuildpack>(
           PythonBuildpackOptions{nullptr, {options.static_base, ""}, PythonRuntimeBaseLayer})});
  return entries;
}

Detector::Detector(std::vector<DetectorEntry> entries) : entries_(std::move(entries)) {}

Detector Detector::WithDefaultBuildpacks(const DefaultBuildpackOptions& options) {
  return Detector(DefaultDetectorEntries(options));
}

std::string Detector::LookedFor() const {
  std::vector<std::string> parts;
  for (const DetectorEntry& entry : entries_) {
    parts.push_back(absl::StrCat(OrList(entry.markers), " (", entry.language, ")"));
  }
  return absl::StrJoin(parts, ", ");
}

absl::StatusOr<std::pair<Buildpack*, BuildPlan>> Detector::Detect(
    const std::string& source_dir, const DetectOptions& options) const {
  if (!internal::IsDirectory(source_dir)) {
    return WithFailure(
        absl::InvalidArgumentError(absl::StrCat("source directory ", source_dir,
                                                " does not exist or is not a "
                                                "directory; pass the app's root directory")),
        {FailureKind::kBadInput, "detect", ""});
  }
  for (const DetectorEntry& entry : entries_) {
    if (entry.buildpack == nullptr) {
      for (const std::string& marker : entry.markers) {
        if (!internal::Exists(source_dir + "/" + marker)) continue;
        std::vector<std::string> supported;
        for (const DetectorEntry& e : entries_) {
          if (e.buildpack != nullptr) supported.push_back(e.language);
        }
        return WithFailure(absl::UnimplementedError(absl::StrCat(
                               "found ", marker, " in ", source_dir, ": a ", entry.language,
                               " app, but this Tempa cannot build ", entry.language,
                               " yet (supported: ", absl::StrJoin(supported, ", "), ")")),
                           {FailureKind::kNoAppDetected, "detect", ""});
      }
      continue;
    }
    absl::StatusOr<std::optional<BuildPlan>> plan = entry.buildpack->Detect(source_dir, options);
    if (!plan.ok()) return plan.status();
    if (plan->has_value()) return std::make_pair(entry.buildpack.get(), **std::move(plan));
  }
  return WithFailure(
      absl::FailedPreconditionError(absl::StrCat(
          "no app detected in ", source_dir, ": looked for ", LookedFor(),
          ". Fix: put one of these files at the root of the source, or, if the app lives in a "
          "subdirectory, build that directory")),
      {FailureKind::kNoAppDetected, "detect", ""});
}

}  // namespace tempa::buildpacks
