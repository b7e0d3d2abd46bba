// state_bench: durable push events accepted per second by the coordinator's state store, against
// the floor in the same run. An event is what a webhook push writes: one Build record (with its
// per-app and unfinished index entries) and one delivery record, made durable before the client
// is answered. Rows:
//   floor            one thread, plain RocksDB, one synced write per event (no batching at all)
//   rocksdb-writers  C threads, plain RocksDB, each event its own synced Write: RocksDB's write
//                    thread groups concurrent synced writers (the leader fsyncs for them all)
//   store            C client threads, each Commit()ing through the StateStore (group commit:
//                    with nothing queued ahead, a Commit joins RocksDB's write thread)
//   store-async      the same through CommitAsync, each client waiting for its callback: the
//                    store's own queue (one group at a time, callbacks on the writer thread)
//   store-unsynced   the store with sync off: what the fsyncs cost
// Mean group = events per WAL sync (RocksDB's WAL_FILE_SYNCED ticker for the plain rows, the
// store's write_stats() for the store rows).
//
// Every row runs --repeat times, interleaved; the table shows the median and the range (this
// machine's fsync latency swings with whatever else runs on it).
//
// Usage: state_bench [--seconds=3] [--repeat=3] [--clients=1,16,64,256] [--dir=$TMPDIR]
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <functional>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "absl/synchronization/notification.h"
#include "coordinator/state/state_store.h"
#include "rocksdb/db.h"
#include "rocksdb/statistics.h"
#include "tempa/v1/farm.pb.h"

namespace fs = std::filesystem;
using tempa::coordinator::BuildIdFor;
using tempa::coordinator::OpenRocksdbStateStore;
using tempa::coordinator::StateStore;
using tempa::coordinator::StateStoreOptions;

namespace {

struct Flags {
  double seconds = 3;
  int repeat = 3;
  std::vector<int> clients = {1, 16, 64, 256};
  std::string dir;
};

struct Result {
  uint64_t events = 0;
  double seconds = 0;
  double mean_group = 0;
  double rate() const { return seconds > 0 ? events / seconds : 0; }
};

tempa::v1::Build EventBuild(uint64_t sequence) {
  tempa::v1::Build build;
  build.set_id(BuildIdFor(sequence));
  build.set_sequence(sequence);
  build.set_app("app-" + std::to_string(sequence % 50));
  build.set_branch("main");
  build.set_commit("3f786850e387550fdab836ed7e6dc881de23001b");
  build.set_status(tempa::v1::QUEUED);
  build.set_trigger(tempa::v1::WEBHOOK);
  build.set_delivery_id("72d3162e-cc78-11e3-81ab-4c9367dc0958-" + std::to_string(sequence));
  build.set_queued_unix_ms(1700000000000);
  return build;
}

// Runs `clients` threads calling `event(sequence)` until `seconds` elapsed.
Result RunClients(int clients, double seconds, const std::function<bool(uint64_t)>& event) {
  std::atomic<uint64_t> next{1};
  std::atomic<bool> stop{false};
  std::atomic<bool> failed{false};
  std::vector<std::thread> threads;
  auto start = std::chrono::steady_clock::now();
  for (int c = 0; c < clients; ++c) {
    threads.emplace_back([&] {
      while (!stop.load(std::memory_order_relaxed)) {
        if (!event(next.fetch_add(1))) {
          failed = true;
          return;
        }
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  for (auto& thread : threads) thread.join();
  Result result;
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.events = next.load() - 1 - clients;  // each thread's last fetch_add may be unwritten
  if (failed) {
    fprintf(stderr, "state_bench: a write failed\n");
    exit(1);
  }
  return result;
}

// The same records as the store writes, by hand in one plain RocksDB column family.
Result RunPlainRocksdb(const std::string& dir, int clients, double seconds) {
  rocksdb::Options options;
  options.create_if_missing = true;
  options.statistics = rocksdb::CreateDBStatistics();
  rocksdb::DB* raw = nullptr;
  rocksdb::Status opened = rocksdb::DB::Open(options, dir, &raw);
  if (!opened.ok()) {
    fprintf(stderr, "state_bench: open %s: %s\n", dir.c_str(), opened.ToString().c_str());
    exit(1);
  }
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions sync;
  sync.sync = true;
  Result result = RunClients(clients, seconds, [&](uint64_t sequence) {
    tempa::v1::Build build = EventBuild(sequence);
    std::string key = "b/" + std::to_string(sequence);
    tempa::v1::WebhookDelivery delivery;
    delivery.set_id(build.delivery_id());
    delivery.add_build_ids(build.id());
    rocksdb::WriteBatch batch;
    batch.Put(key, build.SerializeAsString()).PermitUncheckedError();
    batch.Put("a/" + build.app() + "/" + key, "").PermitUncheckedError();
    batch.Put("u/" + key, "").PermitUncheckedError();
    batch.Put("d/" + delivery.id(), delivery.SerializeAsString()).PermitUncheckedError();
    return db->Write(sync, &batch).ok();
  });
  uint64_t syncs = options.statistics->getTickerCount(rocksdb::WAL_FILE_SYNCED);
  result.mean_group = syncs ? static_cast<double>(result.events) / syncs : 0;
  db->Close().PermitUncheckedError();
  return result;
}

enum class Mode { kCommit, kCommitAsync };

Result RunStore(const std::string& dir, int clients, double seconds, bool sync,
                Mode mode = Mode::kCommit) {
  auto opened = OpenRocksdbStateStore(dir, StateStoreOptions{.sync = sync});
  if (!opened.ok()) {
    fprintf(stderr, "state_bench: %s\n", opened.status().ToString().c_str());
    exit(1);
  }
  StateStore& store = **opened;
  Result result = RunClients(clients, seconds, [&](uint64_t sequence) {
    tempa::v1::Build build = EventBuild(sequence);
    auto batch = store.NewBatch();
    batch->PutBuild(build);
    batch->PutDelivery(build.delivery_id(), {build.id()}, build.queued_unix_ms());
    if (mode == Mode::kCommit) return store.Commit(std::move(batch)).ok();
    absl::Notification durable;
    bool ok = false;
    store.CommitAsync(std::move(batch), [&](absl::Status status) {
      ok = status.ok();
      durable.Notify();
    });
    durable.WaitForNotification();
    return ok;
  });
  StateStore::WriteStats stats = store.write_stats();
  result.mean_group = stats.groups ? static_cast<double>(stats.batches) / stats.groups : 0;
  return result;
}

bool ParseFlags(int argc, char** argv, Flags* flags) {
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg.rfind("--seconds=", 0) == 0) {
      if (!absl::SimpleAtod(arg.substr(10), &flags->seconds)) return false;
    } else if (arg.rfind("--repeat=", 0) == 0) {
      if (!absl::SimpleAtoi(arg.substr(9), &flags->repeat) || flags->repeat < 1) return false;
    } else if (arg.rfind("--clients=", 0) == 0) {
      flags->clients.clear();
      for (absl::string_view part : absl::StrSplit(arg.substr(10), ',')) {
        int clients = 0;
        if (!absl::SimpleAtoi(part, &clients) || clients < 1) return false;
        flags->clients.push_back(clients);
      }
      if (flags->clients.empty()) return false;
    } else if (arg.rfind("--dir=", 0) == 0) {
      flags->dir = arg.substr(6);
    } else {
      return false;
    }
  }
  return true;
}

}  // namespace

// Median by rate of one row's repeats, with the lowest and highest rate seen.
struct Summary {
  Result median;
  double low = 0, high = 0;
};
Summary Summarize(std::vector<Result> results) {
  std::sort(results.begin(), results.end(),
            [](const Result& a, const Result& b) { return a.rate() < b.rate(); });
  return Summary{results[results.size() / 2], results.front().rate(), results.back().rate()};
}

int main(int argc, char** argv) {
  Flags flags;
  if (!ParseFlags(argc, argv, &flags)) {
    fprintf(stderr,
            "usage: state_bench [--seconds=3] [--repeat=3] [--clients=1,16,64,256] [--dir=DIR]\n");
    return 2;
  }
  std::string base = flags.dir.empty() ? fs::temp_directory_path().string() : flags.dir;
  std::string root = base + "/tempa-state-bench-XXXXXX";
  if (mkdtemp(root.data()) == nullptr) {
    perror("state_bench: mkdtemp");
    return 1;
  }
  int run = 0;
  auto fresh = [&] { return root + "/" + std::to_string(run++); };
  const int most = flags.clients.back();

  // Rows are interleaved round by round so that a burst of load from elsewhere on the machine
  // hits every row alike; each row reports its median round.
  std::vector<Result> floor_runs, unsynced_runs;
  std::map<int, std::vector<Result>> plain_runs, store_runs, async_runs;
  for (int round = 0; round < flags.repeat; ++round) {
    fprintf(stderr, "state_bench: round %d of %d\n", round + 1, flags.repeat);
    floor_runs.push_back(RunPlainRocksdb(fresh(), 1, flags.seconds));
    for (int clients : flags.clients) {
      plain_runs[clients].push_back(RunPlainRocksdb(fresh(), clients, flags.seconds));
      store_runs[clients].push_back(RunStore(fresh(), clients, flags.seconds, /*sync=*/true));
      async_runs[clients].push_back(
          RunStore(fresh(), clients, flags.seconds, /*sync=*/true, Mode::kCommitAsync));
    }
    unsynced_runs.push_back(RunStore(fresh(), most, flags.seconds, /*sync=*/false));
  }
  std::error_code ignored;
  fs::remove_all(root, ignored);

  Summary floor = Summarize(floor_runs);
  printf(
      "durable push events (1 Build + 1 delivery each): median of %d rounds of %.1f s, %u cores,"
      " dir %s\nfloor: one synced write per event = %.2f ms per synced write\n\n",
      flags.repeat, flags.seconds, std::thread::hardware_concurrency(), base.c_str(),
      floor.median.rate() > 0 ? 1000 / floor.median.rate() : 0);
  printf("%-16s %7s %10s %17s %10s %9s\n", "row", "clients", "events/s", "(min-max)", "mean group",
         "vs floor");
  auto row = [&](const char* name, int clients, const Summary& summary) {
    char range[32];
    snprintf(range, sizeof range, "(%.0f-%.0f)", summary.low, summary.high);
    printf("%-16s %7d %10.0f %17s %10.1f %8.1fx\n", name, clients, summary.median.rate(), range,
           summary.median.mean_group,
           floor.median.rate() > 0 ? summary.median.rate() / floor.median.rate() : 0);
  };
  row("floor", 1, floor);
  for (int clients : flags.clients) {
    row("rocksdb-writers", clients, Summarize(plain_runs[clients]));
    row("store", clients, Summarize(store_runs[clients]));
    row("store-async", clients, Summarize(async_runs[clients]));
  }
  row("store-unsynced", most, Summarize(unsynced_runs));
  return 0;
}
