#include "coordinator/core/coordinator.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "common/status_macros.h"
#include "coordinator/core/app_rules.h"
#include "openssl/rand.h"

namespace tempa::coordinator {
namespace {

bool Terminal(v1::BuildStatus status) { return status != v1::QUEUED && status != v1::RUNNING; }

// Lease ids carry 64 random bits: knowing a build's id is not enough to report on its lease.
SchedulerOptions WithLeaseNonce(SchedulerOptions options) {
  if (!options.lease_nonce) {
    options.lease_nonce = [] {
      unsigned char bytes[8];
      if (RAND_bytes(bytes, sizeof(bytes)) != 1) std::abort();  // no randomness: cannot go on
      return absl::BytesToHexString(
          absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
    };
  }
  return options;
}

}  // namespace

std::string LogCounterName(absl::string_view build_id) { return absl::StrCat("log/", build_id); }

std::string SecretRecord(absl::string_view app, absl::string_view kind) {
  return absl::StrCat("app/", app, "/", kind);
}

Coordinator::Coordinator(StateStore* store, const SecretSealer* sealer, CoordinatorOptions options,
                         Clock clock)
    : store_(store),
      sealer_(sealer),
      options_(std::move(options)),
      clock_(std::move(clock)),
      scheduler_(WithLeaseNonce(options_.scheduler)) {}

Coordinator::~Coordinator() { Stop(); }

absl::Status Coordinator::Start() {
  ASSIGN_OR_RETURN(std::vector<v1::App> apps, store_->ListApps());
  ASSIGN_OR_RETURN(std::vector<v1::Build> unfinished, store_->ListUnfinishedBuilds());
  ASSIGN_OR_RETURN(uint64_t next, store_->GetCounter(kSequenceCounterName));
  ASSIGN_OR_RETURN(uint64_t next_rollback, store_->GetCounter(kRollbackCounterName));
  absl::MutexLock lock(&mu_);
  next_rollback_ = std::max<uint64_t>(next_rollback, 1);
  for (const v1::App& app : apps) {
    apps_[app.name()] = app;
    scheduler_.PutApp(app);
  }
  next_sequence_ = std::max<uint64_t>(next, 1);
  for (const v1::Build& build : unfinished) {
    ASSIGN_OR_RETURN(uint64_t lines, store_->GetCounter(LogCounterName(build.id())));
    log_lines_[build.id()] = static_cast<int64_t>(lines);
    next_sequence_ = std::max(next_sequence_, build.sequence() + 1);
  }
  scheduler_.Restore(unfinished, apps_, clock_());
  ticker_ = std::thread([this] {
    while (true) {
      {
        absl::MutexLock lock(&mu_);
        auto stop = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return stopping_; };
        if (mu_.AwaitWithTimeout(absl::Condition(&stop), options_.tick)) return;
      }
      Tick();
    }
  });
  return absl::OkStatus();
}

void Coordinator::Stop() {
  std::vector<JobCallback> pending;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    stopping_ = true;
    for (auto& [handle, waiter] : waiters_) pending.push_back(std::move(waiter.done));
    waiters_.clear();
  }
  if (ticker_.joinable()) ticker_.join();
  for (JobCallback& done : pending) done(std::nullopt);
}

std::shared_ptr<absl::Notification> Coordinator::PersistLocked(BuildChanges changes,
                                                               std::unique_ptr<StateBatch> batch,
                                                               std::function<void()> then) {
  if (batch == nullptr) batch = store_->NewBatch();
  bool new_intents = options_.deployer && StageDeployIntentsLocked(&changes, batch.get());
  if (new_intents && deploy_waker_) {
    then = [then = std::move(then), wake = deploy_waker_] {
      if (then) then();
      wake();
    };
  }
  for (v1::Build& build : changes) {
    auto lines = log_lines_.find(build.id());
    if (lines != log_lines_.end()) build.set_log_lines(lines->second);
    if (Terminal(build.status())) {
      log_lines_.erase(build.id());
      queued_at_.erase(build.id());
    }
    batch->PutBuild(build);
  }
  CountFinished(changes);
  auto durable = std::make_shared<absl::Notification>();
  if (changes.empty() && batch->empty()) {
    // Nothing to make durable (a heartbeat that only extended leases in memory). An answer
    // drawn from a change still on its way to disk is at worst a cancel or a lost lease that a
    // restart undoes, which the worker protocol tolerates; no sync write is spent on it.
    if (then) then();
    durable->Notify();
    return durable;
  }
  store_->CommitAsync(std::move(batch), [this, changes = std::move(changes), then = std::move(then),
                                         durable](absl::Status status) {
    if (!status.ok()) {
      // Memory is ahead of disk now; the only safe state is the last durable one.
      std::fprintf(stderr,
                   "tempa-coordinator: writing state failed: %s\n"
                   "tempa-coordinator: stopping; a restart resumes from the last durable state\n",
                   std::string(status.message()).c_str());
      std::fflush(stderr);
      _exit(70);
    }
    for (const v1::Build& build : changes) {
      v1::BuildEvent event;
      *event.mutable_build() = build;
      events_.Publish(build.id(), event);
    }
    if (then) then();
    durable->Notify();
  });
  return durable;
}

void Coordinator::CountFinished(const BuildChanges& changes) {
  for (const v1::Build& build : changes) {
    if (Terminal(build.status())) ++stats_.finished_by_status[v1::BuildStatus_Name(build.status())];
  }
}

absl::StatusOr<v1::App> Coordinator::AppLocked(const std::string& name) {
  auto it = apps_.find(name);
  if (it == apps_.end()) {
    return absl::NotFoundError(absl::StrCat("no app named \"", name,
                                            "\": see `tempa apps list`, or create it with "
                                            "`tempa apps create ",
                                            name, " --repo URL`"));
  }
  return it->second;
}

Coordinator::Stats Coordinator::stats() {
  absl::MutexLock lock(&mu_);
  Stats stats = stats_;
  stats.queued = scheduler_.QueuedCount();
  stats.running = scheduler_.RunningCount();
  stats.waiting_polls = static_cast<int>(waiters_.size());
  absl::Time now = clock_();
  stats.connected_workers = 0;
  for (const auto& [id, worker] : workers_) {
    if (now - worker.last_seen <= options_.worker_timeout) ++stats.connected_workers;
  }
  return stats;
}

}  // namespace tempa::coordinator
