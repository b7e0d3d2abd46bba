// The `tempa` CLI: parses the subcommand and hands over. All work lives in the libraries.
#include <iostream>
#include <string>
#include <vector>

#include "worker/cli/build_command.h"
#include "worker/cli/cli_args.h"
#include "worker/cli/detect_command.h"
#include "worker/cli/farm/farm_command.h"

int main(int argc, char** argv) {
  std::vector<std::string> args(argv + 1, argv + argc);
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << tempa::cli::kUsage << tempa::cli::farm::FarmCommandsUsage();
    return args.empty() ? 2 : 0;
  }
  if (tempa::cli::farm::IsFarmCommand(args)) {
    return tempa::cli::farm::RunFarmCommand(args, std::cout, std::cerr);
  }
  std::string command = args[0];
  args.erase(args.begin());
  if (command == "build") {
    auto parsed = tempa::cli::ParseBuildArgs(args);
    if (!parsed.ok()) {
      std::cerr << "tempa: " << parsed.status().message();
      return 2;
    }
    return tempa::cli::RunBuild(*parsed, std::cout, std::cerr);
  }
  if (command == "detect") {
    auto parsed = tempa::cli::ParseDetectArgs(args);
    if (!parsed.ok()) {
      std::cerr << "tempa: " << parsed.status().message();
      return 2;
    }
    return tempa::cli::RunDetect(*parsed, std::cout, std::cerr);
  }
  std::cerr << "tempa: unknown command \"" << command << "\"\n"
            << tempa::cli::kUsage << tempa::cli::farm::FarmCommandsUsage();
  return 2;
}
