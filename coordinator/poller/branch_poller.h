// The polling fallback for hosts that cannot reach the webhook: every app with a poll interval
// has its branch head read (BranchResolver) about once per interval (jittered so apps spread
// out), and a head it has not seen is queued as a POLL build through the core (PollTargets),
// which deduplicates by (app, branch, commit) durably: a restart re-reads every head but queues
// nothing it queued before.
//
// Resolutions run on their own threads, at most max_concurrent at once, each with a deadline.
// libgit2 1.5 has no network timeouts and cannot be interrupted, so a call past its deadline is
// reported (the app's last_poll_error) and left to finish: it holds its own slot, and its app
// is not polled again until it returns; every other app goes on being polled. A failure is
// logged once per change of error, never with credentials.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "coordinator/poller/branch_resolver.h"
#include "coordinator/poller/poll_targets.h"

namespace tempa::coordinator {

struct BranchPollerOptions {
  int max_concurrent = 4;                              // resolutions running at once
  absl::Duration resolve_timeout = absl::Seconds(30);  // then the call is reported as hanging
  double jitter = 0.1;  // each interval is stretched or shrunk by up to this fraction
  absl::Duration tick = absl::Seconds(1);  // how often Start()'s thread looks for due apps
  // Log lines ("poll app NAME: ..."); stderr with a "tempa-coordinator: " prefix by default.
  std::function<void(const std::string&)> log;
  // Uniform in [0, 1); absl's generator by default. Tests return 0 or a script.
  std::function<double()> random;
};

class BranchPoller {
 public:
  using Clock = std::function<absl::Time()>;
  BranchPoller(PollTargets* targets, std::shared_ptr<BranchResolver> resolver,
               BranchPollerOptions options = {}, Clock clock = absl::Now);
  ~BranchPoller();
  BranchPoller(const BranchPoller&) = delete;
  BranchPoller& operator=(const BranchPoller&) = delete;

  // Runs PollOnce every tick on a thread of its own until Stop.
  void Start();
  // Stops that thread; resolutions still running are left to end on their own (they hold
  // nothing of this object).
  void Stop();

  // One round: takes in the resolutions that ended (queues new heads, records errors), reports
  // the ones past their deadline, and starts the due ones while slots are free (the most overdue
  // first). Start() calls it; tests call it with a scripted clock.
  void PollOnce();

  // Waits (real time, up to `timeout`) until the resolution running for `app`, if any, has
  // returned; false when it still runs. For tests: a PollOnce after it sees the result.
  bool AwaitResolution(const std::string& app, absl::Duration timeout);
  // Resolutions started and not yet taken in (hanging ones included).
  int running();

 private:
  struct Call;
  struct AppState {
    std::string repo_url;
    std::string branch;
    absl::Duration interval;
    absl::Time next_due;
    std::optional<std::string> last_head;   // of repo_url's branch, as last queued
    std::optional<std::string> last_error;  // as last recorded; nullopt before the first
    std::shared_ptr<Call> call;             // the resolution in flight
    std::thread thread;
    absl::Time started;
    bool timed_out = false;
  };

  void RefreshAppsLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void FinishLocked(const std::string& name, AppState& app, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void StartDueLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void SetErrorLocked(const std::string& name, AppState& app, const std::string& error)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Time NextDue(absl::Time from, absl::Duration interval);
  int RunningLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void ReapOrphansLocked() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  PollTargets* targets_;
  std::shared_ptr<BranchResolver> resolver_;
  BranchPollerOptions options_;
  Clock clock_;

  absl::Mutex mu_;
  std::map<std::string, AppState> apps_ ABSL_GUARDED_BY(mu_);
  // Resolutions of apps no longer polled (deleted, interval set to 0, URL changed), still
  // running: they keep their slot until they return.
  std::vector<std::pair<std::shared_ptr<Call>, std::thread>> orphans_ ABSL_GUARDED_BY(mu_);
  std::optional<std::string> list_error_ ABSL_GUARDED_BY(mu_);

  absl::Mutex run_mu_;
  bool stopping_ ABSL_GUARDED_BY(run_mu_) = false;
  std::thread runner_;
};

}  // namespace tempa::coordinator
