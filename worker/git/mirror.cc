#include "worker/git/mirror.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/digest.h"
#include "common/status_macros.h"
#include "common/tree_copy.h"

namespace tempa::worker {
namespace {

absl::Status MakeRepo(int mirrors_fd, const std::string& name, const std::string& path) {
  if (mkdirat(mirrors_fd, name.c_str(), 0700) != 0) {
    return ErrnoStatus(errno, "create mirror directory", path);
  }
  git_repository_init_options opts = GIT_REPOSITORY_INIT_OPTIONS_INIT;
  opts.flags = GIT_REPOSITORY_INIT_BARE | GIT_REPOSITORY_INIT_MKPATH;
  git_repository* raw = nullptr;
  if (git_repository_init_ext(&raw, path.c_str(), &opts) != 0) {
    return absl::InternalError(absl::StrCat("init mirror ", path, ": ", LastGitError()));
  }
  RepositoryPtr repo(raw);
  // Checkouts refuse .git spelled as NTFS (git~1, ".git.") and HFS (ignorable code points)
  // would read it, not only as Linux does: a checkout may end up on any filesystem.
  git_config* config = nullptr;
  if (git_repository_config(&config, raw) != 0 ||
      git_config_set_bool(config, "core.protectHFS", 1) != 0 ||
      git_config_set_bool(config, "core.protectNTFS", 1) != 0) {
    git_config_free(config);
    return absl::InternalError(absl::StrCat("configure mirror ", path, ": ", LastGitError()));
  }
  git_config_free(config);
  return absl::OkStatus();
}

// Finds refs/heads/<branch> among the refs a connected remote advertised.
absl::StatusOr<git_oid> AdvertisedBranch(git_remote* remote, const std::string& branch,
                                         const std::string& shown_url, TransferSession& session) {
  const git_remote_head** heads = nullptr;
  size_t count = 0;
  if (git_remote_ls(&heads, &count, remote) != 0) {
    return session.StatusFor(-1, absl::StrCat("list refs of ", shown_url));
  }
  std::string want = absl::StrCat("refs/heads/", branch);
  for (size_t i = 0; i < count; ++i) {
    if (want == heads[i]->name) return heads[i]->oid;
  }
  return absl::NotFoundError(
      absl::StrCat("branch ", branch, " is not in ", shown_url, " (the remote has no ", want, ")"));
}

}  // namespace

absl::StatusOr<UniqueFd> OpenMirrorsDir(const std::string& path) {
  if (path.empty()) return absl::InvalidArgumentError("mirrors_dir is empty");
  for (size_t i = 1; i <= path.size(); ++i) {
    if (i == path.size() || path[i] == '/') {
      std::string prefix = path.substr(0, i);
      if (mkdir(prefix.c_str(), 0700) != 0 && errno != EEXIST) {
        return ErrnoStatus(errno, "create directory", prefix);
      }
    }
  }
  int fd = open(path.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open mirrors directory", path);
  return UniqueFd(fd);
}

absl::StatusOr<Mirror> Mirror::Open(int mirrors_fd, const std::string& mirrors_dir,
                                    const std::string& url, const TransferSession& session,
                                    const LogFn& log) {
  InitLibgit2Once();
  ASSIGN_OR_RETURN(GitUrl parsed, ParseGitUrl(url));
  std::string key = Sha256Of(NormalizedUrl(parsed)).hex();
  std::string lock_name = key + ".lock";
  std::string lock_path = absl::StrCat(mirrors_dir, "/", lock_name);
  UniqueFd lock(
      openat(mirrors_fd, lock_name.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!lock.valid()) return ErrnoStatus(errno, "open mirror lock", lock_path);
  bool logged = false;
  while (flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno == EINTR) continue;
    if (errno != EWOULDBLOCK) return ErrnoStatus(errno, "lock mirror", lock_path);
    if (!logged && log) {
      log(absl::StrCat("waiting for another fetch of ", session.Scrub(RedactUrl(url)),
                       " to finish with its mirror"));
    }
    logged = true;
    if (session.Cancelled()) {
      return absl::CancelledError(absl::StrCat("cancelled while waiting for the mirror of ",
                                               session.Scrub(RedactUrl(url))));
    }
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::string name = key + ".git";
  std::string path = absl::StrCat(mirrors_dir, "/", name);
  struct stat st;
  if (fstatat(mirrors_fd, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) != 0) {
    if (errno != ENOENT) return ErrnoStatus(errno, "stat mirror", path);
    RETURN_IF_ERROR(MakeRepo(mirrors_fd, name, path));
  } else if (!S_ISDIR(st.st_mode)) {
    RETURN_IF_ERROR(RemoveTreeAt(mirrors_fd, name, path));
    RETURN_IF_ERROR(MakeRepo(mirrors_fd, name, path));
  }
  git_repository* raw = nullptr;
  if (git_repository_open_bare(&raw, path.c_str()) != 0) {
    // Left half-made by a crash: we hold the lock, so nobody else is using it.
    RETURN_IF_ERROR(RemoveTreeAt(mirrors_fd, name, path));
    RETURN_IF_ERROR(MakeRepo(mirrors_fd, name, path));
    if (git_repository_open_bare(&raw, path.c_str()) != 0) {
      return absl::InternalError(absl::StrCat("open mirror ", path, ": ", LastGitError()));
    }
  }
  return Mirror(url, std::move(parsed), std::move(lock), RepositoryPtr(raw));
}

absl::Status Mirror::Download(git_remote* remote, const std::vector<std::string>& refspecs,
                              git_remote_callbacks& callbacks, TransferSession& session,
                              const LogFn& log) {
  std::vector<char*> specs;
  for (const std::string& s : refspecs) specs.push_back(const_cast<char*>(s.c_str()));
  git_strarray array{specs.data(), specs.size()};
  git_fetch_options opts = GIT_FETCH_OPTIONS_INIT;
  opts.callbacks = callbacks;
  opts.download_tags = GIT_REMOTE_DOWNLOAD_TAGS_NONE;
  opts.update_fetchhead = 0;
  opts.prune = GIT_FETCH_NO_PRUNE;
  std::string shown = RedactUrl(url_);
  auto start = std::chrono::steady_clock::now();
  int rc = git_remote_download(remote, &array, &opts);
  const git_indexer_progress* stats = git_remote_stats(remote);
  if (rc == 0) {
    rc = git_remote_update_tips(remote, &callbacks, 0, GIT_REMOTE_DOWNLOAD_TAGS_NONE, nullptr);
  }
  RETURN_IF_ERROR(session.StatusFor(rc, absl::StrCat("fetch ", shown)));
  session.AddReceived(stats->received_bytes, stats->received_objects);
  if (log) {
    double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    log(absl::StrFormat("fetched %u objects (%.1f MiB) in %.1fs from %s", stats->received_objects,
                        stats->received_bytes / (1024.0 * 1024.0), seconds, session.Scrub(shown)));
  }
  return absl::OkStatus();
}

absl::StatusOr<git_oid> Mirror::FetchBranch(const std::string& branch, bool fetch,
                                            TransferSession& session, const LogFn& log) {
  std::string shown = RedactUrl(url_);
  git_remote* raw = nullptr;
  if (git_remote_create_anonymous(&raw, repo_.get(), url_.c_str()) != 0) {
    return absl::InvalidArgumentError(
        session.Scrub(absl::StrCat("remote ", shown, ": ", LastGitError())));
  }
  RemotePtr remote(raw);
  git_remote_callbacks callbacks = session.Callbacks(parsed_);
  int rc = git_remote_connect(remote.get(), GIT_DIRECTION_FETCH, &callbacks, nullptr, nullptr);
  RETURN_IF_ERROR(session.StatusFor(rc, absl::StrCat("connect to ", shown)));
  ASSIGN_OR_RETURN(git_oid head, AdvertisedBranch(remote.get(), branch, shown, session));
  if (!fetch) return head;
  std::string ref = absl::StrCat("refs/heads/", branch);
  GitPtr<git_odb, git_odb_free> odb;
  git_odb* raw_odb = nullptr;
  if (git_repository_odb(&raw_odb, repo_.get()) != 0) {
    return absl::InternalError(absl::StrCat("open objects of ", shown, ": ", LastGitError()));
  }
  odb.reset(raw_odb);
  if (git_odb_exists(odb.get(), &head)) {
    if (log)
      log(absl::StrCat(branch, " is at ", OidHex(head).substr(0, 12),
                       ", already in the mirror: nothing to fetch"));
  } else {
    RETURN_IF_ERROR(
        Download(remote.get(), {absl::StrCat("+", ref, ":", ref)}, callbacks, session, log));
    if (!git_odb_exists(odb.get(), &head)) {
      return absl::UnavailableError(absl::StrCat("fetch ", shown, ": the head of ", branch, " (",
                                                 OidHex(head), ") did not arrive"));
    }
  }
  git_reference* out = nullptr;
  if (git_reference_create(&out, repo_.get(), ref.c_str(), &head, 1, nullptr) != 0) {
    return absl::InternalError(
        absl::StrCat("update ", ref, " in the mirror of ", shown, ": ", LastGitError()));
  }
  git_reference_free(out);
  return head;
}

absl::Status Mirror::FetchRefspecs(const std::vector<std::string>& refspecs,
                                   TransferSession& session, const LogFn& log) {
  std::string shown = RedactUrl(url_);
  git_remote* raw = nullptr;
  if (git_remote_create_anonymous(&raw, repo_.get(), url_.c_str()) != 0) {
    return absl::InvalidArgumentError(
        session.Scrub(absl::StrCat("remote ", shown, ": ", LastGitError())));
  }
  RemotePtr remote(raw);
  git_remote_callbacks callbacks = session.Callbacks(parsed_);
  int rc = git_remote_connect(remote.get(), GIT_DIRECTION_FETCH, &callbacks, nullptr, nullptr);
  RETURN_IF_ERROR(session.StatusFor(rc, absl::StrCat("connect to ", shown)));
  return Download(remote.get(), refspecs, callbacks, session, log);
}

absl::StatusOr<git_oid> RemoteBranchHead(const std::string& url, const std::string& branch,
                                         TransferSession& session) {
  InitLibgit2Once();
  ASSIGN_OR_RETURN(GitUrl parsed, ParseGitUrl(url));
  std::string shown = RedactUrl(url);
  git_remote* raw = nullptr;
  if (git_remote_create_detached(&raw, url.c_str()) != 0) {
    return absl::InvalidArgumentError(
        session.Scrub(absl::StrCat("remote ", shown, ": ", LastGitError())));
  }
  RemotePtr remote(raw);
  git_remote_callbacks callbacks = session.Callbacks(parsed);
  int rc = git_remote_connect(remote.get(), GIT_DIRECTION_FETCH, &callbacks, nullptr, nullptr);
  RETURN_IF_ERROR(session.StatusFor(rc, absl::StrCat("connect to ", shown)));
  return AdvertisedBranch(remote.get(), branch, shown, session);
}

}  // namespace tempa::worker
