#include "worker/runtime_env.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "common/env_file.h"

namespace tempa::worker {
namespace {

absl::Status CheckOne(absl::string_view where, absl::string_view name, absl::string_view value) {
  bool valid = !name.empty() && name.size() <= 256 &&
               (absl::ascii_isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_');
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') valid = false;
  }
  if (!valid) {
    return absl::InvalidArgumentError(absl::StrCat(
        where, ": \"", name.substr(0, 64),
        "\" is not a variable name (letters, digits and _, not starting with a digit)"));
  }
  if (name == "PORT") {
    return absl::InvalidArgumentError(absl::StrCat(
        where,
        ": PORT is the port the app listens on, which Tempa sets in the image (8080, or `port` in "
        "tempa.toml) and the deployer gives at run time; set `port = N` in tempa.toml instead"));
  }
  if (value.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": the value of ", name, " holds a NUL byte"));
  }
  return absl::OkStatus();
}

}  // namespace

absl::Status CheckRuntimeEnv(const std::map<std::string, std::string>& env) {
  for (const auto& [name, value] : env) {
    if (absl::Status s = CheckOne("run-time env", name, value); !s.ok()) return s;
  }
  return absl::OkStatus();
}

absl::Status AddRuntimeEnv(absl::string_view where, absl::string_view pair,
                           std::map<std::string, std::string>& env) {
  size_t eq = pair.find('=');
  if (eq == absl::string_view::npos) {
    return absl::InvalidArgumentError(
        absl::StrCat(where, ": \"", pair.substr(0, 64), "\" is not NAME=VALUE"));
  }
  absl::string_view name = pair.substr(0, eq);
  absl::string_view value = pair.substr(eq + 1);
  if (absl::Status s = CheckOne(where, name, value); !s.ok()) return s;
  env[std::string(name)] = std::string(value);
  return absl::OkStatus();
}

absl::Status ParseRuntimeEnvFile(absl::string_view where, absl::string_view content,
                                 std::map<std::string, std::string>& env) {
  return ForEachEnvFileLine(content, where,
                            [&env](const std::string& line, absl::string_view pair) {
                              return AddRuntimeEnv(line, pair, env);
                            });
}

}  // namespace tempa::worker
