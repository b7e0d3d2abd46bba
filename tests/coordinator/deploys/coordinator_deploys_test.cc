// The coordinator's deploy intents, rollbacks and deploy settings, through its gRPC services.
#include <dirent.h>
#include <sys/stat.h>

#include <fstream>
#include <sstream>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/coordinator/deploys/deploy_test_helpers.h"

namespace tempa::coordinator::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Not;

// Every byte of every file under `dir`.
std::string AllBytesUnder(const std::string& dir) {
  std::string all;
  DIR* d = opendir(dir.c_str());
  if (d == nullptr) return all;
  while (dirent* entry = readdir(d)) {
    std::string name = entry->d_name;
    if (name == "." || name == "..") continue;
    std::string path = dir + "/" + name;
    struct stat st;
    if (lstat(path.c_str(), &st) != 0) continue;
    if (S_ISDIR(st.st_mode)) {
      all += AllBytesUnder(path);
    } else if (S_ISREG(st.st_mode)) {
      std::ifstream in(path, std::ios::binary);
      std::stringstream content;
      content << in.rdbuf();
      all += content.str();
    }
  }
  closedir(d);
  return all;
}

TEST(CoordinatorDeploysTest, ASucceededBuildIsStoredWithItsPendingIntent) {
  CoordinatorFixture f(WithDeployer());
  MakeApp(f, "api");
  ASSERT_TRUE(SetDeployEnv(f, "api", {{"DATABASE_URL", "postgres://db"}}).ok());
  std::string id = RunBuild(f, "api");

  // The build's own stored record carries the intent: it was written with its success.
  absl::StatusOr<std::optional<v1::Build>> stored = f.store().GetBuild(id);
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->status(), v1::SUCCEEDED);
  const v1::Deploy& deploy = (*stored)->deploy();
  EXPECT_EQ(deploy.id(), "d-" + id);
  EXPECT_EQ(deploy.status(), v1::DEPLOY_PENDING);
  EXPECT_EQ(deploy.app(), "api");
  EXPECT_EQ(deploy.build_id(), id);
  EXPECT_EQ(deploy.commit(), std::string(40, 'c'));
  EXPECT_EQ(deploy.image(), (*stored)->image());
  EXPECT_THAT(deploy.image(), HasSubstr("@sha256:"));
  EXPECT_TRUE(deploy.production());
  EXPECT_THAT(deploy.settings().env_names(), ElementsAre("DATABASE_URL"));

  absl::StatusOr<std::vector<v1::Deploy>> unfinished = f.store().ListUnfinishedDeploys();
  ASSERT_TRUE(unfinished.ok());
  ASSERT_EQ(unfinished->size(), 1u);
  EXPECT_EQ((*unfinished)[0].id(), "d-" + id);
  EXPECT_EQ(GetBuild(f, id).deploy().status(), v1::DEPLOY_PENDING);

  f.Restart();
  v1::ListDeploysResponse listed = ListDeploys(f, "api");
  ASSERT_EQ(listed.deploys_size(), 1);
  EXPECT_EQ(listed.deploys(0).id(), "d-" + id);
}

TEST(CoordinatorDeploysTest, APreviewBranchIsDeployedOnATrackOfItsOwn) {
  CoordinatorFixture f(WithDeployer());
  MakeApp(f, "api");
  std::string id = RunBuild(f, "api", true, "feature/Login_Page");
  v1::Deploy deploy = GetBuild(f, id).deploy();
  EXPECT_FALSE(deploy.production());
  EXPECT_EQ(deploy.track(), "feature-login-page");
  EXPECT_EQ(deploy.branch(), "feature/Login_Page");
}

TEST(CoordinatorDeploysTest, WithoutADeployerNoIntentIsMadeAndRollbackSaysHowToConfigureOne) {
  CoordinatorFixture f;
  MakeApp(f, "api");
  std::string id = RunBuild(f, "api");
  EXPECT_EQ(GetBuild(f, id).status(), v1::SUCCEEDED);
  EXPECT_FALSE(GetBuild(f, id).has_deploy());
  EXPECT_EQ(ListDeploys(f).deploys_size(), 0);
  v1::Deploy deploy;
  grpc::Status status = Rollback(f, "api", id, &deploy);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("--deployer HOST:PORT"));
}

TEST(CoordinatorDeploysTest, AFailedBuildIsNotDeployed) {
  CoordinatorFixture f(WithDeployer());
  MakeApp(f, "api");
  std::string id = RunBuild(f, "api", false);
  EXPECT_EQ(GetBuild(f, id).status(), v1::FAILED);
  EXPECT_FALSE(GetBuild(f, id).has_deploy());
  EXPECT_EQ(ListDeploys(f).deploys_size(), 0);
}

TEST(CoordinatorDeploysTest, RollbackRefusesWhatCannotGoBackLive) {
  CoordinatorFixture f(WithDeployer());
  MakeApp(f, "api");
  MakeApp(f, "web");
  std::string good = RunBuild(f, "api");
  std::string failed = RunBuild(f, "api", false);
  std::string other = RunBuild(f, "web");
  v1::Deploy deploy;

  grpc::Status status = Rollback(f, "api", failed, &deploy);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("FAILED"));

  status = Rollback(f, "api", other, &deploy);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("of app web"));

  status = Rollback(f, "api", "b-999", &deploy);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("no build b-999"));

  // Nothing was ever DEPLOYED: no default target.
  status = Rollback(f, "api", "", &deploy);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_THAT(status.error_message(), HasSubstr("--to BUILD_ID"));

  status = Rollback(f, "nope", good, &deploy);
  EXPECT_EQ(status.error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST(CoordinatorDeploysTest, RollbackDefaultsToTheProductionBuildLiveBeforeTheCurrentOne) {
  CoordinatorFixture f(WithDeployer());
  MakeApp(f, "api");
  std::string first = RunBuild(f, "api");
  f.clock().Advance(absl::Minutes(1));
  std::string second = RunBuild(f, "api");
  for (const std::string& id : {first, second}) {
    v1::Deploy update;
    update.set_id("d-" + id);
    update.set_status(v1::DEPLOYED);
    ASSERT_TRUE(f.core().RecordDeploy(update).ok());
  }
  f.clock().Advance(absl::Minutes(1));
  v1::Deploy deploy;
  grpc::Status status = Rollback(f, "api", "", &deploy);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_EQ(deploy.id(), "r-1");
  EXPECT_EQ(deploy.build_id(), first);
  EXPECT_TRUE(deploy.rollback());
  EXPECT_TRUE(deploy.production());
  EXPECT_EQ(deploy.status(), v1::DEPLOY_PENDING);

  // Durable before the answer, and the numbering survives a restart.
  f.Restart();
  absl::StatusOr<std::optional<v1::Deploy>> stored = f.store().GetDeploy("r-1");
  ASSERT_TRUE(stored.ok() && stored->has_value());
  EXPECT_EQ((*stored)->build_id(), first);
  ASSERT_TRUE(Rollback(f, "api", second, &deploy).ok());
  EXPECT_EQ(deploy.id(), "r-2");
  v1::ListDeploysResponse listed = ListDeploys(f, "api");
  ASSERT_EQ(listed.deploys_size(), 4);
  EXPECT_EQ(listed.deploys(0).id(), "r-2");  // newest first
}

TEST(CoordinatorDeploysTest, DeployEnvValuesAreSealedAtRestAndNeverAnswered) {
  CoordinatorFixture f(WithDeployer());
  MakeApp(f, "api");
  const std::string secret = "postgres://app:s3cr3t-pa55word@db:5432/app";
  v1::App answer;
  grpc::Status status =
      SetDeployEnv(f, "api", {{"DATABASE_URL", secret}, {"API_KEY", "key-zz9-plural"}}, &answer);
  ASSERT_TRUE(status.ok()) << status.error_message();
  EXPECT_THAT(answer.deploy().env_names(), ElementsAre("API_KEY", "DATABASE_URL"));

  v1::ListAppsResponse apps;
  ASSERT_TRUE(f.Control()->ListApps(f.Context().get(), v1::ListAppsRequest(), &apps).ok());
  v1::GetAppRequest get;
  get.set_name("api");
  v1::App got;
  ASSERT_TRUE(f.Control()->GetApp(f.Context().get(), get, &got).ok());
  std::string build_id = RunBuild(f, "api");
  std::string answered = answer.SerializeAsString() + apps.SerializeAsString() +
                         got.SerializeAsString() + GetBuild(f, build_id).SerializeAsString() +
                         ListDeploys(f).SerializeAsString();
  EXPECT_THAT(answered, Not(HasSubstr("s3cr3t-pa55word")));
  EXPECT_THAT(answered, Not(HasSubstr("key-zz9-plural")));

  f.Restart();  // everything flushed to the data dir
  std::string on_disk = AllBytesUnder(f.data_dir());
  EXPECT_THAT(on_disk, HasSubstr("DATABASE_URL"));  // the scan does see the records
  EXPECT_THAT(on_disk, Not(HasSubstr("s3cr3t-pa55word")));
  EXPECT_THAT(on_disk, Not(HasSubstr("key-zz9-plural")));

  // Only the dispatcher's way to the deployer opens them.
  absl::StatusOr<std::map<std::string, std::string>> env = f.core().DeployEnv("api");
  ASSERT_TRUE(env.ok()) << env.status();
  EXPECT_EQ((*env)["DATABASE_URL"], secret);

  // An empty env removes it.
  ASSERT_TRUE(SetDeployEnv(f, "api", {}, &answer).ok());
  EXPECT_TRUE(answer.deploy().env_names().empty());
  env = f.core().DeployEnv("api");
  ASSERT_TRUE(env.ok());
  EXPECT_TRUE(env->empty());
}

TEST(CoordinatorDeploysTest, DeploySettingsAreValidatedNamingTheFix) {
  CoordinatorFixture f(WithDeployer());
  MakeApp(f, "api");
  auto update = [&](const std::string& field, auto set) {
    v1::UpdateAppRequest request;
    request.mutable_app()->set_name("api");
    request.add_update_mask(field);
    set(request.mutable_app()->mutable_deploy());
    v1::App app;
    return f.Control()->UpdateApp(f.Context().get(), request, &app);
  };
  grpc::Status ok =
      update("deploy.memory_bytes", [](v1::DeploySettings* d) { d->set_memory_bytes(256 << 20); });
  EXPECT_TRUE(ok.ok()) << ok.error_message();
  EXPECT_TRUE(update("deploy.replicas", [](v1::DeploySettings* d) { d->set_replicas(3); }).ok());
  grpc::Status status =
      update("deploy.max_replicas", [](v1::DeploySettings* d) { d->set_max_replicas(2); });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("below the replica count 3"));
  status = update("deploy.memory_bytes", [](v1::DeploySettings* d) { d->set_memory_bytes(1); });
  EXPECT_THAT(status.error_message(), HasSubstr("256Mi"));
  status = update("deploy.health_path", [](v1::DeploySettings* d) { d->set_health_path("hz"); });
  EXPECT_THAT(status.error_message(), HasSubstr("start with \"/\""));
  status = update("deploy.port", [](v1::DeploySettings* d) { d->set_port(70000); });
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);

  status = SetDeployEnv(f, "api", {{"1BAD", "x"}});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("not a valid name"));
  status = SetDeployEnv(f, "api", {{"PORT", "9000"}});
  EXPECT_THAT(status.error_message(), HasSubstr("--port"));
  status = SetDeployEnv(f, "api", {{"TOKEN", std::string("a\0b", 3)}});
  EXPECT_EQ(status.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_THAT(status.error_message(), HasSubstr("TOKEN"));

  v1::GetAppRequest get;
  get.set_name("api");
  v1::App app;
  ASSERT_TRUE(f.Control()->GetApp(f.Context().get(), get, &app).ok());
  EXPECT_EQ(app.deploy().memory_bytes(), 256 << 20);
  EXPECT_EQ(app.deploy().replicas(), 3);
  EXPECT_EQ(app.deploy().max_replicas(), 0);  // the refused change left nothing behind
}

TEST(CoordinatorDeploysTest, AReadOnlyTokenListsDeploysButCannotRollBack) {
  CoordinatorFixture f(WithDeployer());
  MakeApp(f, "api");
  std::string id = RunBuild(f, "api");
  v1::ListDeploysResponse listed;
  EXPECT_TRUE(f.Control()
                  ->ListDeploys(f.Context(kReaderToken).get(), v1::ListDeploysRequest(), &listed)
                  .ok());
  EXPECT_EQ(listed.deploys_size(), 1);
  v1::RollbackAppRequest request;
  request.set_app("api");
  request.set_to_build_id(id);
  v1::Deploy deploy;
  EXPECT_EQ(f.Control()->RollbackApp(f.Context(kReaderToken).get(), request, &deploy).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(f.Control()->RollbackApp(f.Context(kWorkerToken).get(), request, &deploy).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

}  // namespace
}  // namespace tempa::coordinator::testing
