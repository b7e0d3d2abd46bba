#include "tests/e2e/e2e_fixture.h"

#include <filesystem>

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

}  // namespace tempa::testing
