// The Python dependency layer for real: Debian's python3.11 and pip in the bubblewrap sandbox,
// installing a wheel this test makes from a PEP 503 index on loopback. Checks the venv's shape
// (fixed /opt/venv paths, no bytecode), that two clean installs give the same layer digest, that
// the venv imports its package, and that an offline build names the missing package and the fix.
#include <unistd.h>

#include <filesystem>

#include "absl/strings/match.h"
#include "buildpacks/python/python_buildpack.h"
#include "common/build_error.h"
#include "common/oci/layer_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "temp_tree.h"
#include "tests/support/dir_blob_store.h"
#include "tests/support/pypi_index.h"
#include "worker/sandbox/bubblewrap_sandbox.h"

namespace tempa::buildpacks {
namespace {

using test_support::ReadFileOrEmpty;
using test_support::TempTree;
using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

class PythonBuildIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    wheels_ = new TempTree();
    index_dir_ = new TempTree();
    auto wheel = testing::MakePureWheel(wheels_->path(), "tempa-tiny", "1.0");
    if (!wheel.ok()) return;
    auto index = testing::PypiIndex::Start(index_dir_->path(), {*wheel});
    if (index.ok()) index_ = index->release();
  }
  static void TearDownTestSuite() {
    delete index_;
    delete index_dir_;
    delete wheels_;
  }

  void SetUp() override {
    if (access("/usr/bin/bwrap", X_OK) != 0) GTEST_SKIP() << "bubblewrap not installed";
    if (!HostPythonLocator().Locate().ok()) GTEST_SKIP() << "Debian's python3.11 not installed";
    ASSERT_NE(index_, nullptr) << "could not build the test wheel or start the index";
    src_.Write("requirements.txt", "tempa-tiny==1.0\n");
    src_.Write("main.py", "import tempa_tiny\nprint(tempa_tiny.hello())\n");
  }

  // Plans and produces the deps layer in a fresh scratch directory.
  absl::StatusOr<LayerOutput> Deps(const TempTree& scratch,
                                   std::map<std::string, std::string> env) {
    PythonBuildpackOptions o;
    o.base_layer = [](const runbase::DebianBaseOptions&) -> absl::StatusOr<PlannedLayer> {
      return PlannedLayer{LayerRole::kBase, "unused", nullptr};
    };
    PythonBuildpack buildpack(o);
    auto plan = buildpack.Detect(src_.path(), {});
    if (!plan.ok()) return plan.status();
    // As the pipeline does: the build user owns the directories the build writes.
    for (const std::string& dir : {scratch.path(), cache_.path()}) {
      if (absl::Status s = PrepareForSandbox(dir, SandboxOptions()); !s.ok()) return s;
    }
    BuildContext context;
    context.source_dir = src_.path();
    context.scratch_dir = scratch.path();
    context.cache_dir = cache_.path();
    context.build_env = std::move(env);
    context.sandbox = &sandbox_;
    context.log = [this](absl::string_view line) { log_ += std::string(line) + "\n"; };
    auto recipe = buildpack.Prepare(**plan, context);
    if (!recipe.ok()) return recipe.status();
    return recipe->layers[1].produce();
  }
  std::map<std::string, std::string> IndexEnv() { return {{"PIP_INDEX_URL", index_->url()}}; }

  static TempTree* wheels_;
  static TempTree* index_dir_;
  static testing::PypiIndex* index_;
  static BubblewrapSandboxOptions SandboxOptions() {
    BubblewrapSandboxOptions options;
    // pip's egress runs through tempa-netbridge, built next to the tempa binary.
    options.netbridge_path = TEMPA_BINARY_DIR "/worker/tempa-netbridge";
    return options;
  }

  TempTree src_, cache_;
  BubblewrapSandbox sandbox_{SandboxOptions()};
  std::string log_;
};

TempTree* PythonBuildIntegrationTest::wheels_ = nullptr;
TempTree* PythonBuildIntegrationTest::index_dir_ = nullptr;
testing::PypiIndex* PythonBuildIntegrationTest::index_ = nullptr;

TEST_F(PythonBuildIntegrationTest, InstallsIntoAFixedVenvWithoutBytecodeAndRunsIt) {
  TempTree scratch;
  auto layer = Deps(scratch, IndexEnv());
  ASSERT_TRUE(layer.ok()) << layer.status() << "\n" << log_;
  std::map<std::string, oci::LayerEntry> entries;
  for (const oci::LayerEntry& e : layer->spec.entries()) entries[e.path] = e;
  EXPECT_TRUE(entries.count("opt/venv/lib/python3.11/site-packages/tempa_tiny/__init__.py"));
  EXPECT_TRUE(entries.count("opt/venv/pyvenv.cfg"));
  ASSERT_TRUE(entries.count("opt/venv/bin/python3.11")) << [&] {
    std::string all;
    for (const auto& [path, e] : entries) all += path + "\n";
    return all;
  }();
  EXPECT_EQ(entries["opt/venv/bin/python3.11"].type, oci::LayerEntry::Type::kSymlink);
  EXPECT_EQ(entries["opt/venv/bin/python3.11"].link_target, "/usr/bin/python3.11");
  for (const auto& [path, e] : entries) {
    EXPECT_FALSE(absl::EndsWith(path, ".pyc")) << path;
    EXPECT_THAT(path, Not(HasSubstr("__pycache__")));
  }
  EXPECT_THAT(ReadFileOrEmpty(scratch / "venv/pyvenv.cfg"), HasSubstr("home = /usr/bin"));
  EXPECT_THAT(log_, HasSubstr("Successfully installed tempa-tiny-1.0"));

  // The venv works where the image puts it.
  SandboxCommand run;
  run.argv = {"/opt/venv/bin/python", "-c", "import tempa_tiny; print(tempa_tiny.hello())"};
  run.env = {{"PATH", "/usr/bin:/bin"}, {"PYTHONDONTWRITEBYTECODE", "1"}};
  run.mounts = {{scratch / "venv", "/opt/venv", false}};
  std::string out;
  run.on_output = [&](absl::string_view line) { out += std::string(line); };
  auto ran = sandbox_.Run(run);
  ASSERT_TRUE(ran.ok()) << ran.status();
  EXPECT_TRUE(ran->ok()) << ran->log_tail;
  EXPECT_EQ(out, "hello from tempa-tiny");
}

TEST_F(PythonBuildIntegrationTest, TwoCleanInstallsGiveTheSameLayerDigest) {
  TempTree scratch1, scratch2, store_dir;
  auto first = Deps(scratch1, IndexEnv());
  ASSERT_TRUE(first.ok()) << first.status();
  // A cold pip cache the second time too.
  std::filesystem::remove_all(cache_ / "python");
  auto second = Deps(scratch2, IndexEnv());
  ASSERT_TRUE(second.ok()) << second.status();
  testing::DirBlobStore store(store_dir.path());
  auto a = oci::WriteLayer(first->spec, {}, store);
  auto b = oci::WriteLayer(second->spec, {}, store);
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(a->blob.digest, b->blob.digest);
}

TEST_F(PythonBuildIntegrationTest, OfflineBuildNamesTheMissingPackageAndTheFix) {
  TempTree scratch;
  auto layer = Deps(scratch, {});
  ASSERT_FALSE(layer.ok());
  std::string message(layer.status().message());
  EXPECT_THAT(message, HasSubstr("tempa-tiny==1.0"));
  EXPECT_THAT(message, HasSubstr("PIP_INDEX_URL"));
  EXPECT_EQ(FailureOf(layer.status())->kind, FailureKind::kDependencyResolution);
}

}  // namespace
}  // namespace tempa::buildpacks
