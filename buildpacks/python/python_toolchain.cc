#include "buildpacks/python/python_toolchain.h"

#include <sys/utsname.h>
#include <unistd.h>

#include <cerrno>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/posix_status.h"

namespace tempa::buildpacks {

std::string PythonInterpreter::Describe() const {
  return absl::StrCat(package, " (Debian ", package_version, ")");
}

std::string DpkgInstalledVersion(const std::string& status_text, const std::string& package) {
  // Paragraphs separated by blank lines; one per package (and architecture).
  for (absl::string_view paragraph : absl::StrSplit(status_text, "\n\n")) {
    std::string name, version;
    bool installed = false;
    for (absl::string_view line : absl::StrSplit(paragraph, '\n')) {
      if (absl::ConsumePrefix(&line, "Package: ")) name = std::string(line);
      if (absl::ConsumePrefix(&line, "Version: ")) version = std::string(line);
      if (absl::StartsWith(line, "Status: ") && absl::EndsWith(line, " installed")) {
        installed = true;
      }
    }
    if (name == package && installed) return version;
  }
  return "";
}

absl::StatusOr<PythonInterpreter> HostPythonLocator::Locate() {
  std::string fix =
      absl::StrCat("install Debian's ", options_.package, " on the worker (apt-get install ",
                   options_.package, " python3-pip python3-venv)");
  if (access(options_.interpreter.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("Python interpreter ", options_.interpreter, " not found; ", fix));
  }
  std::ifstream in(options_.dpkg_status);
  std::stringstream text;
  text << in.rdbuf();
  PythonInterpreter interpreter;
  interpreter.path = options_.interpreter;
  struct utsname machine;
  if (::uname(&machine) != 0) return ErrnoStatus(errno, "uname", "this machine");
  interpreter.arch = machine.machine;
  interpreter.package = options_.package;
  interpreter.package_version = DpkgInstalledVersion(text.str(), options_.package);
  if (interpreter.package_version.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(options_.interpreter, " exists but dpkg does not list ", options_.package,
                     " as installed (the run base is made from that package); ", fix));
  }
  interpreter.pip_package_version = DpkgInstalledVersion(text.str(), options_.pip_package);
  if (interpreter.pip_package_version.empty()) {
    return absl::FailedPreconditionError(
        absl::StrCat(options_.pip_package, " is not installed: builds run Debian's pip; ", fix));
  }
  // "3.11.2-6+deb12u6" → "3.11.2": upstream version without the Debian revision.
  std::string upstream = interpreter.package_version;
  if (size_t colon = upstream.find(':'); colon != std::string::npos) upstream.erase(0, colon + 1);
  interpreter.version = upstream.substr(0, upstream.find('-'));
  return interpreter;
}

}  // namespace tempa::buildpacks
