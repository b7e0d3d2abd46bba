#include "buildpacks/python/python_manifest.h"

#include <cctype>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "buildpacks/internal/fs_util.h"
#include "common/status_macros.h"

namespace tempa::buildpacks::python {
namespace {

using internal_manifest::AddRequirement;

constexpr int kMaxIncludeDepth = 8;

absl::StatusOr<std::string> Read(const std::string& root, const std::string& rel,
                                 DependencySource& out) {
  absl::StatusOr<std::string> text =
      buildpacks::internal::ReadSmallFileBeneath(root, rel, kMaxManifestBytes);
  if (!text.ok()) return Annotate(text.status(), rel);
  out.files.push_back(rel);
  return text;
}

// "a/b/../c" style paths from -r lines are resolved against the including file and must stay
// in the tree: the dependency layer is keyed by the files read, and the tree is untrusted.
absl::StatusOr<std::string> ResolveInclude(const std::string& from, absl::string_view target) {
  std::vector<std::string> parts;
  std::string base = from.find('/') == std::string::npos ? "" : from.substr(0, from.rfind('/'));
  std::string joined = base.empty() ? std::string(target) : absl::StrCat(base, "/", target);
  if (absl::StartsWith(target, "/")) joined = "..";  // absolute: refused below
  for (absl::string_view part : absl::StrSplit(joined, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      if (parts.empty()) {
        return absl::InvalidArgumentError(absl::StrCat(
            from, ": -r ", target, " points outside the app; keep requirement files in the app"));
      }
      parts.pop_back();
      continue;
    }
    parts.emplace_back(part);
  }
  return absl::StrJoin(parts, "/");
}

// A requirement that is the app itself or another local directory: not a dependency to
// install into /opt/venv (the code runs from /app).
bool IsLocalPath(absl::string_view line) {
  return line == "." || absl::StartsWith(line, "./") || absl::StartsWith(line, "../") ||
         absl::StartsWith(line, "/") || absl::StartsWith(line, "file:");
}

absl::Status ReadRequirementsFile(const std::string& root, const std::string& rel, int depth,
                                  DependencySource& out) {
  if (depth > kMaxIncludeDepth) {
    return absl::InvalidArgumentError(absl::StrCat(rel, ": -r includes nest too deeply"));
  }
  ASSIGN_OR_RETURN(std::string text, Read(root, rel, out));
  // Backslash continuations join lines first (hash-pinned files use them).
  absl::StrReplaceAll({{"\\\r\n", " "}, {"\\\n", " "}}, &text);
  int line_no = 0;
  for (absl::string_view raw : absl::StrSplit(text, '\n')) {
    ++line_no;
    std::string line(absl::StripAsciiWhitespace(raw));
    // Comments start at "#" at line start or after whitespace (not inside URLs' fragments).
    if (size_t hash = line.find(" #"); hash != std::string::npos) line.resize(hash);
    if (absl::StartsWith(line, "#")) line.clear();
    line = std::string(absl::StripAsciiWhitespace(line));
    if (line.empty()) continue;
    absl::string_view rest = line;
    if (absl::ConsumePrefix(&rest, "-r") || absl::ConsumePrefix(&rest, "--requirement")) {
      rest = absl::StripLeadingAsciiWhitespace(absl::StripPrefix(rest, "="));
      ASSIGN_OR_RETURN(std::string include, ResolveInclude(rel, rest));
      RETURN_IF_ERROR(ReadRequirementsFile(root, include, depth + 1, out));
      continue;
    }
    if (absl::StartsWith(line, "-c") || absl::StartsWith(line, "--constraint")) {
      return absl::InvalidArgumentError(absl::StrCat(
          rel, ":", line_no, ": constraints files (-c) are not supported yet; put the pins in ",
          rel, " itself"));
    }
    if (absl::StartsWith(line, "-e") || absl::StartsWith(line, "--editable") || IsLocalPath(line)) {
      out.notes.push_back(absl::StrCat(rel, ":", line_no, ": skipped `", line,
                                       "`: the app's own code runs from /app, only its "
                                       "dependencies go into /opt/venv"));
      continue;
    }
    AddRequirement(out, line);
  }
  return absl::OkStatus();
}

// The contents of the first balanced [...] after `pos`, or nullopt.
std::optional<std::string> BracketedList(const std::string& text, size_t pos) {
  size_t open = text.find_first_not_of(" \t\r\n=", pos);
  if (open == std::string::npos || text[open] != '[') return std::nullopt;
  int depth = 0;
  for (size_t i = open; i < text.size(); ++i) {
    if (text[i] == '[') ++depth;
    if (text[i] == ']' && --depth == 0) return text.substr(open + 1, i - open - 1);
  }
  return std::nullopt;
}

// String literals of a Python list body; nullopt when anything else is in it (a computed list).
std::optional<std::vector<std::string>> StringLiterals(absl::string_view body) {
  std::vector<std::string> items;
  size_t i = 0;
  while (i < body.size()) {
    char c = body[i];
    if (std::isspace(static_cast<unsigned char>(c)) || c == ',') {
      ++i;
    } else if (c == '#') {
      while (i < body.size() && body[i] != '\n') ++i;
    } else if (c == '"' || c == '\'') {
      size_t end = body.find(c, i + 1);
      if (end == absl::string_view::npos) return std::nullopt;
      items.emplace_back(body.substr(i + 1, end - i - 1));
      i = end + 1;
    } else {
      return std::nullopt;
    }
  }
  return items;
}

absl::Status FromSetupPy(const std::string& root, DependencySource& out) {
  ASSIGN_OR_RETURN(std::string text, Read(root, "setup.py", out));
  size_t at = text.find("install_requires");
  if (at != std::string::npos) {
    size_t pos = at + strlen("install_requires");
    std::optional<std::string> body = BracketedList(text, pos);
    if (!body) {
      // install_requires=NAME: look for `NAME = [...]` in the same file.
      size_t start = text.find_first_not_of(" \t=", pos);
      size_t end = start == std::string::npos ? start : text.find_first_of(",)\n \t", start);
      std::string name = start == std::string::npos ? "" : text.substr(start, end - start);
      size_t def = name.empty() ? std::string::npos : text.find("\n" + name);
      if (def != std::string::npos) body = BracketedList(text, def + name.size() + 1);
    }
    std::optional<std::vector<std::string>> items = body ? StringLiterals(*body) : std::nullopt;
    if (!items) {
      return absl::InvalidArgumentError(
          "setup.py computes install_requires, and Tempa reads setup.py without running it: "
          "write the list as string literals, or list the dependencies in requirements.txt");
    }
    for (const std::string& item : *items) AddRequirement(out, item);
    out.notes.push_back(absl::StrCat("setup.py: ", items->size(),
                                     " install_requires entr(ies), read without running setup.py"));
  } else if (buildpacks::internal::IsRegularFile(root + "/setup.cfg")) {
    ASSIGN_OR_RETURN(std::string cfg, Read(root, "setup.cfg", out));
    bool in_options = false, in_list = false;
    for (absl::string_view raw : absl::StrSplit(cfg, '\n')) {
      absl::string_view line = absl::StripTrailingAsciiWhitespace(raw);
      if (absl::StartsWith(line, "[")) in_options = line == "[options]";
      bool indented = !line.empty() && (line[0] == ' ' || line[0] == '\t');
      if (in_list && !indented && !line.empty()) in_list = false;
      absl::string_view stripped = absl::StripAsciiWhitespace(line);
      if (in_options && absl::ConsumePrefix(&stripped, "install_requires")) {
        in_list = true;
        stripped = absl::StripAsciiWhitespace(
            absl::StripPrefix(absl::StripLeadingAsciiWhitespace(stripped), "="));
      } else if (!in_list || !indented) {
        continue;
      }
      if (!stripped.empty() && !absl::StartsWith(stripped, "#")) {
        AddRequirement(out, std::string(stripped));
      }
    }
    out.notes.push_back("setup.cfg: [options] install_requires");
  } else {
    out.notes.push_back("setup.py declares no install_requires: no dependencies");
  }
  // name="..." for the app's name (best effort, like everything read from setup.py).
  if (size_t n = text.find("name="); n != std::string::npos && n + 6 < text.size()) {
    char quote = text[n + 5];
    size_t end = text.find(quote, n + 6);
    if ((quote == '"' || quote == '\'') && end != std::string::npos) {
      out.project_name = text.substr(n + 6, end - n - 6);
    }
  }
  return absl::OkStatus();
}

bool Has(const std::string& root, const char* name) {
  return buildpacks::internal::Exists(root + "/" + name);
}

}  // namespace

std::string NormalizeName(absl::string_view name) {
  std::string out;
  for (char c : name) {
    if (c == '-' || c == '_' || c == '.') {
      if (!out.empty() && out.back() != '-') out.push_back('-');
    } else {
      out.push_back(absl::ascii_tolower(static_cast<unsigned char>(c)));
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out;
}

std::string RequirementName(absl::string_view requirement) {
  requirement = absl::StripLeadingAsciiWhitespace(requirement);
  if (requirement.empty() || !absl::ascii_isalnum(static_cast<unsigned char>(requirement[0]))) {
    return "";  // an option line (-r, --hash) or a path
  }
  size_t end = 0;
  while (end < requirement.size() &&
         (absl::ascii_isalnum(static_cast<unsigned char>(requirement[end])) ||
          requirement[end] == '-' || requirement[end] == '_' || requirement[end] == '.')) {
    ++end;
  }
  if (end == 0) return "";
  absl::string_view rest = requirement.substr(end);
  // "https://..." or "foo/bar": a URL or path, not a name.
  if (absl::StartsWith(rest, ":") || absl::StartsWith(rest, "/")) return "";
  return NormalizeName(requirement.substr(0, end));
}

namespace internal_manifest {
void AddRequirement(DependencySource& out, const std::string& line) {
  absl::StrAppend(&out.requirements, line, "\n");
  if (std::string name = RequirementName(line); !name.empty()) out.names.insert(name);
}
}  // namespace internal_manifest

absl::StatusOr<std::optional<DependencySource>> FindDependencySource(const std::string& root) {
  DependencySource out;
  if (Has(root, "requirements.txt")) {
    out.kind = "requirements.txt";
    RETURN_IF_ERROR(ReadRequirementsFile(root, "requirements.txt", 0, out));
    return out;
  }
  if (Has(root, "pyproject.toml")) {
    bool matched = false;
    DependencySource candidate;
    ASSIGN_OR_RETURN(std::string text, Read(root, "pyproject.toml", candidate));
    RETURN_IF_ERROR(internal_manifest::FromPyproject(root, text, candidate, matched));
    if (matched) return candidate;
    // A pyproject.toml with only tool settings (black, ruff...) says nothing about
    // dependencies: look further.
    out.notes.push_back("pyproject.toml has no [project] or [tool.poetry]: not a manifest");
  }
  if (Has(root, "Pipfile.lock")) {
    out.kind = "Pipfile.lock";
    ASSIGN_OR_RETURN(std::string text, Read(root, "Pipfile.lock", out));
    RETURN_IF_ERROR(Annotate(internal_manifest::FromPipfileLock(text, out), "Pipfile.lock"));
    return out;
  }
  if (Has(root, "Pipfile")) {
    out.kind = "Pipfile";
    ASSIGN_OR_RETURN(std::string text, Read(root, "Pipfile", out));
    RETURN_IF_ERROR(Annotate(internal_manifest::FromPipfile(text, out), "Pipfile"));
    out.notes.push_back(
        "Pipfile without Pipfile.lock: versions are resolved at build time; "
        "commit Pipfile.lock (pipenv lock) for repeatable builds");
    return out;
  }
  if (Has(root, "uv.lock")) {
    out.kind = "uv.lock";
    ASSIGN_OR_RETURN(std::string text, Read(root, "uv.lock", out));
    RETURN_IF_ERROR(Annotate(internal_manifest::FromUvLock(text, "", out), "uv.lock"));
    return out;
  }
  if (Has(root, "setup.py")) {
    out.kind = "setup.py";
    RETURN_IF_ERROR(FromSetupPy(root, out));
    return out;
  }
  for (const char* script : {"main.py", "app.py"}) {
    if (Has(root, script)) {
      out.kind = "none";
      out.notes.push_back(absl::StrCat(script,
                                       " without a dependency manifest: no dependencies "
                                       "(add requirements.txt to install some)"));
      return out;
    }
  }
  return std::nullopt;
}

}  // namespace tempa::buildpacks::python
