#include "worker/cli/tempa_cli.h"

#include <ostream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "worker/cli/build_command.h"
#include "worker/cli/cli_args.h"
#include "worker/cli/detect_command.h"
#include "worker/cli/farm/farm_command.h"
#include "worker/cli/version.h"

namespace tempa::cli {
namespace {

constexpr char kOwnUsage[] =
    "  tempa help [COMMAND]   this list, or one command's usage (also: tempa COMMAND --help)\n"
    "  tempa --version        tempa's version\n";

std::string FullUsage() { return absl::StrCat(kUsage, kOwnUsage, farm::FarmCommandsUsage()); }

// True when the build/detect arguments ask for help: a --help or -h that is not the value of
// the flag before it (`--start -h` starts the app with -h).
bool WantsHelp(const std::vector<std::string>& args) {
  for (size_t i = 0; i < args.size(); ++i) {
    if (args[i] == "--") return false;
    if (args[i] != "--help" && args[i] != "-h") continue;
    if (i == 0) return true;
    const std::string& before = args[i - 1];
    bool takes_value = absl::StartsWith(before, "--") && !absl::StrContains(before, "=") &&
                       before != "--json" && before != "--insecure-registry" && before != "--help";
    if (!takes_value) return true;
  }
  return false;
}

// `tempa help WORDS...`: the usage of the command WORDS name.
int Help(const std::vector<std::string>& words, std::ostream& out, std::ostream& err) {
  if (words.empty()) {
    out << FullUsage();
    return 0;
  }
  if (words.size() == 1 && !CommandHelp(words[0]).empty()) {
    out << CommandHelp(words[0]);
    return 0;
  }
  if (farm::IsFarmCommand(words) && !absl::StartsWith(words[0], "-")) {
    std::vector<std::string> args = words;
    args.push_back("--help");
    return farm::RunFarmCommand(std::move(args), out, err);
  }
  if (words.size() == 1 && (words[0] == "help" || words[0] == "version")) {
    out << "usage:\n" << kOwnUsage;
    return 0;
  }
  err << "tempa: no command \"" << absl::StrJoin(words, " ") << "\" to help with\n" << FullUsage();
  return 2;
}

}  // namespace

std::string VersionLine() {
  std::string line = absl::StrCat("tempa ", kTempaVersion);
  if (kTempaCommit[0] != '\0') absl::StrAppend(&line, " (commit ", kTempaCommit, ")");
  return line;
}

int RunTempa(std::vector<std::string> args, std::ostream& out, std::ostream& err) {
  if (args.empty()) {
    err << "tempa: which command?\n" << FullUsage();
    return 2;
  }
  const std::string& first = args[0];
  if (first == "--version" || first == "version") {
    if (args.size() > 1) {
      err << "tempa: " << first << " takes no arguments\n";
      return 2;
    }
    out << VersionLine() << "\n";
    return 0;
  }
  if (first == "--help" || first == "-h" || first == "help") {
    return Help(std::vector<std::string>(args.begin() + 1, args.end()), out, err);
  }
  if (farm::IsFarmCommand(args)) return farm::RunFarmCommand(args, out, err);

  std::string command = first;
  args.erase(args.begin());
  if (command == "build" || command == "detect") {
    if (WantsHelp(args)) {
      out << CommandHelp(command);
      return 0;
    }
  }
  if (command == "build") {
    auto parsed = ParseBuildArgs(args);
    if (!parsed.ok()) {
      err << "tempa: " << parsed.status().message();
      return 2;
    }
    return RunBuild(*parsed, out, err);
  }
  if (command == "detect") {
    auto parsed = ParseDetectArgs(args);
    if (!parsed.ok()) {
      err << "tempa: " << parsed.status().message();
      return 2;
    }
    return RunDetect(*parsed, out, err);
  }
  err << "tempa: unknown command \"" << command << "\"\n" << FullUsage();
  return 2;
}

}  // namespace tempa::cli
