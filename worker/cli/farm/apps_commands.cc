// tempa apps create | list | show | update | delete.
#include <algorithm>
#include <map>
#include <optional>
#include <ostream>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "worker/cli/farm/farm_format.h"
#include "worker/cli/farm/farm_session.h"

namespace tempa::cli::farm {
namespace {

using tempa::v1::App;

const std::vector<FlagSpec> kAppFlags = {
    {"--repo", true},
    {"--branch", true},
    {"--path", true},
    {"--env", true},
    {"--webhook-secret-file", true},
    {"--git-token-file", true},
    {"--git-username", true},
    {"--ssh-key-file", true},
    {"--ssh-known-hosts-file", true},
    {"--poll-interval", true},
    {"--max-concurrent", true},
    {"--start", true},
    {"--json", false},
};

std::vector<FlagSpec> UpdateFlags() {
  std::vector<FlagSpec> flags = kAppFlags;
  flags.push_back({"--unset-env", true});
  flags.push_back({"--no-webhook-secret", false});
  flags.push_back({"--no-git-credentials", false});
  return flags;
}

// What the app flags ask for. Fields in `mask` are the ones the flags set.
struct AppChanges {
  App app;
  std::vector<std::string> mask;
  std::map<std::string, std::string> env_set;
  std::vector<std::string> env_unset;
  std::optional<std::string> webhook_secret;
  std::optional<tempa::v1::GitCredentials> git_credentials;

  void Touch(const std::string& field) {
    if (std::find(mask.begin(), mask.end(), field) == mask.end()) mask.push_back(field);
  }
};

// Checks and applies the flags that need no file: a problem here is a usage error.
absl::StatusOr<AppChanges> ParseAppChanges(const ParsedFlags& flags) {
  AppChanges changes;
  if (auto repo = flags.Last("--repo")) {
    if (repo->empty()) return absl::InvalidArgumentError("--repo needs a URL");
    changes.app.set_repo_url(*repo);
    changes.Touch("repo_url");
  }
  if (auto branch = flags.Last("--branch")) {
    if (branch->empty()) return absl::InvalidArgumentError("--branch needs a branch name");
    changes.app.set_branch(*branch);
    changes.Touch("branch");
  }
  if (auto path = flags.Last("--path")) {
    changes.app.set_path(*path);
    changes.Touch("path");
  }
  if (auto start = flags.Last("--start")) {
    absl::StatusOr<std::string> command = ParseStartCommand(*start);
    if (!command.ok()) return command.status();
    changes.app.set_start_command(*command);
    changes.Touch("start_command");
  }
  for (const std::string& pair : flags.All("--env")) {
    size_t eq = pair.find('=');
    if (eq == std::string::npos || eq == 0) {
      return absl::InvalidArgumentError(absl::StrCat("--env \"", pair, "\" is not KEY=VALUE"));
    }
    changes.env_set[pair.substr(0, eq)] = pair.substr(eq + 1);
    changes.Touch("build_env");
  }
  for (const std::string& key : flags.All("--unset-env")) {
    if (key.empty() || key.find('=') != std::string::npos) {
      return absl::InvalidArgumentError(absl::StrCat("--unset-env \"", key, "\" is not a KEY"));
    }
    changes.env_unset.push_back(key);
    changes.Touch("build_env");
  }
  if (auto poll = flags.Last("--poll-interval")) {
    absl::StatusOr<absl::Duration> interval = ParseSeconds("--poll-interval", *poll);
    if (!interval.ok()) return interval.status();
    changes.app.set_poll_interval_seconds(static_cast<int32_t>(absl::ToInt64Seconds(*interval)));
    changes.Touch("poll_interval_seconds");
  }
  if (auto max = flags.Last("--max-concurrent")) {
    absl::StatusOr<int> n = ParseNonNegativeInt("--max-concurrent", *max);
    if (!n.ok()) return n.status();
    changes.app.set_max_concurrent_builds(*n);
    changes.Touch("max_concurrent_builds");
  }
  bool token = flags.Has("--git-token-file");
  bool ssh_key = flags.Has("--ssh-key-file");
  if (flags.Has("--git-username") && !token) {
    return absl::InvalidArgumentError("--git-username goes with --git-token-file");
  }
  if (ssh_key != flags.Has("--ssh-known-hosts-file")) {
    return absl::InvalidArgumentError(
        "--ssh-key-file and --ssh-known-hosts-file go together (the host's key is pinned)");
  }
  if (flags.Has("--webhook-secret-file") && flags.Has("--no-webhook-secret")) {
    return absl::InvalidArgumentError("--webhook-secret-file and --no-webhook-secret conflict");
  }
  if ((token || ssh_key) && flags.Has("--no-git-credentials")) {
    return absl::InvalidArgumentError("git credentials and --no-git-credentials conflict");
  }
  if (flags.Has("--webhook-secret-file") || flags.Has("--no-webhook-secret")) {
    changes.Touch("webhook_secret");
  }
  if (token || ssh_key || flags.Has("--no-git-credentials")) changes.Touch("git_credentials");
  return changes;
}

// Reads the secrets the flags name into `changes`. A problem here is a failure (exit 1).
absl::Status ReadAppSecrets(Session& session, const ParsedFlags& flags, AppChanges& changes) {
  if (auto path = flags.Last("--webhook-secret-file")) {
    absl::StatusOr<std::string> secret = session.ReadSecret("--webhook-secret-file", *path);
    if (!secret.ok()) return secret.status();
    changes.webhook_secret = *secret;
  } else if (flags.Has("--no-webhook-secret")) {
    changes.webhook_secret = "";
  }
  if (flags.Has("--no-git-credentials")) {
    changes.git_credentials = tempa::v1::GitCredentials();
  }
  if (auto path = flags.Last("--git-token-file")) {
    absl::StatusOr<std::string> token = session.ReadSecret("--git-token-file", *path);
    if (!token.ok()) return token.status();
    if (!changes.git_credentials) changes.git_credentials.emplace();
    changes.git_credentials->set_https_token(*token);
    changes.git_credentials->set_https_username(flags.Last("--git-username").value_or(""));
  }
  if (auto path = flags.Last("--ssh-key-file")) {
    absl::StatusOr<std::string> key = session.ReadSecret("--ssh-key-file", *path, true);
    if (!key.ok()) return key.status();
    absl::StatusOr<std::string> known_hosts =
        session.ReadSecret("--ssh-known-hosts-file", *flags.Last("--ssh-known-hosts-file"), true);
    if (!known_hosts.ok()) return known_hosts.status();
    if (!changes.git_credentials) changes.git_credentials.emplace();
    changes.git_credentials->set_ssh_private_key(*key);
    changes.git_credentials->set_ssh_known_hosts(*known_hosts);
  }
  return absl::OkStatus();
}

// The parsed flags of `command` with exactly one positional (the app's name), or the exit code
// of the usage error already printed.
struct NamedArgs {
  std::string name;
  ParsedFlags flags;
  int exit_code = 0;
};

NamedArgs ParseNamed(Session& session, const std::string& command,
                     const std::vector<std::string>& args, const std::vector<FlagSpec>& allowed) {
  NamedArgs out;
  absl::StatusOr<ParsedFlags> flags = ParseFlags(args, allowed);
  if (!flags.ok()) {
    out.exit_code = session.Usage(command, std::string(flags.status().message()));
    return out;
  }
  if (flags->positionals.size() != 1) {
    out.exit_code = session.Usage(
        command, flags->positionals.empty()
                     ? "which app? name it"
                     : absl::StrCat("one app at a time (got ", flags->positionals.size(), ")"));
    return out;
  }
  out.name = flags->positionals[0];
  out.flags = std::move(*flags);
  return out;
}

void PrintApp(Session& session, const App& app, bool json) {
  if (json) {
    session.out() << MessageJson(app).dump(2) << "\n";
  } else {
    session.out() << AppDetails(app, session.Now());
  }
}

}  // namespace

int AppsCreate(Session& session, const std::vector<std::string>& args) {
  NamedArgs named = ParseNamed(session, "apps create", args, kAppFlags);
  if (named.exit_code != 0) return named.exit_code;
  absl::StatusOr<AppChanges> changes = ParseAppChanges(named.flags);
  if (!changes.ok()) return session.Usage("apps create", std::string(changes.status().message()));
  if (!named.flags.Has("--repo")) return session.Usage("apps create", "--repo URL is required");
  if (absl::Status read = ReadAppSecrets(session, named.flags, *changes); !read.ok()) {
    return session.Fail(read);
  }
  auto* stub = session.Connect();
  if (stub == nullptr) return 1;

  tempa::v1::CreateAppRequest request;
  *request.mutable_app() = changes->app;
  request.mutable_app()->set_name(named.name);
  for (const auto& [key, value] : changes->env_set) {
    (*request.mutable_app()->mutable_build_env())[key] = value;
  }
  if (changes->webhook_secret) request.set_webhook_secret(*changes->webhook_secret);
  if (changes->git_credentials) *request.mutable_git_credentials() = *changes->git_credentials;
  App app;
  auto context = session.Context();
  grpc::Status status = stub->CreateApp(context.get(), request, &app);
  if (!status.ok()) {
    return session.Fail(status, {absl::StrCat("create app ", named.name), "app", named.name});
  }
  if (named.flags.Has("--json")) {
    PrintApp(session, app, true);
    return 0;
  }
  session.out() << "created app " << app.name() << ": builds branch " << app.branch() << " of "
                << app.repo_url() << (app.path().empty() ? "" : absl::StrCat(" (", app.path(), ")"))
                << "\n";
  if (!app.start_command().empty()) {
    session.out() << "  starts with:  " << app.start_command() << " (app settings)\n";
  }
  session.out() << "  build now:    tempa trigger " << app.name() << " --follow\n"
                << "  on each push: a GitHub push webhook to the coordinator's "
                   "/webhooks/github (application/json)"
                << (app.has_webhook_secret() ? ", signed with the secret you gave" : "") << "\n";
  return 0;
}

int AppsList(Session& session, const std::vector<std::string>& args) {
  absl::StatusOr<ParsedFlags> flags = ParseFlags(args, {{"--json", false}});
  if (!flags.ok()) return session.Usage("apps list", std::string(flags.status().message()));
  if (!flags->positionals.empty()) {
    return session.Usage("apps list", absl::StrCat("unexpected \"", flags->positionals[0], "\""));
  }
  auto* stub = session.Connect();
  if (stub == nullptr) return 1;
  tempa::v1::ListAppsResponse response;
  auto context = session.Context();
  grpc::Status status = stub->ListApps(context.get(), tempa::v1::ListAppsRequest(), &response);
  if (!status.ok()) return session.Fail(status, {"list apps", "", ""});
  if (flags->Has("--json")) {
    session.out() << AppsJson(response).dump(2) << "\n";
  } else {
    session.out() << AppsTable(response);
  }
  return 0;
}

int AppsShow(Session& session, const std::vector<std::string>& args) {
  NamedArgs named = ParseNamed(session, "apps show", args, {{"--json", false}});
  if (named.exit_code != 0) return named.exit_code;
  auto* stub = session.Connect();
  if (stub == nullptr) return 1;
  tempa::v1::GetAppRequest request;
  request.set_name(named.name);
  App app;
  auto context = session.Context();
  grpc::Status status = stub->GetApp(context.get(), request, &app);
  if (!status.ok()) {
    return session.Fail(status, {absl::StrCat("show app ", named.name), "app", named.name});
  }
  PrintApp(session, app, named.flags.Has("--json"));
  return 0;
}

int AppsUpdate(Session& session, const std::vector<std::string>& args) {
  NamedArgs named = ParseNamed(session, "apps update", args, UpdateFlags());
  if (named.exit_code != 0) return named.exit_code;
  absl::StatusOr<AppChanges> changes = ParseAppChanges(named.flags);
  if (!changes.ok()) return session.Usage("apps update", std::string(changes.status().message()));
  if (changes->mask.empty()) {
    return session.Usage("apps update", "nothing to change: pass the flags of what changes");
  }
  if (absl::Status read = ReadAppSecrets(session, named.flags, *changes); !read.ok()) {
    return session.Fail(read);
  }
  auto* stub = session.Connect();
  if (stub == nullptr) return 1;
  RpcSubject subject{absl::StrCat("update app ", named.name), "app", named.name};

  tempa::v1::UpdateAppRequest request;
  *request.mutable_app() = changes->app;
  request.mutable_app()->set_name(named.name);
  if (!changes->env_set.empty() || !changes->env_unset.empty()) {
    // --env adds to the app's env and --unset-env removes from it, as `heroku config:set` does;
    // the mask replaces the whole map, so start from the stored one.
    tempa::v1::GetAppRequest get;
    get.set_name(named.name);
    App current;
    auto context = session.Context();
    grpc::Status status = stub->GetApp(context.get(), get, &current);
    if (!status.ok()) return session.Fail(status, subject);
    auto* env = request.mutable_app()->mutable_build_env();
    *env = current.build_env();
    for (const std::string& key : changes->env_unset) env->erase(key);
    for (const auto& [key, value] : changes->env_set) (*env)[key] = value;
  }
  for (const std::string& field : changes->mask) request.add_update_mask(field);
  if (changes->webhook_secret) request.set_webhook_secret(*changes->webhook_secret);
  if (changes->git_credentials) *request.mutable_git_credentials() = *changes->git_credentials;

  App app;
  auto context = session.Context();
  grpc::Status status = stub->UpdateApp(context.get(), request, &app);
  if (!status.ok()) return session.Fail(status, subject);
  if (named.flags.Has("--json")) {
    PrintApp(session, app, true);
    return 0;
  }
  session.out() << "updated app " << app.name() << " (" << absl::StrJoin(changes->mask, ", ")
                << ")\n"
                << AppDetails(app, session.Now());
  return 0;
}

int AppsDelete(Session& session, const std::vector<std::string>& args) {
  NamedArgs named = ParseNamed(session, "apps delete", args, {});
  if (named.exit_code != 0) return named.exit_code;
  auto* stub = session.Connect();
  if (stub == nullptr) return 1;
  tempa::v1::DeleteAppRequest request;
  request.set_name(named.name);
  tempa::v1::DeleteAppResponse response;
  auto context = session.Context();
  grpc::Status status = stub->DeleteApp(context.get(), request, &response);
  if (!status.ok()) {
    return session.Fail(status, {absl::StrCat("delete app ", named.name), "app", named.name});
  }
  session.out() << "deleted app " << named.name << "\n";
  return 0;
}

}  // namespace tempa::cli::farm
