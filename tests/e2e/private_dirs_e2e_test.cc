// `tempa build` run as root the way a new user's script would: with a 0700 source directory, a
// 0700 `--cache-dir "$(mktemp -d)"`, and two builds of one app at once. Tempa arranges its own
// reachable, private directories; none of them is writable by anyone but its owner.
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/notification.h"
#include "buildpacks/detector.h"
#include "common/cas/local_cas.h"
#include "common/registry/curl_http_transport.h"
#include "common/registry/image_reference.h"
#include "common/registry/registry_client.h"
#include "gmock/gmock.h"
#include "tests/e2e/e2e_fixture.h"
#include "worker/build_pipeline.h"
#include "worker/build_pipeline_dirs.h"
#include "worker/sandbox/bubblewrap_sandbox.h"

namespace tempa::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

class PrivateDirsE2eTest : public TempaE2eTest {
 protected:
  void SetUp() override {
    if (geteuid() != 0) GTEST_SKIP() << "the build user differs from the caller only as root";
    TempaE2eTest::SetUp();
  }

  // A 0700 directory the way `mktemp -d` makes one.
  std::string PrivateDir(const std::string& name) {
    std::string dir = tmp_.Join(name);
    fs::create_directories(dir);
    chmod(dir.c_str(), 0700);
    return dir;
  }

  // Directories under `root` (itself included) that someone besides their owner may write.
  static std::vector<std::string> WritableByOthers(const std::string& root) {
    std::vector<std::string> out;
    std::error_code ec;
    struct stat st;
    if (lstat(root.c_str(), &st) == 0 && (st.st_mode & 022) != 0) out.push_back(root);
    for (auto it = fs::recursive_directory_iterator(root, ec); !ec && it != fs::end(it);
         it.increment(ec)) {
      if (lstat(it->path().c_str(), &st) == 0 && S_ISDIR(st.st_mode) && (st.st_mode & 022) != 0) {
        out.push_back(it->path().string());
      }
    }
    return out;
  }

  static std::string AppLayerDigest(const json& out) {
    for (const json& layer : out["layers"]) {
      if (layer["role"] == "app") return layer["digest"];
    }
    return "";
  }
};

TEST_F(PrivateDirsE2eTest, ASourceDirectoryOfMode0700Builds) {
  std::string src = CopyExample("go-hello", "app");
  ASSERT_EQ(chmod(src.c_str(), 0700), 0);
  CommandResult result;
  json out = BuildJson(src, registry() + "/go-hello:private-src", tmp_.Join("cache"), &result);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_FALSE(AppLayerDigest(out).empty()) << out.dump();
  struct stat st;
  ASSERT_EQ(stat(src.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u) << "the user's directory keeps its mode";
}

TEST_F(PrivateDirsE2eTest, ASourceTreeWithAPrivateFileBuilds) {
  std::string src = CopyExample("go-hello", "app");
  ASSERT_EQ(chmod((src + "/main.go").c_str(), 0600), 0);
  CommandResult result;
  json out = BuildJson(src, registry() + "/go-hello:private-file", tmp_.Join("cache"), &result);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_FALSE(AppLayerDigest(out).empty()) << out.dump();
}

TEST_F(PrivateDirsE2eTest, ACacheDirMadeByMktempBuildsAndStaysTheUsers) {
  std::string src = CopyExample("go-hello", "app");
  std::string cache = PrivateDir("mktemp-cache");
  absl::StatusOr<std::string> area = worker::PrivateAreaFor(cache, worker::kDefaultPrivateRoot);
  ASSERT_TRUE(area.ok()) << area.status();
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{*area};

  CommandResult result;
  json out = BuildJson(src, registry() + "/go-hello:private-cache", cache, &result);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_FALSE(AppLayerDigest(out).empty()) << out.dump();

  struct stat st;
  ASSERT_EQ(stat(cache.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0700u) << "the user's cache directory keeps its mode";
  EXPECT_EQ(st.st_uid, 0u);
  // The build-writable parts live in the root-owned area kept for this cache directory.
  ASSERT_TRUE(fs::is_directory(*area + "/apps")) << *area;
  EXPECT_THAT(WritableByOthers(cache), ::testing::IsEmpty());
  EXPECT_THAT(WritableByOthers(*area), ::testing::IsEmpty());

  // A second build reuses the same area and its tool cache.
  json again = BuildJson(src, registry() + "/go-hello:private-cache-2", cache, &result);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_EQ(AppLayerDigest(again), AppLayerDigest(out));
}

TEST_F(PrivateDirsE2eTest, ACacheDirOfAnotherUserGetsNoBuildDirectories) {
  std::string src = CopyExample("go-hello", "app");
  std::string cache = tmp_.Join("users-cache");
  fs::create_directories(cache);
  ASSERT_EQ(chown(cache.c_str(), 1234, 1234), 0);  // they could swap what root makes in it
  absl::StatusOr<std::string> area = worker::PrivateAreaFor(cache, worker::kDefaultPrivateRoot);
  ASSERT_TRUE(area.ok()) << area.status();
  struct Cleanup {
    std::string dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{*area};

  CommandResult result;
  BuildJson(src, registry() + "/go-hello:users-cache", cache, &result);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  // Nothing of root's there, not even the CAS (its owner could pre-seed it with a layer).
  for (const char* name : {"apps", "tmp", "locks", "cas"}) {
    EXPECT_FALSE(fs::exists(fs::symlink_status(cache + "/" + name))) << name;
  }
  EXPECT_TRUE(fs::is_directory(*area + "/apps"));
  EXPECT_TRUE(fs::is_directory(*area + "/cas"));
}

TEST_F(PrivateDirsE2eTest, NoDirectoryTempaCreatesIsWritableByOthersAndScratchIsGone) {
  std::string src = CopyExample("go-hello", "app");
  std::string cache = tmp_.Join("cache");
  CommandResult result;
  BuildJson(src, registry() + "/go-hello:modes", cache, &result);
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_THAT(WritableByOthers(cache), ::testing::IsEmpty());

  struct stat st;
  for (const char* root_owned : {"", "/tmp", "/apps", "/cas"}) {
    std::string dir = cache + root_owned;
    ASSERT_EQ(lstat(dir.c_str(), &st), 0) << dir;
    EXPECT_EQ(st.st_uid, 0u) << dir;
    EXPECT_EQ(st.st_mode & 077, std::string(root_owned) == "/cas" ? 0u : 011u) << dir;
  }
  // The app cache is the build user's alone; its lock is root's, out of the build user's reach.
  std::string key = worker::AppCacheKey(registry() + "/go-hello");
  ASSERT_EQ(lstat((cache + "/apps/" + key).c_str(), &st), 0) << key;
  EXPECT_EQ(st.st_uid, 65534u);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  ASSERT_EQ(lstat((cache + "/locks/" + key + ".lock").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_mode & 077, 0u);
  ASSERT_EQ(lstat((cache + "/locks").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 0u);
  EXPECT_EQ(st.st_mode & 07777, 0700u);
  // Every scratch directory went with its build.
  EXPECT_TRUE(fs::is_empty(cache + "/tmp"));
}

// One CLI process holds its cache's CAS for as long as it runs, so concurrent builds sharing an
// app cache happen inside one process, the way the worker daemon drives the pipeline: here two
// pipelines on one cache directory and one CAS, each with its own sandbox and registry client.
// Two `tempa build` processes on one cache directory: the second waits for the first (one
// process holds a cache at a time) and says so, and both push their image.
TEST_F(PrivateDirsE2eTest, TwoConcurrentCliBuildsOnOneCacheBothSucceed) {
  std::string a = CopyExample("go-hello", "cli-a");
  std::string b = CopyExample("go-hello", "cli-b");
  std::string cache = tmp_.Join("cli-cache");
  CommandResult first, second;
  std::thread other([&] {
    first = Tempa({"build", a, "--image", registry() + "/go-hello:cli-a", "--cache-dir", cache});
  });
  second = Tempa({"build", b, "--image", registry() + "/go-hello:cli-b", "--cache-dir", cache});
  other.join();
  EXPECT_EQ(first.exit_code, 0) << first.err;
  EXPECT_EQ(second.exit_code, 0) << second.err;
  EXPECT_TRUE(absl::StrContains(first.err + second.err, "waiting for another tempa build using"))
      << first.err << second.err;
  EXPECT_TRUE(absl::StrContains(LastLine(first.out), "@sha256:")) << first.out;
  EXPECT_TRUE(absl::StrContains(LastLine(second.out), "@sha256:")) << second.out;
}

TEST_F(PrivateDirsE2eTest, TwoConcurrentBuildsOfOneAppBothSucceedWithTheirOwnBinaries) {
  std::string a = CopyExample("go-hello", "a");
  std::string b = CopyExample("go-hello", "b");
  {
    std::ifstream in(b + "/main.go");
    std::stringstream text;
    text << in.rdbuf();
    std::string changed =
        absl::StrReplaceAll(text.str(), {{"greeting.Hello(\"go\")", "greeting.Hello(\"b\")"}});
    ASSERT_NE(changed, text.str());
    std::ofstream(b + "/main.go", std::ios::trunc) << changed;
  }
  std::string cache = tmp_.Join("cache");
  absl::StatusOr<std::unique_ptr<cas::LocalCas>> store = cas::LocalCas::Open(cache + "/cas", {});
  ASSERT_TRUE(store.ok()) << store.status();
  BubblewrapSandboxOptions sandbox_options;
  struct Build {
    std::string source;
    std::string tag;
    std::vector<std::string> log;
    absl::Notification waiting;
    absl::StatusOr<worker::BuildOutcome> outcome = absl::UnknownError("not run");
  };
  auto run = [&](Build& build) {
    BubblewrapSandbox sandbox(sandbox_options);
    buildpacks::Detector detector = buildpacks::Detector::WithDefaultBuildpacks();
    registry::CurlHttpTransport transport;
    registry::RegistryClientOptions registry_options;
    registry_options.insecure = true;
    registry::RegistryClient client(registry(), &transport, registry_options);
    worker::PipelineDeps deps;
    deps.blobs = &(*store)->blobs();
    deps.actions = &(*store)->actions();
    deps.sandbox = &sandbox;
    deps.detector = &detector;
    worker::BuildSession session;
    session.registry = &client;
    deps.prepare_writable_dir = [&](const std::string& dir) {
      return PrepareForSandbox(dir, sandbox_options);
    };
    session.log = [&](absl::string_view line) {
      build.log.emplace_back(line);
      if (absl::StartsWith(line, "waiting for another build")) build.waiting.Notify();
    };
    worker::PipelineOptions options;
    options.cache_dir = cache;
    options.scratch_dir = cache + "/tmp";
    options.build_owner = worker::DirOwner{sandbox_options.build_uid, sandbox_options.build_gid};
    worker::BuildRequest request;
    request.source_dir = build.source;
    request.image = *registry::ImageReference::Parse(registry() + "/go-hello:" + build.tag);
    request.source_date_epoch = 1700000000;
    build.outcome = worker::BuildPipeline(std::move(deps), options).Build(request, session);
  };
  // The app's cache is held (as by an earlier build) until both builds are waiting for it, so
  // they contend for it whatever the scheduling.
  worker::BuildDirs::Options held_options{cache + "/tmp", cache, {65534, 65534}};
  auto held = std::make_unique<absl::StatusOr<worker::BuildDirs>>(
      worker::BuildDirs::Open(held_options, registry() + "/go-hello", nullptr));
  ASSERT_TRUE(held->ok()) << held->status();
  Build build_a{a, "a"}, build_b{b, "b"};
  std::thread thread_a([&] { run(build_a); });
  std::thread thread_b([&] { run(build_b); });
  // Not a timing assertion: a guard so that a lock that no longer holds fails instead of hanging.
  bool a_waited = build_a.waiting.WaitForNotificationWithTimeout(absl::Minutes(10));
  bool b_waited = build_b.waiting.WaitForNotificationWithTimeout(absl::Minutes(10));
  held.reset();
  thread_a.join();
  thread_b.join();
  EXPECT_TRUE(a_waited && b_waited) << "a build took the app's cache while another held it";
  ASSERT_TRUE(build_a.outcome.ok()) << build_a.outcome.status();
  ASSERT_TRUE(build_b.outcome.ok()) << build_b.outcome.status();
  auto app_layer = [](const worker::BuildOutcome& outcome) {
    for (const worker::BuiltLayer& layer : outcome.layers) {
      if (layer.role == buildpacks::LayerRole::kApp) return layer.record.blob.digest.ToString();
    }
    return std::string();
  };
  EXPECT_NE(app_layer(*build_a.outcome), "");
  EXPECT_NE(app_layer(*build_a.outcome), app_layer(*build_b.outcome));
  for (const Build* build : {&build_a, &build_b}) {
    EXPECT_THAT(build->log,
                ::testing::Contains(absl::StrCat("waiting for another build of ", registry(),
                                                 "/go-hello to finish with its cache")));
  }

  // Each image holds its own binary: a lone CLI build of each source gives the same app layer.
  store->reset();
  CommandResult alone;
  json only_b = BuildJson(b, registry() + "/go-hello:b-alone", tmp_.Join("cache-b"), &alone);
  ASSERT_EQ(alone.exit_code, 0) << alone.err;
  EXPECT_EQ(AppLayerDigest(only_b), app_layer(*build_b.outcome));
  json only_a = BuildJson(a, registry() + "/go-hello:a-alone", tmp_.Join("cache-a"), &alone);
  ASSERT_EQ(alone.exit_code, 0) << alone.err;
  EXPECT_EQ(AppLayerDigest(only_a), app_layer(*build_a.outcome));
}

}  // namespace
}  // namespace tempa::testing
