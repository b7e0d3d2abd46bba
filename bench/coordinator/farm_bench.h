// farm_bench's two halves: the coordinator side (farm_bench.cc) and the simulated workers it
// starts in a child process (farm_bench_workers.cc).
#pragma once

#include <string>

namespace tempa::bench {

// Runs `count` simulated workers against the
// coordinator at `target` until stdin closes; prints "ready" once every worker registered and its
// first long-poll is on its way, then one "job COMMIT STEADY_NS" line per job received. A line
// "build MS" on stdin makes every later job take MS before its CompleteJob (0 at first). Does not
// return on success.
int RunSimulatedWorkers(const std::string& target, int count);

}  // namespace tempa::bench
