// go_first_build_bench: the first build of a new small Go app (examples/go-hello: net/http and
// one vendored module) with the standard-library seed against today's cold build (an empty
// GOCACHE, so go compiles the standard library), same run, same machine.
//
// Every build goes through the real BuildPipeline as `tempa build` wires it (bubblewrap sandbox
// as the build user, local CAS, a real docker-registry on loopback, push included), each one a
// new app (its own image repository, so its own empty cache). The cold rows use a Go buildpack
// that is given no seeds directory; everything else is the same. Between them, the one-time
// seed preparation a worker does at start (PrepareToolchainSeeds). The "compiled" column counts
// the GOCACHE entries the build wrote itself (the seed's read-only links not included).
//
// Usage: go_first_build_bench [cold_rounds=1] [seeded_rounds=3]      (as root, like a worker)
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "buildpacks/detector.h"
#include "buildpacks/go/go_buildpack.h"
#include "common/cas/local_cas.h"
#include "common/registry/curl_http_transport.h"
#include "common/registry/registry_client.h"
#include "tests/support/registry_server.h"
#include "tests/support/temp_dir.h"
#include "worker/build_pipeline.h"
#include "worker/sandbox/bubblewrap_sandbox.h"
#include "worker/toolchain_seeds.h"

namespace tempa {
namespace {

namespace fs = std::filesystem;

// The Go buildpack as it was before seeds: the same, but its builds are told of no seeds.
class UnseededGoBuildpack : public buildpacks::Buildpack {
 public:
  explicit UnseededGoBuildpack(buildpacks::BuildpackPtr inner) : inner_(std::move(inner)) {}
  absl::string_view language() const override { return inner_->language(); }
  absl::StatusOr<std::optional<buildpacks::BuildPlan>> Detect(
      const std::string& source_dir, const buildpacks::DetectOptions& options) override {
    return inner_->Detect(source_dir, options);
  }
  absl::StatusOr<buildpacks::BuildRecipe> Prepare(
      const buildpacks::BuildPlan& plan, const buildpacks::BuildContext& context) override {
    buildpacks::BuildContext unseeded = context;
    unseeded.toolchain_seed_dir.clear();
    return inner_->Prepare(plan, unseeded);
  }

 private:
  buildpacks::BuildpackPtr inner_;
};

buildpacks::Detector GoDetector(bool seeded) {
  buildpacks::BuildpackPtr go = std::make_unique<buildpacks::GoBuildpack>(
      std::make_shared<buildpacks::HostGoToolchainLocator>());
  if (!seeded) go = std::make_unique<UnseededGoBuildpack>(std::move(go));
  std::vector<buildpacks::DetectorEntry> entries;
  entries.push_back({"Go", {"go.mod", "go.work", "main.go"}, std::move(go)});
  return buildpacks::Detector(std::move(entries));
}

// GOCACHE entries (<xx>/<hash>-{a,d}) the build user wrote, not links to the seed.
int OwnEntries(const std::string& gocache) {
  int n = 0;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(gocache, ec)) {
    struct stat st;
    if (::lstat(e.path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (e.path().filename().string().size() == 66 && st.st_uid != 0) ++n;
  }
  return n;
}

// examples/go-hello of the checkout: $TEMPA_SOURCE_DIR, the current directory, or the one the
// build directory (build/bench/) sits in.
std::string ExampleDir() {
  std::vector<std::string> roots;
  if (const char* env = std::getenv("TEMPA_SOURCE_DIR")) roots.push_back(env);
  roots.push_back(".");
  std::error_code ec;
  fs::path self = fs::read_symlink("/proc/self/exe", ec);
  if (!ec) roots.push_back(self.parent_path().parent_path().parent_path().string());
  for (const std::string& root : roots) {
    if (fs::exists(root + "/examples/go-hello/go.mod", ec)) return root + "/examples/go-hello";
  }
  return "";
}

struct Row {
  std::string what;
  std::vector<double> seconds;
  std::vector<int> compiled;
};

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0 : v[v.size() / 2];
}

int Run(int cold_rounds, int seeded_rounds) {
  if (::geteuid() != 0) {
    std::fprintf(stderr, "run as root: builds then run as the build user, as on a worker\n");
    return 1;
  }
  if (!testing::RegistryServer::Available()) {
    std::fprintf(stderr, "docker-registry not installed\n");
    return 1;
  }
  auto registry = testing::RegistryServer::Start();
  if (!registry.ok()) {
    std::fprintf(stderr, "registry: %s\n", registry.status().ToString().c_str());
    return 1;
  }
  testing::TempDir work("tempa-go-first-build-bench-");
  ::chmod(work.path().c_str(), 0711);
  std::string example = ExampleDir();
  if (example.empty()) {
    std::fprintf(stderr, "examples/go-hello not found: set TEMPA_SOURCE_DIR to the checkout\n");
    return 1;
  }
  std::string source = work.Join("go-hello");
  fs::copy(example, source, fs::copy_options::recursive);
  for (const auto& e : fs::recursive_directory_iterator(source)) {
    ::chmod(e.path().c_str(), e.is_directory() ? 0755 : 0644);
  }
  ::chmod(source.c_str(), 0755);

  // The bench's own machine-wide seeds root, so the seed row measures a real first preparation.
  std::string seeds_root = work.Join("seeds");
  std::string area = work.Join("area");
  fs::create_directories(area);
  ::chmod(area.c_str(), 0711);
  auto cas = cas::LocalCas::Open(work.Join("cas"), {});
  if (!cas.ok()) {
    std::fprintf(stderr, "cas: %s\n", cas.status().ToString().c_str());
    return 1;
  }
  BubblewrapSandboxOptions sandbox_options;
  BubblewrapSandbox sandbox(sandbox_options);
  worker::DirOwner owner{sandbox_options.build_uid, sandbox_options.build_gid};
  registry::CurlHttpTransport transport;
  registry::RegistryClient client((*registry)->host_port(), &transport, {});
  buildpacks::Detector cold_detector = GoDetector(false);
  buildpacks::Detector seeded_detector = GoDetector(true);

  int app_number = 0;
  auto build = [&](buildpacks::Detector& detector, Row& row) -> bool {
    std::string name = absl::StrCat("app-", ++app_number);
    worker::PipelineDeps deps;
    deps.blobs = &(*cas)->blobs();
    deps.actions = &(*cas)->actions();
    deps.sandbox = &sandbox;
    deps.detector = &detector;
    deps.prepare_writable_dir = [&](const std::string& dir) {
      return PrepareForSandbox(dir, sandbox_options);
    };
    deps.source_reachable = [&](const std::string& dir) {
      return CheckReadableBy(dir, owner.uid, owner.gid);
    };
    std::string log;
    worker::BuildSession session;
    session.registry = &client;
    session.log = [&log](absl::string_view line) { absl::StrAppend(&log, line, "\n"); };
    worker::PipelineOptions options;
    options.cache_dir = area;
    options.scratch_dir = area + "/tmp";
    options.build_owner = owner;
    options.shared_seeds_root = seeds_root;
    worker::BuildRequest request;
    request.source_dir = source;
    auto image =
        registry::ImageReference::Parse(absl::StrCat((*registry)->host_port(), "/", name, ":v1"));
    request.image = *image;
    worker::BuildPipeline pipeline(std::move(deps), options);
    absl::Time started = absl::Now();
    auto outcome = pipeline.Build(request, session);
    double seconds = absl::ToDoubleSeconds(absl::Now() - started);
    if (!outcome.ok()) {
      std::fprintf(stderr, "build %s: %s\n%s", name.c_str(), outcome.status().ToString().c_str(),
                   log.c_str());
      return false;
    }
    row.seconds.push_back(seconds);
    row.compiled.push_back(OwnEntries(
        absl::StrCat(area, "/apps/", worker::AppCacheKey(request.image.registry() + "/" + name),
                     "/go/go-build")));
    std::fprintf(stderr, "  %-40s %7.2f s  (%d entries compiled)\n", row.what.c_str(), seconds,
                 row.compiled.back());
    return true;
  };

  Row cold{"cold: empty GOCACHE (before seeds)"};
  Row seed{"seed: std once per toolchain (worker start)"};
  Row seeded{"new app's first build, seeded"};
  for (int i = 0; i < cold_rounds; ++i) {
    if (!build(cold_detector, cold)) return 1;
  }
  absl::Time started = absl::Now();
  buildpacks::HostGoToolchainLocator go;
  if (absl::Status s = worker::PrepareToolchainSeeds(area, seeds_root, sandbox, owner, go, nullptr);
      !s.ok()) {
    std::fprintf(stderr, "seed: %s\n", s.ToString().c_str());
    return 1;
  }
  seed.seconds.push_back(absl::ToDoubleSeconds(absl::Now() - started));
  std::fprintf(stderr, "  %-40s %7.2f s\n", seed.what.c_str(), seed.seconds.back());
  for (int i = 0; i < seeded_rounds; ++i) {
    if (!build(seeded_detector, seeded)) return 1;
  }

  std::printf(
      "\nfirst build of a new small Go app (examples/go-hello), tempa pipeline incl. push\n");
  std::printf("%-46s %6s %10s %10s %9s\n", "", "runs", "median s", "min s", "compiled");
  for (const Row* row : {&cold, &seed, &seeded}) {
    std::string compiled =
        row->compiled.empty()
            ? "-"
            : absl::StrCat(*std::max_element(row->compiled.begin(), row->compiled.end()));
    std::printf("%-46s %6zu %10.2f %10.2f %9s\n", row->what.c_str(), row->seconds.size(),
                Median(row->seconds), *std::min_element(row->seconds.begin(), row->seconds.end()),
                compiled.c_str());
  }
  double ratio = Median(cold.seconds) / Median(seeded.seconds);
  std::printf(
      "\nspeed-up of a new app's first build: %.1fx (cold %.2f s / seeded %.2f s); "
      "target: seeded <= 5 s: %s\n",
      ratio, Median(cold.seconds), Median(seeded.seconds),
      Median(seeded.seconds) <= 5.0 ? "met" : "NOT met");
  return 0;
}

}  // namespace
}  // namespace tempa

int main(int argc, char** argv) {
  int cold = argc > 1 ? std::atoi(argv[1]) : 1;
  int seeded = argc > 2 ? std::atoi(argv[2]) : 3;
  return tempa::Run(std::max(cold, 1), std::max(seeded, 1));
}
