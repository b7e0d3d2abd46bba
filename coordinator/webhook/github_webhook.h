// GitHub webhook deliveries as untrusted input: the X-Hub-Signature-256 check, the `push`
// payload's fields the coordinator acts on, and the repository-URL comparison that matches a
// push to apps. Nothing here throws or recurses over the payload.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa::coordinator {

// True when `header` is "sha256=" followed by the 64 hex digits (either case) of
// HMAC-SHA256(secret, body). Compared in constant time; any malformed header is false. An empty
// secret never verifies.
bool VerifyGithubSignature(absl::string_view secret, absl::string_view body,
                           absl::string_view header);

// "sha256=<64 lowercase hex>" for `body` under `secret`: what GitHub sends (tests, tools).
std::string GithubSignature(absl::string_view secret, absl::string_view body);

// The repository a delivery names: its URLs in each form GitHub gives (any may be empty).
struct GithubRepository {
  std::string full_name;  // "owner/name"
  std::string clone_url;  // https://github.com/owner/name.git
  std::string ssh_url;    // git@github.com:owner/name.git
  std::string git_url;    // git://github.com/owner/name.git
  std::string html_url;   // https://github.com/owner/name
  std::string default_branch;

  // The non-empty URLs, clone_url first.
  std::vector<std::string> Urls() const;
};

// The fields of a `push` delivery the coordinator uses.
struct GithubPush {
  std::string ref;     // refs/heads/main, refs/tags/v1
  std::string branch;  // "main" for refs/heads/main; empty for any other ref (a tag)
  std::string before;  // commit ids, lowercase hex
  std::string after;
  bool deleted = false;  // the ref was deleted (after is all zeros)
  GithubRepository repository;
  std::string head_commit_id;       // empty when there is none (a deletion)
  std::string head_commit_message;  // at most kMaxCommitMessageBytes, cut on a UTF-8 boundary
  std::string pusher;
};

inline constexpr size_t kMaxCommitMessageBytes = 1024;

// Parses a `push` payload. InvalidArgument naming the field for malformed JSON, a missing or
// wrongly typed field, or a commit id that is not 40 (or 64, SHA-256) hex digits.
absl::StatusOr<GithubPush> ParseGithubPush(absl::string_view body);

// The repository of a `ping` payload; NotFound when it names none (an organization's hook).
absl::StatusOr<GithubRepository> ParseGithubPingRepository(absl::string_view body);

// A repository URL in the form two URLs are compared in: surrounding space, trailing "/" and
// ".git" removed, scheme and host lowercased (in scp-like "user@host:path" too); user, port and
// path kept as written.
std::string NormalizeRepoUrl(absl::string_view url);

// True when both URLs normalize to the same non-empty text.
bool RepoUrlsMatch(absl::string_view a, absl::string_view b);

}  // namespace tempa::coordinator
