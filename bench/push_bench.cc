// push_bench: Tempa's image push against skopeo's, same image, same registry, same run.
//
// Builds a ~100 MB image (4 gzip layers of incompressible data) as an OCI layout, starts a real
// docker-registry on loopback, then alternates rounds of
//   skopeo copy --dest-tls-verify=false oci:DIR:v1 docker://HOST/skopeo-N:v1
//   PushImage(...) to HOST/tempa-N:v1            (monolithic PUTs, the default)
//   PushImage(...) to HOST/tempa-chunked-N:v1    (16 MiB PATCH chunks, for comparison)
// into fresh repositories (so nobody gets a free mount), takes each tool's best round, and finally
// re-pushes unchanged with Tempa to show the request counts (HEADs + one manifest PUT).
//
// Usage: push_bench [total_mb=100] [rounds=3]
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/registry/curl_http_transport.h"
#include "common/registry/image_pusher.h"
#include "common/registry/registry_client.h"
#include "tests/support/dir_blob_store.h"
#include "tests/support/registry_server.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_image.h"

namespace tempa {
namespace {

double Now() {
  using namespace std::chrono;
  return duration<double>(steady_clock::now().time_since_epoch()).count();
}

// Runs skopeo with an empty blob-info cache, so it cannot turn uploads into mounts from an earlier
// round: a fresh HOME, and as root (whose cache is /var/lib/containers/cache) a private tmpfs over
// that directory in a throwaway mount namespace. Returns seconds or -1 on failure.
double TimeCommand(const std::string& command, const std::string& home) {
  std::string isolated =
      geteuid() == 0 ? absl::StrCat(
                           "unshare -m sh -c 'mkdir -p /var/lib/containers/cache && mount -t tmpfs "
                           "tmpfs /var/lib/containers/cache && exec ",
                           command, "'")
                     : command;
  std::string full = absl::StrCat("HOME=", home, " ", isolated, " >", home, "/out.log 2>&1");
  double start = Now();
  int rc = std::system(full.c_str());
  double seconds = Now() - start;
  if (rc != 0) {
    std::fprintf(stderr, "command failed (%d): %s\n", rc, full.c_str());
    std::string cat = absl::StrCat("cat ", home, "/out.log >&2");
    (void)std::system(cat.c_str());
    return -1;
  }
  return seconds;
}

int Run(int total_mb, int rounds) {
  if (!testing::RegistryServer::Available()) {
    std::fprintf(stderr, "docker-registry not installed\n");
    return 1;
  }
  bool have_skopeo = access("/usr/bin/skopeo", X_OK) == 0;
  testing::TempDir work("tempa-push-bench-");
  std::string layout = work.Join("layout");
  testing::DirBlobStore store(layout);
  uint64_t layer = static_cast<uint64_t>(total_mb) * 1000 * 1000 / 4;
  auto image = testing::MakeTestImage(store, {layer, layer, layer, layer}, 42);
  if (!image.ok()) {
    std::fprintf(stderr, "make image: %s\n", image.status().ToString().c_str());
    return 1;
  }
  if (auto s = testing::WriteOciLayoutIndex(layout, *image, "v1"); !s.ok()) return 1;
  const double mb = static_cast<double>(image->total_bytes) / 1e6;

  auto server = testing::RegistryServer::Start();
  if (!server.ok()) {
    std::fprintf(stderr, "registry: %s\n", server.status().ToString().c_str());
    return 1;
  }
  const std::string host = (*server)->host_port();
  std::printf("image: %d layers, %.1f MB; registry %s; %d rounds\n",
              static_cast<int>(image->layers.size()), mb, host.c_str(), rounds);

  registry::CurlHttpTransport transport;
  registry::RegistryClient client(host, &transport);
  registry::RegistryClientOptions chunked_options;
  chunked_options.monolithic_limit = 0;
  registry::RegistryClient chunked(host, &transport, chunked_options);

  auto tempa_push = [&](registry::RegistryClient& c, const std::string& repo) -> double {
    auto ref = registry::ImageReference::Parse(absl::StrCat(host, "/", repo, ":v1"));
    double start = Now();
    auto result =
        registry::PushImage(c, *ref, store, image->config, image->layers, image->manifest_json);
    double seconds = Now() - start;
    if (!result.ok()) {
      std::fprintf(stderr, "tempa push: %s\n", result.status().ToString().c_str());
      return -1;
    }
    return seconds;
  };

  // Warm-up: puts every blob in the registry's global storage once, so all timed rounds see the
  // same server-side state (distribution still makes each repository upload the bytes).
  if (tempa_push(client, "warmup") < 0) return 1;

  std::vector<double> skopeo_times, tempa_times, chunked_times;
  for (int round = 0; round < rounds; ++round) {
    if (have_skopeo) {
      testing::TempDir home("tempa-skopeo-home-");
      double s = TimeCommand(absl::StrCat("skopeo copy -q --dest-tls-verify=false oci:", layout,
                                          ":v1 docker://", host, "/skopeo-", round, ":v1"),
                             home.path());
      if (s < 0) return 1;
      skopeo_times.push_back(s);
    }
    double t = tempa_push(client, absl::StrCat("tempa-", round));
    double c = tempa_push(chunked, absl::StrCat("tempa-chunked-", round));
    if (t < 0 || c < 0) return 1;
    tempa_times.push_back(t);
    chunked_times.push_back(c);
  }

  auto best = [](const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); };
  double skopeo_best = have_skopeo ? best(skopeo_times) : 0;
  std::printf("\n%-28s %9s %9s %12s\n", "tool", "seconds", "MB/s", "vs skopeo");
  auto row = [&](const char* name, const std::vector<double>& times) {
    double s = best(times);
    std::string ratio = skopeo_best > 0 ? absl::StrFormat("%.2fx", s / skopeo_best) : "n/a";
    std::string all;
    for (double t : times) absl::StrAppend(&all, absl::StrFormat(" %.2f", t));
    std::printf("%-28s %9.3f %9.1f %12s   (rounds:%s)\n", name, s, mb / s, ratio.c_str(),
                all.c_str());
  };
  if (have_skopeo) row("skopeo copy", skopeo_times);
  row("tempa push (monolithic)", tempa_times);
  row("tempa push (16 MiB chunks)", chunked_times);

  // Unchanged re-push: must be HEADs + one manifest PUT.
  registry::RequestCounts before = client.counts();
  double again = tempa_push(client, "tempa-0");
  registry::RequestCounts after = client.counts();
  std::printf(
      "\nre-push unchanged: %.3f s; requests HEAD=%lld GET=%lld POST=%lld PUT=%lld "
      "PATCH=%lld\n",
      again, static_cast<long long>(after.head - before.head),
      static_cast<long long>(after.get - before.get),
      static_cast<long long>(after.post - before.post),
      static_cast<long long>(after.put - before.put),
      static_cast<long long>(after.patch - before.patch));
  return 0;
}

}  // namespace
}  // namespace tempa

int main(int argc, char** argv) {
  int total_mb = argc > 1 ? std::atoi(argv[1]) : 100;
  int rounds = argc > 2 ? std::atoi(argv[2]) : 3;
  return tempa::Run(std::max(total_mb, 1), std::max(rounds, 1));
}
