// A real CNCF distribution registry (/usr/bin/docker-registry) for integration tests and the
// push bench: filesystem storage in a temp dir, plain HTTP on 127.0.0.1 on a free port, deletes
// enabled. Killed (and its storage removed) in the destructor.
#pragma once

#include <sys/types.h>

#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "tests/support/temp_dir.h"

namespace tempa::testing {

class RegistryServer {
 public:
  // True when the registry binary is installed; tests GTEST_SKIP otherwise.
  static bool Available();
  // Starts a registry and waits (up to ~15 s) until GET /v2/ answers. Retries on another port
  // when the chosen one was taken meanwhile.
  static absl::StatusOr<std::unique_ptr<RegistryServer>> Start();

  ~RegistryServer();
  RegistryServer(const RegistryServer&) = delete;
  RegistryServer& operator=(const RegistryServer&) = delete;

  // "127.0.0.1:<port>".
  const std::string& host_port() const { return host_port_; }
  // The storage root directory (docker/registry/v2/... below it).
  std::string storage_dir() const { return dir_.Join("storage"); }
  // What the registry logged so far (for failure messages).
  std::string log() const;

 private:
  RegistryServer() = default;
  // One attempt on `port`: Unavailable when the process died (e.g. port taken).
  absl::Status Launch(int port);

  TempDir dir_{"tempa-registry-"};
  std::string host_port_;
  pid_t pid_ = -1;
};

}  // namespace tempa::testing
