// `tempa build` on the Go example, driven through the real binary as a user would: real
// registry, real sandboxed go build, image pulled back with skopeo, unpacked with umoci, run
// with runc.
#include <sys/stat.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <regex>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/temp_dir.h"

namespace tempa::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

TEST_F(TempaE2eTest, GoAppWithVendoredDependencyRunsFromTheRegistryAndAnswersHttp) {
  if (geteuid() != 0) GTEST_SKIP() << "running images with runc needs root";
  std::string src = CopyExample("go-hello", "app");
  std::string image = registry() + "/go-hello:v1";
  CommandResult result;
  json out = BuildJson(src, image, tmp_.Join("cache"), &result);
  ASSERT_EQ(result.exit_code, 0);

  EXPECT_EQ(out["language"], "go");
  EXPECT_TRUE(absl::StartsWith(out["image"].get<std::string>(), registry() + "/go-hello@sha256:"))
      << out.dump();
  EXPECT_EQ(out["image"].get<std::string>(),
            registry() + "/go-hello@" + out["digest"].get<std::string>());
  // The run base, the repository's runtime files (its README.md), the binary.
  ASSERT_EQ(out["layers"].size(), 3u);
  EXPECT_EQ(out["layers"][0]["role"], "base");
  EXPECT_EQ(out["layers"][1]["role"], "files");
  EXPECT_EQ(out["layers"][2]["role"], "app");
  for (const json& layer : out["layers"]) EXPECT_FALSE(layer["reused"].get<bool>());
  // One progress line per step, with its duration, on stderr.
  EXPECT_TRUE(absl::StrContains(result.err, "tempa: detect")) << result.err;
  EXPECT_TRUE(absl::StrContains(result.err, "tempa: push")) << result.err;

  // The config says how the image runs: non-root, PORT, the exposed port.
  CommandResult inspect =
      RunCommand({"skopeo", "inspect", "--config", "--tls-verify=false", "docker://" + image});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  json config = json::parse(inspect.out);
  EXPECT_EQ(config["config"]["User"], "65532:65532");
  EXPECT_TRUE(config["config"]["ExposedPorts"].contains("8080/tcp")) << inspect.out;
  EXPECT_EQ(config["created"], "2023-11-14T22:13:20Z");  // SOURCE_DATE_EPOCH=1700000000

  int port = PickFreePort();
  std::string id = RunImageWithRunc(out["image"], tmp_.Join("run"), port);
  ASSERT_FALSE(id.empty());
  absl::Cleanup stop = [&] { RunCommand({"runc", "delete", "-f", id}); };
  std::string body = HttpGetRetrying(port, "/");
  std::string health = HttpGetRetrying(port, "/healthz");
  EXPECT_EQ(body, "hello from tempa (go)\n");
  EXPECT_EQ(health, "ok\n");
}

TEST_F(TempaE2eTest, SameSourceGivesTheSameDigestFromOtherDirsMtimesAndCaches) {
  std::string a = CopyExample("go-hello", "a");
  std::string b = CopyExample("go-hello", "b");
  // Different mtimes and modes-irrelevant metadata in the second copy.
  for (const std::string& f : ListFiles(b)) {
    fs::last_write_time(fs::path(b) / f, fs::file_time_type::clock::now() - std::chrono::hours(48));
  }
  std::string image = registry() + "/repro:v1";
  json cold = BuildJson(a, image, tmp_.Join("cache1"));
  json warm = BuildJson(b, image, tmp_.Join("cache1"));
  json other_cold = BuildJson(b, image, tmp_.Join("cache2"));
  ASSERT_TRUE(cold.contains("digest"));
  EXPECT_EQ(cold["digest"], warm["digest"]);
  EXPECT_EQ(cold["digest"], other_cold["digest"]);
  EXPECT_TRUE(warm["layers"][0]["reused"].get<bool>());
  EXPECT_FALSE(other_cold["layers"][0]["reused"].get<bool>());
}

// The first Go build on a machine compiles the standard library once, into the root-owned seed
// (/var/cache/tempa/seeds, shared by every cache directory); a new app after it compiles none of
// it: its GOCACHE gets the seed's read-only links and only the entries of its own packages. The
// image does not depend on the seed.
TEST_F(TempaE2eTest, ANewAppsFirstBuildLinksTheStandardLibraryInsteadOfCompilingIt) {
  if (geteuid() != 0) GTEST_SKIP() << "the seed is shared read-only with another build user";
  std::string src = CopyExample("go-hello", "app");
  std::string cache = tmp_.Join("cache");
  CommandResult first, second;
  json a = BuildJson(src, registry() + "/first:v1", cache, &first);
  ASSERT_EQ(first.exit_code, 0) << first.err;
  json b = BuildJson(src, registry() + "/second:v1", cache, &second);
  ASSERT_EQ(second.exit_code, 0) << second.err;
  EXPECT_FALSE(absl::StrContains(second.err, "compiling the standard library")) << second.err;
  std::smatch linked;
  ASSERT_TRUE(
      std::regex_search(second.err, linked, std::regex(R"(seed \((\d+) cache entries linked)")))
      << second.err;
  EXPECT_GE(std::stoi(linked[1]), 1000);
  EXPECT_EQ(a["digest"], b["digest"]);

  std::string gocache;
  for (const auto& e : fs::directory_iterator(cache + "/apps")) {
    if (absl::StrContains(e.path().filename().string(), "_second-")) {
      gocache = e.path().string() + "/go/go-build";
    }
  }
  ASSERT_FALSE(gocache.empty());
  int own = 0, seed_links = 0;
  for (const auto& e : fs::recursive_directory_iterator(gocache)) {
    struct stat st;
    if (lstat(e.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (e.path().filename().string().size() != 66) continue;  // README, trim.txt
    if (st.st_uid == 0 && (st.st_mode & 0222) == 0 && st.st_nlink >= 2) {
      ++seed_links;
    } else {
      ++own;
    }
  }
  EXPECT_GE(seed_links, 1000);
  // go-hello's main package, its vendored module and the link: a few dozen entries, where a
  // build that missed the seed writes hundreds (net/http and everything below it).
  EXPECT_LE(own, 60);
}

TEST_F(TempaE2eTest, RepushOfAnUnchangedImageUploadsNoBlob) {
  std::string src = CopyExample("go-hello", "app");
  std::string image = registry() + "/repush:v1";
  json first = BuildJson(src, image, tmp_.Join("cache"));
  json second = BuildJson(src, image, tmp_.Join("cache"));
  EXPECT_EQ(first["digest"], second["digest"]);
  EXPECT_EQ(first["blobs_uploaded"], 4);  // base, files, app, config
  EXPECT_EQ(second["blobs_uploaded"], 0);
  for (const json& layer : second["layers"]) EXPECT_TRUE(layer["reused"].get<bool>());
  const json& requests = second["registry_requests"];
  EXPECT_EQ(requests["POST"], 0) << requests.dump();
  EXPECT_EQ(requests["PATCH"], 0) << requests.dump();
  EXPECT_EQ(requests["PUT"], 1) << requests.dump();  // the manifest, last
}

TEST_F(TempaE2eTest, RunImageFromTheRegistryReplacesTheBuiltInBase) {
  std::string src = CopyExample("go-hello", "app");
  json base = BuildJson(src, registry() + "/base:v1", tmp_.Join("cache"));
  ASSERT_TRUE(base.contains("layers")) << base.dump();

  CommandResult r = Tempa({"build", src, "--image", registry() + "/onbase:v1", "--cache-dir",
                           tmp_.Join("cache"), "--json", "--run-image", registry() + "/base:v1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  json out = json::parse(LastLine(r.out));
  // Pinned by digest, whatever tag was asked for.
  EXPECT_EQ(out["run_image"], base["image"]);
  // The run image's three layers, then our files and app layers.
  ASSERT_EQ(out["layers"].size(), 5u) << out.dump();
  for (int i = 0; i < 3; ++i) {
    EXPECT_EQ(out["layers"][i]["digest"], base["layers"][i]["digest"]);
    EXPECT_EQ(out["layers"][i]["role"], "base");
  }
  EXPECT_EQ(out["layers"][3]["role"], "files");
  EXPECT_EQ(out["layers"][4]["role"], "app");
  // Same registry: the base's blobs are mounted or already there, never uploaded again.
  EXPECT_LE(out["blobs_uploaded"].get<int>(), 1) << out.dump();  // the new config at most

  CommandResult missing = Tempa({"build", src, "--image", registry() + "/x:v1", "--cache-dir",
                                 tmp_.Join("cache"), "--run-image", registry() + "/nope:v1"});
  EXPECT_EQ(missing.exit_code, 1);
  EXPECT_TRUE(absl::StrContains(missing.err, "nope")) << missing.err;
}

}  // namespace
}  // namespace tempa::testing
