// nginx.conf rendering: nothing a route carries can add a directive.
#include "deploy/edge/nginx_config.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tempa::deploy {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

NginxConfigParams Params() {
  NginxConfigParams p;
  p.prefix = "/var/lib/tempa/edge";
  p.listen = "127.0.0.1:8080";
  p.generation = "0123abcd";
  return p;
}

TEST(NginxConfigTest, EachRouteIsAServerWithExactNamesProxyingToItsLoopbackPort) {
  auto conf = RenderNginxConfig(Params(), {{{"shop.tempa.test", "shop-abc1234.tempa.test"}, 4100}});
  ASSERT_TRUE(conf.ok()) << conf.status();
  EXPECT_THAT(*conf, HasSubstr("server_name shop.tempa.test shop-abc1234.tempa.test;"));
  EXPECT_THAT(*conf, HasSubstr("proxy_pass http://127.0.0.1:4100;"));
  EXPECT_THAT(*conf, HasSubstr("proxy_next_upstream error timeout;"));
  EXPECT_THAT(*conf, HasSubstr("user nobody nogroup;"));
  EXPECT_THAT(*conf, HasSubstr("pid /var/lib/tempa/edge/nginx.pid;"));
}

TEST(NginxConfigTest, HostsThatCouldInjectDirectivesAreRefused) {
  for (const char* host :
       {"a;b", "x y", "a}\nserver{", "a.test;include /etc/passwd", "$host", "a\"b", "a'b", "a#b"}) {
    auto conf = RenderNginxConfig(Params(), {{{host}, 4100}});
    ASSERT_FALSE(conf.ok()) << host;
    EXPECT_EQ(conf.status().code(), absl::StatusCode::kInvalidArgument);
  }
}

TEST(NginxConfigTest, PortsOutsideTheRangeAHostRoutedTwiceAndARouteWithoutHostsAreRefused) {
  EXPECT_FALSE(RenderNginxConfig(Params(), {{{"a.test"}, 0}}).ok());
  EXPECT_FALSE(RenderNginxConfig(Params(), {{{"a.test"}, 65536}}).ok());
  EXPECT_FALSE(RenderNginxConfig(Params(), {{{}, 4100}}).ok());
  EXPECT_FALSE(RenderNginxConfig(Params(), {{{"a.test"}, 4100}, {{"a.test"}, 4101}}).ok());
}

TEST(NginxConfigTest, ListenAddressesAndPathsAreCheckedToo) {
  NginxConfigParams p = Params();
  p.listen = "127.0.0.1:80; include /x";
  EXPECT_FALSE(RenderNginxConfig(p, {}).ok());
  p = Params();
  p.prefix = "/tmp/a b";
  EXPECT_FALSE(RenderNginxConfig(p, {}).ok());
  p = Params();
  p.tls = true;
  p.cert_path = "/etc/x.pem;";
  p.key_path = "/etc/x.key";
  EXPECT_FALSE(RenderNginxConfig(p, {}).ok());
  EXPECT_TRUE(ValidateListen("[::1]:443").ok());
  EXPECT_TRUE(ValidateListen("0.0.0.0:443").ok());
  EXPECT_FALSE(ValidateListen("0.0.0.0").ok());
  EXPECT_FALSE(ValidateListen("0.0.0.0:0").ok());
}

TEST(NginxConfigTest, TlsServesEveryListenerWithTheCertificate) {
  NginxConfigParams p = Params();
  p.tls = true;
  p.cert_path = "/etc/tempa/tls/fullchain.pem";
  p.key_path = "/etc/tempa/tls/privkey.pem";
  p.listen = "0.0.0.0:443";
  p.http_redirect_listen = "0.0.0.0:80";
  auto conf = RenderNginxConfig(p, {{{"a.test"}, 4100}});
  ASSERT_TRUE(conf.ok()) << conf.status();
  EXPECT_THAT(*conf, HasSubstr("listen 0.0.0.0:443 ssl;"));
  EXPECT_THAT(*conf, HasSubstr("ssl_certificate /etc/tempa/tls/fullchain.pem;"));
  EXPECT_THAT(*conf, HasSubstr("return 308 https://$host$request_uri;"));
  p.tls = false;
  EXPECT_FALSE(RenderNginxConfig(p, {}).ok());  // a redirect without TLS
  p.http_redirect_listen.clear();
  EXPECT_THAT(*RenderNginxConfig(p, {}), Not(HasSubstr("ssl")));
}

}  // namespace
}  // namespace tempa::deploy
