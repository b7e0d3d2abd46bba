// The scheduler's leases: heartbeats, progress, results, cancels and expiry.
#include <utility>

#include "absl/strings/str_cat.h"
#include "coordinator/scheduler/scheduler.h"

namespace tempa::coordinator {

void Scheduler::Extend(Entry& entry, absl::Time now) {
  expiries_.erase({entry.lease_expiry, entry.record.id()});
  entry.lease_expiry = now + options_.lease_ttl;
  expiries_.emplace(entry.lease_expiry, entry.record.id());
}

void Scheduler::FinishCancelled(Entry& entry, absl::Time now, const std::string& how,
                                ChangeSet& changes) {
  v1::Build& b = entry.record;
  v1::BuildError* error = b.mutable_error();
  if (!b.superseded_by().empty()) {
    error->set_kind("superseded");
    error->set_reason(absl::StrCat("superseded by ", b.superseded_by(), ", a newer push to ",
                                   b.branch(), "; ", how));
    Finish(entry, v1::SUPERSEDED, now, changes);
  } else {
    error->set_kind("cancelled");
    error->set_reason(absl::StrCat("cancelled on request; ", how));
    Finish(entry, v1::CANCELLED, now, changes);
  }
}

void Scheduler::LeaseLost(Entry& entry, absl::Time now, const std::string& why,
                          ChangeSet& changes) {
  v1::Build& b = entry.record;
  const std::string worker = b.worker_id();
  if (b.cancel_requested()) {
    FinishCancelled(entry, now, absl::StrCat(why, " on worker ", worker), changes);
    return;
  }
  if (b.attempt() >= options_.max_attempts) {
    v1::BuildError* error = b.mutable_error();
    error->set_kind("lease_expired");
    error->set_step(b.step());
    error->set_reason(absl::StrCat(why, " on worker ", worker, " (attempt ", b.attempt(), " of ",
                                   options_.max_attempts, "); gave up after ", b.attempt(),
                                   " attempts"));
    Finish(entry, v1::FAILED, now, changes);
    return;
  }
  DropLease(entry);
  Enqueue(entry);
  changes.Record(b);
}

Scheduler::Entry* Scheduler::CurrentLease(const std::string& build_id, const std::string& lease_id,
                                          absl::Time now, ChangeSet& changes) {
  auto it = builds_.find(build_id);
  if (it == builds_.end()) return nullptr;
  Entry& entry = it->second;
  if (entry.record.status() != v1::RUNNING || entry.record.lease_id() != lease_id) return nullptr;
  if (entry.lease_expiry <= now) {
    LeaseLost(entry, now, "lease expired", changes);
    return nullptr;
  }
  return &entry;
}

void Scheduler::Heartbeat(const std::string& worker_id, const std::vector<std::string>& lease_ids,
                          absl::Time now, std::vector<std::string>* cancel,
                          std::vector<std::string>* lost, BuildChanges* changes) {
  ChangeSet set;
  for (const std::string& lease_id : lease_ids) {
    auto it = leases_.find(lease_id);
    Entry* entry = nullptr;
    if (it != leases_.end()) {
      Entry& candidate = builds_.at(it->second);
      if (candidate.record.worker_id() == worker_id) {
        entry = CurrentLease(candidate.record.id(), lease_id, now, set);
      }
    }
    if (entry == nullptr) {
      if (lost != nullptr) lost->push_back(lease_id);
    } else if (entry->record.cancel_requested()) {
      // Not extended: the worker stops within a second; if it never reports, the lease
      // expires and the build ends all the same.
      if (cancel != nullptr) cancel->push_back(lease_id);
    } else {
      Extend(*entry, now);
    }
  }
  set.AppendTo(changes);
}

bool Scheduler::Progress(const std::string& build_id, const std::string& lease_id,
                         const std::string& step, const std::string& resolved_commit,
                         absl::Time now, bool* cancel, BuildChanges* changes) {
  ChangeSet set;
  if (cancel != nullptr) *cancel = false;
  Entry* entry = CurrentLease(build_id, lease_id, now, set);
  if (entry == nullptr) {
    set.AppendTo(changes);
    return false;
  }
  v1::Build& b = entry->record;
  bool changed = false;
  if (!step.empty() && step != b.step()) {
    b.set_step(step);
    changed = true;
  }
  if (!resolved_commit.empty() && resolved_commit != b.commit()) {
    b.set_commit(resolved_commit);
    changed = true;
  }
  if (b.cancel_requested()) {
    if (cancel != nullptr) *cancel = true;
  } else {
    Extend(*entry, now);
  }
  if (changed) set.Record(b);
  set.AppendTo(changes);
  return true;
}

bool Scheduler::Complete(const std::string& build_id, const std::string& lease_id,
                         const v1::BuildResult& result, absl::Time now, BuildChanges* changes) {
  ChangeSet set;
  Entry* entry = CurrentLease(build_id, lease_id, now, set);
  if (entry == nullptr) {
    set.AppendTo(changes);
    return false;
  }
  v1::Build& b = entry->record;
  const std::string worker = b.worker_id();
  if (result.cancelled() && !result.succeeded() && !b.cancel_requested()) {
    // Stopped without being told (the worker is shutting down): someone else builds it.
    LeaseLost(*entry, now, "worker gave the build back", set);
    set.AppendTo(changes);
    return true;
  }
  if (!result.commit().empty()) b.set_commit(result.commit());
  if (!result.image().empty()) b.set_image(result.image());
  if (!result.language().empty()) b.set_language(result.language());
  if (result.layers_size() > 0) *b.mutable_layers() = result.layers();
  if (b.cancel_requested()) {
    FinishCancelled(*entry, now,
                    result.succeeded()
                        ? absl::StrCat("worker ", worker, " finished it anyway; not deployed")
                        : absl::StrCat("worker ", worker, " stopped it"),
                    set);
  } else if (result.succeeded()) {
    b.clear_error();
    Finish(*entry, v1::SUCCEEDED, now, set);
  } else {
    v1::BuildError* error = b.mutable_error();
    *error = result.error();
    if (error->kind().empty()) error->set_kind("unknown");
    if (error->step().empty()) error->set_step(b.step());
    if (error->reason().empty()) {
      error->set_reason(absl::StrCat("worker ", worker, " reported a failure without a reason"));
    }
    Finish(*entry, v1::FAILED, now, set);
  }
  set.AppendTo(changes);
  return true;
}

bool Scheduler::Cancel(const std::string& build_id, absl::Time now, BuildChanges* changes) {
  auto it = builds_.find(build_id);
  if (it == builds_.end()) return false;
  ChangeSet set;
  Entry& entry = it->second;
  if (entry.record.status() == v1::QUEUED) {
    FinishCancelled(entry, now, "it had not started", set);
  } else if (!entry.record.cancel_requested()) {
    entry.record.set_cancel_requested(true);
    set.Record(entry.record);
  }
  set.AppendTo(changes);
  return true;
}

BuildChanges Scheduler::ExpireLeases(absl::Time now) {
  ChangeSet set;
  while (!expiries_.empty() && expiries_.begin()->first <= now) {
    const std::string id = expiries_.begin()->second;
    LeaseLost(builds_.at(id), now, "lease expired", set);
  }
  BuildChanges out;
  set.AppendTo(&out);
  return out;
}

BuildChanges Scheduler::ReleaseWorker(const std::string& worker_id, absl::Time now) {
  ChangeSet set;
  for (const std::string& id : RunningOn(worker_id)) {
    LeaseLost(builds_.at(id), now, "worker restarted", set);
  }
  BuildChanges out;
  set.AppendTo(&out);
  return out;
}

}  // namespace tempa::coordinator
