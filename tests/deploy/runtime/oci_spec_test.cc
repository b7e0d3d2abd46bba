// Tempa's OCI spec: what a container may do is decided here, so each limit is checked in the
// config.json that runc will read.
#include "deploy/runtime/oci_spec.h"

#include <sys/stat.h>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace tempa::deploy {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;

class OciSpecTest : public ::testing::Test {
 protected:
  void SetUp() override {
    mkdir(rootfs_.c_str(), 0755);
    spec_.id = "hello-production-7";
    spec_.rootfs = rootfs_;
    spec_.state_dir = dir_.Join("state");
    spec_.args = {"/app", "serve"};
    spec_.env = {"PORT=8123"};
    spec_.memory_bytes = 128ll << 20;
    spec_.cpu_millis = 250;
    spec_.pids_max = 64;
  }

  bool HasMount(const json& config, const std::string& destination) {
    for (const json& m : config["mounts"]) {
      if (m["destination"] == destination) return true;
    }
    return false;
  }

  testing::TempDir dir_;
  std::string rootfs_ = dir_.Join("rootfs");
  ContainerSpec spec_;
};

TEST_F(OciSpecTest, RefusesToRunAsRoot) {
  spec_.uid = 0;
  absl::StatusOr<json> config = BuildOciSpec(spec_);
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(config.status().message(), HasSubstr("never run as root"));
  spec_.uid = 1000;
  spec_.gid = 0;
  EXPECT_FALSE(BuildOciSpec(spec_).ok());
}

TEST_F(OciSpecTest, RefusesAnIdThatCouldLeaveItsDirectory) {
  for (const char* id : {"../x", "a/b", "", ".."}) {
    spec_.id = id;
    EXPECT_FALSE(BuildOciSpec(spec_).ok()) << id;
  }
}

TEST_F(OciSpecTest, ProcessIsUnprivilegedWithItsArgsAndEnv) {
  absl::StatusOr<json> config = BuildOciSpec(spec_);
  ASSERT_TRUE(config.ok()) << config.status();
  const json& process = (*config)["process"];
  EXPECT_EQ(process["user"]["uid"], 65534);
  EXPECT_EQ(process["user"]["gid"], 65534);
  EXPECT_EQ(process["args"], json({"/app", "serve"}));
  EXPECT_THAT(process["env"].get<std::vector<std::string>>(), ::testing::Contains("PORT=8123"));
  EXPECT_EQ(process["noNewPrivileges"], true);
  for (const char* set : {"bounding", "effective", "inheritable", "permitted", "ambient"}) {
    EXPECT_TRUE(process["capabilities"][set].empty()) << set;
  }
  EXPECT_EQ(process["rlimits"][0]["type"], "RLIMIT_NOFILE");
}

TEST_F(OciSpecTest, RootIsTheRootfsReadOnlyWithABoundedWritableTmp) {
  absl::StatusOr<json> config = BuildOciSpec(spec_);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ((*config)["root"]["path"], rootfs_);
  EXPECT_EQ((*config)["root"]["readonly"], true);
  bool tmp_found = false;
  for (const json& m : (*config)["mounts"]) {
    if (m["destination"] != "/tmp") continue;
    tmp_found = true;
    EXPECT_EQ(m["type"], "tmpfs");
    auto options = m["options"].get<std::vector<std::string>>();
    EXPECT_THAT(options, ::testing::IsSupersetOf({"nosuid", "nodev", "size=65536k", "uid=65534"}));
  }
  EXPECT_TRUE(tmp_found);
  EXPECT_TRUE(HasMount(*config, "/proc"));
  EXPECT_TRUE(HasMount(*config, "/dev/pts"));
}

TEST_F(OciSpecTest, LimitsMemoryWithoutSwapCpuAndPids) {
  absl::StatusOr<json> config = BuildOciSpec(spec_);
  ASSERT_TRUE(config.ok()) << config.status();
  const json& resources = (*config)["linux"]["resources"];
  EXPECT_EQ(resources["memory"]["limit"], 128ll << 20);
  EXPECT_EQ(resources["memory"]["swap"], 128ll << 20);
  EXPECT_EQ(resources["cpu"]["quota"], 25000);
  EXPECT_EQ(resources["cpu"]["period"], 100000);
  EXPECT_EQ(resources["pids"]["limit"], 64);
  EXPECT_EQ((*config)["linux"]["cgroupsPath"], "/tempa/hello-production-7");
}

TEST_F(OciSpecTest, SharesTheHostNetworkButNotPidIpcUtsOrMounts) {
  absl::StatusOr<json> config = BuildOciSpec(spec_);
  ASSERT_TRUE(config.ok()) << config.status();
  std::vector<std::string> types;
  for (const json& ns : (*config)["linux"]["namespaces"]) types.push_back(ns["type"]);
  EXPECT_THAT(types, ::testing::UnorderedElementsAre("pid", "ipc", "uts", "mount"));
  EXPECT_THAT((*config)["linux"]["maskedPaths"].get<std::vector<std::string>>(),
              ::testing::Contains("/proc/kcore"));
}

TEST_F(OciSpecTest, BindsTheHostResolverFilesOnlyWhereTheImageHasNone) {
  absl::StatusOr<json> config = BuildOciSpec(spec_);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(HasMount(*config, "/etc/resolv.conf"));
  EXPECT_TRUE(HasMount(*config, "/etc/hosts"));
  mkdir((rootfs_ + "/etc").c_str(), 0755);
  testing::WriteFileOrDie(rootfs_ + "/etc/hosts", "127.0.0.1 localhost\n");
  config = BuildOciSpec(spec_);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_TRUE(HasMount(*config, "/etc/resolv.conf"));
  EXPECT_FALSE(HasMount(*config, "/etc/hosts"));
}

TEST_F(OciSpecTest, WithAnInitTheAppRunsUnderItAndNothingIsAddedToTheRootfs) {
  absl::StatusOr<json> config = BuildOciSpec(spec_, {.init_binary = "/opt/tempa/init"});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ((*config)["process"]["args"], json({kContainerInitPath, "--", "/app", "serve"}));
  bool bound = false;
  for (const json& m : (*config)["mounts"]) {
    if (m["destination"] != kContainerInitPath) continue;
    bound = true;
    EXPECT_EQ(m["source"], "/opt/tempa/init");
    EXPECT_THAT(m["options"].get<std::vector<std::string>>(), ::testing::Contains("ro"));
  }
  EXPECT_TRUE(bound);
  EXPECT_FALSE(BuildOciSpec(spec_, {.init_binary = "relative/init"}).ok());
}

TEST_F(OciSpecTest, SpecSurvivesItsJsonRoundTrip) {
  absl::StatusOr<ContainerSpec> back = ContainerSpecFromJson(ContainerSpecToJson(spec_));
  ASSERT_TRUE(back.ok()) << back.status();
  EXPECT_EQ(back->id, spec_.id);
  EXPECT_EQ(back->args, spec_.args);
  EXPECT_EQ(back->env, spec_.env);
  EXPECT_EQ(back->memory_bytes, spec_.memory_bytes);
  json broken = ContainerSpecToJson(spec_);
  broken["uid"] = 0;
  EXPECT_FALSE(ContainerSpecFromJson(broken).ok());
  EXPECT_FALSE(ContainerSpecFromJson(json{{"id", 3}}).ok());
}

}  // namespace
}  // namespace tempa::deploy
