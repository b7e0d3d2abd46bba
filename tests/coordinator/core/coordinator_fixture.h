// A real coordinator in-process: RocksDB state in a temp dir, the real scheduler, a sealer,
// and the gRPC server on a loopback port; a scripted clock; tokens for each role. "Restart"
// tears everything down and opens the same state again, as a crashed coordinator would.
#pragma once

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/auth/authorizer.h"
#include "coordinator/core/coordinator.h"
#include "coordinator/service/coordinator_server.h"
#include "coordinator/state/state_store.h"
#include "grpcpp/grpcpp.h"
#include "tempa/v1/control.grpc.pb.h"
#include "tempa/v1/layer_cache.grpc.pb.h"
#include "tempa/v1/worker.grpc.pb.h"
#include "tests/support/temp_dir.h"

namespace tempa::coordinator::testing {

inline constexpr char kAdminToken[] = "admin-token-0123456789abcdef";
inline constexpr char kReaderToken[] = "reader-token-0123456789abcdef";
inline constexpr char kWorkerToken[] = "worker-token-0123456789abcdef";

class ScriptedClock {
 public:
  absl::Time Now() {
    absl::MutexLock lock(&mu_);
    return now_;
  }
  void Advance(absl::Duration d) {
    absl::MutexLock lock(&mu_);
    now_ += d;
  }

 private:
  absl::Mutex mu_;
  absl::Time now_ = absl::FromUnixSeconds(1'800'000'000);
};

// Reverses every byte: enough to show what is stored is not the plaintext, and that the record
// name is bound (a different record fails to open).
class FakeSealer final : public SecretSealer {
 public:
  absl::StatusOr<std::string> Seal(absl::string_view plaintext,
                                   absl::string_view record) const override;
  absl::StatusOr<std::string> Open(absl::string_view sealed,
                                   absl::string_view record) const override;
};

class CoordinatorFixture {
 public:
  explicit CoordinatorFixture(CoordinatorOptions options = DefaultOptions());
  ~CoordinatorFixture();

  static CoordinatorOptions DefaultOptions();
  // Drops the server, the core and the store without any goodbye, then opens them again.
  void Restart();

  Coordinator& core() { return *coordinator_; }
  ScriptedClock& clock() { return clock_; }
  StateStore& store() { return *store_; }
  std::string target() const { return "127.0.0.1:" + std::to_string(port_); }
  std::string data_dir() const { return dir_.path() + "/state"; }

  std::unique_ptr<v1::ControlService::Stub> Control();
  std::unique_ptr<v1::WorkerService::Stub> Workers();
  std::unique_ptr<v1::LayerCacheService::Stub> Layers();
  // A context carrying `token` (none when empty) and a 10 s deadline.
  static std::unique_ptr<grpc::ClientContext> Context(const std::string& token = kAdminToken);

 private:
  void Open();
  void Close();

  CoordinatorOptions options_;
  tempa::testing::TempDir dir_;
  ScriptedClock clock_;
  FakeSealer sealer_;
  std::unique_ptr<auth::Authorizer> authorizer_;
  std::unique_ptr<StateStore> store_;
  std::unique_ptr<Coordinator> coordinator_;
  std::unique_ptr<CoordinatorServer> server_;
  std::shared_ptr<grpc::Channel> channel_;
  int port_ = 0;
};

}  // namespace tempa::coordinator::testing
