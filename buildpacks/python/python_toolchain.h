// Finds the Python interpreter builds use: Debian's /usr/bin/python3.11, the same binary the
// Python run base ships (runbase/debian_base.h), so a venv made at build time runs unchanged in
// the image. An interface, so detection and plan tests run on any machine.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace tempa::buildpacks {

struct PythonInterpreter {
  std::string path = "/usr/bin/python3.11";  // absolute; the venv's bin/python links to it
  std::string version;                       // "3.11.2"
  std::string package;                       // Debian package: "python3.11"
  std::string package_version;               // "3.11.2-6+deb12u6"
  // Debian's python3-pip version: pip writes the venv's metadata (RECORD, INSTALLER, scripts),
  // so a different pip may give different bytes.
  std::string pip_package_version;
  // The machine the venv's compiled wheels are for ("x86_64", "aarch64"): workers of two
  // architectures share the fleet's layer index, and neither may take the other's layer.
  std::string arch;

  // "python3.11 (Debian 3.11.2-6+deb12u6)" — for reasons, labels and cache keys.
  std::string Describe() const;
};

class PythonInterpreterLocator {
 public:
  virtual ~PythonInterpreterLocator() = default;
  // The interpreter to build with. FailedPrecondition saying what to install when missing.
  virtual absl::StatusOr<PythonInterpreter> Locate() = 0;
};

struct HostPythonOptions {
  std::string interpreter = "/usr/bin/python3.11";
  std::string package = "python3.11";
  std::string pip_package = "python3-pip";
  // dpkg's database, for the package version (part of the dependency layer's key).
  std::string dpkg_status = "/var/lib/dpkg/status";
};

// Debian's python3.11 on this machine. Checks the binary is there and reads the version from
// the dpkg database rather than running the interpreter (cheap, and the package version, not
// just "3.11.2", is what pins the ABI of the run base).
class HostPythonLocator : public PythonInterpreterLocator {
 public:
  explicit HostPythonLocator(HostPythonOptions options = {}) : options_(std::move(options)) {}
  absl::StatusOr<PythonInterpreter> Locate() override;

 private:
  HostPythonOptions options_;
};

// Always answers the same: for tests and pinned setups.
class FixedPythonLocator : public PythonInterpreterLocator {
 public:
  explicit FixedPythonLocator(absl::StatusOr<PythonInterpreter> interpreter)
      : interpreter_(std::move(interpreter)) {}
  absl::StatusOr<PythonInterpreter> Locate() override { return interpreter_; }

 private:
  absl::StatusOr<PythonInterpreter> interpreter_;
};

// "Version:" of `package` in a dpkg status file's text; "" when not installed.
std::string DpkgInstalledVersion(const std::string& status_text, const std::string& package);

}  // namespace tempa::buildpacks
