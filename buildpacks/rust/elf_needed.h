// The shared libraries an ELF executable asks the dynamic loader for (DT_NEEDED) and its
// interpreter (PT_INTERP), read from the file's headers. The Rust buildpack sizes the run base
// from them: a static binary needs no libc, a glibc one needs the closure of these sonames.
// Parsed here, not with readelf/ldd, because the binary is untrusted output of the user's build
// and ldd may execute it.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"

namespace tempa::buildpacks::rust {

struct ElfDependencies {
  std::string interpreter;          // "/lib64/ld-linux-x86-64.so.2"; "" for a static binary
  std::vector<std::string> needed;  // sonames in DT_NEEDED order: "libgcc_s.so.1", "libc.so.6"
};

// Reads `path`'s program headers and dynamic section. 32- and 64-bit little-endian ELF files;
// InvalidArgument for anything else or for offsets pointing outside the file.
absl::StatusOr<ElfDependencies> ReadElfDependencies(const std::string& path);

}  // namespace tempa::buildpacks::rust
