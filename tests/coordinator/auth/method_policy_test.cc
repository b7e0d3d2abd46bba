// The policy against the services as generated: every RPC of the tempa.v1 services has a rule
// of its own, no rule names an RPC that does not exist, and each role reaches exactly its part.
#include "coordinator/auth/method_policy.h"

#include <google/protobuf/descriptor.h>

#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tempa/v1/control.pb.h"
#include "tempa/v1/layer_cache.pb.h"
#include "tempa/v1/worker.pb.h"

namespace tempa::coordinator::auth {
namespace {

const std::vector<std::string>& FarmServices() {
  static const std::vector<std::string> services = {
      "tempa.v1.ControlService", "tempa.v1.WorkerService", "tempa.v1.LayerCacheService"};
  return services;
}

// Every "/tempa.v1.Service/Method" of `service`, from the generated descriptor pool.
std::vector<std::string> MethodsOf(const std::string& service) {
  // Touch each file's descriptor so its generated code is linked and registered.
  (void)tempa::v1::CreateAppRequest::descriptor();
  (void)tempa::v1::LeaseJobRequest::descriptor();
  (void)tempa::v1::FindLayerRequest::descriptor();
  const google::protobuf::ServiceDescriptor* descriptor =
      google::protobuf::DescriptorPool::generated_pool()->FindServiceByName(service);
  EXPECT_NE(descriptor, nullptr) << service;
  std::vector<std::string> methods;
  if (descriptor == nullptr) return methods;
  for (int i = 0; i < descriptor->method_count(); ++i) {
    methods.push_back(absl::StrCat("/", service, "/", descriptor->method(i)->name()));
  }
  return methods;
}

bool IsReadMethod(const std::string& full_method) {
  std::string name = full_method.substr(full_method.rfind('/') + 1);
  return absl::StartsWith(name, "Get") || absl::StartsWith(name, "List") ||
         absl::StartsWith(name, "Watch");
}

TEST(MethodPolicyTest, EveryFarmRpcHasARuleOfItsOwn) {
  MethodPolicy policy = MethodPolicy::Default();
  std::vector<std::string> listed = policy.ListedMethods();
  int count = 0;
  for (const std::string& service : FarmServices()) {
    for (const std::string& method : MethodsOf(service)) {
      ++count;
      EXPECT_THAT(listed, ::testing::Contains(method)) << method << " has no rule";
      const MethodPolicy::Rule* rule = policy.Find(method);
      ASSERT_NE(rule, nullptr) << method;
      EXPECT_FALSE(rule->without_token) << method << " is open to callers without a token";
      EXPECT_TRUE(rule->roles.Contains(Role::kAdmin)) << method << " is closed to admin";
    }
  }
  EXPECT_GE(count, 19);
}

TEST(MethodPolicyTest, EveryRuleNamesARealRpc) {
  std::vector<std::string> all;
  for (const std::string& service : FarmServices()) {
    for (std::string& method : MethodsOf(service)) all.push_back(std::move(method));
  }
  for (const std::string& listed : MethodPolicy::Default().ListedMethods()) {
    EXPECT_THAT(all, ::testing::Contains(listed)) << listed << " is not an RPC of the protos";
  }
}

TEST(MethodPolicyTest, WorkerReachesNoControlRpcAndReadOnlyOnlyItsReads) {
  MethodPolicy policy = MethodPolicy::Default();
  for (const std::string& method : MethodsOf("tempa.v1.ControlService")) {
    const MethodPolicy::Rule* rule = policy.Find(method);
    ASSERT_NE(rule, nullptr);
    EXPECT_FALSE(rule->roles.Contains(Role::kWorker)) << method;
    EXPECT_EQ(rule->roles.Contains(Role::kReadOnly), IsReadMethod(method)) << method;
  }
  for (const char* service : {"tempa.v1.WorkerService", "tempa.v1.LayerCacheService"}) {
    for (const std::string& method : MethodsOf(service)) {
      const MethodPolicy::Rule* rule = policy.Find(method);
      ASSERT_NE(rule, nullptr);
      EXPECT_TRUE(rule->roles.Contains(Role::kWorker)) << method;
      EXPECT_FALSE(rule->roles.Contains(Role::kReadOnly)) << method;
    }
  }
}

TEST(MethodPolicyTest, HealthAndReflectionNeedNoTokenButOnlyTheirOwnMethods) {
  MethodPolicy policy = MethodPolicy::Default();
  for (const char* method : {"/grpc.health.v1.Health/Check", "/grpc.health.v1.Health/Watch",
                             "/grpc.reflection.v1alpha.ServerReflection/ServerReflectionInfo",
                             "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo"}) {
    const MethodPolicy::Rule* rule = policy.Find(method);
    ASSERT_NE(rule, nullptr) << method;
    EXPECT_TRUE(rule->without_token) << method;
  }
  for (const char* method : {"/grpc.health.v1.Health/", "/grpc.health.v1.Health/Check/x",
                             "/grpc.health.v1.HealthX/Check", "/grpc.health.v1.Health",
                             "/tempa.v1.ControlService/NoSuchMethod", "", "/"}) {
    EXPECT_EQ(policy.Find(method), nullptr) << method;
  }
}

}  // namespace
}  // namespace tempa::coordinator::auth
