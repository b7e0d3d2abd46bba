// RegistryClient and PushImage/PullImage against a real CNCF distribution registry on loopback;
// skopeo (when installed) checks that what we push is an image other tools accept.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include "common/check.h"
#include "common/registry/curl_http_transport.h"
#include "common/registry/image_pusher.h"
#include "common/registry/registry_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/dir_blob_store.h"
#include "tests/support/registry_server.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_image.h"

namespace tempa::registry {
namespace {

using ::testing::HasSubstr;

class RegistryIntegrationTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::RegistryServer::Available()) return;
    auto server = testing::RegistryServer::Start();
    if (server.ok()) {
      server_ = std::move(*server);
    } else {
      start_error_ = new std::string(server.status().ToString());
    }
  }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    if (!testing::RegistryServer::Available()) GTEST_SKIP() << "docker-registry not installed";
    ASSERT_NE(server_, nullptr) << (start_error_ != nullptr ? *start_error_ : "");
    client_ = std::make_unique<RegistryClient>(server_->host_port(), &transport_, options_);
  }

  ImageReference Ref(const std::string& name) {
    auto ref = ImageReference::Parse(server_->host_port() + "/" + name);
    TEMPA_CHECK(ref.ok(), "bad test reference");
    return *ref;
  }

  static inline std::unique_ptr<testing::RegistryServer> server_;
  static inline std::string* start_error_ = nullptr;
  testing::TempDir dir_;
  testing::DirBlobStore store_{dir_.Join("store")};
  CurlHttpTransport transport_;
  RegistryClientOptions options_;
  std::unique_ptr<RegistryClient> client_;
};

TEST_F(RegistryIntegrationTest, PushThenPullGivesBackIdenticalImage) {
  auto image = testing::MakeTestImage(store_, {1000, 200000}, 1);
  ASSERT_TRUE(image.ok()) << image.status();
  auto pushed = PushImage(*client_, Ref("roundtrip/app:v1"), store_, image->config, image->layers,
                          image->manifest_json);
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  EXPECT_EQ(pushed->manifest_digest, image->manifest_digest);
  EXPECT_EQ(pushed->uploaded, 3);
  EXPECT_EQ(pushed->skipped, 0);

  testing::DirBlobStore pulled_store(dir_.Join("pulled"));
  auto pulled = PullImage(*client_, Ref("roundtrip/app:v1"), pulled_store);
  ASSERT_TRUE(pulled.ok()) << pulled.status();
  EXPECT_EQ(pulled->manifest_json, image->manifest_json);
  EXPECT_EQ(pulled->manifest_digest, image->manifest_digest);
  EXPECT_EQ(pulled->config.digest, image->config.digest);
  ASSERT_EQ(pulled->layers.size(), 2u);
  for (const auto& layer : image->layers) {
    auto original = store_.Read(layer.digest);
    auto copy = pulled_store.Read(layer.digest);
    ASSERT_TRUE(copy.ok()) << copy.status();
    EXPECT_EQ(*copy, *original);
  }
  // By digest, too.
  auto by_digest = ImageReference::Parse(Ref("roundtrip/app").WithDigest(image->manifest_digest));
  ASSERT_TRUE(by_digest.ok());
  EXPECT_TRUE(PullImage(*client_, *by_digest, pulled_store).ok());
}

TEST_F(RegistryIntegrationTest, PushSkipsBlobsTheRegistryAlreadyHas) {
  auto image = testing::MakeTestImage(store_, {5000, 6000, 7000}, 2);
  ASSERT_TRUE(image.ok()) << image.status();
  auto first = PushImage(*client_, Ref("skip/app:v1"), store_, image->config, image->layers,
                         image->manifest_json);
  ASSERT_TRUE(first.ok()) << first.status();
  RequestCounts before = client_->counts();

  auto second = PushImage(*client_, Ref("skip/app:v1"), store_, image->config, image->layers,
                          image->manifest_json);
  ASSERT_TRUE(second.ok()) << second.status();
  RequestCounts after = client_->counts();
  EXPECT_EQ(second->uploaded, 0);
  EXPECT_EQ(second->skipped, 4);
  EXPECT_EQ(second->bytes_uploaded, 0u);
  EXPECT_EQ(after.head - before.head, 4);  // config + 3 layers
  EXPECT_EQ(after.put - before.put, 1);    // the manifest
  EXPECT_EQ(after.post - before.post, 0);
  EXPECT_EQ(after.patch - before.patch, 0);
  EXPECT_EQ(after.get - before.get, 0);
}

TEST_F(RegistryIntegrationTest, ChunkedUploadOfABlobLargerThanTheMonolithicLimit) {
  options_.monolithic_limit = 64 << 10;
  options_.chunk_size = 100 << 10;
  RegistryClient client(server_->host_port(), &transport_, options_);
  auto image = testing::MakeTestImage(store_, {450 << 10}, 3);
  ASSERT_TRUE(image.ok()) << image.status();
  auto pushed = PushImage(client, Ref("chunked/app:v1"), store_, image->config, image->layers,
                          image->manifest_json);
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  EXPECT_EQ(client.counts().patch, 5);  // ~451 KiB in 100 KiB chunks

  std::string path = dir_.Join("layer");
  ASSERT_TRUE(client
                  .GetBlob("chunked/app", image->layers[0].digest,
                           static_cast<uint64_t>(image->layers[0].size), path)
                  .ok());
  auto size = store_.Size(image->layers[0].digest);
  EXPECT_EQ(std::filesystem::file_size(path), *size);
}

TEST_F(RegistryIntegrationTest, CrossRepoMountAvoidsTheUpload) {
  auto image = testing::MakeTestImage(store_, {30000, 40000}, 4);
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_TRUE(PushImage(*client_, Ref("mount/base:v1"), store_, image->config, image->layers,
                        image->manifest_json)
                  .ok());
  RequestCounts before = client_->counts();
  auto pushed = PushImage(*client_, Ref("mount/app:v1"), store_, image->config, image->layers,
                          image->manifest_json, {.mount_from = {"mount/base"}});
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  RequestCounts after = client_->counts();
  EXPECT_EQ(pushed->mounted, 3);
  EXPECT_EQ(pushed->uploaded, 0);
  EXPECT_EQ(after.post - before.post, 3);  // one mount each
  EXPECT_EQ(after.put - before.put, 1);    // the manifest only
  auto exists = client_->BlobExists("mount/app", image->layers[1].digest);
  ASSERT_TRUE(exists.ok());
  EXPECT_TRUE(*exists);
}

TEST_F(RegistryIntegrationTest, MountFromARepositoryWithoutTheBlobUploadsInstead) {
  auto image = testing::MakeTestImage(store_, {1000}, 5);
  ASSERT_TRUE(image.ok()) << image.status();
  auto pushed = PushImage(*client_, Ref("mountmiss/app:v1"), store_, image->config, image->layers,
                          image->manifest_json, {.mount_from = {"nothing/here"}});
  ASSERT_TRUE(pushed.ok()) << pushed.status();
  EXPECT_EQ(pushed->mounted, 0);
  EXPECT_EQ(pushed->uploaded, 2);
  EXPECT_EQ(client_->counts().post, 2);  // the mount's 202 session was used for the upload
}

TEST_F(RegistryIntegrationTest, MissingManifestIsNotFound) {
  auto manifest = client_->GetManifest("nothing/here", "v1");
  ASSERT_FALSE(manifest.ok());
  EXPECT_EQ(manifest.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(manifest.status().message()), HasSubstr(server_->host_port()));
}

TEST_F(RegistryIntegrationTest, SkopeoAcceptsAPushedImage) {
  if (access("/usr/bin/skopeo", X_OK) != 0) GTEST_SKIP() << "skopeo not installed";
  auto image = testing::MakeTestImage(store_, {2000}, 6);
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_TRUE(PushImage(*client_, Ref("skopeo/app:v1"), store_, image->config, image->layers,
                        image->manifest_json)
                  .ok());
  std::string cmd = "HOME=" + dir_.path() + " skopeo inspect --tls-verify=false docker://" +
                    server_->host_port() + "/skopeo/app:v1 2>&1";
  FILE* pipe = popen(cmd.c_str(), "r");
  ASSERT_NE(pipe, nullptr);
  std::string output;
  char buf[4096];
  while (size_t n = fread(buf, 1, sizeof(buf), pipe)) output.append(buf, n);
  int rc = pclose(pipe);
  ASSERT_EQ(rc, 0) << output;
  EXPECT_THAT(output, HasSubstr(image->manifest_digest.ToString()));
  EXPECT_THAT(output, HasSubstr(image->layers[0].digest.ToString()));
}

}  // namespace
}  // namespace tempa::registry
