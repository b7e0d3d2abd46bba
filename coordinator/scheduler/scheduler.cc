// The scheduler's queues: restore, apps, submit (with coalescing) and dispatch (fairness,
// per-app limits, cache affinity). Leases, results and cancels are in scheduler_leases.cc.
#include "coordinator/scheduler/scheduler.h"

#include <cstdlib>
#include <deque>
#include <utility>

#include "absl/strings/str_cat.h"

namespace tempa::coordinator {
namespace {

// Lease ids name the build and the attempt: both are durable before any worker sees the lease,
// so an id is never handed out twice, across restarts too.
std::string LeaseIdFor(const v1::Build& build) {
  return absl::StrCat(build.id(), "@", build.attempt());
}

}  // namespace

void Scheduler::ChangeSet::Record(const v1::Build& build) {
  auto [it, inserted] = index_.try_emplace(build.id(), list_.size());
  if (inserted) {
    list_.push_back(build);
  } else {
    list_[it->second] = build;
  }
}

void Scheduler::ChangeSet::AppendTo(BuildChanges* out) {
  if (out == nullptr) return;
  for (auto& build : list_) out->push_back(std::move(build));
  list_.clear();
  index_.clear();
}

Scheduler::Scheduler(SchedulerOptions options) : options_(options) {
  if (options_.max_attempts < 1) options_.max_attempts = 1;
  if (options_.default_app_concurrency < 1) options_.default_app_concurrency = 1;
}

Scheduler::AppState& Scheduler::App(const std::string& name) { return apps_[name]; }

Scheduler::BranchState& Scheduler::Branch(const v1::Build& build) {
  return branches_[{build.app(), build.branch()}];
}

int Scheduler::LimitOf(const AppState& app) const {
  return app.limit > 0 ? app.limit : options_.default_app_concurrency;
}

void Scheduler::RefreshReady(const std::string& name, AppState& app) {
  if (app.ready_key.has_value()) {
    ready_.erase(*app.ready_key);
    app.ready_key.reset();
  }
  if (app.queue.empty() || app.running >= LimitOf(app)) return;
  app.ready_key = ReadyKey{app.last_served, app.queue.begin()->first, name};
  ready_.insert(*app.ready_key);
}

void Scheduler::Enqueue(Entry& entry) {
  v1::Build& b = entry.record;
  b.set_status(v1::QUEUED);
  AppState& app = App(b.app());
  app.queue.emplace(b.sequence(), b.id());
  ++queued_;
  RefreshReady(b.app(), app);
}

void Scheduler::StartLease(Entry& entry, const std::string& worker_id, absl::Time now) {
  v1::Build& b = entry.record;
  b.set_status(v1::RUNNING);
  b.set_worker_id(worker_id);
  if (b.lease_id().empty()) {
    b.set_lease_id(options_.lease_nonce ? absl::StrCat(LeaseIdFor(b), ".", options_.lease_nonce())
                                        : LeaseIdFor(b));
  }
  entry.lease_expiry = now + options_.lease_ttl;
  b.set_lease_expires_unix_ms(absl::ToUnixMillis(entry.lease_expiry));
  leases_[b.lease_id()] = b.id();
  expiries_.emplace(entry.lease_expiry, b.id());
  running_on_[worker_id].insert(b.id());
  AppState& app = App(b.app());
  ++app.running;
  ++running_;
  if (app.last_worker != worker_id) {
    if (!app.last_worker.empty()) {
      auto it = preferred_by_.find(app.last_worker);
      if (it != preferred_by_.end()) {
        it->second.erase(b.app());
        if (it->second.empty()) preferred_by_.erase(it);
      }
    }
    app.last_worker = worker_id;
    preferred_by_[worker_id].insert(b.app());
  }
  RefreshReady(b.app(), app);
}

void Scheduler::DropLease(Entry& entry) {
  v1::Build& b = entry.record;
  leases_.erase(b.lease_id());
  expiries_.erase({entry.lease_expiry, b.id()});
  entry.lease_expiry = absl::InfiniteFuture();
  auto it = running_on_.find(b.worker_id());
  if (it != running_on_.end()) {
    it->second.erase(b.id());
    if (it->second.empty()) running_on_.erase(it);
  }
  AppState& app = App(b.app());
  --app.running;
  --running_;
  b.clear_lease_id();
  b.clear_lease_expires_unix_ms();
  RefreshReady(b.app(), app);
}

void Scheduler::Finish(Entry& entry, v1::BuildStatus status, absl::Time now, ChangeSet& changes) {
  v1::Build& b = entry.record;
  if (b.status() == v1::RUNNING) {
    DropLease(entry);
  } else {
    AppState& app = App(b.app());
    app.queue.erase({b.sequence(), b.id()});
    --queued_;
    RefreshReady(b.app(), app);
  }
  b.set_status(status);
  b.set_finished_unix_ms(absl::ToUnixMillis(now));
  Branch(b).unfinished.erase(b.sequence());
  changes.Record(b);
  const std::string id = b.id();
  builds_.erase(id);  // `entry` dies here
}

void Scheduler::Track(v1::Build record, absl::Time now) {
  const std::string id = record.id();
  BranchState& branch = Branch(record);
  if (record.sequence() >= branch.newest_sequence) {
    branch.newest_sequence = record.sequence();
    branch.newest_id = id;
  }
  branch.unfinished[record.sequence()] = id;
  Entry& entry = builds_[id];
  entry.record = std::move(record);
  if (entry.record.status() == v1::RUNNING) {
    StartLease(entry, entry.record.worker_id(), now);
  } else {
    Enqueue(entry);
  }
}

void Scheduler::Restore(const std::vector<v1::Build>& unfinished,
                        const std::map<std::string, v1::App>& apps, absl::Time now) {
  builds_.clear();
  leases_.clear();
  expiries_.clear();
  apps_.clear();
  branches_.clear();
  ready_.clear();
  running_on_.clear();
  preferred_by_.clear();
  queued_ = running_ = 0;
  for (const auto& [name, app] : apps) PutApp(app);
  for (const v1::Build& build : unfinished) {
    if (build.status() != v1::QUEUED && build.status() != v1::RUNNING) continue;
    if (builds_.contains(build.id())) continue;
    // A RUNNING record keeps its lease id (its worker may still complete it); one written
    // without (never by this scheduler) gets the id its attempt implies.
    Track(build, now);
  }
}

void Scheduler::PutApp(const v1::App& app) {
  AppState& state = App(app.name());
  state.limit = app.max_concurrent_builds();
  RefreshReady(app.name(), state);
}

void Scheduler::RemoveApp(const std::string& name) {
  auto it = apps_.find(name);
  if (it == apps_.end()) return;
  it->second.limit = 0;
  RefreshReady(name, it->second);
}

BuildChanges Scheduler::Submit(v1::Build build, absl::Time now) {
  ChangeSet changes;
  BuildChanges out;
  if (build.id().empty() || builds_.contains(build.id()) ||
      Branch(build).unfinished.contains(build.sequence())) {
    return out;
  }
  const int64_t now_ms = absl::ToUnixMillis(now);
  build.set_status(v1::QUEUED);
  build.set_queued_unix_ms(now_ms);
  build.clear_lease_id();
  build.clear_lease_expires_unix_ms();

  BranchState& branch = Branch(build);
  if (!branch.newest_id.empty() && branch.newest_sequence > build.sequence()) {
    // A delivery that lost a race: a newer push to this branch is already known.
    build.set_status(v1::SUPERSEDED);
    build.set_superseded_by(branch.newest_id);
    build.set_finished_unix_ms(now_ms);
    build.mutable_error()->set_kind("superseded");
    build.mutable_error()->set_reason(
        absl::StrCat("superseded by ", branch.newest_id, ", a newer push to ", build.branch()));
    out.push_back(std::move(build));
    return out;
  }
  const std::string id = build.id();
  const std::string branch_name = build.branch();
  // The older unfinished builds of this branch, before the new one joins them.
  std::vector<std::string> older;
  for (const auto& [seq, other] : branch.unfinished) older.push_back(other);
  changes.Record(build);
  Track(std::move(build), now);

  for (const std::string& other_id : older) {
    auto it = builds_.find(other_id);
    if (it == builds_.end()) continue;
    Entry& other = it->second;
    v1::Build& o = other.record;
    if (o.status() == v1::QUEUED) {
      o.set_superseded_by(id);
      o.mutable_error()->set_kind("superseded");
      o.mutable_error()->set_reason(
          absl::StrCat("superseded by ", id, ", a newer push to ", branch_name));
      Finish(other, v1::SUPERSEDED, now, changes);
    } else if (!o.cancel_requested()) {
      // Running: its worker is told to stop; it ends SUPERSEDED when it reports or expires.
      // One already being cancelled (by a user, or by an earlier push) is left as it is.
      o.set_cancel_requested(true);
      o.set_superseded_by(id);
      changes.Record(o);
    }
  }
  changes.AppendTo(&out);
  return out;
}

void Scheduler::WorkerSeen(const std::string& worker_id, absl::Time /*now*/) {
  workers_.insert(worker_id);
}

void Scheduler::WorkerGone(const std::string& worker_id) {
  workers_.erase(worker_id);
  auto it = preferred_by_.find(worker_id);
  if (it == preferred_by_.end()) return;
  for (const std::string& app : it->second) App(app).last_worker.clear();
  preferred_by_.erase(it);
}

std::vector<Assignment> Scheduler::Dispatch(const std::vector<std::string>& waiting, absl::Time now,
                                            BuildChanges* changes) {
  std::vector<Assignment> assignments;
  if (waiting.empty() || ready_.empty()) return assignments;
  ChangeSet set;
  // Free slots per worker; a worker may be listed once per slot it offers.
  absl::flat_hash_map<std::string, int> slots;
  for (const std::string& w : waiting) ++slots[w];
  // Workers no app with queued builds prefers go to the builds whose warm worker is not
  // waiting, so a warm worker stays available for its own app where possible.
  std::deque<std::string> cold, warm;
  for (const std::string& w : waiting) {
    bool wanted = false;
    auto it = preferred_by_.find(w);
    if (it != preferred_by_.end()) {
      for (const std::string& app : it->second) {
        if (!App(app).queue.empty()) {
          wanted = true;
          break;
        }
      }
    }
    (wanted ? warm : cold).push_back(w);
  }
  auto take = [&slots](std::deque<std::string>& from) -> std::optional<std::string> {
    while (!from.empty()) {
      std::string w = std::move(from.front());
      from.pop_front();
      int& n = slots[w];
      if (n > 0) {
        --n;
        return w;
      }
    }
    return std::nullopt;
  };

  int remaining = static_cast<int>(waiting.size());
  while (remaining > 0 && !ready_.empty()) {
    const std::string name = ready_.begin()->app;
    AppState& app = App(name);
    std::string worker;
    if (auto it = slots.find(app.last_worker);
        !app.last_worker.empty() && it != slots.end() && it->second > 0) {
      --it->second;
      worker = app.last_worker;
    } else if (auto w = take(cold)) {
      worker = *w;
    } else if (auto w2 = take(warm)) {
      worker = *w2;
    } else {
      break;  // unreachable while `remaining` counts the free slots
    }
    --remaining;
    const std::string id = app.queue.begin()->second;
    app.queue.erase(app.queue.begin());
    --queued_;
    app.last_served = ++serve_tick_;
    Entry& entry = builds_.at(id);
    v1::Build& b = entry.record;
    b.set_attempt(b.attempt() + 1);
    b.clear_lease_id();
    b.set_started_unix_ms(absl::ToUnixMillis(now));
    StartLease(entry, worker, now);  // refreshes the app's place in ready_
    set.Record(b);
    assignments.push_back(Assignment{worker, b});
  }
  set.AppendTo(changes);
  return assignments;
}

std::vector<std::string> Scheduler::UnfinishedOf(const std::string& app) const {
  std::vector<std::string> ids;
  for (auto it = branches_.lower_bound({app, ""}); it != branches_.end() && it->first.first == app;
       ++it) {
    for (const auto& [seq, id] : it->second.unfinished) ids.push_back(id);
  }
  return ids;
}

int Scheduler::QueuedCount() const { return queued_; }
int Scheduler::RunningCount() const { return running_; }

std::vector<std::string> Scheduler::RunningOn(const std::string& worker_id) const {
  auto it = running_on_.find(worker_id);
  if (it == running_on_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

absl::Time Scheduler::NextExpiry() const {
  return expiries_.empty() ? absl::InfiniteFuture() : expiries_.begin()->first;
}

}  // namespace tempa::coordinator
