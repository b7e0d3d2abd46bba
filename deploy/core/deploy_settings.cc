#include "deploy/core/deploy_settings.h"

#include <algorithm>

#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/string_view.h"

namespace tempa::deploy {
namespace {

constexpr size_t kMaxHealthPath = 1024;

absl::Status Bad(absl::string_view field, absl::string_view problem, absl::string_view fix) {
  return absl::InvalidArgumentError(
      absl::StrCat("deploy settings: ", field, " ", problem, ": ", fix));
}

bool IsPathChar(char c) {
  if (c <= ' ' || c >= 0x7f) return false;  // space, control characters, non-ASCII
  return absl::string_view("\"'\\#<>{}|^`").find(c) == absl::string_view::npos;
}

absl::Status CheckHealthPath(absl::string_view path) {
  if (path.front() != '/') {
    return Bad("health_path",
               absl::StrCat("\"", absl::CEscape(path.substr(0, 80)), "\" does not start with '/'"),
               "give an absolute path such as --health-path /healthz");
  }
  if (path.size() > kMaxHealthPath) {
    return Bad("health_path", absl::StrCat("is ", path.size(), " characters long"),
               "keep it under 1024 characters");
  }
  for (char c : path) {
    if (!IsPathChar(c)) {
      return Bad("health_path",
                 absl::StrCat("\"", absl::CEscape(path.substr(0, 80)),
                              "\" holds a space, a control character or one of \"'\\#<>{}|^`"),
                 "percent-encode it (%20 for a space) or choose a plain path such as /healthz");
    }
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<RunSettings> ResolveSettings(const tempa::v1::DeploySettings& settings,
                                            int image_port) {
  RunSettings run;
  if (settings.memory_bytes() != 0) {
    if (settings.memory_bytes() < kMinMemoryBytes || settings.memory_bytes() > kMaxMemoryBytes) {
      return Bad("memory_bytes", absl::StrCat("is ", settings.memory_bytes(), " bytes"),
                 "give between 16Mi and 1Ti, e.g. --memory 256Mi");
    }
    run.memory_bytes = settings.memory_bytes();
  }
  if (settings.cpu_millis() != 0) {
    if (settings.cpu_millis() < kMinCpuMillis || settings.cpu_millis() > kMaxCpuMillis) {
      return Bad("cpu_millis", absl::StrCat("is ", settings.cpu_millis(), " thousandths of a CPU"),
                 "give between 0.01 and 64 CPUs (10..64000 millis), e.g. --cpu 0.5");
    }
    run.cpu_millis = settings.cpu_millis();
  }
  if (settings.replicas() != 0) {
    if (settings.replicas() < 1 || settings.replicas() > kMaxReplicas) {
      return Bad("replicas", absl::StrCat("is ", settings.replicas()),
                 "give between 1 and 100, e.g. --replicas 2");
    }
    run.replicas = settings.replicas();
  }
  if (settings.max_replicas() < 0 || settings.max_replicas() > kMaxAutoscaledReplicas) {
    return Bad("max_replicas", absl::StrCat("is ", settings.max_replicas()),
               "give between the replica count and 1000, or 0 for no autoscaling");
  }
  run.max_replicas = std::max(run.replicas, static_cast<int>(settings.max_replicas()));
  if (!settings.health_path().empty()) {
    if (absl::Status s = CheckHealthPath(settings.health_path()); !s.ok()) return s;
    run.health_path = settings.health_path();
  }
  if (settings.port() != 0) {
    if (settings.port() < 1 || settings.port() > 65535) {
      return Bad("port", absl::StrCat("is ", settings.port()),
                 "give the port the app listens on, 1..65535, or 0 for the image's");
    }
    run.port = settings.port();
    run.port_explicit = true;
  } else if (image_port > 0 && image_port <= 65535) {
    run.port = image_port;
  } else {
    run.port = kDefaultPort;
  }
  return run;
}

}  // namespace tempa::deploy
