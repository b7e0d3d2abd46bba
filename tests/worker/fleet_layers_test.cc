// The fleet-wide layer cache, worker side, against the real docker-registry: a second app with
// the same lockfile, built on another worker (a fresh CAS), reuses the first app's dependency
// layer through the index — its installer never runs, the blob is mounted, not uploaded, and
// the image it pushes is complete. A layer the index names but the registry lost is built; a
// registry refusing the mount gets the blob downloaded from its source and uploaded.
#include <stdio.h>
#include <sys/stat.h>

#include <algorithm>
#include <fstream>
#include <map>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/fake_registry.h"
#include "tests/support/registry_server.h"
#include "tests/support/temp_dir.h"
#include "tests/worker/scripted_app.h"
#include "worker/worker_runtime.h"

namespace tempa::worker {
namespace {

using ::testing::Contains;
using ::testing::Not;

// The coordinator's index, in memory.
class InMemoryLayerIndex : public RemoteLayerIndex {
 public:
  absl::StatusOr<std::optional<RemoteLayer>> Find(const std::string& key) override {
    absl::MutexLock lock(&mu_);
    auto it = layers_.find(key);
    if (it == layers_.end()) return std::nullopt;
    return it->second;
  }
  absl::Status Put(const std::string& key, const oci::LayerRecord& record,
                   const std::string& repository) override {
    absl::MutexLock lock(&mu_);
    layers_[key] = RemoteLayer{record, repository};
    return absl::OkStatus();
  }
  std::map<std::string, RemoteLayer> layers() {
    absl::MutexLock lock(&mu_);
    return layers_;
  }
  void Replace(const RemoteLayer& layer) {
    absl::MutexLock lock(&mu_);
    for (auto& [key, value] : layers_) value = layer;
  }

 private:
  absl::Mutex mu_;
  std::map<std::string, RemoteLayer> layers_ ABSL_GUARDED_BY(mu_);
};

// Exit code of `command` run by /bin/sh, its output appended to `output`.
int Shell(const std::string& command, std::string* output) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe)) output->append(buf, n);
  return WEXITSTATUS(::pclose(pipe));
}

class FleetLayersTest : public ::testing::Test {
 protected:
  void SetUp() override {
    if (!testing::RegistryServer::Available()) GTEST_SKIP() << "docker-registry not installed";
    ::chmod(tmp_.path().c_str(), 0711);
    absl::StatusOr<std::unique_ptr<testing::RegistryServer>> registry =
        testing::RegistryServer::Start();
    ASSERT_TRUE(registry.ok()) << registry.status();
    registry_ = *std::move(registry);
    const std::string installer = "echo installing\necho dependency > dep.txt\n";
    testing::WriteScriptedApp(tmp_.Join("a"), "same lockfile", installer, "app a");
    testing::WriteScriptedApp(tmp_.Join("b"), "same lockfile", installer, "app b");
  }

  // One worker: its own cache directory (a fresh CAS), sharing the fleet's index.
  std::unique_ptr<WorkerRuntime> Worker(const std::string& name, bool fleet = true) {
    WorkerRuntimeOptions options;
    options.cache_dir = tmp_.Join(name);
    options.detector = std::make_shared<buildpacks::Detector>(testing::ScriptedDetector());
    if (fleet) options.remote_layers = &index_;
    absl::StatusOr<std::unique_ptr<WorkerRuntime>> runtime = WorkerRuntime::Open(options);
    EXPECT_TRUE(runtime.ok()) << runtime.status();
    return runtime.ok() ? *std::move(runtime) : nullptr;
  }

  // Builds `app` as REGISTRY/team/<app>:1 on `worker`, collecting its log.
  absl::StatusOr<JobOutcome> BuildApp(WorkerRuntime& worker, const std::string& app,
                                      std::vector<std::string>* log, std::string registry = "",
                                      std::map<std::string, std::string> build_env = {}) {
    if (registry.empty()) registry = registry_->host_port();
    BuildRequest request;
    request.source_dir = tmp_.Join(app);
    request.image = *registry::ImageReference::Parse(absl::StrCat(registry, "/team/", app, ":1"));
    request.source_date_epoch = 1700000000;
    request.build_env = std::move(build_env);
    JobContext context;
    context.log = [log](absl::string_view line) { log->emplace_back(line); };
    return worker.Build(request, context);
  }

  testing::TempDir tmp_{"fleet-layers-test-"};
  std::unique_ptr<testing::RegistryServer> registry_;
  InMemoryLayerIndex index_;
};

TEST_F(FleetLayersTest, ASecondAppWithTheSameLockfileMountsTheFirstAppsDepsLayer) {
  std::unique_ptr<WorkerRuntime> worker_a = Worker("worker-a");
  std::unique_ptr<WorkerRuntime> worker_b = Worker("worker-b");
  ASSERT_TRUE(worker_a && worker_b);
  std::vector<std::string> log_a, log_b;
  absl::StatusOr<JobOutcome> a = BuildApp(*worker_a, "a", &log_a);
  ASSERT_TRUE(a.ok()) << a.status() << "\n" << registry_->log();
  EXPECT_THAT(log_a, Contains("installing"));
  ASSERT_EQ(index_.layers().size(), 1u) << "the deps layer built by A is in the fleet's index";
  const oci::LayerRecord deps = a->build.layers[0].record;
  EXPECT_EQ(index_.layers().begin()->second.repository, registry_->host_port() + "/team/a");

  absl::StatusOr<JobOutcome> b = BuildApp(*worker_b, "b", &log_b);
  ASSERT_TRUE(b.ok()) << b.status() << "\n" << registry_->log();
  EXPECT_THAT(log_b, Not(Contains("installing"))) << "B ran the installer";
  ASSERT_EQ(b->build.layers.size(), 2u);
  EXPECT_TRUE(b->build.layers[0].reused);
  EXPECT_EQ(b->build.layers[0].reused_from, registry_->host_port() + "/team/a");
  EXPECT_EQ(b->build.layers[0].record, deps);
  EXPECT_GE(b->build.blobs_mounted, 1);
  EXPECT_FALSE(*worker_b->cas().blobs().Contains(deps.blob.digest)) << "B fetched the layer";
  // Every blob B's manifest names is there: skopeo fetches and verifies each one.
  std::string output;
  int copied = Shell(absl::StrCat("skopeo copy --src-tls-verify=false docker://", b->build.image,
                                  " oci:", tmp_.Join("copy-b"), ":b"),
                     &output);
  EXPECT_EQ(copied, 0) << output;
}

// A later step that needs the deps layer's files (Python's collectstatic) gets them through
// BuildContext::extract_layer: from the blob store when built or reused here, and from the
// registry (verified against its digest and diff_id) when the fleet supplied the layer.
TEST_F(FleetLayersTest, AStepUnpacksTheDepsLayerThisBuildHasWhereverItCameFrom) {
  for (const char* app : {"a", "b"})
    testing::WriteFileOrDie(tmp_.Join(app) + "/app.unpacks-deps", "");
  std::unique_ptr<WorkerRuntime> worker_a = Worker("worker-a");
  std::unique_ptr<WorkerRuntime> worker_b = Worker("worker-b");
  ASSERT_TRUE(worker_a && worker_b);
  std::vector<std::string> log_a, log_b;
  absl::StatusOr<JobOutcome> a = BuildApp(*worker_a, "a", &log_a);  // built here
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<JobOutcome> b = BuildApp(*worker_b, "b", &log_b);  // from the fleet
  ASSERT_TRUE(b.ok()) << b.status();
  ASSERT_FALSE(b->build.layers[0].reused_from.empty());
  EXPECT_TRUE(*worker_b->cas().blobs().Contains(b->build.layers[0].record.blob.digest))
      << "B fetched the deps layer to unpack it";
  testing::WriteFileOrDie(tmp_.Join("a") + "/app.txt", "app a, again");
  absl::StatusOr<JobOutcome> again = BuildApp(*worker_a, "a", &log_a);  // reused from the cache
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_TRUE(again->build.layers[0].reused);
  const std::pair<WorkerRuntime*, const JobOutcome*> builds[] = {
      {worker_a.get(), &*a}, {worker_b.get(), &*b}, {worker_a.get(), &*again}};
  for (const auto& [worker, outcome] : builds) {
    absl::StatusOr<std::string> blob =
        worker->cas().blobs().Path(outcome->build.layers[1].record.blob.digest);
    ASSERT_TRUE(blob.ok()) << blob.status();
    std::string copy;
    EXPECT_EQ(Shell(absl::StrCat("tar -xzOf ", *blob, " --wildcards '*dep-copy.txt'"), &copy), 0);
    EXPECT_EQ(copy, "dependency\n") << outcome->build.image;
  }
}

// Regression: the fleet key wrote the build env as "env NAME=VALUE" lines, so an app whose env
// held one value with a newline ("1\nenv B=2", which tempa.toml allows) got the key of an app
// with two entries, A=1 and B=2, and the layer one of them made under its own env.
TEST_F(FleetLayersTest, AnEnvValueWithANewlineDoesNotTakeTheLayerOfTwoEntries) {
  std::unique_ptr<WorkerRuntime> worker_a = Worker("worker-a");
  std::unique_ptr<WorkerRuntime> worker_b = Worker("worker-b");
  ASSERT_TRUE(worker_a && worker_b);
  std::vector<std::string> log_a, log_b;
  absl::StatusOr<JobOutcome> a = BuildApp(*worker_a, "a", &log_a, "", {{"A", "1"}, {"B", "2"}});
  ASSERT_TRUE(a.ok()) << a.status();
  ASSERT_EQ(index_.layers().size(), 1u);
  absl::StatusOr<JobOutcome> b = BuildApp(*worker_b, "b", &log_b, "", {{"A", "1\nenv B=2"}});
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_THAT(log_b, Contains("installing")) << "B took A's layer";
  EXPECT_FALSE(b->build.layers[0].reused);
  EXPECT_EQ(index_.layers().size(), 2u);
}

// The worker's own action cache, without the fleet: the same app's deps layer is reused with
// the same lockfile and env, and built again when either changes.
TEST_F(FleetLayersTest, OnOneWorkerAChangedLockfileOrBuildEnvIsAMissAndTheSameInputsAHit) {
  std::unique_ptr<WorkerRuntime> worker = Worker("worker-a", /*fleet=*/false);
  ASSERT_TRUE(worker);
  auto deps_reused = [&](std::map<std::string, std::string> env) -> bool {
    std::vector<std::string> log;
    absl::StatusOr<JobOutcome> built = BuildApp(*worker, "a", &log, "", std::move(env));
    EXPECT_TRUE(built.ok()) << built.status();
    if (!built.ok()) return false;
    bool installed = std::find(log.begin(), log.end(), "installing") != log.end();
    EXPECT_NE(installed, built->build.layers[0].reused);
    return built->build.layers[0].reused;
  };
  EXPECT_FALSE(deps_reused({{"A", "1"}}));
  EXPECT_TRUE(deps_reused({{"A", "1"}}));
  EXPECT_FALSE(deps_reused({{"A", "2"}}));
  EXPECT_FALSE(deps_reused({{"A", "2"}, {"B", "1"}}));
  EXPECT_TRUE(deps_reused({{"B", "1"}, {"A", "2"}}));  // the same env, given in another order
  testing::WriteScriptedApp(tmp_.Join("a"), "another lockfile",
                            "echo installing\necho dependency > dep.txt\n", "app a");
  EXPECT_FALSE(deps_reused({{"A", "2"}, {"B", "1"}}));
  EXPECT_TRUE(index_.layers().empty());
}

TEST_F(FleetLayersTest, ALayerTheIndexNamesButTheRegistryLostIsBuiltHere) {
  std::unique_ptr<WorkerRuntime> worker_a = Worker("worker-a");
  std::unique_ptr<WorkerRuntime> worker_b = Worker("worker-b");
  ASSERT_TRUE(worker_a && worker_b);
  std::vector<std::string> log_a, log_b;
  absl::StatusOr<JobOutcome> a = BuildApp(*worker_a, "a", &log_a);
  ASSERT_TRUE(a.ok()) << a.status();
  // The index now points at a repository that never held the layer.
  index_.Replace({a->build.layers[0].record, registry_->host_port() + "/team/elsewhere"});
  absl::StatusOr<JobOutcome> b = BuildApp(*worker_b, "b", &log_b);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_THAT(log_b, Contains("installing"));
  EXPECT_FALSE(b->build.layers[0].reused);
  EXPECT_EQ(index_.layers().begin()->second.repository, registry_->host_port() + "/team/b");
}

// A deps layer its buildpack cannot make from the lockfile alone (the app's own code or cache
// went into it) is this app's: never recorded for the fleet, so another app with the same
// lockfile installs its own.
TEST_F(FleetLayersTest, ADepsLayerMadeByTheAppsOwnCodeIsNeverSharedAcrossApps) {
  testing::WriteScriptedApp(tmp_.Join("a"), "same lockfile",
                            "echo installing\necho planted > dep.txt\n", "app a");
  std::ofstream(tmp_.Join("a/deps.own-code")) << "";
  std::unique_ptr<WorkerRuntime> worker_a = Worker("worker-a");
  std::unique_ptr<WorkerRuntime> worker_b = Worker("worker-b");
  ASSERT_TRUE(worker_a && worker_b);
  std::vector<std::string> log_a, log_b;
  absl::StatusOr<JobOutcome> a = BuildApp(*worker_a, "a", &log_a);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(index_.layers().empty()) << "A's own deps layer went to the fleet's index";
  absl::StatusOr<JobOutcome> b = BuildApp(*worker_b, "b", &log_b);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_THAT(log_b, Contains("installing"));
  EXPECT_FALSE(b->build.layers[0].reused);
  EXPECT_NE(b->build.layers[0].record, a->build.layers[0].record);
  ASSERT_EQ(index_.layers().size(), 1u);
  EXPECT_EQ(index_.layers().begin()->second.repository, registry_->host_port() + "/team/b");
}

TEST_F(FleetLayersTest, ARefusedMountIsReplacedByADownloadFromTheSourceAndAnUpload) {
  testing::FakeRegistry::Options refusing;
  refusing.refuse_mounts = true;
  testing::FakeRegistry fake(refusing);
  std::unique_ptr<WorkerRuntime> worker_a = Worker("worker-a");
  std::unique_ptr<WorkerRuntime> worker_b = Worker("worker-b");
  ASSERT_TRUE(worker_a && worker_b);
  std::vector<std::string> log_a, log_b;
  absl::StatusOr<JobOutcome> a = BuildApp(*worker_a, "a", &log_a, fake.host_port());
  ASSERT_TRUE(a.ok()) << a.status();
  absl::StatusOr<JobOutcome> b = BuildApp(*worker_b, "b", &log_b, fake.host_port());
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_THAT(log_b, Not(Contains("installing")));
  EXPECT_TRUE(b->build.layers[0].reused);
  EXPECT_EQ(b->build.blobs_mounted, 0);
  const Digest deps = a->build.layers[0].record.blob.digest;
  EXPECT_TRUE(fake.HasBlob("team/b", deps.ToString()));
  EXPECT_TRUE(*worker_b->cas().blobs().Contains(deps)) << "fetched from team/a, then uploaded";
}

}  // namespace
}  // namespace tempa::worker
