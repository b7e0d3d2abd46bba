// The bubblewrap sandbox against the real bwrap: streaming, results, limits and isolation.
#include "worker/sandbox/bubblewrap_sandbox.h"

#include <stdlib.h>
#include <sys/stat.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/sandbox/sandbox_fixture.h"

namespace tempa {
namespace {

namespace fs = std::filesystem;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;
using Outcome = SandboxResult::Outcome;

using BubblewrapSandboxTest = SandboxFixture;

TEST_F(BubblewrapSandboxTest, RunsCommandAndStreamsLines) {
  SandboxResult r = RunOk(Shell("echo one; echo two >&2; printf three"));
  EXPECT_TRUE(r.ok());
  EXPECT_THAT(lines_, ElementsAre("one", "two", "three"));
  EXPECT_EQ(r.log_tail, "one\ntwo\nthree");
}

TEST_F(BubblewrapSandboxTest, LogTailKeepsOnlyTheLastLines) {
  SandboxResult r = RunOk(Shell("i=0; while [ $i -lt 100 ]; do echo line$i; i=$((i+1)); done"));
  EXPECT_EQ(lines_.size(), 100u);
  std::vector<std::string> tail = absl::StrSplit(r.log_tail, '\n');
  ASSERT_EQ(tail.size(), 40u);
  EXPECT_EQ(tail.front(), "line60");
  EXPECT_EQ(tail.back(), "line99");
}

TEST_F(BubblewrapSandboxTest, NonZeroExitIsAResultNotAnError) {
  SandboxResult r = RunOk(Shell("echo failing; exit 3"));
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.outcome, Outcome::kExited);
  EXPECT_EQ(r.exit_code, 3);
  EXPECT_EQ(r.log_tail, "failing");
}

TEST_F(BubblewrapSandboxTest, WallTimeLimitKillsTheCommand) {
  SandboxCommand c = Shell("echo started; sleep 30");
  // The limit counts bubblewrap's own start-up too: room for it on a loaded machine.
  c.limits.wall_time = absl::Seconds(5);
  SandboxResult r = RunOk(c);
  EXPECT_EQ(r.outcome, Outcome::kTimedOut);
  EXPECT_FALSE(r.ok());
  EXPECT_THAT(lines_, ElementsAre("started"));
}

TEST_F(BubblewrapSandboxTest, WallTimeLimitAppliesAfterTheCommandClosesItsOutput) {
  SandboxCommand c = Shell("exec >/dev/null 2>&1; sleep 30");
  c.limits.wall_time = absl::Seconds(1);
  EXPECT_EQ(RunOk(c).outcome, Outcome::kTimedOut);
}

TEST_F(BubblewrapSandboxTest, OutputLimitKillsTheCommand) {
  SandboxCommand c = Shell("yes 0123456789");
  c.limits.output_bytes = 100000;
  SandboxResult r = RunOk(c);
  EXPECT_EQ(r.outcome, Outcome::kOutputTooLarge);
  size_t streamed = 0;
  for (const auto& line : lines_) streamed += line.size() + 1;
  EXPECT_LE(streamed, 100000u + 1);
  EXPECT_GT(streamed, 90000u);
}

TEST_F(BubblewrapSandboxTest, MemoryLimitIsReportedAsOutOfMemory) {
  if (!fs::exists("/usr/bin/perl")) GTEST_SKIP() << "needs perl to allocate on demand";
  SandboxCommand c = Shell("perl -e '$x = \"a\" x 400000000; print length($x)'");
  c.limits.memory_bytes = 128ull << 20;
  SandboxResult r = RunOk(c);
  EXPECT_EQ(r.outcome, Outcome::kOutOfMemory) << r.log_tail;
}

TEST_F(BubblewrapSandboxTest, OnlyMountedPathsAreVisible) {
  fs::create_directories(dir_ + "/secret");
  fs::create_directories(dir_ + "/rw");
  fs::create_directories(dir_ + "/ro");
  std::ofstream(dir_ + "/secret/token") << "hunter2";
  std::ofstream(dir_ + "/ro/input") << "source";
  Prepare();

  SandboxCommand c = Shell("test -e " + dir_ +
                           "/secret/token && echo secret-visible;"
                           "test -e /root && echo root-visible;"
                           "cat /ro/input; echo;"
                           "echo built > /out/result && echo rw-ok;"
                           "touch /ro/new 2>/dev/null && echo ro-writable;"
                           "echo done");
  c.mounts = {{dir_ + "/rw", "/out", true}, {dir_ + "/ro", "/ro", false}};
  SandboxResult r = RunOk(c);
  EXPECT_TRUE(r.ok()) << r.log_tail;
  EXPECT_THAT(lines_, ElementsAre("source", "rw-ok", "done"));
  std::string written;
  std::getline(std::ifstream(dir_ + "/rw/result"), written);
  EXPECT_EQ(written, "built");
  EXPECT_FALSE(fs::exists(dir_ + "/ro/new"));
}

std::set<std::string> Interfaces(const std::vector<std::string>& proc_net_dev) {
  std::set<std::string> out;
  for (const std::string& line : proc_net_dev) {
    size_t colon = line.find(':');
    if (colon == std::string::npos || line.find('|') != std::string::npos) continue;
    out.insert(std::string(absl::StripAsciiWhitespace(line.substr(0, colon))));
  }
  return out;
}

TEST_F(BubblewrapSandboxTest, NetworkIsOffUnlessAsked) {
  SandboxResult off = RunOk(Shell("cat /proc/net/dev"));
  ASSERT_TRUE(off.ok()) << off.log_tail;
  EXPECT_THAT(Interfaces(lines_), UnorderedElementsAre("lo"));

  // With network the sandbox sees the host's interfaces.
  std::vector<std::string> host;
  std::ifstream in("/proc/net/dev");
  for (std::string line; std::getline(in, line);) host.push_back(line);
  lines_.clear();
  SandboxCommand on = Shell("cat /proc/net/dev");
  on.network = true;
  ASSERT_TRUE(RunOk(on).ok());
  EXPECT_EQ(Interfaces(lines_), Interfaces(host));
}

TEST_F(BubblewrapSandboxTest, EnvironmentIsOnlyWhatWasGiven) {
  setenv("TEMPA_WORKER_SECRET", "do-not-leak", 1);
  SandboxCommand c;
  c.argv = {"/usr/bin/env"};
  c.env = {{"PATH", "/usr/bin:/bin"}, {"GOFLAGS", "-trimpath"}};
  c.cwd = "/tmp";
  c.on_output = [this](absl::string_view line) { lines_.emplace_back(line); };
  ASSERT_TRUE(RunOk(c).ok());
  // bwrap always sets PWD to the working directory it entered.
  EXPECT_THAT(lines_, UnorderedElementsAre("PATH=/usr/bin:/bin", "GOFLAGS=-trimpath", "PWD=/tmp"));
  unsetenv("TEMPA_WORKER_SECRET");
}

TEST_F(BubblewrapSandboxTest, MissingBubblewrapIsAnErrorNamingTheFix) {
  BubblewrapSandboxOptions options;
  options.bwrap_path = dir_ + "/no-such-bwrap";
  BubblewrapSandbox sandbox(options);
  auto r = sandbox.Run(Shell("true"));
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(r.status().message(), HasSubstr("install bubblewrap"));
}

TEST_F(BubblewrapSandboxTest, MissingMountSourceIsAnError) {
  SandboxCommand c = Shell("true");
  c.mounts = {{dir_ + "/absent", "/src", false}};
  EXPECT_EQ(sandbox_.Run(c).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace tempa
