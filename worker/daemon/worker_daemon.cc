#include "worker/daemon/worker_daemon.h"

#include <algorithm>
#include <random>

#include "absl/strings/str_cat.h"

namespace tempa::worker {
namespace {

// Sleeps `delay` unless `stop` is set first; false when stopped.
bool Pause(const CancelToken& stop, absl::Duration delay) { return !stop.WaitFor(delay); }

absl::Duration Jittered(absl::Duration base) {
  thread_local std::mt19937 rng(std::random_device{}());
  std::uniform_real_distribution<double> factor(0.5, 1.0);
  return base * factor(rng);
}

}  // namespace

WorkerDaemon::WorkerDaemon(CoordinatorLink* link, JobExecutor* executor,
                           WorkerDaemonOptions options)
    : link_(link),
      executor_(executor),
      options_(std::move(options)),
      heartbeat_interval_(options_.heartbeat_interval) {}

WorkerDaemon::~WorkerDaemon() = default;

void WorkerDaemon::Log(absl::string_view line) {
  if (options_.log) options_.log(line);
}

void WorkerDaemon::Register(const CancelToken& stop) {
  v1::RegisterWorkerRequest request;
  request.set_worker_id(options_.worker_id);
  request.set_hostname(options_.hostname);
  request.set_slots(options_.slots);
  absl::Duration backoff = absl::Milliseconds(200);
  bool said = false;
  while (!stop.cancelled()) {
    absl::StatusOr<v1::RegisterWorkerResponse> response = link_->Register(request);
    if (response.ok()) {
      absl::MutexLock lock(&mu_);
      if (response->heartbeat_interval_ms() > 0) {
        heartbeat_interval_ = absl::Milliseconds(response->heartbeat_interval_ms());
      }
      Log(absl::StrCat("registered as ", options_.worker_id, " with ", options_.slots, " slot(s)"));
      return;
    }
    if (!said) {
      Log(absl::StrCat("cannot register yet (", response.status().message(),
                       "); retrying until the coordinator answers"));
      said = true;
    }
    if (!Pause(stop, Jittered(backoff))) return;
    backoff = std::min(backoff * 2, options_.max_backoff);
  }
}

void WorkerDaemon::Run(const CancelToken& stop) {
  Register(stop);
  std::vector<std::thread> threads;
  for (int i = 0; i < options_.slots; ++i) threads.emplace_back([this, &stop] { Slot(stop); });
  threads.emplace_back([this, &stop] { Heartbeats(stop); });
  stop.WaitFor(absl::InfiniteDuration());
  {
    absl::MutexLock lock(&mu_);
    for (auto& [lease, active] : active_) active.cancel->Cancel();
  }
  for (std::thread& thread : threads) thread.join();
}

void WorkerDaemon::Slot(const CancelToken& stop) {
  absl::Duration backoff = absl::Milliseconds(200);
  bool unreachable = false;
  while (!stop.cancelled()) {
    absl::StatusOr<std::optional<v1::Job>> job =
        link_->LeaseJob(options_.worker_id, options_.lease_wait);
    if (!job.ok()) {
      if (!unreachable) {
        Log(absl::StrCat("cannot lease work: ", job.status().message(), "; retrying"));
        unreachable = true;
      }
      if (!Pause(stop, Jittered(backoff))) return;
      backoff = std::min(backoff * 2, options_.max_backoff);
      continue;
    }
    if (unreachable) Log("the coordinator answers again");
    unreachable = false;
    backoff = absl::Milliseconds(200);
    if (*job) RunJob(**job, stop);
  }
}

void WorkerDaemon::RunJob(const v1::Job& job, const CancelToken& stop) {
  auto cancel = std::make_shared<CancelToken>();
  {
    absl::MutexLock lock(&mu_);
    active_[job.lease_id()] = Active{job.build_id(), cancel};
  }
  Log(absl::StrCat("[", job.build_id(), "] leased: app ", job.app(), ", ",
                   job.commit().empty() ? "head of " + job.branch() : "commit " + job.commit(),
                   ", attempt ", job.attempt()));
  ProgressReporter reporter(link_, job, cancel.get(), options_.progress);
  JobHooks context;
  context.log = [&reporter](absl::string_view line) { reporter.Line(line); };
  context.on_step = [&reporter](absl::string_view step, absl::Duration took,
                                absl::string_view detail) { reporter.Step(step, took, detail); };
  context.on_commit = [&reporter](const std::string& commit) { reporter.Commit(commit); };
  context.cancel = cancel.get();
  v1::BuildResult result = executor_->Execute(job, context);
  if (cancel->cancelled()) result.set_cancelled(true);
  reporter.Finish(options_.result_deadline);
  Log(absl::StrCat("[", job.build_id(), "] ",
                   result.succeeded() ? "built " + result.image()
                                      : absl::StrCat("failed: ", result.error().kind(), ": ",
                                                     result.error().reason())));
  if (!reporter.lost()) {
    v1::CompleteJobRequest request;
    request.set_build_id(job.build_id());
    request.set_lease_id(job.lease_id());
    *request.mutable_result() = std::move(result);
    absl::Time until = absl::Now() + options_.result_deadline;
    absl::Duration backoff = absl::Milliseconds(200);
    while (true) {
      absl::StatusOr<v1::CompleteJobResponse> response = link_->CompleteJob(request);
      if (response.ok()) {
        if (!response->accepted()) {
          Log(absl::StrCat("[", job.build_id(), "] result refused: the lease was handed on"));
        }
        break;
      }
      // Only an unreachable coordinator is worth waiting for; anything else will not change.
      if (response.status().code() != absl::StatusCode::kUnavailable &&
          response.status().code() != absl::StatusCode::kDeadlineExceeded) {
        Log(absl::StrCat("[", job.build_id(), "] result not taken: ", response.status().message()));
        break;
      }
      if (absl::Now() + backoff > until || stop.WaitFor(Jittered(backoff))) {
        Log(absl::StrCat("[", job.build_id(),
                         "] result not delivered: ", response.status().message()));
        break;
      }
      backoff = std::min(backoff * 2, options_.max_backoff);
    }
  }
  absl::MutexLock lock(&mu_);
  active_.erase(job.lease_id());
}

void WorkerDaemon::Heartbeats(const CancelToken& stop) {
  while (true) {
    absl::Duration interval;
    v1::HeartbeatRequest request;
    request.set_worker_id(options_.worker_id);
    {
      absl::MutexLock lock(&mu_);
      interval = heartbeat_interval_;
      for (const auto& [lease, active] : active_) request.add_lease_ids(lease);
    }
    if (!Pause(stop, interval)) return;
    if (request.lease_ids().empty()) continue;  // the long-polls say we are alive
    absl::StatusOr<v1::HeartbeatResponse> response = link_->Heartbeat(request);
    if (!response.ok()) {
      Log(absl::StrCat("heartbeat failed: ", response.status().message()));
      continue;
    }
    absl::MutexLock lock(&mu_);
    for (const std::string& lease : response->cancel_lease_ids()) {
      auto it = active_.find(lease);
      if (it != active_.end()) it->second.cancel->Cancel();
    }
    for (const std::string& lease : response->lost_lease_ids()) {
      auto it = active_.find(lease);
      if (it != active_.end()) it->second.cancel->Cancel();
    }
  }
}

}  // namespace tempa::worker
