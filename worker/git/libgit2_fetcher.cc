#include "worker/git/libgit2_fetcher.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstdint>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "common/tree_copy.h"
#include "worker/git/checkout.h"
#include "worker/git/git_url.h"
#include "worker/git/gitmodules.h"
#include "worker/git/libgit2_util.h"
#include "worker/git/mirror.h"

namespace tempa::worker {
namespace {

absl::Status ValidateBranch(const std::string& branch) {
  if (branch.empty()) return absl::OkStatus();
  int valid = 0;
  std::string ref = absl::StrCat("refs/heads/", branch);
  if (branch.front() == '-' || git_reference_name_is_valid(&valid, ref.c_str()) != 0 || !valid) {
    return absl::InvalidArgumentError(absl::StrCat("\"", branch, "\" is not a valid branch name"));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> NormalizeCommit(const std::string& commit) {
  std::string out = absl::AsciiStrToLower(commit);
  bool hex = !out.empty();
  for (char c : out) hex = hex && absl::ascii_isxdigit(c);
  if (!commit.empty() && (!hex || out.size() < 4 || out.size() > 40)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "\"", commit, "\" is not a commit SHA (4 to 40 hex digits, the full 40 preferred)"));
  }
  return out;
}

absl::Status CheckUsable(const GitUrl& url, const GitAuth& auth) {
  if (url.scheme == "ssh") return CheckSshUsable(auth);
  return absl::OkStatus();
}

bool StopsFallback(const absl::Status& s) {
  return s.code() == absl::StatusCode::kCancelled ||
         s.code() == absl::StatusCode::kResourceExhausted ||
         s.code() == absl::StatusCode::kUnauthenticated;
}

}  // namespace

struct Libgit2Fetcher::Job {
  int mirrors_fd;
  int root_fd;
  const GitAuth* auth;
  std::string root_path;
  TransferSession* session;
  LogFn log;
  FetchResult* result;
};

Libgit2Fetcher::Libgit2Fetcher(Options options) : options_(std::move(options)) {}

absl::StatusOr<git_oid> Libgit2Fetcher::Resolve(Job& job, Mirror& mirror, const std::string& branch,
                                                const std::string& commit) {
  TransferSession& session = *job.session;
  std::string shown = session.Scrub(RedactUrl(mirror.url()));
  if (commit.empty()) return mirror.FetchBranch(branch, true, session, job.log);
  ASSIGN_OR_RETURN(std::optional<git_oid> found, FindCommit(mirror.repo(), commit, shown));
  if (found) {
    job.log(absl::StrCat("commit ", commit, " is already in the mirror of ", shown));
    return *found;
  }
  if (!branch.empty()) {
    auto head = mirror.FetchBranch(branch, true, session, job.log);
    if (!head.ok() && head.status().code() != absl::StatusCode::kNotFound) return head.status();
    if (!head.ok()) job.log(head.status().message());
    ASSIGN_OR_RETURN(found, FindCommit(mirror.repo(), commit, shown));
    if (found) return *found;
  }
  if (commit.size() == GIT_OID_HEXSZ) {
    absl::Status s = mirror.FetchRefspecs(
        {absl::StrCat("+", commit, ":refs/tempa/commits/", commit)}, session, job.log);
    if (StopsFallback(s)) return s;
    if (!s.ok()) {
      job.log(absl::StrCat("the server would not send ", commit, " by its SHA (", s.message(),
                           "); fetching all branches and tags"));
    }
    ASSIGN_OR_RETURN(found, FindCommit(mirror.repo(), commit, shown));
    if (found) return *found;
  }
  RETURN_IF_ERROR(mirror.FetchRefspecs({"+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*"},
                                       session, job.log));
  ASSIGN_OR_RETURN(found, FindCommit(mirror.repo(), commit, shown));
  if (found) return *found;
  return absl::NotFoundError(absl::StrCat("commit ", commit, " is not in ", shown, " (branch ",
                                          branch.empty() ? "none given" : branch, ")"));
}

absl::Status Libgit2Fetcher::CheckoutRepository(Job& job, const std::string& url,
                                                const std::string& branch,
                                                const std::string& commit,
                                                const std::string& target_dir,
                                                const std::string& relative, int depth) {
  TransferSession& session = *job.session;
  if (session.Cancelled()) return absl::CancelledError("fetch cancelled");
  ASSIGN_OR_RETURN(GitUrl parsed, ParseGitUrl(url));
  RETURN_IF_ERROR(CheckUsable(parsed, *job.auth));
  ASSIGN_OR_RETURN(Mirror mirror,
                   Mirror::Open(job.mirrors_fd, options_.mirrors_dir, url, session, job.log));
  ASSIGN_OR_RETURN(git_oid oid, Resolve(job, mirror, branch, commit));
  mirror.Unlock();
  if (session.Cancelled()) return absl::CancelledError("fetch cancelled");

  // Submodules are read, and their URLs checked, before anything is written.
  std::vector<Gitlink> gitlinks;
  std::string gitmodules_text;
  RETURN_IF_ERROR(ReadSubmoduleSources(mirror.repo(), oid, &gitlinks, &gitmodules_text));
  std::string shown = session.Scrub(RedactUrl(url));
  std::vector<std::pair<Gitlink, std::string>> submodules;  // with their resolved URLs
  if (!gitlinks.empty()) {
    if (depth >= kMaxSubmoduleDepth) {
      return absl::InvalidArgumentError(absl::StrCat("submodules of ", shown, " nest deeper than ",
                                                     kMaxSubmoduleDepth, " levels"));
    }
    auto entries = ParseGitmodules(gitmodules_text);
    if (!entries.ok()) return Annotate(entries.status(), absl::StrCat("submodules of ", shown));
    for (const Gitlink& link : gitlinks) {
      const SubmoduleEntry* entry = nullptr;
      for (const SubmoduleEntry& e : *entries) {
        std::string path = e.path;
        while (!path.empty() && path.back() == '/') path.pop_back();
        if (path == link.path) entry = &e;
      }
      std::string where = absl::StrCat(relative, link.path);
      if (entry == nullptr || entry->url.empty()) {
        return absl::FailedPreconditionError(
            absl::StrCat("submodule ", where, " of ", shown,
                         " has no url in .gitmodules: add one or remove the gitlink"));
      }
      auto sub_url = ResolveSubmoduleUrl(url, entry->url);
      if (!sub_url.ok()) return Annotate(sub_url.status(), absl::StrCat("submodule ", where));
      submodules.emplace_back(link, *sub_url);
    }
    if (job.result->submodules.size() + submodules.size() > kMaxSubmodules) {
      return absl::InvalidArgumentError(
          absl::StrCat(shown, " has more than ", kMaxSubmodules, " submodules"));
    }
  }

  auto start = std::chrono::steady_clock::now();
  RETURN_IF_ERROR(CheckoutCommit(mirror.repo(), oid, target_dir, !gitlinks.empty()));
  job.log(absl::StrFormat(
      "checked out %s%s in %.1fs", OidHex(oid).substr(0, 12),
      relative.empty() ? "" : absl::StrCat(" at ", relative),
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count()));
  if (depth == 0) {
    job.result->commit = OidHex(oid);
    ASSIGN_OR_RETURN(job.result->commit_time, CommitTime(mirror.repo(), oid));
  }
  for (const auto& [link, sub_url] : submodules) {
    std::string where = absl::StrCat(relative, link.path);
    ASSIGN_OR_RETURN(std::string dir, DirectoryBeneath(job.root_fd, job.root_path, where));
    job.result->submodules.push_back(where);
    job.log(absl::StrCat("submodule ", where, ": ", session.Scrub(RedactUrl(sub_url)), " at ",
                         OidHex(link.commit).substr(0, 12)));
    RETURN_IF_ERROR(CheckoutRepository(job, sub_url, "", OidHex(link.commit), dir,
                                       absl::StrCat(where, "/"), depth + 1));
  }
  return absl::OkStatus();
}

absl::StatusOr<FetchResult> Libgit2Fetcher::Fetch(const FetchRequest& request) {
  InitLibgit2Once();
  ASSIGN_OR_RETURN(GitUrl url, ParseGitUrl(request.repo_url));
  RETURN_IF_ERROR(ValidateBranch(request.branch));
  ASSIGN_OR_RETURN(std::string commit, NormalizeCommit(request.commit));
  if (request.branch.empty() && commit.empty()) {
    return absl::InvalidArgumentError("a fetch needs a branch or a commit");
  }
  RETURN_IF_ERROR(CheckUsable(url, request.auth));
  const std::string& dir = request.checkout_dir;
  size_t slash = dir.find_last_of('/');
  if (dir.empty() || dir.back() == '/' || slash == std::string::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat("checkout_dir \"", dir, "\" must be an absolute path to a new directory"));
  }
  std::string parent = slash == 0 ? "/" : dir.substr(0, slash);
  std::string name = dir.substr(slash + 1);
  UniqueFd parent_fd(open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!parent_fd.valid()) return ErrnoStatus(errno, "open the parent of checkout_dir", parent);
  if (mkdirat(parent_fd.get(), name.c_str(), options_.checkout_dir_mode) != 0) {
    return Annotate(ErrnoStatus(errno, "create checkout_dir", dir),
                    "the fetcher makes checkout_dir itself");
  }
  UniqueFd root_fd(
      openat(parent_fd.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  absl::Status status =
      root_fd.valid() ? absl::OkStatus() : ErrnoStatus(errno, "open checkout_dir", dir);
  // mkdirat's mode went through the umask.
  if (status.ok() && fchmod(root_fd.get(), options_.checkout_dir_mode) != 0) {
    status = ErrnoStatus(errno, "chmod checkout_dir", dir);
  }
  TransferSession session(url, request.auth, request.max_fetch_bytes, request.cancelled);
  FetchResult result;
  if (status.ok()) {
    auto mirrors_fd = OpenMirrorsDir(options_.mirrors_dir);
    status = mirrors_fd.status();
    if (status.ok()) {
      Job job{mirrors_fd->get(),
              root_fd.get(),
              &request.auth,
              dir,
              &session,
              [&](absl::string_view line) {
                if (request.log) request.log(session.Scrub(line));
              },
              &result};
      status = CheckoutRepository(job, request.repo_url, request.branch, commit, dir, "", 0);
    }
  }
  if (!status.ok()) {
    (void)RemoveTreeAt(parent_fd.get(), name, dir);
    return absl::Status(status.code(), session.Scrub(status.message()));
  }
  result.received_bytes = session.received_bytes();
  result.received_objects = session.received_objects();
  return result;
}

absl::StatusOr<std::string> Libgit2Fetcher::ResolveBranch(const std::string& repo_url,
                                                          const std::string& branch,
                                                          const GitAuth& auth) {
  InitLibgit2Once();
  ASSIGN_OR_RETURN(GitUrl url, ParseGitUrl(repo_url));
  if (branch.empty()) return absl::InvalidArgumentError("ResolveBranch needs a branch");
  RETURN_IF_ERROR(ValidateBranch(branch));
  RETURN_IF_ERROR(CheckUsable(url, auth));
  TransferSession session(url, auth, UINT64_MAX, nullptr);
  auto head = RemoteBranchHead(repo_url, branch, session);
  if (!head.ok()) {
    return absl::Status(head.status().code(), session.Scrub(head.status().message()));
  }
  return OidHex(*head);
}

}  // namespace tempa::worker
