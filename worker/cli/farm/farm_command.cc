#include "worker/cli/farm/farm_command.h"

#include <cstdlib>
#include <iostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "worker/cli/farm/farm_args.h"
#include "worker/cli/farm/farm_session.h"

namespace tempa::cli::farm {
namespace {

using CommandFn = int (*)(Session&, const std::vector<std::string>&);

struct Command {
  const char* group;  // "apps", or the command itself for those without subcommands
  const char* name;   // "create", or "" for trigger
  CommandFn run;
};

const Command kCommands[] = {
    {"apps", "create", AppsCreate},     {"apps", "list", AppsList},
    {"apps", "show", AppsShow},         {"apps", "update", AppsUpdate},
    {"apps", "delete", AppsDelete},     {"builds", "list", BuildsList},
    {"builds", "show", BuildsShow},     {"builds", "logs", BuildsLogs},
    {"builds", "cancel", BuildsCancel}, {"trigger", "", Trigger},
    {"workers", "list", WorkersList},   {"apps", "set", AppsSet},
    {"deploys", "list", DeploysList},   {"deploys", "rollback", DeploysRollback},
};

bool IsGroup(const std::string& word) {
  return word == "apps" || word == "builds" || word == "trigger" || word == "workers" ||
         word == "deploys";
}

bool WantsHelp(const std::vector<std::string>& args) {
  for (const std::string& arg : args) {
    if (arg == "--") return false;
    if (arg == "--help" || arg == "-h") return true;
  }
  return false;
}

}  // namespace

FarmEnvironment FarmEnvironment::Process() {
  FarmEnvironment env;
  env.getenv = [](const std::string& name) -> std::optional<std::string> {
    const char* value = std::getenv(name.c_str());
    if (value == nullptr) return std::nullopt;
    return std::string(value);
  };
  env.in = &std::cin;
  env.now = [] { return absl::Now(); };
  env.sleep = [](absl::Duration d) { absl::SleepFor(d); };
  return env;
}

bool IsFarmCommand(const std::vector<std::string>& args) {
  if (args.empty()) return false;
  if (IsGroup(args[0])) return true;
  for (const char* flag :
       {"--coordinator", "--token-file", "--tls-ca", "--tls-server-name", "--timeout"}) {
    if (args[0] == flag || absl::StartsWith(args[0], absl::StrCat(flag, "="))) return true;
  }
  return false;
}

int RunFarmCommand(std::vector<std::string> args, std::ostream& out, std::ostream& err,
                   const FarmEnvironment& env) {
  absl::StatusOr<GlobalFlags> flags = ExtractGlobalFlags(args);
  if (!flags.ok()) {
    err << "tempa: " << flags.status().message() << "\n" << FarmUsage("", false);
    return 2;
  }
  if (args.empty() || !IsGroup(args[0])) {
    if (WantsHelp(args)) {
      out << FarmUsage("");
      return 0;
    }
    err << "tempa: "
        << (args.empty() ? std::string("which command?")
                         : absl::StrCat("unknown command \"", args[0], "\""))
        << "\n"
        << FarmUsage("", false);
    return 2;
  }
  std::string group = args[0];
  args.erase(args.begin());
  Session session(*flags, out, err, env);

  std::string name;
  if (group != "trigger") {
    if (args.empty() || absl::StartsWith(args[0], "-")) {
      if (WantsHelp(args)) {
        out << FarmUsage(group);
        return 0;
      }
      return session.Usage(group, args.empty()
                                      ? "which subcommand?"
                                      : absl::StrCat("a subcommand comes before ", args[0]));
    }
    name = args[0];
    args.erase(args.begin());
  }
  for (const Command& command : kCommands) {
    if (group != command.group || name != command.name) continue;
    std::string full = name.empty() ? group : absl::StrCat(group, " ", name);
    if (WantsHelp(args)) {
      out << FarmUsage(full);
      return 0;
    }
    return command.run(session, args);
  }
  return session.Usage(group, absl::StrCat("unknown subcommand \"", name, "\""));
}

int RunFarmCommand(std::vector<std::string> args, std::ostream& out, std::ostream& err) {
  static const FarmEnvironment* env = new FarmEnvironment(FarmEnvironment::Process());
  return RunFarmCommand(std::move(args), out, err, *env);
}

std::string FarmCommandsUsage() {
  std::string usage = FarmUsage("");
  return usage.substr(usage.find('\n') + 1);  // without the "usage:" line
}

}  // namespace tempa::cli::farm
