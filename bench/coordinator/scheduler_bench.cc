// scheduler_bench: what one scheduler call costs with a farm-sized queue, so the coordinator's
// lock is never held long: 1,000 workers, 5,000 queued builds over 100 apps on many branches.
//   DispatchThousandWaitingWorkers  one Dispatch matching 1,000 waiting workers at once
//   DispatchOneWorker               one worker's LeaseJob (Dispatch({w})) with 5,000 queued
//   BuildLifecycle                  Submit + Dispatch({w}) + Complete, queue held at 5,000
//   HeartbeatOneWorker              one worker's heartbeat for its 2 leases, 1,000 running
//   ExpireAndRequeue                a lease expiring into a requeue
// Usage: scheduler_bench [--benchmark_filter=REGEX]
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "benchmark/benchmark.h"
#include "coordinator/scheduler/scheduler.h"

namespace tempa::coordinator {
namespace {

constexpr int kApps = 100;
constexpr int kWorkers = 1000;
constexpr int kQueued = 5000;

SchedulerOptions Options() {
  SchedulerOptions options;
  options.lease_ttl = absl::Seconds(30);
  options.default_app_concurrency = 20;  // 100 apps x 20 >= 1,000 workers
  return options;
}

v1::Build NewBuild(uint64_t seq) {
  v1::Build b;
  b.set_id(absl::StrCat("b-", seq));
  b.set_sequence(seq);
  b.set_app(absl::StrCat("app-", seq % kApps));
  b.set_branch(absl::StrCat("branch-", seq));  // no coalescing: every build stays queued
  b.set_status(v1::QUEUED);
  return b;
}

std::vector<std::string> Workers() {
  std::vector<std::string> w;
  for (int i = 0; i < kWorkers; ++i) w.push_back(absl::StrCat("worker-", i));
  return w;
}

struct Farm {
  Scheduler scheduler{Options()};
  absl::Time now = absl::FromUnixSeconds(1'700'000'000);
  uint64_t next_seq = 0;
  void Fill(int n) {
    for (int i = 0; i < n; ++i) scheduler.Submit(NewBuild(++next_seq), now);
  }
};

void DispatchThousandWaitingWorkers(benchmark::State& state) {
  const std::vector<std::string> workers = Workers();
  for (auto _ : state) {
    state.PauseTiming();
    auto farm = std::make_unique<Farm>();
    farm->Fill(kQueued);
    BuildChanges changes;
    changes.reserve(kWorkers);
    state.ResumeTiming();
    auto assigned = farm->scheduler.Dispatch(workers, farm->now, &changes);
    benchmark::DoNotOptimize(assigned);
    state.PauseTiming();
    if (assigned.size() != static_cast<size_t>(kWorkers)) state.SkipWithError("short dispatch");
    farm.reset();
    state.ResumeTiming();
  }
}
BENCHMARK(DispatchThousandWaitingWorkers)->Unit(benchmark::kMillisecond);

void DispatchOneWorker(benchmark::State& state) {
  const std::vector<std::string> workers = Workers();
  Farm farm;
  farm.Fill(kQueued);
  size_t i = 0;
  BuildChanges changes;
  for (auto _ : state) {
    changes.clear();
    auto assigned = farm.scheduler.Dispatch({workers[i++ % kWorkers]}, farm.now, &changes);
    if (assigned.empty()) {
      state.PauseTiming();  // every app at its limit: free them all
      for (const std::string& w : workers) {
        for (const std::string& id : farm.scheduler.RunningOn(w)) {
          farm.scheduler.Cancel(id, farm.now, nullptr);
        }
      }
      farm.now += absl::Seconds(31);
      farm.scheduler.ExpireLeases(farm.now);
      farm.Fill(kQueued - farm.scheduler.QueuedCount());
      state.ResumeTiming();
    }
    benchmark::DoNotOptimize(assigned);
  }
}
BENCHMARK(DispatchOneWorker)->Unit(benchmark::kMicrosecond);

void BuildLifecycle(benchmark::State& state) {
  const std::vector<std::string> workers = Workers();
  Farm farm;
  farm.Fill(kQueued);
  BuildChanges warm;
  farm.scheduler.Dispatch(workers, farm.now, &warm);  // 1,000 running
  farm.Fill(kWorkers);                                // back to 5,000 queued
  v1::BuildResult ok;
  ok.set_succeeded(true);
  ok.set_image("registry/app@sha256:00");
  size_t i = 0;
  BuildChanges changes;
  for (auto _ : state) {
    changes.clear();
    farm.scheduler.Submit(NewBuild(++farm.next_seq), farm.now);
    auto assigned = farm.scheduler.Dispatch({workers[i++ % kWorkers]}, farm.now, &changes);
    if (!assigned.empty()) {
      const v1::Build& b = assigned[0].build;
      farm.scheduler.Complete(b.id(), b.lease_id(), ok, farm.now, &changes);
    }
  }
}
BENCHMARK(BuildLifecycle)->Unit(benchmark::kMicrosecond);

void HeartbeatOneWorker(benchmark::State& state) {
  const std::vector<std::string> workers = Workers();
  Farm farm;
  farm.Fill(kQueued);
  std::vector<std::string> doubled;
  for (const std::string& w : workers) doubled.insert(doubled.end(), {w, w});
  BuildChanges changes;
  auto assigned = farm.scheduler.Dispatch(doubled, farm.now, &changes);
  std::map<std::string, std::vector<std::string>> by_worker;
  for (const Assignment& a : assigned) by_worker[a.worker_id].push_back(a.build.lease_id());
  size_t i = 0;
  for (auto _ : state) {
    const std::string& w = workers[i++ % kWorkers];
    std::vector<std::string> cancel, lost;
    changes.clear();
    farm.scheduler.Heartbeat(w, by_worker[w], farm.now, &cancel, &lost, &changes);
    benchmark::DoNotOptimize(lost);
  }
}
BENCHMARK(HeartbeatOneWorker)->Unit(benchmark::kMicrosecond);

void ExpireAndRequeue(benchmark::State& state) {
  const std::vector<std::string> workers = Workers();
  Farm farm;
  farm.Fill(kQueued);
  BuildChanges changes;
  size_t i = 0;
  for (auto _ : state) {
    changes.clear();
    auto assigned = farm.scheduler.Dispatch({workers[i++ % kWorkers]}, farm.now, &changes);
    farm.now += absl::Seconds(31);
    benchmark::DoNotOptimize(farm.scheduler.ExpireLeases(farm.now));
    if (farm.scheduler.QueuedCount() < kQueued / 2) {  // out of attempts, they FAIL: refill
      state.PauseTiming();
      farm.Fill(kQueued - farm.scheduler.QueuedCount());
      state.ResumeTiming();
    }
  }
}
BENCHMARK(ExpireAndRequeue)->Unit(benchmark::kMicrosecond);

}  // namespace
}  // namespace tempa::coordinator

BENCHMARK_MAIN();
