// Django's collectstatic at build time: when STATIC_ROOT is set (read from the settings as
// text), the skip switches, the static layer's key, and what its producer does with what the
// sandboxed step left (a sandbox that writes into the mounted /app stands in for Django): the
// tree goes in at its /app path, a STATIC_ROOT outside /app or through a planted link is refused,
// and a failing collectstatic is a compile failure saying how to skip it.
#include "buildpacks/python/python_collectstatic.h"

#include <filesystem>
#include <map>

#include "absl/strings/match.h"
#include "buildpacks/python/python_buildpack.h"
#include "common/build_error.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "temp_tree.h"

namespace tempa::buildpacks {
namespace {

using test_support::TempTree;
using ::testing::Contains;
using ::testing::HasSubstr;

constexpr char kIndex[] = "http://127.0.0.1:3141/simple";
constexpr char kSettings[] =
    "from pathlib import Path\nBASE_DIR = Path(__file__).resolve().parent.parent\n"
    "STATIC_URL = \"/static/\"\nSTATIC_ROOT = BASE_DIR / \"staticfiles\"\n";

// Stands in for `manage.py collectstatic`: writes `files` under the host directory mounted at
// /app and prints STATIC_ROOT the way the real step does.
class DjangoSandbox : public Sandbox {
 public:
  absl::StatusOr<SandboxResult> Run(const SandboxCommand& command) override {
    commands.push_back(command);
    for (const SandboxMount& mount : command.mounts) {
      if (mount.sandbox_path != "/app") continue;
      if (plant) plant(mount.host_path);
      for (const auto& [rel, text] : files) {
        std::filesystem::path path = std::filesystem::path(mount.host_path) / rel;
        std::filesystem::create_directories(path.parent_path());
        std::ofstream(path) << text;
      }
    }
    command.on_output("1 static file copied to '/app/staticfiles'.");
    command.on_output("tempa-static-root=" + static_root);
    return result;
  }
  std::map<std::string, std::string> files = {{"staticfiles/css/site.css", "body{}\n"}};
  std::string static_root = "/app/staticfiles";
  std::function<void(const std::string& app_host)> plant;
  SandboxResult result;
  std::vector<SandboxCommand> commands;
};

class CollectstaticTest : public ::testing::Test {
 protected:
  void SetUp() override {
    src_.Write("requirements.txt", "Django==3.2.19\n");
    src_.Write("manage.py",
               "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n");
    src_.Write("mysite/__init__.py", "");
    src_.Write("mysite/settings.py", kSettings);
    src_.Write("mysite/wsgi.py", "application = None\n");
    src_.Write("static/css/site.css", "body{}\n");
  }
  PythonBuildpack Buildpack() {
    PythonBuildpackOptions o;
    o.interpreter = std::make_shared<FixedPythonLocator>(PythonInterpreter{
        "/usr/bin/python3.11", "3.11.2", "python3.11", "3.11.2-6+deb12u6", "23.0.1+dfsg-1"});
    o.base_layer = [](const runbase::DebianBaseOptions&) -> absl::StatusOr<PlannedLayer> {
      return PlannedLayer{LayerRole::kBase, "sha256:base", nullptr};
    };
    return PythonBuildpack(o);
  }
  BuildPlan MustDetect(std::optional<bool> configured = std::nullopt) {
    DetectOptions options;
    options.build_env = env_;
    options.collectstatic = configured;
    auto plan = Buildpack().Detect(src_.path(), options);
    EXPECT_TRUE(plan.ok()) << plan.status();
    return plan.ok() && plan->has_value() ? **plan : BuildPlan{};
  }
  absl::StatusOr<BuildRecipe> Prepare(const BuildPlan& plan) {
    BuildContext context;
    context.source_dir = src_.path();
    context.scratch_dir = scratch_.path();
    context.cache_dir = cache_.path();
    context.build_env = env_;
    context.exclude_files = exclude_files_;
    context.sandbox = &sandbox_;
    context.log = [this](absl::string_view line) { log_ += std::string(line) + "\n"; };
    context.extract_layer = [this](LayerRole role, const std::string& dir) {
      extracted_.push_back(role);
      std::filesystem::create_directories(dir + "/opt/venv/bin");
      return absl::OkStatus();
    };
    return Buildpack().Prepare(plan, context);
  }
  const PlannedLayer* StaticLayer(const BuildRecipe& recipe) {
    return recipe.layers.back().role == LayerRole::kStatic ? &recipe.layers.back() : nullptr;
  }
  std::string StaticKey() {
    auto recipe = Prepare(MustDetect());
    EXPECT_TRUE(recipe.ok()) << recipe.status();
    const PlannedLayer* layer = recipe.ok() ? StaticLayer(*recipe) : nullptr;
    return layer == nullptr ? "" : layer->input_key;
  }

  TempTree src_, scratch_, cache_;
  std::map<std::string, std::string> env_ = {{"PIP_INDEX_URL", kIndex}};
  std::vector<std::string> exclude_files_;  // tempa.toml's exclude
  DjangoSandbox sandbox_;
  std::vector<LayerRole> extracted_;
  std::string log_;
};

TEST(SetsStaticRoot, OnlyAModuleLevelAssignmentOfSomethingButNone) {
  EXPECT_TRUE(python::SetsStaticRoot("STATIC_ROOT = BASE_DIR / 'staticfiles'\n"));
  EXPECT_TRUE(python::SetsStaticRoot("DEBUG=1\nSTATIC_ROOT=os.path.join(BASE_DIR, 's')\n"));
  EXPECT_FALSE(python::SetsStaticRoot("STATIC_URL = '/static/'\n"));
  EXPECT_FALSE(python::SetsStaticRoot("STATIC_ROOT = None\n"));
  EXPECT_FALSE(python::SetsStaticRoot("# STATIC_ROOT = BASE_DIR / 'x'\n"));
  EXPECT_FALSE(python::SetsStaticRoot("STATIC_ROOT == 3\n"));
  EXPECT_FALSE(python::SetsStaticRoot("def f():\n    STATIC_ROOT = 'x'\n"));
  EXPECT_FALSE(python::SetsStaticRoot("STATIC_ROOTS = ['x']\n"));
}

TEST_F(CollectstaticTest, StaticRootInTheSettingsPlansCollectstaticAndAStaticLayerLast) {
  BuildPlan plan = MustDetect();
  EXPECT_EQ(plan.details["collectstatic"], "mysite/settings.py");
  EXPECT_THAT(plan.reasons, Contains(HasSubstr("collectstatic --noinput` at build time")));
  auto recipe = Prepare(plan);
  ASSERT_TRUE(recipe.ok()) << recipe.status();
  ASSERT_NE(StaticLayer(*recipe), nullptr);
  EXPECT_EQ(recipe->layers[recipe->layers.size() - 2].role, LayerRole::kApp);
  EXPECT_FALSE(StaticLayer(*recipe)->input_key.empty());
}

TEST_F(CollectstaticTest, AProcfileStartDoesNotSkipCollectstatic) {
  DetectOptions options;
  options.start = "gunicorn mysite.wsgi";
  options.start_source = "Procfile";
  options.build_env = env_;
  auto plan = Buildpack().Detect(src_.path(), options);
  ASSERT_TRUE(plan.ok() && plan->has_value()) << plan.status();
  EXPECT_EQ((*plan)->details["collectstatic"], "mysite/settings.py");
}

TEST_F(CollectstaticTest, StaticRootInASettingsPackagesBaseModuleIsFound) {
  src_.Write("manage.py",
             "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', "
             "'mysite.settings.production')\n");
  std::filesystem::remove(src_ / "mysite/settings.py");
  src_.Write("mysite/settings/__init__.py", "");
  src_.Write("mysite/settings/production.py", "from .base import *\nDEBUG = False\n");
  src_.Write("mysite/settings/base.py", kSettings);
  EXPECT_EQ(MustDetect().details["collectstatic"], "mysite/settings/base.py");
}

TEST_F(CollectstaticTest, WithoutStaticRootNothingIsCollected) {
  src_.Write("mysite/settings.py", "STATIC_URL = '/static/'\nSTATIC_ROOT = None\n");
  BuildPlan plan = MustDetect();
  EXPECT_EQ(plan.details.count("collectstatic"), 0u);
  EXPECT_THAT(plan.reasons, Contains(HasSubstr("STATIC_ROOT is not set")));
  auto recipe = Prepare(plan);
  ASSERT_TRUE(recipe.ok()) << recipe.status();
  EXPECT_EQ(StaticLayer(*recipe), nullptr);
}

TEST_F(CollectstaticTest, DisableCollectstaticInTheBuildEnvSkipsIt) {
  env_["DISABLE_COLLECTSTATIC"] = "1";
  BuildPlan plan = MustDetect();
  EXPECT_EQ(plan.details.count("collectstatic"), 0u);
  EXPECT_THAT(plan.reasons, Contains(HasSubstr("skipped (DISABLE_COLLECTSTATIC=1")));
  auto recipe = Prepare(plan);
  ASSERT_TRUE(recipe.ok()) << recipe.status();
  EXPECT_EQ(StaticLayer(*recipe), nullptr);
}

TEST_F(CollectstaticTest, CollectstaticFalseInTempaTomlSkipsIt) {
  BuildPlan plan = MustDetect(false);
  EXPECT_EQ(plan.details.count("collectstatic"), 0u);
  EXPECT_THAT(plan.reasons, Contains(HasSubstr("collectstatic = false in tempa.toml")));
}

TEST_F(CollectstaticTest, TheKeyFollowsTheAppsFilesAndIgnoresBytecode) {
  std::string key = StaticKey();
  EXPECT_EQ(key, StaticKey());
  src_.Write("mysite/__pycache__/settings.cpython-311.pyc", "junk");
  EXPECT_EQ(key, StaticKey());
  src_.Write("static/css/site.css", "body{color:red}\n");
  EXPECT_NE(key, StaticKey());
}

TEST_F(CollectstaticTest, TheCollectedTreeGoesInAtItsAppPathWithTheUnpackedVenv) {
  auto recipe = Prepare(MustDetect());
  ASSERT_TRUE(recipe.ok()) << recipe.status();
  absl::StatusOr<LayerOutput> out = StaticLayer(*recipe)->produce();
  ASSERT_TRUE(out.ok()) << out.status();
  // No deps install ran in this build: the venv is the deps layer, unpacked.
  EXPECT_THAT(extracted_, testing::ElementsAre(LayerRole::kDeps));
  ASSERT_EQ(sandbox_.commands.size(), 1u);
  const SandboxCommand& run = sandbox_.commands[0];
  EXPECT_THAT(run.argv[2], HasSubstr("python manage.py collectstatic --noinput"));
  EXPECT_EQ(run.cwd, "/app");
  EXPECT_TRUE(run.egress.empty());
  bool venv_read_only = false;
  for (const SandboxMount& m : run.mounts) {
    if (m.sandbox_path != "/opt/venv") continue;
    venv_read_only = !m.writable;
    EXPECT_EQ(m.host_path, scratch_ / "deps-layer/opt/venv");
  }
  EXPECT_TRUE(venv_read_only);
  std::vector<std::string> paths;
  for (const oci::LayerEntry& e : out->spec.entries()) paths.push_back(e.path);
  EXPECT_THAT(paths, Contains("app/staticfiles/css/site.css"));
  for (const std::string& p : paths) EXPECT_TRUE(absl::StartsWith(p, "app/staticfiles")) << p;
  EXPECT_EQ(out->report.at("static_root"), "/app/staticfiles");
  EXPECT_EQ(out->report.at("files"), "1");
}

TEST_F(CollectstaticTest, CollectstaticSeesOnlyTheFilesTheAppLayerHolds) {
  // What .tempaignore or tempa.toml's exclude leaves out of the image must not reach it through
  // STATIC_ROOT either: collectstatic copies whatever its finders see.
  src_.Write(".tempaignore", "static/secret.css\n");
  src_.Write("static/secret.css", "s3cret\n");
  src_.Write("static/drafts/draft.css", "draft\n");
  exclude_files_ = {"static/drafts/"};
  std::map<std::string, bool> seen;
  sandbox_.plant = [&seen](const std::string& app_host) {
    for (const char* rel : {"static/css/site.css", "static/secret.css", "static/drafts/draft.css",
                            "mysite/settings.py", ".tempaignore"}) {
      seen[rel] = std::filesystem::exists(std::filesystem::path(app_host) / rel);
    }
  };
  auto recipe = Prepare(MustDetect());
  ASSERT_TRUE(recipe.ok()) << recipe.status();
  absl::StatusOr<LayerOutput> out = StaticLayer(*recipe)->produce();
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(seen["static/css/site.css"]);
  EXPECT_TRUE(seen["mysite/settings.py"]);
  EXPECT_FALSE(seen["static/secret.css"]);
  EXPECT_FALSE(seen["static/drafts/draft.css"]);
  EXPECT_FALSE(seen[".tempaignore"]);
}

TEST_F(CollectstaticTest, TheUnpackedVenvIsKeptForTheNextBuildOfTheSameDepsOnly) {
  auto recipe = Prepare(MustDetect());
  ASSERT_TRUE(recipe.ok()) << recipe.status();
  ASSERT_TRUE(StaticLayer(*recipe)->produce().ok());
  ASSERT_EQ(extracted_.size(), 1u);
  // A code change: collectstatic runs again, with the kept venv, nothing unpacked.
  src_.Write("pages/views.py", "# changed\n");
  std::filesystem::remove_all(scratch_ / "django-app");
  recipe = Prepare(MustDetect());
  ASSERT_TRUE(recipe.ok()) << recipe.status();
  ASSERT_TRUE(StaticLayer(*recipe)->produce().ok());
  EXPECT_EQ(extracted_.size(), 1u);
  EXPECT_EQ(sandbox_.commands.back().mounts[1].host_path, cache_ / "python-venv/venv");
  // Another build env keys another deps layer: the kept venv is not it.
  env_["PIP_EXTRA_INDEX_URL"] = "http://127.0.0.1:3142/simple";
  std::filesystem::remove_all(scratch_ / "django-app");
  recipe = Prepare(MustDetect());
  ASSERT_TRUE(recipe.ok()) << recipe.status();
  ASSERT_TRUE(StaticLayer(*recipe)->produce().ok());
  EXPECT_EQ(extracted_.size(), 2u);
}

TEST_F(CollectstaticTest, AStaticRootOutsideAppIsRefused) {
  sandbox_.static_root = "/var/www/static";
  auto recipe = Prepare(MustDetect());
  ASSERT_TRUE(recipe.ok()) << recipe.status();
  absl::StatusOr<LayerOutput> out = StaticLayer(*recipe)->produce();
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(FailureOf(out.status())->kind, FailureKind::kBadInput);
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("not inside /app"));
}

TEST_F(CollectstaticTest, AStaticRootThatIsAPlantedLinkIsRefusedNotRead) {
  sandbox_.files.clear();
  sandbox_.plant = [](const std::string& app_host) {
    std::filesystem::create_symlink("/etc", app_host + "/staticfiles");
  };
  auto recipe = Prepare(MustDetect());
  ASSERT_TRUE(recipe.ok()) << recipe.status();
  absl::StatusOr<LayerOutput> out = StaticLayer(*recipe)->produce();
  ASSERT_FALSE(out.ok());
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("symlink"));
}

TEST_F(CollectstaticTest, AFailingCollectstaticIsACompileFailureSayingHowToSkipIt) {
  sandbox_.result.exit_code = 1;
  auto recipe = Prepare(MustDetect());
  ASSERT_TRUE(recipe.ok()) << recipe.status();
  absl::StatusOr<LayerOutput> out = StaticLayer(*recipe)->produce();
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(FailureOf(out.status())->kind, FailureKind::kCompile);
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("DISABLE_COLLECTSTATIC=1"));
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("collectstatic = false"));
}

}  // namespace
}  // namespace tempa::buildpacks
