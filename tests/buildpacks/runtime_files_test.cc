#include "buildpacks/internal/runtime_files.h"

#include <sys/stat.h>

#include <algorithm>
#include <string>
#include <vector>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/buildpacks/temp_tree.h"

namespace tempa::buildpacks::internal {
namespace {

using test_support::TempTree;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

class RuntimeFilesTest : public ::testing::Test {
 protected:
  RuntimeFilesTest() {
    options_.binary_name = "server";
    options_.defaults = GoRuntimeDefaults();
    // A Go web app as such projects lay themselves out.
    src_.Write("go.mod", "module example.com/server\n\ngo 1.21\n");
    src_.Write("go.sum", "");
    src_.Write("main.go", "package main\n");
    src_.Write("internal/render/render.go", "package render\n");
    src_.Write("templates/index.html", "<h1>{{.}}</h1>\n");
    src_.Write("static/style.css", "body{}\n");
    src_.Write(".git/HEAD", "ref: refs/heads/main\n");
    src_.Write("vendor/modules.txt", "# none\n");
    src_.Write("tempa.toml", "port = 8080\n");
  }

  absl::StatusOr<LayerOutput> Select() { return RuntimeFilesLayer(src_.path(), options_); }

  std::vector<std::string> Paths() {
    absl::StatusOr<LayerOutput> out = Select();
    EXPECT_TRUE(out.ok()) << out.status();
    std::vector<std::string> paths;
    if (!out.ok()) return paths;
    for (const oci::LayerEntry& entry : out->spec.entries()) paths.push_back(entry.path);
    std::sort(paths.begin(), paths.end());
    return paths;
  }

  TempTree src_;
  RuntimeFilesOptions options_;
};

TEST_F(RuntimeFilesTest, DefaultsKeepTemplatesAndStaticAndLeaveOutSourcesVcsVendorAndConfig) {
  std::vector<std::string> paths = Paths();
  EXPECT_THAT(paths, ::testing::ElementsAre("app", "app/static", "app/static/style.css",
                                            "app/templates", "app/templates/index.html"));
  absl::StatusOr<LayerOutput> out = Select();
  ASSERT_TRUE(out.ok());
  EXPECT_EQ(out->report.at("files"), "2");
  EXPECT_EQ(out->report.at("bytes"), std::to_string(15 + 7));
  EXPECT_THAT(out->report.at("why"), HasSubstr("defaults excluded .git, "));
  EXPECT_THAT(out->report.at("why"), HasSubstr("*.go"));
  EXPECT_THAT(out->report.at("why"), HasSubstr("/vendor/"));
  EXPECT_THAT(out->report.at("why"), HasSubstr("the binary is /app/server, in the app layer"));
}

TEST_F(RuntimeFilesTest, FilesAreRootsAndNeverWritableByOthers) {
  src_.Write("static/run.sh", "#!/bin/sh\n", 0777);
  src_.Write("static/open.txt", "x", 0666);
  absl::StatusOr<LayerOutput> out = Select();
  ASSERT_TRUE(out.ok()) << out.status();
  for (const oci::LayerEntry& entry : out->spec.entries()) {
    if (entry.type == oci::LayerEntry::Type::kSymlink) continue;
    EXPECT_EQ(entry.mode & 0022, 0u) << entry.path;
    EXPECT_FALSE(entry.uid.has_value() && *entry.uid != 0) << entry.path;
    if (entry.path == "app/static/run.sh") {
      EXPECT_EQ(entry.mode, 0755u);
    }
    if (entry.path == "app/static/open.txt") {
      EXPECT_EQ(entry.mode, 0644u);
    }
  }
}

TEST_F(RuntimeFilesTest, TempaignoreWinsOverDockerignore) {
  src_.Write("secret.env", "TOKEN=hunter2\n");
  src_.Write("notes.txt", "x");
  src_.Write(".tempaignore", "secret.env\n");
  src_.Write(".dockerignore", "notes.txt\n");
  std::vector<std::string> paths = Paths();
  EXPECT_THAT(paths, Not(Contains("app/secret.env")));
  EXPECT_THAT(paths, Contains("app/notes.txt"));
  EXPECT_THAT(paths, Not(Contains("app/.tempaignore")));
  EXPECT_THAT(Select()->report.at("why"), HasSubstr(".tempaignore excluded 1"));
}

TEST_F(RuntimeFilesTest, DockerignoreAppliesWhenThereIsNoTempaignore) {
  src_.Write("secret.env", "TOKEN=hunter2\n");
  src_.Write("config/secret.env", "kept: docker patterns are rooted\n");
  src_.Write(".dockerignore", "secret.env\nstatic\n!static/style.css\n");
  std::vector<std::string> paths = Paths();
  EXPECT_THAT(paths, Not(Contains("app/secret.env")));
  EXPECT_THAT(paths, Contains("app/config/secret.env"));
  EXPECT_THAT(paths, Contains("app/static/style.css"));  // an exception reaches in
}

TEST_F(RuntimeFilesTest, IncludeBringsBackWhatDefaultsOrIgnoreLeftOutButNeverVcsOrTheBinary) {
  src_.Write("vendor/assets/logo.svg", "<svg/>");
  src_.Write("data/seed.json", "{}");
  src_.Write(".tempaignore", "data/\n");
  src_.Write("server", "a stale binary");
  options_.include = {"vendor/assets/", "data/seed.json", ".git/HEAD", "server", "go.mod"};
  std::vector<std::string> paths = Paths();
  EXPECT_THAT(paths, Contains("app/vendor/assets/logo.svg"));
  EXPECT_THAT(paths, Not(Contains("app/vendor/modules.txt")));
  EXPECT_THAT(paths, Contains("app/data/seed.json"));
  EXPECT_THAT(paths, Contains("app/go.mod"));
  EXPECT_THAT(paths, Not(Contains("app/.git/HEAD")));
  EXPECT_THAT(paths, Not(Contains("app/server")));
  std::string why = Select()->report.at("why");
  EXPECT_THAT(why, HasSubstr("tempa.toml include added "));
  EXPECT_THAT(why, HasSubstr("the repository's own server at the root is not copied"));
}

TEST_F(RuntimeFilesTest, ExcludeRemovesMoreAndBeatsInclude) {
  src_.Write("static/big.mp4", "movie");
  options_.exclude = {"*.mp4", "templates/"};
  options_.include = {"templates/index.html"};
  std::vector<std::string> paths = Paths();
  EXPECT_THAT(paths, Not(Contains("app/static/big.mp4")));
  EXPECT_THAT(paths, Not(Contains("app/templates/index.html")));
  EXPECT_THAT(paths, Contains("app/static/style.css"));
  EXPECT_THAT(Select()->report.at("why"), HasSubstr("tempa.toml exclude removed 2"));
}

TEST_F(RuntimeFilesTest, ASymlinkIsKeptAsWrittenAndNeverFollowed) {
  // A link to a host file and a linked directory: neither is read, both go in as links.
  src_.Symlink("/etc/shadow", "static/shadow");
  src_.Symlink("/etc", "hostetc");
  src_.Symlink("templates/index.html", "index.html");
  absl::StatusOr<LayerOutput> out = Select();
  ASSERT_TRUE(out.ok()) << out.status();
  std::map<std::string, oci::LayerEntry> by_path;
  for (const oci::LayerEntry& entry : out->spec.entries()) by_path[entry.path] = entry;
  ASSERT_TRUE(by_path.count("app/static/shadow"));
  EXPECT_EQ(by_path["app/static/shadow"].type, oci::LayerEntry::Type::kSymlink);
  EXPECT_EQ(by_path["app/static/shadow"].link_target, "/etc/shadow");
  ASSERT_TRUE(by_path.count("app/hostetc"));
  EXPECT_EQ(by_path["app/hostetc"].type, oci::LayerEntry::Type::kSymlink);
  EXPECT_FALSE(by_path.count("app/hostetc/passwd"));
  EXPECT_EQ(by_path["app/index.html"].type, oci::LayerEntry::Type::kSymlink);
}

TEST_F(RuntimeFilesTest, AnIgnoreFileThatIsASymlinkIsRefused) {
  src_.Symlink("/etc/passwd", ".tempaignore");
  absl::StatusOr<LayerOutput> out = Select();
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), HasSubstr(".tempaignore"));
}

TEST_F(RuntimeFilesTest, AHugeIgnoreFileIsRefusedNamingTheLimit) {
  src_.Write(".tempaignore", std::string((1 << 20) + 10, '#'));
  absl::StatusOr<LayerOutput> out = Select();
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("over the limit of 1048576 bytes"));
}

TEST_F(RuntimeFilesTest, AFifoIsRefusedUnlessLeftOut) {
  ASSERT_EQ(mkfifo((src_ / "static/pipe").c_str(), 0644), 0);
  absl::StatusOr<LayerOutput> out = Select();
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("is a fifo"));
  src_.Write(".tempaignore", "pipe\n");
  EXPECT_TRUE(Select().ok());
}

TEST_F(RuntimeFilesTest, OverTheLimitsTheErrorNamesTheLimitAndTheFix) {
  options_.max_files = 1;
  absl::StatusOr<LayerOutput> out = Select();
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("more than 1 runtime files"));
  EXPECT_THAT(std::string(out.status().message()), HasSubstr(".tempaignore"));
  options_.max_files = 100;
  options_.max_bytes = 10;
  out = Select();
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("more than 10 bytes"));
  EXPECT_THAT(std::string(out.status().message()), HasSubstr(".tempaignore"));
}

TEST_F(RuntimeFilesTest, TheKeyFollowsRuntimeFilesOnlyNotSourcesOrMtimes) {
  absl::StatusOr<LayerOutput> first = Select();
  src_.Write("main.go", "package main\n// changed code\n");
  absl::StatusOr<LayerOutput> code_changed = Select();
  src_.Write("templates/index.html", "<h2>{{.}}</h2>\n");
  absl::StatusOr<LayerOutput> template_changed = Select();
  src_.Write("templates/index.html", "<h2>{{.}}</h2>\n", 0755);
  absl::StatusOr<LayerOutput> mode_changed = Select();
  ASSERT_TRUE(first.ok() && code_changed.ok() && template_changed.ok() && mode_changed.ok());
  EXPECT_EQ(first->content_key, code_changed->content_key);
  EXPECT_NE(first->content_key, template_changed->content_key);
  EXPECT_NE(template_changed->content_key, mode_changed->content_key);
}

TEST(RustRuntimeDefaults, LeaveOutRustSourcesAndManifests) {
  TempTree src;
  src.Write("Cargo.toml", "[package]\nname = \"web\"\n");
  src.Write("Cargo.lock", "");
  src.Write("rust-toolchain.toml", "");
  src.Write(".cargo/config.toml", "");
  src.Write("src/main.rs", "fn main() {}\n");
  src.Write("target/release/web", "elf");
  src.Write("index.html", "<h1>hi</h1>");
  src.Write("static/style.css", "body{}");
  RuntimeFilesOptions options;
  options.binary_name = "web";
  options.defaults = RustRuntimeDefaults();
  absl::StatusOr<LayerOutput> out = RuntimeFilesLayer(src.path(), options);
  ASSERT_TRUE(out.ok()) << out.status();
  std::vector<std::string> paths;
  for (const oci::LayerEntry& entry : out->spec.entries()) paths.push_back(entry.path);
  std::sort(paths.begin(), paths.end());
  EXPECT_THAT(
      paths, ::testing::ElementsAre("app", "app/index.html", "app/static", "app/static/style.css"));
}

}  // namespace
}  // namespace tempa::buildpacks::internal
