#include "worker/cli/farm/farm_args.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tempa::cli::farm {
namespace {

constexpr char kGlobalUsage[] =
    "global flags (before or after the command):\n"
    "  --coordinator HOST:PORT  the coordinator's gRPC address (else $TEMPA_COORDINATOR, else\n"
    "                           127.0.0.1:7070)\n"
    "  --token-file F           a file holding the bearer token (else $TEMPA_TOKEN_FILE, else\n"
    "                           the token in $TEMPA_TOKEN)\n"
    "  --tls-ca F               talk TLS, trusting the CA certificates (PEM) in F\n"
    "  --tls-server-name NAME   the name the coordinator's certificate must carry, when it is\n"
    "                           not the host of --coordinator\n"
    "  --timeout DURATION       how long each call may take (default 30s)\n";

struct CommandUsage {
  const char* command;
  const char* usage;
};

constexpr char kAppFlags[] =
    "      [--branch B] [--path SUBDIR] [--env K=V]... [--webhook-secret-file F]\n"
    "      [--git-token-file F [--git-username U]] [--ssh-key-file F --ssh-known-hosts-file F]\n"
    "      [--poll-interval SECONDS] [--max-concurrent N] [--start CMD] [--json]\n";

const CommandUsage kUsages[] = {
    {"apps create", "tempa apps create NAME --repo URL"},
    {"apps list", "tempa apps list [--json]"},
    {"apps show", "tempa apps show NAME [--json]"},
    {"apps update", "tempa apps update NAME [--repo URL]"},
    {"apps delete", "tempa apps delete NAME"},
    {"apps set", "tempa apps set NAME [--memory 256Mi] [--cpu 0.5] [--replicas N]"},
    {"builds list", "tempa builds list [--app NAME] [--limit N] [--json]"},
    {"builds show", "tempa builds show ID|--app NAME [--json]"},
    {"builds logs", "tempa builds logs ID|--app NAME [--follow] [--tail N]"},
    {"builds cancel", "tempa builds cancel ID [--json]"},
    {"trigger", "tempa trigger NAME [--commit SHA] [--branch B] [--follow] [--json]"},
    {"workers list", "tempa workers list [--json]"},
    {"deploys list", "tempa deploys list [--app NAME] [--limit N] [--json]"},
    {"deploys rollback", "tempa deploys rollback NAME [--to BUILD_ID] [--json]"},
};

std::string UsageLine(const CommandUsage& u) {
  std::string line = absl::StrCat("  ", u.usage, "\n");
  if (absl::string_view(u.command) == "apps create" ||
      absl::string_view(u.command) == "apps update") {
    absl::StrAppend(&line, kAppFlags);
  }
  if (absl::string_view(u.command) == "apps update") {
    absl::StrAppend(&line,
                    "      [--unset-env K]... [--no-webhook-secret] [--no-git-credentials]\n"
                    "      (only what is given changes; --env adds to the app's env)\n");
  }
  if (absl::string_view(u.command) == "apps set") {
    absl::StrAppend(
        &line,
        "      [--max-replicas N] [--health-path PATH] [--port N] [--env K=V]... [--env-file F]\n"
        "      [--no-env] [--start CMD] [--json]   (how the app runs; only what is given\n"
        "      changes. --memory takes Ki/Mi/Gi or K/M/G, --cpu CPUs or millicpus (500m); 0\n"
        "      means the deployer's default. --env/--env-file REPLACE the whole deploy env;\n"
        "      values are secret: stored sealed, never shown back, only their names, and given\n"
        "      to the app at start, never baked into the image. --start sets the command the\n"
        "      next builds' images start, over the repository's tempa.toml, Procfile and\n"
        "      detection; --start \"\" goes back to the repository's own)\n");
  }
  if (absl::string_view(u.command) == "deploys rollback") {
    absl::StrAppend(&line,
                    "      (puts an earlier successful build back live, without a build; default:\n"
                    "      the production build live before the current one)\n");
  }
  return line;
}

}  // namespace

std::optional<std::string> ParsedFlags::Last(const std::string& flag) const {
  auto it = values.find(flag);
  if (it == values.end() || it->second.empty()) return std::nullopt;
  return it->second.back();
}

const std::vector<std::string>& ParsedFlags::All(const std::string& flag) const {
  static const std::vector<std::string> kEmpty;
  auto it = values.find(flag);
  return it == values.end() ? kEmpty : it->second;
}

absl::StatusOr<GlobalFlags> ExtractGlobalFlags(std::vector<std::string>& args) {
  GlobalFlags flags;
  std::vector<std::string> rest;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "--") {  // everything after is the subcommand's
      rest.insert(rest.end(), args.begin() + i, args.end());
      break;
    }
    std::string name = arg;
    std::optional<std::string> value;
    if (size_t eq = arg.find('='); absl::StartsWith(arg, "--") && eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    std::optional<std::string>* target = nullptr;
    if (name == "--coordinator") target = &flags.coordinator;
    if (name == "--token-file") target = &flags.token_file;
    if (name == "--tls-ca") target = &flags.tls_ca;
    if (name == "--tls-server-name") target = &flags.tls_server_name;
    if (target == nullptr && name != "--timeout") {
      rest.push_back(arg);
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size())
        return absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
      value = args[++i];
    }
    if (value->empty()) return absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
    if (target != nullptr) {
      *target = *value;
    } else {
      absl::StatusOr<absl::Duration> timeout = ParseSeconds(name, *value);
      if (!timeout.ok()) return timeout.status();
      if (*timeout <= absl::ZeroDuration()) {
        return absl::InvalidArgumentError("--timeout must be positive");
      }
      flags.timeout = *timeout;
    }
  }
  args = std::move(rest);
  return flags;
}

absl::StatusOr<ParsedFlags> ParseFlags(const std::vector<std::string>& args,
                                       const std::vector<FlagSpec>& allowed) {
  ParsedFlags parsed;
  bool flags_done = false;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (flags_done || !absl::StartsWith(arg, "--") || arg == "--") {
      if (arg == "--" && !flags_done) {
        flags_done = true;
        continue;
      }
      parsed.positionals.push_back(arg);
      continue;
    }
    std::string name = arg;
    std::optional<std::string> value;
    if (size_t eq = arg.find('='); eq != std::string::npos) {
      name = arg.substr(0, eq);
      value = arg.substr(eq + 1);
    }
    auto spec = std::find_if(allowed.begin(), allowed.end(),
                             [&](const FlagSpec& s) { return s.name == name; });
    if (spec == allowed.end()) {
      return absl::InvalidArgumentError(absl::StrCat("unknown flag ", name));
    }
    if (!spec->takes_value) {
      if (value) return absl::InvalidArgumentError(absl::StrCat(name, " takes no value"));
      parsed.values[name].push_back("");
      continue;
    }
    if (!value) {
      if (i + 1 >= args.size()) {
        return absl::InvalidArgumentError(absl::StrCat(name, " needs a value"));
      }
      value = args[++i];
    }
    parsed.values[name].push_back(*value);
  }
  return parsed;
}

absl::StatusOr<absl::Duration> ParseSeconds(absl::string_view flag, absl::string_view text) {
  int64_t seconds = 0;
  if (absl::SimpleAtoi(text, &seconds) && seconds >= 0) return absl::Seconds(seconds);
  absl::Duration duration;
  if (absl::ParseDuration(text, &duration) && duration >= absl::ZeroDuration()) return duration;
  return absl::InvalidArgumentError(
      absl::StrCat(flag, " \"", text, "\" is not a duration (seconds, or like 90s, 5m, 1h)"));
}

absl::StatusOr<int> ParseNonNegativeInt(absl::string_view flag, absl::string_view text) {
  int value = 0;
  if (!absl::SimpleAtoi(text, &value) || value < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " \"", text, "\" is not a whole number (0 or more)"));
  }
  return value;
}

absl::StatusOr<std::string> ParseStartCommand(absl::string_view text) {
  if (!text.empty() && absl::StripAsciiWhitespace(text).empty()) {
    return absl::InvalidArgumentError(
        "--start needs a command, or \"\" to go back to the repository's own");
  }
  return std::string(text);
}

std::string FarmUsage(absl::string_view command, bool with_global_flags) {
  std::string usage = "usage:\n";
  bool any = false;
  for (const CommandUsage& u : kUsages) {
    absl::string_view name = u.command;
    if (command.empty() || name == command || absl::StartsWith(name, absl::StrCat(command, " "))) {
      absl::StrAppend(&usage, UsageLine(u));
      any = true;
    }
  }
  if (!any) return FarmUsage("", with_global_flags);
  if (with_global_flags) {
    absl::StrAppend(&usage, kGlobalUsage);
  } else {
    absl::StrAppend(&usage, "  (global flags such as --coordinator HOST:PORT: tempa ",
                    command.empty() ? "apps" : command, " --help)\n");
  }
  return usage;
}

}  // namespace tempa::cli::farm
