// NginxEdge against a real nginx: routing by host, a switch that drops no request, 404 for hosts
// nobody routes, names refused before any file is written, configs nginx refuses leaving the old
// one live, private files, and adopting a running nginx.
#include "deploy/edge/nginx_edge.h"

#include <dirent.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "deploy/edge/nginx_process.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/deploy/edge/edge_test_support.h"

namespace tempa::deploy::edge_test {
namespace {

using ::testing::HasSubstr;

std::string Slurp(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

bool Exists(const std::string& path) {
  struct stat st;
  return lstat(path.c_str(), &st) == 0;
}

TEST_F(EdgeTest, RoutesEachHostToItsBackendWithProxyHeaders) {
  auto v1 = Backend("v1");
  auto v2 = Backend("v2");
  auto edge = MakeEdge();
  ASSERT_NE(edge, nullptr);
  ASSERT_OK(edge->Apply(
      {{{"a.tempa.test"}, v1->port()}, {{"b.tempa.test", "b-1234567.tempa.test"}, v2->port()}}));
  EXPECT_EQ(Fetch(port_, false, {"a.tempa.test"}).body, "v1");
  EXPECT_EQ(Fetch(port_, false, {"b.tempa.test"}).body, "v2");
  EXPECT_EQ(Fetch(port_, false, {"b-1234567.tempa.test"}).body, "v2");
  Response headers = Fetch(port_, false, {"a.tempa.test", "", "/headers"});
  EXPECT_THAT(headers.body, HasSubstr("host=a.tempa.test"));
  EXPECT_THAT(headers.body, HasSubstr("proto=http"));
  EXPECT_THAT(headers.body, HasSubstr("for=127.0.0.1"));
  EXPECT_EQ(edge->UrlFor("a.tempa.test"), absl::StrCat("http://a.tempa.test:", port_));
}

TEST_F(EdgeTest, SwitchingAHostToANewBackendFailsNoRequestAndThenServesOnlyTheNewOne) {
  auto v1 = Backend("v1");
  auto v2 = Backend("v2");
  auto edge = MakeEdge();
  ASSERT_NE(edge, nullptr);
  ASSERT_OK(edge->Apply({{{"a.tempa.test"}, v1->port()}}));
  ASSERT_EQ(Fetch(port_, false, {"a.tempa.test"}).body, "v1");

  std::atomic<bool> stop{false};
  std::atomic<const char*> expected{"v1"};  // what a request begun now must answer
  std::atomic<int> requests{0};
  std::vector<std::string> failures;
  std::thread client([&] {
    while (!stop.load()) {
      const char* want = expected.load();
      Response r = Fetch(port_, false, {"a.tempa.test"});
      ++requests;
      const bool any_version = r.body == "v1" || r.body == "v2";
      if (!r.ok || r.status != 200 || !any_version) {
        failures.push_back(absl::StrCat("status ", r.status, " body ", r.body, " ", r.error));
      } else if (std::string(want) != "either" && r.body != want) {
        failures.push_back(absl::StrCat("stale: wanted ", want, ", got ", r.body));
      }
    }
  });
  for (int round = 0; round < 6; ++round) {
    const bool to_v2 = round % 2 == 0;
    const int before = requests.load();
    while (requests.load() < before + 5) std::this_thread::yield();
    expected = "either";  // during the switch, either answer is right
    ASSERT_OK(edge->Apply({{{"a.tempa.test"}, to_v2 ? v2->port() : v1->port()}}));
    expected = to_v2 ? "v2" : "v1";
  }
  const int before = requests.load();
  while (requests.load() < before + 5) std::this_thread::yield();
  stop = true;
  client.join();
  EXPECT_THAT(failures, ::testing::IsEmpty());
  EXPECT_EQ(Fetch(port_, false, {"a.tempa.test"}).body, "v1");
}

TEST_F(EdgeTest, ARequestInFlightOnTheOldConfigFinishesAfterTheSwitch) {
  absl::Notification arrived, release;
  testing::LoopbackHttpServer slow("127.0.0.1", [&](httplib::Server& s) {
    s.Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
      arrived.Notify();
      release.WaitForNotification();
      res.set_content("v1 slow", "text/plain");
    });
  });
  auto v2 = Backend("v2");
  auto edge = MakeEdge();
  ASSERT_NE(edge, nullptr);
  ASSERT_OK(edge->Apply({{{"a.tempa.test"}, slow.port()}}));
  Response in_flight;
  std::thread client([&] { in_flight = Fetch(port_, false, {"a.tempa.test", "", "/slow"}); });
  arrived.WaitForNotification();
  // The switch returns while the old worker still holds the request.
  ASSERT_OK(edge->Apply({{{"a.tempa.test"}, v2->port()}}));
  EXPECT_EQ(Fetch(port_, false, {"a.tempa.test"}).body, "v2");
  release.Notify();
  client.join();
  EXPECT_TRUE(in_flight.ok) << in_flight.error;
  EXPECT_EQ(in_flight.status, 200);
  EXPECT_EQ(in_flight.body, "v1 slow");
}

TEST_F(EdgeTest, HostNobodyRoutesAnswers404NamingTheHost) {
  auto v1 = Backend("v1");
  auto edge = MakeEdge();
  ASSERT_NE(edge, nullptr);
  ASSERT_OK(edge->Apply({{{"a.tempa.test"}, v1->port()}}));
  Response r = Fetch(port_, false, {"nope.tempa.test"});
  EXPECT_EQ(r.status, 404);
  EXPECT_THAT(r.body, HasSubstr("no app at this host: nope.tempa.test"));
  EXPECT_THAT(r.body, HasSubstr("tempa deploys list"));
  // An empty table is a valid table: everything answers 404.
  ASSERT_OK(edge->Apply({}));
  EXPECT_EQ(Fetch(port_, false, {"a.tempa.test"}).status, 404);
}

TEST_F(EdgeTest, BadHostNamesAreRefusedBeforeAnyFileIsWritten) {
  auto v1 = Backend("v1");
  auto edge = MakeEdge();
  ASSERT_NE(edge, nullptr);
  for (const char* host : {"a;b", "x y", "a.test;\n}server{listen 1.2.3.4:80;", "A.test"}) {
    absl::Status status = edge->Apply({{{host}, v1->port()}});
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << host;
  }
  EXPECT_FALSE(Exists(edge->dir() + "/nginx.conf"));
  EXPECT_FALSE(Exists(edge->dir() + "/nginx.conf.next"));
  EXPECT_EQ(edge->master_pid(), 0);

  ASSERT_OK(edge->Apply({{{"a.tempa.test"}, v1->port()}}));
  const std::string live = Slurp(edge->dir() + "/nginx.conf");
  EXPECT_FALSE(edge->Apply({{{"a.tempa.test", "x y"}, v1->port()}}).ok());
  EXPECT_EQ(Slurp(edge->dir() + "/nginx.conf"), live);
  EXPECT_EQ(Fetch(port_, false, {"a.tempa.test"}).body, "v1");
}

TEST_F(EdgeTest, OptionsThatWouldReachTheConfigUncheckedAreRefusedAtCreation) {
  NginxEdgeOptions options;
  options.work_dir = dir_.Join("work dir");
  EXPECT_EQ(NginxEdge::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.work_dir = dir_.Join("work");
  options.listen = "127.0.0.1:80; user root";
  EXPECT_EQ(NginxEdge::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.listen = "127.0.0.1:8080";
  options.worker_user = "nobody; daemon off";
  EXPECT_EQ(NginxEdge::Create(options).status().code(), absl::StatusCode::kInvalidArgument);
  options.worker_user = "nobody";
  options.nginx_binary = dir_.Join("no-nginx");
  auto missing = NginxEdge::Create(options);
  ASSERT_FALSE(missing.ok());
  EXPECT_THAT(missing.status().message(), HasSubstr("apt-get install nginx-light"));
  EXPECT_FALSE(Exists(dir_.Join("work")));
}

TEST_F(EdgeTest, AConfigNginxCannotLoadLeavesTheOldOneLiveWithNginxsMessage) {
  auto v1 = Backend("v1");
  auto v2 = Backend("v2");
  auto edge = MakeEdge();
  ASSERT_NE(edge, nullptr);
  ASSERT_OK(edge->Apply({{{"a.tempa.test"}, v1->port()}}));
  const std::string live = Slurp(edge->dir() + "/nginx.conf");
  const pid_t master = edge->master_pid();

  // A second edge object on the same nginx, listening where someone else already is: `nginx -t`
  // passes (it binds nothing), the reload fails in the master.
  int taken = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(taken, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(listen(taken, 1), 0);
  socklen_t len = sizeof addr;
  getsockname(taken, reinterpret_cast<sockaddr*>(&addr), &len);
  NginxEdgeOptions options;
  options.work_dir = dir_.Join("work");
  options.listen = absl::StrCat("127.0.0.1:", ntohs(addr.sin_port));
  auto moved = NginxEdge::Create(options);
  ASSERT_TRUE(moved.ok()) << moved.status();
  absl::Status status = (*moved)->Apply({{{"a.tempa.test"}, v2->port()}});
  close(taken);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(status.message(), HasSubstr("Address already in use"));
  EXPECT_THAT(status.message(), HasSubstr("old one stays live"));
  EXPECT_EQ(Fetch(port_, false, {"a.tempa.test"}).body, "v1");
  EXPECT_EQ(edge->master_pid(), master);
  EXPECT_EQ(Slurp(edge->dir() + "/nginx.conf"), live);
  // And the edge goes on: the next good apply is live.
  status = edge->Apply({{{"a.tempa.test"}, v2->port()}});
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_EQ(Fetch(port_, false, {"a.tempa.test"}).body, "v2");
}

// Every file under `dir` (no links followed), with its mode.
void ExpectNothingWritableByOthers(const std::string& dir) {
  DIR* d = opendir(dir.c_str());
  ASSERT_NE(d, nullptr) << dir;
  while (dirent* e = readdir(d)) {
    const std::string name = e->d_name;
    if (name == "." || name == "..") continue;
    const std::string path = dir + "/" + name;
    struct stat st;
    ASSERT_EQ(lstat(path.c_str(), &st), 0);
    if (S_ISSOCK(st.st_mode)) continue;  // connecting needs the dirs above
    EXPECT_EQ(st.st_mode & 022, 0u) << path << " mode " << std::oct << (st.st_mode & 07777);
    if (S_ISDIR(st.st_mode)) ExpectNothingWritableByOthers(path);
  }
  closedir(d);
}

TEST_F(EdgeTest, FilesItCreatesAreNotWritableByOthersAndTheConfigIsRootsAlone) {
  auto v1 = Backend("v1");
  auto edge = MakeEdge();
  ASSERT_NE(edge, nullptr);
  ASSERT_OK(edge->Apply({{{"a.tempa.test"}, v1->port()}}));
  ExpectNothingWritableByOthers(dir_.Join("work"));
  struct stat st;
  ASSERT_EQ(stat((edge->dir() + "/nginx.conf").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0600u);
  EXPECT_EQ(st.st_uid, 0u);
  ASSERT_EQ(stat(edge->dir().c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0711u);
}

TEST_F(EdgeTest, AnApplyRotatesAnAccessLogThatGrewPastItsLimit) {
  auto v1 = Backend("v1");
  NginxEdgeOptions options;
  options.rotate_access_log_bytes = 1000;
  auto edge = MakeEdge(options);
  ASSERT_NE(edge, nullptr);
  ASSERT_OK(edge->Apply({{{"a.tempa.test"}, v1->port()}}));
  for (int i = 0; i < 20; ++i) ASSERT_EQ(Fetch(port_, false, {"a.tempa.test"}).body, "v1");
  ASSERT_GT(Slurp(edge->dir() + "/access.log").size(), 1000u);
  ASSERT_OK(edge->Apply({{{"a.tempa.test"}, v1->port()}}));
  EXPECT_GT(Slurp(edge->dir() + "/access.log.1").size(), 1000u);
  ASSERT_EQ(Fetch(port_, false, {"a.tempa.test", "", "/after-rotation"}).body, "v1");
  // nginx logs a request once it has answered it: wait for the line.
  for (int i = 0;
       i < 500 && Slurp(edge->dir() + "/access.log").find("/after-rotation") == std::string::npos;
       ++i) {
    usleep(10000);
  }
  EXPECT_THAT(Slurp(edge->dir() + "/access.log"), HasSubstr("/after-rotation"));
  EXPECT_THAT(Slurp(edge->dir() + "/access.log.1"), ::testing::Not(HasSubstr("/after-rotation")));
}

TEST_F(EdgeTest, ANewEdgeObjectAdoptsTheRunningNginxAndReloadsIt) {
  auto v1 = Backend("v1");
  auto v2 = Backend("v2");
  auto edge = MakeEdge();
  ASSERT_NE(edge, nullptr);
  ASSERT_OK(edge->Apply({{{"a.tempa.test"}, v1->port()}}));
  const pid_t master = edge->master_pid();
  ASSERT_NE(master, 0);
  edge.reset();  // the deployer restarts; nginx keeps serving
  EXPECT_EQ(Fetch(port_, false, {"a.tempa.test"}).body, "v1");

  auto again = MakeEdge();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->master_pid(), master);
  ASSERT_OK(again->Apply({{{"a.tempa.test"}, v2->port()}}));
  EXPECT_EQ(again->master_pid(), master);
  EXPECT_EQ(Fetch(port_, false, {"a.tempa.test"}).body, "v2");
}

TEST_F(EdgeTest, AMasterThatWasKilledIsReplacedAndItsOrphanedWorkersStopped) {
  auto v1 = Backend("v1");
  auto edge = MakeEdge();
  ASSERT_NE(edge, nullptr);
  ASSERT_OK(edge->Apply({{{"a.tempa.test"}, v1->port()}}));
  const pid_t master = edge->master_pid();
  ASSERT_NE(master, 0);
  edge.reset();
  // As the OOM killer would: no clean exit; pid file, control socket and workers left behind,
  // the workers still holding the port.
  const std::vector<pid_t> workers = ChildrenOf(master);
  ASSERT_FALSE(workers.empty());
  kill(master, SIGKILL);
  while (ProcessAlive(master)) usleep(1000);
  ASSERT_TRUE(Exists(dir_.Join("work/edge/control.sock")));

  auto again = MakeEdge();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->master_pid(), 0);
  ASSERT_OK(again->Apply({{{"a.tempa.test"}, v1->port()}}));
  EXPECT_NE(again->master_pid(), master);
  for (pid_t worker : workers) EXPECT_FALSE(ProcessAlive(worker)) << worker;
  EXPECT_EQ(Fetch(port_, false, {"a.tempa.test"}).body, "v1");
}

TEST_F(EdgeTest, AMasterWhosePidFileWasLostIsFoundByItsControlSocket) {
  auto v1 = Backend("v1");
  auto v2 = Backend("v2");
  auto edge = MakeEdge();
  ASSERT_NE(edge, nullptr);
  ASSERT_OK(edge->Apply({{{"a.tempa.test"}, v1->port()}}));
  const pid_t master = edge->master_pid();
  edge.reset();
  ASSERT_EQ(unlink(dir_.Join("work/edge/nginx.pid").c_str()), 0);

  auto again = MakeEdge();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->master_pid(), master);
  ASSERT_OK(again->Apply({{{"a.tempa.test"}, v2->port()}}));
  EXPECT_EQ(again->master_pid(), master);
  EXPECT_EQ(Fetch(port_, false, {"a.tempa.test"}).body, "v2");
}

TEST_F(EdgeTest, APidFileNamingAnotherProcessIsNotAdopted) {
  auto v1 = Backend("v1");
  auto edge = MakeEdge();
  ASSERT_NE(edge, nullptr);
  ASSERT_OK(edge->Apply({{{"a.tempa.test"}, v1->port()}}));
  ASSERT_TRUE(edge->Stop().ok());
  EXPECT_NE(Fetch(port_, false, {"a.tempa.test"}).body, "v1");
  // Our own pid: alive, but not an nginx master of this config.
  testing::WriteFileOrDie(edge->dir() + "/nginx.pid", absl::StrCat(getpid(), "\n"));
  auto again = MakeEdge();
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->master_pid(), 0);
  ASSERT_OK(again->Apply({{{"a.tempa.test"}, v1->port()}}));
  EXPECT_NE(again->master_pid(), 0);
  EXPECT_NE(again->master_pid(), getpid());
  EXPECT_EQ(Fetch(port_, false, {"a.tempa.test"}).body, "v1");
}

}  // namespace
}  // namespace tempa::deploy::edge_test
