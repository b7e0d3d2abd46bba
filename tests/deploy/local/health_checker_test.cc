// The HealthChecker against real HTTP servers on loopback, and the PortAllocator against real
// sockets.
#include "deploy/local/health_checker.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <atomic>

#include "common/posix_status.h"
#include "deploy/local/port_allocator.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/loopback_http_server.h"
#include "tests/support/temp_dir.h"

namespace tempa::deploy {
namespace {

using ::testing::HasSubstr;

HealthCheckerOptions FakeTime(absl::Time* now) {
  HealthCheckerOptions options;
  options.now = [now] { return *now; };
  options.sleep = [now](absl::Duration d) { *now += d; };
  return options;
}

TEST(HealthCheckerTest, ARedirectIsHealthyAndIsNotFollowed) {
  tempa::testing::LoopbackHttpServer server("127.0.0.1", [](httplib::Server& s) {
    s.Get("/up", [](const httplib::Request&, httplib::Response& res) {
      res.set_redirect("http://192.0.2.1/elsewhere");
    });
  });
  EXPECT_TRUE(HealthChecker().Probe(server.port(), "/up").ok());
}

TEST(HealthCheckerTest, AServerErrorIsUnhealthyAndNamesTheStatus) {
  tempa::testing::LoopbackHttpServer server("127.0.0.1", [](httplib::Server& s) {
    s.Get("/healthz", [](const httplib::Request&, httplib::Response& res) { res.status = 503; });
  });
  absl::Status probe = HealthChecker().Probe(server.port(), "/healthz");
  EXPECT_TRUE(absl::IsUnavailable(probe));
  EXPECT_THAT(probe.message(), HasSubstr("answered 503"));
}

TEST(HealthCheckerTest, GivesUpAtTheDeadlineWithTheLastProbeErrorAndTheLastExit) {
  absl::Time now = absl::FromUnixSeconds(1000);
  HealthChecker checker(FakeTime(&now));
  const int port = tempa::testing::PickFreePort();  // nothing listens there
  int looks = 0;
  absl::Status status = checker.WaitHealthy(port, "/healthz", absl::Seconds(60), [&] {
    ++looks;
    ContainerStatus s;
    s.running = true;
    s.last_exit_reason = "killed by the memory limit (256 MiB)";
    return absl::StatusOr<ContainerStatus>(s);
  });
  EXPECT_TRUE(absl::IsDeadlineExceeded(status));
  EXPECT_EQ(status.message(),
            "never became healthy at /healthz within 60s: connection refused; last exit: killed "
            "by the memory limit (256 MiB)");
  EXPECT_GE(looks, 60 * 4);
}

TEST(HealthCheckerTest, AContainerThatRestartedFailsTheCheckAtOnce) {
  absl::Time now = absl::FromUnixSeconds(1000);
  HealthChecker checker(FakeTime(&now));
  const int port = tempa::testing::PickFreePort();
  absl::Status status = checker.WaitHealthy(port, "/", absl::Seconds(60), [&] {
    ContainerStatus s;
    s.running = true;  // already running again, but it did exit
    s.restarts = 1;
    s.last_exit_reason = "exited with 2";
    return absl::StatusOr<ContainerStatus>(s);
  });
  EXPECT_TRUE(absl::IsFailedPrecondition(status));
  EXPECT_THAT(status.message(), HasSubstr("exited with 2"));
  EXPECT_EQ(now, absl::FromUnixSeconds(1000));
}

TEST(HealthCheckerTest, BecomesHealthyWhenTheAppStartsAnsweringBeforeTheDeadline) {
  std::atomic<int> requests{0};
  tempa::testing::LoopbackHttpServer server("127.0.0.1", [&](httplib::Server& s) {
    s.Get("/", [&](const httplib::Request&, httplib::Response& res) {
      res.status = ++requests < 4 ? 503 : 204;  // warming up, then ready
    });
  });
  absl::Time now = absl::FromUnixSeconds(1000);
  HealthChecker checker(FakeTime(&now));
  absl::Status status = checker.WaitHealthy(server.port(), "/", absl::Seconds(60), [] {
    ContainerStatus s;
    s.running = true;
    return absl::StatusOr<ContainerStatus>(s);
  });
  EXPECT_TRUE(status.ok()) << status;
  EXPECT_EQ(requests.load(), 4);
}

TEST(PortAllocatorTest, APortIsNotHandedOutAgainUntilReleased) {
  const int only = tempa::testing::PickFreePort();
  PortAllocator ports(only, only);
  absl::StatusOr<int> a = ports.Allocate();
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(*a, only);
  absl::StatusOr<int> again = ports.Allocate();  // nobody listens there, but it is held
  EXPECT_TRUE(absl::IsResourceExhausted(again.status()));
  EXPECT_THAT(again.status().message(), HasSubstr("no free loopback port"));
  ports.Release(*a);
  absl::StatusOr<int> c = ports.Allocate();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(*c, only);
}

TEST(PortAllocatorTest, APortSomeoneElseListensOnIsSkipped) {
  UniqueFd fd(socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0));
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd.get(), reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd.get(), reinterpret_cast<sockaddr*>(&addr), &len), 0);
  ASSERT_EQ(listen(fd.get(), 1), 0);
  const int taken = ntohs(addr.sin_port);
  PortAllocator ports(taken, taken);
  EXPECT_TRUE(absl::IsResourceExhausted(ports.Allocate().status()));
  EXPECT_FALSE(ports.Claim(taken));
}

}  // namespace
}  // namespace tempa::deploy
