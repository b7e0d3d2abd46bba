// The few Kubernetes API calls the backend makes: read an object, server-side apply one, and
// watch a collection. Answers are untrusted: bodies are parsed without exceptions and checked
// by the caller; HTTP errors become absl codes carrying the API's own Status message.
#pragma once

#include <functional>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "nlohmann/json.hpp"

namespace tempa::deploy {

// What a watch callback returns: keep reading, or stop the watch (Watch then returns OK).
enum class WatchNext { kContinue, kStop };

class KubeApi {
 public:
  virtual ~KubeApi() = default;
  // GET `path` ("/apis/apps/v1/namespaces/ns/deployments/app", may carry a query): the JSON
  // body of a 2xx answer; NotFound on 404; else the mapped status (StatusFromKubeAnswer).
  virtual absl::StatusOr<nlohmann::json> Get(const std::string& path) = 0;
  // GET `path` whose answer is text, not JSON (a pod's log): the body of a 2xx answer.
  virtual absl::StatusOr<std::string> GetText(const std::string& path) = 0;
  // DELETE `path`: OK on 2xx; NotFound on 404.
  virtual absl::Status Delete(const std::string& path) = 0;
  // Server-side apply: PATCH `path`?fieldManager=`field_manager`[&force=true] with Content-Type
  // application/apply-patch+yaml and `body` (JSON is YAML). Returns the object as stored.
  virtual absl::StatusOr<nlohmann::json> Apply(const std::string& path, const nlohmann::json& body,
                                               const std::string& field_manager, bool force) = 0;
  // Watches the collection `path` (may carry ?fieldSelector=...) from `resource_version`,
  // calling `on_event` with each {"type": ..., "object": ...} event as it arrives. Returns OK
  // when the server ends the watch, `timeout` passes, or `on_event` says kStop; an error when
  // the request fails or the stream breaks (the caller resumes from the last resourceVersion).
  virtual absl::Status Watch(const std::string& path, const std::string& resource_version,
                             absl::Duration timeout,
                             const std::function<WatchNext(const nlohmann::json&)>& on_event) = 0;
};

// An HTTP answer as a Status: 2xx OK; otherwise "409 Conflict: <the Status object's message>"
// with a hint, under the absl code a caller can branch on (409 Aborted, 404 NotFound,
// 401 Unauthenticated, 403 PermissionDenied, 410 FailedPrecondition, 422/400 InvalidArgument,
// 429 ResourceExhausted, 500 Internal, 502/503/504 Unavailable).
absl::Status StatusFromKubeAnswer(long http_status, absl::string_view body, absl::string_view what);

// Whether an apply or read that failed with `status` is worth trying again (conflicts, server
// errors, throttling, timeouts, connection failures).
bool IsRetryableKubeError(const absl::Status& status);

// Typed reads of untrusted JSON: nullptr / "" / `fallback` when absent or of another type.
const nlohmann::json* JsonAt(const nlohmann::json& j, std::initializer_list<const char*> keys);
std::string JsonString(const nlohmann::json& j, std::initializer_list<const char*> keys);
int64_t JsonInt(const nlohmann::json& j, std::initializer_list<const char*> keys,
                int64_t fallback = 0);

}  // namespace tempa::deploy
