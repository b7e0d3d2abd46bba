// go.mod, go.work and the headers of .go files come from the repository. The parsers must not
// crash, and the directory and name cleaners must keep their promises whatever they are given:
// a cleaned directory never climbs out of the tree, a sanitised name is one safe path component.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "buildpacks/go/go_source.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace go = tempa::buildpacks::go;
  using tempa::fuzz::Check;
  absl::string_view text(reinterpret_cast<const char*>(data), size);

  absl::StatusOr<go::GoModFile> mod = go::ParseGoMod(text);
  if (mod.ok()) go::BinaryNameFor(mod->module_path);
  absl::StatusOr<go::GoWorkFile> work = go::ParseGoWork(text);
  if (work.ok()) {
    for (const std::string& use : work->uses) {
      absl::StatusOr<std::string> dir = go::CleanRelativeDir(use);
      if (!dir.ok()) continue;
      Check(!absl::StartsWith(*dir, "/"), "CleanRelativeDir returned an absolute path");
      for (absl::string_view part : absl::StrSplit(*dir, '/')) {
        Check(part != ".." && !part.empty(), "CleanRelativeDir returned a '..' or empty part");
      }
    }
  }
  go::DeclaresPackageMain(text);

  std::string name = go::SanitizeAppName(go::BinaryNameFor(text));
  Check(!name.empty() && name[0] != '.', "SanitizeAppName returned an empty or hidden name");
  for (char c : name) {
    Check(absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-',
          "SanitizeAppName returned a character outside [A-Za-z0-9._-]");
  }
  return 0;
}
