// An HTTP server on a loopback address for tests (cpp-httplib on its own thread): `setup`
// registers handlers or mount points, then it serves on a free port until destroyed.
#pragma once

#include <functional>
#include <string>
#include <thread>

#include "httplib.h"

namespace tempa::testing {

class LoopbackHttpServer {
 public:
  LoopbackHttpServer(const std::string& address, const std::function<void(httplib::Server&)>& setup);
  ~LoopbackHttpServer();
  LoopbackHttpServer(const LoopbackHttpServer&) = delete;
  LoopbackHttpServer& operator=(const LoopbackHttpServer&) = delete;

  int port() const { return port_; }

 private:
  httplib::Server server_;
  int port_ = 0;
  std::thread thread_;
};

}  // namespace tempa::testing
