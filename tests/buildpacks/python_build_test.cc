// The Python buildpack's recipe against a scripted sandbox: what keys the dependency layer (and
// what does not), the pip command line and its network rule, pip failures as structured build
// failures, the app layer's exclusions, and the image config.
#include <filesystem>
#include <map>
#include <set>

#include "buildpacks/python/python_buildpack.h"
#include "buildpacks/python/python_install.h"
#include "common/build_error.h"
#include "fake_sandbox.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "temp_tree.h"

namespace tempa::buildpacks {
namespace {

using test_support::FakeSandbox;
using test_support::TempTree;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

// Answers each Run with the next scripted result and output (the last one repeats).
class ScriptedSandbox : public Sandbox {
 public:
  absl::StatusOr<SandboxResult> Run(const SandboxCommand& command) override {
    size_t i = std::min(commands.size(), results.size() - 1);
    commands.push_back(command);
    for (const std::string& line : outputs[i]) command.on_output(line);
    return results[i];
  }
  std::vector<SandboxResult> results{SandboxResult{}};
  std::vector<std::vector<std::string>> outputs{{}};
  std::vector<SandboxCommand> commands;
};

std::vector<std::string> PathsOf(const oci::LayerSpec& spec) {
  std::vector<std::string> out;
  for (const oci::LayerEntry& e : spec.entries()) out.push_back(e.path);
  return out;
}

class PythonBuildTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_.Write("requirements.txt", "flask==2.2.2\ngunicorn==20.1.0\n");
    src_.Write("app.py", "from flask import Flask\napp = Flask(__name__)\n");
  }

  absl::StatusOr<BuildRecipe> Prepare(std::map<std::string, std::string> env = {}) {
    PythonBuildpackOptions o;
    o.interpreter = std::make_shared<FixedPythonLocator>(PythonInterpreter{
        "/usr/bin/python3.11", "3.11.2", "python3.11", "3.11.2-6+deb12u6", "23.0.1+dfsg-1"});
    o.base_layer = [](const runbase::DebianBaseOptions&) -> absl::StatusOr<PlannedLayer> {
      return PlannedLayer{LayerRole::kBase, "sha256:base", nullptr};
    };
    PythonBuildpack buildpack(o);
    auto plan = buildpack.Detect(src_.path(), {});
    if (!plan.ok()) return plan.status();
    BuildContext context;
    context.source_dir = src_.path();
    context.scratch_dir = scratch_.path();
    context.cache_dir = cache_.path();
    context.build_env = std::move(env);
    context.sandbox = sandbox_;
    context.log = [this](absl::string_view line) { log_ += std::string(line) + "\n"; };
    return buildpack.Prepare(**plan, context);
  }
  std::string DepsKey(std::map<std::string, std::string> env = {}) {
    auto recipe = Prepare(std::move(env));
    EXPECT_TRUE(recipe.ok()) << recipe.status();
    return recipe.ok() ? recipe->layers[1].input_key : "";
  }

  TempTree src_, scratch_, cache_;
  ScriptedSandbox scripted_;
  Sandbox* sandbox_ = &scripted_;
  std::string log_;
};

TEST_F(PythonBuildTest, RecipeIsBaseThenInputKeyedDepsThenApp) {
  auto recipe = Prepare();
  ASSERT_TRUE(recipe.ok()) << recipe.status();
  ASSERT_EQ(recipe->layers.size(), 3u);
  EXPECT_EQ(recipe->layers[0].role, LayerRole::kBase);
  EXPECT_EQ(recipe->layers[1].role, LayerRole::kDeps);
  EXPECT_EQ(recipe->layers[2].role, LayerRole::kApp);
  EXPECT_THAT(recipe->layers[1].input_key, HasSubstr("sha256:"));
  EXPECT_TRUE(recipe->layers[2].input_key.empty());
  const ImageConfigSpec& config = recipe->config;
  EXPECT_EQ(config.env.at("PATH"), "/opt/venv/bin:/usr/bin:/bin");
  EXPECT_EQ(config.env.at("PYTHONUNBUFFERED"), "1");
  EXPECT_EQ(config.env.at("PYTHONDONTWRITEBYTECODE"), "1");
  EXPECT_EQ(config.env.at("PORT"), "8080");
  EXPECT_EQ(config.working_dir, "/app");
  EXPECT_EQ(config.user, "65532:65532");
  EXPECT_EQ(config.entrypoint.front(), "/bin/sh");
}

TEST_F(PythonBuildTest, DepsKeyIgnoresCodeButFollowsManifestsAndIndexSettings) {
  std::string key = DepsKey();
  src_.Write("app.py", "from flask import Flask\napp = Flask('changed')\n");
  src_.Write("templates/index.html", "<p>new</p>");
  EXPECT_EQ(DepsKey(), key);
  EXPECT_EQ(DepsKey({{"GOFLAGS", "-x"}}), key);  // unrelated build env
  EXPECT_NE(DepsKey({{"PIP_INDEX_URL", "http://127.0.0.1:1/simple"}}), key);
  EXPECT_NE(DepsKey({{"PIP_EXTRA_INDEX_URL", "http://mirror/simple"}}), key);
  src_.Write("requirements.txt", "flask==2.2.2\ngunicorn==20.1.0\nblinker\n");
  EXPECT_NE(DepsKey(), key);
}

TEST_F(PythonBuildTest, PipRunsOfflineWithNoIndexUnlessTheBuildEnvNamesOne) {
  auto recipe = Prepare();
  ASSERT_TRUE(recipe.ok()) << recipe.status();
  auto layer = recipe->layers[1].produce();
  ASSERT_TRUE(layer.ok()) << layer.status();
  ASSERT_EQ(scripted_.commands.size(), 2u);  // venv, pip
  const SandboxCommand& venv = scripted_.commands[0];
  EXPECT_THAT(venv.argv, testing::ElementsAre("/usr/bin/python3.11", "-m", "venv", "--without-pip",
                                              "/opt/venv"));
  EXPECT_FALSE(venv.network);
  EXPECT_TRUE(venv.egress.empty());
  const SandboxCommand& pip = scripted_.commands[1];
  EXPECT_THAT(pip.argv, Contains("--no-index"));
  EXPECT_THAT(pip.argv, Contains("--no-compile"));
  EXPECT_FALSE(pip.network);
  EXPECT_TRUE(pip.egress.empty());
  EXPECT_EQ(pip.mounts[0].sandbox_path, "/opt/venv");
  EXPECT_TRUE(pip.mounts[0].writable);
  EXPECT_THAT(log_, HasSubstr("$ pip install"));

  scripted_.commands.clear();
  recipe = Prepare({{"PIP_INDEX_URL", "http://127.0.0.1:9/simple"}});
  ASSERT_TRUE(recipe.ok());
  ASSERT_TRUE(recipe->layers[1].produce().ok());
  const SandboxCommand& online = scripted_.commands[1];
  EXPECT_THAT(online.argv, Not(Contains("--no-index")));
  // Only the named index, never the whole network.
  EXPECT_FALSE(online.network);
  EXPECT_THAT(online.egress, testing::ElementsAre(NetworkTarget{"127.0.0.1", 9}));
  EXPECT_EQ(online.env.at("PIP_INDEX_URL"), "http://127.0.0.1:9/simple");
}

TEST_F(PythonBuildTest, AMissingPackageOfflineIsADependencyFailureNamingItAndTheFix) {
  SandboxResult failed;
  failed.exit_code = 1;
  scripted_.results = {SandboxResult{}, failed};
  scripted_.outputs = {{},
                       {"ERROR: Could not find a version that satisfies the requirement "
                        "flask==2.2.2 (from versions: none)",
                        "ERROR: No matching distribution found for flask==2.2.2"}};
  auto recipe = Prepare();
  ASSERT_TRUE(recipe.ok());
  auto layer = recipe->layers[1].produce();
  ASSERT_FALSE(layer.ok());
  std::string message(layer.status().message());
  EXPECT_THAT(message, HasSubstr("no distribution of flask==2.2.2 was found"));
  EXPECT_THAT(message, HasSubstr("set PIP_INDEX_URL"));
  auto failure = FailureOf(layer.status());
  ASSERT_TRUE(failure.has_value());
  EXPECT_EQ(failure->kind, FailureKind::kDependencyResolution);
  EXPECT_THAT(failure->log_tail, HasSubstr("No matching distribution"));
}

TEST_F(PythonBuildTest, AppWithoutDependenciesGetsAnEmptyVenvWithoutPip) {
  src_.Write("requirements.txt", "# nothing yet\n");
  src_.Write("app.py", "print('no framework')\n");
  auto recipe = Prepare();
  ASSERT_TRUE(recipe.ok()) << recipe.status();
  ASSERT_TRUE(recipe->layers[1].produce().ok());
  EXPECT_EQ(scripted_.commands.size(), 1u);  // venv only
}

TEST_F(PythonBuildTest, AppLayerLeavesOutVcsBytecodeAndLocalVenvs) {
  src_.Write(".git/HEAD", "ref: refs/heads/main\n");
  src_.Write("__pycache__/app.cpython-311.pyc", "x");
  src_.Write("pkg/mod.pyc", "x");
  src_.Write("pkg/mod.py", "X = 1\n");
  src_.Write(".venv/bin/python", "x");
  src_.Write("venv/lib/x.py", "x");
  auto layer = python::PythonAppLayer(src_.path());
  ASSERT_TRUE(layer.ok()) << layer.status();
  std::vector<std::string> paths = PathsOf(layer->spec);
  EXPECT_THAT(paths, Contains("app/app.py"));
  EXPECT_THAT(paths, Contains("app/pkg/mod.py"));
  EXPECT_THAT(paths, Contains("app/requirements.txt"));
  for (const char* gone :
       {"app/.git", "app/__pycache__", "app/pkg/mod.pyc", "app/.venv", "app/venv"}) {
    EXPECT_THAT(paths, Not(Contains(gone)));
  }
}

TEST_F(PythonBuildTest, AppLayerKeyFollowsContentNotMtimes) {
  auto first = python::PythonAppLayer(src_.path());
  std::filesystem::last_write_time(
      src_ / "app.py", std::filesystem::file_time_type::clock::now() - std::chrono::hours(24));
  auto touched = python::PythonAppLayer(src_.path());
  src_.Write("app.py", "from flask import Flask\napp = Flask('v2')\n");
  auto changed = python::PythonAppLayer(src_.path());
  ASSERT_TRUE(first.ok() && touched.ok() && changed.ok());
  EXPECT_EQ(first->content_key, touched->content_key);
  EXPECT_NE(first->content_key, changed->content_key);
}

TEST_F(PythonBuildTest, AnotherCheckoutOfTheSameTreeHasTheSameKeysAndAModeChangeIsAMiss) {
  const std::string deps = DepsKey();
  auto app = python::PythonAppLayer(src_.path());
  ASSERT_TRUE(app.ok()) << app.status();
  // The same files in another directory, written later: where and when do not matter.
  TempTree other;
  other.Write("requirements.txt", "flask==2.2.2\ngunicorn==20.1.0\n");
  other.Write("app.py", "from flask import Flask\napp = Flask(__name__)\n");
  auto other_app = python::PythonAppLayer(other.path());
  ASSERT_TRUE(other_app.ok()) << other_app.status();
  EXPECT_EQ(other_app->content_key, app->content_key);
  src_.Write("app.py", "from flask import Flask\napp = Flask(__name__)\n", 0755);
  auto executable = python::PythonAppLayer(src_.path());
  ASSERT_TRUE(executable.ok());
  EXPECT_NE(executable->content_key, app->content_key);
  src_.Write("app.py", "from flask import Flask\napp = Flask(__name__)\n");
  src_.Write("lib/util.py", "X = 1\n");  // a new local package file
  auto added = python::PythonAppLayer(src_.path());
  ASSERT_TRUE(added.ok());
  EXPECT_NE(added->content_key, app->content_key);
  std::filesystem::rename(src_ / "lib/util.py", src_ / "lib/helpers.py");  // renamed
  auto renamed = python::PythonAppLayer(src_.path());
  ASSERT_TRUE(renamed.ok());
  EXPECT_NE(renamed->content_key, added->content_key);
  EXPECT_EQ(DepsKey(), deps);
}

TEST(PythonDepsInputKey, EachInputVariedAloneChangesTheKeyAndNothingElseDoes) {
  python::PythonDepsParams params;
  params.interpreter = PythonInterpreter{"/usr/bin/python3.11", "3.11.2",        "python3.11",
                                         "3.11.2-6+deb12u6",    "23.0.1+dfsg-1", "x86_64"};
  params.source.kind = "requirements.txt";
  params.source.files = {"requirements.txt"};
  params.source.requirements = "flask==2.2.2\n";
  params.file_digests = {{"requirements.txt", "sha256:aa"}};
  const std::map<std::string, std::string> env = {{"PIP_INDEX_URL", "http://a/simple"}};
  const std::string key = python::PythonDepsInputKey(params, env);
  EXPECT_EQ(python::PythonDepsInputKey(params, env), key);

  std::set<std::string> keys = {key};
  auto varied = [&](auto change, std::map<std::string, std::string> with_env) {
    python::PythonDepsParams p = params;
    change(p);
    return keys.insert(python::PythonDepsInputKey(p, with_env)).second;
  };
  auto same_env = [&](auto change) { return varied(change, env); };
  EXPECT_TRUE(same_env([](auto& p) { p.interpreter.path = "/usr/local/bin/python3.11"; }));
  EXPECT_TRUE(same_env([](auto& p) { p.interpreter.package = "python3.12"; }));
  EXPECT_TRUE(same_env([](auto& p) { p.interpreter.package_version = "3.11.2-6+deb12u7"; }));
  EXPECT_TRUE(same_env([](auto& p) { p.interpreter.pip_package_version = "23.0.1+dfsg-2"; }));
  // Regression: two workers of different machines shared one fleet key, so an aarch64 worker
  // could take an x86_64 venv (compiled wheels) built from the same lockfile.
  EXPECT_TRUE(same_env([](auto& p) { p.interpreter.arch = "aarch64"; }));
  EXPECT_TRUE(same_env([](auto& p) { p.source.kind = "uv.lock"; }));
  EXPECT_TRUE(same_env([](auto& p) { p.file_digests["requirements.txt"] = "sha256:bb"; }));
  EXPECT_TRUE(same_env([](auto& p) { p.file_digests["constraints.txt"] = "sha256:cc"; }));
  EXPECT_TRUE(same_env([](auto& p) { p.source.requirements = "flask==2.2.3\n"; }));
  auto unchanged = [](auto&) {};
  EXPECT_TRUE(varied(unchanged, {{"PIP_INDEX_URL", "http://b/simple"}}));
  EXPECT_TRUE(varied(unchanged, {}));
  EXPECT_TRUE(
      varied(unchanged, {{"PIP_INDEX_URL", "http://a/simple"}, {"PIP_NO_BINARY", ":all:"}}));
  // A value holding a newline is one setting, never two.
  EXPECT_NE(python::PythonDepsInputKey(params,
                                       {{"PIP_INDEX_URL", "http://a/simple\nPIP_NO_BINARY=:all:"}}),
            python::PythonDepsInputKey(
                params, {{"PIP_NO_BINARY", ":all:"}, {"PIP_INDEX_URL", "http://a/simple"}}));
  // Not pip's settings, not the order entries came in: the same key (the pipeline scopes a
  // dependency layer by the whole build env besides, see worker/layer_keys.h).
  std::map<std::string, std::string> reordered;
  reordered.emplace("DEBUG", "1");
  reordered.emplace("PIP_INDEX_URL", "http://a/simple");
  EXPECT_EQ(python::PythonDepsInputKey(params, reordered), key);
}

TEST(PythonInterpreterLocator, TheHostInterpreterNamesTheMachineItBuildsFor) {
  absl::StatusOr<PythonInterpreter> host = HostPythonLocator().Locate();
  if (!host.ok()) GTEST_SKIP() << "Debian's python3.11 not installed: " << host.status();
  EXPECT_FALSE(host->arch.empty());
}

TEST(PipSettings, OnlyPipVariablesEnterTheKeyAndIndexesTurnOnTheNetwork) {
  std::map<std::string, std::string> env = {
      {"PIP_INDEX_URL", "http://x/simple"}, {"PIP_NO_BINARY", ":all:"}, {"DEBUG", "1"}};
  EXPECT_EQ(python::PipSettings(env).size(), 2u);
  EXPECT_TRUE(python::PipNeedsNetwork(env));
  EXPECT_FALSE(python::PipNeedsNetwork({{"PIP_NO_BINARY", ":all:"}}));
  EXPECT_TRUE(python::PipNeedsNetwork({{"PIP_FIND_LINKS", "http://x/wheels"}}));
}

}  // namespace
}  // namespace tempa::buildpacks
