#include "tests/worker/git/fetcher_test_util.h"

#include <dirent.h>

#include <fstream>
#include <random>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace tempa::worker {

FetcherTest::FetcherTest()
    : tmp_("tempa-git-test-"),
      mirrors_dir_(tmp_.Join("mirrors")),
      fetcher_(std::make_unique<Libgit2Fetcher>(Libgit2Fetcher::Options{mirrors_dir_})) {}

FetchRequest FetcherTest::Request(const std::string& url, const std::string& branch,
                                  const std::string& commit) {
  FetchRequest request;
  request.repo_url = url;
  request.branch = branch;
  request.commit = commit;
  request.checkout_dir = tmp_.Join(absl::StrCat("checkout-", ++checkouts_));
  request.log = [this](absl::string_view line) {
    absl::MutexLock lock(&mu_);
    logs_.emplace_back(line);
  };
  return request;
}

std::string FetcherTest::Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::vector<std::string> FetcherTest::Mirrors() const {
  std::vector<std::string> out;
  DIR* dir = opendir(mirrors_dir_.c_str());
  if (dir == nullptr) return out;
  while (dirent* e = readdir(dir)) {
    if (absl::EndsWith(e->d_name, ".git")) out.push_back(e->d_name);
  }
  closedir(dir);
  return out;
}

std::vector<std::string> FetcherTest::Logs() {
  absl::MutexLock lock(&mu_);
  return logs_;
}

std::string FetcherTest::Incompressible(size_t size, unsigned seed) {
  std::mt19937_64 rng(seed);
  std::string out(size, '\0');
  for (size_t i = 0; i < size; i += 8) {
    uint64_t v = rng();
    for (size_t j = 0; j < 8 && i + j < size; ++j) out[i + j] = static_cast<char>(v >> (8 * j));
  }
  return out;
}

}  // namespace tempa::worker
