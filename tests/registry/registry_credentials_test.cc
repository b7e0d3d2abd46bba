// Credentials go to the registry's own origin only. A registry (127.0.0.1, Basic or Bearer auth)
// points the client elsewhere — a redirect, an upload Location, a token realm — at a second
// server on another loopback address or port that records what it was sent.
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/registry/curl_http_transport.h"
#include "common/registry/registry_client.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/support/loopback_http_server.h"
#include "tests/support/temp_dir.h"

namespace tempa::registry {
namespace {

using ::tempa::testing::LoopbackHttpServer;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

const std::string kBasic = "Basic " + absl::Base64Escape("tempa:s3cret");
const std::string kBlob = "layer bytes";

// Delegates to curl and records every URL sent, so a test can show nothing went to a host.
class RecordingTransport : public HttpTransport {
 public:
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override {
    {
      absl::MutexLock lock(&mu_);
      urls_.push_back(request.url);
    }
    return curl_.Send(request);
  }
  std::vector<std::string> urls() const {
    absl::MutexLock lock(&mu_);
    return urls_;
  }

 private:
  CurlHttpTransport curl_;
  mutable absl::Mutex mu_;
  std::vector<std::string> urls_ ABSL_GUARDED_BY(mu_);
};

class RegistryCredentialsTest : public ::testing::Test {
 protected:
  enum class Auth { kBasic, kBearer };

  // The other host: answers every request with kBlob (or a token for /token), recording the
  // Authorization header of each ("" when there was none).
  std::string StartOther(const std::string& address) {
    other_ = std::make_unique<LoopbackHttpServer>(address, [this](httplib::Server& s) {
      s.set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
        absl::MutexLock lock(&mu_);
        other_auth_[req.path].push_back(req.get_header_value("Authorization"));
        res.set_content(req.path == "/token" ? R"({"token":"t"})" : kBlob, "text/plain");
        return httplib::Server::HandlerResponse::Handled;
      });
    });
    return absl::StrCat("http://", address, ":", other_->port());
  }

  // The registry: every request needs kBasic (Basic) or "Bearer t" (Bearer, realm `realm_`).
  // Blob GETs redirect to `redirect_`; upload sessions open at `location_`.
  std::string StartRegistry(Auth auth) {
    registry_ = std::make_unique<LoopbackHttpServer>("127.0.0.1", [this, auth](httplib::Server& s) {
      s.set_pre_routing_handler([this, auth](const httplib::Request& req, httplib::Response& res) {
        absl::MutexLock lock(&mu_);
        registry_auth_.push_back(req.get_header_value("Authorization"));
        std::string want = auth == Auth::kBasic ? kBasic : "Bearer t";
        if (req.get_header_value("Authorization") == want) {
          return httplib::Server::HandlerResponse::Unhandled;
        }
        res.status = 401;
        res.set_header("WWW-Authenticate", auth == Auth::kBasic
                                               ? std::string("Basic realm=\"r\"")
                                               : absl::StrCat("Bearer realm=\"", realm_, "\""));
        return httplib::Server::HandlerResponse::Handled;
      });
      s.Get("/v2/", [](const httplib::Request&, httplib::Response& res) { res.status = 200; });
      s.Get(R"(/v2/app/blobs/(sha256:[0-9a-f]{64}))",
            [this](const httplib::Request&, httplib::Response& res) {
              absl::MutexLock lock(&mu_);
              res.set_redirect(redirect_, 307);
            });
      s.Get("/v2/app/data", [](const httplib::Request&, httplib::Response& res) {
        res.set_content(kBlob, "application/octet-stream");
      });
      s.Post("/v2/app/blobs/uploads/", [this](const httplib::Request&, httplib::Response& res) {
        absl::MutexLock lock(&mu_);
        res.status = 202;
        res.set_header("Location", location_);
      });
    });
    host_ = absl::StrCat("127.0.0.1:", registry_->port());
    return host_;
  }

  RegistryClientOptions Options(bool with_credentials = true) {
    RegistryClientOptions options;
    options.retry.max_attempts = 1;
    if (with_credentials) options.credentials = RegistryCredentials{"tempa", "s3cret"};
    return options;
  }
  std::vector<std::string> OtherAuth(const std::string& path) {
    absl::MutexLock lock(&mu_);
    return other_auth_[path];
  }
  std::vector<std::string> RegistryAuth() {
    absl::MutexLock lock(&mu_);
    return registry_auth_;
  }
  void Set(std::string* field, const std::string& value) {
    absl::MutexLock lock(&mu_);
    *field = value;
  }

  absl::Mutex mu_;
  std::string redirect_ ABSL_GUARDED_BY(mu_), location_ ABSL_GUARDED_BY(mu_),
      realm_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::vector<std::string>> other_auth_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> registry_auth_ ABSL_GUARDED_BY(mu_);
  std::string host_;
  testing::TempDir dir_;
  std::unique_ptr<LoopbackHttpServer> other_;
  std::unique_ptr<LoopbackHttpServer> registry_;
  RecordingTransport transport_;
};

TEST_F(RegistryCredentialsTest, ARedirectToAnotherHostCarriesNoCredentials) {
  Set(&redirect_, StartOther("127.0.0.2") + "/blob");
  RegistryClient client(StartRegistry(Auth::kBasic), &transport_, Options());
  absl::Status status = client.GetBlob("app", Sha256Of(kBlob), kBlob.size(), dir_.Join("out"));
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_THAT(OtherAuth("/blob"), ElementsAre(""));
  EXPECT_THAT(RegistryAuth(), ElementsAre("", kBasic));  // the registry itself did get them
}

TEST_F(RegistryCredentialsTest, ARedirectToAnotherPortOfTheSameHostCarriesNoCredentials) {
  Set(&redirect_, StartOther("127.0.0.1") + "/blob");
  RegistryClient client(StartRegistry(Auth::kBasic), &transport_, Options());
  absl::Status status = client.GetBlob("app", Sha256Of(kBlob), kBlob.size(), dir_.Join("out"));
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_THAT(OtherAuth("/blob"), ElementsAre(""));
}

TEST_F(RegistryCredentialsTest, ARedirectWithinTheRegistryKeepsCredentials) {
  Set(&redirect_, "/v2/app/data");
  RegistryClient client(StartRegistry(Auth::kBasic), &transport_, Options());
  absl::Status status = client.GetBlob("app", Sha256Of(kBlob), kBlob.size(), dir_.Join("out"));
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_THAT(RegistryAuth(), ElementsAre("", kBasic, kBasic));
}

TEST_F(RegistryCredentialsTest, AnUploadLocationOnAnotherHostGetsNoCredentials) {
  Set(&location_, StartOther("127.0.0.2") + "/upload");
  RegistryClient client(StartRegistry(Auth::kBasic), &transport_, Options());
  std::string path = dir_.Join("blob");
  testing::WriteFileOrDie(path, kBlob);
  absl::Status status = client.PushBlob("app", Sha256Of(kBlob), kBlob.size(), path);
  EXPECT_FALSE(status.ok());  // the other host answers 200, not 201
  EXPECT_THAT(OtherAuth("/upload"), ElementsAre(""));
}

TEST_F(RegistryCredentialsTest, AnUploadLocationOutsideHttpIsRefusedAndNothingIsWritten) {
  std::string target = dir_.Join("planted");
  Set(&location_, "file://" + target);
  std::string host = StartRegistry(Auth::kBasic);
  RegistryClient client(host, &transport_, Options());
  std::string path = dir_.Join("blob");
  testing::WriteFileOrDie(path, kBlob);
  absl::Status status = client.PushBlob("app", Sha256Of(kBlob), kBlob.size(), path);
  ASSERT_FALSE(status.ok());
  EXPECT_THAT(std::string(status.message()), HasSubstr("registry " + host));
  EXPECT_THAT(std::string(status.message()), HasSubstr("not http or https"));
  EXPECT_FALSE(std::filesystem::exists(target));
}

TEST_F(RegistryCredentialsTest, ATokenRealmOnAnotherHostGetsNoCredentials) {
  Set(&realm_, StartOther("127.0.0.2") + "/token");
  std::string host = StartRegistry(Auth::kBearer);
  RegistryClient client(host, &transport_, Options());
  absl::Status status = client.CheckReachable("app");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(status.message()), HasSubstr("registry " + host));
  EXPECT_THAT(std::string(status.message()), HasSubstr("token realm on another host (127.0.0.2)"));
  EXPECT_THAT(OtherAuth("/token"), IsEmpty());
}

TEST_F(RegistryCredentialsTest, WithoutCredentialsARealmElsewhereIsAskedAnonymously) {
  Set(&realm_, StartOther("127.0.0.2") + "/token");
  RegistryClient client(StartRegistry(Auth::kBearer), &transport_, Options(false));
  absl::Status status = client.CheckReachable("app");
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_THAT(OtherAuth("/token"), ElementsAre(""));
}

TEST_F(RegistryCredentialsTest, ATrustedTokenHostGetsCredentials) {
  Set(&realm_, StartOther("127.0.0.2") + "/token");
  RegistryClientOptions options = Options();
  options.token_hosts = {"127.0.0.2"};
  RegistryClient client(StartRegistry(Auth::kBearer), &transport_, options);
  absl::Status status = client.CheckReachable("app");
  ASSERT_TRUE(status.ok()) << status;
  EXPECT_THAT(OtherAuth("/token"), ElementsAre(kBasic));
}

TEST_F(RegistryCredentialsTest, APlainHttpRealmElsewhereIsRefusedAndNothingIsSent) {
  Set(&realm_, "http://auth.example.com/token");
  std::string host = StartRegistry(Auth::kBearer);
  RegistryClient client(host, &transport_, Options(false));
  absl::Status status = client.CheckReachable("app");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(status.message()), HasSubstr("registry " + host));
  EXPECT_THAT(std::string(status.message()), HasSubstr("plain http"));
  EXPECT_THAT(std::string(status.message()), HasSubstr("nothing was sent"));
  for (const std::string& url : transport_.urls()) {
    EXPECT_FALSE(absl::StrContains(url, "example.com")) << url;
  }
}

// Answers every request with one 401 challenge and records the URLs it was asked for: a remote
// registry (which loopback tests cannot otherwise play) as far as authentication goes.
class ChallengingTransport : public HttpTransport {
 public:
  explicit ChallengingTransport(std::string challenge) : challenge_(std::move(challenge)) {}
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override {
    absl::MutexLock lock(&mu_);
    urls_.push_back(request.url);
    HttpResponse response;
    response.status = 401;
    response.headers["www-authenticate"] = challenge_;
    return response;
  }
  std::vector<std::string> urls() const {
    absl::MutexLock lock(&mu_);
    return urls_;
  }

 private:
  const std::string challenge_;
  mutable absl::Mutex mu_;
  std::vector<std::string> urls_ ABSL_GUARDED_BY(mu_);
};

TEST(RemoteRegistryRealmTest, ARemoteRegistryCannotPointItsRealmAtOurLoopback) {
  ChallengingTransport transport(R"(Bearer realm="https://127.0.0.1:10250/token")");
  RegistryClient client("registry.example.com", &transport);
  absl::Status status = client.CheckReachable("app");
  ASSERT_FALSE(status.ok());
  EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied);
  EXPECT_THAT(std::string(status.message()), HasSubstr("token realm on loopback"));
  EXPECT_THAT(transport.urls(), ElementsAre("https://registry.example.com/v2/"));
}

TEST(RemoteRegistryRealmTest, ARemoteRegistrysPlainHttpRealmOnItsOwnHostIsRefusedUnlessInsecure) {
  ChallengingTransport transport(R"(Bearer realm="http://registry.example.com/token")");
  RegistryClient client("registry.example.com", &transport);
  absl::Status status = client.CheckReachable("app");
  EXPECT_THAT(std::string(status.message()), HasSubstr("plain http"));
  EXPECT_THAT(transport.urls(), ElementsAre("https://registry.example.com/v2/"));

  RegistryClientOptions insecure;
  insecure.insecure = true;
  RegistryClient insecure_client("registry.example.com", &transport, insecure);
  (void)insecure_client.CheckReachable("app");  // the user chose plain http for this registry
  EXPECT_THAT(transport.urls().back(), HasSubstr("http://registry.example.com/token"));
}

// A remote registry that opens every upload at `location` (202) and records what it was asked.
class UploadLocationTransport : public HttpTransport {
 public:
  explicit UploadLocationTransport(std::string location) : location_(std::move(location)) {}
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request) override {
    absl::MutexLock lock(&mu_);
    urls_.push_back(request.method + " " + request.url);
    HttpResponse response;
    response.status = 202;
    response.headers["location"] = location_;
    return response;
  }
  std::vector<std::string> urls() const {
    absl::MutexLock lock(&mu_);
    return urls_;
  }

 private:
  const std::string location_;
  mutable absl::Mutex mu_;
  std::vector<std::string> urls_ ABSL_GUARDED_BY(mu_);
};

TEST(RemoteRegistryUploadTest, AnUploadLocationOnOurLoopbackOrOffHttpsGetsNothing) {
  testing::TempDir tmp;
  testing::WriteFileOrDie(tmp.Join("blob"), "layer bytes");
  Digest digest = Sha256Of("layer bytes");
  for (const std::string& location :
       {std::string("http://127.0.0.1:8080/admin?x=1"), std::string("https://x.localhost/up"),
        std::string("http://registry.example.com/v2/app/blobs/uploads/1")}) {
    UploadLocationTransport transport(location);
    RegistryClient client("registry.example.com", &transport);
    absl::Status status = client.PushBlob("app", digest, 11, tmp.Join("blob"));
    ASSERT_FALSE(status.ok()) << location;
    EXPECT_EQ(status.code(), absl::StatusCode::kPermissionDenied) << status;
    EXPECT_THAT(std::string(status.message()), HasSubstr("nothing was sent there"));
    EXPECT_THAT(transport.urls(),
                ElementsAre("POST https://registry.example.com/v2/app/blobs/uploads/"))
        << location;
  }
}

}  // namespace
}  // namespace tempa::registry
