#include "tests/support/fake_registry.h"

#include <chrono>

#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/check.h"
#include "common/digest.h"
#include "httplib.h"

namespace tempa::testing {
namespace {

void Error(httplib::Response& res, int status, const std::string& code, const std::string& msg) {
  res.status = status;
  res.set_content(absl::StrCat(R"({"errors":[{"code":")", code, R"(","message":")", msg, "\"}]}"),
                  "application/json");
}

}  // namespace

FakeRegistry::FakeRegistry(Options options)
    : options_(std::move(options)), server_(std::make_unique<httplib::Server>()) {
  Route();
  port_ = server_->bind_to_any_port(options_.address);
  TEMPA_CHECK(port_ > 0, "fake registry could not bind");
  thread_ = std::thread([this] { server_->listen_after_bind(); });
  while (!server_->is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

FakeRegistry::~FakeRegistry() {
  server_->stop();
  thread_.join();
}

std::string FakeRegistry::host_port() const { return absl::StrCat(options_.address, ":", port_); }

int FakeRegistry::requests(const std::string& method) const {
  absl::MutexLock lock(&mu_);
  auto it = requests_.find(method);
  return it == requests_.end() ? 0 : it->second;
}
int FakeRegistry::token_requests() const {
  absl::MutexLock lock(&mu_);
  return token_requests_;
}
std::vector<std::string> FakeRegistry::token_scopes() const {
  absl::MutexLock lock(&mu_);
  return token_scopes_;
}
int FakeRegistry::upload_status_requests() const {
  absl::MutexLock lock(&mu_);
  return upload_status_requests_;
}
bool FakeRegistry::HasBlob(const std::string& repo, const std::string& digest) const {
  absl::MutexLock lock(&mu_);
  return links_.count({repo, digest}) > 0;
}
std::string FakeRegistry::Manifest(const std::string& repo, const std::string& reference) const {
  absl::MutexLock lock(&mu_);
  auto it = manifests_.find({repo, reference});
  return it == manifests_.end() ? "" : it->second.second;
}
void FakeRegistry::AddBlob(const std::string& repo, const std::string& content) {
  absl::MutexLock lock(&mu_);
  std::string digest = Sha256Of(content).ToString();
  blobs_[digest] = content;
  links_.insert({repo, digest});
}

void FakeRegistry::AddManifest(const std::string& repo, const std::string& reference,
                               const std::string& media_type, const std::string& body) {
  absl::MutexLock lock(&mu_);
  manifests_[{repo, reference}] = {media_type, body};
  manifests_[{repo, Sha256Of(body).ToString()}] = {media_type, body};
}

void FakeRegistry::Route() {
  // Counting, auth and failure injection for every request, before routing.
  server_->set_pre_routing_handler([this](const httplib::Request& req, httplib::Response& res) {
    absl::MutexLock lock(&mu_);
    ++requests_[req.method];
    if (req.path == "/token") return httplib::Server::HandlerResponse::Unhandled;
    if (options_.fail_all_status != 0 && (req.path != "/v2/" || options_.fail_version_check)) {
      if (options_.failure_body_bytes > 0) {
        res.status = options_.fail_all_status;
        res.set_content_provider(options_.failure_body_bytes, "application/json",
                                 [](size_t, size_t length, httplib::DataSink& sink) {
                                   static const std::string chunk(64 << 10, 'x');
                                   return sink.write(chunk.data(), std::min(length, chunk.size()));
                                 });
      } else if (!options_.failure_body.empty()) {
        res.status = options_.fail_all_status;
        res.set_content(options_.failure_body, "application/json");
      } else {
        Error(res, options_.fail_all_status, "UNAVAILABLE", "injected failure");
      }
      return httplib::Server::HandlerResponse::Handled;
    }
    std::string auth = req.get_header_value("Authorization");
    if (options_.auth == Auth::kBasic) {
      std::string want = "Basic " + absl::Base64Escape(options_.username + ":" + options_.password);
      if (auth != want) {
        res.set_header("WWW-Authenticate", "Basic realm=\"fake\"");
        Error(res, 401, "UNAUTHORIZED", "authentication required");
        return httplib::Server::HandlerResponse::Handled;
      }
    } else if (options_.auth == Auth::kBearer) {
      if (!absl::StartsWith(auth, "Bearer ") || tokens_.count(auth.substr(7)) == 0) {
        std::string realm = options_.token_realm.empty()
                                ? absl::StrCat("http://", host_port(), "/token")
                                : options_.token_realm;
        res.set_header("WWW-Authenticate",
                       absl::StrCat("Bearer realm=\"", realm, "\",service=\"fake-registry\""));
        Error(res, 401, "UNAUTHORIZED", "authentication required");
        return httplib::Server::HandlerResponse::Handled;
      }
    }
    return httplib::Server::HandlerResponse::Unhandled;
  });

  // Token endpoint: requires the Basic credentials, issues a fresh token per request.
  server_->Get("/token", [this](const httplib::Request& req, httplib::Response& res) {
    absl::MutexLock lock(&mu_);
    ++token_requests_;
    for (size_t i = 0; i < req.get_param_value_count("scope"); ++i) {
      token_scopes_.push_back(req.get_param_value("scope", i));
    }
    std::string want = "Basic " + absl::Base64Escape(options_.username + ":" + options_.password);
    if (req.get_header_value("Authorization") != want) {
      Error(res, 401, "UNAUTHORIZED", "bad credentials");
      return;
    }
    std::string token = absl::StrCat("tok-", token_requests_);
    tokens_.insert(token);
    res.set_content(absl::StrCat(R"({"token":")", token, "\"}"), "application/json");
  });

  server_->Get("/v2/", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("{}", "application/json");
  });

  // HEAD is served by the GET handler (httplib drops the body).
  server_->Get(R"(/v2/(.+)/blobs/(sha256:[0-9a-f]{64}))",
               [this](const httplib::Request& req, httplib::Response& res) {
                 absl::MutexLock lock(&mu_);
                 std::string repo = req.matches[1], digest = req.matches[2];
                 if (links_.count({repo, digest}) == 0) {
                   return Error(res, 404, "BLOB_UNKNOWN", "blob unknown to registry");
                 }
                 res.set_header("Docker-Content-Digest", digest);
                 res.set_content(blobs_[digest] + options_.blob_suffix, "application/octet-stream");
               });

  server_->Post(R"(/v2/(.+)/blobs/uploads/)",
                [this](const httplib::Request& req, httplib::Response& res) {
                  absl::MutexLock lock(&mu_);
                  std::string repo = req.matches[1];
                  if (req.has_param("mount") && !options_.refuse_mounts &&
                      links_.count({req.get_param_value("from"), req.get_param_value("mount")})) {
                    links_.insert({repo, req.get_param_value("mount")});
                    res.status = 201;
                    return;
                  }
                  std::string uuid = absl::StrCat("u", ++next_upload_);
                  uploads_[uuid] = Upload{repo, ""};
                  res.status = 202;
                  // Relative, as some registries answer: the client must resolve it.
                  res.set_header("Location", absl::StrCat("/v2/", repo, "/blobs/uploads/", uuid));
                  res.set_header("Range", "0-0");
                });

  auto session_headers = [](httplib::Response& res, const std::string& repo,
                            const std::string& uuid, const Upload& up) {
    res.set_header("Location", absl::StrCat("/v2/", repo, "/blobs/uploads/", uuid));
    res.set_header("Range", absl::StrCat("0-", up.data.empty() ? 0 : up.data.size() - 1));
  };

  server_->Patch(
      R"(/v2/(.+)/blobs/uploads/([a-z0-9]+))",
      [this, session_headers](const httplib::Request& req, httplib::Response& res) {
        absl::MutexLock lock(&mu_);
        std::string repo = req.matches[1], uuid = req.matches[2];
        auto it = uploads_.find(uuid);
        if (it == uploads_.end()) return Error(res, 404, "BLOB_UPLOAD_UNKNOWN", uuid);
        Upload& up = it->second;
        std::string range = req.get_header_value("Content-Range");
        uint64_t start = 0;
        if (!range.empty() && (!absl::SimpleAtoi(range.substr(0, range.find('-')), &start) ||
                               start != up.data.size())) {
          return Error(res, 416, "BLOB_UPLOAD_INVALID", "bad Content-Range " + range);
        }
        if (++patches_ == options_.fail_patch_number) {
          up.data += req.body.substr(0, req.body.size() / 2);
          return Error(res, 500, "UNKNOWN", "backend write failed");
        }
        up.data += req.body;
        res.status = 202;
        session_headers(res, repo, uuid, up);
      });

  server_->Get(R"(/v2/(.+)/blobs/uploads/([a-z0-9]+))",
               [this, session_headers](const httplib::Request& req, httplib::Response& res) {
                 absl::MutexLock lock(&mu_);
                 ++upload_status_requests_;
                 auto it = uploads_.find(req.matches[2]);
                 if (it == uploads_.end()) return Error(res, 404, "BLOB_UPLOAD_UNKNOWN", "gone");
                 res.status = 204;
                 session_headers(res, req.matches[1], req.matches[2], it->second);
               });

  server_->Put(R"(/v2/(.+)/blobs/uploads/([a-z0-9]+))",
               [this](const httplib::Request& req, httplib::Response& res) {
                 absl::MutexLock lock(&mu_);
                 std::string repo = req.matches[1], uuid = req.matches[2];
                 auto it = uploads_.find(uuid);
                 if (it == uploads_.end()) return Error(res, 404, "BLOB_UPLOAD_UNKNOWN", uuid);
                 std::string data = it->second.data + req.body;
                 std::string digest = req.get_param_value("digest");
                 if (Sha256Of(data).ToString() != digest) {
                   return Error(res, 400, "DIGEST_INVALID", "provided digest did not match");
                 }
                 uploads_.erase(it);
                 blobs_[digest] = data;
                 links_.insert({repo, digest});
                 res.status = 201;
                 res.set_header("Docker-Content-Digest", digest);
               });

  server_->Put(R"(/v2/(.+)/manifests/([^/]+))",
               [this](const httplib::Request& req, httplib::Response& res) {
                 absl::MutexLock lock(&mu_);
                 std::string repo = req.matches[1];
                 std::string digest = Sha256Of(req.body).ToString();
                 auto value = std::make_pair(req.get_header_value("Content-Type"), req.body);
                 manifests_[{repo, req.matches[2]}] = value;
                 manifests_[{repo, digest}] = value;
                 res.status = 201;
                 res.set_header("Docker-Content-Digest", digest);
               });

  server_->Get(R"(/v2/(.+)/manifests/([^/]+))",
               [this](const httplib::Request& req, httplib::Response& res) {
                 absl::MutexLock lock(&mu_);
                 auto it = manifests_.find({req.matches[1], req.matches[2]});
                 if (it == manifests_.end()) {
                   return Error(res, 404, "MANIFEST_UNKNOWN", "manifest unknown");
                 }
                 res.set_header("Docker-Content-Digest", Sha256Of(it->second.second).ToString());
                 res.set_content(it->second.second, it->second.first.c_str());
               });
}

}  // namespace tempa::testing
