// The fixture of the unpacker's integration tests: a real docker-registry on loopback (one per
// test binary), a directory blob store for pushing crafted images, and helpers to look at trees.
#pragma once

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/check.h"
#include "common/registry/counting_http_transport.h"
#include "common/registry/curl_http_transport.h"
#include "deploy/image/registry_image_unpacker.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/deploy/image/test_layers.h"
#include "tests/support/dir_blob_store.h"
#include "tests/support/registry_server.h"
#include "tests/support/temp_dir.h"

namespace tempa::deploy::testing {

namespace fs = std::filesystem;

inline std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  return out;
}

inline std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

// Every path below `root` with its type, mode, owner and contents (or link target).
inline std::map<std::string, std::string> Tree(const std::string& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    struct stat st;
    TEMPA_CHECK(::lstat(e.path().c_str(), &st) == 0, "lstat");
    std::string what = absl::StrCat(st.st_mode, " ", st.st_uid, ":", st.st_gid, " ");
    if (S_ISLNK(st.st_mode)) what += fs::read_symlink(e.path()).string();
    if (S_ISREG(st.st_mode)) what += ReadFile(e.path());
    out[fs::relative(e.path(), root).string()] = what;
  }
  return out;
}

class RegistryImageUnpackerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!::tempa::testing::RegistryServer::Available()) return;
    auto server = ::tempa::testing::RegistryServer::Start();
    if (server.ok()) {
      server_ = std::move(*server);
    } else {
      start_error_ = new std::string(server.status().ToString());
    }
  }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    if (!::tempa::testing::RegistryServer::Available()) {
      GTEST_SKIP() << "docker-registry not installed";
    }
    ASSERT_NE(server_, nullptr) << (start_error_ != nullptr ? *start_error_ : "");
    client_ = std::make_unique<registry::RegistryClient>(server_->host_port(), &curl_);
    options_.work_dir = dir_.Join("work");
    options_.registry.sleeper = [](absl::Duration) {};
  }

  std::unique_ptr<ImageUnpacker> MakeUnpacker(registry::HttpTransport* transport = nullptr) {
    auto unpacker = MakeRegistryImageUnpacker(options_, transport ? transport : &counting_);
    TEMPA_CHECK(unpacker.ok(), unpacker.status().ToString().c_str());
    return *std::move(unpacker);
  }

  PushedImage Push(const std::string& repo, const std::vector<Layer>& layers,
                   const nlohmann::json& run_config = nlohmann::json::object(),
                   const std::vector<Digest>& diff_ids = {}) {
    auto pushed = PushLayers(*client_, store_, repo, layers, run_config, diff_ids);
    TEMPA_CHECK(pushed.ok(), pushed.status().ToString().c_str());
    return *pushed;
  }

  // The work directory holds the (empty) layout only: a failed unpack left nothing behind.
  void ExpectWorkDirEmpty() {
    EXPECT_THAT(Names(dir_.path()), ::testing::UnorderedElementsAre("work", "store"));
    EXPECT_THAT(Names(dir_.Join("work")),
                ::testing::UnorderedElementsAre("images", "tmp", "chains", "lock"));
    EXPECT_THAT(Names(dir_.Join("work/images")), ::testing::IsEmpty());
    EXPECT_THAT(Names(dir_.Join("work/tmp")), ::testing::IsEmpty());
    // Snapshots of verified lower layers may stay; nothing half-made does.
    for (const std::string& name : Names(dir_.Join("work/chains"))) {
      EXPECT_EQ(name.find(".tmp-"), std::string::npos) << name;
    }
  }

  static inline std::unique_ptr<::tempa::testing::RegistryServer> server_;
  static inline std::string* start_error_ = nullptr;
  ::tempa::testing::TempDir dir_;
  ::tempa::testing::DirBlobStore store_{dir_.Join("store")};
  registry::CurlHttpTransport curl_;
  registry::CountingHttpTransport counting_{&curl_};
  std::unique_ptr<registry::RegistryClient> client_;
  RegistryImageUnpackerOptions options_;
};

}  // namespace tempa::deploy::testing
