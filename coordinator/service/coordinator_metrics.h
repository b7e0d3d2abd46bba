// The coordinator's Prometheus metrics (GET /metrics): queue depth, builds by status, lease
// expiries, dispatch latency, workers, and the state store's group commits.
#pragma once

#include <string>

#include "coordinator/core/coordinator.h"
#include "coordinator/deploys/deploy_dispatcher.h"
#include "coordinator/state/state_store.h"

namespace tempa::coordinator {

std::string RenderCoordinatorMetrics(const Coordinator::Stats& stats,
                                     const StateStore::WriteStats& writes);
// With --deployer: deliveries to tempa-deployer.
std::string RenderDeployMetrics(const DeployDispatcher::Stats& stats);

}  // namespace tempa::coordinator
