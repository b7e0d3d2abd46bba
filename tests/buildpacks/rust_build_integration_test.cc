// The Rust buildpack with the real cargo and the real bubblewrap sandbox: the example workspace
// builds offline and serves HTTP, rebuilds bit for bit from another directory with a cold cache,
// a code-only change recompiles only the app crate, and a compile error comes back with rustc's
// words. The run base is faked here (its own tests cover it); the e2e test uses the real one.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_replace.h"
#include "absl/time/clock.h"
#include "buildpacks/runbase/static_base.h"
#include "buildpacks/rust/rust_buildpack.h"
#include "common/build_error.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "temp_tree.h"
#include "tests/support/buildpack_integration_test.h"
#include "tests/support/loopback_app.h"
#include "worker/sandbox/bubblewrap_sandbox.h"

namespace tempa::buildpacks {
namespace {

namespace fs = std::filesystem;
using tempa::testing::AppAnswers;
using tempa::testing::RunAppAndGet;
using test_support::TempTree;
using ::testing::HasSubstr;
using ::testing::Not;

std::string Example(const std::string& name) {
  const char* root = std::getenv("TEMPA_SOURCE_DIR");
  return std::string(root ? root : TEMPA_SOURCE_DIR) + "/examples/" + name;
}

// A copy of the example (fresh mtimes, another path), as a new checkout would be.
std::string CopyExample(const TempTree& tree, const std::string& as) {
  chmod(tree.path().c_str(), 0755);  // the build user must reach the copy
  fs::copy(Example("rust-hello"), tree / as, fs::copy_options::recursive);
  return tree / as;
}

class RustBuildIntegrationTest : public tempa::testing::BuildpackIntegrationTest {
 protected:
  void SetUp() override {
    auto toolchain = HostRustToolchainLocator().Locate();
    if (!toolchain.ok()) GTEST_SKIP() << toolchain.status();
    BuildpackIntegrationTest::SetUp();
    if (IsSkipped()) return;
    RustBuildpackOptions options;
    options.run_base = [this](const rust::ElfDependencies& binary,
                              const BuildContext&) -> absl::StatusOr<PlannedLayer> {
      needed_ = binary.needed;
      return PlannedLayer{LayerRole::kBase, "fake-base", nullptr};
    };
    buildpack_ =
        std::make_unique<RustBuildpack>(std::make_shared<HostRustToolchainLocator>(), options);
  }

  // Detects and prepares `source` (which runs cargo), returning the app layer.
  absl::StatusOr<LayerOutput> Build(const std::string& source, const TempTree& scratch,
                                    const TempTree& cache) {
    log_.clear();
    // As the pipeline does: the build user (when we are root) must reach the source and own
    // the directories it writes.
    chmod(source.c_str(), 0755);
    for (const TempTree* dir : {&scratch, &cache}) {
      absl::Status s = PrepareForSandbox(dir->path(), {});
      if (!s.ok()) return s;
    }
    absl::Time started = absl::Now();
    absl::StatusOr<LayerOutput> app =
        DetectAndBuild(*buildpack_, source, scratch.path(), cache.path());
    took_ = absl::Now() - started;
    return app;
  }

  std::unique_ptr<RustBuildpack> buildpack_;
  absl::Duration took_;
  std::vector<std::string> needed_;
};

TEST_F(RustBuildIntegrationTest, ExampleWorkspaceBuildsOfflineAndServesHttp) {
  TempTree tree, scratch, cache;
  auto app = Build(CopyExample(tree, "src"), scratch, cache);
  ASSERT_TRUE(app.ok()) << app.status() << "\n" << log_;
  EXPECT_THAT(needed_, ::testing::Contains("libc.so.6"));
  std::string binary = scratch / "rust-out/rust-hello";
  ASSERT_EQ(access(binary.c_str(), X_OK), 0);

  absl::StatusOr<AppAnswers> answers = RunAppAndGet(binary);
  ASSERT_TRUE(answers.ok()) << answers.status();
  EXPECT_THAT(answers->root, HasSubstr("200 OK"));
  EXPECT_THAT(answers->root, HasSubstr("hello from tempa (rust)"));
  EXPECT_THAT(answers->health, HasSubstr("\r\n\r\nok\n"));
}

TEST_F(RustBuildIntegrationTest, TwoCleanSourceDirsGiveTheSameBinary) {
  TempTree tree, first, second, cache_a, cache_b;
  auto a = Build(CopyExample(tree, "a"), first, cache_a);
  ASSERT_TRUE(a.ok()) << a.status() << "\n" << log_;
  std::string b_src = CopyExample(tree, "b");
  for (const auto& entry : fs::recursive_directory_iterator(b_src)) {
    fs::last_write_time(entry.path(), fs::file_time_type::clock::now() - std::chrono::hours(48));
  }
  auto b = Build(b_src, second, cache_b);
  ASSERT_TRUE(b.ok()) << b.status() << "\n" << log_;
  EXPECT_EQ(a->content_key, b->content_key);
  // No build path survives in the binary.
  std::string bytes = test_support::ReadFileOrEmpty(first / "rust-out/rust-hello");
  EXPECT_FALSE(absl::StrContains(bytes, tree.path()));
  EXPECT_FALSE(absl::StrContains(bytes, "/cache/cargo-home"));
}

TEST_F(RustBuildIntegrationTest, ACodeOnlyChangeRecompilesOnlyTheAppCrate) {
  TempTree tree, scratch1, scratch2, scratch3, cache;
  std::string src = CopyExample(tree, "src");
  auto cold = Build(src, scratch1, cache);
  ASSERT_TRUE(cold.ok()) << cold.status() << "\n" << log_;
  absl::Duration cold_took = took_;
  EXPECT_THAT(log_, HasSubstr("Compiling greeting"));

  auto unchanged = Build(src, scratch2, cache);
  ASSERT_TRUE(unchanged.ok()) << unchanged.status() << "\n" << log_;
  EXPECT_THAT(log_, Not(HasSubstr("Compiling")));
  EXPECT_EQ(cold->content_key, unchanged->content_key);
  absl::Duration noop_took = took_;

  std::string main_rs = src + "/crates/server/src/main.rs";
  std::string code = test_support::ReadFileOrEmpty(main_rs);
  tree.Write("src/crates/server/src/main.rs", code + "\n// a code-only change\n");
  auto warm = Build(src, scratch3, cache);
  ASSERT_TRUE(warm.ok()) << warm.status() << "\n" << log_;
  EXPECT_THAT(log_, HasSubstr("Compiling rust-hello"));
  EXPECT_THAT(log_, Not(HasSubstr("Compiling greeting")));
  std::cout << "cargo in sandbox: cold " << cold_took << ", unchanged " << noop_took
            << ", code-only change " << took_ << "\n";
}

// Gives every entry under `dir` the time `when` (links themselves), as a checkout made earlier,
// `cp -p`, `rsync -a` or a tarball would.
void SetAllTimes(const std::string& dir, time_t when) {
  struct timespec t = {when, 0};
  struct timespec times[2] = {t, t};
  for (const auto& entry : fs::recursive_directory_iterator(dir)) {
    ASSERT_EQ(utimensat(AT_FDCWD, entry.path().c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
  }
  ASSERT_EQ(utimensat(AT_FDCWD, dir.c_str(), times, AT_SYMLINK_NOFOLLOW), 0);
}

// Issue 10: revision B of the workspace (only the library crate changed), in another directory
// whose files are all older than revision A's build, with A's cache: cargo judges by file
// times, so without the source view B's image would carry A's binary.
TEST_F(RustBuildIntegrationTest, AnOlderCheckoutOfAChangedLibraryCrateGetsItsOwnCode) {
  TempTree tree, scratch1, scratch2, scratch3, cache;
  std::string a_src = CopyExample(tree, "a");
  auto a = Build(a_src, scratch1, cache);
  ASSERT_TRUE(a.ok()) << a.status() << "\n" << log_;
  absl::StatusOr<AppAnswers> a_answers = RunAppAndGet(scratch1 / "rust-out/rust-hello");
  ASSERT_TRUE(a_answers.ok()) << a_answers.status();
  EXPECT_THAT(a_answers->root, HasSubstr("hello from tempa (rust)"));

  std::string b_src = CopyExample(tree, "b");
  std::string lib = test_support::ReadFileOrEmpty(b_src + "/crates/greeting/src/lib.rs");
  ASSERT_TRUE(absl::StrContains(lib, "\"hello from tempa ({language})\\n\""));
  absl::StrReplaceAll(
      {{"\"hello from tempa ({language})\\n\"", "\"hello from revision B ({language})\\n\""}},
      &lib);
  tree.Write("b/crates/greeting/src/lib.rs", lib);
  SetAllTimes(b_src, time(nullptr) - 48 * 3600);
  auto b = Build(b_src, scratch2, cache);
  ASSERT_TRUE(b.ok()) << b.status() << "\n" << log_;
  EXPECT_THAT(log_, HasSubstr("Compiling greeting"));
  absl::StatusOr<AppAnswers> b_answers = RunAppAndGet(scratch2 / "rust-out/rust-hello");
  ASSERT_TRUE(b_answers.ok()) << b_answers.status();
  EXPECT_THAT(b_answers->root, HasSubstr("hello from revision B (rust)"));
  EXPECT_NE(b->content_key, a->content_key);

  // A again, from its own directory: A's code, and the same app layer as A's first build.
  auto a_again = Build(a_src, scratch3, cache);
  ASSERT_TRUE(a_again.ok()) << a_again.status() << "\n" << log_;
  absl::StatusOr<AppAnswers> again = RunAppAndGet(scratch3 / "rust-out/rust-hello");
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_THAT(again->root, HasSubstr("hello from tempa (rust)"));
  EXPECT_EQ(a_again->content_key, a->content_key);
}

// Two files of the library crate swap names (each keeps its bytes and its old time): only the
// set of paths changed, and the image follows it.
TEST_F(RustBuildIntegrationTest, RenamedFilesAreAChangeEvenWithOlderTimes) {
  TempTree tree, scratch1, scratch2, cache;
  std::string src = CopyExample(tree, "src");
  tree.Write("src/crates/greeting/src/lib.rs",
             "#[path = \"first.rs\"]\nmod first;\n"
             "pub fn greeting(language: &str) -> String {\n"
             "    format!(\"{} ({language})\\n\", first::WORD)\n}\n");
  tree.Write("src/crates/greeting/src/first.rs", "pub const WORD: &str = \"word one\";\n");
  tree.Write("src/crates/greeting/src/second.rs", "pub const WORD: &str = \"word two\";\n");
  auto one = Build(src, scratch1, cache);
  ASSERT_TRUE(one.ok()) << one.status() << "\n" << log_;
  absl::StatusOr<AppAnswers> first = RunAppAndGet(scratch1 / "rust-out/rust-hello");
  ASSERT_TRUE(first.ok()) << first.status();
  EXPECT_THAT(first->root, HasSubstr("word one (rust)"));

  std::string dir = src + "/crates/greeting/src/";
  ASSERT_EQ(rename((dir + "first.rs").c_str(), (dir + "swap.rs").c_str()), 0);
  ASSERT_EQ(rename((dir + "second.rs").c_str(), (dir + "first.rs").c_str()), 0);
  ASSERT_EQ(rename((dir + "swap.rs").c_str(), (dir + "second.rs").c_str()), 0);
  SetAllTimes(src, time(nullptr) - 48 * 3600);
  auto two = Build(src, scratch2, cache);
  ASSERT_TRUE(two.ok()) << two.status() << "\n" << log_;
  absl::StatusOr<AppAnswers> second = RunAppAndGet(scratch2 / "rust-out/rust-hello");
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_THAT(second->root, HasSubstr("word two (rust)"));
}

TEST_F(RustBuildIntegrationTest, ACompileErrorReturnsRustcsMessage) {
  TempTree source, scratch, cache;
  source.Write("Cargo.toml",
               "[package]\nname = \"broken\"\nversion = \"0.1.0\"\nedition = \"2021\"\n");
  source.Write("Cargo.lock",
               "version = 4\n\n[[package]]\nname = \"broken\"\nversion = \"0.1.0\"\n");
  source.Write("src/main.rs", "fn main() {\n    println!(\"{}\", nope);\n}\n");
  auto app = Build(source.path(), scratch, cache);
  ASSERT_FALSE(app.ok());
  EXPECT_THAT(std::string(app.status().message()),
              ::testing::StartsWith("cargo build failed (exit 101):"));
  EXPECT_THAT(std::string(app.status().message()), HasSubstr("cannot find value `nope`"));
  EXPECT_EQ(FailureOf(app.status())->kind, FailureKind::kCompile);
}

TEST_F(RustBuildIntegrationTest, ACrateThatIsNotAvailableOfflineIsADependencyFailure) {
  TempTree source, scratch, cache;
  source.Write("Cargo.toml",
               "[package]\nname = \"needs\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n"
               "[dependencies]\nserde = \"1\"\n");
  source.Write("src/main.rs", "fn main() {}\n");
  auto app = Build(source.path(), scratch, cache);
  ASSERT_FALSE(app.ok());
  EXPECT_THAT(std::string(app.status().message()), HasSubstr("serde"));
  EXPECT_EQ(FailureOf(app.status())->kind, FailureKind::kDependencyResolution) << app.status();
}

// The default run base, on this host's packages: nothing for a static binary beyond the static
// base; libc6 + libgcc-s1 for what a std Rust binary links.
TEST(RustRunBase, StaticBinariesGetTheStaticBaseAndGlibcOnesTheirPackages) {
  TempTree scratch, cache;
  BuildContext context;
  context.scratch_dir = scratch.path();
  context.cache_dir = cache.path();
  std::string log;
  context.log = [&](absl::string_view line) { log += std::string(line) + "\n"; };
  rust::RunBaseFactory factory = rust::DebianRunBase({}, "");

  auto static_base = factory(rust::ElfDependencies{}, context);
  ASSERT_TRUE(static_base.ok()) << static_base.status();
  EXPECT_EQ(static_base->input_key, runbase::StaticBaseLayer()->input_key);

  rust::ElfDependencies glibc{"/lib64/ld-linux-x86-64.so.2",
                              {"libgcc_s.so.1", "libc.so.6", "ld-linux-x86-64.so.2"}};
  auto glibc_base = factory(glibc, context);
  ASSERT_TRUE(glibc_base.ok()) << glibc_base.status();
  EXPECT_EQ(glibc_base->role, LayerRole::kBase);
  EXPECT_FALSE(glibc_base->input_key.empty());
  EXPECT_NE(glibc_base->input_key, static_base->input_key);
  EXPECT_THAT(log, HasSubstr("run base: libc6, libgcc-s1 ("));

  // A library beyond glibc's is looked up and its package added (zlib1g is on every Debian).
  rust::ElfDependencies zlib{"/lib64/ld-linux-x86-64.so.2", {"libz.so.1", "libc.so.6"}};
  auto zlib_base = factory(zlib, context);
  ASSERT_TRUE(zlib_base.ok()) << zlib_base.status();
  EXPECT_NE(zlib_base->input_key, glibc_base->input_key);
  EXPECT_THAT(log, HasSubstr("run base: libc6, libgcc-s1, zlib1g ("));

  rust::ElfDependencies missing{"/lib64/ld-linux-x86-64.so.2", {"libnot-installed.so.9"}};
  auto refused = factory(missing, context);
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(std::string(refused.status().message()), HasSubstr("libnot-installed.so.9"));
}

}  // namespace
}  // namespace tempa::buildpacks
