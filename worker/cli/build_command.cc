#include "worker/cli/build_command.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <iomanip>
#include <ostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "common/build_error.h"
#include "common/posix_status.h"
#include "common/registry/image_reference.h"
#include "common/registry/registry_client.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "worker/cli/failure_report.h"
#include "worker/runtime_env.h"
#include "worker/worker_runtime.h"

namespace tempa::cli {
namespace {

using nlohmann::json;

std::optional<int64_t> SourceDateEpochFromEnv() {
  const char* v = std::getenv("SOURCE_DATE_EPOCH");
  int64_t epoch = 0;
  if (v == nullptr || !absl::SimpleAtoi(v, &epoch)) return std::nullopt;
  return epoch;
}

// Registry credentials from TEMPA_REGISTRY_USERNAME / TEMPA_REGISTRY_PASSWORD, when set.
std::optional<registry::RegistryCredentials> CredentialsFromEnv() {
  const char* user = std::getenv("TEMPA_REGISTRY_USERNAME");
  const char* password = std::getenv("TEMPA_REGISTRY_PASSWORD");
  if (user == nullptr || password == nullptr) return std::nullopt;
  return registry::RegistryCredentials{user, password};
}

// Token services on another host that may receive the registry credentials, from
// TEMPA_REGISTRY_TOKEN_HOSTS ("auth.example.com,login.example.com"): the operator's word, never
// the registry's.
std::vector<std::string> TokenHostsFromEnv() {
  const char* hosts = std::getenv("TEMPA_REGISTRY_TOKEN_HOSTS");
  if (hosts == nullptr) return {};
  return absl::StrSplit(hosts, ',', absl::SkipWhitespace());
}

// --env-file F then --env: the image config's Env the operator asked for. --env wins for its
// names. An env file larger than 1 MiB is refused (it is not one).
absl::StatusOr<std::map<std::string, std::string>> RuntimeEnv(const BuildArgs& args) {
  constexpr size_t kMaxEnvFile = 1 << 20;
  std::map<std::string, std::string> env;
  for (const std::string& path : args.env_files) {
    UniqueFd fd(open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return Annotate(ErrnoStatus(errno, "open", path), "--env-file");
    std::string content;
    char buffer[8192];
    for (;;) {
      ssize_t n = read(fd.get(), buffer, sizeof buffer);
      if (n < 0 && errno == EINTR) continue;
      if (n < 0) return Annotate(ErrnoStatus(errno, "read", path), "--env-file");
      if (n == 0) break;
      content.append(buffer, static_cast<size_t>(n));
      if (content.size() > kMaxEnvFile) {
        return absl::InvalidArgumentError(
            absl::StrCat("--env-file ", path, " is larger than 1 MiB; it is not an env file"));
      }
    }
    RETURN_IF_ERROR(worker::ParseRuntimeEnvFile(absl::StrCat("--env-file ", path), content, env));
  }
  for (const auto& [name, value] : args.runtime_env) env[name] = value;
  return env;
}

json LayersJson(const worker::BuildOutcome& outcome) {
  json layers = json::array();
  for (const worker::BuiltLayer& layer : outcome.layers) {
    layers.push_back({{"digest", layer.record.blob.digest.ToString()},
                      {"diff_id", layer.record.diff_id.ToString()},
                      {"size", layer.record.blob.size},
                      {"role", buildpacks::LayerRoleName(layer.role)},
                      {"reused", layer.reused}});
    if (!layer.report.empty()) layers.back()["report"] = layer.report;
  }
  return layers;
}

}  // namespace

int RunBuild(const BuildArgs& args, std::ostream& out, std::ostream& err) {
  absl::StatusOr<registry::ImageReference> image = registry::ImageReference::Parse(args.image);
  if (!image.ok()) {
    return ReportFailure("build", WithFailure(image.status(), {FailureKind::kBadInput, "args", ""}),
                         args.json, out, err);
  }
  std::optional<registry::ImageReference> run_image;
  if (!args.run_image.empty()) {
    absl::StatusOr<registry::ImageReference> parsed =
        registry::ImageReference::Parse(args.run_image);
    if (!parsed.ok()) {
      return ReportFailure("build",
                           WithFailure(Annotate(parsed.status(), "--run-image"),
                                       {FailureKind::kBadInput, "args", ""}),
                           args.json, out, err);
    }
    run_image = *parsed;
  }
  absl::StatusOr<std::map<std::string, std::string>> runtime_env = RuntimeEnv(args);
  if (!runtime_env.ok()) {
    return ReportFailure("build",
                         WithFailure(runtime_env.status(), {FailureKind::kBadInput, "args", ""}),
                         args.json, out, err);
  }
  std::string cache_dir = args.cache_dir.empty() ? DefaultCacheDir() : args.cache_dir;
  worker::WorkerRuntimeOptions runtime_options;
  runtime_options.cache_dir = cache_dir;
  // One process at a time holds a cache directory: another `tempa build` on it is waited for,
  // as long as a build may run, saying so once.
  runtime_options.cas_lock_wait =
      (args.timeout > absl::ZeroDuration() ? args.timeout : SandboxLimits().wall_time) +
      absl::Minutes(5);
  runtime_options.on_cas_wait = [&err, &cache_dir] {
    err << "tempa: waiting for another tempa build using " << cache_dir << " to finish\n";
  };
  absl::StatusOr<std::unique_ptr<worker::WorkerRuntime>> runtime =
      worker::WorkerRuntime::Open(std::move(runtime_options));
  if (!runtime.ok()) return ReportFailure("build", runtime.status(), args.json, out, err);

  worker::JobContext context;
  context.registry.insecure = args.insecure_registry;
  context.registry.credentials = CredentialsFromEnv();
  context.registry.token_hosts = TokenHostsFromEnv();
  context.on_step = [&err](absl::string_view step, absl::Duration took, absl::string_view detail) {
    err << absl::StrFormat("tempa: %-12s %7.2fs  %s\n", step, absl::ToDoubleSeconds(took), detail);
  };
  context.log = [&err](absl::string_view line) { err << "  | " << line << "\n"; };

  worker::BuildRequest request;
  request.source_dir = AbsoluteSourceDir(args.source_dir);
  request.image = *image;
  request.build_env = args.build_env;
  request.detect.main_package = args.go_main;
  request.detect.start = args.start;
  if (!args.start.empty()) request.detect.start_source = "--start";
  request.runtime_env = *std::move(runtime_env);
  request.source_date_epoch = SourceDateEpochFromEnv();
  request.run_image = run_image;
  if (args.memory_bytes > 0) request.limits.memory_bytes = args.memory_bytes;
  if (args.timeout > absl::ZeroDuration()) request.limits.wall_time = args.timeout;
  if (args.max_processes > 0) request.limits.max_processes = args.max_processes;
  if (args.max_output_bytes > 0) request.limits.output_bytes = args.max_output_bytes;
  if (args.max_file_bytes > 0) request.limits.file_bytes = args.max_file_bytes;

  absl::Time started = absl::Now();
  absl::StatusOr<worker::JobOutcome> job = (*runtime)->Build(request, context);
  if (!job.ok()) return ReportFailure("build", job.status(), args.json, out, err);
  const worker::BuildOutcome* outcome = &job->build;
  err << absl::StrFormat("tempa: built %s in %.2fs\n", outcome->image,
                         absl::ToDoubleSeconds(absl::Now() - started));

  if (args.json) {
    const registry::RequestCounts& counts = job->registry_requests;
    json requests = {{"HEAD", counts.head}, {"GET", counts.get},     {"POST", counts.post},
                     {"PUT", counts.put},   {"PATCH", counts.patch}, {"other", counts.other}};
    json result = {{"image", outcome->image},
                   {"digest", outcome->manifest_digest.ToString()},
                   {"language", outcome->plan.language},
                   {"toolchain", outcome->plan.toolchain},
                   {"app", outcome->plan.app_name},
                   {"start_command", outcome->plan.start_command},
                   {"start_source", outcome->plan.start_source},
                   {"layers", LayersJson(*outcome)},
                   {"blobs_uploaded", outcome->blobs_uploaded},
                   {"blobs_skipped", outcome->blobs_skipped},
                   {"registry_requests", requests}};
    if (outcome->revision) result["revision"] = *outcome->revision;
    // What Tempa added that the app did not ask for (a Python server: "gunicorn==20.1.0").
    if (auto server = outcome->plan.details.find("supplied_server");
        server != outcome->plan.details.end()) {
      result["supplied"] = json::array({server->second});
    }
    if (!outcome->run_image.empty()) result["run_image"] = outcome->run_image;
    out << result.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  } else {
    out << outcome->image << "\n";
  }
  return 0;
}

}  // namespace tempa::cli
