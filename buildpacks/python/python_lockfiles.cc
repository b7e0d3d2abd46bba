// The structured manifests behind python_manifest.h: pyproject.toml (PEP 621 and Poetry),
// poetry.lock, uv.lock, Pipfile and Pipfile.lock, each turned into requirement lines.
#include <map>
#include <set>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "buildpacks/internal/fs_util.h"
#include "buildpacks/python/python_manifest.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "toml++/toml.h"

namespace tempa::buildpacks::python::internal_manifest {
namespace {

absl::StatusOr<toml::table> ParseToml(const std::string& text) {
  try {
    return toml::parse(text);
  } catch (const toml::parse_error& e) {
    std::ostringstream where;
    where << e.source().begin;
    return absl::InvalidArgumentError(
        absl::StrCat("invalid TOML at ", where.str(), ": ", std::string(e.description())));
  }
}

template <typename View>
std::string Str(const View& node) {
  return std::string(node.value_or(std::string_view()));
}

// "name[extra1,extra2]" from a name and a TOML/JSON extras list.
std::string WithExtras(const std::string& name, const std::vector<std::string>& extras) {
  return extras.empty() ? name : absl::StrCat(name, "[", absl::StrJoin(extras, ","), "]");
}

std::string WithMarker(std::string requirement, const std::string& marker) {
  return marker.empty() ? requirement : absl::StrCat(requirement, " ; ", marker);
}

// A VCS pin as pip reads it: "name @ git+URL@REF".
std::string GitRequirement(const std::string& name, std::string url, const std::string& ref) {
  if (!absl::StartsWith(url, "git+")) url = "git+" + url;
  return ref.empty() ? absl::StrCat(name, " @ ", url) : absl::StrCat(name, " @ ", url, "@", ref);
}

absl::Status ReadInto(const std::string& root, const std::string& rel, DependencySource& out,
                      std::string& text) {
  absl::StatusOr<std::string> read =
      buildpacks::internal::ReadSmallFileBeneath(root, rel, kMaxManifestBytes);
  if (!read.ok()) return Annotate(read.status(), rel);
  out.files.push_back(rel);
  text = *std::move(read);
  return absl::OkStatus();
}

}  // namespace

absl::Status FromPyproject(const std::string& root, const std::string& text, DependencySource& out,
                           bool& matched) {
  absl::StatusOr<toml::table> parsed = ParseToml(text);
  if (!parsed.ok()) return Annotate(parsed.status(), "pyproject.toml");
  const toml::table& doc = *parsed;
  const toml::table* project = doc["project"].as_table();
  const toml::table* poetry = doc["tool"]["poetry"].as_table();
  if (project != nullptr) out.project_name = Str(doc["project"]["name"]);
  if (poetry != nullptr && out.project_name.empty()) {
    out.project_name = Str(doc["tool"]["poetry"]["name"]);
  }

  if (buildpacks::internal::Exists(root + "/uv.lock")) {
    matched = true;
    out.kind = "uv.lock";
    std::string lock;
    RETURN_IF_ERROR(ReadInto(root, "uv.lock", out, lock));
    return Annotate(FromUvLock(lock, out.project_name, out), "uv.lock");
  }
  if (poetry != nullptr) {
    matched = true;
    out.kind = "poetry.lock";
    if (!buildpacks::internal::Exists(root + "/poetry.lock")) {
      return absl::FailedPreconditionError(
          "pyproject.toml is a Poetry project but poetry.lock is missing: run `poetry lock` and "
          "commit poetry.lock (Tempa installs the locked versions)");
    }
    std::string lock;
    RETURN_IF_ERROR(ReadInto(root, "poetry.lock", out, lock));
    return Annotate(FromPoetryLock(lock, out), "poetry.lock");
  }
  if (project == nullptr) return absl::OkStatus();
  matched = true;
  out.kind = "pyproject.toml";
  const toml::array* deps = doc["project"]["dependencies"].as_array();
  if (deps == nullptr) {
    if (const toml::array* dynamic = doc["project"]["dynamic"].as_array()) {
      for (const toml::node& item : *dynamic) {
        if (item.value_or(std::string_view()) == "dependencies") {
          return absl::InvalidArgumentError(
              "pyproject.toml: [project] dependencies are dynamic (computed by the build "
              "backend); list them in [project] dependencies or in requirements.txt");
        }
      }
    }
    out.notes.push_back("pyproject.toml: [project] has no dependencies");
    return absl::OkStatus();
  }
  for (const toml::node& item : *deps) {
    std::optional<std::string> requirement = item.value<std::string>();
    if (!requirement) {
      return absl::InvalidArgumentError(
          "pyproject.toml: [project] dependencies must be strings (PEP 508 requirements)");
    }
    AddRequirement(out, *requirement);
  }
  out.notes.push_back(absl::StrCat("pyproject.toml: ", deps->size(),
                                   " PEP 621 dependencies, resolved at build time (no lockfile)"));
  return absl::OkStatus();
}

absl::Status FromPoetryLock(const std::string& text, DependencySource& out) {
  ASSIGN_OR_RETURN(toml::table doc, ParseToml(text));
  const toml::array* packages = doc["package"].as_array();
  int count = 0, skipped = 0;
  if (packages != nullptr) {
    for (const toml::node& node : *packages) {
      const toml::table* pkg = node.as_table();
      if (pkg == nullptr) continue;
      toml::node_view<const toml::node> p(pkg);
      // Poetry < 1.5 marks dev packages with category; newer locks list groups.
      bool main = Str(p["category"]).empty() || Str(p["category"]) == "main";
      if (const toml::array* groups = p["groups"].as_array()) {
        main = false;
        for (const toml::node& g : *groups) main |= g.value_or(std::string_view()) == "main";
      }
      if (!main) {
        ++skipped;
        continue;
      }
      std::string name = Str(p["name"]);
      std::string marker = Str(p["markers"]);
      if (marker.empty()) marker = Str(p["markers"]["main"]);
      std::string type = Str(p["source"]["type"]);
      std::string requirement = absl::StrCat(name, "==", Str(p["version"]));
      if (type == "git") {
        requirement =
            GitRequirement(name, Str(p["source"]["url"]), Str(p["source"]["resolved_reference"]));
      } else if (type == "url") {
        requirement = absl::StrCat(name, " @ ", Str(p["source"]["url"]));
      } else if (type == "directory" || type == "file") {
        return absl::InvalidArgumentError(absl::StrCat(
            "package ", name, " comes from a local ", type, " (", Str(p["source"]["url"]),
            "), which Tempa cannot install into the dependency layer; publish it to the index"));
      }
      AddRequirement(out, WithMarker(requirement, marker));
      ++count;
    }
  }
  out.notes.push_back(absl::StrCat("poetry.lock: ", count, " locked package(s) of the main group",
                                   skipped ? absl::StrCat(", ", skipped, " dev skipped") : ""));
  return absl::OkStatus();
}

absl::Status FromUvLock(const std::string& text, const std::string& project,
                        DependencySource& out) {
  ASSIGN_OR_RETURN(toml::table doc, ParseToml(text));
  const toml::array* packages = doc["package"].as_array();
  if (packages == nullptr) return absl::InvalidArgumentError("no [[package]] entries");
  std::map<std::string, const toml::table*> by_name;
  const toml::table* root = nullptr;
  for (const toml::node& node : *packages) {
    const toml::table* pkg = node.as_table();
    if (pkg == nullptr) continue;
    toml::node_view<const toml::node> p(pkg);
    std::string name = NormalizeName(Str(p["name"]));
    by_name[name] = pkg;
    bool local_root = Str(p["source"]["editable"]) == "." || Str(p["source"]["virtual"]) == ".";
    if (local_root || (!project.empty() && name == NormalizeName(project))) root = pkg;
  }
  if (root == nullptr) {
    return absl::InvalidArgumentError(
        "cannot tell which package is the project (none has source editable/virtual \".\"); "
        "run `uv lock` again");
  }
  // What the project needs at run time: its `dependencies`, transitively (optional and dev
  // dependencies are not followed). A package reached only under markers keeps them.
  std::map<std::string, std::set<std::string>> markers;  // name → markers ("" = always)
  std::vector<std::pair<std::string, std::string>> work;
  auto push_deps = [&](const toml::table* pkg, const std::string& via_marker) {
    const toml::array* deps = toml::node_view<const toml::node>(pkg)["dependencies"].as_array();
    if (deps == nullptr) return;
    for (const toml::node& d : *deps) {
      toml::node_view<const toml::node> dep(d);
      std::string marker = Str(dep["marker"]);
      if (!via_marker.empty()) {
        marker =
            marker.empty() ? via_marker : absl::StrCat("(", via_marker, ") and (", marker, ")");
      }
      work.emplace_back(NormalizeName(Str(dep["name"])), marker);
    }
  };
  push_deps(root, "");
  while (!work.empty()) {
    auto [name, marker] = work.back();
    work.pop_back();
    std::set<std::string>& seen = markers[name];
    if (seen.count("") || !seen.insert(marker).second) continue;
    if (marker.empty()) seen = {""};
    auto it = by_name.find(name);
    if (it == by_name.end()) {
      return absl::InvalidArgumentError(absl::StrCat("dependency ", name, " is not locked"));
    }
    if (it->second != root) push_deps(it->second, marker);
  }
  for (const auto& [name, marker_set] : markers) {
    const toml::table* pkg = by_name[name];
    if (pkg == root) continue;
    toml::node_view<const toml::node> p(pkg);
    std::string requirement = absl::StrCat(name, "==", Str(p["version"]));
    if (std::string git = Str(p["source"]["git"]); !git.empty()) {
      // "https://host/repo?rev=main#<sha>": pin the commit.
      std::string ref = git.find('#') == std::string::npos ? "" : git.substr(git.find('#') + 1);
      requirement = GitRequirement(name, git.substr(0, git.find_first_of("?#")), ref);
    } else if (std::string url = Str(p["source"]["url"]); !url.empty()) {
      requirement = absl::StrCat(name, " @ ", url);
    } else if (!Str(p["source"]["path"]).empty() || !Str(p["source"]["directory"]).empty() ||
               !Str(p["source"]["editable"]).empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat("package ", name,
                       " comes from a local path, which Tempa cannot install "
                       "into the dependency layer; publish it to the index"));
    }
    std::string marker = marker_set.count("") ? "" : absl::StrJoin(marker_set, " or ");
    if (marker_set.size() > 1 && !marker_set.count("")) {
      marker = absl::StrCat("(", absl::StrJoin(marker_set, ") or ("), ")");
    }
    AddRequirement(out, WithMarker(requirement, marker));
  }
  out.notes.push_back(absl::StrCat("uv.lock: ", out.names.size(),
                                   " locked package(s) the project needs at run time"));
  return absl::OkStatus();
}

absl::Status FromPipfileLock(const std::string& text, DependencySource& out) {
  nlohmann::json doc = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded() || !doc.is_object()) return absl::InvalidArgumentError("invalid JSON");
  const nlohmann::json& deps = doc.value("default", nlohmann::json::object());
  if (!deps.is_object()) return absl::InvalidArgumentError("\"default\" is not an object");
  for (const auto& item : deps.items()) {
    // Named, not a structured binding: clang 14 (the sanitizer build) cannot capture those.
    const std::string& name = item.key();
    const nlohmann::json& spec = item.value();
    if (!spec.is_object()) continue;
    auto get = [&](const char* key) {
      auto it = spec.find(key);
      return it != spec.end() && it->is_string() ? it->get<std::string>() : std::string();
    };
    std::vector<std::string> extras;
    if (auto it = spec.find("extras"); it != spec.end() && it->is_array()) {
      for (const auto& e : *it) {
        if (e.is_string()) extras.push_back(e.get<std::string>());
      }
    }
    std::string requirement = WithExtras(name, extras) + get("version");
    if (!get("git").empty()) {
      requirement = GitRequirement(WithExtras(name, extras), get("git"), get("ref"));
    } else if (!get("path").empty() || !get("file").empty()) {
      out.notes.push_back(absl::StrCat("Pipfile.lock: skipped local package ", name));
      continue;
    }
    AddRequirement(out, WithMarker(requirement, get("markers")));
  }
  out.notes.push_back(absl::StrCat("Pipfile.lock: ", out.names.size(),
                                   " pinned package(s) "
                                   "from \"default\" (develop skipped)"));
  return absl::OkStatus();
}

absl::Status FromPipfile(const std::string& text, DependencySource& out) {
  ASSIGN_OR_RETURN(toml::table doc, ParseToml(text));
  const toml::table* packages = doc["packages"].as_table();
  if (packages == nullptr) return absl::OkStatus();
  for (const auto& [key, value] : *packages) {
    std::string name(key.str());
    if (std::optional<std::string> version = value.value<std::string>()) {
      AddRequirement(out, *version == "*" ? name : name + *version);
      continue;
    }
    toml::node_view<const toml::node> spec(value);
    std::vector<std::string> extras;
    if (const toml::array* list = spec["extras"].as_array()) {
      for (const toml::node& e : *list) extras.emplace_back(e.value_or(std::string_view()));
    }
    std::string requirement = WithExtras(name, extras);
    if (std::string git = Str(spec["git"]); !git.empty()) {
      requirement = GitRequirement(requirement, git, Str(spec["ref"]));
    } else if (!Str(spec["path"]).empty() || !Str(spec["file"]).empty()) {
      out.notes.push_back(absl::StrCat("Pipfile: skipped local package ", name));
      continue;
    } else if (std::string version = Str(spec["version"]); !version.empty() && version != "*") {
      requirement += version;
    }
    AddRequirement(out, WithMarker(requirement, Str(spec["markers"])));
  }
  return absl::OkStatus();
}

}  // namespace tempa::buildpacks::python::internal_manifest
