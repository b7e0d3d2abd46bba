#include "coordinator/auth/authorizer.h"

#include <grpcpp/test/server_context_test_spouse.h>

#include <map>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator/auth/method_names.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tempa::coordinator::auth {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

constexpr char kAdminToken[] = "adm-0123456789abcdef";
constexpr char kReaderToken[] = "ro-0123456789abcdef";
constexpr char kWorkerToken[] = "wrk-0123456789abcdef";

// Client metadata as a server sees it; the strings must outlive the map.
class Metadata {
 public:
  Metadata& Add(std::string key, std::string value) {
    storage_.emplace_back(std::move(key), std::move(value));
    return *this;
  }
  Metadata& Bearer(absl::string_view token) {
    return Add("authorization", absl::StrCat("Bearer ", token));
  }
  const std::multimap<grpc::string_ref, grpc::string_ref>& map() {
    map_.clear();
    for (const auto& [key, value] : storage_) map_.emplace(key, value);
    return map_;
  }

 private:
  std::vector<std::pair<std::string, std::string>> storage_;
  std::multimap<grpc::string_ref, grpc::string_ref> map_;
};

Authorizer FarmAuthorizer() {
  std::vector<TokenEntry> tokens = {
      {Role::kAdmin, kAdminToken, "alice", 1},
      {Role::kReadOnly, kReaderToken, "dashboard", 2},
      {Role::kWorker, kWorkerToken, "worker-1", 3},
  };
  absl::StatusOr<Authorizer> authorizer = Authorizer::FromTokens(tokens);
  EXPECT_TRUE(authorizer.ok()) << authorizer.status();
  return *std::move(authorizer);
}

TEST(AuthorizerTest, EachTokenAuthenticatesAsItsOwnCaller) {
  std::vector<TokenEntry> tokens;
  for (int i = 0; i < 50; ++i) {
    tokens.push_back({i % 2 == 0 ? Role::kWorker : Role::kReadOnly,
                      absl::StrCat("token-number-", i, "-0123456789"), absl::StrCat("w", i),
                      i + 1});
  }
  absl::StatusOr<Authorizer> authorizer = Authorizer::FromTokens(tokens);
  ASSERT_TRUE(authorizer.ok()) << authorizer.status();
  for (const TokenEntry& entry : tokens) {
    Metadata md;
    absl::StatusOr<Caller> caller = authorizer->AuthenticateMetadata(md.Bearer(entry.token).map());
    ASSERT_TRUE(caller.ok()) << entry.name << ": " << caller.status();
    EXPECT_EQ(caller->name, entry.name);
    EXPECT_EQ(caller->role, entry.role);
  }
}

TEST(AuthorizerTest, MissingTokenIsUnauthenticatedAndSaysWhatToPass) {
  Authorizer authorizer = FarmAuthorizer();
  Metadata md;
  md.Add("user-agent", "grpc-c++");
  absl::Status status = authorizer.AuthorizeMetadata(md.map(), methods::kGetApp);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(status.message(), HasSubstr("no token: pass --token-file"));
}

TEST(AuthorizerTest, UnknownOrMalformedTokenIsUnauthenticatedAndNeverEchoed) {
  Authorizer authorizer = FarmAuthorizer();
  std::vector<std::string> values = {"Bearer adm-0123456789abcdeX",   // one character off
                                     "Bearer adm-0123456789abcde",    // a prefix
                                     "Bearer adm-0123456789abcdef0",  // longer
                                     "Basic YWRtaW46c2VjcmV0c2VjcmV0",
                                     "adm-0123456789abcdef",  // no scheme
                                     "Bearer ",
                                     "Bearer",
                                     ""};
  for (const std::string& value : values) {
    Metadata md;
    absl::Status status =
        authorizer.AuthorizeMetadata(md.Add("authorization", value).map(), methods::kGetApp);
    EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated) << value;
    EXPECT_THAT(status.message(), Not(HasSubstr("0123456789"))) << value;
    EXPECT_THAT(status.message(), Not(HasSubstr("YWRtaW46"))) << value;
  }
}

TEST(AuthorizerTest, BearerSchemeIsCaseInsensitiveAndToleratesSpaces) {
  Authorizer authorizer = FarmAuthorizer();
  for (std::string value :
       {absl::StrCat("bearer ", kReaderToken), absl::StrCat("BEARER  ", kReaderToken, " ")}) {
    Metadata md;
    EXPECT_TRUE(
        authorizer.AuthorizeMetadata(md.Add("authorization", value).map(), methods::kGetApp).ok())
        << value;
  }
}

TEST(AuthorizerTest, TwoAuthorizationEntriesAreRefused) {
  Authorizer authorizer = FarmAuthorizer();
  Metadata md;
  md.Bearer(kWorkerToken).Bearer(kAdminToken);
  absl::Status status = authorizer.AuthorizeMetadata(md.map(), methods::kCreateApp);
  EXPECT_EQ(status.code(), absl::StatusCode::kUnauthenticated);
}

TEST(AuthorizerTest, WorkerTokenCannotCallAdminRpcsAndIsToldTheRoleNeeded) {
  Authorizer authorizer = FarmAuthorizer();
  Metadata md;
  const auto& map = md.Bearer(kWorkerToken).map();
  absl::Status status = authorizer.AuthorizeMetadata(map, methods::kCreateApp);
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(status.message(), HasSubstr("role worker (worker-1) may not call "
                                          "/tempa.v1.ControlService/CreateApp: it needs a token "
                                          "of role admin"));
  EXPECT_EQ(authorizer.AuthorizeMetadata(map, methods::kGetApp).code(),
            absl::StatusCode::kPermissionDenied);
  EXPECT_TRUE(authorizer.AuthorizeMetadata(map, methods::kLeaseJob).ok());
  EXPECT_TRUE(authorizer.AuthorizeMetadata(map, methods::kPutLayer).ok());
}

TEST(AuthorizerTest, ReadOnlyTokenReadsButChangesNothing) {
  Authorizer authorizer = FarmAuthorizer();
  Metadata md;
  const auto& map = md.Bearer(kReaderToken).map();
  for (const char* method :
       {methods::kGetApp, methods::kListApps, methods::kGetBuild, methods::kListBuilds,
        methods::kGetBuildLogs, methods::kWatchBuild, methods::kListWorkers}) {
    EXPECT_TRUE(authorizer.AuthorizeMetadata(map, method).ok()) << method;
  }
  for (const char* method :
       {methods::kCreateApp, methods::kUpdateApp, methods::kDeleteApp, methods::kTriggerBuild,
        methods::kCancelBuild, methods::kLeaseJob, methods::kCompleteJob, methods::kPutLayer}) {
    absl::Status status = authorizer.AuthorizeMetadata(map, method);
    EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << method;
  }
}

TEST(AuthorizerTest, AdminCallsEveryListedRpcButNoUnknownOne) {
  Authorizer authorizer = FarmAuthorizer();
  Metadata md;
  const auto& map = md.Bearer(kAdminToken).map();
  for (const std::string& method : MethodPolicy::Default().ListedMethods()) {
    EXPECT_TRUE(authorizer.AuthorizeMetadata(map, method).ok()) << method;
  }
  absl::Status status = authorizer.AuthorizeMetadata(map, "/tempa.v1.ControlService/DropAll");
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(status.message(), HasSubstr("no entry in the coordinator's method policy"));
}

TEST(AuthorizerTest, UnknownMethodWithoutTokenIsUnauthenticatedFirst) {
  Authorizer authorizer = FarmAuthorizer();
  Metadata md;
  EXPECT_EQ(authorizer.AuthorizeMetadata(md.map(), "/tempa.v1.ControlService/DropAll").code(),
            absl::StatusCode::kUnauthenticated);
}

TEST(AuthorizerTest, HealthAndReflectionNeedNoToken) {
  Authorizer authorizer = FarmAuthorizer();
  Metadata md;
  EXPECT_TRUE(authorizer.AuthorizeMetadata(md.map(), "/grpc.health.v1.Health/Check").ok());
  EXPECT_TRUE(authorizer
                  .AuthorizeMetadata(
                      md.map(), "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo")
                  .ok());
  Metadata bad;
  EXPECT_TRUE(authorizer
                  .AuthorizeMetadata(bad.Bearer("not-a-known-token-at-all").map(),
                                     "/grpc.health.v1.Health/Check")
                  .ok());
}

TEST(AuthorizerTest, OpenModeAllowsEveryCallAsAdmin) {
  Authorizer authorizer = Authorizer::Open();
  EXPECT_TRUE(authorizer.is_open());
  Metadata md;
  EXPECT_TRUE(authorizer.AuthorizeMetadata(md.map(), methods::kCreateApp).ok());
  absl::StatusOr<Caller> caller = authorizer.AuthenticateMetadata(md.map());
  ASSERT_TRUE(caller.ok());
  EXPECT_EQ(caller->role, Role::kAdmin);
}

TEST(AuthorizerTest, RepeatedOrShortTokensAreRefused) {
  EXPECT_FALSE(Authorizer::FromTokens({}).ok());
  EXPECT_FALSE(Authorizer::FromTokens({{Role::kAdmin, "short", "a", 1}}).ok());
  absl::StatusOr<Authorizer> repeated = Authorizer::FromTokens(
      {{Role::kAdmin, kAdminToken, "a", 1}, {Role::kWorker, kAdminToken, "b", 2}});
  EXPECT_EQ(repeated.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(repeated.status().message(), Not(HasSubstr(kAdminToken)));
}

TEST(AuthorizerTest, AuthorizeReadsTheServerContextsMetadata) {
  Authorizer authorizer = FarmAuthorizer();
  grpc::ServerContext ctx;
  grpc::testing::ServerContextTestSpouse spouse(&ctx);
  EXPECT_EQ(authorizer.Authorize(ctx, methods::kCreateApp).code(),
            absl::StatusCode::kUnauthenticated);
  spouse.AddClientMetadata("authorization", absl::StrCat("Bearer ", kAdminToken));
  EXPECT_TRUE(authorizer.Authorize(ctx, methods::kCreateApp).ok());
  absl::StatusOr<Caller> caller = authorizer.Authenticate(ctx);
  ASSERT_TRUE(caller.ok());
  EXPECT_EQ(caller->name, "alice");
}

}  // namespace
}  // namespace tempa::coordinator::auth
