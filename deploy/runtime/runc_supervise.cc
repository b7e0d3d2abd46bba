// Supervision: a thread that notices a container's exit, records why, and restarts it after a
// backoff.
#include <signal.h>
#include <sys/wait.h>

#include "absl/strings/str_cat.h"
#include "deploy/runtime/container_log.h"
#include "deploy/runtime/oci_spec.h"
#include "deploy/runtime/process_watch.h"
#include "deploy/runtime/runc_container_runtime.h"

namespace tempa::deploy {

void RuncContainerRuntime::SuperviseLoop() {
  while (true) {
    std::vector<std::shared_ptr<Entry>> entries;
    {
      absl::MutexLock lock(&mu_);
      auto done = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) { return shutdown_; };
      if (mu_.AwaitWithTimeout(absl::Condition(&done), options_.poll_interval)) return;
      for (auto& [id, entry] : entries_) {
        if (!entry->stopping) entries.push_back(entry);
      }
    }
    for (const std::shared_ptr<Entry>& entry : entries) SuperviseOne(entry);
  }
}

void RuncContainerRuntime::SuperviseOne(const std::shared_ptr<Entry>& entry) {
  // Stop holds op_mu for as long as it takes: leave that container to it.
  if (!entry->op_mu.TryLock()) return;
  const ContainerSpec& spec = entry->spec;
  bool running, stopping;
  pid_t pid;
  uint64_t start_ticks;
  absl::Time restart_at;
  {
    absl::MutexLock lock(&mu_);
    running = entry->running;
    stopping = entry->stopping;
    pid = entry->pid;
    start_ticks = entry->start_ticks;
    restart_at = entry->restart_at;
  }
  if (stopping) {
    entry->op_mu.Unlock();
    return;
  }
  absl::Time now = options_.now();
  std::optional<absl::Duration> scheduled;
  if (running) {
    ProcessExit exit = CheckProcess(pid, start_ticks);
    if (!exit.exited) {
      (void)TruncateLogIfLarger(LogPath(spec), options_.log_max_bytes, options_.log_keep_bytes);
      entry->op_mu.Unlock();
      return;
    }
    // The cgroup lives until `runc delete`: read what its memory limit did first.
    absl::StatusOr<MemoryEvents> events =
        ReadMemoryEvents(ContainerCgroupPath(spec.id), options_.cgroup_root);
    (void)runc_.Run({"delete", "--force", spec.id});
    absl::MutexLock lock(&mu_);
    // RecordContainerExit blames the limit only for a SIGKILL (or an exit it did not see).
    bool memory_limit = events.ok() && (events->oom_kills > entry->baseline.oom_kills ||
                                        events->limit_hits > entry->baseline.limit_hits);
    RecordContainerExit(entry->status, spec, exit.wait_status, memory_limit);
    entry->running = false;
    entry->status.running = false;
    if (now - entry->started_at >= options_.reset_backoff_after) {
      entry->backoff = options_.initial_backoff;
    }
    scheduled = entry->backoff;
    entry->restart_at = now + entry->backoff;
    entry->backoff = std::min(entry->backoff * 2, options_.max_backoff);
  } else if (now >= restart_at) {
    absl::StatusOr<Launched> launched = Launch(spec);
    absl::MutexLock lock(&mu_);
    if (launched.ok()) {
      entry->running = true;
      entry->pid = launched->pid;
      entry->start_ticks = launched->start_ticks;
      entry->baseline = launched->baseline;
      entry->started_at = now;
      entry->status.running = true;
      ++entry->status.restarts;
    } else {
      entry->status.last_exit_reason =
          absl::StrCat("restart failed: ", launched.status().message());
      scheduled = entry->backoff;
      entry->restart_at = now + entry->backoff;
      entry->backoff = std::min(entry->backoff * 2, options_.max_backoff);
    }
  }
  entry->op_mu.Unlock();
  if (scheduled && options_.on_restart_scheduled)
    options_.on_restart_scheduled(spec.id, *scheduled);
}

}  // namespace tempa::deploy
