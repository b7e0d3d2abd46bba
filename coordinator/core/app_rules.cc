#include "coordinator/core/app_rules.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tempa::coordinator {
namespace {

bool HasControlOrSpace(absl::string_view s) {
  for (unsigned char c : s) {
    if (c <= ' ' || c == 0x7f) return true;
  }
  return false;
}

}  // namespace

absl::Status CheckAppName(absl::string_view name) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(
        "app name \"", absl::CEscape(name), "\" ", why,
        ": use 1-63 lowercase letters, digits and '-', starting and ending with a letter or "
        "digit (it becomes a subdomain and an image name)"));
  };
  if (name.empty() || name.size() > 63) return bad("has the wrong length");
  for (char c : name) {
    if (!absl::ascii_islower(c) && !absl::ascii_isdigit(c) && c != '-') {
      return bad("has a character that is not allowed");
    }
  }
  if (name.front() == '-' || name.back() == '-') return bad("starts or ends with '-'");
  return absl::OkStatus();
}

absl::Status CheckRepoUrl(absl::string_view url) {
  if (url.empty()) {
    return absl::InvalidArgumentError("the repository URL is empty: pass --repo URL");
  }
  if (url.size() > 2048 || HasControlOrSpace(url) || url.front() == '-') {
    return absl::InvalidArgumentError(absl::StrCat(
        "the repository URL \"", absl::CEscape(url.substr(0, 200)),
        "\" is not a URL git can fetch: no spaces or control characters, not starting with '-'"));
  }
  for (absl::string_view scheme : {"https://", "http://", "git://", "ssh://", "file://"}) {
    if (absl::StartsWith(url, scheme) && url.size() > scheme.size()) return absl::OkStatus();
  }
  if (url.front() == '/') return absl::OkStatus();  // a path on the workers' machines
  // scp-like user@host:path
  size_t colon = url.find(':');
  if (colon != absl::string_view::npos && colon > 0 && url.find("://") == absl::string_view::npos &&
      colon + 1 < url.size()) {
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(absl::StrCat(
      "the repository URL \"", url,
      "\" has no scheme Tempa fetches: use https://, http://, git://, ssh://, file://, an absolute "
      "path or user@host:path"));
}

absl::Status CheckBranchName(absl::string_view branch) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat("branch \"",
                                                   absl::CEscape(branch.substr(0, 200)), "\" ", why,
                                                   ": pass a branch name like main"));
  };
  if (branch.empty() || branch.size() > 255) return bad("has the wrong length");
  if (HasControlOrSpace(branch) || branch.front() == '-' || branch.front() == '/' ||
      branch.back() == '/' || branch.back() == '.' || absl::StrContains(branch, "..") ||
      absl::StrContains(branch, "//") || absl::StrContains(branch, "@{") ||
      absl::EndsWith(branch, ".lock")) {
    return bad("is not a name git accepts");
  }
  for (char c : branch) {
    if (c == '~' || c == '^' || c == ':' || c == '?' || c == '*' || c == '[' || c == '\\') {
      return bad("is not a name git accepts");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckAppPath(absl::string_view path) {
  if (path.empty()) return absl::OkStatus();
  if (path.size() > 1024 || HasControlOrSpace(path) || path.front() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("--path \"", absl::CEscape(path.substr(0, 200)),
                     "\" must be a relative directory inside the repository, like services/api"));
  }
  for (absl::string_view part : absl::StrSplit(path, '/')) {
    if (part == ".." || part == ".git") {
      return absl::InvalidArgumentError(absl::StrCat(
          "--path \"", path, "\" leaves the repository or names .git: use a subdirectory"));
    }
  }
  return absl::OkStatus();
}

absl::Status CheckStartCommand(absl::string_view command) {
  if (command.empty()) return absl::OkStatus();
  if (command.size() > 4096) {
    return absl::InvalidArgumentError("the start command is longer than 4 KiB");
  }
  if (absl::StripAsciiWhitespace(command).empty()) {
    return absl::InvalidArgumentError(
        "the start command is blank: give a command, or \"\" to use the repository's own");
  }
  for (char c : command) {
    if ((static_cast<unsigned char>(c) < 0x20 && c != '\t') || c == 0x7f) {
      return absl::InvalidArgumentError(
          "the start command holds a control character (a newline?): give one command line");
    }
  }
  return absl::OkStatus();
}

absl::Status CheckCommitId(absl::string_view commit) {
  // SHA-1 ids are 40 digits, SHA-256 repositories' 64.
  bool hex = commit.size() >= 7 && commit.size() <= 64;
  for (char c : commit) hex = hex && absl::ascii_isxdigit(c);
  if (!hex) {
    return absl::InvalidArgumentError(
        absl::StrCat("commit \"", absl::CEscape(commit.substr(0, 64)),
                     "\" is not a commit id: pass 7 to 64 hexadecimal digits"));
  }
  return absl::OkStatus();
}

absl::Status CheckWorkerId(absl::string_view id) {
  bool ok = !id.empty() && id.size() <= 128;
  for (char c : id) ok = ok && (absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.');
  if (!ok) {
    return absl::InvalidArgumentError("worker id must be 1-128 letters, digits, '-', '_' or '.'");
  }
  return absl::OkStatus();
}

}  // namespace tempa::coordinator
