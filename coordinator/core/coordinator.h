// The coordinator's core: apps, builds, workers and the layer-cache index behind one lock, over
// the durable StateStore and the Scheduler. Every change is written (group-committed) before
// anyone hears of it: an RPC answer, a job handed to a worker, a watch event. The gRPC services
// and the webhook receiver are thin fronts over this object.
#pragma once

#include <cstdint>
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
#include "absl/synchronization/notification.h"
#include "absl/time/time.h"
#include "coordinator/core/build_events.h"
#include "coordinator/core/secret_sealer.h"
#include "coordinator/deploys/deploy_targets.h"
#include "coordinator/poller/poll_targets.h"
#include "coordinator/scheduler/scheduler.h"
#include "coordinator/state/state_store.h"
#include "coordinator/webhook/webhook_handler.h"
#include "tempa/v1/control.pb.h"
#include "tempa/v1/farm.pb.h"
#include "tempa/v1/layer_cache.pb.h"
#include "tempa/v1/worker.pb.h"

namespace tempa::coordinator {

struct CoordinatorOptions {
  std::string registry;  // HOST[:PORT] images are pushed to, as REGISTRY/APP:COMMIT
  SchedulerOptions scheduler;
  absl::Duration heartbeat_interval = absl::Seconds(1);
  absl::Duration max_lease_wait = absl::Seconds(20);  // long-poll cap
  // A worker not heard from for this long is gone (its leases still expire on their own).
  absl::Duration worker_timeout = absl::Seconds(15);
  int64_t max_log_lines = 100000;                // per build; later lines are counted, not stored
  size_t max_log_line_bytes = 4096;              // longer lines are cut
  absl::Duration tick = absl::Milliseconds(50);  // lease expiry and long-poll timeouts
  // A deployer is configured (--deployer): every build that SUCCEEDED gets a deploy intent, in
  // the batch that records its success, and rollbacks are accepted.
  bool deployer = false;
};

// Names of records the core keeps beside builds: a build's stored log-line count, and the
// associated data a sealed secret is bound to ("app/NAME/webhook_secret").
std::string LogCounterName(absl::string_view build_id);
std::string SecretRecord(absl::string_view app, absl::string_view kind);
inline constexpr absl::string_view kWebhookSecret = "webhook_secret";
inline constexpr absl::string_view kGitCredentials = "git_credentials";
inline constexpr absl::string_view kDeployEnv = "deploy_env";
inline constexpr absl::string_view kRollbackCounterName = "next_rollback_sequence";
inline constexpr absl::string_view kSequenceCounterName = "next_build_sequence";
// The delivery id a polled commit is recorded under: "poll:APP:BRANCH:COMMIT", or
// "poll:APP:sha256:HEX" of the branch and commit when that would be longer than 256.
std::string PollDeliveryId(absl::string_view app, absl::string_view branch,
                           absl::string_view commit);

class Coordinator : public WebhookTargets, public PollTargets, public DeployTargets {
 public:
  using Clock = std::function<absl::Time()>;
  Coordinator(StateStore* store, const SecretSealer* sealer, CoordinatorOptions options,
              Clock clock = absl::Now);
  ~Coordinator() override;

  // Loads apps and unfinished builds (a restart resumes where the last run stopped) and starts
  // the ticker.
  absl::Status Start();
  void Stop();

  // Apps. Secrets are sealed before they are stored and never returned.
  absl::StatusOr<v1::App> CreateApp(const v1::CreateAppRequest& request);
  absl::StatusOr<v1::App> GetApp(const std::string& name);
  absl::StatusOr<std::vector<v1::App>> ListApps();
  absl::StatusOr<v1::App> UpdateApp(const v1::UpdateAppRequest& request);
  absl::Status DeleteApp(const std::string& name);

  // Builds.
  absl::StatusOr<v1::Build> TriggerBuild(const v1::TriggerBuildRequest& request);
  absl::StatusOr<v1::Build> GetBuild(const std::string& id);
  absl::StatusOr<std::vector<v1::Build>> ListBuilds(const std::string& app, int limit);
  absl::StatusOr<std::vector<v1::LogLine>> ReadLogs(const std::string& id, int64_t from_line,
                                                    int limit);
  absl::StatusOr<v1::Build> CancelBuild(const std::string& id);
  // Subscribes to a build's changes and new log lines (only durable ones are published).
  absl::StatusOr<std::shared_ptr<BuildSubscription>> Watch(const std::string& id);
  std::vector<v1::Worker> ListWorkers();

  // Workers.
  absl::StatusOr<v1::RegisterWorkerResponse> RegisterWorker(const v1::RegisterWorkerRequest& r);
  // Long-poll: `done` runs exactly once, with a job (durably leased) or with none after `wait`.
  // Returns a handle for AbandonWait (the worker hung up).
  using JobCallback = std::function<void(std::optional<v1::Job>)>;
  uint64_t WaitForJob(const std::string& worker_id, absl::Duration wait, JobCallback done);
  void AbandonWait(uint64_t handle);
  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& request);
  absl::StatusOr<v1::ReportProgressResponse> ReportProgress(
      const v1::ReportProgressRequest& request);
  absl::StatusOr<v1::CompleteJobResponse> CompleteJob(const v1::CompleteJobRequest& request);

  // The fleet layer-cache index.
  absl::StatusOr<std::optional<v1::LayerCacheEntry>> FindLayer(const std::string& key);
  absl::Status PutLayer(const v1::LayerCacheEntry& entry);

  // WebhookTargets.
  absl::StatusOr<std::vector<WebhookApp>> AppsForRepository(
      const std::vector<std::string>& urls) override;
  absl::StatusOr<std::optional<std::vector<AcceptedBuild>>> FindDelivery(
      absl::string_view delivery_id) override;
  absl::StatusOr<std::vector<AcceptedBuild>> AcceptPush(
      absl::string_view delivery_id, const std::vector<PushTarget>& targets) override;

  // PollTargets (the polling fallback). A polled commit is recorded as the delivery
  // PollDeliveryId(app, branch, commit), so it is queued once however often it is seen.
  absl::StatusOr<std::vector<PolledApp>> PolledApps() override;
  absl::StatusOr<std::optional<v1::GitCredentials>> GitCredentialsOf(
      const std::string& app) override;
  absl::StatusOr<PollOutcome> AcceptPoll(const std::string& app, const std::string& branch,
                                         const std::string& commit) override;
  absl::Status RecordPollError(const std::string& app, const std::string& error) override;

  // Deploys. ListDeploys: the intents, newest first. RollbackApp: validates, stores an intent
  // "r-<n>" putting an earlier SUCCEEDED build of the app back live, durable before it returns.
  absl::StatusOr<std::vector<v1::Deploy>> ListDeploys(const std::string& app, int limit);
  absl::StatusOr<v1::Deploy> RollbackApp(const v1::RollbackAppRequest& request);
  // Runs (on the state writer's thread) each time a new intent is durable.
  void SetDeployWaker(std::function<void()> wake) {
    absl::MutexLock lock(&mu_);
    deploy_waker_ = std::move(wake);
  }

  // DeployTargets (the DeployDispatcher).
  absl::StatusOr<std::vector<v1::Deploy>> UnfinishedDeploys() override;
  absl::StatusOr<std::map<std::string, std::string>> DeployEnv(const std::string& app) override;
  absl::Status RecordDeploy(const v1::Deploy& update) override;

  // Figures for /metrics.
  struct Stats {
    int queued = 0;
    int running = 0;
    std::map<std::string, uint64_t> finished_by_status;  // since start
    uint64_t lease_expiries = 0;
    uint64_t dispatches = 0;
    double dispatch_latency_sum_seconds = 0;  // accept → job durable for a worker
    int connected_workers = 0;
    int waiting_polls = 0;
  };
  Stats stats();

 private:
  struct Waiter {
    std::string worker_id;
    absl::Time deadline;
    JobCallback done;
  };
  struct WorkerState {
    v1::Worker record;
    absl::Time last_seen;
  };

  // Writes `changes` and `batch` in one group-committed batch (batches are durable in the
  // order they were submitted, so submitting under mu_ keeps disk in step with memory), then
  // publishes the changes and runs `then`. The returned notification fires once durable; wait
  // on it outside mu_. A failed write stops the process: memory would no longer match disk.
  std::shared_ptr<absl::Notification> PersistLocked(BuildChanges changes,
                                                    std::unique_ptr<StateBatch> batch,
                                                    std::function<void()> then = nullptr)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Records the delivery and queues one build per target with `trigger`, once per delivery id
  // (AcceptPush's contract); new_delivery is false when the id had been accepted before.
  struct AcceptedDelivery {
    std::vector<AcceptedBuild> builds;
    bool new_delivery = false;
  };
  absl::StatusOr<AcceptedDelivery> AcceptDelivery(absl::string_view delivery_id,
                                                  const std::vector<PushTarget>& targets,
                                                  v1::BuildTrigger trigger);
  // Hands queued builds to waiting workers.
  void DispatchLocked(absl::Time now) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<v1::Job> JobFor(const v1::Build& build) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // A new build for `app` (sequence and id assigned); the scheduler's changes go to `changes`.
  v1::Build NewBuildLocked(const v1::App& app, const std::string& branch, const std::string& commit,
                           v1::BuildTrigger trigger, const std::string& delivery_id, absl::Time now,
                           BuildChanges* changes, StateBatch* batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void NoteWorkerLocked(const std::string& worker_id, absl::Time now)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  void Tick();
  void CountFinished(const BuildChanges& changes) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<v1::App> AppLocked(const std::string& name) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  // Seals and stages the secrets a create/update request carries.
  absl::Status StageSecrets(const std::string& app, const std::string* webhook_secret,
                            const v1::GitCredentials* credentials, StateBatch* batch,
                            v1::App* record);
  // Seals and stages the app's deploy env (an empty one removes it) and its names.
  absl::Status StageDeployEnv(const std::string& app,
                              const google::protobuf::Map<std::string, std::string>& env,
                              StateBatch* batch, v1::App* record);
  // A deploy intent for every build in `changes` that SUCCEEDED (without one yet), staged in
  // `batch` and set as the build's `deploy`. Returns whether any was made.
  bool StageDeployIntentsLocked(BuildChanges* changes, StateBatch* batch)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::StatusOr<std::optional<std::string>> OpenSecret(const std::string& app,
                                                        absl::string_view kind);

  StateStore* store_;
  const SecretSealer* sealer_;
  CoordinatorOptions options_;
  Clock clock_;
  BuildEvents events_;

  absl::Mutex mu_;
  Scheduler scheduler_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, v1::App> apps_ ABSL_GUARDED_BY(mu_);
  uint64_t next_sequence_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::string, int64_t> log_lines_ ABSL_GUARDED_BY(mu_);  // unfinished builds
  // Deliveries accepted but not yet durable: a duplicate waits for the first to be.
  struct PendingDelivery {
    std::vector<std::string> build_ids;
    std::shared_ptr<absl::Notification> durable;
  };
  std::map<std::string, PendingDelivery> pending_deliveries_ ABSL_GUARDED_BY(mu_);
  std::map<uint64_t, Waiter> waiters_ ABSL_GUARDED_BY(mu_);
  uint64_t next_waiter_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<std::string, WorkerState> workers_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, absl::Time> queued_at_ ABSL_GUARDED_BY(mu_);  // for dispatch latency
  Stats stats_ ABSL_GUARDED_BY(mu_);
  uint64_t next_rollback_ ABSL_GUARDED_BY(mu_) = 1;
  std::function<void()> deploy_waker_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread ticker_;
};

}  // namespace tempa::coordinator
