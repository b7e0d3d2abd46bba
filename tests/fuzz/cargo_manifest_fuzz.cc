// Cargo.toml comes from the repository: ParseCargoManifest (toml++ underneath) must turn any
// text into a manifest or an InvalidArgument, never a crash or an escaping exception.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "buildpacks/rust/rust_source.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  tempa::buildpacks::rust::ParseCargoManifest(text, "Cargo.toml").IgnoreError();
  return 0;
}
