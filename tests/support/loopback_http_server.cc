#include "tests/support/loopback_http_server.h"

#include <chrono>

namespace tempa::testing {

LoopbackHttpServer::LoopbackHttpServer(const std::string& address,
                                       const std::function<void(httplib::Server&)>& setup) {
  setup(server_);
  port_ = server_.bind_to_any_port(address);
  thread_ = std::thread([this] { server_.listen_after_bind(); });
  while (!server_.is_running()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
}

LoopbackHttpServer::~LoopbackHttpServer() {
  server_.stop();
  thread_.join();
}

}  // namespace tempa::testing
