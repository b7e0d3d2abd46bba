// The binary a Rust build leaves is untrusted output: ReadElfDependencies reads its program
// headers and dynamic section, and must refuse any layout (offsets past the end, huge counts,
// overlapping tables) without reading out of bounds.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "buildpacks/rust/elf_needed.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const std::string path = tempa::fuzz::ScratchDir() + "/app";
  tempa::fuzz::WriteFile(path, std::string_view(reinterpret_cast<const char*>(data), size));
  tempa::buildpacks::rust::ReadElfDependencies(path).IgnoreError();
  return 0;
}
