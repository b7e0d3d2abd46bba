// A Go app whose dependency comes from a module proxy (GOPROXY) through the real `tempa build`:
// the proxy is a directory in the GOPROXY protocol's layout served on loopback by the test. The
// module download is the only step with network, and reaches only that proxy; the compile is
// offline; the image runs with the proxied module in it.
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <memory>
#include <regex>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "tests/e2e/e2e_fixture.h"
#include "tests/support/loopback_http_server.h"

namespace tempa::testing {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

constexpr char kModule[] = "example.com/greeting";
constexpr char kVersion[] = "v1.0.0";

void WriteFile(const fs::path& path, const std::string& text) {
  fs::create_directories(path.parent_path());
  std::ofstream(path) << text;
}

class GoProxyE2eTest : public TempaE2eTest {
 protected:
  void SetUp() override {
    TempaE2eTest::SetUp();
    fs::permissions(tmp_.path(), fs::perms(0755));  // the build user reaches the copied source
  }
  // The go binary `tempa detect` picks, from its "toolchain: goX (GOROOT DIR)" reason.
  std::string HostGo(const std::string& app) {
    CommandResult r = Tempa({"detect", app, "--json"});
    json plan = json::parse(r.out, nullptr, false);
    std::smatch m;
    for (const json& reason : plan.value("reasons", json::array())) {
      std::string text = reason.get<std::string>();
      if (std::regex_search(text, m, std::regex(R"(GOROOT (/[^)]+)\))"))) return m[1].str() + "/bin/go";
    }
    ADD_FAILURE() << "no GOROOT in " << r.out << r.err;
    return "go";
  }

  // GOPROXY layout for kModule@kVersion, with the vendored copy's source; returns the dir.
  std::string MakeProxyDir(const std::string& module_source) {
    fs::path root = tmp_.Join("goproxy");
    fs::path v = root / kModule / "@v";
    std::string go_mod = absl::StrCat("module ", kModule, "\n\ngo 1.21\n");
    WriteFile(v / "list", absl::StrCat(kVersion, "\n"));
    WriteFile(v / absl::StrCat(kVersion, ".info"),
              absl::StrCat(R"({"Version":")", kVersion, R"(","Time":"2023-11-14T00:00:00Z"})"));
    WriteFile(v / absl::StrCat(kVersion, ".mod"), go_mod);
    // A module zip: every file under "<module>@<version>/".
    fs::path staging = tmp_.Join("zip-staging");
    WriteFile(staging / "go.mod", go_mod);
    fs::copy_file(module_source, staging / "greeting.go");
    CommandResult zip = RunCommand(
        {"python3", "-c",
         "import sys, zipfile, os\n"
         "z = zipfile.ZipFile(sys.argv[1], 'w')\n"
         "for f in sorted(os.listdir(sys.argv[2])):\n"
         "    z.write(os.path.join(sys.argv[2], f), sys.argv[3] + '/' + f)\n",
         (v / absl::StrCat(kVersion, ".zip")).string(), staging.string(),
         absl::StrCat(kModule, "@", kVersion)});
    EXPECT_EQ(zip.exit_code, 0) << zip.err;
    return root.string();
  }

  // go.sum lines for the module, as the host's go computes them from the proxy dir.
  std::string GoSum(const std::string& go, const std::string& proxy_dir) {
    CommandResult r = RunCommand(
        {go, "mod", "download", "-json", absl::StrCat(kModule, "@", kVersion)},
        {{"GOPROXY", "file://" + proxy_dir}, {"GOSUMDB", "off"}, {"GOFLAGS", "-modcacherw"},
         {"GOMODCACHE", tmp_.Join("host-modcache")}, {"GOTOOLCHAIN", "local"}},
        tmp_.path());
    json info = json::parse(r.out, nullptr, false);
    EXPECT_TRUE(info.contains("Sum")) << r.out << r.err;
    if (!info.contains("Sum")) return "";
    return absl::StrCat(kModule, " ", kVersion, " ", info["Sum"].get<std::string>(), "\n", kModule,
                        " ", kVersion, "/go.mod ", info["GoModSum"].get<std::string>(), "\n");
  }

  // Serves `dir` on 127.0.0.1 for the rest of the test; returns its port.
  int Serve(const std::string& dir) {
    server_ = std::make_unique<LoopbackHttpServer>(
        "127.0.0.1", [dir](httplib::Server& server) { server.set_mount_point("/", dir); });
    return server_->port();
  }

  std::unique_ptr<LoopbackHttpServer> server_;
};

TEST_F(GoProxyE2eTest, ModulesComeFromTheNamedProxyAndTheCompileIsOffline) {
  std::string app = CopyExample("go-hello", "app");
  std::string proxy_dir = MakeProxyDir(app + "/vendor/example.com/greeting/greeting.go");
  fs::remove_all(app + "/vendor");
  std::string go_sum = GoSum(HostGo(app), proxy_dir);
  ASSERT_FALSE(go_sum.empty());
  WriteFile(fs::path(app) / "go.sum", go_sum);
  int port = Serve(proxy_dir);
  std::string proxy = absl::StrCat("127.0.0.1:", port);

  CommandResult r = Tempa({"build", app, "--image", registry() + "/go-proxy", "--cache-dir",
                           tmp_.Join("cache"), "--json", "--build-env", "GOPROXY=http://" + proxy,
                           "--build-env", "GOSUMDB=off"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "$ go mod download (reaches " + proxy + ")")) << r.err;
  EXPECT_TRUE(absl::StrContains(r.err, "$ go build -trimpath -buildvcs=false -o /out/go-hello . "
                                       "(offline)"))
      << r.err;
  json proxied = json::parse(LastLine(r.out));

  // The module from the proxy is in the binary: the image answers with its greeting.
  if (geteuid() == 0) {
    int app_port = PickFreePort();
    std::string id = RunImageWithRunc(proxied["image"], tmp_.Join("run"), app_port);
    ASSERT_FALSE(id.empty());
    EXPECT_EQ(HttpGetRetrying(app_port, "/"), "hello from tempa (go)\n");
    RunCommand({"runc", "delete", "-f", id});
  }

  // Without the proxy in the build env the module cannot be had: a dependency failure.
  CommandResult offline = Tempa({"build", app, "--image", registry() + "/go-proxy", "--cache-dir",
                                 tmp_.Join("cache3"), "--json"});
  EXPECT_EQ(offline.exit_code, 1) << offline.err;
  EXPECT_EQ(ErrorOf(offline)["kind"], "dependency_resolution") << offline.out;
}

}  // namespace
}  // namespace tempa::testing
