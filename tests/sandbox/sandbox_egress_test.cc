// A build step that may reach only the hosts its build env names, against the real bwrap,
// tempa-netbridge and HTTP servers on the host's loopback: the named ones answer (directly for
// loopback targets, through the proxy for named hosts, both plain HTTP and CONNECT), every other
// host stays out of reach, and what was refused is said in the step's output.
#include <filesystem>
#include <memory>
#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/loopback_http_server.h"
#include "tests/sandbox/sandbox_fixture.h"

namespace tempa {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;
using ::testing::Not;

// An HTTP server on `address` answering every GET with `body`.
class TinyServer : public testing::LoopbackHttpServer {
 public:
  TinyServer(const std::string& address, const std::string& body)
      : LoopbackHttpServer(address, [body](httplib::Server& server) {
          server.Get(".*", [body](const httplib::Request&, httplib::Response& res) {
            res.set_content(body, "text/plain");
          });
        }) {}
};

class SandboxEgressTest : public SandboxFixture {
 protected:
  SandboxEgressTest() : sandbox_with_bridge_(Options()) {}
  static BubblewrapSandboxOptions Options() {
    BubblewrapSandboxOptions options;
    options.netbridge_path = TEMPA_BINARY_DIR "/worker/tempa-netbridge";
    return options;
  }
  // A python3 one-liner that prints the body of `url`, or "failed <url>".
  static std::string Fetch(const std::string& url) {
    return "python3 -c 'import sys, urllib.request\n"
           "try: print(urllib.request.urlopen(sys.argv[1], timeout=10).read().decode())\n"
           "except Exception as e: print(\"failed\", sys.argv[1])' " +
           url + ";";
  }
  BubblewrapSandbox sandbox_with_bridge_;
};

TEST_F(SandboxEgressTest, LoopbackTargetsAreTunnelledAndNothingElseIsReachable) {
  TinyServer allowed("127.0.0.1", "allowed");
  TinyServer other("127.0.0.1", "other");
  std::string a = std::to_string(allowed.port());
  std::string b = std::to_string(other.port());
  SandboxCommand c = Shell(Fetch("http://127.0.0.1:" + a + "/simple/") +
                           Fetch("http://localhost:" + a + "/") +
                           Fetch("http://127.0.0.1:" + b + "/"));
  c.egress = {{"127.0.0.1", allowed.port()}};
  SandboxResult r = RunOk(sandbox_with_bridge_, c);
  ASSERT_TRUE(r.ok()) << r.log_tail;
  EXPECT_EQ(lines_[0], "allowed");
  EXPECT_EQ(lines_[1], "allowed");  // localhost resolves to the same tunnel
  EXPECT_EQ(lines_[2], "failed http://127.0.0.1:" + b + "/");
}

TEST_F(SandboxEgressTest, NamedHostsGoThroughTheProxyAndOthersAreRefusedAndReported) {
  // 127.0.0.2 and 127.0.0.3 are the host's loopback too, but not "loopback" by name to the
  // clients: they go through the proxy as a remote index would.
  TinyServer allowed("127.0.0.2", "via-proxy");
  TinyServer other("127.0.0.3", "secret");
  std::string a = "127.0.0.2:" + std::to_string(allowed.port());
  std::string b = "127.0.0.3:" + std::to_string(other.port());
  SandboxCommand c = Shell(
      Fetch("http://" + a + "/simple/flask/") +
      // curl -p: a CONNECT tunnel, the way HTTPS goes through the proxy.
      "curl -sS -p -x \"$HTTP_PROXY\" http://" + a + "/ && echo || echo failed-connect;" +
      Fetch("http://" + b + "/") + "curl -sS -p -x \"$HTTP_PROXY\" http://" + b +
      "/ 2>/dev/null || echo failed-connect-other;");
  c.egress = {{"127.0.0.2", allowed.port()}};
  SandboxResult r = RunOk(sandbox_with_bridge_, c);
  ASSERT_TRUE(r.ok()) << r.log_tail;
  EXPECT_EQ(lines_[0], "via-proxy");
  EXPECT_EQ(lines_[1], "via-proxy");
  EXPECT_EQ(lines_[2], "failed http://" + b + "/");
  EXPECT_EQ(lines_[3], "failed-connect-other");
  EXPECT_THAT(lines_, Not(Contains("secret")));
  EXPECT_THAT(r.log_tail, HasSubstr("tempa: refused connections to " + b +
                                    ": a build step may reach only the hosts its build env names"));
}

TEST_F(SandboxEgressTest, TheStepSeesOnlyLoopbackAndItsExitCodeIsKept) {
  SandboxCommand c = Shell("cat /proc/net/dev | tail -n +3 | cut -d: -f1 | tr -d ' '; exit 3");
  c.egress = {{"127.0.0.1", 40999}};
  SandboxResult r = RunOk(sandbox_with_bridge_, c);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_THAT(lines_, ::testing::ElementsAre("lo"));
}

TEST_F(SandboxEgressTest, AMissingNetbridgeIsAnErrorNamingIt) {
  BubblewrapSandboxOptions options;
  options.netbridge_path = dir_ + "/no-such-netbridge";
  BubblewrapSandbox sandbox(options);
  SandboxCommand c = Shell("true");
  c.egress = {{"127.0.0.1", 40999}};
  absl::StatusOr<SandboxResult> r = sandbox.Run(c);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("no-such-netbridge"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("tempa-netbridge"));
}

TEST_F(SandboxEgressTest, ALoopbackTargetOnAPrivilegedPortIsRefusedWithTheFix) {
  SandboxCommand c = Shell("true");
  c.egress = {{"localhost", 80}};
  absl::StatusOr<SandboxResult> r = sandbox_with_bridge_.Run(c);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("localhost:80"));
  EXPECT_THAT(std::string(r.status().message()), HasSubstr("ports 1024 and up"));
}

}  // namespace
}  // namespace tempa
