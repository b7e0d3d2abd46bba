#include "worker/cli/build_command.h"

#include <unistd.h>

#include <cstdlib>
#include <iomanip>
#include <ostream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "buildpacks/detector.h"
#include "common/build_error.h"
#include "common/cas/local_cas.h"
#include "common/registry/curl_http_transport.h"
#include "common/registry/image_reference.h"
#include "common/registry/registry_client.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "worker/build_pipeline.h"
#include "worker/build_pipeline_dirs.h"
#include "worker/cli/failure_report.h"
#include "worker/sandbox/bubblewrap_sandbox.h"

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

json LayersJson(const worker::BuildOutcome& outcome) {
  json layers = json::array();
  for (const worker::BuiltLayer& layer : outcome.layers) {
    layers.push_back({{"digest", layer.record.blob.digest.ToString()},
                      {"diff_id", layer.record.diff_id.ToString()},
                      {"size", layer.record.blob.size},
                      {"role", buildpacks::LayerRoleName(layer.role)},
                      {"reused", layer.reused}});
  }
  return layers;
}

// Makes the cache directory (0711 when builds run as another user, else 0700; one the user
// made keeps its mode) and its CAS (0700, root's alone), and returns where the build-writable
// directories go: the cache directory itself when the build user can pass through it and only
// root can change it and its parents, else a root-owned private area keyed by it (a 0700
// `mktemp -d`, or a directory of another user, stays as it was).
// Where a build keeps its content-addressed store and its writable directories.
struct CacheLayout {
  std::string cas;        // the CAS directory
  std::string work_area;  // tmp/, apps/, locks/, debs/
};

absl::StatusOr<CacheLayout> PrepareCacheDir(const std::string& cache_dir,
                                            worker::DirOwner build_owner) {
  const mode_t parent_mode = worker::ParentModeFor(build_owner);
  ASSIGN_OR_RETURN(UniqueFd cache, worker::OpenNamedDir(cache_dir, parent_mode));
  ASSIGN_OR_RETURN(std::string real, worker::PathOfFd(cache.get()));
  // A directory another user can change could have its CAS pre-seeded (a planted layer for a
  // known key) or swapped for a link: then nothing of ours lives there.
  const bool ours = build_owner.uid == ::geteuid() || worker::CheckOnlyWeCanChange(real).ok();
  if (ours) {
    ASSIGN_OR_RETURN(UniqueFd cas, worker::EnsurePrivateDir(cache.get(), "cas", real + "/cas",
                                                            worker::CurrentOwner(), 0700));
  }
  // Only where the build user can pass and nobody but root can swap a directory for a link.
  if (ours && (build_owner.uid == ::geteuid() ||
               CheckReachableBy(real + "/cas", build_owner.uid, build_owner.gid).ok())) {
    return CacheLayout{real + "/cas", real};
  }
  // The areas live in a root-owned 0711 directory of the system cache; it must be reachable.
  std::string root_path = worker::kDefaultPrivateRoot;
  size_t slash = root_path.rfind('/');
  ASSIGN_OR_RETURN(UniqueFd system, worker::OpenNamedDir(root_path.substr(0, slash), 0711));
  ASSIGN_OR_RETURN(UniqueFd root,
                   worker::EnsurePrivateDir(system.get(), root_path.substr(slash + 1), root_path,
                                            worker::CurrentOwner(), 0711));
  if (absl::Status s = worker::CheckOnlyWeCanChange(root_path); !s.ok()) {
    return Annotate(s, absl::StrCat("the cache directory ", cache_dir,
                                    " is not root's alone, and neither is the fallback for it"));
  }
  ASSIGN_OR_RETURN(std::string area, worker::PrivateAreaFor(real, root_path));
  std::string name = area.substr(area.rfind('/') + 1);
  ASSIGN_OR_RETURN(UniqueFd made,
                   worker::EnsurePrivateDir(root.get(), name, area, worker::CurrentOwner(), 0711));
  ASSIGN_OR_RETURN(UniqueFd apps, worker::EnsurePrivateDir(made.get(), "apps", area + "/apps",
                                                           worker::CurrentOwner(), 0711));
  if (absl::Status s = CheckReachableBy(area + "/apps", build_owner.uid, build_owner.gid);
      !s.ok()) {
    return Annotate(s, absl::StrCat("the cache directory ", cache_dir,
                                    " is private, and so is the fallback for it"));
  }
  if (ours) return CacheLayout{real + "/cas", area};
  ASSIGN_OR_RETURN(UniqueFd cas, worker::EnsurePrivateDir(made.get(), "cas", area + "/cas",
                                                          worker::CurrentOwner(), 0700));
  return CacheLayout{area + "/cas", area};
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
  std::string cache_dir = args.cache_dir.empty() ? DefaultCacheDir() : args.cache_dir;
  BubblewrapSandboxOptions sandbox_options;
  BubblewrapSandbox sandbox(sandbox_options);
  worker::DirOwner build_owner =
      sandbox.drops_privileges()
          ? worker::DirOwner{sandbox_options.build_uid, sandbox_options.build_gid}
          : worker::CurrentOwner();
  absl::StatusOr<CacheLayout> layout = PrepareCacheDir(cache_dir, build_owner);
  if (!layout.ok()) {
    return ReportFailure("build",
                         WithFailure(layout.status(), {FailureKind::kInternal, "cache", ""}),
                         args.json, out, err);
  }
  // One process at a time holds a cache directory: another `tempa build` on it is waited for,
  // as long as a build may run, saying so once.
  cas::LocalCasOptions cas_options;
  cas_options.lock_wait =
      (args.timeout > absl::ZeroDuration() ? args.timeout : SandboxLimits().wall_time) +
      absl::Minutes(5);
  cas_options.on_wait = [&err, &cache_dir] {
    err << "tempa: waiting for another tempa build using " << cache_dir << " to finish\n";
  };
  absl::StatusOr<std::unique_ptr<cas::LocalCas>> cas =
      cas::LocalCas::Open(layout->cas, cas_options);
  if (!cas.ok()) {
    return ReportFailure("build", WithFailure(cas.status(), {FailureKind::kInternal, "cache", ""}),
                         args.json, out, err);
  }

  buildpacks::Detector detector = buildpacks::Detector::WithDefaultBuildpacks();
  registry::CurlHttpTransport transport;
  registry::RegistryClientOptions registry_options;
  registry_options.insecure = args.insecure_registry;
  registry_options.credentials = CredentialsFromEnv();
  registry_options.token_hosts = TokenHostsFromEnv();
  registry::RegistryClient client(image->registry(), &transport, registry_options);
  std::optional<registry::RegistryClient> run_image_client;
  if (run_image && run_image->registry() != image->registry()) {
    run_image_client.emplace(run_image->registry(), &transport, registry_options);
  }

  worker::PipelineDeps deps;
  deps.blobs = &(*cas)->blobs();
  deps.actions = &(*cas)->actions();
  deps.sandbox = &sandbox;
  deps.prepare_writable_dir = [&sandbox_options](const std::string& dir) {
    return PrepareForSandbox(dir, sandbox_options);
  };
  deps.source_reachable = [&sandbox, &sandbox_options](const std::string& dir) {
    if (!sandbox.drops_privileges()) return absl::OkStatus();
    return CheckReadableBy(dir, sandbox_options.build_uid, sandbox_options.build_gid);
  };
  deps.detector = &detector;
  worker::BuildSession session;
  session.registry = &client;
  session.run_image_registry = run_image_client ? &*run_image_client : nullptr;
  session.on_step = [&err](absl::string_view step, absl::Duration took, absl::string_view detail) {
    err << absl::StrFormat("tempa: %-12s %7.2fs  %s\n", step, absl::ToDoubleSeconds(took), detail);
  };
  session.log = [&err](absl::string_view line) { err << "  | " << line << "\n"; };
  worker::PipelineOptions options;
  options.cache_dir = layout->work_area;
  options.scratch_dir = layout->work_area + "/tmp";
  options.build_owner = build_owner;

  worker::BuildRequest request;
  request.source_dir = AbsoluteSourceDir(args.source_dir);
  request.image = *image;
  request.build_env = args.build_env;
  request.detect.main_package = args.go_main;
  request.source_date_epoch = SourceDateEpochFromEnv();
  request.run_image = run_image;
  if (args.memory_bytes > 0) request.limits.memory_bytes = args.memory_bytes;
  if (args.timeout > absl::ZeroDuration()) request.limits.wall_time = args.timeout;
  if (args.max_processes > 0) request.limits.max_processes = args.max_processes;
  if (args.max_output_bytes > 0) request.limits.output_bytes = args.max_output_bytes;
  if (args.max_file_bytes > 0) request.limits.file_bytes = args.max_file_bytes;

  absl::Time started = absl::Now();
  worker::BuildPipeline pipeline(std::move(deps), options);
  absl::StatusOr<worker::BuildOutcome> outcome = pipeline.Build(request, session);
  if (!outcome.ok()) return ReportFailure("build", outcome.status(), args.json, out, err);
  err << absl::StrFormat("tempa: built %s in %.2fs\n", outcome->image,
                         absl::ToDoubleSeconds(absl::Now() - started));

  if (args.json) {
    registry::RequestCounts counts = client.counts();
    json requests = {{"HEAD", counts.head}, {"GET", counts.get},     {"POST", counts.post},
                     {"PUT", counts.put},   {"PATCH", counts.patch}, {"other", counts.other}};
    json result = {{"image", outcome->image},
                   {"digest", outcome->manifest_digest.ToString()},
                   {"language", outcome->plan.language},
                   {"toolchain", outcome->plan.toolchain},
                   {"app", outcome->plan.app_name},
                   {"layers", LayersJson(*outcome)},
                   {"blobs_uploaded", outcome->blobs_uploaded},
                   {"blobs_skipped", outcome->blobs_skipped},
                   {"registry_requests", requests}};
    if (outcome->revision) result["revision"] = *outcome->revision;
    if (!outcome->run_image.empty()) result["run_image"] = outcome->run_image;
    out << result.dump(-1, ' ', false, json::error_handler_t::replace) << "\n";
  } else {
    out << outcome->image << "\n";
  }
  return 0;
}

}  // namespace tempa::cli
