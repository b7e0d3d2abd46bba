// Shared fixture for the real-bwrap sandbox tests: a temp directory the build user may reach and
// a shell command that collects its output lines.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "worker/sandbox/bubblewrap_sandbox.h"

namespace tempa {

class SandboxFixture : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string tmpl = (std::filesystem::temp_directory_path() / "sandbox_test_XXXXXX").string();
    ASSERT_NE(mkdtemp(tmpl.data()), nullptr);
    dir_ = tmpl;
  }
  void TearDown() override { std::filesystem::remove_all(dir_); }

  // Hands everything under dir_ to the build user, as the pipeline does for its scratch dir.
  void Prepare(const BubblewrapSandboxOptions& options = {}) {
    absl::Status s = PrepareForSandbox(dir_, options);
    ASSERT_TRUE(s.ok()) << s;
  }

  SandboxCommand Shell(const std::string& script) {
    SandboxCommand c;
    c.argv = {"/bin/sh", "-c", script};
    c.env = {{"PATH", "/usr/bin:/bin"}};
    c.cwd = "/tmp";
    c.on_output = [this](absl::string_view line) { lines_.emplace_back(line); };
    return c;
  }
  SandboxResult RunOk(Sandbox& sandbox, const SandboxCommand& c) {
    auto result = sandbox.Run(c);
    EXPECT_TRUE(result.ok()) << result.status();
    return result.ok() ? *result : SandboxResult{};
  }
  SandboxResult RunOk(const SandboxCommand& c) { return RunOk(sandbox_, c); }

  std::string dir_;
  BubblewrapSandbox sandbox_;
  std::vector<std::string> lines_;
};

}  // namespace tempa
