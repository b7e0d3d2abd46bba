// Cargo.toml comes from the repository: ParseCargoManifest (toml++ underneath) must turn any
// text into a manifest or an InvalidArgument, never a crash or an escaping exception; and
// reading it as a project root (workspace member patterns expanded against a scratch tree) must
// never name a member outside the tree.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "buildpacks/rust/rust_source.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace rust = tempa::buildpacks::rust;
  using tempa::fuzz::Check;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  rust::ParseCargoManifest(text, "Cargo.toml").IgnoreError();

  const std::string& root = tempa::fuzz::ScratchDir();
  tempa::fuzz::WriteFile(root + "/Cargo.toml", std::string_view(text.data(), text.size()));
  absl::StatusOr<rust::CargoProject> project = rust::ReadCargoProject(root);
  if (!project.ok()) return 0;
  for (const std::string& member : project->members) {
    Check(!absl::StartsWith(member, "/"), "an absolute workspace member was accepted");
    for (absl::string_view part : absl::StrSplit(member, '/')) {
      Check(part != "..", "a workspace member climbing out of the tree was accepted");
    }
  }
  return 0;
}
