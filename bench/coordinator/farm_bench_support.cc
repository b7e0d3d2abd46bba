#include "bench/coordinator/farm_bench_support.h"

#include <malloc.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "coordinator/state/state_store.h"
#include "rocksdb/db.h"
#include "tempa/v1/control.pb.h"
#include "tempa/v1/farm.pb.h"

namespace tempa::bench {

void Die(const std::string& what) {
  fprintf(stderr, "farm_bench: %s\n", what.c_str());
  fflush(stderr);
  _exit(1);
}

int64_t SteadyNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

int64_t RssBytes() {
  malloc_trim(0);
  std::ifstream statm("/proc/self/statm");
  int64_t size = 0, resident = 0;
  statm >> size >> resident;
  return resident * sysconf(_SC_PAGESIZE);
}

int64_t HeapBytes() { return static_cast<int64_t>(mallinfo2().uordblks); }

int ThreadCount() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line)) {
    if (line.rfind("Threads:", 0) == 0) return std::atoi(line.c_str() + 8);
  }
  return 0;
}

double Percentile(std::vector<double>& values, double fraction) {
  if (values.empty()) return 0;
  std::sort(values.begin(), values.end());
  size_t index = std::min(values.size() - 1, static_cast<size_t>(fraction * values.size()));
  return values[index];
}

void CreateApps(coordinator::Coordinator& core, int count) {
  std::atomic<int> next{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 16; ++t) {
    threads.emplace_back([&] {
      for (int i = next++; i < count; i = next++) {
        v1::CreateAppRequest request;
        request.mutable_app()->set_name(absl::StrCat("app-", i));
        request.mutable_app()->set_repo_url(absl::StrCat("https://git.example/r/app-", i, ".git"));
        request.mutable_app()->set_branch("main");
        if (auto app = core.CreateApp(request); !app.ok()) Die(app.status().ToString());
      }
    });
  }
  for (std::thread& thread : threads) thread.join();
}

double RunFloor(const std::string& dir, double seconds, int apps) {
  rocksdb::Options options;
  options.create_if_missing = true;
  rocksdb::DB* raw = nullptr;
  rocksdb::Status opened = rocksdb::DB::Open(options, dir, &raw);
  if (!opened.ok()) Die(absl::StrCat("open ", dir, ": ", opened.ToString()));
  std::unique_ptr<rocksdb::DB> db(raw);
  rocksdb::WriteOptions sync;
  sync.sync = true;
  auto start = std::chrono::steady_clock::now();
  auto end = start + std::chrono::duration<double>(seconds);
  uint64_t events = 0;
  while (std::chrono::steady_clock::now() < end) {
    uint64_t seq = ++events;
    v1::Build build;
    build.set_id(coordinator::BuildIdFor(seq));
    build.set_sequence(seq);
    build.set_app(absl::StrCat("app-", seq % apps));
    build.set_branch(absl::StrCat("b", seq));
    build.set_commit(absl::StrFormat("%040x", seq));
    build.set_status(v1::QUEUED);
    build.set_trigger(v1::WEBHOOK);
    build.set_delivery_id(absl::StrCat("delivery-", seq));
    build.set_queued_unix_ms(1700000000000);
    v1::WebhookDelivery delivery;
    delivery.set_id(build.delivery_id());
    delivery.add_build_ids(build.id());
    std::string key = absl::StrCat("b/", seq);
    rocksdb::WriteBatch batch;
    batch.Put(key, build.SerializeAsString()).PermitUncheckedError();
    batch.Put(absl::StrCat("a/", build.app(), "/", key), "").PermitUncheckedError();
    batch.Put(absl::StrCat("u/", key), "").PermitUncheckedError();
    batch.Put(absl::StrCat("d/", delivery.id()), delivery.SerializeAsString())
        .PermitUncheckedError();
    batch.Put("c/next_build_sequence", std::to_string(seq + 1)).PermitUncheckedError();
    rocksdb::Status written = db->Write(sync, &batch);
    if (!written.ok()) Die(absl::StrCat("floor write: ", written.ToString()));
  }
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  db->Close().PermitUncheckedError();
  return events / elapsed;
}

}  // namespace tempa::bench
