#include "deploy/local/health_checker.h"

#include <curl/curl.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <mutex>

#include "absl/strings/str_cat.h"

namespace tempa::deploy {
namespace {

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

size_t DiscardBody(char* /*data*/, size_t size, size_t nmemb, void* userdata) {
  // Only the status matters; stop reading a large body early.
  auto* seen = static_cast<size_t*>(userdata);
  *seen += size * nmemb;
  return *seen > (64u << 10) ? 0 : size * nmemb;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};

std::string DescribeCurlError(CURL* curl, CURLcode code) {
  long os_errno = 0;
  curl_easy_getinfo(curl, CURLINFO_OS_ERRNO, &os_errno);
  if (code == CURLE_COULDNT_CONNECT && os_errno == ECONNREFUSED) return "connection refused";
  if (code == CURLE_OPERATION_TIMEDOUT) return "no answer in time";
  if (code == CURLE_GOT_NOTHING) return "connection closed without an answer";
  std::string what = curl_easy_strerror(code);
  if (os_errno != 0) absl::StrAppend(&what, " (", std::strerror(static_cast<int>(os_errno)), ")");
  return what;
}

std::string DurationText(absl::Duration d) {
  if (d >= absl::Seconds(1) && d % absl::Seconds(1) == absl::ZeroDuration()) {
    return absl::StrCat(absl::ToInt64Seconds(d), "s");
  }
  return absl::FormatDuration(d);
}

}  // namespace

HealthChecker::HealthChecker(HealthCheckerOptions options) : options_(std::move(options)) {}

absl::Status HealthChecker::Probe(int port, absl::string_view path) const {
  GlobalInitOnce();
  std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
  if (curl == nullptr) return absl::InternalError("curl_easy_init failed");
  std::string url = absl::StrCat("http://127.0.0.1:", port, path);
  size_t seen = 0;
  curl_easy_setopt(curl.get(), CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl.get(), CURLOPT_PROTOCOLS_STR, "http");
  curl_easy_setopt(curl.get(), CURLOPT_NOPROXY, "*");
  curl_easy_setopt(curl.get(), CURLOPT_FOLLOWLOCATION, 0L);
  curl_easy_setopt(curl.get(), CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl.get(), CURLOPT_TIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.probe_timeout)));
  curl_easy_setopt(curl.get(), CURLOPT_WRITEFUNCTION, DiscardBody);
  curl_easy_setopt(curl.get(), CURLOPT_WRITEDATA, &seen);
  curl_easy_setopt(curl.get(), CURLOPT_USERAGENT, "tempa-health-check");
  CURLcode code = curl_easy_perform(curl.get());
  long http_status = 0;
  curl_easy_getinfo(curl.get(), CURLINFO_RESPONSE_CODE, &http_status);
  if (code != CURLE_OK && !(code == CURLE_WRITE_ERROR && http_status != 0)) {
    return absl::UnavailableError(DescribeCurlError(curl.get(), code));
  }
  if (http_status >= 200 && http_status < 400) return absl::OkStatus();
  return absl::UnavailableError(absl::StrCat("answered ", http_status));
}

absl::Status HealthChecker::WaitHealthy(
    int port, absl::string_view path, absl::Duration timeout,
    const std::function<absl::StatusOr<ContainerStatus>()>& status) const {
  const absl::Time deadline = options_.now() + timeout;
  std::string last_exit;
  absl::Status probe;
  while (true) {
    probe = Probe(port, path);
    if (probe.ok()) return probe;
    absl::StatusOr<ContainerStatus> container = status();
    if (container.ok()) {
      if (!container->last_exit_reason.empty()) last_exit = container->last_exit_reason;
      if (!container->running || container->restarts > 0) {
        return absl::FailedPreconditionError(
            absl::StrCat("exited during the health check at ", path, ": ",
                         last_exit.empty() ? std::string("no exit reason recorded") : last_exit));
      }
    } else if (absl::IsNotFound(container.status())) {
      return absl::FailedPreconditionError(
          absl::StrCat("exited during the health check at ", path,
                       ": the runtime no longer knows the container"));
    }
    absl::Time now = options_.now();
    if (now >= deadline) break;
    options_.sleep(std::min(options_.interval, deadline - now));
  }
  std::string message = absl::StrCat("never became healthy at ", path, " within ",
                                     DurationText(timeout), ": ", probe.message());
  if (!last_exit.empty()) absl::StrAppend(&message, "; last exit: ", last_exit);
  return absl::DeadlineExceededError(message);
}

}  // namespace tempa::deploy
