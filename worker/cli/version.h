// Tempa's version, for `tempa --version`: the CMake project's VERSION and the git commit the
// binary was built from ("" when the source was not a git checkout). The definitions are
// generated at build time (cmake/write_version.cmake).
#pragma once

namespace tempa::cli {

extern const char kTempaVersion[];
extern const char kTempaCommit[];

}  // namespace tempa::cli
