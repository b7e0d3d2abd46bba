#include "tests/e2e/e2e_fixture.h"

#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"

namespace tempa::testing {

namespace fs = std::filesystem;

void TempaE2eTest::SetUp() {
  if (!RegistryServer::Available()) GTEST_SKIP() << "docker-registry is not installed";
  auto server = RegistryServer::Start();
  ASSERT_TRUE(server.ok()) << server.status();
  registry_ = std::move(*server);
}

std::string TempaE2eTest::CopyExample(const std::string& name, const std::string& as) {
  std::string dest = tmp_.Join(as);
  fs::copy(fs::path(TEMPA_SOURCE_DIR) / "examples" / name, dest, fs::copy_options::recursive);
  return dest;
}

std::string TempaE2eTest::CopyTestApp(const std::string& name, const std::string& as) {
  std::string dest = tmp_.Join(as);
  fs::copy(fs::path(TEMPA_SOURCE_DIR) / "tests" / "e2e" / "apps" / name, dest,
           fs::copy_options::recursive);
  return dest;
}

CommandResult TempaE2eTest::Tempa(const std::vector<std::string>& args,
                                  std::map<std::string, std::string> env) {
  std::vector<std::string> argv = {std::string(TEMPA_BINARY_DIR) + "/worker/tempa"};
  argv.insert(argv.end(), args.begin(), args.end());
  env.try_emplace("SOURCE_DATE_EPOCH", "1700000000");
  return RunCommand(argv, env);
}

nlohmann::json TempaE2eTest::BuildJson(const std::string& dir, const std::string& image,
                                       const std::string& cache, CommandResult* result) {
  CommandResult r = Tempa({"build", dir, "--image", image, "--cache-dir", cache, "--json"});
  if (result != nullptr) *result = r;
  EXPECT_EQ(r.exit_code, 0) << r.err;
  nlohmann::json parsed = nlohmann::json::parse(LastLine(r.out), nullptr, false);
  EXPECT_FALSE(parsed.is_discarded()) << "stdout is not JSON: " << r.out;
  return parsed;
}

std::vector<std::string> ListFiles(const std::string& dir) {
  std::vector<std::string> out;
  std::error_code ec;
  for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::end(it);
       it.increment(ec)) {
    if (!it->is_directory()) out.push_back(fs::relative(it->path(), dir).string());
  }
  return out;
}

std::string RunImageWithRunc(const std::string& image, const std::string& work, int port) {
  std::string layout = work + "/layout";
  std::string bundle = work + "/bundle";
  fs::create_directories(work);
  CommandResult copy = RunCommand({"skopeo", "copy", "--quiet", "--src-tls-verify=false",
                                   "docker://" + image, "oci:" + layout + ":run"});
  EXPECT_EQ(copy.exit_code, 0) << copy.err;
  CommandResult unpack = RunCommand({"umoci", "unpack", "--image", layout + ":run", bundle});
  EXPECT_EQ(unpack.exit_code, 0) << unpack.err;
  if (copy.exit_code != 0 || unpack.exit_code != 0) return "";

  std::ifstream in(bundle + "/config.json");
  nlohmann::json config = nlohmann::json::parse(in);
  config["process"]["terminal"] = false;
  config["process"]["env"].push_back(absl::StrCat("PORT=", port));
  nlohmann::json namespaces = nlohmann::json::array();
  for (const nlohmann::json& ns : config["linux"]["namespaces"]) {
    if (ns["type"] != "network") namespaces.push_back(ns);  // answer on the host's loopback
  }
  config["linux"]["namespaces"] = namespaces;
  std::ofstream(bundle + "/config.json") << config.dump();

  // Unique per call: a test may run several containers.
  static int counter = 0;
  std::string id = absl::StrCat("tempa-e2e-", getpid(), "-", ++counter);
  // The detached container keeps its stdio open: give it a file, not our pipes.
  CommandResult run = RunCommand(
      {"sh", "-c", absl::StrCat("exec runc run --detach ", id, " >", work, "/runc.log 2>&1")}, {},
      bundle);
  EXPECT_EQ(run.exit_code, 0) << run.err;
  return run.exit_code == 0 ? id : "";
}

std::string HttpGetRetrying(int port, const std::string& path, int tries) {
  for (int i = 0; i < tries; ++i) {
    CommandResult r = RunCommand(
        {"curl", "-fsS", "--max-time", "2", absl::StrCat("http://127.0.0.1:", port, path)});
    if (r.exit_code == 0) return r.out;
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  return "";
}

nlohmann::json ErrorOf(const CommandResult& result) {
  nlohmann::json parsed = nlohmann::json::parse(LastLine(result.out), nullptr, false);
  return parsed.is_discarded() || !parsed.contains("error") ? nlohmann::json() : parsed["error"];
}

}  // namespace tempa::testing
