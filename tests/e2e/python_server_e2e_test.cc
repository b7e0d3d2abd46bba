// `tempa build` on Python apps whose requirements lack a production server, through the real
// binary, with their dependencies and the supplied servers from a PEP 503 index on loopback
// (Debian 12's packages repackaged as wheels): a Django project with whitenoise gets gunicorn and
// its static files collected at build time, a FastAPI app with static/ and templates/ gets
// uvicorn, and each image, run under runc with only PORT set, answers its page and a static file.
// Then the caching contract of the new layers: an unchanged rebuild reuses every layer without
// running pip or collectstatic, a code-only change reuses the server layer.
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

namespace fs = std::filesystem;
using nlohmann::json;

class PythonServerE2eTest : public TempaE2eTest {
 protected:
  static void SetUpTestSuite() {
    std::vector<std::string> specs = DjangoSpecs();
    for (const std::vector<std::string>& more : {FastApiSpecs(), SuppliedServerSpecs()}) {
      specs.insert(specs.end(), more.begin(), more.end());
    }
    auto index =
        DebianWheelIndex::Start(std::string(TEMPA_BINARY_DIR) + "/tests/e2e/python-wheels", specs);
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

  // Copies tests/e2e/apps/NAME (an app written for these tests) to a fresh directory.
  std::string CopyApp(const std::string& name) {
    std::string dest = tmp_.Join(name);
    fs::copy(fs::path(TEMPA_SOURCE_DIR) / "tests/e2e/apps" / name, dest,
             fs::copy_options::recursive);
    return dest;
  }

  json Build(const std::string& dir, const std::string& image, const std::string& cache,
             CommandResult* result) {
    auto started = std::chrono::steady_clock::now();
    *result = Tempa({"build", dir, "--image", image, "--cache-dir", cache, "--json", "--build-env",
                     "PIP_INDEX_URL=" + index_->url()});
    last_seconds_ =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    EXPECT_EQ(result->exit_code, 0) << result->err;
    json parsed = json::parse(LastLine(result->out), nullptr, false);
    EXPECT_FALSE(parsed.is_discarded()) << "stdout is not JSON: " << result->out << result->err;
    return parsed;
  }

  static std::vector<std::string> Roles(const json& build) {
    std::vector<std::string> roles;
    for (const json& layer : build["layers"]) roles.push_back(layer["role"]);
    return roles;
  }

  static std::string* setup_error_;
  static DebianWheelIndex* index_;
  double last_seconds_ = 0;
};

std::string* PythonServerE2eTest::setup_error_ = nullptr;
DebianWheelIndex* PythonServerE2eTest::index_ = nullptr;

TEST_F(PythonServerE2eTest, DjangoWithoutGunicornGetsItCollectsStaticAndServesBoth) {
  std::string src = CopyApp("django-whitenoise");
  std::string image = registry() + "/django-site:v1";
  std::string cache = tmp_.Join("cache");
  CommandResult cold_run;
  json cold = Build(src, image, cache, &cold_run);
  ASSERT_EQ(cold_run.exit_code, 0);
  double cold_seconds = last_seconds_;
  ASSERT_EQ(Roles(cold), (std::vector<std::string>{"base", "deps", "server", "app", "static"}))
      << cold.dump();
  EXPECT_EQ(cold["supplied"], json::array({"gunicorn==20.1.0"}));
  EXPECT_EQ(cold["layers"][2]["report"]["supplied"], "gunicorn==20.1.0");
  EXPECT_EQ(cold["layers"][4]["report"]["static_root"], "/app/staticfiles");
  EXPECT_TRUE(absl::StrContains(cold_run.err, "gunicorn 20.1.0 supplied by Tempa")) << cold_run.err;
  EXPECT_TRUE(absl::StrContains(cold_run.err, "$ python manage.py collectstatic --noinput"))
      << cold_run.err;
  EXPECT_TRUE(absl::StrContains(cold_run.err, "static file")) << cold_run.err;

  CommandResult inspect =
      RunCommand({"skopeo", "inspect", "--config", "--tls-verify=false", "docker://" + image});
  ASSERT_EQ(inspect.exit_code, 0) << inspect.err;
  EXPECT_EQ(json::parse(inspect.out)["config"]["Entrypoint"][2],
            "exec python -m gunicorn mysite.wsgi --bind 0.0.0.0:$PORT");

  if (geteuid() == 0) {
    int port = PickFreePort();
    std::string id = RunImageWithRunc(cold["image"], tmp_.Join("run"), port);
    ASSERT_FALSE(id.empty());
    absl::Cleanup stop = [&] { RunCommand({"runc", "delete", "-f", id}); };
    std::string page = HttpGetRetrying(port, "/", 200);
    EXPECT_TRUE(absl::StrContains(page, "<h1>hello from django</h1>"))
        << page << std::ifstream(tmp_.Join("run/runc.log")).rdbuf();
    EXPECT_TRUE(absl::StrContains(page, "/static/css/site.css")) << page;
    // Served by whitenoise from STATIC_ROOT, which only collectstatic filled.
    EXPECT_EQ(HttpGetRetrying(port, "/static/css/site.css"),
              "body { font-family: sans-serif; color: #123456; }\n");
  }

  // The same commit again: every layer reused, neither pip nor collectstatic runs.
  CommandResult same_run;
  json same = Build(src, image, cache, &same_run);
  double same_seconds = last_seconds_;
  ASSERT_EQ(same["layers"].size(), 5u) << same.dump();
  for (size_t i = 0; i < 5; ++i) {
    EXPECT_TRUE(same["layers"][i]["reused"].get<bool>()) << i;
    EXPECT_EQ(same["layers"][i]["digest"], cold["layers"][i]["digest"]) << i;
  }
  EXPECT_EQ(same["digest"], cold["digest"]);
  EXPECT_FALSE(absl::StrContains(same_run.err, "pip install")) << same_run.err;
  EXPECT_FALSE(absl::StrContains(same_run.err, "$ python manage.py collectstatic")) << same_run.err;
  EXPECT_EQ(same["supplied"], json::array({"gunicorn==20.1.0"}));

  // A code-only change: deps and server reused; collectstatic runs again on the new code, with
  // the venv unpacked from the reused deps layer, and collects the same files.
  std::ofstream(src + "/pages/views.py", std::ios::app) << "\n# a comment is a code change\n";
  CommandResult code_run;
  json code = Build(src, image, cache, &code_run);
  double code_seconds = last_seconds_;
  ASSERT_EQ(code["layers"].size(), 5u) << code.dump();
  for (int i : {0, 1, 2}) {
    EXPECT_TRUE(code["layers"][i]["reused"].get<bool>()) << i;
    EXPECT_EQ(code["layers"][i]["digest"], cold["layers"][i]["digest"]) << i;
  }
  EXPECT_NE(code["layers"][3]["digest"], cold["layers"][3]["digest"]);
  EXPECT_EQ(code["layers"][4]["digest"], cold["layers"][4]["digest"]);
  EXPECT_FALSE(absl::StrContains(code_run.err, "pip install")) << code_run.err;
  EXPECT_TRUE(absl::StrContains(code_run.err, "$ python manage.py collectstatic")) << code_run.err;
  EXPECT_FALSE(absl::StrContains(code_run.err, "unpacking the deps layer")) << code_run.err;

  // Without the venv kept from the last run, collectstatic runs against the deps layer unpacked
  // from the worker's blob store.
  for (const fs::directory_entry& app : fs::directory_iterator(cache + "/apps")) {
    fs::remove_all(app.path() / "python-venv");
  }
  std::ofstream(src + "/pages/views.py", std::ios::app) << "\n# another code change\n";
  CommandResult unpacked_run;
  json unpacked = Build(src, image, cache, &unpacked_run);
  ASSERT_EQ(unpacked["layers"].size(), 5u) << unpacked.dump();
  EXPECT_TRUE(unpacked["layers"][1]["reused"].get<bool>());
  EXPECT_EQ(unpacked["layers"][4]["digest"], cold["layers"][4]["digest"]);
  EXPECT_TRUE(absl::StrContains(unpacked_run.err, "unpacking the deps layer")) << unpacked_run.err;
  EXPECT_TRUE(absl::StrContains(unpacked_run.err, "static file")) << unpacked_run.err;
  std::printf(
      "django e2e timings: cold build %.1fs, unchanged rebuild %.1fs, code-only rebuild %.1fs\n",
      cold_seconds, same_seconds, code_seconds);
}

TEST_F(PythonServerE2eTest, FastApiWithoutUvicornGetsItAndServesItsTemplatesAndStatic) {
  std::string src = CopyApp("fastapi-static");
  std::string image = registry() + "/fastapi-site:v1";
  std::string cache = tmp_.Join("cache");
  CommandResult run;
  json built = Build(src, image, cache, &run);
  ASSERT_EQ(run.exit_code, 0);
  ASSERT_EQ(Roles(built), (std::vector<std::string>{"base", "deps", "server", "app"}))
      << built.dump();
  EXPECT_EQ(built["supplied"], json::array({"uvicorn==0.17.6"}));
  EXPECT_TRUE(absl::StrContains(run.err, "uvicorn 0.17.6 supplied by Tempa")) << run.err;

  if (geteuid() == 0) {
    int port = PickFreePort();
    std::string id = RunImageWithRunc(built["image"], tmp_.Join("run"), port);
    ASSERT_FALSE(id.empty());
    absl::Cleanup stop = [&] { RunCommand({"runc", "delete", "-f", id}); };
    std::string page = HttpGetRetrying(port, "/", 200);
    EXPECT_TRUE(absl::StrContains(page, "<h1>hello from fastapi</h1>"))
        << page << std::ifstream(tmp_.Join("run/runc.log")).rdbuf();
    EXPECT_EQ(HttpGetRetrying(port, "/static/css/app.css"), "h1 { color: #654321; }\n");
  }

  // The server layer is keyed by its inputs: another commit of the app reuses it.
  std::ofstream(src + "/main.py", std::ios::app) << "\n# a comment is a code change\n";
  CommandResult code_run;
  json code = Build(src, image, cache, &code_run);
  ASSERT_EQ(code["layers"].size(), 4u) << code.dump();
  EXPECT_TRUE(code["layers"][2]["reused"].get<bool>());
  EXPECT_EQ(code["layers"][2]["digest"], built["layers"][2]["digest"]);
  EXPECT_FALSE(absl::StrContains(code_run.err, "pip install")) << code_run.err;
}

// The app's own start command names the server its requirements lack: it is supplied too, and
// the command finds it on PATH (/opt/venv/bin/uvicorn, run by the venv's python).
TEST_F(PythonServerE2eTest, AProcfileThatRunsUvicornFindsTheSuppliedOne) {
  std::string src = CopyApp("fastapi-static");
  std::ofstream(src + "/Procfile") << "web: uvicorn main:app --host 0.0.0.0 --port $PORT\n";
  CommandResult run;
  json built = Build(src, registry() + "/fastapi-procfile:v1", tmp_.Join("cache"), &run);
  ASSERT_EQ(run.exit_code, 0);
  EXPECT_EQ(built["supplied"], json::array({"uvicorn==0.17.6"}));
  if (geteuid() != 0) return;
  int port = PickFreePort();
  std::string id = RunImageWithRunc(built["image"], tmp_.Join("run"), port);
  ASSERT_FALSE(id.empty());
  absl::Cleanup stop = [&] { RunCommand({"runc", "delete", "-f", id}); };
  std::string page = HttpGetRetrying(port, "/", 200);
  EXPECT_TRUE(absl::StrContains(page, "<h1>hello from fastapi</h1>"))
      << page << std::ifstream(tmp_.Join("run/runc.log")).rdbuf();
}

TEST_F(PythonServerE2eTest, WithoutAnIndexAMissingServerIsRefusedWithItsFix) {
  std::string src = CopyApp("django-whitenoise");
  CommandResult refused = Tempa({"build", src, "--image", registry() + "/offline", "--cache-dir",
                                 tmp_.Join("cache"), "--json"});
  EXPECT_NE(refused.exit_code, 0);
  json error = ErrorOf(refused);
  ASSERT_FALSE(error.is_null()) << refused.out << refused.err;
  EXPECT_EQ(error["kind"], "bad_input");
  EXPECT_TRUE(absl::StrContains(
      error["message"].get<std::string>(),
      "gunicorn is not in requirements.txt and this build has no package index to fetch it from: "
      "add gunicorn, or pass --build-env PIP_INDEX_URL=..., or set a start command"))
      << refused.out;
}

}  // namespace
}  // namespace tempa::testing
