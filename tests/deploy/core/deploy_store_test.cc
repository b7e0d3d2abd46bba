#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>

#include "absl/strings/match.h"
#include "deploy/core/rocksdb_deploy_store.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace tempa::deploy {
namespace {

using tempa::v1::Deploy;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

Deploy Record(const std::string& id, const std::string& app,
              tempa::v1::DeployStatus status = tempa::v1::DEPLOY_PENDING) {
  Deploy d;
  d.set_id(id);
  d.set_app(app);
  d.set_status(status);
  d.set_image(app + "@sha256:" + std::string(64, 'c'));
  return d;
}

std::vector<std::string> Ids(const std::vector<Deploy>& deploys) {
  std::vector<std::string> ids;
  for (const Deploy& d : deploys) ids.push_back(d.id());
  return ids;
}

// Every byte of every file under `dir`, concatenated.
std::string AllBytes(const std::string& dir) {
  std::string all;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(dir)) {
    if (!entry.is_regular_file()) continue;
    std::ifstream in(entry.path(), std::ios::binary);
    all.append(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
  }
  return all;
}

TEST(RocksdbDeployStoreTest, ListsNewestFirstPerAppAndInAll) {
  tempa::testing::TempDir dir;
  auto store = OpenDeployStoreInWorkDir(dir.path());
  ASSERT_TRUE(store.ok()) << store.status();
  for (const char* id : {"d-1", "d-2", "d-3"}) ASSERT_TRUE((*store)->Put(Record(id, "web")).ok());
  ASSERT_TRUE((*store)->Put(Record("d-4", "api")).ok());
  // Rewriting an old record keeps its place.
  ASSERT_TRUE((*store)->Put(Record("d-1", "web", tempa::v1::DEPLOYED)).ok());

  EXPECT_THAT(Ids(*(*store)->List("web", 10)), ElementsAre("d-3", "d-2", "d-1"));
  EXPECT_THAT(Ids(*(*store)->List("web", 2)), ElementsAre("d-3", "d-2"));
  EXPECT_THAT(Ids(*(*store)->List("api", 10)), ElementsAre("d-4"));
  EXPECT_THAT(Ids(*(*store)->List("we", 10)), ElementsAre());
  EXPECT_THAT(Ids(*(*store)->List("", 10)), ElementsAre("d-4", "d-3", "d-2", "d-1"));
  EXPECT_EQ((*store)->Get("d-1")->status(), tempa::v1::DEPLOYED);
  EXPECT_EQ((*store)->Get("nope").status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(Ids(*(*store)->ListUnfinished()), ElementsAre("d-2", "d-3", "d-4"));
}

TEST(RocksdbDeployStoreTest, ARecordMovedToAnotherAppIsRefused) {
  tempa::testing::TempDir dir;
  auto store = OpenDeployStoreInWorkDir(dir.path());
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Put(Record("d-1", "web")).ok());
  EXPECT_EQ((*store)->Put(Record("d-1", "api")).code(), absl::StatusCode::kFailedPrecondition);
}

TEST(RocksdbDeployStoreTest, RecordsAndOrderSurviveReopening) {
  tempa::testing::TempDir dir;
  {
    auto store = OpenDeployStoreInWorkDir(dir.path());
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->Put(Record("d-1", "web")).ok());
    ASSERT_TRUE((*store)->Put(Record("d-2", "web", tempa::v1::DEPLOYING)).ok());
  }
  auto store = OpenDeployStoreInWorkDir(dir.path());
  ASSERT_TRUE(store.ok()) << store.status();
  ASSERT_TRUE((*store)->Put(Record("d-3", "web")).ok());
  EXPECT_THAT(Ids(*(*store)->List("web", 10)), ElementsAre("d-3", "d-2", "d-1"));
  EXPECT_THAT(Ids(*(*store)->ListUnfinished()), ElementsAre("d-1", "d-2", "d-3"));
}

TEST(RocksdbDeployStoreTest, EnvIsSealedOnDiskAndDroppedWhenTheDeployEnds) {
  tempa::testing::TempDir dir;
  const std::string secret = "postgres://admin:Tr0ub4dor-and-3@db/prod";
  {
    auto store = OpenDeployStoreInWorkDir(dir.path());
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->PutWithEnv(Record("d-secret-1", "web"), {{"DATABASE_URL", secret}}).ok());
    absl::StatusOr<EnvMap> env = (*store)->GetEnv("d-secret-1");
    ASSERT_TRUE(env.ok()) << env.status();
    EXPECT_EQ((*env)["DATABASE_URL"], secret);
  }
  std::string bytes = AllBytes(dir.path());
  // The grep works: the record's id is there in clear.
  EXPECT_TRUE(absl::StrContains(bytes, "d-secret-1"));
  EXPECT_FALSE(absl::StrContains(bytes, "Tr0ub4dor")) << "an env value is on disk in clear";

  auto store = OpenDeployStoreInWorkDir(dir.path());
  ASSERT_TRUE(store.ok()) << store.status();
  EXPECT_EQ((*(*store)->GetEnv("d-secret-1"))["DATABASE_URL"], secret);
  ASSERT_TRUE((*store)->Put(Record("d-secret-1", "web", tempa::v1::DEPLOYED)).ok());
  EXPECT_TRUE((*store)->GetEnv("d-secret-1")->empty());
}

TEST(RocksdbDeployStoreTest, TheKeyFileIsPrivateAndAnotherKeyCannotOpenTheEnv) {
  tempa::testing::TempDir dir;
  {
    auto store = OpenDeployStoreInWorkDir(dir.path());
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE((*store)->PutWithEnv(Record("d-1", "web"), {{"K", "value-123456"}}).ok());
  }
  struct stat st;
  ASSERT_EQ(stat(dir.Join("deployer.key").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600);
  ASSERT_EQ(stat(dir.Join("deploys").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0077, 0);

  ASSERT_EQ(unlink(dir.Join("deployer.key").c_str()), 0);
  auto store = OpenDeployStoreInWorkDir(dir.path());  // a fresh key
  ASSERT_TRUE(store.ok()) << store.status();
  absl::StatusOr<EnvMap> env = (*store)->GetEnv("d-1");
  EXPECT_EQ(env.status().code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(env.status().message(), HasSubstr("deployer.key"));
}

TEST(RocksdbDeployStoreTest, AHostBelongsToTheFirstAppThatClaimsItAndSurvivesReopening) {
  tempa::testing::TempDir dir;
  {
    auto store = OpenDeployStoreInWorkDir(dir.path());
    ASSERT_TRUE(store.ok()) << store.status();
    ASSERT_TRUE(
        (*store)->ClaimHosts("web", {"web-api.example.com", "web-1234567.example.com"}).ok());
    ASSERT_TRUE((*store)->ClaimHosts("web", {"web-api.example.com"}).ok());
  }
  auto store = OpenDeployStoreInWorkDir(dir.path());
  ASSERT_TRUE(store.ok()) << store.status();
  absl::Status taken = (*store)->ClaimHosts("web-api", {"api.example.com", "web-api.example.com"});
  EXPECT_EQ(taken.code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(taken.message(), HasSubstr("web-api.example.com already belongs to app web"));
  // Nothing of the refused claim was kept.
  EXPECT_TRUE((*store)->ClaimHosts("other", {"api.example.com"}).ok());
}

TEST(RocksdbDeployStoreTest, AWorkDirOthersCanWriteIsRefused) {
  tempa::testing::TempDir dir;
  ASSERT_EQ(chmod(dir.path().c_str(), 0777), 0);
  auto store = OpenDeployStoreInWorkDir(dir.path());
  ASSERT_FALSE(store.ok());
  EXPECT_THAT(store.status().message(), HasSubstr("chmod 700"));
  ASSERT_EQ(chmod(dir.path().c_str(), 0700), 0);
}

}  // namespace
}  // namespace tempa::deploy
