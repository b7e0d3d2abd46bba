// A scripted Sandbox: records the command, replays output lines, optionally leaves a file in a
// writable mount (the "binary"), and returns the configured result.
#pragma once

#include <unistd.h>

#include <fstream>
#include <string>
#include <vector>

#include "common/sandbox/sandbox.h"

namespace tempa::buildpacks::test_support {

class FakeSandbox : public Sandbox {
 public:
  absl::StatusOr<SandboxResult> Run(const SandboxCommand& command) override {
    commands.push_back(command);
    for (const std::string& line : output) {
      if (command.on_output) command.on_output(line);
    }
    if (!write_file.empty()) {
      // write_file is a sandbox path: map it through the mounts.
      for (const SandboxMount& m : command.mounts) {
        if (write_file.rfind(m.sandbox_path + "/", 0) == 0 && m.writable) {
          std::string host = m.host_path + write_file.substr(m.sandbox_path.size());
          if (symlink_to.empty()) {
            std::ofstream(host) << file_contents;
          } else {
            ::unlink(host.c_str());
            ::symlink(symlink_to.c_str(), host.c_str());
          }
        }
      }
    }
    return result;
  }

  std::vector<SandboxCommand> commands;
  std::vector<std::string> output;
  std::string write_file;  // e.g. "/out/app"
  // When set, write_file becomes a symlink to this host path instead (a hostile build).
  std::string symlink_to;
  std::string file_contents =
      "\x7f"
      "ELF fake binary";
  SandboxResult result;
};

}  // namespace tempa::buildpacks::test_support
