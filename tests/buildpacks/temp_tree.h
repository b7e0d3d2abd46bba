// A scratch directory tree for buildpack tests: fixtures are written per test, so each test
// shows exactly the files it detects on.
#pragma once

#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "gtest/gtest.h"

namespace tempa::buildpacks::test_support {

class TempTree {
 public:
  TempTree() {
    const char* tmp = getenv("TEST_TMPDIR");
    std::string pattern = std::string(tmp ? tmp : "/tmp") + "/tempa-bp-XXXXXX";
    if (mkdtemp(pattern.data()) == nullptr) ADD_FAILURE() << "mkdtemp failed";
    chmod(pattern.c_str(), 0755);  // the sandbox's build user mounts paths below it
    path_ = pattern;
  }
  ~TempTree() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempTree(const TempTree&) = delete;
  TempTree& operator=(const TempTree&) = delete;

  const std::string& path() const { return path_; }
  std::string operator/(const std::string& rel) const { return path_ + "/" + rel; }

  // Writes `rel` (creating parent directories).
  void Write(const std::string& rel, const std::string& contents, mode_t mode = 0644) const {
    std::string full = *this / rel;
    std::filesystem::create_directories(std::filesystem::path(full).parent_path());
    std::ofstream(full, std::ios::binary | std::ios::trunc) << contents;
    chmod(full.c_str(), mode);
  }
  void Mkdir(const std::string& rel) const { std::filesystem::create_directories(*this / rel); }
  void Symlink(const std::string& target, const std::string& rel) const {
    std::filesystem::create_directories(std::filesystem::path(*this / rel).parent_path());
    ASSERT_EQ(symlink(target.c_str(), (*this / rel).c_str()), 0);
  }

 private:
  std::string path_;
};

inline std::string ReadFileOrEmpty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
}

}  // namespace tempa::buildpacks::test_support
