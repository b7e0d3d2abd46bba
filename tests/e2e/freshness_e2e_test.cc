// An image always matches its source, whatever the source files' modification times say: Go apps
// built through the real `tempa build` from directories whose changed files are OLDER than the
// app's last build (an earlier checkout, `cp -p`, a tarball, a restored cache), with one cache
// directory; changes in main code, a vendored module, an embedded file, a removed file; and two
// builds of one app started together on one cache directory. The images are run (skopeo + umoci
// + runc) to see whose code they hold.
#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <thread>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace tempa::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void Replace(const std::string& path, const std::string& from, const std::string& to) {
  std::string text = ReadAll(path);
  ASSERT_TRUE(absl::StrContains(text, from)) << path << " lacks " << from;
  std::ofstream(path, std::ios::trunc) << absl::StrReplaceAll(text, {{from, to}});
}

// Gives every file and directory under `dir` (and `dir`) the time 2001-01-01, long before any
// build this test makes: what a checkout made earlier, `cp -p` or `tar x` leaves behind.
void Backdate(const std::string& dir) {
  struct timespec times[2];
  times[0].tv_sec = times[1].tv_sec = 978307200;  // 2001-01-01T00:00:00Z
  times[0].tv_nsec = times[1].tv_nsec = 0;
  std::vector<std::string> paths = {dir};
  for (const auto& e : fs::recursive_directory_iterator(dir)) paths.push_back(e.path().string());
  for (const std::string& p : paths) {
    ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << p;
  }
}

// Runs `image` with runc and returns what it answers on `/` ("" when it never does).
std::string Answer(const std::string& image, const std::string& work) {
  int port = PickFreePort();
  std::string id = RunImageWithRunc(image, work, port);
  if (id.empty()) return "";
  absl::Cleanup stop = [&] { RunCommand({"runc", "delete", "-f", id}); };
  std::string body = HttpGetRetrying(port, "/", 150);
  EXPECT_FALSE(body.empty()) << ReadAll(work + "/runc.log");
  return body;
}

class FreshnessE2eTest : public TempaE2eTest {
 protected:
  void SetUp() override {
    TempaE2eTest::SetUp();
    if (IsSkipped()) return;
    if (geteuid() != 0) GTEST_SKIP() << "running images with runc needs root";
  }
  int runs_ = 0;
  std::string NextRunDir() { return tmp_.Join(absl::StrCat("run", ++runs_)); }
};

TEST_F(FreshnessE2eTest, GoRevisionWithOlderFileTimesRunsItsOwnCodeAndTheFirstIsReusedAfter) {
  std::string a = CopyExample("go-hello", "a");
  std::string b = CopyExample("go-hello", "b");
  Replace(b + "/main.go", "greeting.Hello(\"go\")", "greeting.Hello(\"go, revision B\")");
  std::string cache = tmp_.Join("cache");

  json first_a = BuildJson(a, registry() + "/fresh-go:a", cache);
  ASSERT_TRUE(first_a.contains("image")) << first_a.dump();
  EXPECT_EQ(Answer(first_a["image"], NextRunDir()), "hello from tempa (go)\n");

  Backdate(b);  // B's files are older than A's build, its cache entries and binary
  json built_b = BuildJson(b, registry() + "/fresh-go:b", cache);
  ASSERT_TRUE(built_b.contains("image")) << built_b.dump();
  EXPECT_EQ(Answer(built_b["image"], NextRunDir()), "hello from tempa (go, revision B)\n");
  EXPECT_NE(built_b["layers"].back()["digest"], first_a["layers"].back()["digest"]);

  json again_a = BuildJson(a, registry() + "/fresh-go:a", cache);
  ASSERT_TRUE(again_a.contains("image")) << again_a.dump();
  EXPECT_EQ(Answer(again_a["image"], NextRunDir()), "hello from tempa (go)\n");
  EXPECT_EQ(again_a["layers"].back()["digest"], first_a["layers"].back()["digest"]);
  for (const json& layer : again_a["layers"]) EXPECT_TRUE(layer["reused"].get<bool>()) << layer;
  EXPECT_EQ(again_a["digest"], first_a["digest"]);
}

TEST_F(FreshnessE2eTest, GoChangeOnlyInAVendoredModuleWithOlderFileTimesIsInTheNextImage) {
  std::string a = CopyExample("go-hello", "a");
  std::string b = CopyExample("go-hello", "b");
  std::string vendored = b + "/vendor/example.com/greeting/greeting.go";
  ASSERT_TRUE(fs::exists(vendored)) << vendored;
  Replace(vendored, "hello from tempa", "hello from a changed vendored module in");
  std::string cache = tmp_.Join("cache");

  json first = BuildJson(a, registry() + "/vendored:v1", cache);
  ASSERT_TRUE(first.contains("image")) << first.dump();
  Backdate(b);
  json changed = BuildJson(b, registry() + "/vendored:v2", cache);
  ASSERT_TRUE(changed.contains("image")) << changed.dump();
  EXPECT_EQ(Answer(changed["image"], NextRunDir()),
            "hello from a changed vendored module in (go)\n");
}

// Removed and renamed files count as changes: a file whose init() changed the answer is gone
// from the second tree (whose other files are unchanged and old), and the answer follows.
TEST_F(FreshnessE2eTest, GoFileRemovedInAnOlderTreeIsGoneFromTheNextImage) {
  std::string a = CopyExample("go-hello", "a");
  Replace(a + "/main.go", "greeting.Hello(\"go\"))", "greeting.Hello(\"go\")+suffix)");
  std::ofstream(a + "/suffix.go") << "package main\n\nvar suffix = \"\"\n";
  std::ofstream(a + "/suffix_init.go") << "package main\n\nfunc init() { suffix = \" +init\" }\n";
  std::string b = tmp_.Join("b");
  fs::copy(a, b, fs::copy_options::recursive);
  fs::remove(b + "/suffix_init.go");
  std::string cache = tmp_.Join("cache");

  json first = BuildJson(a, registry() + "/removed:v1", cache);
  ASSERT_TRUE(first.contains("image")) << first.dump();
  EXPECT_EQ(Answer(first["image"], NextRunDir()), "hello from tempa (go) +init\n");
  Backdate(b);
  json next = BuildJson(b, registry() + "/removed:v2", cache);
  ASSERT_TRUE(next.contains("image")) << next.dump();
  EXPECT_EQ(Answer(next["image"], NextRunDir()), "hello from tempa (go)\n");
}

// A file the binary embeds (//go:embed) is an input like source: changed in an older tree, the
// next image answers with the new bytes.
TEST_F(FreshnessE2eTest, GoEmbeddedFileChangedInAnOlderTreeIsInTheNextImage) {
  std::string a = CopyExample("go-hello", "a");
  Replace(a + "/main.go", "greeting.Hello(\"go\"))", "greeting.Hello(banner))");
  std::ofstream(a + "/banner.go")
      << "package main\n\nimport _ \"embed\"\n\n//go:embed banner.txt\nvar banner string\n";
  std::ofstream(a + "/banner.txt") << "embedded A";
  std::string b = tmp_.Join("b");
  fs::copy(a, b, fs::copy_options::recursive);
  std::ofstream(b + "/banner.txt", std::ios::trunc) << "embedded B";  // same size
  std::string cache = tmp_.Join("cache");

  json first = BuildJson(a, registry() + "/embed:v1", cache);
  ASSERT_TRUE(first.contains("image")) << first.dump();
  EXPECT_EQ(Answer(first["image"], NextRunDir()), "hello from tempa (embedded A)\n");
  Backdate(b);
  json next = BuildJson(b, registry() + "/embed:v2", cache);
  ASSERT_TRUE(next.contains("image")) << next.dump();
  EXPECT_EQ(Answer(next["image"], NextRunDir()), "hello from tempa (embedded B)\n");
}

// A child `tempa build` whose output goes to files, so the test can watch its log as it runs.
class TempaProcess {
 public:
  TempaProcess(const std::vector<std::string>& args, const std::string& out, const std::string& err)
      : out_(out), err_(err) {
    std::vector<std::string> argv = {std::string(TEMPA_BINARY_DIR) + "/worker/tempa"};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (std::string& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    std::vector<std::string> env = {"SOURCE_DATE_EPOCH=1700000000"};
    for (char** e = environ; *e != nullptr; ++e) {
      if (!absl::StartsWith(*e, "SOURCE_DATE_EPOCH=")) env.push_back(*e);
    }
    std::vector<char*> cenv;
    for (std::string& e : env) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, out.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    posix_spawn_file_actions_addopen(&actions, 2, err.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (posix_spawn(&pid_, cargv[0], &actions, nullptr, cargv.data(), cenv.data()) != 0) pid_ = -1;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~TempaProcess() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      Wait();
    }
  }

  // Polls the log until it holds `text` or the process ends; true when it does.
  bool WaitForLog(const std::string& text) {
    while (true) {
      if (absl::StrContains(ReadAll(err_), text)) return true;
      int status = 0;
      if (pid_ <= 0 || ::waitpid(pid_, &status, WNOHANG) == pid_) {
        if (pid_ > 0) exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
        pid_ = -1;
        return absl::StrContains(ReadAll(err_), text);
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
  }
  int Wait() {
    int status = 0;
    if (pid_ > 0 && ::waitpid(pid_, &status, 0) == pid_) {
      exit_code_ = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    }
    pid_ = -1;
    return exit_code_;
  }
  void Signal(int sig) {
    if (pid_ > 0) ::kill(pid_, sig);
  }
  std::string log() const { return ReadAll(err_); }
  json result() const { return json::parse(LastLine(ReadAll(out_)), nullptr, false); }
  bool started() const { return pid_ > 0; }

 private:
  std::string out_, err_;
  pid_t pid_ = -1;
  int exit_code_ = -1;
};

// Two slots (here two processes) building two revisions of one app with one cache directory:
// the second waits, says so in its log, and each image holds its own revision. The first is
// held stopped once it has the cache, so the second surely finds it taken.
TEST_F(FreshnessE2eTest, TwoRevisionsBuiltAtOnceWithOneCacheEachRunTheirOwnCode) {
  std::string a = CopyExample("go-hello", "a");
  std::string b = CopyExample("go-hello", "b");
  Replace(b + "/main.go", "greeting.Hello(\"go\")", "greeting.Hello(\"go, revision B\")");
  Backdate(b);
  std::string cache = tmp_.Join("cache");
  auto args = [&](const std::string& dir, const std::string& tag) {
    return std::vector<std::string>{
        "build", dir, "--image", registry() + "/together:" + tag, "--cache-dir", cache, "--json"};
  };

  TempaProcess first(args(a, "a"), tmp_.Join("a.out"), tmp_.Join("a.err"));
  ASSERT_TRUE(first.started());
  ASSERT_TRUE(first.WaitForLog("tempa: detect")) << first.log();  // it holds the cache now
  first.Signal(SIGSTOP);
  TempaProcess second(args(b, "b"), tmp_.Join("b.out"), tmp_.Join("b.err"));
  ASSERT_TRUE(second.started());
  bool waited = second.WaitForLog("waiting for another");
  first.Signal(SIGCONT);
  EXPECT_TRUE(waited) << second.log();
  EXPECT_TRUE(absl::StrContains(second.log(), "to finish")) << second.log();
  EXPECT_FALSE(absl::StrContains(first.log(), "waiting for another")) << first.log();
  ASSERT_EQ(first.Wait(), 0) << first.log();
  ASSERT_EQ(second.Wait(), 0) << second.log();

  json built_a = first.result();
  json built_b = second.result();
  ASSERT_TRUE(built_a.contains("image")) << first.log();
  ASSERT_TRUE(built_b.contains("image")) << second.log();
  EXPECT_EQ(Answer(built_a["image"], NextRunDir()), "hello from tempa (go)\n");
  EXPECT_EQ(Answer(built_b["image"], NextRunDir()), "hello from tempa (go, revision B)\n");
}

}  // namespace
}  // namespace tempa::testing
