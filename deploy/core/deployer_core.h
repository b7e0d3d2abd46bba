// The deployer's core: takes deploy intents (idempotent by id), keeps their records in a
// DeployStore and runs them through a DeployBackend, one at a time per app track and tracks in
// parallel. A pending deploy is superseded (DEPLOY_SUPERSEDED, "superseded by ID") when a
// newer one of the same track arrives before it starts, or when a newer one already started;
// "newer" is the intent's created_unix_ms, then the order of arrival. Every state change is
// written to the store before anyone can see it, so a deployer killed at any point resumes
// where the store says: Start() runs every unfinished deploy again. A host belongs to the first
// app that deploys on it (DeployStore::ClaimHosts): a deploy whose hosts another app holds
// fails before the backend sees it.
//
//   DeployerCore core(store, backend, absl::Now, "apps.example.com");
//   RETURN_IF_ERROR(core.Start());
//   ASSIGN_OR_RETURN(tempa::v1::Deploy d, core.Submit(request));  // DEPLOY_PENDING
//   ...
//   core.Stop();  // waits for running deploys to finish; pending ones stay for the next Start
#pragma once

#include <cstdint>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "deploy/core/deploy_store.h"
#include "deploy/core/release.h"
#include "tempa/v1/deploy.pb.h"

namespace tempa::deploy {

class DeployerCore {
 public:
  using Clock = std::function<absl::Time()>;

  // A record and its version: the version grows with every change the core makes while it
  // runs (0: as the store has it, unchanged since Start or finished long ago).
  struct Versioned {
    tempa::v1::Deploy deploy;
    uint64_t version = 0;
  };

  // `store` and `backend` must outlive the core. `domain` names the hosts (APP.DOMAIN).
  // The latest `finished_cached` finished records stay in memory too; older ones are read
  // from the store.
  DeployerCore(DeployStore* store, DeployBackend* backend, Clock clock, std::string domain,
               size_t finished_cached = 1024);
  ~DeployerCore();  // Stop()
  DeployerCore(const DeployerCore&) = delete;
  DeployerCore& operator=(const DeployerCore&) = delete;

  // backend->Recover(), then every unfinished deploy in the store runs again. Call once.
  absl::Status Start();
  // No deploy starts after this; waits for the running ones to end and joins the workers.
  // Pending deploys stay pending in the store. Idempotent.
  void Stop();

  // A new id: checked (InvalidArgument naming the field), stored DEPLOY_PENDING with its track
  // and its env sealed, then run. A known id: its record as stored, nothing run again.
  // Unavailable after Stop, or when the store cannot write.
  absl::StatusOr<tempa::v1::Deploy> Submit(const tempa::v1::DeployRequest& request);
  // NotFound for an unknown id.
  absl::StatusOr<tempa::v1::Deploy> Get(absl::string_view id);
  // Newest first; `app` "" for every app; limit <= 0 means 100.
  absl::StatusOr<std::vector<tempa::v1::Deploy>> List(absl::string_view app, int limit);

  // The record of `id` once its version is above `after_version`, or as it is at `deadline`
  // (same version), or at once when it is terminal. NotFound for an unknown id, Cancelled
  // when the core stops while waiting.
  absl::StatusOr<Versioned> WaitForChange(absl::string_view id, uint64_t after_version,
                                          absl::Time deadline);

 private:
  struct Order {
    int64_t created_ms = 0;
    uint64_t arrival = 0;
    bool operator<(const Order& o) const {
      return created_ms != o.created_ms ? created_ms < o.created_ms : arrival < o.arrival;
    }
  };
  struct Entry {
    tempa::v1::Deploy deploy;
    uint64_t version = 0;
    Order order;
  };
  struct Track {
    std::optional<std::string> pending;  // the one deploy waiting to run
    std::optional<std::string> running;
    std::optional<std::string> newest_taken_id;  // the newest deploy that started
    Order newest_taken;
    bool worker_active = false;
    std::thread worker;
    bool history_loaded = false;
  };
  class StepLogger;

  static std::string TrackKey(const tempa::v1::Deploy& d) { return d.app() + "/" + d.track(); }

  // Writes `deploy` to the store, then makes it visible (bumps its version, wakes watchers).
  absl::Status Publish(tempa::v1::Deploy deploy, const EnvMap* env = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Publish, logging a failure: the store then still holds the previous state, which the next
  // Start picks up again.
  bool PublishOrLog(tempa::v1::Deploy deploy) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Supersede(const std::string& id, const std::string& by) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Puts the pending deploy `id` on its track: it supersedes an older pending one, or is
  // superseded by a newer pending or started one; starts the track's worker when idle.
  void Enqueue(const std::string& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // The newest deploy of the track that started before this process did, from the store.
  void LoadTrackHistory(Track& track, const tempa::v1::Deploy& deploy)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void RunTrack(std::string key);
  void RunOne(const std::string& id);
  absl::StatusOr<Release> MakeRelease(const tempa::v1::Deploy& deploy, EnvMap env) const;
  int64_t NowMs() const { return absl::ToUnixMillis(clock_()); }

  DeployStore* const store_;
  DeployBackend* const backend_;
  const Clock clock_;
  const std::string domain_;
  const size_t finished_cached_;

  absl::Mutex mu_;
  bool started_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  uint64_t version_counter_ ABSL_GUARDED_BY(mu_) = 0;
  uint64_t arrivals_ ABSL_GUARDED_BY(mu_) = 0;
  // Unfinished deploys, and the latest finished ones (the oldest leave first, see finished_).
  std::map<std::string, Entry> entries_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> finished_ ABSL_GUARDED_BY(mu_);     // ids, in the order they finished
  std::map<std::string, Track> tracks_ ABSL_GUARDED_BY(mu_);  // "APP/TRACK"
};

}  // namespace tempa::deploy
