// The coordinator's Prometheus metrics (GET /metrics): queue depth, builds by status, lease
// expiries, dispatch latency, workers, and the state store's group commits.
#pragma once

#include <string>

#include "coordinator/core/coordinator.h"
#include "coordinator/state/state_store.h"

namespace tempa::coordinator {

std::string RenderCoordinatorMetrics(const Coordinator::Stats& stats,
                                     const StateStore::WriteStats& writes);

}  // namespace tempa::coordinator
