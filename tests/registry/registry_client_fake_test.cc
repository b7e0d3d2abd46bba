// RegistryClient against the in-process fake registry: auth flows, resume and retry behaviour
// that a real registry cannot be made to show on demand.
#include <memory>
#include <string>
#include <vector>

#include "common/registry/curl_http_transport.h"
#include "common/registry/image_pusher.h"
#include "common/registry/registry_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/dir_blob_store.h"
#include "tests/support/fake_registry.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_image.h"

namespace tempa::registry {
namespace {

using ::tempa::testing::FakeRegistry;
using ::testing::HasSubstr;

class RegistryClientFakeTest : public ::testing::Test {
 protected:
  RegistryClientOptions Options() {
    RegistryClientOptions options;
    options.sleeper = [this](absl::Duration d) { sleeps_.push_back(d); };
    return options;
  }

  FakeRegistry& StartFake(FakeRegistry::Options options) {
    fake_ = std::make_unique<FakeRegistry>(options);
    return *fake_;
  }

  // Writes `content` to a file and returns its path.
  std::string BlobFile(const std::string& content) {
    std::string path = dir_.Join("blob" + std::to_string(files_++));
    testing::WriteFileOrDie(path, content);
    return path;
  }

  // Declared before the transport: pooled keep-alive connections close first, so the fake's
  // server threads end at once instead of waiting out their keep-alive timeout.
  std::unique_ptr<FakeRegistry> fake_;
  testing::TempDir dir_;
  CurlHttpTransport transport_;
  std::vector<absl::Duration> sleeps_;
  int files_ = 0;
};

TEST_F(RegistryClientFakeTest, BearerTokenFlowFetchesOneTokenPerScopeAndReusesIt) {
  FakeRegistry& fake = StartFake({.auth = FakeRegistry::Auth::kBearer});
  RegistryClientOptions options = Options();
  options.credentials = RegistryCredentials{"tempa", "s3cret"};
  RegistryClient client(fake.host_port(), &transport_, options);

  std::string content = "hello bearer";
  Digest digest = Sha256Of(content);
  auto exists = client.BlobExists("team/app", digest);
  ASSERT_TRUE(exists.ok()) << exists.status();
  EXPECT_FALSE(*exists);
  ASSERT_TRUE(client.PushBlob("team/app", digest, content.size(), BlobFile(content)).ok());
  EXPECT_TRUE(fake.HasBlob("team/app", digest.ToString()));
  auto digest2 = client.PutManifest("team/app", "v1", oci::kMediaTypeManifest, "{}");
  ASSERT_TRUE(digest2.ok()) << digest2.status();

  // One 401 → one token; every later request carries it.
  EXPECT_EQ(fake.token_requests(), 1);
  EXPECT_THAT(fake.token_scopes(), ::testing::ElementsAre("repository:team/app:pull,push"));
}

TEST_F(RegistryClientFakeTest, BearerWithWrongCredentialsFailsClearly) {
  FakeRegistry& fake = StartFake({.auth = FakeRegistry::Auth::kBearer});
  RegistryClientOptions options = Options();
  options.credentials = RegistryCredentials{"tempa", "wrong"};
  RegistryClient client(fake.host_port(), &transport_, options);
  auto exists = client.BlobExists("app", Sha256Of("x"));
  ASSERT_FALSE(exists.ok());
  EXPECT_EQ(exists.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(exists.status().message()), HasSubstr("fetch registry token"));
}

TEST_F(RegistryClientFakeTest, BasicAuthSendsCredentialsAfterTheChallenge) {
  FakeRegistry& fake = StartFake({.auth = FakeRegistry::Auth::kBasic});
  RegistryClientOptions options = Options();
  options.credentials = RegistryCredentials{"tempa", "s3cret"};
  RegistryClient client(fake.host_port(), &transport_, options);
  std::string content = "hello basic";
  Digest digest = Sha256Of(content);
  ASSERT_TRUE(client.PushBlob("app", digest, content.size(), BlobFile(content)).ok());
  auto exists = client.BlobExists("app", digest);
  ASSERT_TRUE(exists.ok()) << exists.status();
  EXPECT_TRUE(*exists);
  // Only the very first request was unauthenticated: POST(401), POST, PUT, HEAD.
  EXPECT_EQ(client.counts().total(), 4);
}

TEST_F(RegistryClientFakeTest, BasicAuthWithoutCredentialsSaysSo) {
  FakeRegistry& fake = StartFake({.auth = FakeRegistry::Auth::kBasic});
  RegistryClient client(fake.host_port(), &transport_, Options());
  auto exists = client.BlobExists("app", Sha256Of("x"));
  ASSERT_FALSE(exists.ok());
  EXPECT_EQ(exists.status().code(), absl::StatusCode::kUnauthenticated);
  EXPECT_THAT(std::string(exists.status().message()), HasSubstr("requires a username"));
}

TEST_F(RegistryClientFakeTest, ChunkedUploadResumesFromTheRegistrysRangeAfterAFailedChunk) {
  FakeRegistry& fake = StartFake({.fail_patch_number = 2});
  RegistryClientOptions options = Options();
  options.monolithic_limit = 1000;
  options.chunk_size = 1000;
  RegistryClient client(fake.host_port(), &transport_, options);
  std::string content(3500, '\0');
  for (size_t i = 0; i < content.size(); ++i) content[i] = static_cast<char>(i * 7 + i / 13);
  Digest digest = Sha256Of(content);

  absl::Status status = client.PushBlob("app", digest, content.size(), BlobFile(content));
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_TRUE(fake.HasBlob("app", digest.ToString()));
  EXPECT_EQ(fake.upload_status_requests(), 1);  // asked once where to resume
  EXPECT_EQ(sleeps_.size(), 1u);
  // 0-999, 1000-1999 (fails; the registry keeps 500 bytes), then 1500-2499 and 2500-3499: the
  // resume sends only the lost half again.
  EXPECT_EQ(client.counts().patch, 4);
  EXPECT_EQ(client.counts().post, 1);
  EXPECT_EQ(client.counts().put, 1);
}

TEST_F(RegistryClientFakeTest, ServerErrorsAreRetriedBoundedThenNameHostAndStatus) {
  FakeRegistry& fake = StartFake({.fail_all_status = 500});
  RegistryClientOptions options = Options();
  options.retry.max_attempts = 3;
  RegistryClient client(fake.host_port(), &transport_, options);
  auto manifest = client.GetManifest("app", "v1");
  ASSERT_FALSE(manifest.ok());
  EXPECT_EQ(manifest.status().code(), absl::StatusCode::kUnavailable);
  std::string message(manifest.status().message());
  EXPECT_THAT(message, HasSubstr(fake.host_port()));
  EXPECT_THAT(message, HasSubstr("answered 500"));
  EXPECT_THAT(message, HasSubstr("injected failure"));
  EXPECT_THAT(message, HasSubstr("gave up after 3 attempts"));
  EXPECT_EQ(fake.requests("GET"), 3);
  // Exponential backoff between the attempts, no real sleeping.
  ASSERT_EQ(sleeps_.size(), 2u);
  EXPECT_EQ(sleeps_[1], 2 * sleeps_[0]);
}

TEST_F(RegistryClientFakeTest, PushImageErrorsNameTheBlobAndTarget) {
  FakeRegistry& fake = StartFake({.fail_all_status = 500});
  RegistryClientOptions options = Options();
  options.retry.max_attempts = 2;
  RegistryClient client(fake.host_port(), &transport_, options);
  testing::DirBlobStore store(dir_.Join("store"));
  auto image = testing::MakeTestImage(store, {100}, 1);
  ASSERT_TRUE(image.ok());
  auto target = ImageReference::Parse(fake.host_port() + "/app:v1");
  ASSERT_TRUE(target.ok());
  auto pushed = PushImage(client, *target, store, image->config, image->layers,
                          image->manifest_json, {.parallelism = 1});
  ASSERT_FALSE(pushed.ok());
  EXPECT_THAT(std::string(pushed.status().message()),
              HasSubstr("push config sha256:" + image->config.digest.hex().substr(0, 12)));
  EXPECT_THAT(
      std::string(pushed.status().message()),
      HasSubstr("to " + fake.host_port() + "/app: registry " + fake.host_port() + " answered 500"));
}

TEST_F(RegistryClientFakeTest, ClientErrorsAreNotRetried) {
  FakeRegistry& fake = StartFake({});
  RegistryClient client(fake.host_port(), &transport_, Options());
  auto manifest = client.GetManifest("app", "nope");
  ASSERT_FALSE(manifest.ok());
  EXPECT_EQ(manifest.status().code(), absl::StatusCode::kNotFound);
  EXPECT_THAT(std::string(manifest.status().message()), HasSubstr("MANIFEST_UNKNOWN"));
  EXPECT_EQ(fake.requests("GET"), 1);
  EXPECT_TRUE(sleeps_.empty());
}

TEST_F(RegistryClientFakeTest, ConnectionRefusedIsUnavailableNamingTheHost) {
  std::string host = "127.0.0.1:" + std::to_string(testing::PickFreePort());
  RegistryClientOptions options = Options();
  options.retry.max_attempts = 2;
  RegistryClient client(host, &transport_, options);
  auto exists = client.BlobExists("app", Sha256Of("x"));
  ASSERT_FALSE(exists.ok());
  EXPECT_EQ(exists.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_THAT(std::string(exists.status().message()), HasSubstr(host));
  EXPECT_EQ(sleeps_.size(), 1u);
}

TEST_F(RegistryClientFakeTest, MountFallsBackToTheOfferedUploadSession) {
  FakeRegistry& fake = StartFake({});
  RegistryClient client(fake.host_port(), &transport_, Options());
  std::string content = "shared base layer";
  Digest digest = Sha256Of(content);
  fake.AddBlob("base", content);

  auto mounted = client.MountBlob("app", digest, "base");
  ASSERT_TRUE(mounted.ok()) << mounted.status();
  EXPECT_TRUE(mounted->mounted);
  EXPECT_TRUE(fake.HasBlob("app", digest.ToString()));

  auto missing = client.MountBlob("other", Sha256Of("x"), "base");
  ASSERT_TRUE(missing.ok()) << missing.status();
  EXPECT_FALSE(missing->mounted);
  ASSERT_FALSE(missing->upload_location.empty());
  ASSERT_TRUE(
      client.PushBlob("other", Sha256Of("x"), 1, BlobFile("x"), missing->upload_location).ok());
  EXPECT_TRUE(fake.HasBlob("other", Sha256Of("x").ToString()));
  EXPECT_EQ(client.counts().post, 2);  // the fallback did not open a second session
}

TEST_F(RegistryClientFakeTest, GetManifestAndBlobRoundTrip) {
  FakeRegistry& fake = StartFake({});
  RegistryClient client(fake.host_port(), &transport_, Options());
  std::string content = "blob body";
  fake.AddBlob("app", content);
  ASSERT_TRUE(client.PutManifest("app", "v1", oci::kMediaTypeManifest, "{\"a\":1}").ok());
  auto manifest = client.GetManifest("app", "v1");
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  EXPECT_EQ(manifest->body, "{\"a\":1}");
  EXPECT_EQ(manifest->media_type, oci::kMediaTypeManifest);
  EXPECT_EQ(manifest->digest, Sha256Of("{\"a\":1}"));
  std::string path = dir_.Join("out");
  ASSERT_TRUE(client.GetBlob("app", Sha256Of(content), content.size(), path).ok());
  auto missing = client.GetBlob("app", Sha256Of("nope"), 4, path);
  EXPECT_EQ(missing.code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace tempa::registry
