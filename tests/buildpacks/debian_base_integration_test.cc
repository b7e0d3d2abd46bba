// The Debian run bases against the worker's real dpkg and apt (fetches from the Debian mirror on
// a cold cache): the Python runtime layer is reproducible, and unpacked it runs python3.11 with
// ssl/sqlite3/ctypes as the non-root user. Prints the layer's size and produce() timings.
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>

#include "absl/strings/str_cat.h"
#include "buildpacks/runbase/apt_deb_fetcher.h"
#include "buildpacks/runbase/debian_base.h"
#include "common/oci/layer_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "temp_tree.h"
#include "tests/support/dir_blob_store.h"

namespace tempa::buildpacks::runbase {
namespace {

using test_support::TempTree;
using ::testing::HasSubstr;

struct Written {
  oci::LayerRecord record;
  double produce_seconds = 0;
};

Written ProduceAndWrite(const PlannedLayer& layer, tempa::testing::DirBlobStore& store) {
  auto start = std::chrono::steady_clock::now();
  absl::StatusOr<LayerOutput> out = layer.produce();
  double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  EXPECT_TRUE(out.ok()) << out.status();
  if (!out.ok()) return {};
  absl::StatusOr<oci::LayerRecord> record = oci::WriteLayer(out->spec, {}, store);
  EXPECT_TRUE(record.ok()) << record.status();
  if (!record.ok()) return {};
  return {*record, seconds};
}

std::string RunCapture(const std::string& cmd) {
  std::string out;
  FILE* p = popen((cmd + " 2>&1").c_str(), "r");
  if (p == nullptr) return "popen failed";
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof buf, p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  return absl::StrCat(out, "[exit ", WEXITSTATUS(rc), "]");
}

// Runs argv inside the unpacked rootfs as the non-root user, nothing from the host visible.
// (The user namespace maps 65532 to the caller, so home/nonroot, owned by the real 65532, is
// not enterable here; the image runtime has no such mapping.)
std::string RunInRootfs(const std::string& rootfs, const std::string& argv) {
  return RunCapture(absl::StrCat(
      "bwrap --unshare-all --unshare-user --uid 65532 --gid 65532 --bind ", rootfs,
      " / --proc /proc --dev /dev --clearenv --setenv PATH /usr/bin:/bin --setenv HOME "
      "/home/nonroot --chdir / ", argv));
}

TEST(PythonRuntimeBase, IsReproducibleAndRunsPythonAsNonRoot) {
  TempTree dir;
  DebianBaseOptions options;
  // TEMPA_DEB_CACHE_DIR keeps the .debs between runs (a cold run downloads ~15 MB).
  const char* cache = std::getenv("TEMPA_DEB_CACHE_DIR");
  options.deb_cache_dir = cache ? std::string(cache) : dir / "debs";
  options.log = [](absl::string_view line) { std::printf("  %s\n", std::string(line).c_str()); };
  absl::StatusOr<PlannedLayer> layer = DebianBaseLayer(PythonRuntimeRecipe(), options);
  ASSERT_TRUE(layer.ok()) << layer.status();
  tempa::testing::DirBlobStore store(dir / "store");
  Written cold = ProduceAndWrite(*layer, store);
  Written warm = ProduceAndWrite(*layer, store);
  ASSERT_FALSE(cold.record.blob.digest.empty());
  EXPECT_EQ(cold.record.blob.digest, warm.record.blob.digest);
  EXPECT_EQ(cold.record.diff_id, warm.record.diff_id);
  std::printf("python3.11 run base: %s, %.1f MB compressed; produce() cold %.2f s, warm %.2f s\n",
              cold.record.blob.digest.ToString().c_str(),
              static_cast<double>(cold.record.blob.size) / 1e6, cold.produce_seconds,
              warm.produce_seconds);

  // Planning a second time (fresh fetcher, same cache) gives the same key.
  absl::StatusOr<PlannedLayer> again = DebianBaseLayer(PythonRuntimeRecipe(), options);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->input_key, layer->input_key);

  std::string rootfs = dir / "rootfs";
  mkdir(rootfs.c_str(), 0755);
  std::string blob = store.BlobPath(cold.record.blob.digest);
  ASSERT_THAT(RunCapture(absl::StrCat("tar -xzf ", blob, " -C ", rootfs)), HasSubstr("[exit 0]"));
  std::string script =
      "import ssl, sqlite3, json, zlib, ctypes, uuid, os, pwd, zoneinfo\n"
      "ctx = ssl.create_default_context()\n"
      "assert ctx.cert_store_stats()['x509_ca'] > 0, 'no CA certificates'\n"
      "assert sqlite3.connect(':memory:').execute('select 41+1').fetchone()[0] == 42\n"
      "assert zlib.decompress(zlib.compress(b'x')) == b'x'\n"
      "assert ctypes.CDLL(None) is not None\n"
      "zoneinfo.ZoneInfo('Europe/Berlin')\n"
      "print(pwd.getpwuid(os.getuid()).pw_name, uuid.uuid4().version, 'ok')\n";
  TempTree scripts;
  scripts.Write("check.py", script);
  std::string check = absl::StrCat(rootfs, "/tmp/check.py");
  ASSERT_THAT(RunCapture(absl::StrCat("cp ", scripts / "check.py", " ", check)),
              HasSubstr("[exit 0]"));
  EXPECT_THAT(RunInRootfs(rootfs, "/usr/bin/python3.11 /tmp/check.py"),
              HasSubstr("nonroot 4 ok\n[exit 0]"));
  EXPECT_THAT(RunInRootfs(rootfs, "python -c 'import sys; print(sys.version_info[:2])'"),
              HasSubstr("(3, 11)"));
  EXPECT_THAT(RunInRootfs(rootfs, "/bin/sh -c 'echo from-$0'"), HasSubstr("from-/bin/sh"));
}

// A package served from the worker's installed files gives the same layer as its .deb.
class NothingDownloadable : public DebFetcher {
 public:
  explicit NothingDownloadable(DebFetcherPtr real) : real_(std::move(real)) {}
  absl::StatusOr<std::vector<DebPackage>> Installed(
      const std::vector<std::string>& names) override {
    return real_->Installed(names);
  }
  absl::StatusOr<FetchedDeb> Fetch(const DebPackage& p) override {
    return absl::NotFoundError(p.Pin());
  }

 private:
  DebFetcherPtr real_;
};

TEST(DebianBase, InstalledFilesFallbackMatchesTheDeb) {
  TempTree dir;
  DebianBaseRecipe recipe;
  recipe.name = "fallback-check";
  recipe.packages = {"dash", "libgcc-s1"};  // downloadable; dash has a diversion, libgcc lib/
  DebianBaseOptions options;
  options.deb_cache_dir = dir / "debs";
  tempa::testing::DirBlobStore store(dir / "store");
  absl::StatusOr<PlannedLayer> from_deb = DebianBaseLayer(recipe, options);
  ASSERT_TRUE(from_deb.ok()) << from_deb.status();
  options.fetcher = std::make_shared<NothingDownloadable>(NewAptDebFetcher({dir / "debs"}));
  absl::StatusOr<PlannedLayer> from_host = DebianBaseLayer(recipe, options);
  ASSERT_TRUE(from_host.ok()) << from_host.status();
  EXPECT_EQ(from_deb->input_key, from_host->input_key);
  Written a = ProduceAndWrite(*from_deb, store);
  Written b = ProduceAndWrite(*from_host, store);
  EXPECT_EQ(a.record.diff_id, b.record.diff_id);
}

TEST(PackagesForSharedLibraries, FindsThePackagesShippingSonames) {
  absl::StatusOr<std::vector<std::string>> packages =
      PackagesForSharedLibraries({"libc.so.6", "libssl.so.3", "libgcc_s.so.1", "libc.so.6"});
  ASSERT_TRUE(packages.ok()) << packages.status();
  EXPECT_THAT(*packages, ::testing::ElementsAre("libc6", "libgcc-s1", "libssl3"));
  absl::StatusOr<std::vector<std::string>> missing =
      PackagesForSharedLibraries({"libtempa-nonexistent.so.9"});
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(missing.status().message(), HasSubstr("libtempa-nonexistent.so.9"));
}

}  // namespace
}  // namespace tempa::buildpacks::runbase
