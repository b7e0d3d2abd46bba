// farm_bench: the coordinator alone, with simulated workers over loopback gRPC, at 10, 100 and
// 1,000 workers; beside it, in the same run, the floor (plain RocksDB, one synced write per event).
//
// The coordinator is the real core (Coordinator over RocksdbStateStore in a temp dir, the real
// Scheduler) behind the real CoordinatorServer on 127.0.0.1, in this process; the workers run in a
// child process (this binary again, see farm_bench_workers.cc), one channel and TCP connection
// each, making real WorkerService calls (RegisterWorker, LeaseJob long-polls, CompleteJob). In
// process rather than the tempa-coordinator binary so the bench drives the webhook's durable
// path, Coordinator::AcceptPush, directly (no HTTP parsing or HMAC in the figure) and reads the
// core's counters; the workers in a child so the RSS delta is the coordinator's alone.
// Per worker count:
//   accepted/s    durable push events/s: --clients threads call AcceptPush back to back, each
//                 push a distinct delivery id, a distinct branch of one of --apps apps (so
//                 coalescing supersedes nothing), while the workers lease builds, take
//                 --build-ms over each (a fast real build takes seconds; 0: the workers churn as
//                 fast as gRPC allows) and complete them
//   dispatched/s  builds handed to workers (durably leased) meanwhile
//   floor/s       the same records by one thread into plain RocksDB, one synced write each
//   p50/p99       dispatch latency at a paced --latency-rate pushes/s: from the AcceptPush call
//                 to the LeaseJob answer reaching the worker (CLOCK_MONOTONIC on both sides)
//   KiB/worker    coordinator RSS delta / workers, every worker registered and idle in a
//                 long-poll (heap KiB: malloc's bytes in use, the same way; +threads: threads
//                 the coordinator process gained meanwhile: long-polls hold none)
//
// Usage: farm_bench [--workers=10,100,1000] [--seconds=3] [--clients=64] [--apps=1000]
//                   [--latency-rate=500] [--latency-seconds=4] [--build-ms=1000]
#include "bench/coordinator/farm_bench.h"

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/mutex.h"
#include "bench/coordinator/farm_bench_support.h"
#include "coordinator/auth/authorizer.h"
#include "coordinator/core/coordinator.h"
#include "coordinator/service/coordinator_server.h"
#include "coordinator/state/state_store.h"
#include "grpcpp/grpcpp.h"
#include "tests/support/temp_dir.h"

extern char** environ;

namespace tempa::bench {
namespace {

using coordinator::PushTarget;

struct Flags {
  std::vector<int> workers = {10, 100, 1000};
  double seconds = 3;
  int clients = 64;
  int apps = 1000;
  double latency_rate = 500;
  double latency_seconds = 4;
  int build_ms = 1000;
};

struct Row {
  int workers = 0;
  double accepted = 0, dispatched = 0, floor = 0;
  double p50_ms = 0, p99_ms = 0, rate = 0;
  size_t samples = 0;
  double kib_per_worker = 0, heap_kib_per_worker = 0;
  int threads_added = 0;  // by the connected, idle workers
  double mean_group = 0;  // batches per synced write while pushing
};

// The child process running the simulated workers; its stdout read by a thread of ours.
class WorkerProcess {
 public:
  WorkerProcess(const std::string& target, int count, size_t latency_slots)
      : received_ns_(latency_slots, 0) {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) Die("pipe");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, in[0], STDIN_FILENO);
    posix_spawn_file_actions_adddup2(&actions, out[1], STDOUT_FILENO);
    posix_spawn_file_actions_addclose(&actions, in[1]);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    std::string self = "/proc/self/exe", mode = "--simulate-workers";
    std::string count_arg = std::to_string(count), target_arg = target;
    char* argv[] = {self.data(), mode.data(), target_arg.data(), count_arg.data(), nullptr};
    if (posix_spawn(&pid_, "/proc/self/exe", &actions, nullptr, argv, environ) != 0) Die("spawn");
    posix_spawn_file_actions_destroy(&actions);
    close(in[0]);
    close(out[1]);
    stdin_ = in[1];
    reader_ = std::thread([this, fd = out[0]] { Read(fd); });
  }
  ~WorkerProcess() {
    close(stdin_);
    int status = 0;
    waitpid(pid_, &status, 0);
    reader_.join();
  }

  void SetBuildTime(int ms) {
    std::string line = absl::StrCat("build ", ms, "\n");
    if (write(stdin_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) {
      Die("telling the workers their build time");
    }
  }
  bool WaitReady(absl::Duration timeout) {
    absl::MutexLock lock(&mu_);
    return mu_.AwaitWithTimeout(absl::Condition(&ready_), timeout);
  }
  // When the job with latency sequence `seq` reached its worker (0: not yet).
  int64_t ReceivedNs(size_t seq) {
    absl::MutexLock lock(&mu_);
    return seq < received_ns_.size() ? received_ns_[seq] : 0;
  }

 private:
  void Read(int fd) {
    FILE* in = fdopen(fd, "r");
    char* line = nullptr;
    size_t size = 0;
    while (getline(&line, &size, in) > 0) {
      std::vector<absl::string_view> parts =
          absl::StrSplit(absl::StripTrailingAsciiWhitespace(line), ' ');
      absl::MutexLock lock(&mu_);
      if (parts.size() == 1 && parts[0] == "ready") ready_ = true;
      if (parts.size() != 3 || parts[0] != "job") continue;
      uint64_t seq = 0;
      int64_t ns = 0;
      if (!absl::SimpleHexAtoi(parts[1], &seq) || !absl::SimpleAtoi(parts[2], &ns)) continue;
      if (seq < received_ns_.size()) received_ns_[seq] = ns;
    }
    free(line);
    fclose(in);
  }

  pid_t pid_ = 0;
  int stdin_ = -1;
  absl::Mutex mu_;
  bool ready_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<int64_t> received_ns_ ABSL_GUARDED_BY(mu_);
  std::thread reader_;
};

PushTarget Target(const Flags& flags, uint64_t seq) {
  return PushTarget{absl::StrCat("app-", seq % flags.apps), absl::StrCat("b", seq),
                    absl::StrFormat("%040x", seq)};
}

void Accept(coordinator::Coordinator& core, const Flags& flags, uint64_t seq) {
  auto accepted = core.AcceptPush(absl::StrCat("delivery-", seq), {Target(flags, seq)});
  if (!accepted.ok() || accepted->size() != 1) {
    Die(absl::StrCat("AcceptPush: ", accepted.status().ToString()));
  }
}

Row RunRow(const Flags& flags, int workers) {
  Row row;
  row.workers = workers;
  tempa::testing::TempDir dir("farm-bench-");
  auto store = coordinator::OpenRocksdbStateStore(dir.Join("state"));
  if (!store.ok()) Die(store.status().ToString());
  PlainSealer sealer;
  coordinator::CoordinatorOptions options;
  options.registry = "127.0.0.1:5999";
  coordinator::Coordinator core(store->get(), &sealer, options);
  if (absl::Status s = core.Start(); !s.ok()) Die(s.ToString());
  coordinator::auth::Authorizer open = coordinator::auth::Authorizer::Open();
  coordinator::CoordinatorServer server(&core, &open);
  absl::StatusOr<int> port = server.Start("127.0.0.1:0", grpc::InsecureServerCredentials());
  if (!port.ok()) Die(port.status().ToString());
  CreateApps(core, flags.apps);

  // Memory per idle worker.
  // Builds complete at once while latency is measured; at most 5 pushes/s per worker keeps most
  // workers waiting.
  row.rate = std::min(flags.latency_rate, 5.0 * workers);
  const uint64_t latency_pushes =
      static_cast<uint64_t>(std::max(1.0, row.rate * flags.latency_seconds));
  int64_t rss_before = RssBytes(), heap_before = HeapBytes();
  int threads_before = ThreadCount();
  auto fleet =
      std::make_unique<WorkerProcess>(absl::StrCat("127.0.0.1:", *port), workers, latency_pushes);
  if (!fleet->WaitReady(absl::Seconds(120))) Die("the simulated workers did not start");
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  while (core.stats().waiting_polls < workers) {
    if (absl::Now() > deadline) Die("the workers' long-polls did not all arrive");
    absl::SleepFor(absl::Milliseconds(10));
  }
  absl::SleepFor(absl::Milliseconds(500));
  row.kib_per_worker = (RssBytes() - rss_before) / 1024.0 / workers;
  row.heap_kib_per_worker = (HeapBytes() - heap_before) / 1024.0 / workers;
  row.threads_added = ThreadCount() - threads_before;

  // Dispatch latency at a paced rate, spread over a few pushers.
  std::vector<int64_t> sent_ns(latency_pushes, 0);
  {
    constexpr int kPushers = 4;
    std::vector<std::thread> pushers;
    auto start = std::chrono::steady_clock::now();
    for (int p = 0; p < kPushers; ++p) {
      pushers.emplace_back([&, p] {
        for (uint64_t seq = p; seq < latency_pushes; seq += kPushers) {
          std::this_thread::sleep_until(start + std::chrono::duration<double>(seq / row.rate));
          sent_ns[seq] = SteadyNs();
          Accept(core, flags, seq);
        }
      });
    }
    for (std::thread& pusher : pushers) pusher.join();
  }
  absl::SleepFor(absl::Seconds(1));  // the last jobs reach their workers
  std::vector<double> latencies;
  for (uint64_t seq = 0; seq < latency_pushes; ++seq) {
    int64_t received = fleet->ReceivedNs(seq);
    if (received != 0) latencies.push_back((received - sent_ns[seq]) / 1e6);
  }
  row.samples = latencies.size();
  row.p50_ms = Percentile(latencies, 0.50);
  row.p99_ms = Percentile(latencies, 0.99);

  // Durable push events/s with the workers busy.
  fleet->SetBuildTime(flags.build_ms);
  uint64_t dispatched_before = core.stats().dispatches;
  coordinator::StateStore::WriteStats writes_before = (*store)->write_stats();
  std::atomic<uint64_t> next{uint64_t{1} << 32};
  std::atomic<uint64_t> done{0};
  std::atomic<bool> stop{false};
  std::vector<std::thread> clients;
  auto start = std::chrono::steady_clock::now();
  for (int c = 0; c < flags.clients; ++c) {
    clients.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        Accept(core, flags, next.fetch_add(1));
        done.fetch_add(1);
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(flags.seconds));
  uint64_t accepted = done.load();
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  uint64_t dispatched = core.stats().dispatches - dispatched_before;
  coordinator::StateStore::WriteStats writes = (*store)->write_stats();
  if (writes.groups > writes_before.groups) {
    row.mean_group = static_cast<double>(writes.batches - writes_before.batches) /
                     (writes.groups - writes_before.groups);
  }
  stop = true;
  for (std::thread& client : clients) client.join();
  row.accepted = accepted / elapsed;
  row.dispatched = dispatched / elapsed;

  fleet.reset();
  server.Shutdown(absl::ZeroDuration());
  core.Stop();
  store->reset();
  row.floor = RunFloor(dir.Join("floor"), flags.seconds, flags.apps);
  return row;
}

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    auto value = [&](const std::string& name) -> const char* {
      return arg.rfind(name, 0) == 0 ? arg.c_str() + name.size() : nullptr;
    };
    if (const char* v = value("--workers=")) {
      flags->workers.clear();
      for (absl::string_view part : absl::StrSplit(v, ',')) {
        int n = 0;
        if (!absl::SimpleAtoi(part, &n) || n < 1) return false;
        flags->workers.push_back(n);
      }
    } else if (const char* v = value("--seconds=")) {
      if (!absl::SimpleAtod(v, &flags->seconds)) return false;
    } else if (const char* v = value("--clients=")) {
      if (!absl::SimpleAtoi(v, &flags->clients) || flags->clients < 1) return false;
    } else if (const char* v = value("--apps=")) {
      if (!absl::SimpleAtoi(v, &flags->apps) || flags->apps < 1) return false;
    } else if (const char* v = value("--latency-rate=")) {
      if (!absl::SimpleAtod(v, &flags->latency_rate) || flags->latency_rate <= 0) return false;
    } else if (const char* v = value("--build-ms=")) {
      if (!absl::SimpleAtoi(v, &flags->build_ms) || flags->build_ms < 0) return false;
    } else if (const char* v = value("--latency-seconds=")) {
      if (!absl::SimpleAtod(v, &flags->latency_seconds)) return false;
    } else {
      return false;
    }
  }
  return !flags->workers.empty();
}

}  // namespace
}  // namespace tempa::bench

int main(int argc, char** argv) {
  using namespace tempa::bench;
  if (argc == 4 && std::string(argv[1]) == "--simulate-workers") {
    int count = 0;
    if (!absl::SimpleAtoi(argv[3], &count)) return 2;
    return RunSimulatedWorkers(argv[2], count);
  }
  // As tempa-coordinator does (coordinator_main.cc): no deadlock detection.
  absl::SetMutexDeadlockDetectionMode(absl::OnDeadlockCycle::kIgnore);
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) {
    fprintf(stderr,
            "usage: farm_bench [--workers=10,100,1000] [--seconds=3] [--clients=64] "
            "[--apps=1000] [--latency-rate=500] [--latency-seconds=4] [--build-ms=1000]\n");
    return 2;
  }
  std::vector<Row> rows;
  for (int workers : flags.workers) {
    rows.push_back(RunRow(flags, workers));
    fprintf(stderr, "farm_bench: %d workers done\n", workers);
  }
  printf("farm_bench: %d client threads, %d apps, %.0f s per row, builds of %d ms; %u cores\n",
         flags.clients, flags.apps, flags.seconds, flags.build_ms,
         std::thread::hardware_concurrency());
  printf("%7s %11s %8s %8s %6s %10s %12s %7s %7s %16s %10s %10s %8s\n", "workers", "accepted/s",
         "floor/s", "vs floor", "target", "batch/sync", "dispatched/s", "p50 ms", "p99 ms",
         "(paced, n)", "KiB/worker", "heap KiB", "+threads");
  for (const Row& row : rows) {
    printf("%7d %11.0f %8.0f %7.1fx %6s %10.1f %12.0f %7.2f %7.2f %16s %10.1f %10.1f %8d\n",
           row.workers, row.accepted, row.floor, row.floor > 0 ? row.accepted / row.floor : 0,
           row.accepted >= 20000 ? "met" : "MISSED", row.mean_group, row.dispatched, row.p50_ms,
           row.p99_ms, absl::StrFormat("%.0f/s, %zu", row.rate, row.samples).c_str(),
           row.kib_per_worker, row.heap_kib_per_worker, row.threads_added);
  }
  printf("targets on 2 cores: >= 20,000 accepted/s; dispatch p99 <= 10 ms at 1,000 workers\n");
  return 0;
}
