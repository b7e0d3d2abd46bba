// The server Tempa supplies to a Python app whose requirements lack one: detection supplies
// instead of refusing when the build has an index (and still refuses, with the fix, when it has
// none), the recipe gains an input-keyed server layer between deps and app, and that layer is a
// `pip install --target` of the pinned spec plus a .pth file in the venv, run against a scripted
// sandbox.
#include "buildpacks/python/python_server.h"

#include <map>

#include "buildpacks/python/python_buildpack.h"
#include "common/build_error.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "temp_tree.h"

namespace tempa::buildpacks {
namespace {

using test_support::TempTree;
using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kIndex[] = "http://127.0.0.1:3141/simple";

PythonInterpreter FakeInterpreter() {
  return {"/usr/bin/python3.11", "3.11.2", "python3.11", "3.11.2-6+deb12u6", "23.0.1+dfsg-1"};
}

class RecordingSandbox : public Sandbox {
 public:
  absl::StatusOr<SandboxResult> Run(const SandboxCommand& command) override {
    commands.push_back(command);
    for (const std::string& line : output) command.on_output(line);
    return result;
  }
  SandboxResult result;
  std::vector<std::string> output;
  std::vector<SandboxCommand> commands;
};

class PythonServerTest : public ::testing::Test {
 protected:
  PythonBuildpack Buildpack() {
    PythonBuildpackOptions o;
    o.interpreter = std::make_shared<FixedPythonLocator>(FakeInterpreter());
    o.base_layer = [](const runbase::DebianBaseOptions&) -> absl::StatusOr<PlannedLayer> {
      return PlannedLayer{LayerRole::kBase, "sha256:base", nullptr};
    };
    return PythonBuildpack(o);
  }
  absl::StatusOr<std::optional<BuildPlan>> Detect(std::map<std::string, std::string> env,
                                                  const std::string& python_server = "") {
    DetectOptions options;
    options.build_env = std::move(env);
    options.python_server = python_server;
    return Buildpack().Detect(src_.path(), options);
  }
  BuildPlan MustDetect(std::map<std::string, std::string> env) {
    auto plan = Detect(std::move(env));
    EXPECT_TRUE(plan.ok()) << plan.status();
    return plan.ok() && plan->has_value() ? **plan : BuildPlan{};
  }
  absl::StatusOr<BuildRecipe> Prepare(const BuildPlan& plan,
                                      std::map<std::string, std::string> env) {
    BuildContext context;
    context.source_dir = src_.path();
    context.scratch_dir = scratch_.path();
    context.cache_dir = cache_.path();
    context.build_env = std::move(env);
    context.sandbox = &sandbox_;
    context.log = [this](absl::string_view line) { log_ += std::string(line) + "\n"; };
    return Buildpack().Prepare(plan, context);
  }
  void WriteDjango(const std::string& requirements) {
    src_.Write("requirements.txt", requirements);
    src_.Write("manage.py",
               "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n");
    src_.Write("mysite/__init__.py", "");
    src_.Write("mysite/settings.py", "DEBUG = False\n");
    src_.Write("mysite/wsgi.py", "application = None\n");
  }

  TempTree src_, scratch_, cache_;
  RecordingSandbox sandbox_;
  std::string log_;
};

TEST_F(PythonServerTest, FastApiWithoutUvicornGetsThePinnedUvicornWhenTheBuildHasAnIndex) {
  src_.Write("requirements.txt", "fastapi\n");
  src_.Write("main.py", "from fastapi import FastAPI\n\napp = FastAPI()\n");
  BuildPlan plan = MustDetect({{"PIP_INDEX_URL", kIndex}});
  EXPECT_THAT(
      plan.start_command,
      ElementsAre("/bin/sh", "-c", "exec python -m uvicorn main:app --host 0.0.0.0 --port $PORT"));
  EXPECT_EQ(plan.details["supplied_server"], "uvicorn==0.17.6");
  EXPECT_THAT(plan.reasons, Contains("uvicorn 0.17.6 supplied by Tempa: not in requirements.txt"));
}

TEST_F(PythonServerTest, DjangoWithoutGunicornGetsThePinnedGunicornWhenTheBuildHasAnIndex) {
  WriteDjango("Django==3.2.19\n");
  BuildPlan plan = MustDetect({{"PIP_INDEX_URL", kIndex}});
  EXPECT_THAT(
      plan.start_command,
      ElementsAre("/bin/sh", "-c", "exec python -m gunicorn mysite.wsgi --bind 0.0.0.0:$PORT"));
  EXPECT_EQ(plan.details["supplied_server"], "gunicorn==20.1.0");
  EXPECT_THAT(plan.reasons, Contains("gunicorn 20.1.0 supplied by Tempa: not in requirements.txt"));
}

TEST_F(PythonServerTest, FlaskWithoutGunicornFromFindLinksIsSuppliedToo) {
  src_.Write("requirements.txt", "flask\n");
  src_.Write("app.py", "from flask import Flask\napp = Flask(__name__)\n");
  BuildPlan plan = MustDetect({{"PIP_FIND_LINKS", "http://127.0.0.1:1/wheels/"}});
  EXPECT_EQ(plan.start_command[2], "exec python -m gunicorn 'app:app' --bind 0.0.0.0:$PORT");
  EXPECT_EQ(plan.details["supplied_server"], "gunicorn==20.1.0");
}

TEST_F(PythonServerTest, AnAppThatListsItsServerRunsItsOwnAndNothingIsSupplied) {
  WriteDjango("Django==3.2.19\ngunicorn==21.2.0\n");
  BuildPlan plan = MustDetect({{"PIP_INDEX_URL", kIndex}});
  EXPECT_EQ(plan.start_command[2], "exec gunicorn mysite.wsgi --bind 0.0.0.0:$PORT");
  EXPECT_EQ(plan.details.count("supplied_server"), 0u);
  auto recipe = Prepare(plan, {{"PIP_INDEX_URL", kIndex}});
  ASSERT_TRUE(recipe.ok()) << recipe.status();
  for (const PlannedLayer& layer : recipe->layers) EXPECT_NE(layer.role, LayerRole::kServer);
}

TEST_F(PythonServerTest, WithoutAnIndexTheMissingServerIsRefusedWithEveryFix) {
  WriteDjango("Django==3.2.19\n");
  auto plan = Detect({{"PIP_NO_CACHE_DIR", "1"}});  // a pip setting, but no index
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()),
              HasSubstr("gunicorn is not in requirements.txt and this build has no package index "
                        "to fetch it from: add gunicorn, or pass --build-env PIP_INDEX_URL=..., "
                        "or set a start command"));
  EXPECT_EQ(FailureOf(plan.status())->kind, FailureKind::kBadInput);
}

TEST_F(PythonServerTest, AnAppWithoutAnyManifestGetsNoServerButSaysToAddRequirements) {
  src_.Write("main.py", "from fastapi import FastAPI\n\napp = FastAPI()\n");
  auto plan = Detect({{"PIP_INDEX_URL", kIndex}});
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()),
              HasSubstr("FastAPI app found in main.py but the app has no requirements.txt"));
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("add a requirements.txt"));
}

TEST_F(PythonServerTest, AStartCommandOfTheAppsOwnThatRunsAMissingServerGetsItSupplied) {
  WriteDjango("Django==3.2.19\n");
  DetectOptions options;
  options.start = "gunicorn mysite.wsgi --bind 0.0.0.0:$PORT --workers 4";
  options.start_source = "Procfile";
  options.build_env = {{"PIP_INDEX_URL", kIndex}};
  auto plan = Buildpack().Detect(src_.path(), options);
  ASSERT_TRUE(plan.ok() && plan->has_value()) << plan.status();
  EXPECT_EQ((*plan)->start_command[2], options.start);  // run as written
  EXPECT_EQ((*plan)->details["supplied_server"], "gunicorn==20.1.0");
  EXPECT_THAT((*plan)->reasons, Contains("gunicorn 20.1.0 supplied by Tempa: not in "
                                         "requirements.txt (the start command runs it)"));
  // Offline: nothing supplied, and the plan says the command will not find it.
  options.build_env.clear();
  plan = Buildpack().Detect(src_.path(), options);
  ASSERT_TRUE(plan.ok() && plan->has_value()) << plan.status();
  EXPECT_EQ((*plan)->details.count("supplied_server"), 0u);
  EXPECT_THAT((*plan)->reasons, Contains(HasSubstr("note: the start command runs gunicorn")));
  // A command that does not start with a server gets nothing.
  options.build_env = {{"PIP_INDEX_URL", kIndex}};
  options.start = "python serve.py --gunicorn";
  plan = Buildpack().Detect(src_.path(), options);
  ASSERT_TRUE(plan.ok() && plan->has_value()) << plan.status();
  EXPECT_EQ((*plan)->details.count("supplied_server"), 0u);
}

TEST_F(PythonServerTest, TheServerLayerSitsBetweenDepsAndAppAndInstallsThePinnedSpec) {
  WriteDjango("Django==3.2.19\n");
  std::map<std::string, std::string> env = {{"PIP_INDEX_URL", kIndex}};
  BuildPlan plan = MustDetect(env);
  auto recipe = Prepare(plan, env);
  ASSERT_TRUE(recipe.ok()) << recipe.status();
  ASSERT_EQ(recipe->layers.size(), 4u);
  EXPECT_EQ(recipe->layers[1].role, LayerRole::kDeps);
  const PlannedLayer& server = recipe->layers[2];
  EXPECT_EQ(server.role, LayerRole::kServer);
  EXPECT_FALSE(server.input_key.empty());
  EXPECT_EQ(recipe->layers[3].role, LayerRole::kApp);
  EXPECT_EQ(recipe->config.entrypoint[2],
            "exec python -m gunicorn mysite.wsgi --bind 0.0.0.0:$PORT");

  sandbox_.output = {"Successfully installed gunicorn-20.1.0 setuptools-66.1.1"};
  // What pip would have left in the target directory.
  scratch_.Write("tempa-server/gunicorn/__init__.py", "version_info = (20, 1, 0)\n");
  absl::StatusOr<LayerOutput> out = server.produce();
  ASSERT_TRUE(out.ok()) << out.status();
  ASSERT_EQ(sandbox_.commands.size(), 1u);
  const SandboxCommand& pip = sandbox_.commands[0];
  EXPECT_THAT(pip.argv, Contains("--target"));
  EXPECT_THAT(pip.argv, Contains("/opt/tempa-server"));
  EXPECT_EQ(pip.argv.back(), "gunicorn==20.1.0");
  EXPECT_EQ(pip.argv[pip.argv.size() - 2], "--");
  EXPECT_THAT(pip.argv, Not(Contains("--no-index")));
  EXPECT_EQ(pip.env.at("PIP_INDEX_URL"), kIndex);
  ASSERT_EQ(pip.egress.size(), 1u);
  EXPECT_EQ(pip.egress[0].port, 3141);
  std::map<std::string, const oci::LayerEntry*> entries;
  for (const oci::LayerEntry& e : out->spec.entries()) entries[e.path] = &e;
  ASSERT_TRUE(entries.count("opt/tempa-server/gunicorn/__init__.py"));
  const oci::LayerEntry* pth = entries["opt/venv/lib/python3.11/site-packages/tempa-server.pth"];
  ASSERT_NE(pth, nullptr);
  EXPECT_EQ(pth->contents, "/opt/tempa-server\n");
  // The command for start commands of the app's own, run by the venv's python.
  const oci::LayerEntry* script = entries["opt/venv/bin/gunicorn"];
  ASSERT_NE(script, nullptr);
  EXPECT_EQ(script->mode, 0755u);
  EXPECT_THAT(*script->contents, testing::StartsWith("#!/opt/venv/bin/python\n"));
  EXPECT_THAT(*script->contents,
              HasSubstr("from gunicorn.app.wsgiapp import run\nsys.exit(run())"));
  EXPECT_EQ(out->report.at("supplied"), "gunicorn==20.1.0");
  EXPECT_THAT(log_, HasSubstr("gunicorn 20.1.0 supplied by Tempa"));
}

TEST_F(PythonServerTest, TempaTomlPythonServerChoosesTheSuppliedReleaseAndItsLayerKey) {
  WriteDjango("Django==3.2.19\n");
  std::map<std::string, std::string> env = {{"PIP_INDEX_URL", kIndex}};
  absl::StatusOr<std::optional<BuildPlan>> chosen = Detect(env, "gunicorn==23.0.0");
  ASSERT_TRUE(chosen.ok() && chosen->has_value()) << chosen.status();
  EXPECT_EQ((*chosen)->details["supplied_server"], "gunicorn==23.0.0");
  EXPECT_THAT((*chosen)->reasons, Contains("gunicorn 23.0.0 supplied by Tempa (tempa.toml "
                                           "python_server): not in requirements.txt"));
  auto with_default = Prepare(MustDetect(env), env);
  auto recipe = Prepare(**chosen, env);
  ASSERT_TRUE(recipe.ok() && with_default.ok()) << recipe.status();
  EXPECT_NE(recipe->layers[2].input_key, with_default->layers[2].input_key);
  scratch_.Write("tempa-server/gunicorn/__init__.py", "version_info = (23, 0, 0)\n");
  ASSERT_TRUE(recipe->layers[2].produce().ok());
  ASSERT_EQ(sandbox_.commands.size(), 1u);
  EXPECT_EQ(sandbox_.commands[0].argv.back(), "gunicorn==23.0.0");

  // Another server's release leaves this one at Tempa's default; a bad value is refused.
  EXPECT_EQ((**Detect(env, "uvicorn==0.30.0")).details["supplied_server"], "gunicorn==20.1.0");
  absl::StatusOr<std::optional<BuildPlan>> bad = Detect(env, "gunicorn>=22");
  ASSERT_FALSE(bad.ok());
  EXPECT_THAT(std::string(bad.status().message()),
              HasSubstr("tempa.toml [build] python_server \"gunicorn>=22\" is not a server"));
}

TEST_F(PythonServerTest, APlanNamingAServerTempaDoesNotSupplyIsRefused) {
  WriteDjango("Django==3.2.19\n");
  std::map<std::string, std::string> env = {{"PIP_INDEX_URL", kIndex}};
  BuildPlan plan = MustDetect(env);
  plan.details["supplied_server"] = "gunicorn==0.0.1 --index-url=http://evil/";
  auto recipe = Prepare(plan, env);
  ASSERT_FALSE(recipe.ok());
  EXPECT_THAT(std::string(recipe.status().message()), HasSubstr("Tempa does not supply"));
}

TEST_F(PythonServerTest, AFailedServerInstallIsADependencyFailureNamingTheServer) {
  WriteDjango("Django==3.2.19\n");
  std::map<std::string, std::string> env = {{"PIP_INDEX_URL", kIndex}};
  auto recipe = Prepare(MustDetect(env), env);
  ASSERT_TRUE(recipe.ok()) << recipe.status();
  sandbox_.result.exit_code = 1;
  sandbox_.output = {"ERROR: No matching distribution found for gunicorn==20.1.0"};
  absl::StatusOr<LayerOutput> out = recipe->layers[2].produce();
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(FailureOf(out.status())->kind, FailureKind::kDependencyResolution);
  EXPECT_THAT(std::string(out.status().message()),
              HasSubstr("pip install gunicorn==20.1.0 (the server Tempa supplies)"));
  EXPECT_THAT(std::string(out.status().message()),
              HasSubstr("no distribution of gunicorn==20.1.0"));
}

TEST(ServerLayerInputKey, FollowsTheSpecTheInterpreterAndPipSettingsOnly) {
  python::SuppliedServer gunicorn = *python::SupplyableServer("gunicorn");
  python::SuppliedServer uvicorn = *python::SupplyableServer("uvicorn");
  PythonInterpreter interpreter = FakeInterpreter();
  std::map<std::string, std::string> env = {{"PIP_INDEX_URL", kIndex}};
  std::string key = python::ServerLayerInputKey(gunicorn, interpreter, env);
  EXPECT_EQ(key, python::ServerLayerInputKey(gunicorn, interpreter, env));
  EXPECT_NE(key, python::ServerLayerInputKey(uvicorn, interpreter, env));
  PythonInterpreter other = interpreter;
  other.package_version = "3.11.2-6+deb12u7";
  EXPECT_NE(key, python::ServerLayerInputKey(gunicorn, other, env));
  other = interpreter;
  other.arch = "aarch64";
  EXPECT_NE(key, python::ServerLayerInputKey(gunicorn, other, env));
  EXPECT_NE(key, python::ServerLayerInputKey(gunicorn, interpreter,
                                             {{"PIP_INDEX_URL", "http://127.0.0.1:9/simple"}}));
  std::map<std::string, std::string> unrelated = env;
  unrelated["DJANGO_DEBUG"] = "1";
  EXPECT_EQ(key, python::ServerLayerInputKey(gunicorn, interpreter, unrelated));
}

TEST(SupplyableServer, OnlyGunicornAndUvicornAtDebian12sVersionsUnlessConfigSaysWhichRelease) {
  EXPECT_EQ(python::SupplyableServer("gunicorn")->Spec(), "gunicorn==20.1.0");
  EXPECT_EQ(python::SupplyableServer("uvicorn")->Spec(), "uvicorn==0.17.6");
  EXPECT_FALSE(python::SupplyableServer("hypercorn").has_value());
  EXPECT_EQ(python::SupplyableServer("gunicorn", "gunicorn==23.0.0")->Spec(), "gunicorn==23.0.0");
  EXPECT_EQ(python::SupplyableServer("uvicorn", "gunicorn==23.0.0")->Spec(), "uvicorn==0.17.6");
  EXPECT_EQ(python::SuppliedServerForSpec("gunicorn==21.2")->entry_module, "gunicorn.app.wsgiapp");
  for (const char* bad : {"gunicorn>=22", "gunicorn==22.0.0 --index-url=http://evil/",
                          "gunicorn==22.0.0rc1", "gunicorn==", "gunicorn==1..2", "gunicorn==.1",
                          "hypercorn==0.14.4", "gunicorn[gevent]==22.0.0", "gunicorn"}) {
    absl::StatusOr<python::SuppliedServer> parsed = python::ParseServerSpec(bad);
    EXPECT_FALSE(parsed.ok()) << bad;
    EXPECT_THAT(std::string(parsed.status().message()), HasSubstr("\"gunicorn==VERSION\""));
    EXPECT_FALSE(python::SuppliedServerForSpec(bad).has_value()) << bad;
  }
}

}  // namespace
}  // namespace tempa::buildpacks
