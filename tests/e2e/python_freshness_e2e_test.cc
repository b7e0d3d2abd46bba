// A Python image always holds its source's code, whatever the files' modification times say:
// revisions built through the real `tempa build` from directories whose files are OLDER than the
// app's last build, with one cache directory; a change only in a local package the app imports;
// a removed file; bytecode an older revision left in the tree (whose header names the source's
// mtime and size, which a backdated edit of the same size can match). The images are run with
// runc and unpacked with umoci. The app uses the standard library only: no index, no pip.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/temp_dir.h"

namespace tempa::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kAppPy[] = R"(import os
from http.server import BaseHTTPRequestHandler, HTTPServer

import mypkg


class Handler(BaseHTTPRequestHandler):
    def do_GET(self):
        body = (PREFIX + mypkg.message() + "\n").encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


PREFIX = "app A: "
HTTPServer(("0.0.0.0", int(os.environ.get("PORT", "8080"))), Handler).serve_forever()
)";

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

void Write(const std::string& path, const std::string& text) {
  fs::create_directories(fs::path(path).parent_path());
  std::ofstream(path, std::ios::trunc) << text;
}

// Gives every file and directory under `dir` the time 2001-01-01, long before any build here.
void Backdate(const std::string& dir) {
  struct timespec times[2] = {{978307200, 0}, {978307200, 0}};
  std::vector<std::string> paths = {dir};
  for (const auto& e : fs::recursive_directory_iterator(dir)) paths.push_back(e.path().string());
  for (const std::string& p : paths) {
    ASSERT_EQ(::utimensat(AT_FDCWD, p.c_str(), times, AT_SYMLINK_NOFOLLOW), 0) << p;
  }
}

std::string Answer(const std::string& image, const std::string& work) {
  int port = PickFreePort();
  std::string id = RunImageWithRunc(image, work, port);
  if (id.empty()) return "";
  absl::Cleanup stop = [&] { RunCommand({"runc", "delete", "-f", id}); };
  std::string body = HttpGetRetrying(port, "/", 150);
  EXPECT_FALSE(body.empty()) << ReadAll(work + "/runc.log");
  return body;
}

// Pulls and unpacks `image` (skopeo + umoci) and returns its root file system.
std::string Unpack(const std::string& image, const std::string& work) {
  fs::create_directories(work);
  CommandResult copy = RunCommand({"skopeo", "copy", "--quiet", "--src-tls-verify=false",
                                   "docker://" + image, "oci:" + work + "/layout:x"});
  EXPECT_EQ(copy.exit_code, 0) << copy.err;
  CommandResult unpack =
      RunCommand({"umoci", "unpack", "--image", work + "/layout:x", work + "/bundle"});
  EXPECT_EQ(unpack.exit_code, 0) << unpack.err;
  return work + "/bundle/rootfs";
}

class PythonFreshnessE2eTest : public TempaE2eTest {
 protected:
  void SetUp() override {
    TempaE2eTest::SetUp();
    if (IsSkipped()) return;
    if (geteuid() != 0) GTEST_SKIP() << "running images with runc needs root";
    if (access("/usr/bin/python3.11", X_OK) != 0) GTEST_SKIP() << "python3.11 not installed";
  }

  // Revision A: app.py importing the local package mypkg, and a module only A has.
  std::string WriteRevisionA(const std::string& dir) {
    Write(dir + "/app.py", kAppPy);
    Write(dir + "/mypkg/__init__.py", "def message():\n    return 'package A'\n");
    Write(dir + "/mypkg/only_in_a.py", "GONE = False\n");
    return dir;
  }
  std::string NextRunDir() { return tmp_.Join(absl::StrCat("run", ++runs_)); }
  int runs_ = 0;
};

TEST_F(PythonFreshnessE2eTest, RevisionWithOlderFileTimesRunsItsOwnCodeAndTheFirstIsReusedAfter) {
  std::string a = WriteRevisionA(tmp_.Join("a"));
  std::string b = WriteRevisionA(tmp_.Join("b"));
  std::string app_b = ReadAll(b + "/app.py");
  Write(b + "/app.py", app_b.replace(app_b.find("app A: "), 7, "app B: "));  // same size
  std::string cache = tmp_.Join("cache");

  json first_a = BuildJson(a, registry() + "/fresh-py:a", cache);
  ASSERT_TRUE(first_a.contains("image")) << first_a.dump();
  ASSERT_EQ(first_a["layers"].size(), 3u) << first_a.dump();
  EXPECT_EQ(Answer(first_a["image"], NextRunDir()), "app A: package A\n");

  Backdate(b);
  json built_b = BuildJson(b, registry() + "/fresh-py:b", cache);
  ASSERT_TRUE(built_b.contains("image")) << built_b.dump();
  EXPECT_EQ(Answer(built_b["image"], NextRunDir()), "app B: package A\n");

  json again_a = BuildJson(a, registry() + "/fresh-py:a", cache);
  ASSERT_TRUE(again_a.contains("image")) << again_a.dump();
  EXPECT_EQ(Answer(again_a["image"], NextRunDir()), "app A: package A\n");
  EXPECT_EQ(again_a["layers"][2]["digest"], first_a["layers"][2]["digest"]);
  for (const json& layer : again_a["layers"]) EXPECT_TRUE(layer["reused"].get<bool>()) << layer;
  EXPECT_EQ(again_a["digest"], first_a["digest"]);
}

// B is A's tree after the app ran there (its __pycache__, with bytecode that answers "package
// A" and records __init__.py's size and mtime), then edited: the package's message changed (same
// size), one module removed, and every time set back before A's build. B's image answers with
// B's package, holds no only_in_a.py, and no bytecode at all.
TEST_F(PythonFreshnessE2eTest, ChangeOnlyInALocalPackageIsInTheNextImageWithNoStaleBytecode) {
  std::string a = WriteRevisionA(tmp_.Join("a"));
  std::string cache = tmp_.Join("cache");
  json first = BuildJson(a, registry() + "/local-pkg:v1", cache);
  ASSERT_TRUE(first.contains("image")) << first.dump();

  std::string b = tmp_.Join("b");
  fs::copy(a, b, fs::copy_options::recursive);
  Backdate(b);  // so the bytecode made next records __init__.py's 2001 time and its size
  CommandResult compiled = RunCommand(
      {"python3.11", "-c",
       "import py_compile as c\n"
       "for f in ('mypkg/__init__.py', 'mypkg/only_in_a.py'):\n"
       "    c.compile(f, doraise=True, invalidation_mode=c.PycInvalidationMode.TIMESTAMP)\n"},
      {}, b);
  ASSERT_EQ(compiled.exit_code, 0) << compiled.err;
  ASSERT_TRUE(fs::exists(b + "/mypkg/__pycache__/__init__.cpython-311.pyc"));
  // A sourceless module next to the package, as an old checkout can leave one.
  fs::copy_file(b + "/mypkg/__pycache__/only_in_a.cpython-311.pyc", b + "/mypkg/only_in_a.pyc");
  Write(b + "/mypkg/__init__.py", "def message():\n    return 'package B'\n");
  fs::remove(b + "/mypkg/only_in_a.py");
  Backdate(b);  // the edited __init__.py now matches what its stale bytecode records
  // The trap is armed: Python on the host, in this tree, runs A's bytecode for B's source.
  CommandResult fooled = RunCommand(
      {"python3.11", "-c", "import mypkg, mypkg.only_in_a; print(mypkg.message())"}, {}, b);
  ASSERT_EQ(fooled.exit_code, 0) << fooled.err;
  ASSERT_EQ(fooled.out, "package A\n");

  json next = BuildJson(b, registry() + "/local-pkg:v2", cache);
  ASSERT_TRUE(next.contains("image")) << next.dump();
  EXPECT_NE(next["layers"][2]["digest"], first["layers"][2]["digest"]);
  EXPECT_EQ(Answer(next["image"], NextRunDir()), "app A: package B\n");

  std::string rootfs = Unpack(next["image"], NextRunDir());
  ASSERT_TRUE(fs::exists(rootfs + "/app/mypkg/__init__.py")) << rootfs;
  EXPECT_EQ(ReadAll(rootfs + "/app/mypkg/__init__.py"), "def message():\n    return 'package B'\n");
  EXPECT_FALSE(fs::exists(rootfs + "/app/mypkg/only_in_a.py"));
  for (const auto& e : fs::recursive_directory_iterator(rootfs + "/app")) {
    EXPECT_FALSE(absl::EndsWith(e.path().string(), ".pyc")) << e.path();
    EXPECT_NE(e.path().filename(), "__pycache__") << e.path();
  }
}

}  // namespace
}  // namespace tempa::testing
