// Python detection on fixture trees: each dependency layout (requirements.txt, PEP 621, Poetry,
// Pipfile, uv, setup.py, bare scripts) and each framework's start command, with a fixed
// interpreter so no Python is needed.
#include "buildpacks/python/python_buildpack.h"
#include "buildpacks/python/python_manifest.h"
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

PythonInterpreter FakeInterpreter() {
  return {"/usr/bin/python3.11", "3.11.2", "python3.11", "3.11.2-6+deb12u6", "23.0.1+dfsg-1"};
}

constexpr char kFlaskApp[] = "from flask import Flask\n\napp = Flask(__name__)\n";

class PythonDetectTest : public ::testing::Test {
 protected:
  absl::StatusOr<std::optional<BuildPlan>> Detect(DetectOptions options = {}) {
    PythonBuildpackOptions o;
    o.interpreter = std::make_shared<FixedPythonLocator>(FakeInterpreter());
    PythonBuildpack buildpack(o);
    return buildpack.Detect(tree_.path(), options);
  }
  BuildPlan MustDetect(DetectOptions options = {}) {
    auto plan = Detect(options);
    EXPECT_TRUE(plan.ok()) << plan.status();
    if (!plan.ok() || !plan->has_value()) {
      ADD_FAILURE() << "nothing detected";
      return {};
    }
    return **plan;
  }
  std::string Requirements() {
    auto source = python::FindDependencySource(tree_.path());
    EXPECT_TRUE(source.ok()) << source.status();
    return source.ok() && source->has_value() ? (*source)->requirements : "";
  }
  TempTree tree_;
};

TEST_F(PythonDetectTest, NoPythonFilesIsNotAMatch) {
  tree_.Write("README.md", "hi\n");
  auto plan = Detect();
  ASSERT_TRUE(plan.ok());
  EXPECT_FALSE(plan->has_value());
}

TEST_F(PythonDetectTest, FlaskWithGunicornInRequirementsStartsUnderGunicorn) {
  tree_.Write("requirements.txt", "Flask==2.2.2  # web\ngunicorn==20.1.0\n");
  tree_.Write("app.py", kFlaskApp);
  BuildPlan plan = MustDetect();
  EXPECT_EQ(plan.language, "python");
  EXPECT_EQ(plan.toolchain, "python3.11.2");
  EXPECT_EQ(plan.port, 8080);
  EXPECT_THAT(plan.start_command,
              ElementsAre("/bin/sh", "-c", "exec gunicorn 'app:app' --bind 0.0.0.0:$PORT"));
  EXPECT_EQ(plan.details["dependency_source"], "requirements.txt");
  EXPECT_EQ(plan.details["dependency_files"], "requirements.txt");
  EXPECT_EQ(plan.details["framework"], "flask");
  EXPECT_THAT(plan.reasons, Contains(HasSubstr("requirements.txt found: 2 package(s)")));
}

TEST_F(PythonDetectTest, FastApiWithoutUvicornOfflineSaysWhatToAdd) {
  tree_.Write("requirements.txt", "fastapi\n");
  tree_.Write("main.py", "from fastapi import FastAPI\n\napp = FastAPI()\n");
  auto plan = Detect();
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()),
              HasSubstr("FastAPI app found in main.py but uvicorn is not in requirements.txt and "
                        "this build has no package index to fetch it from: add uvicorn, or pass "
                        "--build-env PIP_INDEX_URL=..., or set a start command"));
  EXPECT_EQ(FailureOf(plan.status())->kind, FailureKind::kBadInput);
}

TEST_F(PythonDetectTest, FastApiInAPackageStartsUnderUvicorn) {
  tree_.Write("requirements.txt", "fastapi==0.100\nuvicorn[standard]\n");
  tree_.Write("app/__init__.py", "");
  tree_.Write("app/main.py", "import fastapi\napi: fastapi.FastAPI = fastapi.FastAPI(title='x')\n");
  BuildPlan plan = MustDetect();
  EXPECT_THAT(
      plan.start_command,
      ElementsAre("/bin/sh", "-c", "exec uvicorn app.main:api --host 0.0.0.0 --port $PORT"));
}

TEST_F(PythonDetectTest, DjangoProjectRunsItsWsgiModuleUnderGunicorn) {
  tree_.Write("requirements.txt", "Django>=4\ngunicorn\n");
  tree_.Write("manage.py",
              "import os\nos.environ.setdefault('DJANGO_SETTINGS_MODULE', 'mysite.settings')\n");
  tree_.Write("mysite/settings.py", "DEBUG = False\n");
  tree_.Write("mysite/wsgi.py", "application = None\n");
  BuildPlan plan = MustDetect();
  EXPECT_EQ(plan.details["framework"], "django");
  EXPECT_THAT(plan.start_command,
              ElementsAre("/bin/sh", "-c", "exec gunicorn mysite.wsgi --bind 0.0.0.0:$PORT"));
}

TEST_F(PythonDetectTest, DjangoWithoutGunicornOfflineIsAnError) {
  tree_.Write("requirements.txt", "django\n");
  tree_.Write("manage.py", "DJANGO_SETTINGS_MODULE = 'site1.settings'\n");
  tree_.Write("site1/wsgi.py", "");
  auto plan = Detect();
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("add gunicorn"));
}

TEST_F(PythonDetectTest, StartCommandFromConfigWinsAndRunsThroughTheShell) {
  tree_.Write("requirements.txt", "fastapi\n");
  tree_.Write("main.py", "from fastapi import FastAPI\napp = FastAPI()\n");
  DetectOptions options;
  options.start = "hypercorn main:app --bind 0.0.0.0:$PORT";
  options.start_source = "Procfile";
  options.port = 3000;
  BuildPlan plan = MustDetect(options);
  EXPECT_THAT(plan.start_command, ElementsAre("/bin/sh", "-c", options.start));
  EXPECT_EQ(plan.port, 3000);
  EXPECT_THAT(plan.reasons, Contains(HasSubstr("(from Procfile)")));
}

TEST_F(PythonDetectTest, PythonModuleOptionPicksTheWsgiObject) {
  tree_.Write("requirements.txt", "flask\ngunicorn\n");
  tree_.Write("app.py", kFlaskApp);
  DetectOptions options;
  options.python_module = "app:create()";
  BuildPlan plan = MustDetect(options);
  EXPECT_THAT(plan.start_command[2], HasSubstr("gunicorn 'app:create()'"));
}

TEST_F(PythonDetectTest, BareScriptRunsWithPython) {
  tree_.Write("main.py", "print('hi')\n");
  BuildPlan plan = MustDetect();
  EXPECT_EQ(plan.details["dependency_source"], "none");
  EXPECT_THAT(plan.start_command, ElementsAre("/bin/sh", "-c", "exec python main.py"));
}

TEST_F(PythonDetectTest, NothingToStartSaysHowToSayIt) {
  tree_.Write("requirements.txt", "requests\n");
  tree_.Write("worker.py", "print(1)\n");
  auto plan = Detect();
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("Procfile"));
}

TEST_F(PythonDetectTest, RequirementsIncludesAreInlinedAndLocalPathsSkipped) {
  tree_.Write("requirements.txt",
              "-r reqs/base.txt\n-e .\nrequests==2.31 \\\n  --hash=sha256:ab\n");
  tree_.Write("reqs/base.txt", "# base\nflask>=2\n");
  tree_.Write("main.py", "");
  auto source = python::FindDependencySource(tree_.path());
  ASSERT_TRUE(source.ok()) << source.status();
  EXPECT_EQ((*source)->requirements, "flask>=2\nrequests==2.31    --hash=sha256:ab\n");
  EXPECT_THAT((*source)->files, ElementsAre("requirements.txt", "reqs/base.txt"));
  EXPECT_THAT((*source)->notes, Contains(HasSubstr("skipped `-e .`")));
}

TEST_F(PythonDetectTest, RequirementsIncludeOutsideTheTreeIsRefused) {
  tree_.Write("requirements.txt", "-r ../../etc/secrets.txt\n");
  auto source = python::FindDependencySource(tree_.path());
  ASSERT_FALSE(source.ok());
  EXPECT_THAT(std::string(source.status().message()), HasSubstr("outside the app"));
}

TEST_F(PythonDetectTest, Pep621DependenciesAreInstalledAsListed) {
  tree_.Write("pyproject.toml",
              "[project]\nname = \"shop\"\ndependencies = [\"flask>=2\", \"gunicorn\"]\n");
  tree_.Write("app.py", kFlaskApp);
  BuildPlan plan = MustDetect();
  EXPECT_EQ(plan.details["dependency_source"], "pyproject.toml");
  EXPECT_EQ(plan.app_name, "shop");
  EXPECT_EQ(Requirements(), "flask>=2\ngunicorn\n");
}

TEST_F(PythonDetectTest, ToolOnlyPyprojectFallsThroughToTheNextManifest) {
  tree_.Write("pyproject.toml", "[tool.black]\nline-length = 100\n");
  tree_.Write("Pipfile.lock", R"({"default": {"flask": {"version": "==2.2.2"},
      "gunicorn": {"version": "==20.1.0", "markers": "sys_platform == 'linux'"}},
      "develop": {"pytest": {"version": "==7.0"}}})");
  tree_.Write("app.py", kFlaskApp);
  BuildPlan plan = MustDetect();
  EXPECT_EQ(plan.details["dependency_source"], "Pipfile.lock");
  EXPECT_EQ(Requirements(), "flask==2.2.2\ngunicorn==20.1.0 ; sys_platform == 'linux'\n");
}

TEST_F(PythonDetectTest, PoetryInstallsTheMainGroupFromPoetryLock) {
  tree_.Write("pyproject.toml",
              "[tool.poetry]\nname = \"api\"\n[tool.poetry.dependencies]\npython = \"^3.11\"\n"
              "fastapi = \"^0.100\"\nuvicorn = \"*\"\n");
  tree_.Write("poetry.lock",
              "[[package]]\nname = \"fastapi\"\nversion = \"0.100.0\"\ngroups = [\"main\"]\n\n"
              "[[package]]\nname = \"uvicorn\"\nversion = \"0.23.0\"\ngroups = [\"main\"]\n\n"
              "[[package]]\nname = \"pytest\"\nversion = \"7.4.0\"\ngroups = [\"dev\"]\n");
  tree_.Write("main.py", "from fastapi import FastAPI\napp = FastAPI()\n");
  BuildPlan plan = MustDetect();
  EXPECT_EQ(plan.details["dependency_source"], "poetry.lock");
  EXPECT_EQ(plan.details["dependency_files"], "pyproject.toml,poetry.lock");
  EXPECT_EQ(Requirements(), "fastapi==0.100.0\nuvicorn==0.23.0\n");
}

TEST_F(PythonDetectTest, PoetryWithoutALockSaysToLock) {
  tree_.Write("pyproject.toml", "[tool.poetry]\nname = \"api\"\n");
  auto plan = Detect();
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("poetry lock"));
}

TEST_F(PythonDetectTest, UvLockInstallsWhatTheProjectReachesWithoutDevOrItself) {
  tree_.Write("pyproject.toml", "[project]\nname = \"svc\"\ndependencies = [\"flask\"]\n");
  tree_.Write("uv.lock", R"(version = 1
[[package]]
name = "svc"
version = "0.1.0"
source = { editable = "." }
dependencies = [{ name = "flask" }, { name = "gunicorn", marker = "sys_platform == 'linux'" }]
[package.dev-dependencies]
dev = [{ name = "pytest" }]
[[package]]
name = "flask"
version = "2.2.2"
source = { registry = "https://pypi.org/simple" }
dependencies = [{ name = "werkzeug" }]
[[package]]
name = "werkzeug"
version = "2.2.2"
source = { registry = "https://pypi.org/simple" }
[[package]]
name = "gunicorn"
version = "20.1.0"
source = { registry = "https://pypi.org/simple" }
[[package]]
name = "pytest"
version = "7.4.0"
source = { registry = "https://pypi.org/simple" }
)");
  tree_.Write("app.py", kFlaskApp);
  BuildPlan plan = MustDetect();
  EXPECT_EQ(plan.details["dependency_source"], "uv.lock");
  EXPECT_EQ(Requirements(),
            "flask==2.2.2\ngunicorn==20.1.0 ; sys_platform == 'linux'\nwerkzeug==2.2.2\n");
}

TEST_F(PythonDetectTest, PipfileWithoutLockUsesItsPackages) {
  tree_.Write("Pipfile",
              "[packages]\nflask = \"*\"\ngunicorn = {version = \">=20\", "
              "extras = [\"gevent\"]}\n[dev-packages]\npytest = \"*\"\n");
  tree_.Write("app.py", kFlaskApp);
  BuildPlan plan = MustDetect();
  EXPECT_EQ(Requirements(), "flask\ngunicorn[gevent]>=20\n");
}

TEST_F(PythonDetectTest, SetupPyInstallRequiresIsReadWithoutRunningIt) {
  tree_.Write("setup.py",
              "from setuptools import setup\nDEPS = [\n  'flask>=2',  # web\n  \"gunicorn\",\n]\n"
              "setup(name='legacy', install_requires=DEPS)\n");
  tree_.Write("app.py", kFlaskApp);
  BuildPlan plan = MustDetect();
  EXPECT_EQ(plan.details["dependency_source"], "setup.py");
  EXPECT_EQ(plan.app_name, "legacy");
  EXPECT_EQ(Requirements(), "flask>=2\ngunicorn\n");
}

TEST_F(PythonDetectTest, ComputedInstallRequiresIsAnErrorWithTheFix) {
  tree_.Write("setup.py", "setup(install_requires=open('deps').read().split())\n");
  auto plan = Detect();
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("requirements.txt"));
}

TEST_F(PythonDetectTest, MissingInterpreterIsAnInternalFailureWithTheInstallHint) {
  tree_.Write("main.py", "");
  PythonBuildpackOptions o;
  o.interpreter = std::make_shared<FixedPythonLocator>(
      absl::FailedPreconditionError("install Debian's python3.11"));
  PythonBuildpack buildpack(o);
  auto plan = buildpack.Detect(tree_.path(), {});
  ASSERT_FALSE(plan.ok());
  EXPECT_THAT(std::string(plan.status().message()), HasSubstr("python3.11"));
  EXPECT_EQ(FailureOf(plan.status())->kind, FailureKind::kInternal);
}

TEST(PythonNames, RequirementNamesArePep503Normalised) {
  EXPECT_EQ(python::RequirementName("Flask[async]>=2 ; python_version>'3'"), "flask");
  EXPECT_EQ(python::RequirementName("zope.interface==6"), "zope-interface");
  EXPECT_EQ(python::RequirementName("https://example.com/x.whl"), "");
  EXPECT_EQ(python::RequirementName("--index-url http://x"), "");
}

TEST(PythonDpkg, InstalledVersionComesFromTheStatusFile) {
  std::string status =
      "Package: python3.11\nStatus: install ok installed\nVersion: 3.11.2-6+deb12u6\n\n"
      "Package: python3-pip\nStatus: deinstall ok config-files\nVersion: 23.0\n";
  EXPECT_EQ(DpkgInstalledVersion(status, "python3.11"), "3.11.2-6+deb12u6");
  EXPECT_EQ(DpkgInstalledVersion(status, "python3-pip"), "");
}

}  // namespace
}  // namespace tempa::buildpacks
