// The farm's gRPC surface against the real tempa-coordinator process, as a client without
// Tempa's stubs would see it: reflection lists every service without a token (what `grpcurl
// list` asks); every method of every Tempa service refuses a call with no token or a wrong one,
// and a worker's token cannot call the control plane; and the app's secrets (webhook secret, git
// token) appear in no RPC answer, no log and no byte of the coordinator's stored state.
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tempa/v1/control.grpc.pb.h"
#include "tempa/v1/layer_cache.grpc.pb.h"
#include "tempa/v1/worker.grpc.pb.h"
#include "tests/e2e/farm_fixture.h"
#include "tests/e2e/raw_grpc.h"
#include "tests/support/git_repo_builder.h"

namespace tempa::testing {
namespace {

using nlohmann::json;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kWebhookSecret[] = "whsec-plaintext-5f0c9a1e77d24b3c";
constexpr char kGitToken[] = "ghp-plaintext-token-8d1b2c3e4f5a6978";

using google::protobuf::ServiceDescriptor;

const ServiceDescriptor& ControlService() {
  return *tempa::v1::CreateAppRequest::descriptor()->file()->FindServiceByName("ControlService");
}

// Every service of Tempa's, from the generated descriptors.
std::vector<const ServiceDescriptor*> TempaServices() {
  return {
      &ControlService(),
      tempa::v1::RegisterWorkerRequest::descriptor()->file()->FindServiceByName("WorkerService"),
      tempa::v1::FindLayerRequest::descriptor()->file()->FindServiceByName("LayerCacheService")};
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

class FarmSecurityE2eTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::string why;
    if (!FarmFixture::Available(&why)) GTEST_SKIP() << why;
    ASSERT_TRUE(farm_.StartRegistry().ok());
    ASSERT_TRUE(farm_.StartCoordinator().ok()) << farm_.coordinator()->log();
    channel_ = grpc::CreateChannel(farm_.grpc_address(), grpc::InsecureChannelCredentials());
    for (const ServiceDescriptor* service : TempaServices()) ASSERT_NE(service, nullptr);
  }

  FarmFixture farm_;
  std::shared_ptr<grpc::Channel> channel_;
};

TEST_F(FarmSecurityE2eTest, ReflectionListsEveryServiceWithoutAToken) {
  std::string answer;
  grpc::Status status = ListServicesByReflection(channel_, &answer);
  ASSERT_TRUE(status.ok()) << status.error_code() << " " << status.error_message();
  for (const ServiceDescriptor* service : TempaServices()) {
    EXPECT_THAT(answer, HasSubstr(service->full_name()));
  }
  EXPECT_THAT(answer, HasSubstr("grpc.health.v1.Health"));
}

TEST_F(FarmSecurityE2eTest, EveryMethodRefusesNoTokenAndAWrongOne) {
  int methods = 0;
  for (const ServiceDescriptor* service : TempaServices()) {
    for (const std::string& method : MethodsOf(*service)) {
      ++methods;
      for (const std::string& token : {std::string(), std::string("not-a-token-of-this-farm")}) {
        std::string answer;
        grpc::Status status = RawCall(channel_, method, token, "", &answer);
        EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAUTHENTICATED)
            << method << (token.empty() ? " without a token: " : " with a wrong token: ")
            << status.error_message();
        EXPECT_EQ(answer, "") << method;
      }
    }
  }
  EXPECT_GE(methods, 19);
}

TEST_F(FarmSecurityE2eTest, AWorkerTokenCannotCallAnyControlMethod) {
  std::vector<std::string> methods = MethodsOf(ControlService());
  ASSERT_FALSE(methods.empty());
  for (const std::string& method : methods) {
    std::string answer;
    grpc::Status status = RawCall(channel_, method, kFarmWorkerToken, "", &answer);
    EXPECT_EQ(status.error_code(), grpc::StatusCode::PERMISSION_DENIED)
        << method << ": " << status.error_message();
    EXPECT_EQ(answer, "") << method;
  }
  // Nor through the CLI: the refusal names the role.
  CommandResult created = farm_.Cli({"apps", "create", "sneaky", "--repo", "file:///nowhere"},
                                    farm_.worker_token_file());
  EXPECT_NE(created.exit_code, 0);
  absl::StatusOr<json> apps = farm_.CliJson({"apps", "list"});
  ASSERT_TRUE(apps.ok()) << apps.status();
  EXPECT_THAT(apps->dump(), Not(HasSubstr("sneaky")));
}

TEST_F(FarmSecurityE2eTest, NoSecretAppearsInAnyAnswerLogOrStoredByte) {
  TempDir repos("tempa-farm-secret-repos-");
  GitRepoBuilder repo(repos.Join("private"));
  repo.WriteFile("go.mod", "module example.com/private\n\ngo 1.19\n");
  repo.WriteFile("main.go", "package main\n\nfunc main() { println(\"private\") }\n");
  std::string sha = repo.Commit("first");
  std::ofstream(farm_.path("webhook.secret")) << kWebhookSecret;
  std::ofstream(farm_.path("git.token")) << kGitToken;
  CommandResult created =
      farm_.Cli({"apps", "create", "private", "--repo", repo.url(), "--webhook-secret-file",
                 farm_.path("webhook.secret"), "--git-token-file", farm_.path("git.token")});
  ASSERT_EQ(created.exit_code, 0) << created.err;
  ASSERT_TRUE(farm_.StartWorker("w1").ok()) << farm_.worker("w1")->log();

  // A signed push (the secret in use), built to the end with the token handed to the worker.
  HttpAnswer pushed = farm_.PostWebhook("push", "d-secret",
                                        GithubPushPayload(repo.url(), "main", sha), kWebhookSecret);
  ASSERT_TRUE(pushed.status >= 200 && pushed.status < 300) << pushed.status << pushed.body;
  json body = json::parse(pushed.body);
  ASSERT_EQ(body["builds"].size(), 1u) << pushed.body;
  std::string id = body["builds"][0]["id"];
  absl::StatusOr<json> built = farm_.WaitForBuild(id, {"SUCCEEDED", "FAILED"});
  ASSERT_TRUE(built.ok()) << built.status() << farm_.worker("w1")->log();
  EXPECT_EQ((*built)["status"], "SUCCEEDED") << built->dump(2);
  EXPECT_EQ((*built)["worker_id"], "w1");

  // Everything a user or operator can read.
  std::map<std::string, std::string> seen;
  seen["webhook answer"] = pushed.body;
  seen["apps create"] = created.out + created.err;
  for (std::vector<std::string> args :
       std::vector<std::vector<std::string>>{{"apps", "list", "--json"},
                                             {"apps", "show", "private", "--json"},
                                             {"apps", "show", "private"},
                                             {"builds", "list", "--json"},
                                             {"builds", "show", id, "--json"},
                                             {"builds", "show", id},
                                             {"builds", "logs", id}}) {
    CommandResult result = farm_.Cli(args);
    EXPECT_EQ(result.exit_code, 0) << args[0] << " " << args[1] << ": " << result.err;
    seen["tempa " + args[0] + " " + args[1] + (args.back() == "--json" ? " --json" : "")] =
        result.out + result.err;
  }
  EXPECT_THAT(seen["tempa builds logs"], HasSubstr("tempa:")) << "the log is not empty";
  // And the control RPCs' own bytes, every field of them, not only what the CLI prints.
  tempa::v1::GetAppRequest get_app;
  get_app.set_name("private");
  tempa::v1::GetBuildRequest get_build;
  get_build.set_id(id);
  tempa::v1::GetBuildLogsRequest get_logs;
  get_logs.set_id(id);
  for (const auto& [method, request] : std::vector<std::pair<std::string, std::string>>{
           {"GetApp", get_app.SerializeAsString()},
           {"ListApps", ""},
           {"GetBuild", get_build.SerializeAsString()},
           {"ListBuilds", ""},
           {"GetBuildLogs", get_logs.SerializeAsString()}}) {
    std::string answer;
    grpc::Status status =
        RawCall(channel_, "/tempa.v1.ControlService/" + method, kFarmAdminToken, request, &answer);
    EXPECT_TRUE(status.ok()) << method << ": " << status.error_message();
    EXPECT_FALSE(answer.empty()) << method;
    seen["rpc " + method] = answer;
  }
  farm_.KillWorker("w1");
  farm_.KillCoordinator();  // its WAL and memtables stay as a crash leaves them
  seen["coordinator log"] = farm_.coordinator()->log();
  seen["worker log"] = farm_.worker("w1")->log();
  // The coordinator's stored state, byte for byte: RocksDB's SSTs, WAL, MANIFEST, options.
  int stored = 0;
  for (const auto& entry :
       std::filesystem::recursive_directory_iterator(farm_.path("coordinator"))) {
    if (!entry.is_regular_file() || entry.path().filename() == "secret.key") continue;
    seen["stored " + entry.path().string()] = ReadAll(entry.path());
    ++stored;
  }
  EXPECT_GT(stored, 2);
  // The search can see: what is not secret is there in plain bytes, where a secret stored the
  // same way would be found.
  std::string all_stored;
  for (const auto& [where, text] : seen) {
    if (absl::StartsWith(where, "stored ")) all_stored += text;
  }
  EXPECT_THAT(all_stored, HasSubstr(repo.url()));
  EXPECT_THAT(seen["worker log"], HasSubstr(id));
  for (const auto& [where, text] : seen) {
    EXPECT_THAT(text, Not(HasSubstr(kWebhookSecret))) << "the webhook secret is in " << where;
    EXPECT_THAT(text, Not(HasSubstr(kGitToken))) << "the git token is in " << where;
  }
}

}  // namespace
}  // namespace tempa::testing
