// OCI distribution client for one registry host: blob existence, cross-repo mount, monolithic and
// chunked (resumable) blob upload, manifest put/get, blob download; Basic and Bearer-token auth;
// retries with backoff on connection errors, 5xx and 429 only (RetryingHttpTransport). Every
// answer is untrusted: bodies are bounded, JSON is type-checked (registry_json.h), credentials go
// to the registry's own origin only. Thread-safe: the image pusher shares one client between its
// upload threads.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/cas/blob_store.h"
#include "common/digest.h"
#include "common/registry/counting_http_transport.h"
#include "common/registry/http_transport.h"
#include "common/registry/registry_auth.h"
#include "common/registry/retrying_http_transport.h"

namespace tempa::registry {

// Largest manifest GetManifest reads (distribution's own limit); a longer answer is refused.
inline constexpr uint64_t kMaxManifestBytes = 4 << 20;

struct RegistryClientOptions {
  // Allow plain HTTP to a non-loopback registry. Loopback registries always get HTTP.
  bool insecure = false;
  std::optional<RegistryCredentials> credentials;
  // Hosts other than the registry's own that may receive `credentials` as its token service
  // (a Bearer realm elsewhere). Docker Hub's (auth.docker.io) and GitLab.com's (gitlab.com) are
  // known; any other realm on another host is refused while we hold credentials, so they never
  // leave for a host the registry names.
  std::vector<std::string> token_hosts;
  RetryPolicy retry;
  // Called between retries; tests inject a recorder so nothing sleeps. Default: absl::SleepFor.
  std::function<void(absl::Duration)> sleeper;
  // Blobs up to this size go as POST + one PUT; larger ones as PATCH chunks (resumable). On
  // loopback a single PUT is fastest; chunks bound what a failure costs on a bad link.
  uint64_t monolithic_limit = 32ull << 20;
  uint64_t chunk_size = 16ull << 20;
};

// A manifest (or index) as the registry served it.
struct FetchedManifest {
  std::string media_type;
  std::string body;
  Digest digest;  // sha256 of `body`, checked against the registry's Docker-Content-Digest
};

// Outcome of a cross-repo mount attempt. When not mounted the registry opened an upload session
// instead (202); pass `upload_location` to PushBlob so that session is used, not leaked.
struct MountResult {
  bool mounted = false;
  std::string upload_location;
};

class RegistryClient {
 public:
  // `host` is "HOST[:PORT]" as in an image reference. The transport must outlive the client.
  RegistryClient(std::string host, HttpTransport* transport, RegistryClientOptions options = {});

  const std::string& host() const { return host_; }
  // "http://127.0.0.1:5000" or "https://registry.example.com".
  const std::string& base_url() const { return base_url_; }

  // GET /v2/ (the API version check), authenticated for pushing to `repo`: OK when the
  // registry answers and accepts our credentials. Lets a build fail before it compiles
  // anything when the registry is down, refuses us, or is not a registry at all.
  absl::Status CheckReachable(absl::string_view repo);
  // HEAD /v2/<repo>/blobs/<digest>: true when the repository has the blob.
  absl::StatusOr<bool> BlobExists(absl::string_view repo, const Digest& digest);
  // POST /v2/<repo>/blobs/uploads/?mount=<digest>&from=<from_repo>. 201 → mounted; 202 → not
  // mounted, an upload session is open.
  absl::StatusOr<MountResult> MountBlob(absl::string_view repo, const Digest& digest,
                                        absl::string_view from_repo);
  // Uploads the file at `path` (`size` bytes, expected to hash to `digest`). Uses
  // `upload_location` when given (from MountBlob), else opens a session. Blobs up to
  // monolithic_limit go in one PUT; larger ones in chunk_size PATCHes with Content-Range,
  // resuming from the registry's reported Range after a failed chunk.
  absl::Status PushBlob(absl::string_view repo, const Digest& digest, uint64_t size,
                        const std::string& path, std::optional<std::string> upload_location = {});
  // PUT /v2/<repo>/manifests/<reference> (a tag or a digest). Returns the manifest digest the
  // registry reported, which must equal sha256(manifest) (DataLoss otherwise).
  absl::StatusOr<Digest> PutManifest(absl::string_view repo, absl::string_view reference,
                                     absl::string_view media_type, absl::string_view manifest);
  // GET /v2/<repo>/manifests/<reference>, accepting OCI and Docker manifests and indexes.
  // NotFound when the registry has no such manifest.
  absl::StatusOr<FetchedManifest> GetManifest(absl::string_view repo, absl::string_view reference);
  // Downloads a blob of `size` bytes (its descriptor's) to `path`, replaced only when complete.
  // Checked while streaming: more than `size` bytes stops the transfer; fewer, or another
  // digest, is DataLoss. On any failure no file is left (neither `path` nor a temporary).
  absl::Status GetBlob(absl::string_view repo, const Digest& digest, uint64_t size,
                       const std::string& path);
  // The same into `writer`, committed under `digest` only when size and digest match.
  absl::Status GetBlob(absl::string_view repo, const Digest& digest, uint64_t size,
                       cas::BlobWriter& writer);

  // Requests this client sent (token fetches included), by method.
  RequestCounts counts() const { return counting_.counts(); }

 private:
  struct Call {
    HttpRequest request;
    std::vector<std::string> repos;  // for the token scope: target first, mount sources after
    std::string actions = "pull";    // "pull" or "pull,push"
  };

  // Sends with auth (retries happen below, in retrying_). Returns the response for any answer
  // not worth retrying (2xx, 3xx, 4xx) so the caller decides; a 5xx or 429 the retries did not
  // get past is Unavailable naming the last answer.
  absl::StatusOr<HttpResponse> Do(Call call);
  // One send with whatever Authorization we already hold; handles a 401 by authenticating
  // once and resending.
  absl::StatusOr<HttpResponse> SendAuthorized(const Call& call);
  absl::Status Authenticate(const Call& call, const HttpResponse& unauthorized);
  std::optional<std::string> CachedAuthorization(const Call& call);
  // Sends through the decorators (counting, retries); errors other than Unavailable get the
  // registry's name.
  absl::StatusOr<HttpResponse> Send(const HttpRequest& request);
  void Backoff(int attempt);

  // Upload helpers (registry_upload.cc).
  absl::StatusOr<std::string> StartUpload(absl::string_view repo);
  absl::Status PushMonolithic(absl::string_view repo, const Digest& digest, uint64_t size,
                              const std::string& path, std::optional<std::string> location);
  absl::Status PushChunked(absl::string_view repo, const Digest& digest, uint64_t size,
                           const std::string& path, std::optional<std::string> location);
  absl::Status FinishUpload(absl::string_view repo, const Digest& digest,
                            const std::string& location, std::optional<FileRange> body);
  // Download helper (registry_download.cc): streams a blob through `sink`, checking size and
  // digest as it arrives; `reset` rewinds the sink for a retry (false: cannot).
  absl::Status GetBlobTo(absl::string_view repo, const Digest& digest, uint64_t size,
                         const std::function<absl::Status(absl::string_view)>& sink,
                         const std::function<bool()>& reset);

  std::string Url(absl::string_view repo, absl::string_view kind, absl::string_view rest) const;
  // Makes a Location header absolute; InvalidArgument when it is empty or not http(s).
  absl::StatusOr<std::string> ResolveLocation(absl::string_view location) const;
  // Checks a Bearer realm before anything is sent to it: https (plain http only on loopback, or
  // on the registry's own host when it is `insecure`). Returns whether it may get our
  // credentials: only the registry's own host or a trusted token host; PermissionDenied when we
  // hold credentials and the realm is elsewhere.
  absl::StatusOr<bool> RealmGetsCredentials(absl::string_view realm) const;
  // "registry answered 404 Not Found to HEAD /v2/...: BLOB_UNKNOWN: blob unknown", with the
  // status mapped to an absl code (404 NotFound, 401 Unauthenticated, 403 PermissionDenied...).
  absl::Status ErrorFor(const HttpRequest& request, const HttpResponse& response) const;

  const std::string host_;
  std::string base_url_;
  const RegistryClientOptions options_;
  // Cross-cutting concerns as decorators over the caller's transport: every attempt is counted,
  // and retries sit below authentication.
  CountingHttpTransport counting_;
  RetryingHttpTransport retrying_;

  absl::Mutex mu_;
  // Authorization values learned from challenges: "basic" once Basic was asked for; otherwise
  // bearer tokens keyed by the scope string they were issued for.
  bool use_basic_ ABSL_GUARDED_BY(mu_) = false;
  std::map<std::string, std::string> tokens_ ABSL_GUARDED_BY(mu_);
};

// Appends `key=value` to a URL that may already have a query.
std::string AppendQuery(absl::string_view url, absl::string_view key, absl::string_view value);

}  // namespace tempa::registry
