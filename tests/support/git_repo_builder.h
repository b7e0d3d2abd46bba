// Git fixtures for tests: GitRepoBuilder makes a repository in a directory with the git CLI
// (files, symlinks, commits with a fixed author and date, branches, submodules, raw trees) and
// returns SHAs; GitDaemon serves a directory over git:// on a free loopback port. Both crash on
// failure: they are test setup only.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

namespace tempa::testing {

// Runs `git args...` in `dir` (no shell) with a fixed identity and no user or system config;
// returns stdout with the trailing newline removed; crashes when git fails. `input` goes to stdin.
std::string RunGit(const std::string& dir, const std::vector<std::string>& args,
                   const std::string& input = "");

class GitRepoBuilder {
 public:
  // `git init` in `dir` (created when missing) with `branch` as the initial branch; `bare`
  // makes a bare repository (push to it from another builder with Push).
  explicit GitRepoBuilder(std::string dir, std::string branch = "main", bool bare = false);

  const std::string& path() const { return dir_; }
  std::string url() const { return "file://" + dir_; }

  void WriteFile(const std::string& relative, const std::string& contents, bool executable = false);
  void Symlink(const std::string& relative, const std::string& target);
  void Remove(const std::string& relative);
  // Stages everything and commits; author and committer dates are fixed and advance one
  // minute per commit. Returns the new commit's SHA.
  std::string Commit(const std::string& message);
  void Branch(const std::string& name);    // new branch at HEAD, not checked out
  void Checkout(const std::string& name);  // existing branch
  std::string Head() const;
  // `git submodule add URL PATH` (file:// allowed), not yet committed.
  void AddSubmodule(const std::string& url, const std::string& relative);
  // Writes a commit whose root tree is given in `git mktree` input lines ("100644 blob SHA\tname")
  // on top of HEAD and moves the current branch to it; returns its SHA. For trees the index
  // cannot hold (.git entries, hostile names).
  std::string CommitTree(const std::string& mktree_input, const std::string& message);
  // `git hash-object -w --stdin`: the blob's SHA.
  std::string WriteBlob(const std::string& contents);
  // Runs `git ARGS` in the repository.
  std::string Git(const std::vector<std::string>& args, const std::string& input = "") const;

 private:
  std::string dir_;
  int commits_ = 0;
};

class GitDaemon {
 public:
  // Serves every repository under `base_path` at git://127.0.0.1:PORT/<name>, on a free port;
  // returns once it accepts connections.
  explicit GitDaemon(std::string base_path);
  ~GitDaemon();
  GitDaemon(const GitDaemon&) = delete;
  GitDaemon& operator=(const GitDaemon&) = delete;

  int port() const { return port_; }
  std::string Url(const std::string& name) const;

 private:
  std::string base_path_;
  int port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace tempa::testing
