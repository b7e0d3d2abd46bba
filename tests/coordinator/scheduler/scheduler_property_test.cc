// Random sequences of pushes (some delivered out of order), dispatches, heartbeats, progress,
// results, cancels, lease expiries, dying workers and coordinator restarts (a new scheduler
// restored from the changes persisted so far), with the scheduler's invariants checked after
// every step, and a drain at the end in which every build must end.
#include <algorithm>
#include <map>
#include <random>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "coordinator/scheduler/scheduler.h"
#include "gtest/gtest.h"

namespace tempa::coordinator {
namespace {

constexpr int kSlots = 2;
const char* const kApps[] = {"a0", "a1", "a2", "a3"};
const char* const kBranches[] = {"main", "dev", "f1"};

bool Terminal(v1::BuildStatus s) { return s != v1::QUEUED && s != v1::RUNNING; }

struct SimWorker {
  bool alive = true;
  std::map<std::string, std::string> held;  // build id -> lease id
};

class Simulation {
 public:
  explicit Simulation(uint32_t seed) : rng_(seed), scheduler_(Options()) {
    for (int i = 0; i < 4; ++i) {
      v1::App app;
      app.set_name(kApps[i]);
      app.set_max_concurrent_builds(i == 3 ? 0 : 1 + i % 3);  // a3 takes the default
      apps_[app.name()] = app;
      scheduler_.PutApp(app);
    }
    for (int i = 0; i < 6; ++i) workers_[absl::StrCat("w", i)];
  }

  static SchedulerOptions Options() {
    SchedulerOptions options;
    options.lease_ttl = absl::Seconds(30);
    options.max_attempts = 3;
    options.default_app_concurrency = 2;
    return options;
  }

  void Step() {
    switch (Pick(12)) {
      case 0:
      case 1:
        Push();
        break;
      case 2:
        SubmitPending();
        break;
      case 3:
      case 4:
        Dispatch();
        break;
      case 5:
        HeartbeatOne();
        break;
      case 6:
        ProgressOne();
        break;
      case 7:
      case 8:
        CompleteOne(Pick(10) < 6);
        break;
      case 9:
        CancelOne();
        break;
      case 10:
        now_ += absl::Seconds(Pick(40));
        Apply(scheduler_.ExpireLeases(now_));
        break;
      case 11:
        Chaos();
        break;
    }
  }

  // Every worker alive and diligent: every build must end.
  void Drain() {
    for (auto& [id, w] : workers_) w.alive = true;
    while (!pending_.empty()) SubmitPending();
    for (int round = 0; round < 200; ++round) {
      Dispatch(/*everyone=*/true);
      for (auto& [wid, w] : workers_) {
        while (!w.held.empty()) CompleteHeld(wid, w.held.begin()->first, true);
      }
      if (scheduler_.QueuedCount() + scheduler_.RunningCount() == 0) break;
      now_ += absl::Seconds(31);
      Apply(scheduler_.ExpireLeases(now_));
    }
    for (const auto& [id, b] : store_) {
      ASSERT_TRUE(Terminal(b.status())) << id << " never ended: " << b.ShortDebugString();
    }
    ASSERT_EQ(store_.size(), submitted_.size());
  }

 private:
  int Pick(int n) { return std::uniform_int_distribution<int>(0, n - 1)(rng_); }

  void Push() {
    v1::Build b;
    b.set_sequence(++next_seq_);
    b.set_id(absl::StrCat("b-", b.sequence()));
    b.set_app(kApps[Pick(4)]);
    b.set_branch(kBranches[Pick(3)]);
    b.set_status(v1::QUEUED);
    if (Pick(5) == 0) {
      pending_.push_back(b);  // a delivery that will lose its race
    } else {
      Submit(b);
    }
  }
  void SubmitPending() {
    if (pending_.empty()) return;
    size_t i = Pick(static_cast<int>(pending_.size()));
    v1::Build b = pending_[i];
    pending_.erase(pending_.begin() + i);
    Submit(b);
  }
  void Submit(const v1::Build& b) {
    uint64_t& newest = newest_submitted_[{b.app(), b.branch()}];
    newest = std::max(newest, b.sequence());
    submitted_.insert(b.id());
    BuildChanges changes = scheduler_.Submit(b, now_);
    ASSERT_FALSE(changes.empty());
    ASSERT_EQ(changes[0].id(), b.id());
    Apply(changes);
  }

  void Dispatch(bool everyone = false) {
    std::vector<std::string> waiting;
    for (auto& [id, w] : workers_) {
      if (!w.alive || (!everyone && Pick(2) == 0)) continue;
      for (int i = static_cast<int>(w.held.size()); i < kSlots; ++i) waiting.push_back(id);
    }
    BuildChanges changes;
    auto assigned = scheduler_.Dispatch(waiting, now_, &changes);
    ASSERT_EQ(assigned.size(), changes.size());
    for (const Assignment& a : assigned) {
      ASSERT_EQ(a.build.status(), v1::RUNNING);
      ASSERT_EQ(a.build.worker_id(), a.worker_id);
      ASSERT_TRUE(workers_.at(a.worker_id).alive);
      ASSERT_LT(workers_.at(a.worker_id).held.size(), static_cast<size_t>(kSlots));
      workers_.at(a.worker_id).held[a.build.id()] = a.build.lease_id();
    }
    Apply(changes);
  }

  // A random alive worker holding something; empty when none.
  std::string BusyWorker() {
    std::vector<std::string> busy;
    for (auto& [id, w] : workers_) {
      if (w.alive && !w.held.empty()) busy.push_back(id);
    }
    return busy.empty() ? "" : busy[Pick(static_cast<int>(busy.size()))];
  }
  std::string AnyHeld(const SimWorker& w) {
    auto it = w.held.begin();
    std::advance(it, Pick(static_cast<int>(w.held.size())));
    return it->first;
  }

  void HeartbeatOne() {
    std::string wid = BusyWorker();
    if (wid.empty()) return;
    SimWorker& w = workers_.at(wid);
    std::vector<std::string> leases, cancel, lost;
    for (const auto& [id, lease] : w.held) leases.push_back(lease);
    BuildChanges changes;
    scheduler_.Heartbeat(wid, leases, now_, &cancel, &lost, &changes);
    Apply(changes);
    for (const std::string& lease : lost) {
      std::erase_if(w.held, [&](const auto& kv) { return kv.second == lease; });
    }
  }

  void ProgressOne() {
    std::string wid = BusyWorker();
    if (wid.empty()) return;
    SimWorker& w = workers_.at(wid);
    std::string id = AnyHeld(w);
    bool cancel = false;
    BuildChanges changes;
    const char* steps[] = {"fetch", "detect", "build", "push"};
    bool ok =
        scheduler_.Progress(id, w.held[id], steps[Pick(4)],
                            Pick(3) == 0 ? std::string(40, 'f') : "", now_, &cancel, &changes);
    Apply(changes);
    if (!ok) w.held.erase(id);
  }

  void CompleteOne(bool succeed) {
    std::string wid = BusyWorker();
    if (wid.empty()) return;
    CompleteHeld(wid, AnyHeld(workers_.at(wid)), succeed);
  }
  // `id` is a copy: callers pass a key of the held map, which this edits.
  void CompleteHeld(const std::string& wid, std::string id, bool succeed) {
    SimWorker& w = workers_.at(wid);
    const std::string lease = w.held.at(id);
    w.held.erase(id);
    v1::BuildResult result;
    if (Pick(10) == 0) {
      result.set_cancelled(true);
    } else if (succeed) {
      result.set_succeeded(true);
      result.set_image(absl::StrCat("reg/app@sha256:", id));
    } else {
      result.mutable_error()->set_kind("compile");
    }
    const auto before = store_.find(id);
    const bool current = before != store_.end() && before->second.status() == v1::RUNNING &&
                         before->second.lease_id() == lease;
    BuildChanges changes;
    bool accepted = scheduler_.Complete(id, lease, result, now_, &changes);
    if (accepted) {
      ASSERT_TRUE(current) << id << " accepted a result under a stale lease";
    }
    if (!accepted) {
      for (const v1::Build& b : changes) ASSERT_NE(b.status(), v1::SUCCEEDED);
    }
    Apply(changes);
  }

  void CancelOne() {
    if (store_.empty() || Pick(3) != 0) return;
    auto it = store_.begin();
    std::advance(it, Pick(static_cast<int>(store_.size())));
    BuildChanges changes;
    bool tracked = scheduler_.Cancel(it->first, now_, &changes);
    ASSERT_EQ(tracked, !Terminal(it->second.status())) << it->first;
    Apply(changes);
  }

  void Chaos() {
    switch (Pick(4)) {
      case 0: {  // a worker dies silently: its leases will expire
        auto it = workers_.begin();
        std::advance(it, Pick(static_cast<int>(workers_.size())));
        it->second.alive = false;
        it->second.held.clear();
        break;
      }
      case 1: {  // a dead worker restarts and registers again
        for (auto& [id, w] : workers_) {
          if (!w.alive) {
            w.alive = true;
            Apply(scheduler_.ReleaseWorker(id, now_));
            break;
          }
        }
        break;
      }
      default: {  // the coordinator restarts from what it persisted
        // Deliveries it had not accepted yet are gone with it (GitHub redelivers them under
        // new sequences): a sequence given after a restart is above every persisted one.
        pending_.clear();
        std::vector<v1::Build> unfinished;
        for (const auto& [id, b] : store_) {
          if (!Terminal(b.status())) unfinished.push_back(b);
        }
        std::shuffle(unfinished.begin(), unfinished.end(), rng_);
        scheduler_ = Scheduler(Options());
        scheduler_.Restore(unfinished, apps_, now_);
        CheckInvariants();
        break;
      }
    }
  }

  void Apply(const BuildChanges& changes) {
    std::set<std::string> ids;
    for (const v1::Build& b : changes) {
      ASSERT_TRUE(ids.insert(b.id()).second) << b.id() << " twice in one call's changes";
      ASSERT_TRUE(submitted_.contains(b.id())) << b.id();
      auto it = store_.find(b.id());
      if (it != store_.end()) {
        ASSERT_FALSE(Terminal(it->second.status()))
            << "terminal record changed: " << it->second.ShortDebugString() << " -> "
            << b.ShortDebugString();
      }
      if (b.status() == v1::SUCCEEDED) {
        ASSERT_GE(b.sequence(), (newest_submitted_[{b.app(), b.branch()}]))
            << b.id() << " succeeded although a newer push to its branch was accepted";
      }
      if (Terminal(b.status())) {
        ASSERT_EQ(b.finished_unix_ms(), absl::ToUnixMillis(now_));
      }
      store_[b.id()] = b;
    }
    CheckInvariants();
  }

  void CheckInvariants() {
    int queued = 0, running = 0;
    std::map<std::string, int> running_per_app;
    std::set<std::string> leases;
    std::map<std::pair<std::string, std::string>, int> live_per_branch;
    for (const auto& [id, b] : store_) {
      ASSERT_GE(b.status(), v1::QUEUED);
      ASSERT_LE(b.status(), v1::SUPERSEDED);
      ASSERT_LE(b.attempt(), Options().max_attempts) << id;
      if (b.status() == v1::QUEUED) {
        ++queued;
        ASSERT_TRUE(b.lease_id().empty());
        ASSERT_FALSE(b.cancel_requested()) << id << ": a queued build is cancelled at once";
      }
      if (b.status() == v1::RUNNING) {
        ++running;
        ++running_per_app[b.app()];
        ASSERT_FALSE(b.worker_id().empty());
        ASSERT_TRUE(leases.insert(b.lease_id()).second) << "lease " << b.lease_id() << " twice";
        auto on = scheduler_.RunningOn(b.worker_id());
        ASSERT_NE(std::find(on.begin(), on.end(), id), on.end()) << id;
      }
      if (!Terminal(b.status()) && !b.cancel_requested()) {
        ASSERT_LE(++live_per_branch[std::make_pair(b.app(), b.branch())], 1)
            << "two live builds of " << b.app() << "/" << b.branch();
      }
    }
    ASSERT_EQ(queued, scheduler_.QueuedCount());
    ASSERT_EQ(running, scheduler_.RunningCount());
    for (const auto& [app, n] : running_per_app) {
      int limit = apps_.at(app).max_concurrent_builds();
      ASSERT_LE(n, limit > 0 ? limit : 2) << app;
    }
    // Whoever holds the current lease of a build is the worker the record names.
    std::map<std::string, int> holders;
    for (const auto& [wid, w] : workers_) {
      for (const auto& [id, lease] : w.held) {
        const v1::Build& b = store_.at(id);
        if (b.status() == v1::RUNNING && b.lease_id() == lease) {
          ASSERT_EQ(b.worker_id(), wid);
          ASSERT_LE(++holders[id], 1);
        }
      }
    }
  }

  std::mt19937 rng_;
  absl::Time now_ = absl::FromUnixSeconds(1'700'000'000);
  Scheduler scheduler_;
  std::map<std::string, v1::App> apps_;
  std::map<std::string, SimWorker> workers_;
  std::map<std::string, v1::Build> store_;
  std::set<std::string> submitted_;
  std::map<std::pair<std::string, std::string>, uint64_t> newest_submitted_;
  std::vector<v1::Build> pending_;
  uint64_t next_seq_ = 0;
};

TEST(SchedulerPropertyTest, RandomRunsKeepEveryInvariantAndEveryBuildEnds) {
  for (uint32_t seed = 1; seed <= 150; ++seed) {
    SCOPED_TRACE(absl::StrCat("seed ", seed));
    Simulation sim(seed);
    for (int step = 0; step < 400; ++step) {
      sim.Step();
      if (::testing::Test::HasFatalFailure()) return;
    }
    sim.Drain();
    if (::testing::Test::HasFatalFailure()) return;
  }
}

}  // namespace
}  // namespace tempa::coordinator
