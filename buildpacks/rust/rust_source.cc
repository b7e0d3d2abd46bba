#include "buildpacks/rust/rust_source.h"

#include <fnmatch.h>
#include <toml++/toml.h>

#include <algorithm>
#include <set>
#include <string_view>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "buildpacks/internal/fs_util.h"
#include "common/status_macros.h"

namespace tempa::buildpacks::rust {
namespace {

constexpr size_t kMaxManifest = 1 << 20;  // a Cargo.toml larger than this is hostile
constexpr size_t kMaxMembers = 1000;

absl::Status Invalid(absl::string_view where, int64_t line, absl::string_view what) {
  return absl::InvalidArgumentError(line > 0 ? absl::StrCat(where, ":", line, ": ", what)
                                             : absl::StrCat(where, ": ", what));
}

// An optional string field; an error when present with another type.
absl::StatusOr<std::optional<std::string>> OptionalString(toml::node_view<const toml::node> node,
                                                          absl::string_view where,
                                                          absl::string_view key) {
  if (!node) return std::optional<std::string>();
  if (std::optional<std::string> s = node.value<std::string>()) return s;
  return Invalid(where, node.node()->source().begin.line, absl::StrCat(key, " must be a string"));
}

absl::StatusOr<std::vector<std::string>> StringArray(toml::node_view<const toml::node> node,
                                                     absl::string_view where,
                                                     absl::string_view key) {
  std::vector<std::string> out;
  if (!node) return out;
  const toml::array* array = node.as_array();
  if (array == nullptr) {
    return Invalid(where, node.node()->source().begin.line,
                   absl::StrCat(key, " must be an array of strings"));
  }
  for (const toml::node& element : *array) {
    std::optional<std::string> s = element.value<std::string>();
    if (!s) {
      return Invalid(where, element.source().begin.line,
                     absl::StrCat(key, " must be an array of strings"));
    }
    out.push_back(*std::move(s));
  }
  return out;
}

bool HasGlob(absl::string_view s) { return s.find_first_of("*?[") != absl::string_view::npos; }

// "./crates/api/" → "crates/api"; "." stays. Absolute paths and ".." are refused: a member
// outside the source tree is outside what Tempa was asked to build.
absl::StatusOr<std::string> CleanRelative(absl::string_view path) {
  if (absl::StartsWith(path, "/")) {
    return absl::InvalidArgumentError(absl::StrCat("\"", path, "\" is absolute"));
  }
  std::vector<std::string> parts;
  for (absl::string_view part : absl::StrSplit(path, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      return absl::InvalidArgumentError(absl::StrCat("\"", path, "\" leaves the source tree"));
    }
    parts.emplace_back(part);
  }
  return parts.empty() ? std::string(".") : absl::StrJoin(parts, "/");
}

std::string Join(const std::string& dir, absl::string_view name) {
  return dir == "." ? std::string(name) : absl::StrCat(dir, "/", name);
}

}  // namespace

absl::StatusOr<CargoManifest> ParseCargoManifest(absl::string_view text, absl::string_view where) {
  toml::table parsed;
  try {
    parsed = toml::parse(std::string_view(text.data(), text.size()),
                         std::string_view(where.data(), where.size()));
  } catch (const toml::parse_error& e) {
    return Invalid(where, e.source().begin.line, std::string(e.description()));
  }
  const toml::table& table = parsed;
  CargoManifest manifest;
  if (table.contains("package")) {
    if (!table["package"].is_table()) return Invalid(where, 0, "[package] must be a table");
    ASSIGN_OR_RETURN(manifest.package,
                     OptionalString(table["package"]["name"], where, "package.name"));
    if (!manifest.package) return Invalid(where, 0, "[package] has no name");
    if (auto autobins = table["package"]["autobins"]) {
      if (!autobins.is_boolean()) {
        return Invalid(where, autobins.node()->source().begin.line,
                       "package.autobins must be true or false");
      }
      manifest.autobins = *autobins.value<bool>();
    }
  }
  if (auto bins = table["bin"]) {
    const toml::array* array = bins.as_array();
    if (array == nullptr) return Invalid(where, 0, "bin must be an array of tables ([[bin]])");
    for (const toml::node& element : *array) {
      const toml::table* bin = element.as_table();
      if (bin == nullptr)
        return Invalid(where, element.source().begin.line, "[[bin]] must be a table");
      toml::node_view<const toml::node> view(bin);
      ASSIGN_OR_RETURN(std::optional<std::string> name,
                       OptionalString(view["name"], where, "bin.name"));
      ASSIGN_OR_RETURN(std::optional<std::string> path,
                       OptionalString(view["path"], where, "bin.path"));
      if (!name) return Invalid(where, element.source().begin.line, "[[bin]] has no name");
      manifest.bins.emplace_back(*name, path.value_or(""));
    }
  }
  if (table.contains("workspace")) {
    if (!table["workspace"].is_table()) return Invalid(where, 0, "[workspace] must be a table");
    manifest.workspace = true;
    ASSIGN_OR_RETURN(manifest.members,
                     StringArray(table["workspace"]["members"], where, "workspace.members"));
    ASSIGN_OR_RETURN(manifest.exclude,
                     StringArray(table["workspace"]["exclude"], where, "workspace.exclude"));
  }
  return manifest;
}

std::vector<CargoBin> BinTargets(const std::string& root, const std::string& dir,
                                 const CargoManifest& manifest) {
  std::vector<CargoBin> bins;
  if (!manifest.package) return bins;
  const std::string& package = *manifest.package;
  std::string manifest_path = Join(dir, "Cargo.toml");
  std::set<std::string> names, paths;
  for (const auto& [name, path] : manifest.bins) {
    // Cargo's default path for an explicit [[bin]] without one.
    std::string implied = name == package ? "src/main.rs" : absl::StrCat("src/bin/", name, ".rs");
    if (path.empty() && !internal::IsRegularFile(root + "/" + Join(dir, implied)) &&
        name != package) {
      implied = absl::StrCat("src/bin/", name, "/main.rs");
    }
    absl::StatusOr<std::string> clean = CleanRelative(path.empty() ? implied : path);
    paths.insert(clean.ok() ? *clean : path);
    if (names.insert(name).second) bins.push_back({name, package, manifest_path});
  }
  if (manifest.autobins) {
    auto infer = [&](const std::string& name, const std::string& rel) {
      if (names.count(name) || paths.count(rel)) return;
      if (!internal::IsRegularFile(root + "/" + Join(dir, rel))) return;
      names.insert(name);
      bins.push_back({name, package, manifest_path});
    };
    infer(package, "src/main.rs");
    std::string bin_dir = root + "/" + Join(dir, "src/bin");
    if (internal::IsDirectory(bin_dir)) {
      absl::StatusOr<std::vector<std::string>> entries =
          internal::ListDirBeneath(root, Join(dir, "src/bin"));
      for (const std::string& entry : entries.ok() ? *entries : std::vector<std::string>{}) {
        if (absl::EndsWith(entry, ".rs")) {
          infer(entry.substr(0, entry.size() - 3), "src/bin/" + entry);
        } else {
          infer(entry, absl::StrCat("src/bin/", entry, "/main.rs"));
        }
      }
    }
  }
  return bins;
}

absl::StatusOr<std::vector<std::string>> ExpandMembers(const std::string& root,
                                                       absl::string_view pattern) {
  ASSIGN_OR_RETURN(std::string clean, CleanRelative(pattern));
  // Walk component by component: literal parts are appended, glob parts match directory
  // entries. Directories only (IsDirectory does not follow symlinks).
  std::vector<std::string> current = {"."};
  std::vector<absl::string_view> parts;
  if (clean != ".") parts = absl::StrSplit(clean, '/');
  for (absl::string_view part : parts) {
    std::vector<std::string> next;
    for (const std::string& dir : current) {
      if (!HasGlob(part)) {
        std::string candidate = Join(dir, part);
        if (internal::IsDirectory(root + "/" + candidate)) next.push_back(candidate);
        continue;
      }
      absl::StatusOr<std::vector<std::string>> entries = internal::ListDirBeneath(root, dir);
      if (!entries.ok()) continue;
      std::string glob(part);
      for (const std::string& entry : *entries) {
        if (fnmatch(glob.c_str(), entry.c_str(), FNM_PATHNAME | FNM_PERIOD) != 0) continue;
        std::string candidate = Join(dir, entry);
        if (internal::IsDirectory(root + "/" + candidate)) next.push_back(candidate);
      }
    }
    current = std::move(next);
    if (current.size() > kMaxMembers) {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", pattern, "\" matches more than ", kMaxMembers, " directories"));
    }
  }
  std::vector<std::string> members;
  for (const std::string& dir : current) {
    if (internal::Exists(root + "/" + Join(dir, "Cargo.toml"))) members.push_back(dir);
  }
  std::sort(members.begin(), members.end());
  return members;
}

absl::StatusOr<CargoProject> ReadCargoProject(const std::string& root) {
  auto read = [&](const std::string& dir) -> absl::StatusOr<CargoManifest> {
    std::string rel = Join(dir, "Cargo.toml");
    absl::StatusOr<std::string> text = internal::ReadSmallFileBeneath(root, rel, kMaxManifest);
    if (!text.ok()) return Annotate(text.status(), rel);
    return ParseCargoManifest(*text, rel);
  };
  ASSIGN_OR_RETURN(CargoManifest top, read("."));
  CargoProject project;
  project.workspace = top.workspace;
  std::vector<std::pair<std::string, CargoManifest>> packages;
  if (top.package) packages.emplace_back(".", top);
  if (top.workspace) {
    std::set<std::string> excluded;
    for (const std::string& e : top.exclude) {
      absl::StatusOr<std::string> clean = CleanRelative(e);
      if (clean.ok()) excluded.insert(*clean);
    }
    std::set<std::string> seen = {"."};
    for (const std::string& pattern : top.members) {
      absl::StatusOr<std::vector<std::string>> dirs = ExpandMembers(root, pattern);
      if (!dirs.ok()) return Annotate(dirs.status(), "Cargo.toml: workspace member");
      if (dirs->empty() && !HasGlob(pattern)) {
        return absl::InvalidArgumentError(absl::StrCat("Cargo.toml: workspace member \"", pattern,
                                                       "\" has no Cargo.toml (cargo would fail "
                                                       "too); fix the members list"));
      }
      for (const std::string& dir : *dirs) {
        if (excluded.count(dir) || !seen.insert(dir).second) continue;
        if (seen.size() > kMaxMembers) {
          return absl::InvalidArgumentError("Cargo.toml: more than 1000 workspace members");
        }
        ASSIGN_OR_RETURN(CargoManifest member, read(dir));
        if (member.package) packages.emplace_back(dir, std::move(member));
      }
    }
  }
  for (const auto& [dir, manifest] : packages) {
    project.members.push_back(dir);
    for (CargoBin& bin : BinTargets(root, dir, manifest)) project.bins.push_back(std::move(bin));
  }
  std::sort(project.bins.begin(), project.bins.end(), [](const CargoBin& a, const CargoBin& b) {
    return std::tie(a.name, a.package) < std::tie(b.name, b.package);
  });
  return project;
}

}  // namespace tempa::buildpacks::rust
