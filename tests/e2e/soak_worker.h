// Simulated workers for the farm soak test: the real worker loop (worker::WorkerDaemon) over the
// real gRPC WorkerService, with a scripted executor that "builds" in a few milliseconds and
// returns an image named after the build, and a link that can be cut at once, as `kill -9` of
// the worker process would: from then on nothing more reaches the coordinator.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/cancel_token.h"
#include "worker/daemon/coordinator_link.h"
#include "worker/daemon/job_executor.h"
#include "worker/daemon/worker_daemon.h"

namespace tempa::testing {

// The image a soak build of `build_id` at `commit` produces: REPOSITORY@sha256:<sha256 of both>.
std::string SoakImage(const std::string& repository, const std::string& build_id,
                      const std::string& commit);

// Every result any simulated worker sent, and which ones the coordinator accepted.
class CompletionLedger {
 public:
  struct Entry {
    int sent = 0;
    int accepted = 0;
    std::vector<std::string> images;  // of the results sent
  };
  void Sent(const v1::CompleteJobRequest& request);
  void Accepted(const std::string& build_id);
  std::map<std::string, Entry> entries() const;
  int executions() const { return executions_.load(); }
  void Executed() { executions_.fetch_add(1); }

 private:
  mutable absl::Mutex mu_;
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::atomic<int> executions_{0};
};

// One incarnation of a worker process. Kill() is `kill -9`: the link fails every call from
// then on (so no result, heartbeat or log line of this incarnation is delivered after it), the
// running "builds" stop, and the threads wind down in the background; Join() waits for them.
class SimulatedWorker {
 public:
  SimulatedWorker(const std::string& coordinator, const std::string& token,
                  const std::string& worker_id, int slots, uint64_t seed, CompletionLedger* ledger,
                  std::function<void(absl::string_view)> log);
  ~SimulatedWorker();

  void Kill();
  // Stops a live worker as a clean shutdown would (its running builds are reported cancelled).
  void Stop();
  void Join();
  const std::string& id() const { return id_; }

 private:
  class ChaosLink;
  class ScriptedExecutor;

  std::string id_;
  std::atomic<bool> killed_{false};
  CancelToken stop_;
  std::unique_ptr<ChaosLink> link_;
  std::unique_ptr<ScriptedExecutor> executor_;
  std::unique_ptr<worker::WorkerDaemon> daemon_;
  std::thread thread_;
};

}  // namespace tempa::testing
