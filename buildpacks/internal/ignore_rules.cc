#include "buildpacks/internal/ignore_rules.h"

#include <fnmatch.h>

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tempa::buildpacks::internal {
namespace {

bool HasGlob(absl::string_view segment) {
  return segment.find_first_of("*?[\\") != absl::string_view::npos;
}

// One path component against one pattern segment (no '/' in either).
bool SegmentMatches(const std::string& segment, absl::string_view part) {
  if (!HasGlob(segment)) return segment == part;
  return fnmatch(segment.c_str(), std::string(part).c_str(), 0) == 0;
}

// Splits on '/', dropping empty parts, and folds runs of "**" into one.
std::vector<std::string> Segments(absl::string_view pattern) {
  std::vector<std::string> out;
  for (absl::string_view part : absl::StrSplit(pattern, '/', absl::SkipEmpty())) {
    if (part == "**" && !out.empty() && out.back() == "**") continue;
    out.emplace_back(part);
  }
  return out;
}

}  // namespace

IgnoreRules::Rule IgnoreRules::CompileGitignore(absl::string_view line) {
  Rule rule;
  rule.text = std::string(line);
  std::string pattern(line);
  // Trailing spaces go unless escaped ("foo\ " keeps one).
  while (!pattern.empty() && pattern.back() == ' ' &&
         !(pattern.size() >= 2 && pattern[pattern.size() - 2] == '\\')) {
    pattern.pop_back();
  }
  if (absl::StartsWith(pattern, "!")) {
    rule.negated = true;
    pattern.erase(0, 1);
  }
  while (!pattern.empty() && pattern.back() == '/') {
    rule.dir_only = true;
    pattern.pop_back();
  }
  bool anchored = pattern.find('/') != std::string::npos;
  rule.segments = Segments(pattern);
  if (rule.segments.empty()) return rule;
  if (!anchored && rule.segments.front() != "**") rule.segments.insert(rule.segments.begin(), "**");
  rule.trailing_needs_one = rule.segments.size() > 1 && rule.segments.back() == "**";
  return rule;
}

std::optional<IgnoreRules::Rule> IgnoreRules::CompileDockerignore(absl::string_view line) {
  Rule rule;
  rule.text = std::string(line);
  absl::string_view pattern = line;
  if (absl::ConsumePrefix(&pattern, "!")) {
    rule.negated = true;
    pattern = absl::StripAsciiWhitespace(pattern);
  }
  // Go's filepath.Clean, as Docker applies it: "./", "//" and "x/.." vanish; a leading "/" too.
  std::vector<std::string> cleaned;
  for (absl::string_view part : absl::StrSplit(pattern, '/', absl::SkipEmpty())) {
    if (part == ".") continue;
    if (part == "..") {
      if (!cleaned.empty()) cleaned.pop_back();
      continue;
    }
    if (part == "**" && !cleaned.empty() && cleaned.back() == "**") continue;
    cleaned.emplace_back(part);
  }
  if (cleaned.empty()) return std::nullopt;
  rule.segments = std::move(cleaned);
  rule.trailing_needs_one = rule.segments.size() > 1 && rule.segments.back() == "**";
  return rule;
}

absl::StatusOr<IgnoreRules> IgnoreRules::Parse(absl::string_view text, IgnoreSyntax syntax,
                                               absl::string_view name) {
  if (text.size() > kMaxIgnoreFileBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, " is ", text.size(), " bytes, over the limit of ", kMaxIgnoreFileBytes,
                     " bytes; shorten it (a directory pattern such as \"data/\" covers "
                     "everything under it)"));
  }
  IgnoreRules rules;
  rules.syntax_ = syntax;
  int line_no = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    absl::ConsumeSuffix(&line, "\r");
    if (syntax == IgnoreSyntax::kDockerignore) line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    std::optional<Rule> rule;
    if (syntax == IgnoreSyntax::kGitignore) {
      Rule compiled = CompileGitignore(line);
      if (!compiled.segments.empty()) rule = std::move(compiled);
    } else {
      rule = CompileDockerignore(line);
    }
    if (!rule) continue;
    if (rules.rules_.size() >= kMaxIgnorePatterns) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ":", line_no, ": more than ", kMaxIgnorePatterns,
                       " patterns; shorten it (a directory pattern such as \"data/\" covers "
                       "everything under it)"));
    }
    rules.has_negations_ |= rule->negated;
    rules.rules_.push_back(*std::move(rule));
  }
  return rules;
}

absl::StatusOr<IgnoreRules> IgnoreRules::FromGlobs(const std::vector<std::string>& globs,
                                                   absl::string_view what) {
  if (globs.size() > kMaxIgnorePatterns) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " has ", globs.size(), " patterns, over the limit of ", kMaxIgnorePatterns));
  }
  IgnoreRules rules;
  for (const std::string& glob : globs) {
    if (absl::StartsWith(glob, "!")) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, " pattern \"", glob,
          "\" starts with \"!\"; the lists take no negation: move it to the other list"));
    }
    if (glob.find('\n') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " pattern \"", absl::CEscape(glob), "\" spans several lines"));
    }
    Rule rule = CompileGitignore(glob);
    if (rule.segments.empty()) {
      return absl::InvalidArgumentError(
          absl::StrCat(what, " pattern \"", glob, "\" matches nothing; remove it"));
    }
    rules.rules_.push_back(std::move(rule));
  }
  return rules;
}

bool IgnoreRules::Matches(const Rule& rule, const std::vector<absl::string_view>& parts) {
  const size_t np = rule.segments.size();
  const size_t nc = parts.size();
  // reach[i][j]: segments i.. can match parts j..; filled backwards.
  std::vector<char> reach((np + 1) * (nc + 1), 0);
  auto at = [&](size_t i, size_t j) -> char& { return reach[i * (nc + 1) + j]; };
  at(np, nc) = 1;
  for (size_t i = np; i-- > 0;) {
    const std::string& segment = rule.segments[i];
    for (size_t j = nc + 1; j-- > 0;) {
      bool ok;
      if (segment == "**") {
        bool last = i + 1 == np;
        if (last && rule.trailing_needs_one) {
          ok = nc - j >= 1;
        } else {
          ok = at(i + 1, j) || (j < nc && at(i, j + 1));
        }
      } else {
        ok = j < nc && at(i + 1, j + 1) && SegmentMatches(segment, parts[j]);
      }
      at(i, j) = ok ? 1 : 0;
    }
  }
  return at(0, 0) != 0;
}

int IgnoreRules::LastMatch(absl::string_view path, bool is_dir) const {
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
  for (size_t i = rules_.size(); i-- > 0;) {
    const Rule& rule = rules_[i];
    if (rule.dir_only && !is_dir) continue;
    if (Matches(rule, parts)) return static_cast<int>(i);
  }
  return -1;
}

IgnoreRules::State IgnoreRules::Descend(const State& parent, absl::string_view path,
                                        bool is_dir) const {
  if (syntax_ == IgnoreSyntax::kGitignore) {
    // A path under an excluded directory stays excluded, whatever later rules say.
    if (parent.excluded) return parent;
    int rule = LastMatch(path, is_dir);
    return State{rule >= 0 && !rules_[static_cast<size_t>(rule)].negated, rule};
  }
  // .dockerignore: the last rule matching the path or a parent decides, and the parent's state
  // already names the last one matching a parent.
  int rule = LastMatch(path, is_dir);
  if (parent.rule > rule) rule = parent.rule;
  return State{rule >= 0 && !rules_[static_cast<size_t>(rule)].negated, rule};
}

bool IgnoreRules::Excluded(absl::string_view path, bool is_dir) const {
  std::vector<absl::string_view> parts = absl::StrSplit(path, '/', absl::SkipEmpty());
  State state;
  std::string so_far;
  for (size_t i = 0; i < parts.size(); ++i) {
    so_far = i == 0 ? std::string(parts[i]) : absl::StrCat(so_far, "/", parts[i]);
    state = Descend(state, so_far, i + 1 < parts.size() || is_dir);
  }
  return state.excluded;
}

}  // namespace tempa::buildpacks::internal
