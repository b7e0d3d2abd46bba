#include "deploy/kubernetes/kube_api.h"

#include "absl/strings/str_cat.h"

namespace tempa::deploy {
namespace {

const char* ReasonPhrase(long code) {
  switch (code) {
    case 400:
      return "Bad Request";
    case 401:
      return "Unauthorized";
    case 403:
      return "Forbidden";
    case 404:
      return "Not Found";
    case 405:
      return "Method Not Allowed";
    case 409:
      return "Conflict";
    case 410:
      return "Gone";
    case 415:
      return "Unsupported Media Type";
    case 422:
      return "Unprocessable Entity";
    case 429:
      return "Too Many Requests";
    case 500:
      return "Internal Server Error";
    case 502:
      return "Bad Gateway";
    case 503:
      return "Service Unavailable";
    case 504:
      return "Gateway Timeout";
    default:
      return "HTTP error";
  }
}

// What to do about it, for the codes an operator can act on.
const char* Hint(long code) {
  switch (code) {
    case 401:
      return " — the API server refused the credentials; check the kubeconfig's user (token or "
             "client certificate)";
    case 403:
      return " — the deployer's account lacks the RBAC permission; grant it in the deployer's Role";
    case 409:
      return " — another field manager owns these fields (or the object changed meanwhile); tempa "
             "applies with force, so this is retried";
    case 410:
      return " — the resourceVersion is too old; the watch restarts from a fresh read";
    case 415:
      return " — the API server does not accept server-side apply; Kubernetes 1.18 or later is "
             "needed";
    case 422:
      return " — the object was rejected as invalid; this is a bug in tempa's rendering, please "
             "report it";
    case 429:
      return " — the API server is throttling; retried with backoff";
    default:
      return "";
  }
}

absl::StatusCode CodeFor(long code) {
  switch (code) {
    case 400:
    case 422:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 409:
      return absl::StatusCode::kAborted;
    case 410:
      return absl::StatusCode::kFailedPrecondition;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    case 500:
      return absl::StatusCode::kInternal;
    case 502:
    case 503:
    case 504:
      return absl::StatusCode::kUnavailable;
    default:
      return code >= 500 ? absl::StatusCode::kUnavailable : absl::StatusCode::kUnknown;
  }
}

}  // namespace

const nlohmann::json* JsonAt(const nlohmann::json& j, std::initializer_list<const char*> keys) {
  const nlohmann::json* at = &j;
  for (const char* key : keys) {
    if (!at->is_object()) return nullptr;
    auto it = at->find(key);
    if (it == at->end()) return nullptr;
    at = &*it;
  }
  return at;
}

std::string JsonString(const nlohmann::json& j, std::initializer_list<const char*> keys) {
  const nlohmann::json* at = JsonAt(j, keys);
  return at != nullptr && at->is_string() ? at->get<std::string>() : std::string();
}

int64_t JsonInt(const nlohmann::json& j, std::initializer_list<const char*> keys,
                int64_t fallback) {
  const nlohmann::json* at = JsonAt(j, keys);
  if (at == nullptr || !at->is_number_integer()) return fallback;
  return at->get<int64_t>();
}

absl::Status StatusFromKubeAnswer(long http_status, absl::string_view body,
                                  absl::string_view what) {
  if (http_status >= 200 && http_status < 300) return absl::OkStatus();
  // The API server answers errors with a Status object: {"kind":"Status","message":...}.
  std::string message;
  nlohmann::json parsed = nlohmann::json::parse(body.begin(), body.end(), nullptr, false);
  if (!parsed.is_discarded()) message = JsonString(parsed, {"message"});
  if (message.empty()) {
    message = std::string(body.substr(0, 300));
    if (message.empty()) message = "(no message)";
  }
  if (message.size() > 1000) message = absl::StrCat(message.substr(0, 1000), "…");
  return absl::Status(CodeFor(http_status),
                      absl::StrCat(what, ": ", http_status, " ", ReasonPhrase(http_status), ": ",
                                   message, Hint(http_status)));
}

bool IsRetryableKubeError(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kAborted:
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kInternal:
    case absl::StatusCode::kDeadlineExceeded:
    case absl::StatusCode::kResourceExhausted:
      return true;
    default:
      return false;
  }
}

}  // namespace tempa::deploy
