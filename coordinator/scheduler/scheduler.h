// The scheduler: which queued build runs next, on which worker, and what happens when leases
// expire, pushes supersede each other or builds are cancelled. Pure logic over the builds'
// records: no I/O, no clock, no lock. The caller (the coordinator core) serialises calls under
// its own lock and makes every returned change durable before telling anyone about it.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "tempa/v1/farm.pb.h"
#include "tempa/v1/worker.pb.h"

namespace tempa::coordinator {

struct SchedulerOptions {
  absl::Duration lease_ttl = absl::Seconds(30);
  int max_attempts = 3;           // leases handed out before an expiring build FAILS
  int default_app_concurrency = 2;  // running builds per app when the app sets none
};

// Every record the call changed (or created), in the order they changed; the caller persists
// them all in one batch.
using BuildChanges = std::vector<v1::Build>;

// A build handed to a worker: the stored record (RUNNING, with its new lease).
struct Assignment {
  std::string worker_id;
  v1::Build build;
};

class Scheduler {
 public:
  explicit Scheduler(SchedulerOptions options);

  // Rebuilds the in-memory queue from durable records after a restart: QUEUED builds queue
  // again in sequence order; RUNNING ones keep their lease, its expiry restarted from `now`
  // (their worker may still be alive and heartbeat). Terminal records are ignored.
  void Restore(const std::vector<v1::Build>& unfinished, const std::map<std::string, v1::App>& apps,
               absl::Time now);

  // Apps change rarely; the scheduler reads concurrency limits from them.
  void PutApp(const v1::App& app);
  void RemoveApp(const std::string& name);

  // Queues a new build (status QUEUED, id and sequence set by the caller). Coalescing: older
  // QUEUED builds of the same app and branch become SUPERSEDED (superseded_by = the new id,
  // finished now); an older RUNNING one gets cancel_requested (it becomes SUPERSEDED when its
  // worker reports back, or when its lease expires). Returns the new record and those changes.
  BuildChanges Submit(v1::Build build, absl::Time now);

  // A worker is connected and wants up to `free_slots` jobs.
  void WorkerSeen(const std::string& worker_id, absl::Time now);
  void WorkerGone(const std::string& worker_id);

  // Matches queued builds to the workers in `waiting` (each wants one job), honouring per-app
  // concurrency, fairness across apps (the app served least recently goes first) and cache
  // affinity (a build goes to the worker that last built its app when that worker is waiting,
  // else to another waiting worker: never wait for the preferred one). Each assignment's
  // record is RUNNING with worker_id, a fresh lease_id, lease expiry and attempt + 1.
  std::vector<Assignment> Dispatch(const std::vector<std::string>& waiting, absl::Time now,
                                   BuildChanges* changes);

  // Extends the leases `worker_id` still holds. Fills `cancel` with leases whose build was
  // cancelled or superseded, and `lost` with leases that are no longer this worker's (expired
  // and handed on, finished, or unknown).
  void Heartbeat(const std::string& worker_id, const std::vector<std::string>& lease_ids,
                 absl::Time now, std::vector<std::string>* cancel, std::vector<std::string>* lost,
                 BuildChanges* changes);

  // A running build's progress (step name, resolved commit). Returns false when the lease is
  // not current (the worker should stop); sets *cancel when the build should stop.
  bool Progress(const std::string& build_id, const std::string& lease_id, const std::string& step,
                const std::string& resolved_commit, absl::Time now, bool* cancel,
                BuildChanges* changes);

  // The worker's result. Accepted only under the current lease; a result for a build whose
  // cancel was requested ends CANCELLED (or SUPERSEDED when a newer push caused it).
  bool Complete(const std::string& build_id, const std::string& lease_id,
                const v1::BuildResult& result, absl::Time now, BuildChanges* changes);

  // Cancels a QUEUED build at once, or asks the worker of a RUNNING one to stop (it ends
  // CANCELLED when the worker reports, or when its lease expires). Terminal builds: no change.
  // NotFound when the build is not one the scheduler tracks as unfinished.
  bool Cancel(const std::string& build_id, absl::Time now, BuildChanges* changes);

  // Leases that expired by `now`: the build is QUEUED again (attempt < max_attempts) or FAILED
  // with kind "lease_expired" and a reason naming the worker and the attempts; a build whose
  // cancel was requested ends CANCELLED/SUPERSEDED instead.
  BuildChanges ExpireLeases(absl::Time now);
  // When the next lease expires (for the caller's timer); InfiniteFuture when none.
  absl::Time NextExpiry() const;

  // Introspection for metrics and ListWorkers.
  int QueuedCount() const;
  int RunningCount() const;
  std::vector<std::string> RunningOn(const std::string& worker_id) const;

 private:
  // Implementation-defined.
};

}  // namespace tempa::coordinator
