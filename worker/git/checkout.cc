#include "worker/git/checkout.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/posix_status.h"
#include "worker/git/libgit2_util.h"

namespace tempa::worker {

absl::StatusOr<std::optional<git_oid>> FindCommit(git_repository* repo, const std::string& spec,
                                                  absl::string_view shown_url) {
  git_oid prefix;
  if (git_oid_fromstrn(&prefix, spec.c_str(), spec.size()) != 0) {
    return absl::InvalidArgumentError(absl::StrCat("\"", spec, "\" is not a commit SHA"));
  }
  git_object* raw = nullptr;
  int rc = git_object_lookup_prefix(&raw, repo, &prefix, spec.size(), GIT_OBJECT_ANY);
  if (rc == GIT_ENOTFOUND) return std::nullopt;
  if (rc == GIT_EAMBIGUOUS) {
    return absl::InvalidArgumentError(absl::StrCat("abbreviated commit ", spec, " is ambiguous in ",
                                                   shown_url,
                                                   ": give more digits or the full SHA"));
  }
  if (rc != 0) {
    return absl::InternalError(
        absl::StrCat("look up ", spec, " in the mirror of ", shown_url, ": ", LastGitError()));
  }
  ObjectPtr object(raw);
  if (git_object_type(raw) != GIT_OBJECT_COMMIT) {
    return absl::InvalidArgumentError(absl::StrCat(spec, " in ", shown_url, " is a ",
                                                   git_object_type2string(git_object_type(raw)),
                                                   ", not a commit"));
  }
  return *git_object_id(raw);
}

absl::StatusOr<int64_t> CommitTime(git_repository* repo, const git_oid& oid) {
  git_commit* raw = nullptr;
  if (git_commit_lookup(&raw, repo, &oid) != 0) {
    return absl::InternalError(absl::StrCat("read commit ", OidHex(oid), ": ", LastGitError()));
  }
  CommitPtr commit(raw);
  return static_cast<int64_t>(git_commit_time(raw));
}

namespace {

// The tree `tree` with every gitlink left out (recursively): libgit2 cannot check a gitlink out
// of a bare repository, and submodules are checked out from their own mirrors anyway. Only
// trees on the way to a gitlink are rewritten; `*changed` says whether any was.
absl::StatusOr<git_oid> WithoutGitlinks(git_repository* repo, const git_tree* tree, int depth,
                                        bool* changed) {
  *changed = false;
  if (depth > 4096) return absl::InvalidArgumentError("tree nested too deep");
  git_treebuilder* raw = nullptr;
  if (git_treebuilder_new(&raw, repo, tree) != 0) {
    return absl::InternalError(absl::StrCat("copy tree: ", LastGitError()));
  }
  GitPtr<git_treebuilder, git_treebuilder_free> builder(raw);
  size_t count = git_tree_entrycount(tree);
  for (size_t i = 0; i < count; ++i) {
    const git_tree_entry* entry = git_tree_entry_byindex(tree, i);
    git_filemode_t mode = git_tree_entry_filemode(entry);
    if (mode == GIT_FILEMODE_COMMIT) {
      git_treebuilder_remove(raw, git_tree_entry_name(entry));
      *changed = true;
    } else if (mode == GIT_FILEMODE_TREE) {
      git_tree* raw_sub = nullptr;
      if (git_tree_lookup(&raw_sub, repo, git_tree_entry_id(entry)) != 0) {
        return absl::InternalError(absl::StrCat("read tree: ", LastGitError()));
      }
      TreePtr sub(raw_sub);
      bool sub_changed = false;
      auto oid = WithoutGitlinks(repo, raw_sub, depth + 1, &sub_changed);
      if (!oid.ok()) return oid.status();
      if (sub_changed) {
        if (git_treebuilder_insert(nullptr, raw, git_tree_entry_name(entry), &*oid,
                                   GIT_FILEMODE_TREE) != 0) {
          return absl::InternalError(absl::StrCat("rewrite tree: ", LastGitError()));
        }
        *changed = true;
      }
    }
  }
  if (!*changed) return *git_tree_id(tree);
  git_oid out;
  if (git_treebuilder_write(&out, raw) != 0) {
    return absl::InternalError(absl::StrCat("write tree: ", LastGitError()));
  }
  return out;
}

}  // namespace

absl::Status CheckoutCommit(git_repository* repo, const git_oid& oid, const std::string& target_dir,
                            bool has_gitlinks) {
  git_commit* raw_commit = nullptr;
  if (git_commit_lookup(&raw_commit, repo, &oid) != 0) {
    return absl::InternalError(absl::StrCat("read commit ", OidHex(oid), ": ", LastGitError()));
  }
  CommitPtr commit(raw_commit);
  git_tree* raw_tree = nullptr;
  if (git_commit_tree(&raw_tree, raw_commit) != 0) {
    return absl::InternalError(absl::StrCat("read tree of ", OidHex(oid), ": ", LastGitError()));
  }
  TreePtr tree(raw_tree);
  if (has_gitlinks) {
    bool changed = false;
    auto stripped = WithoutGitlinks(repo, raw_tree, 0, &changed);
    if (!stripped.ok()) return stripped.status();
    git_tree* raw_stripped = nullptr;
    if (git_tree_lookup(&raw_stripped, repo, &*stripped) != 0) {
      return absl::InternalError(absl::StrCat("read tree: ", LastGitError()));
    }
    tree.reset(raw_stripped);
  }
  git_checkout_options opts = GIT_CHECKOUT_OPTIONS_INIT;
  // No index is read or written: the mirror is shared by every checkout.
  opts.checkout_strategy =
      GIT_CHECKOUT_FORCE | GIT_CHECKOUT_DONT_UPDATE_INDEX | GIT_CHECKOUT_DONT_WRITE_INDEX;
  opts.target_directory = target_dir.c_str();
  opts.dir_mode = 0755;
  if (git_checkout_tree(repo, reinterpret_cast<const git_object*>(tree.get()), &opts) != 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("check out ", OidHex(oid), " into ", target_dir, ": ", LastGitError()));
  }
  return absl::OkStatus();
}

namespace {

struct WalkState {
  std::vector<Gitlink>* gitlinks;
};

int CollectGitlink(const char* root, const git_tree_entry* entry, void* payload) {
  if (git_tree_entry_filemode(entry) != GIT_FILEMODE_COMMIT) return 0;
  auto* state = static_cast<WalkState*>(payload);
  state->gitlinks->push_back(
      Gitlink{absl::StrCat(root, git_tree_entry_name(entry)), *git_tree_entry_id(entry)});
  return 0;
}

}  // namespace

absl::Status ReadSubmoduleSources(git_repository* repo, const git_oid& oid,
                                  std::vector<Gitlink>* gitlinks, std::string* gitmodules) {
  git_commit* raw_commit = nullptr;
  if (git_commit_lookup(&raw_commit, repo, &oid) != 0) {
    return absl::InternalError(absl::StrCat("read commit ", OidHex(oid), ": ", LastGitError()));
  }
  CommitPtr commit(raw_commit);
  git_tree* raw_tree = nullptr;
  if (git_commit_tree(&raw_tree, raw_commit) != 0) {
    return absl::InternalError(absl::StrCat("read tree of ", OidHex(oid), ": ", LastGitError()));
  }
  TreePtr tree(raw_tree);
  WalkState state{gitlinks};
  if (git_tree_walk(raw_tree, GIT_TREEWALK_PRE, &CollectGitlink, &state) != 0) {
    return absl::InternalError(absl::StrCat("walk tree of ", OidHex(oid), ": ", LastGitError()));
  }
  gitmodules->clear();
  const git_tree_entry* entry = git_tree_entry_byname(raw_tree, ".gitmodules");
  if (entry == nullptr || gitlinks->empty()) return absl::OkStatus();
  if (git_tree_entry_filemode(entry) != GIT_FILEMODE_BLOB &&
      git_tree_entry_filemode(entry) != GIT_FILEMODE_BLOB_EXECUTABLE) {
    return absl::InvalidArgumentError(
        absl::StrCat(".gitmodules of ", OidHex(oid), " is not a regular file (a symlink?)"));
  }
  git_blob* raw_blob = nullptr;
  if (git_blob_lookup(&raw_blob, repo, git_tree_entry_id(entry)) != 0) {
    return absl::InternalError(absl::StrCat("read .gitmodules: ", LastGitError()));
  }
  BlobPtr blob(raw_blob);
  if (git_blob_rawsize(raw_blob) > (1 << 20)) {
    return absl::InvalidArgumentError(".gitmodules is bigger than 1 MiB");
  }
  gitmodules->assign(static_cast<const char*>(git_blob_rawcontent(raw_blob)),
                     static_cast<size_t>(git_blob_rawsize(raw_blob)));
  return absl::OkStatus();
}

absl::StatusOr<std::string> DirectoryBeneath(int root_fd, const std::string& root_path,
                                             const std::string& relative) {
  std::string shown = absl::StrCat(root_path, "/", relative);
  UniqueFd dir(fcntl(root_fd, F_DUPFD_CLOEXEC, 0));
  if (!dir.valid()) return ErrnoStatus(errno, "dup", root_path);
  for (absl::string_view part : absl::StrSplit(relative, '/')) {
    if (part.empty() || part == "." || part == ".." || part == ".git") {
      return absl::InvalidArgumentError(
          absl::StrCat("submodule path \"", relative, "\" does not stay inside the checkout"));
    }
    std::string name(part);
    if (mkdirat(dir.get(), name.c_str(), 0755) != 0 && errno != EEXIST) {
      return ErrnoStatus(errno, "create directory", shown);
    }
    int next = openat(dir.get(), name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (next < 0) {
      if (errno == ELOOP || errno == ENOTDIR) {
        return absl::InvalidArgumentError(absl::StrCat(
            "submodule path \"", relative, "\" runs through a symlink or file in the checkout"));
      }
      return ErrnoStatus(errno, "open directory", shown);
    }
    dir = UniqueFd(next);
  }
  char buf[4096];
  std::string link = absl::StrCat("/proc/self/fd/", dir.get());
  ssize_t n = readlink(link.c_str(), buf, sizeof buf - 1);
  if (n < 0) return ErrnoStatus(errno, "readlink", link);
  return std::string(buf, static_cast<size_t>(n));
}

}  // namespace tempa::worker
