// The scheduler: which queued build runs next, on which worker, and what happens when leases
// expire, pushes supersede each other or builds are cancelled. Pure logic over the builds'
// records: no I/O, no clock, no lock. The caller (the coordinator core) serialises calls under
// its own lock and makes every returned change durable before telling anyone about it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "absl/container/flat_hash_map.h"
#include "absl/container/flat_hash_set.h"
#include "absl/container/node_hash_map.h"
#include "absl/time/time.h"
#include "tempa/v1/farm.pb.h"
#include "tempa/v1/worker.pb.h"

namespace tempa::coordinator {

struct SchedulerOptions {
  absl::Duration lease_ttl = absl::Seconds(30);
  int max_attempts = 3;             // leases handed out before an expiring build FAILS
  int default_app_concurrency = 2;  // running builds per app when the app sets none
  // A secret part for every lease id ("b-12@2.<nonce>"), so a worker token cannot report on a
  // lease it was not handed by guessing its id. Unset: ids are "b-12@2".
  std::function<std::string()> lease_nonce;
};

// Every record the call changed (or created), each exactly once and in its final state, in the
// order of its first change; the caller persists them all in one batch.
//
// What is NOT a change: heartbeats and progress extend a lease in memory only. The stored
// lease_expires_unix_ms is the expiry the lease had when it was handed out; a restart restarts
// every lease from its `now` anyway, and a write per heartbeat would cost the store a write per
// worker per interval.
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
  // (their worker may still be alive and heartbeat). Terminal records are ignored. Replaces
  // whatever the scheduler held. Not restored (memory only): which worker last built each app
  // (apps with a running build get it back from that build) and the order apps were served
  // in (all start even).
  void Restore(const std::vector<v1::Build>& unfinished, const std::map<std::string, v1::App>& apps,
               absl::Time now);

  // Apps change rarely; the scheduler reads concurrency limits from them. Removing an app
  // leaves its builds alone (it then runs under the default limit): the caller cancels them,
  // e.g. each of UnfinishedOf(name).
  void PutApp(const v1::App& app);
  void RemoveApp(const std::string& name);

  // Queues a new build (status QUEUED, id and sequence set by the caller). Coalescing: older
  // QUEUED builds of the same app and branch become SUPERSEDED (superseded_by = the new id,
  // finished now); an older RUNNING one gets cancel_requested (it becomes SUPERSEDED when its
  // worker reports back, or when its lease expires; one already being cancelled is left as
  // it is). Returns the new record first, then those changes. A build older (lower sequence)
  // than one already submitted to the same app and branch (webhook deliveries that raced) is
  // returned SUPERSEDED at once, superseded_by the newest. An id, or a sequence within the
  // app and branch, already tracked: no change (empty result). Sequences must grow across
  // restarts: the newest sequence per app and branch is known again after Restore only from
  // the unfinished builds.
  BuildChanges Submit(v1::Build build, absl::Time now);

  // A worker is connected. Informational: Dispatch is told who is waiting.
  void WorkerSeen(const std::string& worker_id, absl::Time now);
  // The worker left for good (removed, or not seen for long): no app prefers it any more. Its
  // leases are untouched: they expire as usual (or see ReleaseWorker).
  void WorkerGone(const std::string& worker_id);
  // The worker restarted (it registered again under its id): the leases it held are dead, so
  // they end now as if expired (requeued, or FAILED when out of attempts; cancelled builds end).
  BuildChanges ReleaseWorker(const std::string& worker_id, absl::Time now);

  // Matches queued builds to the workers in `waiting` (each wants one job), honouring per-app
  // concurrency, fairness across apps (the app served least recently goes first) and cache
  // affinity (a build goes to the worker that last built its app when that worker is waiting,
  // else to another waiting worker: never wait for the preferred one). Each assignment's
  // record is RUNNING with worker_id, a fresh lease_id, lease expiry and attempt + 1.
  // A worker listed n times gets up to n builds. Fairness is round-robin: apps in order of
  // when they were last served (never served first), ties to the oldest queued build; within
  // an app, lowest sequence first. Lease ids are "<build id>@<attempt>": both are durable
  // before anyone sees the lease, so no id is ever handed out twice, across restarts too.
  std::vector<Assignment> Dispatch(const std::vector<std::string>& waiting, absl::Time now,
                                   BuildChanges* changes);

  // Extends the leases `worker_id` still holds. Fills `cancel` with leases whose build was
  // cancelled or superseded (those are not extended: they end when the worker reports or the
  // lease expires), and `lost` with leases that are no longer this worker's (expired and
  // handed on, finished, or unknown). A lease past its expiry is expired here (its changes in
  // `changes`) even when ExpireLeases has not run yet.
  void Heartbeat(const std::string& worker_id, const std::vector<std::string>& lease_ids,
                 absl::Time now, std::vector<std::string>* cancel, std::vector<std::string>* lost,
                 BuildChanges* changes);

  // A running build's progress (step name, resolved commit). Returns false when the lease is
  // not current (the worker should stop); sets *cancel when the build should stop.
  bool Progress(const std::string& build_id, const std::string& lease_id, const std::string& step,
                const std::string& resolved_commit, absl::Time now, bool* cancel,
                BuildChanges* changes);

  // The worker's result. Accepted only under the current, unexpired lease (otherwise false and
  // no change). Copies commit, image, language, layers and (when failed) error into the
  // record. A build whose cancel was requested ends CANCELLED (or SUPERSEDED when a newer push
  // caused it) whatever the worker said, even when it succeeded: only the newest push ends
  // SUCCEEDED (its image, if pushed, is still recorded). A result with `cancelled` set for a
  // build nobody cancelled (the worker is shutting down) gives the lease back: the build
  // queues again (or FAILS when out of attempts), as on expiry.
  bool Complete(const std::string& build_id, const std::string& lease_id,
                const v1::BuildResult& result, absl::Time now, BuildChanges* changes);

  // Cancels a QUEUED build at once, or asks the worker of a RUNNING one to stop (it ends
  // CANCELLED when the worker reports, or when its lease expires). Terminal builds: no change.
  // Returns false when the build is not one the scheduler tracks as unfinished.
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
  // The app's QUEUED and RUNNING build ids, in sequence order per branch.
  std::vector<std::string> UnfinishedOf(const std::string& app) const;

 private:
  // An unfinished build as the scheduler holds it. Terminal builds are forgotten at once.
  struct Entry {
    v1::Build record;
    absl::Time lease_expiry = absl::InfiniteFuture();  // RUNNING only; in memory (see above)
  };
  // Order of the apps that may be served now: least recently served first, then the app whose
  // oldest queued build was accepted first.
  struct ReadyKey {
    uint64_t last_served = 0;
    uint64_t head_sequence = 0;
    std::string app;
    auto operator<=>(const ReadyKey&) const = default;
  };
  struct AppState {
    int limit = 0;                                     // App.max_concurrent_builds; 0: default
    std::set<std::pair<uint64_t, std::string>> queue;  // QUEUED (sequence, build id)
    int running = 0;
    uint64_t last_served = 0;           // serve tick; 0: never served
    std::string last_worker;            // warm caches
    std::optional<ReadyKey> ready_key;  // set while the app is in ready_
  };
  struct BranchState {
    uint64_t newest_sequence = 0;  // the newest build ever submitted to this app and branch
    std::string newest_id;
    std::map<uint64_t, std::string> unfinished;  // sequence -> build id
  };
  // The records one call changed, each once, in its final state, in the order of its first
  // change.
  class ChangeSet {
   public:
    void Record(const v1::Build& build);
    void AppendTo(BuildChanges* out);

   private:
    BuildChanges list_;
    absl::flat_hash_map<std::string, size_t> index_;
  };

  AppState& App(const std::string& name);
  BranchState& Branch(const v1::Build& build);
  int LimitOf(const AppState& app) const;
  // Puts the app in ready_ (or takes it out) after its queue, running count or limit changed.
  void RefreshReady(const std::string& name, AppState& app);
  void Track(v1::Build record, absl::Time now);  // Restore and Submit
  void Enqueue(Entry& entry);
  void StartLease(Entry& entry, const std::string& worker_id, absl::Time now);
  void DropLease(Entry& entry);
  // Ends an unfinished build (queued or running) with a terminal status and forgets it.
  void Finish(Entry& entry, v1::BuildStatus status, absl::Time now, ChangeSet& changes);
  // Cancelled or superseded, as the build's cancel request says.
  void Extend(Entry& entry, absl::Time now);
  void FinishCancelled(Entry& entry, absl::Time now, const std::string& how, ChangeSet& changes);
  // The lease ended without a result: cancelled builds end, others queue again or fail.
  void LeaseLost(Entry& entry, absl::Time now, const std::string& why, ChangeSet& changes);
  // The build under `lease_id` when that lease is current at `now`; a lease past its expiry is
  // expired here (its changes recorded) and nullptr returned.
  Entry* CurrentLease(const std::string& build_id, const std::string& lease_id, absl::Time now,
                      ChangeSet& changes);

  SchedulerOptions options_;
  absl::node_hash_map<std::string, Entry> builds_;         // unfinished, by id
  absl::flat_hash_map<std::string, std::string> leases_;   // lease id -> build id
  std::set<std::pair<absl::Time, std::string>> expiries_;  // (expiry, build id)
  std::map<std::string, AppState> apps_;
  std::map<std::pair<std::string, std::string>, BranchState> branches_;
  std::set<ReadyKey> ready_;
  absl::flat_hash_map<std::string, std::set<std::string>> running_on_;    // worker -> build ids
  absl::flat_hash_map<std::string, std::set<std::string>> preferred_by_;  // worker -> apps
  absl::flat_hash_set<std::string> workers_;
  uint64_t serve_tick_ = 0;
  int queued_ = 0;
  int running_ = 0;
};

}  // namespace tempa::coordinator
