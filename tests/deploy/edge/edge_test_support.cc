#include "tests/deploy/edge/edge_test_support.h"

#include <curl/curl.h>
#include <unistd.h>

#include "absl/strings/str_cat.h"

namespace tempa::deploy::edge_test {
namespace {

size_t Append(char* data, size_t size, size_t n, void* out) {
  static_cast<std::string*>(out)->append(data, size * n);
  return size * n;
}

}  // namespace

Response Fetch(int port, bool https, const FetchOptions& options) {
  Response r;
  CURL* curl = curl_easy_init();
  curl_slist* headers = nullptr;
  curl_slist* resolve = nullptr;
  std::string url;
  if (https) {
    url = absl::StrCat("https://", options.host, ":", port, options.path);
    resolve =
        curl_slist_append(resolve, absl::StrCat(options.host, ":", port, ":127.0.0.1").c_str());
    curl_easy_setopt(curl, CURLOPT_RESOLVE, resolve);
    // No CA given: trust nothing (an empty bundle), so verification cannot pass by the system's.
    curl_easy_setopt(curl, CURLOPT_CAINFO,
                     options.ca_file.empty() ? "/dev/null" : options.ca_file.c_str());
    curl_easy_setopt(curl, CURLOPT_CAPATH, nullptr);
  } else {
    url = absl::StrCat("http://127.0.0.1:", port, options.path);
    headers = curl_slist_append(headers, absl::StrCat("Host: ", options.host).c_str());
    curl_easy_setopt(curl, CURLOPT_HTTPHEADER, headers);
  }
  char err[CURL_ERROR_SIZE] = {};
  curl_easy_setopt(curl, CURLOPT_URL, url.c_str());
  curl_easy_setopt(curl, CURLOPT_ERRORBUFFER, err);
  curl_easy_setopt(curl, CURLOPT_TIMEOUT_MS, 10000L);
  curl_easy_setopt(curl, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(curl, CURLOPT_FORBID_REUSE, 1L);
  curl_easy_setopt(curl, CURLOPT_WRITEFUNCTION, &Append);
  curl_easy_setopt(curl, CURLOPT_WRITEDATA, &r.body);
  CURLcode rc = curl_easy_perform(curl);
  r.ok = rc == CURLE_OK;
  if (!r.ok) r.error = absl::StrCat(curl_easy_strerror(rc), ": ", err);
  curl_easy_getinfo(curl, CURLINFO_RESPONSE_CODE, &r.status);
  char* location = nullptr;
  if (curl_easy_getinfo(curl, CURLINFO_REDIRECT_URL, &location) == CURLE_OK && location)
    r.location = location;
  curl_slist_free_all(headers);
  curl_slist_free_all(resolve);
  curl_easy_cleanup(curl);
  return r;
}

std::unique_ptr<testing::LoopbackHttpServer> Backend(const std::string& body) {
  return std::make_unique<testing::LoopbackHttpServer>("127.0.0.1", [body](httplib::Server& s) {
    s.Get("/headers", [](const httplib::Request& req, httplib::Response& res) {
      res.set_content(absl::StrCat("host=", req.get_header_value("Host"),
                                   " proto=", req.get_header_value("X-Forwarded-Proto"),
                                   " for=", req.get_header_value("X-Forwarded-For")),
                      "text/plain");
    });
    s.Get(".*", [body](const httplib::Request&, httplib::Response& res) {
      res.set_content(body, "text/plain");
    });
  });
}

void EdgeTest::SetUp() {
  if (access("/usr/sbin/nginx", X_OK) != 0) {
    GTEST_SKIP() << "nginx is not installed at /usr/sbin/nginx (apt-get install nginx-light)";
  }
  if (geteuid() != 0) GTEST_SKIP() << "the edge runs nginx's master as root: run as root";
  port_ = testing::PickFreePort();
}

void EdgeTest::TearDown() {
  for (const std::string& work : work_dirs_) {
    NginxEdgeOptions options;
    options.work_dir = work;
    options.listen = absl::StrCat("127.0.0.1:", port_);
    auto edge = NginxEdge::Create(options);  // adopts whatever still runs there
    if (edge.ok()) {
      EXPECT_TRUE((*edge)->Stop().ok());
    }
  }
}

std::unique_ptr<NginxEdge> EdgeTest::MakeEdge(NginxEdgeOptions options) {
  if (options.work_dir.empty()) options.work_dir = dir_.Join("work");
  if (options.listen.empty() || options.listen == NginxEdgeOptions().listen)
    options.listen = absl::StrCat("127.0.0.1:", port_);
  options.worker_processes = 2;
  work_dirs_.push_back(options.work_dir);
  auto edge = NginxEdge::Create(options);
  EXPECT_TRUE(edge.ok()) << edge.status();
  return edge.ok() ? std::move(*edge) : nullptr;
}

}  // namespace tempa::deploy::edge_test
