// The app directory's runtime files: what a compiled app reads from its working directory at run
// time (index.html, templates/, static/, a config file), selected from the repository and put at
// app/... in a layer of their own. In order: Tempa's defaults leave out version-control data,
// build outputs, the language's sources and manifests and Tempa's own config; then .tempaignore
// (gitignore syntax) or, when there is none, .dockerignore; then tempa.toml's `include` brings
// back what either left out and its `exclude` leaves out more. Version-control data and a root
// entry named like the binary are never copied.
//
// The tree is read beneath the app root without following a symlink; a symlink goes into the
// layer as written (it resolves inside the image, never on the host). Files are root's, 0644 or
// 0755.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "buildpacks/buildpack.h"

namespace tempa::buildpacks::internal {

struct RuntimeFilesOptions {
  // Bumped into the content key when the layout of the layer changes.
  std::string layer_version = "runtime-files-v1";
  // The binary's name: a root entry of that name is never copied (the binary is /app/NAME, in
  // the app layer). Empty: no binary.
  std::string binary_name;
  // Tempa's defaults for the language, gitignore syntax (GoRuntimeDefaults()...). Version
  // control directories are always left out besides these.
  std::vector<std::string> defaults;
  // tempa.toml's lists (gitignore-syntax globs, no "!").
  std::vector<std::string> include;
  std::vector<std::string> exclude;
  std::string dest_prefix = "app";
  // Symlinks go in as written (they resolve inside the image); false refuses one that is absolute
  // or leaves the tree (TreeOptions::allow_links_out).
  bool allow_links_out = true;
  // Bounds on what goes into the layer; over them the build fails naming the limit.
  size_t max_files = 100000;
  uint64_t max_bytes = uint64_t{2} << 30;
};

// The selection RuntimeFilesLayer makes, as the predicate of a tree walk (TreeOptions::skip,
// TreeCopyOptions::skip): for a build step that must see exactly the files the image gets
// (Django's collectstatic runs on such a copy, so a file .tempaignore leaves out cannot reach
// the static layer through it). Entries are asked parents first, as a walk does; one filter
// serves one walk.
class RuntimeFilesFilter {
 public:
  // Loads the app's .tempaignore/.dockerignore; errors as RuntimeFilesLayer's.
  static absl::StatusOr<std::unique_ptr<RuntimeFilesFilter>> Make(
      const std::string& app_dir, const RuntimeFilesOptions& options);
  ~RuntimeFilesFilter();
  // True to leave `rel` (relative to the app directory) out; a directory left out is not walked.
  bool Skip(const std::string& rel, bool is_dir);

 private:
  friend absl::StatusOr<LayerOutput> RuntimeFilesLayer(const std::string& app_dir,
                                                       const RuntimeFilesOptions& options);
  struct Rules;
  explicit RuntimeFilesFilter(std::unique_ptr<Rules> rules);
  std::unique_ptr<Rules> rules_;
};

// Defaults for a compiled app: build outputs, vendor/, the language's sources and manifests and
// Tempa's own config files.
std::vector<std::string> GoRuntimeDefaults();
std::vector<std::string> RustRuntimeDefaults();

// Selects the runtime files of `app_dir` and returns them as a layer at `dest_prefix`/..., with a
// content key over paths, types, modes and file digests, and a report: "files" (files and links
// kept), "bytes" (their size) and "why" (which rules left what out or brought it back).
// InvalidArgument for a malformed or oversized ignore file, a fifo or device that would be
// copied, or a selection over the limits, each naming the fix.
absl::StatusOr<LayerOutput> RuntimeFilesLayer(const std::string& app_dir,
                                              const RuntimeFilesOptions& options);

// The files layer of a compiled app (role kFiles, keyed by content): RuntimeFilesLayer over
// context.source_dir with context's include/exclude, selected now and logged through
// context.log. nullopt when no file is selected (the image is then what it was without runtime
// files). Failures are bad input in step "build".
absl::StatusOr<std::optional<PlannedLayer>> RuntimeFilesPlannedLayer(
    const BuildContext& context, std::vector<std::string> defaults, const std::string& binary_name);

// The one log line for a produced layer: "runtime files: 12 files, 18211 bytes (why...)".
std::string RuntimeFilesLogLine(const LayerOutput& output);

}  // namespace tempa::buildpacks::internal
