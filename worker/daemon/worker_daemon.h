// tempa-worker's loop: registers with the coordinator, runs one long-poll per free slot, runs
// each leased job through the JobExecutor while a ProgressReporter streams its output, sends
// heartbeats for every lease it holds (and cancels builds the coordinator says to stop), and
// reports each result. Survives a coordinator that goes away and comes back: it retries with
// backoff, and a result is kept until it is delivered or its lease is gone.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "common/cancel_token.h"
#include "worker/daemon/coordinator_link.h"
#include "worker/daemon/job_executor.h"
#include "worker/daemon/progress_reporter.h"

namespace tempa::worker {

struct WorkerDaemonOptions {
  std::string worker_id;
  std::string hostname;
  int slots = 1;
  absl::Duration lease_wait = absl::Seconds(20);
  // Until the coordinator says otherwise at registration.
  absl::Duration heartbeat_interval = absl::Seconds(1);
  absl::Duration max_backoff = absl::Seconds(5);
  // How long a finished build's result is retried while the coordinator is unreachable.
  absl::Duration result_deadline = absl::Minutes(10);
  ProgressReporterOptions progress;
  // Status lines ("leased b-12 (app api, commit 1a2b3c4)"); stderr in the daemon.
  std::function<void(absl::string_view)> log;
};

class WorkerDaemon {
 public:
  WorkerDaemon(CoordinatorLink* link, JobExecutor* executor, WorkerDaemonOptions options);
  ~WorkerDaemon();

  // Runs until `stop` is set; running builds are cancelled then and their results reported.
  void Run(const CancelToken& stop);

 private:
  struct Active {
    std::string build_id;
    std::shared_ptr<CancelToken> cancel;
  };
  void Register(const CancelToken& stop);
  void Slot(const CancelToken& stop);
  void RunJob(const v1::Job& job, const CancelToken& stop);
  void Heartbeats(const CancelToken& stop);
  void Log(absl::string_view line);

  CoordinatorLink* link_;
  JobExecutor* executor_;
  WorkerDaemonOptions options_;

  absl::Mutex mu_;
  std::map<std::string, Active> active_ ABSL_GUARDED_BY(mu_);  // by lease id
  absl::Duration heartbeat_interval_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tempa::worker
