// Workers: registration, long-poll leasing, heartbeats, progress and results; the ticker that
// expires leases and answers long-polls nobody fed; the fleet layer-cache index.
#include <algorithm>

#include "absl/container/flat_hash_map.h"
#include "absl/container/inlined_vector.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "coordinator/core/app_rules.h"
#include "coordinator/core/coordinator.h"

namespace tempa::coordinator {
namespace {

constexpr int kMaxLeasesPerHeartbeat = 1024;
constexpr int kMaxLinesPerReport = 10000;

bool IsSha256Digest(absl::string_view digest) {
  if (!absl::StartsWith(digest, "sha256:") || digest.size() != 7 + 64) return false;
  for (char c : digest.substr(7)) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

}  // namespace

void Coordinator::NoteWorkerLocked(const std::string& worker_id, absl::Time now) {
  WorkerState& worker = workers_[worker_id];
  if (worker.record.id().empty()) worker.record.set_id(worker_id);
  worker.last_seen = now;
  worker.record.set_last_seen_unix_ms(absl::ToUnixMillis(now));
  scheduler_.WorkerSeen(worker_id, now);
}

absl::StatusOr<v1::RegisterWorkerResponse> Coordinator::RegisterWorker(
    const v1::RegisterWorkerRequest& request) {
  RETURN_IF_ERROR(CheckWorkerId(request.worker_id()));
  if (request.slots() < 1 || request.slots() > 256) {
    return absl::InvalidArgumentError("a worker has 1-256 slots");
  }
  std::shared_ptr<absl::Notification> durable;
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = clock_();
    NoteWorkerLocked(request.worker_id(), now);
    v1::Worker& record = workers_[request.worker_id()].record;
    record.set_hostname(request.hostname().substr(0, 255));
    record.set_slots(request.slots());
    std::unique_ptr<StateBatch> batch = store_->NewBatch();
    batch->PutWorker(record);
    // A worker registers when it starts: whatever it held before is gone with its last run.
    BuildChanges released = scheduler_.ReleaseWorker(request.worker_id(), now);
    stats_.lease_expiries += released.size();
    durable = PersistLocked(std::move(released), std::move(batch));
    DispatchLocked(now);
  }
  durable->WaitForNotification();
  v1::RegisterWorkerResponse response;
  response.set_heartbeat_interval_ms(absl::ToInt64Milliseconds(options_.heartbeat_interval));
  response.set_lease_ttl_ms(absl::ToInt64Milliseconds(options_.scheduler.lease_ttl));
  return response;
}

std::vector<v1::Worker> Coordinator::ListWorkers() {
  absl::MutexLock lock(&mu_);
  absl::Time now = clock_();
  std::vector<v1::Worker> workers;
  for (const auto& [id, state] : workers_) {
    v1::Worker worker = state.record;
    worker.set_connected(now - state.last_seen <= options_.worker_timeout);
    for (const std::string& build : scheduler_.RunningOn(id)) worker.add_running_builds(build);
    workers.push_back(std::move(worker));
  }
  return workers;
}

uint64_t Coordinator::WaitForJob(const std::string& worker_id, absl::Duration wait,
                                 JobCallback done) {
  absl::MutexLock lock(&mu_);
  if (stopping_ || !CheckWorkerId(worker_id).ok()) {
    mu_.Unlock();
    done(std::nullopt);
    mu_.Lock();
    return 0;
  }
  absl::Time now = clock_();
  NoteWorkerLocked(worker_id, now);
  uint64_t handle = next_waiter_++;
  wait = std::clamp(wait, absl::ZeroDuration(), options_.max_lease_wait);
  // A long-poll is a transport matter: it ends on the real clock, leases on the injected one.
  waiters_[handle] = Waiter{worker_id, absl::Now() + wait, std::move(done)};
  DispatchLocked(now);
  return handle;
}

void Coordinator::AbandonWait(uint64_t handle) {
  JobCallback done;
  {
    absl::MutexLock lock(&mu_);
    auto it = waiters_.find(handle);
    if (it == waiters_.end()) return;
    done = std::move(it->second.done);
    waiters_.erase(it);
  }
  done(std::nullopt);
}

absl::StatusOr<v1::Job> Coordinator::JobFor(const v1::Build& build) {
  ASSIGN_OR_RETURN(v1::App app, AppLocked(build.app()));
  v1::Job job;
  job.set_build_id(build.id());
  job.set_lease_id(build.lease_id());
  job.set_attempt(build.attempt());
  job.set_app(app.name());
  job.set_repo_url(app.repo_url());
  job.set_branch(build.branch());
  job.set_commit(build.commit());
  job.set_path(app.path());
  *job.mutable_build_env() = app.build_env();
  job.set_start_command(app.start_command());
  job.set_image_repository(absl::StrCat(options_.registry, "/", app.name()));
  job.set_lease_ttl_ms(absl::ToInt64Milliseconds(options_.scheduler.lease_ttl));
  if (app.has_git_credentials()) {
    ASSIGN_OR_RETURN(std::optional<std::string> plain, OpenSecret(app.name(), kGitCredentials));
    if (plain && !job.mutable_git_credentials()->ParseFromString(*plain)) {
      return absl::DataLossError(
          absl::StrCat("the git credentials of ", app.name(), " do not parse: set them again"));
    }
  }
  return job;
}

void Coordinator::DispatchLocked(absl::Time now) {
  if (waiters_.empty() || scheduler_.QueuedCount() == 0) return;
  std::vector<std::string> waiting;
  waiting.reserve(waiters_.size());
  for (const auto& [handle, waiter] : waiters_) waiting.push_back(waiter.worker_id);
  BuildChanges changes;
  std::vector<Assignment> assignments = scheduler_.Dispatch(waiting, now, &changes);
  if (assignments.empty() && changes.empty()) return;
  // Each assignment takes its worker's oldest poll. A few assignments look it up by a scan of
  // the polls; many go through an index of the polls by worker (views of `waiting`): O(waiting +
  // assignments), not O(waiting x assignments), when a thousand workers come back at once.
  constexpr size_t kScanAssignments = 8;
  struct Polls {
    absl::InlinedVector<uint64_t, 1> handles;  // oldest first
    size_t next = 0;
  };
  absl::flat_hash_map<absl::string_view, Polls> polls_of;
  if (assignments.size() > kScanAssignments) {
    polls_of.reserve(waiting.size());
    size_t i = 0;
    for (const auto& [handle, waiter] : waiters_) polls_of[waiting[i++]].handles.push_back(handle);
  }
  auto oldest_poll = [&](const std::string& worker_id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    if (assignments.size() <= kScanAssignments) {
      return std::find_if(waiters_.begin(), waiters_.end(),
                          [&](const auto& entry) { return entry.second.worker_id == worker_id; });
    }
    auto polls = polls_of.find(worker_id);
    // Cannot happen: Dispatch picks from `waiting`, at most once per poll.
    if (polls == polls_of.end() || polls->second.next == polls->second.handles.size()) {
      return waiters_.end();
    }
    return waiters_.find(polls->second.handles[polls->second.next]);
  };
  std::vector<std::pair<JobCallback, v1::Job>> handoffs;
  for (Assignment& assignment : assignments) {
    auto waiter = oldest_poll(assignment.worker_id);
    if (waiter == waiters_.end()) continue;  // cannot happen: Dispatch picks from `waiting`
    absl::StatusOr<v1::Job> job = JobFor(assignment.build);
    if (!job.ok()) {
      // The build cannot be described to a worker (its app or credentials are gone): it
      // fails here, with the reason, instead of failing on every worker in turn.
      v1::BuildResult result;
      result.mutable_error()->set_kind("internal");
      result.mutable_error()->set_step("dispatch");
      result.mutable_error()->set_reason(std::string(job.status().message()));
      scheduler_.Complete(assignment.build.id(), assignment.build.lease_id(), result, now,
                          &changes);
      continue;
    }
    auto queued = queued_at_.find(assignment.build.id());
    if (queued != queued_at_.end()) {
      stats_.dispatch_latency_sum_seconds += absl::ToDoubleSeconds(now - queued->second);
    }
    ++stats_.dispatches;
    handoffs.emplace_back(std::move(waiter->second.done), *std::move(job));
    waiters_.erase(waiter);
    if (auto polls = polls_of.find(assignment.worker_id); polls != polls_of.end()) {
      ++polls->second.next;
    }
  }
  if (changes.empty()) return;
  auto shared = std::make_shared<decltype(handoffs)>(std::move(handoffs));
  PersistLocked(std::move(changes), nullptr, [shared] {
    for (auto& [done, job] : *shared) done(std::move(job));
  });
}

absl::StatusOr<v1::HeartbeatResponse> Coordinator::Heartbeat(const v1::HeartbeatRequest& request) {
  RETURN_IF_ERROR(CheckWorkerId(request.worker_id()));
  if (request.lease_ids_size() > kMaxLeasesPerHeartbeat) {
    return absl::InvalidArgumentError("too many leases in one heartbeat");
  }
  v1::HeartbeatResponse response;
  std::shared_ptr<absl::Notification> durable;
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = clock_();
    NoteWorkerLocked(request.worker_id(), now);
    std::vector<std::string> leases(request.lease_ids().begin(), request.lease_ids().end());
    std::vector<std::string> cancel, lost;
    BuildChanges changes;
    scheduler_.Heartbeat(request.worker_id(), leases, now, &cancel, &lost, &changes);
    for (std::string& id : cancel) response.add_cancel_lease_ids(std::move(id));
    for (std::string& id : lost) response.add_lost_lease_ids(std::move(id));
    durable = PersistLocked(std::move(changes), nullptr);
  }
  durable->WaitForNotification();
  return response;
}

absl::StatusOr<v1::ReportProgressResponse> Coordinator::ReportProgress(
    const v1::ReportProgressRequest& request) {
  if (request.log_lines_size() > kMaxLinesPerReport) {
    return absl::InvalidArgumentError("too many log lines in one report: send smaller batches");
  }
  if (!request.resolved_commit().empty()) RETURN_IF_ERROR(CheckCommitId(request.resolved_commit()));
  v1::ReportProgressResponse response;
  std::shared_ptr<absl::Notification> durable;
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = clock_();
    std::string step =
        request.steps().empty() ? "" : request.steps().rbegin()->step().substr(0, 64);
    bool cancel = false;
    BuildChanges changes;
    if (!scheduler_.Progress(request.build_id(), request.lease_id(), step,
                             request.resolved_commit(), now, &cancel, &changes)) {
      // The scheduler may have expired the lease just now: that change is written like any.
      if (!changes.empty()) PersistLocked(std::move(changes), nullptr);
      return absl::FailedPreconditionError(absl::StrCat(
          "lease ", request.lease_id().substr(0, 128), " of build ",
          request.build_id().substr(0, 64), " is no longer this worker's: stop the build"));
    }
    response.set_cancel(cancel);
    std::unique_ptr<StateBatch> batch = store_->NewBatch();
    int64_t& count = log_lines_[request.build_id()];
    auto lines = std::make_shared<std::vector<v1::LogLine>>();
    auto append = [&](std::string text) {
      if (count > options_.max_log_lines) return;
      if (count == options_.max_log_lines) {
        text = absl::StrCat("tempa: log cut at ", options_.max_log_lines,
                            " lines; later lines are not kept");
      } else if (text.size() > options_.max_log_line_bytes) {
        text.resize(options_.max_log_line_bytes);
        text += " [line cut]";
      }
      v1::LogLine line;
      line.set_number(count++);
      line.set_text(std::move(text));
      line.set_unix_ms(absl::ToUnixMillis(now));
      batch->AppendLog(request.build_id(), line);
      lines->push_back(std::move(line));
    };
    for (const v1::StepEvent& event : request.steps()) {
      append(absl::StrCat("tempa: ", event.step().substr(0, 64), " ",
                          absl::StrFormat("%.2fs", event.took_ms() / 1000.0), "  ",
                          event.detail().substr(0, 1024)));
    }
    for (const std::string& text : request.log_lines()) append(text);
    batch->PutCounter(LogCounterName(request.build_id()), static_cast<uint64_t>(count));
    std::string build_id = request.build_id();
    durable = PersistLocked(std::move(changes), std::move(batch), [this, build_id, lines] {
      for (const v1::LogLine& line : *lines) {
        v1::BuildEvent event;
        *event.mutable_log() = line;
        events_.Publish(build_id, event);
      }
    });
  }
  durable->WaitForNotification();
  return response;
}

absl::StatusOr<v1::CompleteJobResponse> Coordinator::CompleteJob(
    const v1::CompleteJobRequest& request) {
  v1::CompleteJobResponse response;
  std::shared_ptr<absl::Notification> durable;
  {
    absl::MutexLock lock(&mu_);
    absl::Time now = clock_();
    BuildChanges changes;
    response.set_accepted(scheduler_.Complete(request.build_id(), request.lease_id(),
                                              request.result(), now, &changes));
    durable = PersistLocked(std::move(changes), nullptr);
    DispatchLocked(now);
  }
  durable->WaitForNotification();
  return response;
}

void Coordinator::Tick() {
  std::vector<JobCallback> timed_out;
  {
    absl::MutexLock lock(&mu_);
    if (stopping_) return;
    absl::Time now = clock_();
    absl::Time real_now = absl::Now();
    BuildChanges expired = scheduler_.ExpireLeases(now);
    stats_.lease_expiries += expired.size();
    if (!expired.empty()) PersistLocked(std::move(expired), nullptr);
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      if (it->second.deadline <= real_now) {
        timed_out.push_back(std::move(it->second.done));
        it = waiters_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto& [id, worker] : workers_) {
      if (now - worker.last_seen > options_.worker_timeout && worker.record.connected()) {
        worker.record.set_connected(false);
        scheduler_.WorkerGone(id);
      } else if (now - worker.last_seen <= options_.worker_timeout) {
        worker.record.set_connected(true);
      }
    }
    DispatchLocked(now);
  }
  for (JobCallback& done : timed_out) done(std::nullopt);
}

absl::StatusOr<std::optional<v1::LayerCacheEntry>> Coordinator::FindLayer(const std::string& key) {
  if (key.empty() || key.size() > 1024) {
    return absl::InvalidArgumentError("a layer cache key is 1-1024 characters");
  }
  return store_->GetLayer(key);
}

absl::Status Coordinator::PutLayer(const v1::LayerCacheEntry& entry) {
  if (entry.key().empty() || entry.key().size() > 1024) {
    return absl::InvalidArgumentError("a layer cache key is 1-1024 characters");
  }
  if (!IsSha256Digest(entry.layer().digest()) || !IsSha256Digest(entry.layer().diff_id()) ||
      entry.layer().size() <= 0) {
    return absl::InvalidArgumentError("a cached layer needs its sha256 digest, diff id and size");
  }
  // Only layers in this farm's registry: a mount source elsewhere would hand workers blobs
  // from a registry nobody vetted.
  if (!absl::StartsWith(entry.repository(), absl::StrCat(options_.registry, "/"))) {
    return absl::InvalidArgumentError(absl::StrCat("a cached layer's repository must be in ",
                                                   options_.registry, ", not ",
                                                   entry.repository().substr(0, 200)));
  }
  v1::LayerCacheEntry stored = entry;
  stored.set_created_unix_ms(absl::ToUnixMillis(clock_()));
  std::unique_ptr<StateBatch> batch = store_->NewBatch();
  batch->PutLayer(stored);
  return store_->Commit(std::move(batch));
}

}  // namespace tempa::coordinator
