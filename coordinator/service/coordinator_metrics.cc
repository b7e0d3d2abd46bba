#include "coordinator/service/coordinator_metrics.h"

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tempa::coordinator {
namespace {

void Metric(std::string* out, absl::string_view name, absl::string_view type,
            absl::string_view help) {
  absl::StrAppend(out, "# HELP ", name, " ", help, "\n# TYPE ", name, " ", type, "\n");
}

}  // namespace

std::string RenderCoordinatorMetrics(const Coordinator::Stats& stats,
                                     const StateStore::WriteStats& writes) {
  std::string out;
  Metric(&out, "tempa_coordinator_queue_depth_builds", "gauge", "Builds waiting for a worker.");
  absl::StrAppend(&out, "tempa_coordinator_queue_depth_builds ", stats.queued, "\n");
  Metric(&out, "tempa_coordinator_running_builds", "gauge", "Builds a worker holds a lease on.");
  absl::StrAppend(&out, "tempa_coordinator_running_builds ", stats.running, "\n");
  Metric(&out, "tempa_coordinator_builds_finished_total", "counter",
         "Builds that ended since the coordinator started, by status.");
  for (absl::string_view status : {"SUCCEEDED", "FAILED", "CANCELLED", "SUPERSEDED"}) {
    auto it = stats.finished_by_status.find(std::string(status));
    absl::StrAppend(&out, "tempa_coordinator_builds_finished_total{status=\"", status, "\"} ",
                    it == stats.finished_by_status.end() ? 0 : it->second, "\n");
  }
  Metric(&out, "tempa_coordinator_lease_expiries_total", "counter",
         "Leases that expired because their worker fell silent.");
  absl::StrAppend(&out, "tempa_coordinator_lease_expiries_total ", stats.lease_expiries, "\n");
  Metric(&out, "tempa_coordinator_dispatch_latency_seconds", "summary",
         "From a build's acceptance to a worker being handed it.");
  absl::StrAppend(&out, "tempa_coordinator_dispatch_latency_seconds_sum ",
                  absl::StrFormat("%.6f", stats.dispatch_latency_sum_seconds), "\n",
                  "tempa_coordinator_dispatch_latency_seconds_count ", stats.dispatches, "\n");
  Metric(&out, "tempa_coordinator_connected_workers", "gauge", "Workers heard from recently.");
  absl::StrAppend(&out, "tempa_coordinator_connected_workers ", stats.connected_workers, "\n");
  Metric(&out, "tempa_coordinator_waiting_polls", "gauge", "Worker long-polls waiting for a job.");
  absl::StrAppend(&out, "tempa_coordinator_waiting_polls ", stats.waiting_polls, "\n");
  Metric(&out, "tempa_coordinator_state_batches_total", "counter", "State changes made durable.");
  absl::StrAppend(&out, "tempa_coordinator_state_batches_total ", writes.batches, "\n");
  Metric(&out, "tempa_coordinator_state_synced_writes_total", "counter",
         "Synced WAL writes (group commits) that carried them.");
  absl::StrAppend(&out, "tempa_coordinator_state_synced_writes_total ", writes.groups, "\n");
  return out;
}

std::string RenderDeployMetrics(const DeployDispatcher::Stats& stats) {
  std::string out;
  Metric(&out, "tempa_coordinator_deploy_submits_total", "counter",
         "SubmitDeploy calls to tempa-deployer (retries included).");
  absl::StrAppend(&out, "tempa_coordinator_deploy_submits_total ", stats.submits, "\n");
  Metric(&out, "tempa_coordinator_deploy_delivery_failures_total", "counter",
         "Calls to tempa-deployer that failed and are retried.");
  absl::StrAppend(&out, "tempa_coordinator_deploy_delivery_failures_total ",
                  stats.delivery_failures, "\n");
  Metric(&out, "tempa_coordinator_unfinished_deploys", "gauge",
         "Deploy intents PENDING or DEPLOYING.");
  absl::StrAppend(&out, "tempa_coordinator_unfinished_deploys ", stats.unfinished, "\n");
  return out;
}

}  // namespace tempa::coordinator
