#include "common/registry/registry_auth.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tempa::registry {
namespace {

TEST(RegistryAuthTest, ParsesBearerChallengeWithQuotedParams) {
  auto c = ParseWwwAuthenticate(
      R"(Bearer realm="https://auth.example.com/token",service="registry.example.com",)"
      R"(scope="repository:team/app:pull,push")");
  ASSERT_TRUE(c.has_value());
  EXPECT_EQ(c->scheme, "bearer");
  EXPECT_EQ(c->params["realm"], "https://auth.example.com/token");
  EXPECT_EQ(c->params["service"], "registry.example.com");
  EXPECT_EQ(c->params["scope"], "repository:team/app:pull,push");
}

TEST(RegistryAuthTest, ParsesBasicAndRejectsUnknownSchemes) {
  auto basic = ParseWwwAuthenticate("Basic realm=\"Registry Realm\"");
  ASSERT_TRUE(basic.has_value());
  EXPECT_EQ(basic->scheme, "basic");
  EXPECT_EQ(basic->params["realm"], "Registry Realm");
  EXPECT_FALSE(ParseWwwAuthenticate("Negotiate abc").has_value());
  EXPECT_FALSE(ParseWwwAuthenticate("").has_value());
}

TEST(RegistryAuthTest, EncodesBasicCredentials) {
  EXPECT_EQ(BasicAuthorization({"aladdin", "opensesame"}), "Basic YWxhZGRpbjpvcGVuc2VzYW1l");
}

TEST(RegistryAuthTest, ScopesGiveMountSourcesPullOnly) {
  EXPECT_THAT(RepositoryScopes({"app", "base"}, "pull,push"),
              ::testing::ElementsAre("repository:app:pull,push", "repository:base:pull"));
  EXPECT_EQ(UrlEncode("repository:a/b:pull,push"), "repository%3Aa%2Fb%3Apull%2Cpush");
}

}  // namespace
}  // namespace tempa::registry
