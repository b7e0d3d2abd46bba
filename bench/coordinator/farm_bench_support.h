// farm_bench's helpers: the floor (plain RocksDB), apps to push to, clocks, RSS, percentiles.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "coordinator/core/coordinator.h"
#include "coordinator/core/secret_sealer.h"

namespace tempa::bench {

[[noreturn]] void Die(const std::string& what);
int64_t SteadyNs();  // CLOCK_MONOTONIC: comparable across processes on this machine
// This process's resident set, after handing freed heap back (malloc_trim), and its heap in use.
int64_t RssBytes();
int64_t HeapBytes();
int ThreadCount();  // this process's threads
// The value below which `fraction` of `values` lie (0 when empty); sorts `values`.
double Percentile(std::vector<double>& values, double fraction);

// Creates app-0 .. app-(count-1), from a few threads.
void CreateApps(coordinator::Coordinator& core, int count);

// Durable push events/s by one thread into plain RocksDB at `dir`, one synced write per event,
// each the records AcceptPush writes for one push: the build (and its per-app and unfinished
// index entries), the delivery, the sequence counter.
double RunFloor(const std::string& dir, double seconds, int apps);

// No secrets are used by the bench; the core needs a sealer all the same.
class PlainSealer final : public coordinator::SecretSealer {
 public:
  absl::StatusOr<std::string> Seal(absl::string_view plaintext,
                                   absl::string_view record) const override {
    return std::string(plaintext);
  }
  absl::StatusOr<std::string> Open(absl::string_view sealed,
                                   absl::string_view record) const override {
    return std::string(sealed);
  }
};

}  // namespace tempa::bench
