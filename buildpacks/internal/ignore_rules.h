// Ignore files and glob lists: which paths of an app's directory stay out of its image. Two
// syntaxes: gitignore's (for .tempaignore, Tempa's defaults and tempa.toml's include/exclude) and
// .dockerignore's. Paths are '/'-separated and relative to the app's root ("static/css/a.css").
//
// gitignore: comments (#), blank lines, "\#" / "\!" escapes, trailing spaces trimmed unless
// escaped, "!" re-includes (but never a path under an excluded directory), a trailing "/" matches
// directories only, a "/" at the start or in the middle anchors the pattern to the root (else it
// matches at any depth), "**/", "/**", "/**/", "*", "?", "[...]". The last matching rule wins.
// dockerignore: every pattern is relative to the root ("./" and a leading "/" dropped), "**"
// matches any number of directories, "!" re-includes, and a pattern matching a directory matches
// everything under it; the last rule matching a path or any of its parents decides.
#pragma once

#include <cstddef>
#include <optional>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa::buildpacks::internal {

enum class IgnoreSyntax { kGitignore, kDockerignore };

// An ignore file is untrusted input: bounded so a hostile one cannot stall the worker.
inline constexpr size_t kMaxIgnoreFileBytes = 1 << 20;
inline constexpr size_t kMaxIgnorePatterns = 10000;

class IgnoreRules {
 public:
  // Where a walk that visits parents before children stands on one path: carried from a
  // directory to its entries, so each path costs one pass over the rules.
  struct State {
    bool excluded = false;
    int rule = -1;  // the deciding rule (index), -1 when none matched
  };

  IgnoreRules() = default;

  // Parses an ignore file's text. `name` (".tempaignore") prefixes errors; a file over
  // kMaxIgnoreFileBytes or kMaxIgnorePatterns rules is InvalidArgument naming the limit.
  static absl::StatusOr<IgnoreRules> Parse(absl::string_view text, IgnoreSyntax syntax,
                                           absl::string_view name);
  // gitignore-syntax globs given one per entry (tempa.toml's include/exclude lists): no comments,
  // and "!" is refused (the lists say which way they go). `what` ("tempa.toml include") prefixes
  // errors.
  static absl::StatusOr<IgnoreRules> FromGlobs(const std::vector<std::string>& globs,
                                               absl::string_view what);

  // The state of `path` (is_dir: a directory, not a link to one) given `parent`, the state of
  // its directory (State{} for entries of the root).
  State Descend(const State& parent, absl::string_view path, bool is_dir) const;
  // Whether `path` is excluded, its parent directories considered (Descend from the root).
  bool Excluded(absl::string_view path, bool is_dir) const;

  bool empty() const { return rules_.empty(); }
  size_t size() const { return rules_.size(); }
  IgnoreSyntax syntax() const { return syntax_; }
  // True when some rule re-includes ("!"): under .dockerignore that can reach into an excluded
  // directory, so a walk must not skip one.
  bool has_negations() const { return has_negations_; }
  // The rule as written (for reports).
  const std::string& text(int rule) const { return rules_[static_cast<size_t>(rule)].text; }

 private:
  struct Rule {
    std::string text;                   // as written, for reports
    std::vector<std::string> segments;  // split on '/', "**" kept as its own segment
    bool negated = false;
    bool dir_only = false;
    // A trailing "/**" matches everything inside, never the directory itself.
    bool trailing_needs_one = false;
  };

  static Rule CompileGitignore(absl::string_view line);
  static std::optional<Rule> CompileDockerignore(absl::string_view line);
  // The last rule matching `path` itself (not its parents); -1 when none.
  int LastMatch(absl::string_view path, bool is_dir) const;
  static bool Matches(const Rule& rule, const std::vector<absl::string_view>& parts);

  IgnoreSyntax syntax_ = IgnoreSyntax::kGitignore;
  std::vector<Rule> rules_;
  bool has_negations_ = false;
};

}  // namespace tempa::buildpacks::internal
