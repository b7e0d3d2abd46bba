// Reading a Cargo project the way cargo would, without running it: the manifest's package,
// binary targets (src/main.rs, src/bin/*, [[bin]]) and workspace members (with globs), so
// detection can name the one binary to build — or list the choices when there are several.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa::buildpacks::rust {

// What Tempa needs from one Cargo.toml.
struct CargoManifest {
  std::optional<std::string> package;  // [package] name; nullopt for a virtual manifest
  bool autobins = true;                // [package] autobins
  // [[bin]] entries: name and path as written ("" when the path is implied).
  std::vector<std::pair<std::string, std::string>> bins;
  bool workspace = false;            // has a [workspace] table
  std::vector<std::string> members;  // [workspace] members, as written (may hold globs)
  std::vector<std::string> exclude;  // [workspace] exclude
};

// Parses Cargo.toml text; `where` names the file in errors ("crates/api/Cargo.toml:3: ...").
// InvalidArgument for TOML syntax errors and for fields of the wrong type.
absl::StatusOr<CargoManifest> ParseCargoManifest(absl::string_view text, absl::string_view where);

// One binary target of the tree.
struct CargoBin {
  std::string name;      // the target (and file) name: cargo build --bin NAME
  std::string package;   // the package it belongs to: cargo build -p PACKAGE
  std::string manifest;  // the package's manifest, relative: "Cargo.toml", "crates/api/Cargo.toml"
};

struct CargoProject {
  bool workspace = false;            // the root manifest has [workspace]
  std::vector<std::string> members;  // package directories, relative ("." for the root package)
  std::vector<CargoBin> bins;        // every binary target of every member, sorted by name
};

// Reads root/Cargo.toml and, for a workspace, every member's. The tree is untrusted: members
// that climb out of it, symlinks and oversized manifests are errors, never followed.
absl::StatusOr<CargoProject> ReadCargoProject(const std::string& root);

// The binary targets of the package in `dir` (relative to `root`), by cargo's target
// auto-discovery rules: src/main.rs (named after the package), src/bin/NAME.rs,
// src/bin/NAME/main.rs, unless `autobins = false`; explicit [[bin]] entries replace inferred
// targets with the same name or path.
std::vector<CargoBin> BinTargets(const std::string& root, const std::string& dir,
                                 const CargoManifest& manifest);

// Expands one workspace member pattern ("crates/*", "tools/cli") to the directories holding a
// Cargo.toml, relative to `root`, sorted. `*`, `?` and `[...]` match within one path component.
// InvalidArgument for absolute patterns and ones that climb out of the tree with "..".
absl::StatusOr<std::vector<std::string>> ExpandMembers(const std::string& root,
                                                       absl::string_view pattern);

}  // namespace tempa::buildpacks::rust
