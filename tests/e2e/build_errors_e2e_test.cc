// Bad inputs to `tempa build` get a clear error naming the problem and the fix, a non-zero
// exit, and lose nothing: the cache stays consistent and the next good build uses it.
#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/fake_registry.h"

namespace tempa::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

TEST_F(TempaE2eTest, DirectoryWithNoAppNamesTheFilesLookedFor) {
  fs::create_directories(tmp_.Join("empty"));
  std::ofstream(tmp_.Join("empty/README.md")) << "nothing to build\n";
  CommandResult r = Tempa({"build", tmp_.Join("empty"), "--image", registry() + "/x", "--cache-dir",
                           tmp_.Join("cache"), "--json"});
  EXPECT_EQ(r.exit_code, 1);
  for (const char* marker : {"go.mod", "Cargo.toml", "requirements.txt"}) {
    EXPECT_TRUE(absl::StrContains(r.err, marker)) << r.err;
  }
  EXPECT_EQ(ErrorOf(r)["kind"], "no_app_detected") << r.out;
}

TEST_F(TempaE2eTest, BadImageNameIsRefusedBeforeBuilding) {
  std::string src = CopyExample("go-hello", "app");
  CommandResult r = Tempa({"build", src, "--image", "Not A Name", "--cache-dir", tmp_.Join("c")});
  EXPECT_NE(r.exit_code, 0);
  EXPECT_TRUE(absl::StrContains(r.err, "bad image name")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "HOST[:PORT]/NAME")) << r.err;
}

TEST_F(TempaE2eTest, MissingImageFlagPrintsUsage) {
  CommandResult r = Tempa({"build", "."});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_TRUE(absl::StrContains(r.err, "--image")) << r.err;
}

TEST_F(TempaE2eTest, CompileErrorShowsTheCompilerMessage) {
  std::string src = CopyExample("go-hello", "app");
  std::ofstream(src + "/broken.go") << "package main\n\nfunc broken() { undefinedThing() }\n";
  CommandResult r = Tempa({"build", src, "--image", registry() + "/broken", "--cache-dir",
                           tmp_.Join("cache"), "--json"});
  EXPECT_EQ(r.exit_code, 1);
  json error = ErrorOf(r);
  EXPECT_EQ(error["kind"], "compile") << r.out;
  EXPECT_TRUE(absl::StrContains(error["log_tail"].get<std::string>(), "undefinedThing")) << r.out;
  EXPECT_TRUE(absl::StrContains(r.err, "broken.go")) << r.err;
}

TEST_F(TempaE2eTest, UnreachableRegistryFailsFastNamingTheHost) {
  std::string src = CopyExample("go-hello", "app");
  std::string host = absl::StrCat("127.0.0.1:", PickFreePort());  // nothing listens there
  CommandResult r =
      Tempa({"build", src, "--image", host + "/app", "--cache-dir", tmp_.Join("cache"), "--json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(ErrorOf(r)["kind"], "push") << r.out;
  EXPECT_TRUE(absl::StrContains(r.err, host)) << r.err;
  // Checked before the build: no layer was built for an image that could not be pushed.
  EXPECT_FALSE(absl::StrContains(r.err, "tempa: layer")) << r.err;
}

TEST_F(TempaE2eTest, RegistryAnswering500FailsAfterRetriesAndLeavesTheCacheWhole) {
  FakeRegistry::Options options;
  options.fail_all_status = 500;
  FakeRegistry failing(options);
  std::string src = CopyExample("go-hello", "app");
  std::string cache = tmp_.Join("cache");
  CommandResult r = Tempa(
      {"build", src, "--image", failing.host_port() + "/app", "--cache-dir", cache, "--json"});
  EXPECT_EQ(r.exit_code, 1);
  EXPECT_EQ(ErrorOf(r)["kind"], "push") << r.out;
  EXPECT_TRUE(absl::StrContains(r.err, "500")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, failing.host_port())) << r.err;
  // Bounded retries: a handful of attempts per request (four blobs: base, files, app, config),
  // not an endless loop.
  EXPECT_LE(failing.requests("HEAD") + failing.requests("POST") + failing.requests("GET"), 25);

  // Nothing half-written: no temp files, and the next build against a working registry reuses
  // every layer the failed one built.
  EXPECT_TRUE(ListFiles(cache + "/cas/tmp").empty());
  json ok = BuildJson(src, registry() + "/app:v1", cache);
  ASSERT_TRUE(ok.contains("layers")) << ok.dump();
  for (const json& layer : ok["layers"]) EXPECT_TRUE(layer["reused"].get<bool>()) << ok.dump();
}

}  // namespace
}  // namespace tempa::testing
