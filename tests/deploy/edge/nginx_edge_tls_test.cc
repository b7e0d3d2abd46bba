// NginxEdge serving TLS: the self-signed CA's certificate verifies for an app's host, a client
// that does not trust the CA is refused, plain HTTP is redirected, and a certificate nginx cannot
// load leaves the old config live.
#include "absl/strings/str_cat.h"
#include "deploy/edge/nginx_edge.h"
#include "deploy/edge/tls_material.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/deploy/edge/edge_test_support.h"

namespace tempa::deploy::edge_test {
namespace {

using ::testing::HasSubstr;

class TlsEdgeTest : public EdgeTest {
 protected:
  // An edge serving TLS with a self-signed CA for tempa.test made in dir_/tls.
  std::unique_ptr<NginxEdge> MakeTlsEdge(const std::string& redirect_listen = "") {
    auto files = EnsureSelfSignedCertificate(dir_.Join("tls"), "tempa.test");
    EXPECT_TRUE(files.ok()) << files.status();
    if (!files.ok()) return nullptr;
    tls_ = *files;
    NginxEdgeOptions options;
    options.tls = true;
    options.cert_path = tls_.cert_path;
    options.key_path = tls_.key_path;
    options.http_redirect_listen = redirect_listen;
    return MakeEdge(options);
  }
  TlsFiles tls_;
};

TEST_F(TlsEdgeTest, TheServedCertificateVerifiesAgainstTheSelfSignedCaForAnAppHost) {
  auto v1 = Backend("v1");
  auto edge = MakeTlsEdge();
  ASSERT_NE(edge, nullptr);
  ASSERT_OK(edge->Apply({{{"app.tempa.test"}, v1->port()}}));
  Response r = Fetch(port_, true, {"app.tempa.test", tls_.ca_cert_path});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.body, "v1");
  Response headers = Fetch(port_, true, {"app.tempa.test", tls_.ca_cert_path, "/headers"});
  EXPECT_THAT(headers.body, HasSubstr("proto=https"));
  EXPECT_EQ(edge->UrlFor("app.tempa.test"), absl::StrCat("https://app.tempa.test:", port_));
  // A client that does not trust the CA gets no answer at all.
  Response untrusted = Fetch(port_, true, {"app.tempa.test", ""});
  EXPECT_FALSE(untrusted.ok);
  EXPECT_NE(untrusted.body, "v1");
}

TEST_F(TlsEdgeTest, PlainHttpIsRedirectedToHttpsOnTheSameHost) {
  auto v1 = Backend("v1");
  const int http_port = testing::PickFreePort();
  auto edge = MakeTlsEdge(absl::StrCat("127.0.0.1:", http_port));
  ASSERT_NE(edge, nullptr);
  ASSERT_OK(edge->Apply({{{"app.tempa.test"}, v1->port()}}));
  Response r = Fetch(http_port, false, {"app.tempa.test", "", "/x?y=1"});
  EXPECT_EQ(r.status, 308);
  EXPECT_EQ(r.location, absl::StrCat("https://app.tempa.test:", port_, "/x?y=1"));
}

TEST_F(TlsEdgeTest, ACertificateNginxCannotLoadLeavesTheOldConfigLiveWithNginxsMessage) {
  auto v1 = Backend("v1");
  auto v2 = Backend("v2");
  auto edge = MakeTlsEdge();
  ASSERT_NE(edge, nullptr);
  ASSERT_OK(edge->Apply({{{"app.tempa.test"}, v1->port()}}));
  // The operator's renewal wrote garbage over the certificate.
  testing::WriteFileOrDie(tls_.cert_path, "-----BEGIN CERTIFICATE-----\ngarbage\n");
  absl::Status status = edge->Apply({{{"app.tempa.test"}, v2->port()}});
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("nginx -t refused"));
  EXPECT_THAT(status.message(), HasSubstr(tls_.cert_path));  // nginx's own words
  // The old config, with the certificate nginx holds in memory, still serves v1.
  Response r = Fetch(port_, true, {"app.tempa.test", tls_.ca_cert_path});
  ASSERT_TRUE(r.ok) << r.error;
  EXPECT_EQ(r.body, "v1");
}

}  // namespace
}  // namespace tempa::deploy::edge_test
