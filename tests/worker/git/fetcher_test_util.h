// Shared setup of the fetcher tests: a temp dir with a mirrors directory, a Libgit2Fetcher on
// it, requests with a fresh checkout directory each, and the log lines they wrote.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "gtest/gtest.h"
#include "tests/support/git_repo_builder.h"
#include "tests/support/temp_dir.h"
#include "worker/git/libgit2_fetcher.h"

namespace tempa::worker {

class FetcherTest : public ::testing::Test {
 public:
  // A file's contents ("" when missing).
  static std::string Read(const std::string& path);

 protected:
  FetcherTest();

  // A request for `url` at `branch`/`commit` into a new checkout directory under the temp dir.
  FetchRequest Request(const std::string& url, const std::string& branch,
                       const std::string& commit = "");
  // The mirrors made so far (their directory names).
  std::vector<std::string> Mirrors() const;
  std::vector<std::string> Logs();
  // `size` bytes that do not compress.
  static std::string Incompressible(size_t size, unsigned seed);

  testing::TempDir tmp_;
  std::string mirrors_dir_;
  std::unique_ptr<Libgit2Fetcher> fetcher_;
  int checkouts_ = 0;
  absl::Mutex mu_;
  std::vector<std::string> logs_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tempa::worker
