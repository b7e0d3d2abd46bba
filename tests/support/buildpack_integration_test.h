// A base for the buildpack integration tests that build with a real toolchain in the real
// bubblewrap sandbox (Go, Rust): skips where bubblewrap is missing, and runs a buildpack the way
// the worker's pipeline does (Detect, Prepare, then the app layer's produce), keeping the log.
#pragma once

#include <string>

#include "absl/status/statusor.h"
#include "buildpacks/buildpack.h"
#include "gtest/gtest.h"
#include "worker/sandbox/bubblewrap_sandbox.h"

namespace tempa::testing {

class BuildpackIntegrationTest : public ::testing::Test {
 protected:
  // Skips the test when /usr/bin/bwrap is missing. A subclass checks for its toolchain first,
  // calls this, and returns when IsSkipped().
  void SetUp() override;

  // Detects `source` with `buildpack` (it must apply), prepares the plan with `scratch_dir` and
  // `cache_dir` (handed to the build user first, as the pipeline does) in sandbox_, and returns
  // what the recipe's last layer, the app, produces. The recipe must have two layers (base, app).
  // Every build log line is appended to log_.
  absl::StatusOr<buildpacks::LayerOutput> DetectAndBuild(buildpacks::Buildpack& buildpack,
                                                         const std::string& source,
                                                         const std::string& scratch_dir,
                                                         const std::string& cache_dir);

  BubblewrapSandbox sandbox_;
  std::string log_;
  // Passed as BuildContext::toolchain_seed_dir (empty: app caches start empty, as before).
  std::string toolchain_seed_dir_;
};

}  // namespace tempa::testing
