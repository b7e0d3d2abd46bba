// Not a test: times the fetcher's incremental fetch + checkout of a repository after one new
// commit against a fresh `git clone` of the same repository, both over git:// on loopback.
// Usage: fetch_bench [FILES] [ROUNDS]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "tests/support/git_repo_builder.h"
#include "tests/support/temp_dir.h"
#include "worker/git/libgit2_fetcher.h"

namespace {

using Clock = std::chrono::steady_clock;

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

double Seconds(Clock::time_point start) {
  return std::chrono::duration<double>(Clock::now() - start).count();
}

double TimeGitClone(const std::vector<std::string>& args) {
  auto start = Clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    std::vector<char*> argv;
    for (const std::string& a : args) argv.push_back(const_cast<char*>(a.c_str()));
    argv.push_back(nullptr);
    execv("/usr/bin/git", argv.data());
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "git clone failed\n");
    std::exit(1);
  }
  return Seconds(start);
}

}  // namespace

int main(int argc, char** argv) {
  int files = argc > 1 ? std::atoi(argv[1]) : 3000;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  tempa::testing::TempDir tmp("tempa-fetch-bench-");
  tempa::testing::GitRepoBuilder repo(tmp.Join("served/app.git"));
  std::string line(63, 'x');
  for (int i = 0; i < files; ++i) {
    std::string body;
    for (int j = 0; j < 64; ++j) body += absl::StrCat(i, ":", j, line, "\n");
    repo.WriteFile(absl::StrCat("pkg", i % 50, "/file", i, ".go"), body);
  }
  repo.Commit("initial");
  tempa::testing::GitDaemon daemon(tmp.Join("served"));
  std::string url = daemon.Url("app.git");

  tempa::worker::Libgit2Fetcher fetcher({tmp.Join("mirrors")});
  int checkout = 0;
  auto fetch = [&](tempa::worker::FetchResult* out) {
    tempa::worker::FetchRequest request;
    request.repo_url = url;
    request.branch = "main";
    request.checkout_dir = tmp.Join(absl::StrCat("co", ++checkout));
    auto start = Clock::now();
    auto result = fetcher.Fetch(request);
    double s = Seconds(start);
    if (!result.ok()) {
      std::fprintf(stderr, "fetch: %s\n", std::string(result.status().message()).c_str());
      std::exit(1);
    }
    *out = *result;
    return s;
  };
  tempa::worker::FetchResult result;
  double cold = fetch(&result);
  std::printf("repository: %d files, %.1f MiB packed (first fetch: %lu objects)\n", files,
              result.received_bytes / 1048576.0,
              static_cast<unsigned long>(result.received_objects));

  std::vector<double> incremental, clone, shallow;
  uint64_t objects = 0;
  for (int r = 0; r < rounds; ++r) {
    repo.WriteFile(absl::StrCat("pkg0/file0.go"), absl::StrCat("round ", r, "\n"));
    repo.Commit(absl::StrCat("round ", r));
    incremental.push_back(fetch(&result));
    objects = result.received_objects;
    clone.push_back(TimeGitClone({"git", "clone", "-q", url, tmp.Join(absl::StrCat("clone", r))}));
    shallow.push_back(TimeGitClone(
        {"git", "clone", "-q", "--depth", "1", url, tmp.Join(absl::StrCat("shallow", r))}));
  }
  std::printf("| what (median of %d) | seconds |\n|---|---|\n", rounds);
  std::printf("| fetcher, first fetch + checkout (cold mirror, once) | %.3f |\n", cold);
  std::printf("| fetcher, fetch after one new commit + checkout (%lu objects) | %.3f |\n",
              static_cast<unsigned long>(objects), Median(incremental));
  std::printf("| git clone | %.3f |\n", Median(clone));
  std::printf("| git clone --depth 1 | %.3f |\n", Median(shallow));
  return 0;
}
