#include "worker/cli/farm/deploy_format.h"

#include <algorithm>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "worker/cli/farm/deploy_units.h"
#include "worker/cli/farm/farm_format.h"

namespace tempa::cli::farm {
namespace {

std::string Outcome(const tempa::v1::Deploy& deploy) {
  if (deploy.status() == tempa::v1::DEPLOYED && !deploy.urls().empty()) {
    return absl::StrJoin(deploy.urls(), " ");
  }
  return TerminalSafe(deploy.reason(), false);
}

}  // namespace

Fields DeploySettingsFields(const tempa::v1::DeploySettings& s) {
  std::string replicas = s.replicas() > 0 ? absl::StrCat(s.replicas()) : "default (1)";
  if (s.max_replicas() > 0) absl::StrAppend(&replicas, ", autoscaled up to ", s.max_replicas());
  return {
      {"memory", FormatMemory(s.memory_bytes())},
      {"cpu", FormatCpu(s.cpu_millis())},
      {"replicas", replicas},
      {"health path", s.health_path().empty() ? "default (/)" : s.health_path()},
      {"port", s.port() > 0 ? absl::StrCat(s.port()) : "default (the image's)"},
      {"deploy env", s.env_names().empty()
                         ? "(none)"
                         : absl::StrCat(absl::StrJoin(s.env_names(), " "), " (values hidden)")},
  };
}

std::string DeployStatusName(tempa::v1::DeployStatus status) {
  return tempa::v1::DeployStatus_Name(status);
}

Fields BuildDeployFields(const tempa::v1::Deploy& deploy) {
  if (deploy.id().empty()) return {};
  Fields fields = {
      {"deploy", absl::StrCat(DeployStatusName(deploy.status()), " (", deploy.id(),
                              deploy.production() ? ", production" : "", ")")},
      {"urls", absl::StrJoin(deploy.urls(), " ")},
      {"deploy reason", TerminalSafe(deploy.reason(), false)},
  };
  return fields;
}

std::string DeploysTable(const tempa::v1::ListDeploysResponse& response, absl::Time now) {
  if (response.deploys().empty()) return "no deploys\n";
  std::vector<std::vector<std::string>> rows = {
      {"ID", "APP", "STATUS", "BUILD", "COMMIT", "TRACK", "AGE", "URLS/REASON"}};
  for (const tempa::v1::Deploy& d : response.deploys()) {
    std::string track = d.track().empty() ? (d.production() ? "production" : "-") : d.track();
    if (d.rollback()) absl::StrAppend(&track, " (rollback)");
    rows.push_back({d.id(), d.app(), DeployStatusName(d.status()), d.build_id(),
                    ShortCommit(d.commit()), track, Age(d.created_unix_ms(), now), Outcome(d)});
  }
  return Table(rows);
}

std::string DeployDetails(const tempa::v1::Deploy& d, absl::Time now) {
  std::string out = absl::StrCat("deploy ", d.id(), d.rollback() ? " (rollback)" : "", "\n");
  Fields fields = {
      {"app", d.app()},
      {"status", DeployStatusName(d.status())},
      {"build", d.build_id()},
      {"commit", d.commit()},
      {"branch", d.branch()},
      {"image", d.image()},
      {"track", d.track()},
      {"urls", absl::StrJoin(d.urls(), " ")},
      {"reason", TerminalSafe(d.reason(), false)},
      {"attempts", d.attempts() > 0 ? absl::StrCat(d.attempts()) : ""},
      {"age", Age(d.created_unix_ms(), now)},
  };
  size_t width = 0;
  for (const auto& [label, value] : fields) {
    if (!value.empty()) width = std::max(width, label.size());
  }
  for (const auto& [label, value] : fields) {
    if (value.empty()) continue;
    absl::StrAppend(&out, "  ", label, ":", std::string(width - label.size() + 2, ' '), value,
                    "\n");
  }
  if (!d.log_tail().empty()) {
    absl::StrAppend(&out, "  log tail:\n");
    for (absl::string_view line : absl::StrSplit(d.log_tail(), '\n')) {
      absl::StrAppend(&out, "    | ", TerminalSafe(line), "\n");
    }
  }
  return out;
}

nlohmann::json DeploysJson(const tempa::v1::ListDeploysResponse& response) {
  nlohmann::json deploys = nlohmann::json::array();
  for (const tempa::v1::Deploy& d : response.deploys()) deploys.push_back(MessageJson(d));
  return {{"deploys", std::move(deploys)}};
}

}  // namespace tempa::cli::farm
