// Where a Python app's dependencies come from, and the one requirements file pip installs them
// from. Every supported manifest or lockfile is turned into plain requirement lines here, so the
// install step is one `pip install -r` whatever the project uses, and the dependency layer is
// keyed by exactly these files.
//
// First match wins:
//   requirements.txt   as is (-r includes inside the tree are inlined; local paths and -e lines
//                      are skipped: the app's own code runs from /app, not from the venv)
//   pyproject.toml     + uv.lock:     uv.lock's pins reachable from the project (no dev groups)
//                      [tool.poetry]: poetry.lock's pins of the main group (poetry.lock required)
//                      [project]:     the PEP 621 `dependencies` list (unpinned: pip resolves)
//   Pipfile.lock       the "default" section's pins;  Pipfile alone: its [packages]
//   uv.lock            alone: as above
//   setup.py           `install_requires` read statically — a literal list in setup.py (or a
//                      name bound to one), or setup.cfg's [options] install_requires. setup.py is
//                      never run: it is the app's code, and running it would key the dependency
//                      layer on code. A computed list is an error saying to use requirements.txt.
//   main.py / app.py   no dependencies
#pragma once

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa::buildpacks::python {

struct DependencySource {
  // "requirements.txt", "uv.lock", "poetry.lock", "pyproject.toml", "Pipfile.lock", "Pipfile",
  // "setup.py" or "none": the manifest named in messages ("... is not in requirements.txt").
  std::string kind;
  // Files read, relative to the app root, in reading order; their bytes key the deps layer.
  std::vector<std::string> files;
  // What pip installs: one requirement per line.
  std::string requirements;
  // PEP 503-normalised names of the distributions listed (lockfiles: every pinned package).
  std::set<std::string> names;
  // The project's own name when a manifest gives one ("" otherwise).
  std::string project_name;
  std::vector<std::string> notes;  // for the plan's reasons
};

// nullopt when none of the files above is at `root`. Errors (InvalidArgument /
// FailedPrecondition) name the file and say how to fix it.
absl::StatusOr<std::optional<DependencySource>> FindDependencySource(const std::string& root);

// PEP 503 normalisation: lowercase, runs of "-", "_", "." become "-".
std::string NormalizeName(absl::string_view name);
// The distribution name at the start of a requirement ("Flask[async]>=2; ..." → "flask"); ""
// for option lines, URLs and paths.
std::string RequirementName(absl::string_view requirement);

// Loaded file contents with bounded reads (manifests are untrusted input).
inline constexpr size_t kMaxManifestBytes = 4 << 20;

namespace internal_manifest {
// Parsers of the structured formats (python_lockfiles.cc). Each appends requirement lines and
// names to `out`; `text` is the file's content.
absl::Status FromPyproject(const std::string& root, const std::string& text,
                           DependencySource& out, bool& matched);
absl::Status FromPipfileLock(const std::string& text, DependencySource& out);
absl::Status FromPipfile(const std::string& text, DependencySource& out);
absl::Status FromUvLock(const std::string& text, const std::string& project, DependencySource& out);
absl::Status FromPoetryLock(const std::string& text, DependencySource& out);
// Adds one requirement line (and its name).
void AddRequirement(DependencySource& out, const std::string& line);
}  // namespace internal_manifest

}  // namespace tempa::buildpacks::python
