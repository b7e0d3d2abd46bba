#include "deploy/kubernetes/curl_kube_api.h"

#include <curl/curl.h>

#include <mutex>
#include <string>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"

namespace tempa::deploy {
namespace {

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct SlistDeleter {
  void operator()(curl_slist* l) const { curl_slist_free_all(l); }
};

// State shared with the write callback for one transfer.
struct Transfer {
  CURL* curl = nullptr;
  size_t max_bytes = 0;
  std::string body;  // a plain answer, or (watch) the partial line not yet complete
  bool too_large = false;
  // Watch mode: set when the answer is 2xx and events are being streamed.
  const std::function<WatchNext(const nlohmann::json&)>* on_event = nullptr;
  bool stopped = false;   // the callback asked to stop
  std::string bad_event;  // an event line that was not a JSON object
};

bool Is2xx(CURL* curl) {
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  return code >= 200 && code < 300;
}

// Hands every complete line of t->body to the watch callback. False: stop the transfer.
bool DeliverLines(Transfer* t) {
  size_t start = 0;
  while (true) {
    size_t nl = t->body.find('\n', start);
    if (nl == std::string::npos) break;
    absl::string_view line(t->body.data() + start, nl - start);
    start = nl + 1;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty()) continue;
    nlohmann::json event = nlohmann::json::parse(line.begin(), line.end(), nullptr, false);
    if (event.is_discarded() || !event.is_object()) {
      t->bad_event = std::string(line.substr(0, 200));
      return false;
    }
    if ((*t->on_event)(event) == WatchNext::kStop) {
      t->stopped = true;
      return false;
    }
  }
  t->body.erase(0, start);
  return true;
}

size_t WriteCallback(char* data, size_t size, size_t nmemb, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  size_t n = size * nmemb;
  t->body.append(data, n);
  bool streaming = t->on_event != nullptr && Is2xx(t->curl);
  if (streaming && !DeliverLines(t)) return 0;
  if (t->body.size() > t->max_bytes) {
    t->too_large = true;
    return 0;
  }
  return n;
}

class CurlKubeApi : public KubeApi {
 public:
  CurlKubeApi(KubeConfig config, CurlKubeApiOptions options)
      : config_(std::move(config)), options_(options) {
    GlobalInitOnce();
  }

  absl::StatusOr<nlohmann::json> Get(const std::string& path) override {
    Transfer t;
    ASSIGN_OR_RETURN(long code, Perform("GET", path, "", "", options_.request_timeout, t));
    return ParseAnswer(code, t, absl::StrCat("GET ", path));
  }

  absl::StatusOr<std::string> GetText(const std::string& path) override {
    Transfer t;
    ASSIGN_OR_RETURN(long code, Perform("GET", path, "", "", options_.request_timeout, t));
    RETURN_IF_ERROR(StatusFromKubeAnswer(code, t.body, absl::StrCat("GET ", path)));
    return std::move(t.body);
  }

  absl::Status Delete(const std::string& path) override {
    Transfer t;
    ASSIGN_OR_RETURN(long code, Perform("DELETE", path, "", "", options_.request_timeout, t));
    return StatusFromKubeAnswer(code, t.body, absl::StrCat("DELETE ", path));
  }

  absl::StatusOr<nlohmann::json> Apply(const std::string& path, const nlohmann::json& body,
                                       const std::string& field_manager, bool force) override {
    std::string url_path =
        absl::StrCat(path, absl::StrContains(path, "?") ? "&" : "?",
                     "fieldManager=", Escape(field_manager), force ? "&force=true" : "");
    Transfer t;
    ASSIGN_OR_RETURN(long code,
                     Perform("PATCH", url_path, body.dump(), "application/apply-patch+yaml",
                             options_.request_timeout, t));
    return ParseAnswer(code, t, absl::StrCat("apply ", path));
  }

  absl::Status Watch(const std::string& path, const std::string& resource_version,
                     absl::Duration timeout,
                     const std::function<WatchNext(const nlohmann::json&)>& on_event) override {
    int64_t seconds = std::max<int64_t>(1, absl::ToInt64Seconds(timeout));
    std::string url_path =
        absl::StrCat(path, absl::StrContains(path, "?") ? "&" : "?",
                     "watch=1&timeoutSeconds=", seconds, "&allowWatchBookmarks=true");
    if (!resource_version.empty()) {
      absl::StrAppend(&url_path, "&resourceVersion=", Escape(resource_version));
    }
    Transfer t;
    t.on_event = &on_event;
    // The server ends the watch after timeoutSeconds; curl's limit is a little beyond it.
    absl::StatusOr<long> code =
        Perform("GET", url_path, "", "", absl::Seconds(seconds) + absl::Seconds(5), t);
    std::string what = absl::StrCat("watch ", path);
    if (t.stopped) return absl::OkStatus();
    if (!t.bad_event.empty()) {
      return absl::DataLossError(absl::StrCat(
          what, ": the API server sent a line that is not a watch event: ", t.bad_event));
    }
    if (!code.ok()) {
      if (code.status().code() == absl::StatusCode::kDeadlineExceeded) return absl::OkStatus();
      return code.status();
    }
    if (*code < 200 || *code >= 300) return StatusFromKubeAnswer(*code, t.body, what);
    return absl::OkStatus();
  }

 private:
  std::string Escape(const std::string& s) {
    char* e = curl_easy_escape(nullptr, s.data(), static_cast<int>(s.size()));
    std::string out = e != nullptr ? e : "";
    curl_free(e);
    return out;
  }

  absl::StatusOr<nlohmann::json> ParseAnswer(long code, const Transfer& t,
                                             const std::string& what) {
    RETURN_IF_ERROR(StatusFromKubeAnswer(code, t.body, what));
    nlohmann::json parsed = nlohmann::json::parse(t.body, nullptr, false);
    if (parsed.is_discarded() || !parsed.is_object()) {
      return absl::DataLossError(absl::StrCat(what, ": the API server answered ", code,
                                              " with a body that is not a JSON object"));
    }
    return parsed;
  }

  // One request; the HTTP status, or an error when no answer came (TLS, connection, timeout,
  // an answer over the size bound).
  absl::StatusOr<long> Perform(const char* method, const std::string& path, const std::string& body,
                               const std::string& content_type, absl::Duration timeout,
                               Transfer& t) {
    std::string what = absl::StrCat(method, " ", config_.server, path);
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) return absl::ResourceExhaustedError(absl::StrCat(what, ": curl_easy_init failed"));
    CURL* c = curl.get();
    t.curl = c;
    t.max_bytes = options_.max_body_bytes;

    std::string token = config_.token;
    if (token.empty() && !config_.token_file.empty()) {
      ASSIGN_OR_RETURN(token, ReadSmallFile(config_.token_file, "the bearer token"));
    }
    token = std::string(absl::StripAsciiWhitespace(token));
    curl_slist* raw = nullptr;
    raw = curl_slist_append(raw, "Accept: application/json");
    if (!token.empty())
      raw = curl_slist_append(raw, absl::StrCat("Authorization: Bearer ", token).c_str());
    if (!content_type.empty())
      raw = curl_slist_append(raw, absl::StrCat("Content-Type: ", content_type).c_str());
    raw = curl_slist_append(raw, "Expect:");
    std::unique_ptr<curl_slist, SlistDeleter> headers(raw);

    std::string url = absl::StrCat(config_.server, path);
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_HTTPHEADER, headers.get());
    curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
    if (std::string(method) == "PATCH") {
      curl_easy_setopt(c, CURLOPT_POSTFIELDS, body.data());
      curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
    }
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, WriteCallback);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &t);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(options_.connect_timeout)));
    curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, static_cast<long>(absl::ToInt64Milliseconds(timeout)));
    if (config_.insecure_skip_tls_verify) {
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
      curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
    } else if (!config_.ca_pem.empty()) {
      curl_blob ca{const_cast<char*>(config_.ca_pem.data()), config_.ca_pem.size(), CURL_BLOB_COPY};
      curl_easy_setopt(c, CURLOPT_CAINFO_BLOB, &ca);
    }
    if (!config_.client_cert_pem.empty()) {
      curl_blob cert{const_cast<char*>(config_.client_cert_pem.data()),
                     config_.client_cert_pem.size(), CURL_BLOB_COPY};
      curl_blob key{const_cast<char*>(config_.client_key_pem.data()), config_.client_key_pem.size(),
                    CURL_BLOB_COPY};
      curl_easy_setopt(c, CURLOPT_SSLCERTTYPE, "PEM");
      curl_easy_setopt(c, CURLOPT_SSLCERT_BLOB, &cert);
      curl_easy_setopt(c, CURLOPT_SSLKEYTYPE, "PEM");
      curl_easy_setopt(c, CURLOPT_SSLKEY_BLOB, &key);
    }
    char error[CURL_ERROR_SIZE] = {0};
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error);

    CURLcode rc = curl_easy_perform(c);
    long code = 0;
    curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
    if (rc == CURLE_OK) return code;
    if (t.stopped) return code;  // the watch callback ended it
    if (t.too_large) {
      return absl::ResourceExhaustedError(absl::StrCat(what, ": the answer is larger than ",
                                                       options_.max_body_bytes, " bytes; refused"));
    }
    std::string detail = error[0] != '\0' ? error : curl_easy_strerror(rc);
    switch (rc) {
      case CURLE_OPERATION_TIMEDOUT:
        return absl::DeadlineExceededError(absl::StrCat(what, ": timed out: ", detail));
      case CURLE_PEER_FAILED_VERIFICATION:
      case CURLE_SSL_CACERT_BADFILE:
      case CURLE_SSL_CONNECT_ERROR:
      case CURLE_SSL_CERTPROBLEM:
        return absl::UnavailableError(absl::StrCat(what, ": TLS failed: ", detail,
                                                   " (check the CA and client certificate of ",
                                                   config_.source, ")"));
      default:
        return absl::UnavailableError(absl::StrCat(what, ": ", detail));
    }
  }

  const KubeConfig config_;
  const CurlKubeApiOptions options_;
};

}  // namespace

std::unique_ptr<KubeApi> MakeCurlKubeApi(KubeConfig config, CurlKubeApiOptions options) {
  return std::make_unique<CurlKubeApi>(std::move(config), options);
}

}  // namespace tempa::deploy
