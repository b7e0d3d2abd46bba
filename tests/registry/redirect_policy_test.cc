// The redirect policy on its own: what a hop may carry and where it may go, including hops no
// loopback test server can play (from a remote host, from https).
#include "common/registry/redirect_policy.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tempa::registry {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::Pair;

HttpRequest Authorized(const std::string& url) {
  HttpRequest request;
  request.url = url;
  request.headers = {
      {"Authorization", "Basic c2VjcmV0"}, {"cookie", "session=1"}, {"Accept", "application/json"}};
  return request;
}

TEST(RedirectPolicyTest, ASameOriginHopKeepsItsHeaders) {
  auto hop = RedirectedRequest(Authorized("https://r.example/v2/a/blobs/x"), "/storage/x?sig=1");
  ASSERT_TRUE(hop.ok()) << hop.status();
  EXPECT_EQ(hop->url, "https://r.example/storage/x?sig=1");
  EXPECT_EQ(hop->headers.size(), 3u);
}

TEST(RedirectPolicyTest, AnotherHostPortOrSchemeGetsNoCredentials) {
  for (const char* target : {"https://s3.example/x", "https://r.example:8443/x",
                             "https://R.EXAMPLE.evil/x", "http://127.0.0.2:5000/x"}) {
    std::string from = std::string(target).find("127.") != std::string::npos
                           ? "http://127.0.0.1:5000/v2/a/blobs/x"
                           : "https://r.example/v2/a/blobs/x";
    auto hop = RedirectedRequest(Authorized(from), target);
    ASSERT_TRUE(hop.ok()) << target << ": " << hop.status();
    EXPECT_THAT(hop->headers, ElementsAre(Pair("Accept", "application/json"))) << target;
  }
}

TEST(RedirectPolicyTest, ADowngradeToPlainHttpIsRefused) {
  auto hop = RedirectedRequest(Authorized("https://r.example/v2/"), "http://r.example/v2/");
  ASSERT_FALSE(hop.ok());
  EXPECT_EQ(hop.status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(hop.status().message()), HasSubstr("plain http"));
}

TEST(RedirectPolicyTest, ARemoteHostCannotRedirectToLoopback) {
  for (const char* target : {"http://127.0.0.1:10250/", "https://localhost/", "http://[::1]/"}) {
    auto hop = RedirectedRequest(Authorized("http://r.example/v2/"), target);
    ASSERT_FALSE(hop.ok()) << target;
    EXPECT_THAT(std::string(hop.status().message()), HasSubstr("loopback")) << target;
  }
}

TEST(RedirectPolicyTest, OnlyHttpAndHttpsAreFollowed) {
  for (const char* target : {"file:///etc/shadow", "gopher://r.example/", "ftp://r.example/x"}) {
    auto hop = RedirectedRequest(Authorized("https://r.example/v2/"), target);
    ASSERT_FALSE(hop.ok()) << target;
    EXPECT_EQ(hop.status().code(), absl::StatusCode::kPermissionDenied) << target;
  }
}

}  // namespace
}  // namespace tempa::registry
