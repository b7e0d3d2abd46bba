#include "common/registry/curl_http_transport.h"

#include <curl/curl.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <mutex>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "common/registry/redirect_policy.h"
#include "common/status_macros.h"

namespace tempa::registry {
namespace {

void GlobalInitOnce() {
  static std::once_flag once;
  std::call_once(once, [] { curl_global_init(CURL_GLOBAL_DEFAULT); });
}

// State shared with curl's callbacks for one transfer.
struct Transfer {
  const HttpRequest* request = nullptr;
  HttpResponse* response = nullptr;
  // Upload source: the file (positioned at the range start) or the in-memory body.
  FILE* file = nullptr;
  uint64_t upload_start = 0;  // file offset of the range start
  uint64_t upload_total = 0;
  uint64_t upload_sent = 0;
  CURL* curl = nullptr;
  absl::Status sink_status;
  bool body_too_large = false;
  bool headers_too_large = false;
  uint64_t header_bytes = 0;  // of every response in this transfer; bounded like the body
};

constexpr uint64_t kMaxHeaderBytes = 256 << 10;

size_t ReadCallback(char* buffer, size_t size, size_t nitems, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  size_t want = std::min<uint64_t>(size * nitems, t->upload_total - t->upload_sent);
  if (want == 0) return 0;
  size_t got;
  if (t->file != nullptr) {
    got = std::fread(buffer, 1, want, t->file);
    if (got == 0) return CURL_READFUNC_ABORT;  // file shrank under us
  } else {
    std::memcpy(buffer, t->request->body.data() + t->upload_sent, want);
    got = want;
  }
  t->upload_sent += got;
  return got;
}

// curl rewinds when it must resend the body (e.g. a reused connection died before the server
// read anything).
int SeekCallback(void* userdata, curl_off_t offset, int origin) {
  auto* t = static_cast<Transfer*>(userdata);
  if (origin != SEEK_SET || offset < 0 || static_cast<uint64_t>(offset) > t->upload_total) {
    return CURL_SEEKFUNC_CANTSEEK;
  }
  if (t->file != nullptr &&
      fseeko(t->file, static_cast<off_t>(t->upload_start + offset), SEEK_SET) != 0) {
    return CURL_SEEKFUNC_FAIL;
  }
  t->upload_sent = static_cast<uint64_t>(offset);
  return CURL_SEEKFUNC_OK;
}

size_t WriteCallback(char* data, size_t size, size_t nmemb, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  size_t n = size * nmemb;
  long code = 0;
  curl_easy_getinfo(t->curl, CURLINFO_RESPONSE_CODE, &code);
  if (t->request->body_sink && code >= 200 && code < 300) {
    t->sink_status = t->request->body_sink(absl::string_view(data, n));
    if (!t->sink_status.ok()) return 0;  // aborts the transfer
  } else {
    if (n > t->request->max_body_bytes - t->response->body.size()) {
      t->body_too_large = true;
      return 0;  // aborts the transfer: stop reading, not read it all and then complain
    }
    t->response->body.append(data, n);
  }
  return n;
}

size_t HeaderCallback(char* data, size_t size, size_t nitems, void* userdata) {
  auto* t = static_cast<Transfer*>(userdata);
  size_t n = size * nitems;
  absl::string_view line(data, n);
  t->header_bytes += n;
  if (t->header_bytes > kMaxHeaderBytes) {
    t->headers_too_large = true;
    return 0;  // aborts the transfer
  }
  // A new status line (after a redirect or 100-continue) starts a fresh header set.
  if (absl::StartsWith(line, "HTTP/")) {
    t->response->headers.clear();
    return n;
  }
  size_t colon = line.find(':');
  if (colon != absl::string_view::npos) {
    std::string name = absl::AsciiStrToLower(absl::StripAsciiWhitespace(line.substr(0, colon)));
    t->response->headers[name] = std::string(absl::StripAsciiWhitespace(line.substr(colon + 1)));
  }
  return n;
}

std::string HostOf(const std::string& url) {
  absl::string_view u = url;
  size_t scheme = u.find("://");
  if (scheme != absl::string_view::npos) u.remove_prefix(scheme + 3);
  return std::string(u.substr(0, u.find('/')));
}

// "4 MiB", "64 KiB", "1000 bytes".
std::string Bytes(uint64_t n) {
  if (n >= (1 << 20) && n % (1 << 20) == 0) return absl::StrCat(n >> 20, " MiB");
  if (n >= (1 << 10) && n % (1 << 10) == 0) return absl::StrCat(n >> 10, " KiB");
  return absl::StrCat(n, " bytes");
}

constexpr int kMaxRedirects = 5;

bool IsRedirect(int status) {
  return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

}  // namespace

CurlHttpTransport::CurlHttpTransport(CurlTransportOptions options) : options_(options) {
  GlobalInitOnce();
}

CurlHttpTransport::~CurlHttpTransport() {
  absl::MutexLock lock(&mu_);
  for (void* h : idle_) curl_easy_cleanup(static_cast<CURL*>(h));
}

void* CurlHttpTransport::Acquire() {
  {
    absl::MutexLock lock(&mu_);
    if (!idle_.empty()) {
      void* h = idle_.back();
      idle_.pop_back();
      return h;
    }
  }
  return curl_easy_init();
}

void CurlHttpTransport::Release(void* handle) {
  absl::MutexLock lock(&mu_);
  if (static_cast<int>(idle_.size()) < options_.max_idle_handles) {
    idle_.push_back(handle);
  } else {
    curl_easy_cleanup(static_cast<CURL*>(handle));
  }
}

absl::StatusOr<HttpResponse> CurlHttpTransport::Send(const HttpRequest& request) {
  const bool follow =
      request.follow_redirects && (request.method == "GET" || request.method == "HEAD");
  if (!follow) return SendOnce(request);
  // Redirects are followed here, not by curl, so that each hop's origin is checked by us.
  HttpRequest hop = request;
  for (int redirects = 0;; ++redirects) {
    absl::StatusOr<HttpResponse> response = SendOnce(hop);
    if (!response.ok() || !IsRedirect(response->status)) return response;
    std::string location = response->Header("location");
    if (location.empty()) return response;
    if (redirects >= kMaxRedirects) {
      return absl::FailedPreconditionError(absl::StrCat(
          hop.method, " ", HostOf(request.url), ": more than ", kMaxRedirects, " redirects"));
    }
    absl::StatusOr<HttpRequest> next = RedirectedRequest(hop, location);
    if (!next.ok()) {
      return Annotate(next.status(), absl::StrCat(hop.method, " ", HostOf(hop.url)));
    }
    hop = *std::move(next);
  }
}

absl::StatusOr<HttpResponse> CurlHttpTransport::SendOnce(const HttpRequest& request) {
  CURL* curl = static_cast<CURL*>(Acquire());
  if (curl == nullptr) return absl::ResourceExhaustedError("curl_easy_init failed");
  // Reset clears options but keeps the handle's live connections, which is the point of pooling.
  curl_easy_reset(curl);

  HttpResponse response;
  Transfer t;
  t.request = &request;
  t.response = &response;
  t.curl = curl;

  const bool has_body = request.method == "POST" || request.method == "PUT" ||
                        request.method == "PATCH" || request.body_file || !request.body.empty();
  if (request.body_file) {
    t.file = std::fopen(request.body_file->path.c_str(), "rbe");  // O_CLOEXEC
    if (t.file == nullptr) {
      Release(curl);
      return absl::NotFoundError(
          absl::StrCat("open ", request.body_file->path, ": ", std::strerror(errno)));
    }
    if (fseeko(t.file, static_cast<off_t>(request.body_file->offset), SEEK_SET) != 0) {
      std::fclose(t.file);
      Release(curl);
      return absl::InternalError(absl::StrCat("seek ", request.body_file->path));
    }
    t.upload_start = request.body_file->offset;
    t.upload_total = request.body_file->length;
  } else {
    t.upload_total = request.body.size();
  }

  curl_easy_setopt(curl, CURLOPT_URL, request.url.c_str());
  // A registry's Location header must not turn an upload into a write to file:// (or worse).
  curl_easy_setopt(curl, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_CONNECTTIMEOUT_MS,
                   static_cast<long>(absl::ToInt64Milliseconds(options_.connect_timeout)));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_LIMIT, static_cast<long>(options_.low_speed_bytes));
  curl_easy_setopt(curl, CURLOPT_LOW_SPEED_TIME,
                   static_cast<long>(absl::ToInt64Seconds(options_.low_speed_time)));
  if (options_.total_timeout > absl::ZeroDuration()) {
    curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS,
                     static_cast<long>(absl::ToInt64Milliseconds(options_.total_timeout)));
  }
  if (!options_.verify_tls) {
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYPEER, 0L);
    curl_easy_setopt(curl, CURLOPT_SSL_VERIFYHOST, 0L);
  }
  curl_easy_setopt(curl, CURLOPT_TCP_NODELAY, 1L);
  curl_easy_setopt(curl, CURLOPT_HEADERFUNCTION, HeaderCallback);
  curl_easy_setopt(curl, CURLOPT_HEADERDATA, &t);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, WriteCallback);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &t);

  if (request.method == "HEAD") {
    curl_easy_setopt(curl, CURLOPT_NOBODY, 1L);
  } else if (has_body) {
    // UPLOAD streams through the read callback; CUSTOMREQUEST turns its PUT into POST/PATCH.
    curl_easy_setopt(curl, CURLOPT_UPLOAD, 1L);
    curl_easy_setopt(curl, CURLOPT_INFILESIZE_LARGE, static_cast<curl_off_t>(t.upload_total));
    curl_easy_setopt(curl, CURLOPT_READFUNCTION, ReadCallback);
    curl_easy_setopt(curl, CURLOPT_READDATA, &t);
    curl_easy_setopt(curl, CURLOPT_SEEKFUNCTION, SeekCallback);
    curl_easy_setopt(curl, CURLOPT_SEEKDATA, &t);
    // Bigger upload buffer: fewer read callbacks and syscalls for 100 MB layers.
    curl_easy_setopt(curl, CURLOPT_UPLOAD_BUFFERSIZE, 2L * 1024 * 1024);
    if (request.method != "PUT") {
      curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
    }
  } else if (request.method != "GET") {
    curl_easy_setopt(curl, CURLOPT_CUSTOMREQUEST, request.method.c_str());
  }

  struct curl_slist* headers = nullptr;
  for (const auto& [name, value] : request.headers) {
    headers = curl_slist_append(headers, absl::StrCat(name, ": ", value).c_str());
  }
  // "Expect:" with no value stops curl waiting up to 1 s for a 100-continue on large bodies.
  headers = curl_slist_append(headers, "Expect:");
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);

  CURLcode rc = curl_easy_perform(curl);
  long code = 0;
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &code);
  curl_slist_free_all(headers);
  curl_easy_setopt(curl, CURLOPT_HTTPHEADER, nullptr);
  if (t.file != nullptr) std::fclose(t.file);

  if (rc != CURLE_OK) {
    // Drop the handle: its connection may be in an unknown state.
    curl_easy_cleanup(curl);
    if (!t.sink_status.ok()) return t.sink_status;
    if (t.body_too_large) {
      return absl::OutOfRangeError(
          absl::StrCat(request.method, " ", HostOf(request.url), ": answer body larger than ",
                       Bytes(request.max_body_bytes), "; stopped reading"));
    }
    if (t.headers_too_large) {
      return absl::OutOfRangeError(absl::StrCat(request.method, " ", HostOf(request.url),
                                                ": answer headers larger than ",
                                                Bytes(kMaxHeaderBytes), "; stopped reading"));
    }
    return absl::UnavailableError(absl::StrCat(request.method, " ", HostOf(request.url),
                                               ": connection failed: ", curl_easy_strerror(rc)));
  }
  Release(curl);
  response.status = static_cast<int>(code);
  return response;
}

}  // namespace tempa::registry
