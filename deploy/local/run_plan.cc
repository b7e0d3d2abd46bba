#include "deploy/local/run_plan.h"

#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"

namespace tempa::deploy {
namespace {

constexpr uint32_t kNobody = 65534;

bool ParseId(absl::string_view text, uint32_t* id) {
  if (text.empty() || !std::all_of(text.begin(), text.end(), absl::ascii_isdigit)) return false;
  return absl::SimpleAtoi(text, id) && *id != 0;
}

bool ValidEnvName(absl::string_view name) {
  if (name.empty() || absl::ascii_isdigit(name[0])) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-') return false;
  }
  return true;
}

// Sets name=value, replacing an earlier value of the same name in place.
void SetEnv(std::vector<std::pair<std::string, std::string>>& env, absl::string_view name,
            absl::string_view value) {
  for (auto& [n, v] : env) {
    if (n == name) {
      v = std::string(value);
      return;
    }
  }
  env.emplace_back(std::string(name), std::string(value));
}

}  // namespace

void ResolveUser(absl::string_view user, uint32_t* uid, uint32_t* gid) {
  *uid = kNobody;
  *gid = kNobody;
  std::pair<absl::string_view, absl::string_view> parts =
      absl::StrSplit(user, absl::MaxSplits(':', 1));
  uint32_t u = 0;
  if (!ParseId(parts.first, &u)) return;  // a name, root or nothing: nobody
  *uid = u;
  uint32_t g = 0;
  if (ParseId(parts.second, &g)) *gid = g;
}

absl::StatusOr<RunPlan> ResolveRunPlan(absl::string_view image, const ImageRunConfig& config,
                                       const std::map<std::string, std::string>& release_env,
                                       int port) {
  RunPlan plan;
  plan.args = config.entrypoint;
  plan.args.insert(plan.args.end(), config.cmd.begin(), config.cmd.end());
  if (plan.args.empty() || plan.args[0].empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("image ", image,
                     " says nothing to run (its config has no Entrypoint and no Cmd): set CMD or "
                     "ENTRYPOINT when building it"));
  }
  std::vector<std::pair<std::string, std::string>> env;
  for (const std::string& entry : config.env) {
    size_t eq = entry.find('=');
    if (eq == std::string::npos || eq == 0) continue;  // not K=V: not an environment entry
    SetEnv(env, absl::string_view(entry).substr(0, eq), absl::string_view(entry).substr(eq + 1));
  }
  for (const auto& [name, value] : release_env) {
    if (!ValidEnvName(name)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "env name \"", name, "\" is not a valid variable name: use letters, digits and '_'"));
    }
    SetEnv(env, name, value);
  }
  SetEnv(env, "PORT", absl::StrCat(port));
  for (auto& [name, value] : env) plan.env.push_back(absl::StrCat(name, "=", value));
  plan.cwd = config.working_dir.empty() ? "/" : config.working_dir;
  ResolveUser(config.user, &plan.uid, &plan.gid);
  return plan;
}

std::string ContainerIdFor(absl::string_view app, absl::string_view track,
                           absl::string_view deploy_id) {
  std::string id = absl::StrCat("tempa-", app, "-", track, "-", deploy_id);
  for (char& c : id) {
    if (!absl::ascii_isalnum(c) && c != '_' && c != '.' && c != '-') c = '-';
  }
  if (id.size() > 120) id.resize(120);
  return id;
}

}  // namespace tempa::deploy
