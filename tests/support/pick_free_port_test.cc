// PickFreePort: ports no running test process holds, outside the ranges that outgoing
// connections and the deployer's apps draw from.
#include <sys/wait.h>
#include <unistd.h>

#include <fstream>
#include <set>
#include <string>

#include "gtest/gtest.h"
#include "tests/support/temp_dir.h"

namespace tempa::testing {
namespace {

constexpr int kPicks = 400;

TEST(PickFreePortTest, TwoRunningProcessesNeverGetTheSamePort) {
  // The child picks first and keeps its ports (it stays alive) until the parent has picked too.
  int ready[2];
  int done[2];
  ASSERT_EQ(pipe(ready), 0);
  ASSERT_EQ(pipe(done), 0);
  TempDir dir("tempa-ports-");
  const std::string picked_by_child = dir.Join("child");
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    std::ofstream out(picked_by_child);
    for (int i = 0; i < kPicks; ++i) out << PickFreePort() << "\n";
    out.close();
    char byte = 1;
    (void)!write(ready[1], &byte, 1);
    (void)!read(done[0], &byte, 1);
    _exit(0);
  }
  char byte = 0;
  ASSERT_EQ(read(ready[0], &byte, 1), 1);
  std::set<int> child_ports;
  std::ifstream in(picked_by_child);
  for (int port = 0; in >> port;) child_ports.insert(port);
  ASSERT_EQ(child_ports.size(), static_cast<size_t>(kPicks));

  int ephemeral_start = 0;
  std::ifstream("/proc/sys/net/ipv4/ip_local_port_range") >> ephemeral_start;
  std::set<int> mine;
  for (int i = 0; i < kPicks; ++i) {
    int port = PickFreePort();
    EXPECT_EQ(child_ports.count(port), 0u) << port << " was handed to both processes";
    EXPECT_TRUE(mine.insert(port).second) << port << " was handed out twice";
    EXPECT_TRUE(port < 20000 || port >= 30000) << port << " is in the deployer's app ports";
    if (ephemeral_start > 11000) {
      EXPECT_LT(port, ephemeral_start) << port << " is in the ephemeral range";
    }
  }
  (void)!write(done[1], &byte, 1);
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

}  // namespace
}  // namespace tempa::testing
