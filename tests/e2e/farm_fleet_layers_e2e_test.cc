// The fleet-wide layer cache with real processes: two workers with separate work dirs (and so
// separate CASes) and two apps from different repositories with the same requirements.txt,
// installed from a loopback PEP 503 index. The first app's build on worker A records its deps
// layer with the coordinator; the second app's build on worker B finds it there, mounts it from
// the first app's repository and never runs pip.
#include <unistd.h>

#include <fstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/e2e/farm_fixture.h"
#include "tests/support/git_repo_builder.h"
#include "tests/support/pypi_index.h"

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

// HTTP status of GET (or HEAD) `url`.
std::string HttpStatus(const std::string& url, bool head = false) {
  std::vector<std::string> argv = {"curl", "-s", "-o", "/dev/null", "-w", "%{http_code}"};
  if (head) argv.push_back("-I");
  argv.insert(argv.end(), {"-H", "Accept: application/vnd.oci.image.manifest.v1+json", url});
  return RunCommand(argv).out;
}

TEST(FarmFleetLayersE2eTest, ASecondAppWithTheSameLockfileOnAnotherWorkerReusesTheDepsLayer) {
  std::string why;
  if (!FarmFixture::Available(&why)) GTEST_SKIP() << why;
  if (::access("/usr/bin/python3.11", X_OK) != 0) GTEST_SKIP() << "python3.11 not installed";
  FarmFixture farm;
  ASSERT_TRUE(farm.StartRegistry().ok());
  ASSERT_TRUE(farm.StartCoordinator().ok()) << farm.coordinator()->log();
  TempDir work("tempa-fleet-layers-");
  absl::StatusOr<std::string> wheel = MakePureWheel(work.Join("wheels"), "greeting", "1.0");
  ASSERT_TRUE(wheel.ok()) << wheel.status();
  absl::StatusOr<std::unique_ptr<PypiIndex>> index = PypiIndex::Start(work.Join("index"), {*wheel});
  ASSERT_TRUE(index.ok()) << index.status();

  // Two repositories, two apps, one lockfile; the code differs.
  std::map<std::string, std::string> shas;
  for (std::string name : {"team-a-api", "team-b-api"}) {
    GitRepoBuilder repo(work.Join(name));
    repo.WriteFile("requirements.txt", "greeting==1.0\n");
    repo.WriteFile("main.py", absl::StrCat("# ", name, "\n", kApp));
    shas[name] = repo.Commit("first");
    CommandResult created = farm.Cli({"apps", "create", name, "--repo", repo.url(), "--env",
                                      "PIP_INDEX_URL=" + (*index)->url()});
    ASSERT_EQ(created.exit_code, 0) << created.err;
  }

  // The first app on worker A alone: pip runs, the layer is built and recorded.
  ASSERT_TRUE(farm.StartWorker("a").ok()) << farm.worker("a")->log();
  CommandResult first =
      farm.Cli({"trigger", "team-a-api", "--commit", shas["team-a-api"], "--json"});
  ASSERT_EQ(first.exit_code, 0) << first.err;
  std::string first_id = json::parse(first.out).value("id", "");
  absl::StatusOr<json> built_a = farm.WaitForBuild(first_id, {"SUCCEEDED", "FAILED"});
  ASSERT_TRUE(built_a.ok()) << built_a.status() << farm.worker("a")->log();
  ASSERT_EQ((*built_a)["status"], "SUCCEEDED") << built_a->dump(2);
  json deps_a = LayerOf(*built_a, "LAYER_ROLE_DEPS");
  ASSERT_TRUE(deps_a.is_object()) << built_a->dump(2);
  EXPECT_FALSE(deps_a.value("reused", true));
  CommandResult logs_a = farm.Cli({"builds", "logs", first_id});
  EXPECT_THAT(logs_a.out, HasSubstr("$ pip install")) << logs_a.out;

  // Worker A goes away; the second app can only land on worker B, whose CAS is empty.
  farm.KillWorker("a");
  ASSERT_TRUE(farm.StartWorker("b").ok()) << farm.worker("b")->log();
  CommandResult second =
      farm.Cli({"trigger", "team-b-api", "--commit", shas["team-b-api"], "--json"});
  ASSERT_EQ(second.exit_code, 0) << second.err;
  std::string second_id = json::parse(second.out).value("id", "");
  absl::StatusOr<json> built_b =
      farm.WaitForBuild(second_id, {"SUCCEEDED", "FAILED"}, absl::Minutes(4));
  ASSERT_TRUE(built_b.ok()) << built_b.status() << farm.worker("b")->log();
  ASSERT_EQ((*built_b)["status"], "SUCCEEDED") << built_b->dump(2);
  EXPECT_EQ((*built_b)["worker_id"], "b");
  json deps_b = LayerOf(*built_b, "LAYER_ROLE_DEPS");
  ASSERT_TRUE(deps_b.is_object()) << built_b->dump(2);
  EXPECT_TRUE(deps_b.value("reused", false)) << built_b->dump(2);
  EXPECT_EQ(deps_b["digest"], deps_a["digest"]);
  CommandResult logs_b = farm.Cli({"builds", "logs", second_id});
  ASSERT_EQ(logs_b.exit_code, 0) << logs_b.err;
  EXPECT_THAT(logs_b.out, Not(HasSubstr("pip install"))) << logs_b.out;
  EXPECT_THAT(logs_b.out, Not(HasSubstr("Successfully installed"))) << logs_b.out;

  // The image is whole in the second app's repository: its manifest and every blob it names,
  // the mounted deps layer included.
  std::string image = (*built_b)["image"];
  std::string repo_url = absl::StrCat("http://", farm.registry(), "/v2/team-b-api");
  std::string digest = image.substr(image.find('@') + 1);
  CommandResult manifest =
      RunCommand({"curl", "-sf", "-H", "Accept: application/vnd.oci.image.manifest.v1+json",
                  absl::StrCat(repo_url, "/manifests/", digest)});
  ASSERT_EQ(manifest.exit_code, 0) << image;
  json parsed = json::parse(manifest.out);
  std::vector<std::string> blobs = {parsed["config"]["digest"]};
  for (const json& layer : parsed["layers"]) blobs.push_back(layer["digest"]);
  EXPECT_THAT(blobs, ::testing::Contains(deps_b["digest"].get<std::string>()));
  for (const std::string& blob : blobs) {
    EXPECT_EQ(HttpStatus(absl::StrCat(repo_url, "/blobs/", blob), /*head=*/true), "200") << blob;
  }
}

}  // namespace
}  // namespace tempa::testing
