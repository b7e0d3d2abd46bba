// EgressProxy on its own (no sandbox): a client on its Unix socket reaches allowed targets by
// CONNECT or absolute-form GET, gets a 403 naming the target otherwise, cannot pick another
// virtual host with its Host header, and the proxy stops promptly with tunnels open.
#include "worker/sandbox/egress_proxy.h"

#include <unistd.h>

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/loopback_http_server.h"
#include "tests/support/temp_dir.h"
#include "worker/sandbox/socket_relay.h"

namespace tempa {
namespace {

using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::StartsWith;
using sandbox_internal::ConnectUnix;
using sandbox_internal::ReadHttpHead;
using sandbox_internal::WriteAll;

// Answers every GET with the Host header it was sent.
class EchoHostServer : public testing::LoopbackHttpServer {
 public:
  EchoHostServer()
      : LoopbackHttpServer("127.0.0.1", [](httplib::Server& server) {
          server.Get(".*", [](const httplib::Request& req, httplib::Response& res) {
            res.set_content("host=" + req.get_header_value("Host") + " path=" + req.path,
                            "text/plain");
          });
        }) {}
};

// Everything the proxy sends back on one connection after `request`.
std::string Exchange(const std::string& socket, const std::string& request) {
  int fd = ConnectUnix(socket);
  EXPECT_GE(fd, 0);
  if (fd < 0) return "";
  EXPECT_TRUE(WriteAll(fd, request));
  std::string out;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  return out;
}

class EgressProxyTest : public ::testing::Test {
 protected:
  void SetUp() override {
    auto proxy = EgressProxy::Start(socket_, {{"127.0.0.1", server_.port()}});
    ASSERT_TRUE(proxy.ok()) << proxy.status();
    proxy_ = *std::move(proxy);
  }
  std::string Target() const { return "127.0.0.1:" + std::to_string(server_.port()); }

  EchoHostServer server_;
  testing::TempDir dir_{"tempa-egress-proxy-"};
  std::string socket_ = dir_.Join("proxy.sock");
  std::unique_ptr<EgressProxy> proxy_;
};

TEST_F(EgressProxyTest, AbsoluteFormGoesToTheTargetWithItsOwnHostHeader) {
  std::string reply = Exchange(socket_, "GET http://" + Target() + "/simple/?q=1 HTTP/1.1\r\n"
                                        "Host: internal.example\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_THAT(reply, StartsWith("HTTP/1.1 200"));
  EXPECT_THAT(reply, HasSubstr("host=" + Target() + " path=/simple/"));
}

TEST_F(EgressProxyTest, ConnectOpensATunnelToAnAllowedTarget) {
  int fd = ConnectUnix(socket_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(WriteAll(fd, "CONNECT " + Target() + " HTTP/1.1\r\nHost: " + Target() + "\r\n\r\n"));
  std::string head, rest;
  ASSERT_TRUE(ReadHttpHead(fd, 1 << 16, head, rest));
  EXPECT_THAT(head, StartsWith("HTTP/1.1 200"));
  ASSERT_TRUE(WriteAll(fd, "GET /x HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n"));
  std::string out = rest;
  char buf[4096];
  ssize_t n;
  while ((n = ::read(fd, buf, sizeof(buf))) > 0) out.append(buf, static_cast<size_t>(n));
  ::close(fd);
  EXPECT_THAT(out, HasSubstr("host=a path=/x"));  // a tunnel carries bytes as they are
}

TEST_F(EgressProxyTest, OtherTargetsGetA403NamingThemAndAreRecorded) {
  std::string other = "127.0.0.1:" + std::to_string(server_.port() == 1 ? 2 : 1);
  EXPECT_THAT(Exchange(socket_, "CONNECT " + other + " HTTP/1.1\r\n\r\n"),
              AllOf(StartsWith("HTTP/1.1 403"), HasSubstr(other + " is not named in the build env"),
                    HasSubstr("may reach only " + Target())));
  EXPECT_THAT(Exchange(socket_, "GET http://metadata.example/latest HTTP/1.1\r\n\r\n"),
              StartsWith("HTTP/1.1 403"));
  EXPECT_THAT(Exchange(socket_, "GET /relative HTTP/1.1\r\n\r\n"), StartsWith("HTTP/1.1 400"));
  EXPECT_THAT(proxy_->Refused(), ElementsAre(other, "metadata.example:80"));
}

TEST_F(EgressProxyTest, StoppingCutsOpenTunnels) {
  int fd = ConnectUnix(socket_);
  ASSERT_GE(fd, 0);
  ASSERT_TRUE(WriteAll(fd, "CONNECT " + Target() + " HTTP/1.1\r\n\r\n"));
  std::string head, rest;
  ASSERT_TRUE(ReadHttpHead(fd, 1 << 16, head, rest));
  proxy_.reset();  // returns although the tunnel is idle and open
  char c;
  EXPECT_LE(::read(fd, &c, 1), 0);
  ::close(fd);
}

}  // namespace
}  // namespace tempa
