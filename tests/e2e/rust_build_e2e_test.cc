// `tempa build` on the Rust example workspace, driven through the real binary as a user would:
// real registry, real sandboxed cargo build, run base from the host's Debian packages, image
// pulled back with skopeo, unpacked with umoci and run with runc.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/temp_dir.h"

namespace tempa::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

// The sandboxed build runs as an unprivileged uid when the CLI runs as root: it must be able to
// reach the copied sources under the test's temp dir (mkdtemp makes it 0700).
class RustE2eTest : public TempaE2eTest {
 protected:
  void SetUp() override {
    TempaE2eTest::SetUp();
    chmod(tmp_.path().c_str(), 0755);
  }
};

TEST_F(RustE2eTest, RustWorkspaceRunsFromTheRegistryAndAnswersHttp) {
  if (geteuid() != 0) GTEST_SKIP() << "running images with runc needs root";
  std::string src = CopyExample("rust-hello", "app");
  std::string image = registry() + "/rust-hello:v1";
  CommandResult result;
  json out = BuildJson(src, image, tmp_.Join("cache"), &result);
  ASSERT_EQ(result.exit_code, 0) << result.err;

  EXPECT_EQ(out["language"], "rust");
  EXPECT_EQ(out["app"], "rust-hello");
  // The run base, the repository's runtime files (its README.md), the binary.
  ASSERT_EQ(out["layers"].size(), 3u) << out.dump();
  EXPECT_EQ(out["layers"][0]["role"], "base");
  EXPECT_EQ(out["layers"][1]["role"], "files");
  EXPECT_EQ(out["layers"][2]["role"], "app");

  CommandResult inspect =
      RunCommand({"skopeo", "inspect", "--config", "--tls-verify=false", "docker://" + image});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  json config = json::parse(inspect.out);
  EXPECT_EQ(config["config"]["User"], "65532:65532");
  EXPECT_EQ(config["config"]["Entrypoint"], json::array({"/app/rust-hello"}));
  EXPECT_EQ(config["config"]["WorkingDir"], "/app");

  int port = PickFreePort();
  std::string id = RunImageWithRunc(out["image"], tmp_.Join("run"), port);
  ASSERT_FALSE(id.empty());
  absl::Cleanup stop = [&] { RunCommand({"runc", "delete", "-f", id}); };
  EXPECT_EQ(HttpGetRetrying(port, "/"), "hello from tempa (rust)\n");
  EXPECT_EQ(HttpGetRetrying(port, "/healthz"), "ok\n");
}

TEST_F(RustE2eTest, RustCodeOnlyChangeRebuildsTheAppOnTheSameBase) {
  std::string src = CopyExample("rust-hello", "app");
  std::string image = registry() + "/rust-change:v1";
  json first = BuildJson(src, image, tmp_.Join("cache"));
  ASSERT_TRUE(first.contains("layers")) << first.dump();
  std::ofstream(src + "/crates/server/src/main.rs", std::ios::app) << "\n// a code-only change\n";
  json second = BuildJson(src, image, tmp_.Join("cache"));
  ASSERT_TRUE(second.contains("layers")) << second.dump();
  EXPECT_EQ(second["layers"][0]["digest"], first["layers"][0]["digest"]);
  EXPECT_TRUE(second["layers"][0]["reused"].get<bool>());
  // A comment does not change the binary: the app layer is found by its content key too.
  EXPECT_EQ(second["layers"].back()["digest"], first["layers"].back()["digest"]);

  // A change the binary shows: another 404 body.
  std::string main_rs;
  {
    std::ifstream in(src + "/crates/server/src/main.rs");
    main_rs.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ASSERT_TRUE(absl::StrContains(main_rs, "not found\\n"));
  std::ofstream(src + "/crates/server/src/main.rs")
      << absl::StrReplaceAll(main_rs, {{"not found\\n", "nothing here\\n"}});
  json third = BuildJson(src, image, tmp_.Join("cache"));
  ASSERT_TRUE(third.contains("layers")) << third.dump();
  EXPECT_EQ(third["layers"][0]["digest"], first["layers"][0]["digest"]);
  EXPECT_TRUE(third["layers"][0]["reused"].get<bool>());
  EXPECT_NE(third["layers"].back()["digest"], first["layers"].back()["digest"]);
  EXPECT_FALSE(third["layers"].back()["reused"].get<bool>());
  EXPECT_NE(third["digest"], first["digest"]);
}

TEST_F(RustE2eTest, RustSameSourceInTwoCleanDirsGivesTheSameDigest) {
  std::string a = CopyExample("rust-hello", "a");
  std::string b = CopyExample("rust-hello", "b");
  for (const std::string& f : ListFiles(b)) {
    fs::last_write_time(fs::path(b) / f, fs::file_time_type::clock::now() - std::chrono::hours(48));
  }
  std::string image = registry() + "/rust-repro:v1";
  json one = BuildJson(a, image, tmp_.Join("cache1"));
  json other = BuildJson(b, image, tmp_.Join("cache2"));
  ASSERT_TRUE(one.contains("digest")) << one.dump();
  EXPECT_EQ(one["digest"], other["digest"]);
  EXPECT_FALSE(other["layers"][0]["reused"].get<bool>());  // really built twice
}

// Issue 10: revision B (only the workspace's library crate changed) from another directory
// whose files are older than A's build, with A's cache, ships B's code; A again ships A's code
// with A's app layer. Without content-decided freshness cargo kept A's binary for B.
TEST_F(RustE2eTest, RustAnOlderCheckoutOfAChangedLibraryCrateShipsItsOwnCode) {
  std::string a = CopyExample("rust-hello", "a");
  std::string b = CopyExample("rust-hello", "b");
  std::string lib_rs = b + "/crates/greeting/src/lib.rs";
  std::string lib;
  {
    std::ifstream in(lib_rs);
    lib.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  ASSERT_TRUE(absl::StrContains(lib, "hello from tempa ("));
  std::ofstream(lib_rs) << absl::StrReplaceAll(lib, {{"hello from tempa (", "hello from B ("}});
  CommandResult touched =
      RunCommand({"find", b, "-exec", "touch", "-h", "-d", "2 days ago", "{}", "+"});
  ASSERT_EQ(touched.exit_code, 0) << touched.err;

  std::string image = registry() + "/rust-fresh";
  json first = BuildJson(a, image + ":a1", tmp_.Join("cache"));
  ASSERT_TRUE(first.contains("layers")) << first.dump();
  CommandResult result;
  json second = BuildJson(b, image + ":b", tmp_.Join("cache"), &result);
  ASSERT_TRUE(second.contains("layers")) << second.dump() << result.err;
  EXPECT_NE(second["layers"].back()["digest"], first["layers"].back()["digest"]);
  EXPECT_FALSE(second["layers"].back()["reused"].get<bool>());
  json third = BuildJson(a, image + ":a2", tmp_.Join("cache"));
  ASSERT_TRUE(third.contains("layers")) << third.dump();
  EXPECT_EQ(third["layers"].back()["digest"], first["layers"].back()["digest"]);
  EXPECT_TRUE(third["layers"].back()["reused"].get<bool>());
  EXPECT_EQ(third["digest"], first["digest"]);

  if (geteuid() != 0) return;  // running images with runc needs root
  int port = PickFreePort();
  std::string id = RunImageWithRunc(second["image"], tmp_.Join("run"), port);
  ASSERT_FALSE(id.empty());
  absl::Cleanup stop = [&] { RunCommand({"runc", "delete", "-f", id}); };
  EXPECT_EQ(HttpGetRetrying(port, "/"), "hello from B (rust)\n");
}

}  // namespace
}  // namespace tempa::testing
