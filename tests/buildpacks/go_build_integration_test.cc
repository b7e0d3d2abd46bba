// The Go buildpack end to end with the real toolchain and the real bubblewrap sandbox: the
// example app builds offline, runs and answers HTTP, rebuilds bit for bit, and a compile error
// comes back with the compiler's words.
#include <unistd.h>

#include <cstdlib>

#include "buildpacks/detector.h"
#include "buildpacks/go/go_buildpack.h"
#include "common/build_error.h"
#include "common/digest.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "temp_tree.h"
#include "tests/support/buildpack_integration_test.h"
#include "tests/support/loopback_app.h"
#include "worker/sandbox/bubblewrap_sandbox.h"

namespace tempa::buildpacks {
namespace {

using tempa::testing::AppAnswers;
using tempa::testing::RunAppAndGet;
using test_support::TempTree;
using ::testing::HasSubstr;

std::string Example(const std::string& name) {
  // ctest sets TEMPA_SOURCE_DIR; the compiled-in path serves a test binary run by hand.
  const char* root = std::getenv("TEMPA_SOURCE_DIR");
  return std::string(root ? root : TEMPA_SOURCE_ROOT) + "/examples/" + name;
}

// A copy of examples/NAME the build user can reach (the checkout may sit in root's 0700 home).
std::string CopyExample(const TempTree& tree, const std::string& name) {
  std::filesystem::copy(Example(name), tree / name, std::filesystem::copy_options::recursive);
  return tree / name;
}

class GoBuildIntegrationTest : public tempa::testing::BuildpackIntegrationTest {
 protected:
  // One Go build cache shared by these tests, as a worker keeps one per app: a cold cache
  // compiles the standard library (tens of seconds), which only the reproducibility test needs
  // to pay again. ctest runs each test in its own process, so under ctest the cache lives in the
  // build tree and outlives the process — when the build user can reach the build tree (not in
  // a checkout under root's 0700 home; then each process has its own).
  static void SetUpTestSuite() {
    owned_cache_ = new TempTree();
    std::error_code ec;
    std::filesystem::path self = std::filesystem::read_symlink("/proc/self/exe", ec);
    bool reachable =
        !ec && (::geteuid() != 0 || CheckReachableBy(self.string(), 65534, 65534).ok());
    shared_cache_dir_ =
        reachable ? (self.parent_path() / "go-test-cache").string() : owned_cache_->path();
    std::filesystem::create_directories(shared_cache_dir_, ec);
  }
  static void TearDownTestSuite() {
    delete owned_cache_;
    owned_cache_ = nullptr;
  }

  void SetUp() override {
    auto toolchain = HostGoToolchainLocator().Locate();
    if (!toolchain.ok()) GTEST_SKIP() << toolchain.status();
    BuildpackIntegrationTest::SetUp();
    if (IsSkipped()) return;
    buildpack_ = std::make_unique<GoBuildpack>(std::make_shared<HostGoToolchainLocator>());
  }

  // Detects and builds `source`, returning the app layer (the base layer is checked too).
  absl::StatusOr<LayerOutput> Build(const std::string& source, const TempTree& scratch,
                                    const TempTree* cache = nullptr) {
    return DetectAndBuild(*buildpack_, source, scratch.path(),
                          cache ? cache->path() : shared_cache_dir_);
  }

  std::unique_ptr<GoBuildpack> buildpack_;
  static TempTree* owned_cache_;
  static std::string shared_cache_dir_;
};

TempTree* GoBuildIntegrationTest::owned_cache_ = nullptr;
std::string GoBuildIntegrationTest::shared_cache_dir_;

TEST_F(GoBuildIntegrationTest, ExampleAppBuildsOfflineAndServesHttp) {
  TempTree source, scratch;
  auto app = Build(CopyExample(source, "go-hello"), scratch);
  ASSERT_TRUE(app.ok()) << app.status() << "\n" << log_;
  std::string binary = scratch / "go-out/go-hello";
  ASSERT_EQ(access(binary.c_str(), X_OK), 0);
  ASSERT_EQ(app->spec.entries().size(), 2u);

  absl::StatusOr<AppAnswers> answers = RunAppAndGet(binary);
  ASSERT_TRUE(answers.ok()) << answers.status();
  EXPECT_THAT(answers->root, HasSubstr("200 OK"));
  EXPECT_THAT(answers->root, HasSubstr("hello from tempa (go)"));
  EXPECT_THAT(answers->health, HasSubstr("\r\n\r\nok\n"));
}

TEST_F(GoBuildIntegrationTest, RebuildingTheSameSourceGivesTheSameBinary) {
  TempTree source, first, second, cold_cache;
  std::string example = CopyExample(source, "go-hello");
  auto a = Build(example, first);
  ASSERT_TRUE(a.ok()) << a.status() << "\n" << log_;
  // A cold cache the second time: the binary must not depend on what was cached.
  auto b = Build(example, second, &cold_cache);
  ASSERT_TRUE(b.ok()) << b.status() << "\n" << log_;
  EXPECT_EQ(*Sha256OfFile(first / "go-out/go-hello"), *Sha256OfFile(second / "go-out/go-hello"));
  EXPECT_EQ(a->content_key, b->content_key);
}

TEST_F(GoBuildIntegrationTest, ACompileErrorReturnsTheCompilerMessage) {
  TempTree source, scratch;
  source.Write("go.mod", "module example.com/broken\n\ngo 1.21\n");
  source.Write("main.go", "package main\n\nfunc main() {\n\tprintln(nope)\n}\n");
  auto app = Build(source.path(), scratch);
  ASSERT_FALSE(app.ok());
  EXPECT_THAT(std::string(app.status().message()),
              ::testing::StartsWith("go build failed (exit 1):"));
  EXPECT_THAT(std::string(app.status().message()), HasSubstr("undefined: nope"));
  EXPECT_EQ(FailureOf(app.status())->kind, FailureKind::kCompile);
}

TEST_F(GoBuildIntegrationTest, AMissingModuleFailsOfflineAsADependencyError) {
  TempTree source, scratch;
  source.Write("go.mod", "module example.com/needs\n\ngo 1.21\n");
  source.Write("main.go",
               "package main\n\nimport \"example.com/missing\"\n\n"
               "func main() { missing.Do() }\n");
  auto app = Build(source.path(), scratch);
  ASSERT_FALSE(app.ok());
  EXPECT_THAT(std::string(app.status().message()), HasSubstr("example.com/missing"));
  EXPECT_EQ(FailureOf(app.status())->kind, FailureKind::kDependencyResolution);
}

TEST_F(GoBuildIntegrationTest, ABareMainGoBuildsAndRuns) {
  TempTree source, scratch;
  source.Write("main.go",
               "package main\n\nimport \"fmt\"\n\n"
               "func main() { fmt.Println(\"single file\") }\n");
  auto app = Build(source.path(), scratch);
  ASSERT_TRUE(app.ok()) << app.status() << "\n" << log_;
  std::string binary = scratch / "go-out/app";
  FILE* out = popen(binary.c_str(), "r");
  ASSERT_NE(out, nullptr);
  char buf[64] = {};
  size_t n = fread(buf, 1, sizeof buf - 1, out);
  pclose(out);
  EXPECT_EQ(std::string(buf, n), "single file\n");
}

}  // namespace
}  // namespace tempa::buildpacks
