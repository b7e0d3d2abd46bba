// The fleet-wide layer cache with real processes: two workers with separate work dirs (and so
// separate CASes) and two apps from different repositories with the same requirements.txt,
// installed from a loopback PEP 503 index. The first app's build on worker A records its deps
// layer with the coordinator; the second app's build on worker B finds it there, mounts it from
// the first app's repository and never runs pip. What goes to the fleet is installed from the
// lockfile alone: not from the first app's own pip cache, which its earlier builds could have
// planted entries in.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/farm_fixture.h"
#include "tests/support/git_repo_builder.h"
#include "tests/support/pypi_index.h"
#include "worker/build_pipeline_dirs.h"

namespace tempa::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kApp[] = R"(import http.server
import os

import greeting


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        body = (greeting.hello() + "\n").encode()
        self.send_response(200)
        self.end_headers()
        self.wfile.write(body)


http.server.HTTPServer(("", int(os.environ.get("PORT", "8080"))), Handler).serve_forever()
)";

// The layer of `role` ("LAYER_ROLE_DEPS") in a build's JSON; null when there is none.
json LayerOf(const json& build, const std::string& role) {
  for (const json& layer : build.value("layers", json::array())) {
    if (layer.value("role", "") == role) return layer;
  }
  return nullptr;
}

class FarmFleetLayersE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!FarmFixture::Available(&why)) GTEST_SKIP() << why;
    if (::access("/usr/bin/python3.11", X_OK) != 0) GTEST_SKIP() << "python3.11 not installed";
    ASSERT_TRUE(farm_.StartRegistry().ok());
    ASSERT_TRUE(farm_.StartCoordinator().ok()) << farm_.coordinator()->log();
    std::vector<std::string> wheels;
    for (const char* name : {"greeting", "filler"}) {
      absl::StatusOr<std::string> wheel = MakePureWheel(work_.Join("wheels"), name, "1.0");
      ASSERT_TRUE(wheel.ok()) << wheel.status();
      wheels.push_back(*wheel);
    }
    absl::StatusOr<std::unique_ptr<PypiIndex>> index =
        PypiIndex::Start(work_.Join("index"), wheels);
    ASSERT_TRUE(index.ok()) << index.status();
    index_ = *std::move(index);
  }

  // App `name` over a repository of its own; pip's settings name the loopback index.
  void CreateApp(const std::string& name, const std::vector<std::string>& extra_env = {}) {
    std::vector<std::string> args = {"apps",
                                     "create",
                                     name,
                                     "--repo",
                                     "file://" + work_.Join(name),
                                     "--env",
                                     "PIP_INDEX_URL=" + index_->url()};
    for (const std::string& env : extra_env) args.insert(args.end(), {"--env", env});
    GitRepoBuilder repo(work_.Join(name));
    CommandResult created = farm_.Cli(args);
    ASSERT_EQ(created.exit_code, 0) << created.err;
  }

  // Commits the app with `requirements` and builds it to the end; the build's JSON.
  json Build(const std::string& name, const std::string& requirements) {
    GitRepoBuilder repo(work_.Join(name));
    repo.WriteFile("requirements.txt", requirements);
    repo.WriteFile("main.py", absl::StrCat("# ", name, "\n", kApp));
    std::string sha = repo.Commit(requirements);
    CommandResult triggered = farm_.Cli({"trigger", name, "--commit", sha, "--json"});
    EXPECT_EQ(triggered.exit_code, 0) << triggered.err;
    std::string id = json::parse(triggered.out, nullptr, false).value("id", "");
    absl::StatusOr<json> built = farm_.WaitForBuild(id, {"SUCCEEDED", "FAILED"}, absl::Minutes(4));
    EXPECT_TRUE(built.ok()) << built.status();
    if (!built.ok()) return json::object();
    EXPECT_EQ((*built)["status"], "SUCCEEDED") << built->dump(2);
    return *built;
  }

  CommandResult Logs(const json& build) { return farm_.Cli({"builds", "logs", build["id"]}); }

  // The uncompressed tar of `app`'s blob `digest`, from the registry.
  std::string LayerTar(const std::string& app, const std::string& digest) {
    return RunCommand({"sh", "-c",
                       absl::StrCat("curl -sf http://", farm_.registry(), "/v2/", app, "/blobs/",
                                    digest, " | gzip -dc")})
        .out;
  }

  FarmFixture farm_;
  TempDir work_{"tempa-fleet-layers-"};
  std::unique_ptr<PypiIndex> index_;
};

TEST_F(FarmFleetLayersE2eTest, ASecondAppWithTheSameLockfileOnAnotherWorkerReusesTheDepsLayer) {
  CreateApp("team-a-api");
  CreateApp("team-b-api");
  // The first app on worker A alone: pip runs, the layer is built and recorded.
  ASSERT_TRUE(farm_.StartWorker("a").ok()) << farm_.worker("a")->log();
  json built_a = Build("team-a-api", "greeting==1.0\n");
  json deps_a = LayerOf(built_a, "LAYER_ROLE_DEPS");
  ASSERT_TRUE(deps_a.is_object()) << built_a.dump(2);
  EXPECT_FALSE(deps_a.value("reused", true));
  EXPECT_THAT(Logs(built_a).out, HasSubstr("$ pip install"));

  // Worker A goes away; the second app can only land on worker B, whose CAS is empty.
  farm_.KillWorker("a");
  ASSERT_TRUE(farm_.StartWorker("b").ok()) << farm_.worker("b")->log();
  json built_b = Build("team-b-api", "greeting==1.0\n");
  EXPECT_EQ(built_b["worker_id"], "b");
  json deps_b = LayerOf(built_b, "LAYER_ROLE_DEPS");
  ASSERT_TRUE(deps_b.is_object()) << built_b.dump(2);
  EXPECT_TRUE(deps_b.value("reused", false)) << built_b.dump(2);
  EXPECT_EQ(deps_b["digest"], deps_a["digest"]);
  CommandResult logs_b = Logs(built_b);
  ASSERT_EQ(logs_b.exit_code, 0) << logs_b.err;
  EXPECT_THAT(logs_b.out, Not(HasSubstr("pip install"))) << logs_b.out;
  EXPECT_THAT(logs_b.out, Not(HasSubstr("Successfully installed"))) << logs_b.out;

  // The image is whole in the second app's repository: its manifest and every blob it names,
  // the mounted deps layer included.
  std::string image = built_b["image"];
  std::string repo_url = absl::StrCat("http://", farm_.registry(), "/v2/team-b-api");
  CommandResult manifest =
      RunCommand({"curl", "-sf", "-H", "Accept: application/vnd.oci.image.manifest.v1+json",
                  absl::StrCat(repo_url, "/manifests/", image.substr(image.find('@') + 1))});
  ASSERT_EQ(manifest.exit_code, 0) << image;
  json parsed = json::parse(manifest.out);
  std::vector<std::string> blobs = {parsed["config"]["digest"]};
  for (const json& layer : parsed["layers"]) blobs.push_back(layer["digest"]);
  EXPECT_THAT(blobs, ::testing::Contains(deps_b["digest"].get<std::string>()));
  for (const std::string& blob : blobs) {
    CommandResult head = RunCommand({"curl", "-s", "-o", "/dev/null", "-I", "-w", "%{http_code}",
                                     absl::StrCat(repo_url, "/blobs/", blob)});
    EXPECT_EQ(head.out, "200") << blob;
  }
}

// App A's earlier build left its pip cache holding a forged wheel for greeting (as an sdist's
// setup.py from an index A once named could have); A then builds the lockfile B uses. The
// layer the fleet gets, and B mounts, holds the index's greeting, not A's planted one.
TEST_F(FarmFleetLayersE2eTest, AnAppsPlantedPipCacheNeverReachesAnotherApp) {
  // A trusted host: pip caches what it downloads from it, as it does from any https index.
  std::string trusted = absl::StrCat("PIP_TRUSTED_HOST=127.0.0.1:", index_->port());
  CreateApp("team-a-api", {trusted});
  CreateApp("team-b-api", {trusted});
  ASSERT_TRUE(farm_.StartWorker("a").ok()) << farm_.worker("a")->log();
  json earlier = Build("team-a-api", "filler==1.0\n");
  // The app's cache directory on worker A: the one app in the private area of its cache (the
  // build user cannot reach a work dir under a 0700 temp dir), as the pipeline lays it out.
  absl::StatusOr<std::string> area =
      worker::PrivateAreaFor(std::filesystem::canonical(farm_.path("worker-a") + "/cache").string(),
                             worker::kDefaultPrivateRoot);
  ASSERT_TRUE(area.ok()) << area.status();
  CommandResult apps =
      RunCommand({"find", *area + "/apps", "-mindepth", "1", "-maxdepth", "1", "-type", "d"});
  std::string app_cache = std::string(absl::StripTrailingAsciiWhitespace(apps.out));
  ASSERT_FALSE(app_cache.empty() || absl::StrContains(app_cache, "\n")) << apps.out << apps.err;
  std::string pip = app_cache + "/python/pip";
  std::string url = absl::StrCat(index_->url(), "/greeting/greeting-1.0-py3-none-any.whl");
  CommandResult planted = RunCommand(
      {"/usr/bin/python3.11", std::string(TEMPA_SOURCE_DIR) + "/tests/e2e/forge_pip_cache.py",
       pip + "/http", url, "greeting", "1.0"});
  ASSERT_EQ(planted.exit_code, 0) << planted.err;
  ASSERT_EQ(
      RunCommand({"chown", "-R", "--reference=" + app_cache, app_cache + "/python"}).exit_code, 0);
  json built_a = Build("team-a-api", "greeting==1.0\n");
  json deps_a = LayerOf(built_a, "LAYER_ROLE_DEPS");
  ASSERT_TRUE(deps_a.is_object()) << built_a.dump(2);
  EXPECT_THAT(Logs(built_a).out, Not(HasSubstr("Using cached"))) << "pip read A's own cache";
  std::string tar = LayerTar("team-a-api", deps_a["digest"]);
  EXPECT_TRUE(absl::StrContains(tar, "hello from greeting")) << "the index's greeting is missing";
  EXPECT_FALSE(absl::StrContains(tar, "PLANTED")) << "A's planted wheel went to the fleet";

  farm_.KillWorker("a");
  ASSERT_TRUE(farm_.StartWorker("b").ok()) << farm_.worker("b")->log();
  json built_b = Build("team-b-api", "greeting==1.0\n");
  json deps_b = LayerOf(built_b, "LAYER_ROLE_DEPS");
  ASSERT_TRUE(deps_b.is_object()) << built_b.dump(2);
  EXPECT_TRUE(deps_b.value("reused", false));
  EXPECT_FALSE(absl::StrContains(LayerTar("team-b-api", deps_b["digest"]), "PLANTED"))
      << "B mounted A's planted wheel";
}

}  // namespace
}  // namespace tempa::testing
