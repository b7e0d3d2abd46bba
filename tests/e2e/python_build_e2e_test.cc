// `tempa build` on the Flask example through the real binary: dependencies from a PEP 503 index
// on loopback (Flask + gunicorn repackaged from Debian), pushed to a real registry, pulled back
// and run with runc. Then the caching contract: a code-only change reuses the base and deps
// layers without running pip, a requirements change rebuilds deps, and two clean checkouts give
// the same image digest.
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/pypi_index.h"
#include "tests/support/temp_dir.h"

namespace tempa::testing {
namespace {

using nlohmann::json;

class PythonE2eTest : public TempaE2eTest {
 protected:
  static void SetUpTestSuite() {
    auto index = DebianWheelIndex::Start(std::string(TEMPA_BINARY_DIR) + "/tests/e2e/python-wheels",
                                         FlaskAndGunicornSpecs());
    if (!index.ok()) {
      setup_error_ = new std::string(index.status().ToString());
      return;
    }
    index_ = index->release();
  }
  static void TearDownTestSuite() {
    delete index_;
    delete setup_error_;
  }

  void SetUp() override {
    TempaE2eTest::SetUp();
    if (IsSkipped()) return;
    if (access("/usr/bin/python3.11", X_OK) != 0) GTEST_SKIP() << "python3.11 not installed";
    ASSERT_EQ(setup_error_, nullptr) << *setup_error_;
  }

  // `tempa build DIR --image IMAGE --cache-dir CACHE --json --build-env PIP_INDEX_URL=...`.
  json Build(const std::string& dir, const std::string& image, const std::string& cache,
             CommandResult* result = nullptr) {
    auto started = std::chrono::steady_clock::now();
    CommandResult r = Tempa({"build", dir, "--image", image, "--cache-dir", cache, "--json",
                             "--build-env", "PIP_INDEX_URL=" + index_->url()});
    last_seconds_ =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (result != nullptr) *result = r;
    EXPECT_EQ(r.exit_code, 0) << r.err;
    json parsed = json::parse(LastLine(r.out), nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << "stdout is not JSON: " << r.out << r.err;
    return parsed;
  }

  static std::string* setup_error_;
  static DebianWheelIndex* index_;
  double last_seconds_ = 0;
};

std::string* PythonE2eTest::setup_error_ = nullptr;
DebianWheelIndex* PythonE2eTest::index_ = nullptr;

TEST_F(PythonE2eTest, FlaskAppBuildsRunsUnderGunicornAndRebuildsOnlyWhatChanged) {
  std::string src = CopyExample("python-flask", "app");
  std::string image = registry() + "/python-flask:v1";
  std::string cache = tmp_.Join("cache");
  CommandResult cold_run;
  json cold = Build(src, image, cache, &cold_run);
  double cold_seconds = last_seconds_;
  ASSERT_EQ(cold_run.exit_code, 0);
  EXPECT_EQ(cold["language"], "python");
  ASSERT_EQ(cold["layers"].size(), 3u) << cold.dump();
  EXPECT_EQ(cold["layers"][0]["role"], "base");
  EXPECT_EQ(cold["layers"][1]["role"], "deps");
  EXPECT_EQ(cold["layers"][2]["role"], "app");
  EXPECT_TRUE(absl::StrContains(cold_run.err, "$ pip install")) << cold_run.err;
  EXPECT_TRUE(absl::StrContains(cold_run.err, "Successfully installed")) << cold_run.err;

  CommandResult inspect =
      RunCommand({"skopeo", "inspect", "--config", "--tls-verify=false", "docker://" + image});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  json config = json::parse(inspect.out)["config"];
  EXPECT_EQ(config["User"], "65532:65532");
  EXPECT_EQ(config["WorkingDir"], "/app");
  EXPECT_EQ(config["Entrypoint"][2], "exec gunicorn 'app:app' --bind 0.0.0.0:$PORT");

  if (geteuid() == 0) {
    int port = PickFreePort();
    std::string id = RunImageWithRunc(cold["image"], tmp_.Join("run"), port);
    ASSERT_FALSE(id.empty());
    absl::Cleanup stop = [&] { RunCommand({"runc", "delete", "-f", id}); };
    EXPECT_EQ(HttpGetRetrying(port, "/", 150), "hello from tempa (python)\n")
        << std::ifstream(tmp_.Join("run/runc.log")).rdbuf();
    EXPECT_EQ(HttpGetRetrying(port, "/healthz"), "ok\n");
  }

  // A code-only change: base and deps come from the cache, pip does not run.
  std::ofstream(src + "/app.py", std::ios::app) << "\n# a comment is a code change\n";
  CommandResult warm_run;
  json warm = Build(src, image, cache, &warm_run);
  double warm_seconds = last_seconds_;
  for (int i : {0, 1}) {
    EXPECT_EQ(warm["layers"][i]["digest"], cold["layers"][i]["digest"]) << i;
    EXPECT_TRUE(warm["layers"][i]["reused"].get<bool>()) << i;
  }
  EXPECT_NE(warm["layers"][2]["digest"], cold["layers"][2]["digest"]);
  EXPECT_FALSE(absl::StrContains(warm_run.err, "pip install")) << warm_run.err;

  // A requirements change: a new deps layer.
  std::ofstream(src + "/requirements.txt", std::ios::app) << "blinker==1.5\n";
  CommandResult deps_run;
  json deps = Build(src, image, cache, &deps_run);
  EXPECT_TRUE(deps["layers"][0]["reused"].get<bool>());
  EXPECT_FALSE(deps["layers"][1]["reused"].get<bool>());
  EXPECT_NE(deps["layers"][1]["digest"], cold["layers"][1]["digest"]);
  EXPECT_TRUE(absl::StrContains(deps_run.err, "$ pip install")) << deps_run.err;
  std::printf("python e2e timings: cold build %.1fs, code-only rebuild %.1fs\n", cold_seconds,
              warm_seconds);
}

// A deps layer is what the app's own build code made (setup.py, build backends), so it is
// reused by the same app only: another app with an identical requirements file on the same
// worker runs pip itself rather than pick up a layer the first one could have planted.
TEST_F(PythonE2eTest, ADepsLayerIsNeverReusedByAnotherApp) {
  std::string src = CopyExample("python-flask", "app");
  std::string cache = tmp_.Join("cache");
  json first = Build(src, registry() + "/team-a/api", cache);
  ASSERT_EQ(first["layers"].size(), 3u) << first.dump();
  CommandResult other_run;
  json other = Build(src, registry() + "/team-b/api", cache, &other_run);
  ASSERT_EQ(other["layers"].size(), 3u) << other.dump();
  EXPECT_TRUE(other["layers"][0]["reused"].get<bool>());   // Tempa's run base: shared
  EXPECT_FALSE(other["layers"][1]["reused"].get<bool>());  // the deps: built again
  EXPECT_TRUE(absl::StrContains(other_run.err, "$ pip install")) << other_run.err;
  json again = Build(src, registry() + "/team-a/api", cache);
  EXPECT_TRUE(again["layers"][1]["reused"].get<bool>());  // the same app: reused
}

TEST_F(PythonE2eTest, TwoCleanCheckoutsGiveTheSameImageDigest) {
  std::string a = CopyExample("python-flask", "a");
  std::string b = CopyExample("python-flask", "b");
  std::filesystem::create_directories(b + "/__pycache__");
  std::ofstream(b + "/__pycache__/app.cpython-311.pyc") << "stale bytecode";
  json first = Build(a, registry() + "/repro-py:v1", tmp_.Join("cache1"));
  json second = Build(b, registry() + "/repro-py:v1", tmp_.Join("cache2"));
  ASSERT_TRUE(first.contains("digest")) << first.dump();
  EXPECT_EQ(first["digest"], second["digest"]);
  EXPECT_FALSE(second["layers"][1]["reused"].get<bool>());  // really built twice
}

// Egress: pip reaches the indexes the build env names and nothing else, even when the
// requirements file itself points at another index.
TEST_F(PythonE2eTest, ARequirementsFileCannotReachAnIndexTheBuildEnvDoesNotName) {
  TempDir other_root("tempa-pypi-other-");
  auto wheel = MakePureWheel(other_root.Join("wheels"), "sneaky", "1.0");
  ASSERT_TRUE(wheel.ok()) << wheel.status();
  auto other = PypiIndex::Start(other_root.Join("index"), {*wheel});
  ASSERT_TRUE(other.ok()) << other.status();

  std::string src = tmp_.Join("app");
  std::filesystem::create_directories(src);
  std::ofstream(src + "/app.py") << "import sneaky\nprint(sneaky.hello())\n";
  std::ofstream(src + "/requirements.txt")
      << "--extra-index-url " << (*other)->url() << "\nsneaky==1.0\n";
  std::vector<std::string> args = {"build",
                                   src,
                                   "--image",
                                   registry() + "/sneaky",
                                   "--cache-dir",
                                   tmp_.Join("cache"),
                                   "--json",
                                   "--build-env",
                                   "PIP_INDEX_URL=" + index_->url()};
  CommandResult refused = Tempa(args);
  EXPECT_EQ(refused.exit_code, 1) << refused.err;
  json error = ErrorOf(refused);
  ASSERT_FALSE(error.is_null()) << refused.out;
  EXPECT_EQ(error["kind"], "dependency_resolution") << refused.out;
  EXPECT_TRUE(absl::StrContains(refused.err, "sneaky")) << refused.err;
  EXPECT_TRUE(absl::StrContains(error["message"].get<std::string>(),
                                "reaches only the indexes its build env names"))
      << refused.out;

  // The same index, named in the build env, is reachable: the refusal above was the sandbox's.
  args.insert(args.end(), {"--build-env", "PIP_EXTRA_INDEX_URL=" + (*other)->url()});
  CommandResult allowed = Tempa(args);
  EXPECT_EQ(allowed.exit_code, 0) << allowed.err;
  EXPECT_TRUE(absl::StrContains(allowed.err, "Successfully installed sneaky-1.0")) << allowed.err;
}

}  // namespace
}  // namespace tempa::testing
