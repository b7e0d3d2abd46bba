#include "coordinator/core/deploy_rules.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"

namespace tempa::coordinator {
namespace {

constexpr int64_t kMinMemory = int64_t{4} << 20;
constexpr int64_t kMaxMemory = int64_t{1} << 40;
constexpr int kMaxCpuMillis = 256000;
constexpr int kMaxReplicas = 1000;
constexpr int kMaxDeployEnv = 256;
constexpr size_t kMaxDeployEnvValue = 32768;

bool EnvName(absl::string_view name) {
  if (name.empty() || name.size() > 256) return false;
  if (!absl::ascii_isalpha(static_cast<unsigned char>(name[0])) && name[0] != '_') return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

}  // namespace

absl::Status CheckDeploySettings(const v1::DeploySettings& s) {
  if (s.memory_bytes() != 0 && (s.memory_bytes() < kMinMemory || s.memory_bytes() > kMaxMemory)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "memory limit ", s.memory_bytes(),
        " bytes is out of range: give between 4Mi and 1Ti (e.g. --memory 256Mi), or 0 for the "
        "deployer's default"));
  }
  if (s.cpu_millis() != 0 && (s.cpu_millis() < 10 || s.cpu_millis() > kMaxCpuMillis)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "CPU limit ", s.cpu_millis(),
        "m is out of range: give between 10m (0.01) and 256 CPUs (e.g. --cpu 0.5), or 0 for the "
        "deployer's default"));
  }
  if (s.replicas() < 0 || s.replicas() > kMaxReplicas) {
    return absl::InvalidArgumentError("replicas must be between 0 (one) and 1000");
  }
  if (s.max_replicas() < 0 || s.max_replicas() > kMaxReplicas) {
    return absl::InvalidArgumentError("max replicas must be between 0 (no autoscaling) and 1000");
  }
  int replicas = s.replicas() == 0 ? 1 : s.replicas();
  if (s.max_replicas() != 0 && s.max_replicas() < replicas) {
    return absl::InvalidArgumentError(
        absl::StrCat("max replicas ", s.max_replicas(), " is below the replica count ", replicas,
                     ": give --max-replicas at least --replicas, or 0 for no autoscaling"));
  }
  const std::string& path = s.health_path();
  if (!path.empty()) {
    bool printable = path.size() <= 1024;
    for (char c : path) {
      if (static_cast<unsigned char>(c) <= 0x20 || c == 0x7f) printable = false;
    }
    if (path[0] != '/' || !printable) {
      return absl::InvalidArgumentError(
          "the health path must start with \"/\", be at most 1024 characters and hold no "
          "spaces or control characters (e.g. --health-path /healthz)");
    }
  }
  if (s.port() < 0 || s.port() > 65535) {
    return absl::InvalidArgumentError(
        "the port must be between 1 and 65535, or 0 for the image's own port");
  }
  if (s.env_names_size() > kMaxDeployEnv) {
    return absl::InvalidArgumentError(
        absl::StrCat("an app has at most ", kMaxDeployEnv, " env vars"));
  }
  return absl::OkStatus();
}

absl::Status CheckDeployEnv(const google::protobuf::Map<std::string, std::string>& env) {
  if (env.size() > kMaxDeployEnv) {
    return absl::InvalidArgumentError(
        absl::StrCat("an app has at most ", kMaxDeployEnv, " env vars"));
  }
  for (const auto& [name, value] : env) {
    if (!EnvName(name)) {
      return absl::InvalidArgumentError(
          absl::StrCat("env name \"", absl::CHexEscape(name.substr(0, 64)),
                       "\" is not a valid name: use letters, digits and _, not starting with a "
                       "digit (e.g. DATABASE_URL)"));
    }
    if (name == "PORT") {
      return absl::InvalidArgumentError(
          "PORT is set by the deployer (the port the app must listen on): choose the port with "
          "--port N instead");
    }
    // The value is secret: the error names only the variable.
    if (value.size() > kMaxDeployEnvValue || value.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("the value of env ", name, " is longer than 32 KiB or holds a NUL byte"));
    }
  }
  return absl::OkStatus();
}

std::string DeployTrack(bool production, absl::string_view branch) {
  if (production) return "production";
  std::string label;
  for (char c : branch) {
    char lower = absl::ascii_tolower(static_cast<unsigned char>(c));
    if (absl::ascii_isalnum(static_cast<unsigned char>(lower))) {
      label.push_back(lower);
    } else if (!label.empty() && label.back() != '-') {
      label.push_back('-');
    }
  }
  while (!label.empty() && label.back() == '-') label.pop_back();
  if (label.size() > 40) label.resize(40);
  while (!label.empty() && label.back() == '-') label.pop_back();
  return label.empty() ? "preview" : label;
}

}  // namespace tempa::coordinator
