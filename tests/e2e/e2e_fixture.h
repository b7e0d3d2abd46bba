// Shared setup for end-to-end tests: the `tempa` binary, copies of the examples, a real
// registry, and helpers to run images the way a user would (skopeo + umoci + runc).
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "gtest/gtest.h"
#include "nlohmann/json.hpp"
#include "tests/e2e/subprocess.h"
#include "tests/support/registry_server.h"
#include "tests/support/temp_dir.h"

namespace tempa::testing {

class TempaE2eTest : public ::testing::Test {
 protected:
  void SetUp() override;

  // Copies examples/NAME into a fresh directory under the test's temp dir (outside any git
  // repository) and returns its path.
  std::string CopyExample(const std::string& name, const std::string& as);
  // The same for an app written for the tests, kept under tests/e2e/apps/NAME.
  std::string CopyTestApp(const std::string& name, const std::string& as);
  // Runs `tempa ARGS...` with SOURCE_DATE_EPOCH pinned unless `env` says otherwise.
  CommandResult Tempa(const std::vector<std::string>& args,
                      std::map<std::string, std::string> env = {});
  // Runs `tempa build DIR --image IMAGE --cache-dir CACHE --json` and parses stdout.
  nlohmann::json BuildJson(const std::string& dir, const std::string& image,
                           const std::string& cache, CommandResult* result = nullptr);

  std::string registry() const { return registry_->host_port(); }

  TempDir tmp_{"tempa-e2e-"};
  std::unique_ptr<RegistryServer> registry_;
};

// The "error" object of a `tempa build --json` failure (its last stdout line); null if none.
nlohmann::json ErrorOf(const CommandResult& result);

// Every file under `dir`, relative, that is not a directory.
std::vector<std::string> ListFiles(const std::string& dir);

// Pulls `image` into an OCI layout under `work` (skopeo), unpacks it (umoci) and starts it
// detached with runc on the host network with PORT=port. Returns the container id ("" and a
// test failure when it cannot); the caller deletes it (runc delete -f ID). Needs root.
std::string RunImageWithRunc(const std::string& image, const std::string& work, int port);

// GETs http://127.0.0.1:port/path with curl, retrying while the app starts (about `tries` ×
// 100 ms); "" when it never answers.
std::string HttpGetRetrying(int port, const std::string& path, int tries = 100);

}  // namespace tempa::testing
