#include "tests/deploy/core/deploy_test_util.h"

#include "absl/strings/str_cat.h"

namespace tempa::deploy::testing {

tempa::v1::DeployRequest MakeRequest(const std::string& id, const std::string& app,
                                     const std::string& branch, bool production,
                                     int64_t created_ms) {
  tempa::v1::DeployRequest request;
  tempa::v1::Deploy* d = request.mutable_deploy();
  d->set_id(id);
  d->set_app(app);
  d->set_build_id("b-" + id);
  d->set_commit(kTestCommit);
  d->set_branch(branch);
  d->set_production(production);
  d->set_image("127.0.0.1:5000/" + app + "@sha256:" + std::string(64, 'e'));
  d->set_created_unix_ms(created_ms);
  return request;
}

absl::StatusOr<tempa::v1::Deploy> WaitForStatus(DeployerCore& core, const std::string& id,
                                                tempa::v1::DeployStatus status,
                                                absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  uint64_t version = 0;
  tempa::v1::Deploy last;
  while (true) {
    absl::StatusOr<DeployerCore::Versioned> v = core.WaitForChange(id, version, deadline);
    if (!v.ok()) return v.status();
    last = v->deploy;
    if (last.status() == status) return last;
    if (IsTerminal(last.status()) || absl::Now() >= deadline) break;
    version = v->version;
  }
  return absl::DeadlineExceededError(
      absl::StrCat(id, " is ", tempa::v1::DeployStatus_Name(last.status()), ", not ",
                   tempa::v1::DeployStatus_Name(status), " (reason: ", last.reason(), ")"));
}

}  // namespace tempa::deploy::testing
