// Python manifests and lockfiles come from the repository. The first byte picks which files the
// rest of the input becomes (parts separated by "\n%%\n"), the way a repository would lay them
// out; FindDependencySource must answer a source, nothing, or an error naming the file.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/strings/str_split.h"
#include "buildpacks/python/python_manifest.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

// File names each layout gives the parts, in order.
const std::vector<std::vector<std::string>> kLayouts = {
    {"requirements.txt", "base.txt"},   // "-r base.txt" includes
    {"pyproject.toml", "uv.lock"},      // uv project
    {"pyproject.toml", "poetry.lock"},  // Poetry project
    {"pyproject.toml"},                 // PEP 621 dependencies
    {"Pipfile.lock"},
    {"Pipfile"},
    {"uv.lock"},
    {"setup.py", "setup.cfg"},
};
const std::vector<std::string> kAllFiles = {"requirements.txt", "base.txt",    "pyproject.toml",
                                            "uv.lock",          "poetry.lock", "Pipfile.lock",
                                            "Pipfile",          "setup.py",    "setup.cfg"};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace python = tempa::buildpacks::python;
  if (size == 0) return 0;
  const std::string& dir = tempa::fuzz::ScratchDir();
  const std::vector<std::string>& layout = kLayouts[data[0] % kLayouts.size()];
  for (const std::string& name : kAllFiles) tempa::fuzz::RemoveFile(dir + "/" + name);
  std::vector<std::string_view> parts = tempa::fuzz::SplitParts(data + 1, size - 1, layout.size());
  for (size_t i = 0; i < parts.size(); ++i) tempa::fuzz::WriteFile(dir + "/" + layout[i], parts[i]);

  absl::StatusOr<std::optional<python::DependencySource>> source =
      python::FindDependencySource(dir);
  if (source.ok() && *source) {
    for (absl::string_view line : absl::StrSplit((*source)->requirements, '\n')) {
      python::NormalizeName(python::RequirementName(line));
    }
  }
  return 0;
}
