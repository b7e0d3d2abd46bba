#include "buildpacks/go/go_source.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "buildpacks/internal/fs_util.h"

namespace tempa::buildpacks::go {
namespace {

// The package clause sits after the header comments; 64 KiB covers any licence header while
// keeping a hostile multi-gigabyte .go file from being read whole.
constexpr size_t kHeaderBytes = 64 << 10;

// Splits one go.mod line into tokens: bare words and "quoted"/`raw` strings, dropping a
// trailing // comment.
std::vector<std::string> Tokens(absl::string_view line) {
  std::vector<std::string> tokens;
  size_t i = 0;
  while (i < line.size()) {
    char c = line[i];
    if (absl::ascii_isspace(c)) {
      ++i;
    } else if (line.substr(i, 2) == "//") {
      break;
    } else if (c == '"' || c == '`') {
      size_t end = line.find(c, i + 1);
      if (end == absl::string_view::npos) end = line.size();
      tokens.emplace_back(line.substr(i + 1, end - i - 1));
      i = end + 1;
    } else if (c == '(' || c == ')') {
      tokens.emplace_back(1, c);
      ++i;
    } else {
      size_t end = i;
      while (end < line.size() && !absl::ascii_isspace(line[end]) && line[end] != '(' &&
             line[end] != ')' && line.substr(end, 2) != "//") {
        ++end;
      }
      tokens.emplace_back(line.substr(i, end - i));
      i = end;
    }
  }
  return tokens;
}

// Calls `on_directive(verb, args)` for each directive, expanding `verb ( ... )` blocks.
template <typename F>
void ForEachDirective(absl::string_view text, F on_directive) {
  std::string block;  // the verb of the open block, if any
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    std::vector<std::string> tokens = Tokens(line);
    if (tokens.empty()) continue;
    if (!block.empty()) {
      if (tokens[0] == ")") {
        block.clear();
      } else {
        on_directive(block, tokens);
      }
      continue;
    }
    std::string verb = tokens[0];
    tokens.erase(tokens.begin());
    if (!tokens.empty() && tokens[0] == "(") {
      block = verb;
      continue;
    }
    on_directive(verb, tokens);
  }
}

bool IsGoFileName(absl::string_view name) {
  // The go command ignores _test files and names starting with '_' or '.'.
  return absl::EndsWith(name, ".go") && !absl::EndsWith(name, "_test.go") &&
         !absl::StartsWith(name, "_") && !absl::StartsWith(name, ".");
}

}  // namespace

absl::StatusOr<GoModFile> ParseGoMod(absl::string_view text) {
  GoModFile mod;
  absl::Status error;
  ForEachDirective(text, [&](const std::string& verb, const std::vector<std::string>& args) {
    if (verb == "module") {
      if (args.empty()) {
        error = absl::InvalidArgumentError("go.mod: module directive without a path");
      } else {
        mod.module_path = args[0];
      }
    } else if (verb == "go" && !args.empty()) {
      mod.go_version = args[0];
    } else if (verb == "require" && !args.empty()) {
      ++mod.require_count;
    }
  });
  if (!error.ok()) return error;
  return mod;
}

absl::StatusOr<GoWorkFile> ParseGoWork(absl::string_view text) {
  GoWorkFile work;
  ForEachDirective(text, [&](const std::string& verb, const std::vector<std::string>& args) {
    if (verb == "use" && !args.empty()) {
      work.uses.push_back(args[0]);
    } else if (verb == "go" && !args.empty()) {
      work.go_version = args[0];
    }
  });
  return work;
}

bool DeclaresPackageMain(absl::string_view src) {
  size_t i = 0;
  while (i < src.size()) {
    if (absl::ascii_isspace(src[i])) {
      ++i;
    } else if (src.substr(i, 2) == "//") {
      size_t end = src.find('\n', i);
      if (end == absl::string_view::npos) end = src.size();
      absl::string_view comment = src.substr(i, end - i);
      // `//go:build ignore` (and the old `// +build ignore`) mark files the go command never
      // builds by default: generators and examples beside real code.
      if (absl::ConsumePrefix(&comment, "//go:build") ||
          absl::ConsumePrefix(&comment, "// +build")) {
        for (absl::string_view word :
             absl::StrSplit(comment, absl::ByAnyChar(" \t\r"), absl::SkipEmpty())) {
          if (word == "ignore") return false;
        }
      }
      i = end;
    } else if (src.substr(i, 2) == "/*") {
      size_t end = src.find("*/", i + 2);
      if (end == absl::string_view::npos) return false;
      i = end + 2;
    } else {
      break;
    }
  }
  absl::string_view rest = src.substr(std::min(i, src.size()));
  if (!absl::ConsumePrefix(&rest, "package")) return false;
  if (rest.empty() || !absl::ascii_isspace(rest[0])) return false;
  rest = absl::StripLeadingAsciiWhitespace(rest);
  if (!absl::ConsumePrefix(&rest, "main")) return false;
  return rest.empty() || !(absl::ascii_isalnum(rest[0]) || rest[0] == '_');
}

std::string FindPackageMainFile(const std::string& root, const std::string& dir) {
  absl::StatusOr<std::vector<std::string>> names = internal::ListDirBeneath(root, dir);
  if (!names.ok()) return "";
  for (const std::string& name : *names) {
    if (!IsGoFileName(name)) continue;
    absl::StatusOr<std::string> header = internal::ReadPrefixBeneath(
        root, dir == "." ? name : absl::StrCat(dir, "/", name), kHeaderBytes);
    if (header.ok() && DeclaresPackageMain(*header)) return name;
  }
  return "";
}

std::vector<std::string> FindMainPackages(const std::string& root,
                                          const std::vector<std::string>& module_roots) {
  std::vector<std::string> found;
  for (const std::string& module : module_roots) {
    if (!FindPackageMainFile(root, module).empty()) found.push_back(module);
    std::string cmd = module == "." ? "cmd" : module + "/cmd";
    if (!internal::IsDirectory(absl::StrCat(root, "/", cmd))) continue;
    absl::StatusOr<std::vector<std::string>> names = internal::ListDirBeneath(root, cmd);
    if (!names.ok()) continue;
    for (const std::string& name : *names) {
      std::string dir = absl::StrCat(cmd, "/", name);
      if (internal::IsDirectory(root + "/" + dir) && !FindPackageMainFile(root, dir).empty()) {
        found.push_back(dir);
      }
    }
  }
  std::sort(found.begin(), found.end(), [](const std::string& a, const std::string& b) {
    if ((a == ".") != (b == ".")) return a == ".";
    return a < b;
  });
  found.erase(std::unique(found.begin(), found.end()), found.end());
  return found;
}

absl::StatusOr<std::string> CleanRelativeDir(absl::string_view dir) {
  if (absl::StartsWith(dir, "/")) {
    return absl::InvalidArgumentError(
        absl::StrCat("\"", dir, "\" is absolute; give a directory relative to the app root"));
  }
  std::vector<std::string> parts;
  for (absl::string_view part : absl::StrSplit(dir, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("\"", dir, "\" leaves the app root; give a directory inside it"));
    }
    parts.emplace_back(part);
  }
  if (parts.empty()) return std::string(".");
  return absl::StrJoin(parts, "/");
}

std::string BinaryNameFor(absl::string_view import_path) {
  std::vector<absl::string_view> parts = absl::StrSplit(import_path, '/', absl::SkipEmpty());
  if (parts.empty()) return "";
  absl::string_view last = parts.back();
  // A major-version suffix ("/v2") is not the name: go install names example.com/x/v2 "x".
  if (parts.size() > 1 && last.size() > 1 && last[0] == 'v' &&
      std::all_of(last.begin() + 1, last.end(), [](char c) { return absl::ascii_isdigit(c); })) {
    last = parts[parts.size() - 2];
  }
  return std::string(last);
}

std::string SanitizeAppName(absl::string_view name) {
  std::string out;
  for (char c : name) {
    bool ok = absl::ascii_isalnum(c) || c == '.' || c == '_' || c == '-';
    out.push_back(ok ? c : '-');
  }
  if (out.empty() || out[0] == '.') return "app";
  return out;
}

}  // namespace tempa::buildpacks::go
