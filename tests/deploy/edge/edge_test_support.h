// Shared by the NginxEdge tests: an HTTP(S) client on libcurl that names the host it asks for,
// backends answering a fixed body, and a fixture that skips without nginx and stops every edge
// it made.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "deploy/edge/nginx_edge.h"
#include "gtest/gtest.h"
#include "tests/support/loopback_http_server.h"
#include "tests/support/temp_dir.h"

// Asserts that an absl::Status expression is OK, printing it when it is not.
#define ASSERT_OK(expr)                    \
  do {                                     \
    const ::absl::Status _status = (expr); \
    ASSERT_TRUE(_status.ok()) << _status;  \
  } while (0)

namespace tempa::deploy::edge_test {

struct Response {
  bool ok = false;  // the transfer completed (any status)
  long status = 0;
  std::string body;
  std::string error;  // libcurl's, when !ok
  std::string location;
};

struct FetchOptions {
  std::string host;     // Host header (http) or the name resolved to 127.0.0.1 (https)
  std::string ca_file;  // https: the CA to trust; empty trusts none
  std::string path = "/";
};

// GET through the edge at 127.0.0.1:port.
Response Fetch(int port, bool https, const FetchOptions& options);

// A loopback backend answering `body` on every path, and its request's Host and
// X-Forwarded-Proto on /headers.
std::unique_ptr<testing::LoopbackHttpServer> Backend(const std::string& body);

class EdgeTest : public ::testing::Test {
 protected:
  void SetUp() override;
  void TearDown() override;
  // An edge on a free loopback port in dir_/work (options filled in where empty).
  std::unique_ptr<NginxEdge> MakeEdge(NginxEdgeOptions options = {});

  testing::TempDir dir_{"tempa-edge-"};
  int port_ = 0;
  std::vector<std::string> work_dirs_;  // stopped at teardown (whichever object runs them)
};

}  // namespace tempa::deploy::edge_test
