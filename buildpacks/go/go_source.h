// Reading a Go source tree the way the go command would, without running it: go.mod and go.work
// directives, which directories hold `package main`, and the binary name Go would pick.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa::buildpacks::go {

struct GoModFile {
  std::string module_path;  // "example.com/app"; empty when absent
  std::string go_version;   // the go directive, "1.22" or "1.22.3"; empty when absent
  int require_count = 0;    // number of required modules
};

struct GoWorkFile {
  std::string go_version;
  std::vector<std::string> uses;  // directories as written, e.g. "./api", "."
};

// Both parsers accept what `go mod edit` writes: comments, quoted paths, `use ( ... )` blocks.
// Only malformed directives that matter to Tempa (a module line without a path) are errors.
absl::StatusOr<GoModFile> ParseGoMod(absl::string_view text);
absl::StatusOr<GoWorkFile> ParseGoWork(absl::string_view text);

// True when the file's package clause is `package main` and no `//go:build ignore` constraint
// excludes it. Reads only the header: comments, build constraints, package clause.
bool DeclaresPackageMain(absl::string_view source);

// The first non-test .go file in `dir` (relative to the tree) declaring package main, or "".
std::string FindPackageMainFile(const std::string& root, const std::string& dir);

// Main package directories under the given module roots, relative to `root`: each module root
// itself and each of its cmd/* children, when they hold package main. Sorted, "." first.
std::vector<std::string> FindMainPackages(const std::string& root,
                                          const std::vector<std::string>& module_roots);

// Cleans a user- or go.work-supplied relative directory: "./cmd/api/" → "cmd/api", "./" → ".".
// InvalidArgument for absolute paths and ones that climb out with "..".
absl::StatusOr<std::string> CleanRelativeDir(absl::string_view dir);

// What `go build` names the binary of a package at import path `path` ("example.com/x/v2" → "x").
std::string BinaryNameFor(absl::string_view import_path);

// A name usable as one path component in the image: [A-Za-z0-9._-], never starting with '.'.
std::string SanitizeAppName(absl::string_view name);

}  // namespace tempa::buildpacks::go
