// RegistryClient against registries that misbehave on purpose (scripted cpp-httplib servers on
// loopback): malformed JSON, endless bodies, blobs that do not match their descriptor, redirects
// and token realms on other hosts. Each answer must become a clear error naming the registry,
// with no crash, no credential sent where it does not belong and no file left behind.
#include <atomic>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/registry/curl_http_transport.h"
#include "common/registry/image_pusher.h"
#include "common/registry/registry_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/dir_blob_store.h"
#include "tests/support/loopback_http_server.h"
#include "tests/support/temp_dir.h"

namespace tempa::registry {
namespace {

using ::tempa::testing::LoopbackHttpServer;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

constexpr size_t kFiveGiB = size_t{5} << 30;

// Streams `total` bytes of 'x' lazily, 64 KiB at a time, stopping when the client goes away.
void EndlessBody(httplib::Response& res, size_t total, int status = 200) {
  res.status = status;
  res.set_content_provider(total, "application/json",
                           [](size_t offset, size_t length, httplib::DataSink& sink) {
                             static const std::string chunk(64 << 10, 'x');
                             size_t n = std::min(length, chunk.size());
                             (void)offset;
                             return sink.write(chunk.data(), n);
                           });
}

class HostileRegistryTest : public ::testing::Test {
 protected:
  // A registry on 127.0.0.1 whose handlers the test sets up.
  std::string Start(const std::function<void(httplib::Server&)>& setup) {
    registry_ = std::make_unique<LoopbackHttpServer>("127.0.0.1", setup);
    return absl::StrCat("127.0.0.1:", registry_->port());
  }
  RegistryClientOptions Options(bool with_credentials = false) {
    RegistryClientOptions options;
    options.retry.max_attempts = 2;
    options.sleeper = [](absl::Duration) {};
    if (with_credentials) options.credentials = RegistryCredentials{"tempa", "s3cret"};
    return options;
  }
  std::vector<std::string> Files() const {
    std::vector<std::string> names;
    for (const auto& entry : std::filesystem::directory_iterator(dir_.path())) {
      names.push_back(entry.path().filename().string());
    }
    return names;
  }

  std::unique_ptr<LoopbackHttpServer> registry_;
  testing::TempDir dir_;
  CurlHttpTransport transport_;
};

std::string Message(const absl::Status& status) { return std::string(status.message()); }

TEST_F(HostileRegistryTest, ErrorBodyWithANumericCodeIsAClearPushError) {
  std::string host = Start([](httplib::Server& s) {
    s.Put(R"(/v2/app/manifests/v1)", [](const httplib::Request&, httplib::Response& res) {
      res.status = 400;
      res.set_content(R"({"errors":[{"code":1}]})", "application/json");
    });
  });
  RegistryClient client(host, &transport_, Options());
  auto pushed = client.PutManifest("app", "v1", oci::kMediaTypeManifest, "{}");
  ASSERT_FALSE(pushed.ok());
  EXPECT_EQ(pushed.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(pushed.status()), HasSubstr("registry " + host + " answered 400"));
}

TEST_F(HostileRegistryTest, AFiveGibManifestStopsAtFourMib) {
  std::string host = Start([](httplib::Server& s) {
    s.Get(R"(/v2/app/manifests/v1)",
          [](const httplib::Request&, httplib::Response& res) { EndlessBody(res, kFiveGiB); });
  });
  RegistryClient client(host, &transport_, Options());
  auto manifest = client.GetManifest("app", "v1");
  ASSERT_FALSE(manifest.ok());
  EXPECT_EQ(manifest.status().code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(Message(manifest.status()),
              HasSubstr("registry " + host + " answered a manifest larger than 4 MiB"));
}

TEST_F(HostileRegistryTest, AFiveGibErrorBodyStopsAtSixtyFourKib) {
  std::string host = Start([](httplib::Server& s) {
    s.Post(R"(/v2/app/blobs/uploads/)", [](const httplib::Request&, httplib::Response& res) {
      EndlessBody(res, kFiveGiB, 400);
    });
  });
  RegistryClient client(host, &transport_, Options());
  std::string path = dir_.Join("blob");
  testing::WriteFileOrDie(path, "x");
  absl::Status status = client.PushBlob("app", Sha256Of("x"), 1, path);
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kOutOfRange);
  EXPECT_THAT(Message(status), HasSubstr("registry " + host));
  EXPECT_THAT(Message(status), HasSubstr("larger than 64 KiB"));
}

TEST_F(HostileRegistryTest, AFiveGibTokenAnswerStopsAtSixtyFourKib) {
  std::string host = Start([](httplib::Server& s) {
    s.Get("/token",
          [](const httplib::Request&, httplib::Response& res) { EndlessBody(res, kFiveGiB); });
    s.Get("/v2/", [](const httplib::Request& req, httplib::Response& res) {
      res.status = 401;
      res.set_header("WWW-Authenticate", absl::StrCat("Bearer realm=\"http://",
                                                      req.get_header_value("Host"), "/token\""));
    });
  });
  RegistryClient client(host, &transport_, Options(/*with_credentials=*/true));
  absl::Status status = client.CheckReachable("app");
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(Message(status), HasSubstr("fetch registry token"));
  EXPECT_THAT(Message(status), HasSubstr("larger than 64 KiB"));
}

class HostileBlobTest : public HostileRegistryTest {
 protected:
  std::string StartBlob(std::function<void(httplib::Response&)> answer) {
    return Start([answer](httplib::Server& s) {
      s.Get(R"(/v2/app/blobs/(sha256:[0-9a-f]{64}))",
            [answer](const httplib::Request&, httplib::Response& res) { answer(res); });
    });
  }
  const std::string content_ = "the blob the manifest describes";
  const Digest digest_ = Sha256Of(content_);
};

TEST_F(HostileBlobTest, ABlobLongerThanItsDescriptorStopsAndLeavesNoFile) {
  std::string body = content_ + "and then some";
  std::string host = StartBlob(
      [body](httplib::Response& res) { res.set_content(body, "application/octet-stream"); });
  RegistryClient client(host, &transport_, Options());
  absl::Status status = client.GetBlob("app", digest_, content_.size(), dir_.Join("out"));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(Message(status), HasSubstr("registry " + host + " sent more than the " +
                                         std::to_string(content_.size()) + " bytes"));
  EXPECT_THAT(Files(), IsEmpty());
}

TEST_F(HostileBlobTest, AFiveGibBlobForASmallDescriptorStopsAtOnce) {
  std::string host = StartBlob([](httplib::Response& res) { EndlessBody(res, kFiveGiB); });
  RegistryClient client(host, &transport_, Options());
  absl::Status status = client.GetBlob("app", digest_, content_.size(), dir_.Join("out"));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(Files(), IsEmpty());
}

TEST_F(HostileBlobTest, ABlobShorterThanItsDescriptorIsAnErrorAndLeavesNoFile) {
  std::string body = content_.substr(0, 5);
  std::string host = StartBlob(
      [body](httplib::Response& res) { res.set_content(body, "application/octet-stream"); });
  RegistryClient client(host, &transport_, Options());
  absl::Status status = client.GetBlob("app", digest_, content_.size(), dir_.Join("out"));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(Message(status), HasSubstr("sent 5 bytes"));
  EXPECT_THAT(Files(), IsEmpty());
}

TEST_F(HostileBlobTest, ABlobWithTheWrongDigestLeavesNoFileAndKeepsTheOldOne) {
  std::string body(content_.size(), 'z');
  std::string host = StartBlob(
      [body](httplib::Response& res) { res.set_content(body, "application/octet-stream"); });
  RegistryClient client(host, &transport_, Options());
  testing::WriteFileOrDie(dir_.Join("out"), "previous");
  absl::Status status = client.GetBlob("app", digest_, content_.size(), dir_.Join("out"));
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(Message(status), HasSubstr("hashes to"));
  EXPECT_THAT(Files(), ::testing::ElementsAre("out"));
}

TEST_F(HostileBlobTest, PullingALayerLongerThanItsDescriptorFailsAndStoresNothing) {
  std::string body = content_ + "more";
  std::string config = "{}";
  std::string manifest = absl::StrCat(
      R"({"schemaVersion":2,"config":{"digest":")", Sha256Of(config).ToString(), R"(","size":2},)",
      R"("layers":[{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":")",
      digest_.ToString(), R"(","size":)", content_.size(), "}]}");
  std::string host = Start([&](httplib::Server& s) {
    s.Get(R"(/v2/app/manifests/v1)", [manifest](const httplib::Request&, httplib::Response& res) {
      res.set_content(manifest, oci::kMediaTypeManifest);
    });
    s.Get(R"(/v2/app/blobs/(sha256:[0-9a-f]{64}))",
          [=](const httplib::Request& req, httplib::Response& res) {
            res.set_content(req.matches[1] == Sha256Of(config).ToString() ? config : body,
                            "application/octet-stream");
          });
  });
  RegistryClient client(host, &transport_, Options());
  testing::DirBlobStore store(dir_.Join("store"));
  auto ref = ImageReference::Parse(host + "/app:v1");
  ASSERT_TRUE(ref.ok());
  auto pulled = PullImage(client, *ref, store);
  ASSERT_FALSE(pulled.ok());
  EXPECT_THAT(Message(pulled.status()), HasSubstr("pull " + host + "/app:v1"));
  EXPECT_THAT(Message(pulled.status()), HasSubstr("sent more than"));
  auto has = store.Contains(digest_);
  ASSERT_TRUE(has.ok());
  EXPECT_FALSE(*has);
}

TEST_F(HostileRegistryTest, AChunkedUploadTheRegistryNeverAdvancesGivesUp) {
  std::atomic<int> patches{0};
  std::string host = Start([&](httplib::Server& s) {
    s.Post("/v2/app/blobs/uploads/", [](const httplib::Request&, httplib::Response& res) {
      res.status = 202;
      res.set_header("Location", "/v2/app/blobs/uploads/u1");
    });
    s.Patch("/v2/app/blobs/uploads/u1", [&](const httplib::Request&, httplib::Response& res) {
      ++patches;
      res.status = 202;
      res.set_header("Location", "/v2/app/blobs/uploads/u1");
      res.set_header("Range", "0-0");  // "nothing kept", whatever we send
    });
  });
  RegistryClientOptions options = Options();
  options.retry.max_attempts = 3;
  options.monolithic_limit = 10;
  options.chunk_size = 10;
  RegistryClient client(host, &transport_, options);
  std::string content(100, 'c');
  testing::WriteFileOrDie(dir_.Join("upload"), content);
  absl::Status status =
      client.PushBlob("app", Sha256Of(content), content.size(), dir_.Join("upload"));
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(Message(status),
              HasSubstr("registry " + host + " accepts chunks but reports no progress"));
  EXPECT_EQ(patches, 3);
}

// Whether some descriptor of this process open on a path starting with `prefix` lacks
// O_CLOEXEC (fdinfo's "flags:" are octal; O_CLOEXEC is 02000000). Sets `seen` when one is open.
bool OpenWithoutCloexec(const std::string& prefix, bool* seen) {
  bool leaked = false;
  for (const auto& fd : std::filesystem::directory_iterator("/proc/self/fd")) {
    std::error_code ec;
    std::string target = std::filesystem::read_symlink(fd.path(), ec).string();
    if (ec || target.rfind(prefix, 0) != 0) continue;
    *seen = true;
    std::ifstream info("/proc/self/fdinfo/" + fd.path().filename().string());
    std::string key, flags;
    while (info >> key >> flags && key != "flags:") {
    }
    if ((std::stoul(flags, nullptr, 8) & 02000000) == 0) leaked = true;
  }
  return leaked;
}

TEST_F(HostileRegistryTest, FilesTheClientOpensAreCloseOnExec) {
  // The fake runs in this process, so its handlers look at the client's descriptors while the
  // client holds them open: the blob being uploaded, the download's temporary file.
  std::atomic<bool> seen_upload{false}, seen_download{false}, leaked{false};
  std::string dir = dir_.path();
  std::string content = "blob";
  std::string host = Start([&](httplib::Server& s) {
    s.Post("/v2/app/blobs/uploads/", [](const httplib::Request&, httplib::Response& res) {
      res.status = 202;
      res.set_header("Location", "/v2/app/blobs/uploads/u1");
    });
    s.Put("/v2/app/blobs/uploads/u1", [&](const httplib::Request& req, httplib::Response& res) {
      bool seen = false;
      if (OpenWithoutCloexec(dir + "/upload", &seen)) leaked = true;
      seen_upload = seen;
      res.status = 201;
    });
    s.Get(R"(/v2/app/blobs/(sha256:[0-9a-f]{64}))",
          [&](const httplib::Request&, httplib::Response& res) {
            bool seen = false;
            if (OpenWithoutCloexec(dir + "/out.partial", &seen)) leaked = true;
            seen_download = seen;
            res.set_content(content, "application/octet-stream");
          });
  });
  RegistryClient client(host, &transport_, Options());
  testing::WriteFileOrDie(dir_.Join("upload"), content);
  ASSERT_TRUE(client.PushBlob("app", Sha256Of(content), content.size(), dir_.Join("upload")).ok());
  ASSERT_TRUE(client.GetBlob("app", Sha256Of(content), content.size(), dir_.Join("out")).ok());
  EXPECT_TRUE(seen_upload);
  EXPECT_TRUE(seen_download);
  EXPECT_FALSE(leaked);
}

}  // namespace
}  // namespace tempa::registry
