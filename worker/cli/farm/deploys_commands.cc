// tempa apps set (how an app runs once deployed) | deploys list | deploys rollback.
#include <algorithm>
#include <map>
#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/env_file.h"
#include "worker/cli/farm/deploy_format.h"
#include "worker/cli/farm/deploy_units.h"
#include "worker/cli/farm/farm_format.h"
#include "worker/cli/farm/farm_session.h"

namespace tempa::cli::farm {
namespace {

const std::vector<FlagSpec> kSetFlags = {
    {"--memory", true},      {"--cpu", true},   {"--replicas", true}, {"--max-replicas", true},
    {"--health-path", true}, {"--port", true},  {"--env", true},      {"--env-file", true},
    {"--no-env", false},     {"--json", false}, {"--start", true},
};

// One NAME=VALUE: the error names the place (flag or file line), never the value.
absl::Status AddEnv(absl::string_view where, absl::string_view pair,
                    std::map<std::string, std::string>* env) {
  size_t eq = pair.find('=');
  std::string name(eq == absl::string_view::npos ? pair.substr(0, 0) : pair.substr(0, eq));
  bool valid =
      !name.empty() && (absl::ascii_isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_');
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') valid = false;
  }
  if (!valid) {
    return absl::InvalidArgumentError(absl::StrCat(
        where,
        ": not NAME=VALUE with a NAME of letters, digits and _ (not starting with a digit); "
        "the value is not shown"));
  }
  if (name == "PORT") {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": PORT is set by the deployer; choose the port with --port N"));
  }
  (*env)[name] = std::string(pair.substr(eq + 1));
  return absl::OkStatus();
}

// An env file (common/env_file.h), each pair checked as --env's.
absl::Status ParseEnvFile(absl::string_view content, std::map<std::string, std::string>* env) {
  return ForEachEnvFileLine(
      content, "--env-file",
      [env](const std::string& where, absl::string_view pair) { return AddEnv(where, pair, env); });
}

struct SetRequest {
  tempa::v1::UpdateAppRequest request;
  std::vector<std::string> changed;  // for the answer: "memory", "env"
};

// The flags that need no file; a problem here is a usage error.
absl::StatusOr<SetRequest> ParseSet(const ParsedFlags& flags) {
  SetRequest out;
  tempa::v1::DeploySettings* d = out.request.mutable_app()->mutable_deploy();
  auto touch = [&out](const char* field, const char* label) {
    out.request.add_update_mask(field);
    out.changed.push_back(label);
  };
  if (auto v = flags.Last("--memory")) {
    absl::StatusOr<int64_t> bytes = ParseMemory("--memory", *v);
    if (!bytes.ok()) return bytes.status();
    d->set_memory_bytes(*bytes);
    touch("deploy.memory_bytes", "memory");
  }
  if (auto v = flags.Last("--cpu")) {
    absl::StatusOr<int32_t> millis = ParseCpu("--cpu", *v);
    if (!millis.ok()) return millis.status();
    d->set_cpu_millis(*millis);
    touch("deploy.cpu_millis", "cpu");
  }
  if (auto v = flags.Last("--replicas")) {
    absl::StatusOr<int> n = ParseNonNegativeInt("--replicas", *v);
    if (!n.ok()) return n.status();
    d->set_replicas(*n);
    touch("deploy.replicas", "replicas");
  }
  if (auto v = flags.Last("--max-replicas")) {
    absl::StatusOr<int> n = ParseNonNegativeInt("--max-replicas", *v);
    if (!n.ok()) return n.status();
    d->set_max_replicas(*n);
    touch("deploy.max_replicas", "max replicas");
  }
  if (auto v = flags.Last("--health-path")) {
    if (!v->empty() && (*v)[0] != '/') {
      return absl::InvalidArgumentError(
          absl::StrCat("--health-path \"", *v, "\" must start with / (e.g. /healthz)"));
    }
    d->set_health_path(*v);
    touch("deploy.health_path", "health path");
  }
  if (auto v = flags.Last("--port")) {
    absl::StatusOr<int> n = ParseNonNegativeInt("--port", *v);
    if (!n.ok() || *n > 65535) {
      return absl::InvalidArgumentError(
          absl::StrCat("--port \"", *v, "\" is not a port (1-65535, or 0 for the image's)"));
    }
    d->set_port(*n);
    touch("deploy.port", "port");
  }
  if (auto v = flags.Last("--start")) {
    absl::StatusOr<std::string> start = ParseStartCommand(*v);
    if (!start.ok()) return start.status();
    out.request.mutable_app()->set_start_command(*start);
    touch("start_command", "start command");
  }
  bool env = flags.Has("--env") || flags.Has("--env-file");
  if (env && flags.Has("--no-env")) {
    return absl::InvalidArgumentError("--no-env conflicts with --env and --env-file");
  }
  std::map<std::string, std::string> values;
  for (const std::string& pair : flags.All("--env")) {
    if (absl::Status s = AddEnv("--env", pair, &values); !s.ok()) return s;
  }
  for (const auto& [name, value] : values) (*out.request.mutable_deploy_env())[name] = value;
  if (env || flags.Has("--no-env")) touch("deploy_env", "env");
  return out;
}

}  // namespace

int AppsSet(Session& session, const std::vector<std::string>& args) {
  absl::StatusOr<ParsedFlags> flags = ParseFlags(args, kSetFlags);
  if (!flags.ok()) return session.Usage("apps set", std::string(flags.status().message()));
  if (flags->positionals.size() != 1) {
    return session.Usage(
        "apps set", flags->positionals.empty()
                        ? "which app? name it"
                        : absl::StrCat("one app at a time (got ", flags->positionals.size(), ")"));
  }
  const std::string name = flags->positionals[0];
  absl::StatusOr<SetRequest> set = ParseSet(*flags);
  if (!set.ok()) return session.Usage("apps set", std::string(set.status().message()));
  if (set->request.update_mask().empty()) {
    return session.Usage("apps set", "nothing to change: pass the settings that change");
  }
  if (auto path = flags->Last("--env-file")) {
    absl::StatusOr<std::string> content = session.ReadSecret("--env-file", *path, true);
    if (!content.ok()) return session.Fail(content.status());
    // --env given beside --env-file wins for its names.
    std::map<std::string, std::string> env;
    if (absl::Status s = ParseEnvFile(*content, &env); !s.ok()) return session.Fail(s);
    for (const auto& [key, value] : env) set->request.mutable_deploy_env()->insert({key, value});
  }
  auto* stub = session.Connect();
  if (stub == nullptr) return 1;
  set->request.mutable_app()->set_name(name);
  tempa::v1::App app;
  auto context = session.Context();
  grpc::Status status = stub->UpdateApp(context.get(), set->request, &app);
  if (!status.ok()) return session.Fail(status, {absl::StrCat("set app ", name), "app", name});
  if (flags->Has("--json")) {
    session.out() << MessageJson(app).dump(2) << "\n";
    return 0;
  }
  session.out() << "updated app " << app.name() << " (" << absl::StrJoin(set->changed, ", ")
                << ")\n";
  if (std::find(set->changed.begin(), set->changed.end(), "start command") != set->changed.end()) {
    session.out() << "the next build starts it with: "
                  << (app.start_command().empty()
                          ? "the repository's command (tempa.toml, Procfile or detection)"
                          : app.start_command())
                  << "\n";
  }
  session.out() << "the next deploy runs with:\n";
  for (const auto& [label, value] : DeploySettingsFields(app.deploy())) {
    session.out() << "  " << label << ": " << value << "\n";
  }
  return 0;
}

int DeploysList(Session& session, const std::vector<std::string>& args) {
  absl::StatusOr<ParsedFlags> flags =
      ParseFlags(args, {{"--app", true}, {"--limit", true}, {"--json", false}});
  if (!flags.ok()) return session.Usage("deploys list", std::string(flags.status().message()));
  if (!flags->positionals.empty()) {
    return session.Usage("deploys list",
                         absl::StrCat("unexpected \"", flags->positionals[0], "\""));
  }
  tempa::v1::ListDeploysRequest request;
  request.set_app(flags->Last("--app").value_or(""));
  if (auto limit = flags->Last("--limit")) {
    absl::StatusOr<int> n = ParseNonNegativeInt("--limit", *limit);
    if (!n.ok()) return session.Usage("deploys list", std::string(n.status().message()));
    request.set_limit(*n);
  }
  auto* stub = session.Connect();
  if (stub == nullptr) return 1;
  tempa::v1::ListDeploysResponse response;
  auto context = session.Context();
  grpc::Status status = stub->ListDeploys(context.get(), request, &response);
  if (!status.ok()) return session.Fail(status, {"list deploys", "", ""});
  if (flags->Has("--json")) {
    session.out() << DeploysJson(response).dump(2) << "\n";
  } else {
    session.out() << DeploysTable(response, session.Now());
  }
  return 0;
}

int DeploysRollback(Session& session, const std::vector<std::string>& args) {
  absl::StatusOr<ParsedFlags> flags = ParseFlags(args, {{"--to", true}, {"--json", false}});
  if (!flags.ok()) return session.Usage("deploys rollback", std::string(flags.status().message()));
  if (flags->positionals.size() != 1) {
    return session.Usage("deploys rollback",
                         flags->positionals.empty() ? "which app? name it" : "one app at a time");
  }
  tempa::v1::RollbackAppRequest request;
  request.set_app(flags->positionals[0]);
  request.set_to_build_id(flags->Last("--to").value_or(""));
  auto* stub = session.Connect();
  if (stub == nullptr) return 1;
  tempa::v1::Deploy deploy;
  auto context = session.Context();
  grpc::Status status = stub->RollbackApp(context.get(), request, &deploy);
  if (!status.ok()) {
    return session.Fail(status,
                        {absl::StrCat("roll back app ", request.app()), "app", request.app()});
  }
  if (flags->Has("--json")) {
    session.out() << MessageJson(deploy).dump(2) << "\n";
    return 0;
  }
  session.out() << "rolling back app " << deploy.app() << " to build " << deploy.build_id() << " ("
                << ShortCommit(deploy.commit()) << "); follow it with: tempa deploys list "
                << "--app " << deploy.app() << "\n"
                << DeployDetails(deploy, session.Now());
  return 0;
}

}  // namespace tempa::cli::farm
