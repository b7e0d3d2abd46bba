// An in-process fake of the OCI distribution API on cpp-httplib, for what a real registry cannot
// be made to do on demand: Basic and Bearer-token auth, a chunk that fails half-way, persistent
// 5xx answers, and a hostile registry's answers (malformed or endless bodies, blobs that do not
// match their descriptors, a token realm elsewhere). Stores blobs and manifests in memory;
// listens on a loopback address (127.0.0.1 unless told), port chosen by the OS.
#pragma once

#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace httplib {
class Server;
}

namespace tempa::testing {

class FakeRegistry {
 public:
  enum class Auth { kNone, kBasic, kBearer };
  struct Options {
    Auth auth = Auth::kNone;
    std::string username = "tempa";
    std::string password = "s3cret";
    // The Nth PATCH (1-based; 0 = never) keeps only the first half of its body and answers 500,
    // as a registry whose backend failed mid-write would.
    int fail_patch_number = 0;
    // When non-zero, every /v2/<name>/... request answers this status.
    int fail_all_status = 0;
    // ... and GET /v2/ too.
    bool fail_version_check = false;
    // Injected failures answer this body instead of a distribution error ...
    std::string failure_body;
    // ... or, when non-zero, this many bytes of 'x', streamed lazily (never allocated).
    uint64_t failure_body_bytes = 0;
    // Bearer challenges name this realm instead of the fake's own /token.
    std::string token_realm;
    // Appended to every blob served: blobs longer than their descriptors.
    std::string blob_suffix;
    // Answer every cross-repository mount with a fresh upload session (202), as registries
    // that disable mounts do.
    bool refuse_mounts = false;
    // Where to listen; 127.0.0.2 and 127.0.0.3 make "another host" on loopback.
    std::string address = "127.0.0.1";
  };

  explicit FakeRegistry(Options options);
  ~FakeRegistry();
  FakeRegistry(const FakeRegistry&) = delete;
  FakeRegistry& operator=(const FakeRegistry&) = delete;

  // "<address>:<port>".
  std::string host_port() const;

  // Observations for assertions.
  int requests(const std::string& method) const;
  int token_requests() const;
  std::vector<std::string> token_scopes() const;  // every scope= seen by the token endpoint
  int upload_status_requests() const;
  bool HasBlob(const std::string& repo, const std::string& digest) const;
  std::string Manifest(const std::string& repo, const std::string& reference) const;
  // Seeds a blob in `repo` (for mount and pull tests).
  void AddBlob(const std::string& repo, const std::string& content);
  // Seeds a manifest under `reference` and under its digest.
  void AddManifest(const std::string& repo, const std::string& reference,
                   const std::string& media_type, const std::string& body);

 private:
  struct Upload {
    std::string repo;
    std::string data;
  };
  void Route();

  const Options options_;
  std::unique_ptr<httplib::Server> server_;
  std::thread thread_;
  int port_ = 0;

  mutable absl::Mutex mu_;
  std::map<std::string, int> requests_ ABSL_GUARDED_BY(mu_);
  int token_requests_ ABSL_GUARDED_BY(mu_) = 0;
  int upload_status_requests_ ABSL_GUARDED_BY(mu_) = 0;
  int patches_ ABSL_GUARDED_BY(mu_) = 0;
  int next_upload_ ABSL_GUARDED_BY(mu_) = 0;
  std::vector<std::string> token_scopes_ ABSL_GUARDED_BY(mu_);
  std::set<std::string> tokens_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> blobs_ ABSL_GUARDED_BY(mu_);             // digest → bytes
  std::set<std::pair<std::string, std::string>> links_ ABSL_GUARDED_BY(mu_);  // (repo, digest)
  std::map<std::string, Upload> uploads_ ABSL_GUARDED_BY(mu_);                // uuid → session
  // (repo, tag or digest) → (media type, body)
  std::map<std::pair<std::string, std::string>, std::pair<std::string, std::string>> manifests_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace tempa::testing
