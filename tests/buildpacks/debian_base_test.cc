// Debian run bases without apt or a network: the .deb reader on packages built here with
// dpkg-deb, and DebianBaseLayer's key and layout against a fake fetcher serving those packages.
#include "buildpacks/runbase/debian_base.h"

#include <sys/stat.h>

#include <cstdlib>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "buildpacks/runbase/apt_deb_fetcher.h"
#include "buildpacks/runbase/deb_reader.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "temp_tree.h"

namespace tempa::buildpacks::runbase {
namespace {

using test_support::TempTree;
using ::testing::HasSubstr;
using Type = PackageEntry::Type;

// Builds `name`.deb from a tree with files, a symlink, a hard link (listed before its file in
// tar order once merged /usr moves bin/ under usr/), a setuid binary, docs and an /etc/passwd.
std::string BuildDeb(const TempTree& dir, const std::string& name, const std::string& version,
                     const std::string& compression = "xz") {
  std::string root = absl::StrCat(name, "-", version, "-", compression, "-root");
  dir.Write(root + "/DEBIAN/control",
            absl::StrCat("Package: ", name, "\nVersion: ", version,
                         "\nArchitecture: all\nMaintainer: T <t@example.com>\n"
                         "Description: test package\n"));
  dir.Write(root + "/usr/bin/tool", "#!/bin/sh\necho tool\n", 0755);
  dir.Write(root + "/usr/bin/su-helper", "setuid", 04755);
  dir.Write(root + "/usr/lib/libt.so.1.0", "ELF-ish", 0644);
  dir.Symlink("libt.so.1.0", root + "/usr/lib/libt.so.1");
  dir.Write(root + "/bin/legacy", "legacy", 0755);
  EXPECT_EQ(
      link((dir / (root + "/bin/legacy")).c_str(), (dir / (root + "/usr/bin/a-legacy")).c_str()),
      0);
  dir.Write(root + "/usr/share/doc/" + name + "/copyright", "GPL");
  dir.Write(root + "/usr/share/" + name + "/data.txt", "data");
  dir.Write(root + "/etc/passwd", "root:x:0:0:pkg:/root:/bin/bash\n");
  std::string deb = dir / absl::StrCat(name, "_", version, "_all.deb");
  std::string cmd = absl::StrCat("dpkg-deb --root-owner-group -Z", compression, " --build ",
                                 dir / root, " ", deb, " >/dev/null");
  EXPECT_EQ(std::system(cmd.c_str()), 0) << cmd;
  return deb;
}

std::map<std::string, PackageEntry> ByPath(const std::vector<PackageEntry>& entries) {
  std::map<std::string, PackageEntry> out;
  for (const PackageEntry& e : entries) out[e.path] = e;
  return out;
}

class DebReaderTest : public ::testing::TestWithParam<std::string> {};

TEST_P(DebReaderTest, ReadsFilesLinksModesAndHardLinks) {
  TempTree dir;
  std::string deb = BuildDeb(dir, "tpkg", "1.0-1", GetParam());
  absl::StatusOr<std::vector<PackageEntry>> entries = ReadDebData(deb);
  ASSERT_TRUE(entries.ok()) << entries.status();
  auto by = ByPath(*entries);
  ASSERT_TRUE(by.count("usr/bin/tool"));
  EXPECT_EQ(by["usr/bin/tool"].type, Type::kFile);
  EXPECT_EQ(by["usr/bin/tool"].mode, 0755u);
  EXPECT_EQ(by["usr/bin/tool"].contents, "#!/bin/sh\necho tool\n");
  EXPECT_EQ(by["usr/bin/su-helper"].mode, 04755u);
  EXPECT_EQ(by["usr/lib/libt.so.1"].type, Type::kSymlink);
  EXPECT_EQ(by["usr/lib/libt.so.1"].link_target, "libt.so.1.0");
  EXPECT_EQ(by["usr/bin"].type, Type::kDirectory);
  // One of the two names holds the bytes; the other links to it.
  const PackageEntry& a = by["bin/legacy"];
  const PackageEntry& b = by["usr/bin/a-legacy"];
  EXPECT_TRUE((a.type == Type::kHardlink && a.link_target == b.path && b.contents == "legacy") ||
              (b.type == Type::kHardlink && b.link_target == a.path && a.contents == "legacy"));
  EXPECT_FALSE(by.count("")) << "the root entry './' is not an entry";
  for (const PackageEntry& e : *entries) EXPECT_NE(e.path.front(), '.') << e.path;
}

INSTANTIATE_TEST_SUITE_P(Compressions, DebReaderTest, ::testing::Values("xz", "gzip", "zstd"));

TEST(DebReader, ExtractsFilesToDiskAndReadsTheListBack) {
  TempTree dir;
  std::string deb = BuildDeb(dir, "tpkg", "1.0-1");
  std::string out = dir / "extract";
  absl::StatusOr<std::vector<PackageEntry>> entries = ReadDebData(deb, {out, false});
  ASSERT_TRUE(entries.ok()) << entries.status();
  auto by = ByPath(*entries);
  EXPECT_EQ(by["usr/bin/tool"].source_path, out + "/usr/bin/tool");
  EXPECT_FALSE(by["usr/bin/tool"].contents.has_value());
  struct stat st;
  ASSERT_EQ(stat((out + "/usr/bin/a-legacy").c_str(), &st), 0);
  EXPECT_EQ(st.st_nlink, 2u);
  absl::StatusOr<std::vector<PackageEntry>> again = ReadDebData(deb, {out, true});
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->size(), entries->size());
}

TEST(DebReader, RejectsAFileThatIsNotADeb) {
  TempTree dir;
  dir.Write("not.deb", "hello");
  absl::StatusOr<std::vector<PackageEntry>> entries = ReadDebData(dir / "not.deb");
  EXPECT_EQ(entries.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(entries.status().message(), HasSubstr("not.deb"));
}

TEST(DebReader, NormalizesPaths) {
  EXPECT_EQ(NormalizePackagePath("./usr//bin/x/"), "usr/bin/x");
  EXPECT_EQ(NormalizePackagePath("/usr/bin"), "usr/bin");
  EXPECT_EQ(NormalizePackagePath("./"), "");
  EXPECT_EQ(NormalizePackagePath("usr/../../etc"), std::nullopt);
}

// Serves .debs built in the test; counts fetches so tests can prove planning never fetches.
class FakeFetcher : public DebFetcher {
 public:
  void Add(DebPackage package, std::string deb) {
    installed_[package.name] = package;
    debs_[package.Pin()] = std::move(deb);
  }
  absl::StatusOr<std::vector<DebPackage>> Installed(
      const std::vector<std::string>& names) override {
    std::vector<DebPackage> out;
    for (const std::string& n : names) {
      if (!installed_.count(n)) return absl::FailedPreconditionError("install it: " + n);
      out.push_back(installed_[n]);
    }
    return out;
  }
  absl::StatusOr<FetchedDeb> Fetch(const DebPackage& package) override {
    ++fetches;
    auto it = debs_.find(package.Pin());
    if (it == debs_.end()) return absl::NotFoundError(package.Pin());
    absl::StatusOr<Digest> digest = Sha256OfFile(it->second);
    if (!digest.ok()) return digest.status();
    return FetchedDeb{package, it->second, *digest};
  }
  int fetches = 0;

 private:
  std::map<std::string, DebPackage> installed_;
  std::map<std::string, std::string> debs_;
};

class DebianBaseLayerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    host_.Write("etc/ssl/certs/ca-certificates.crt", "-----BEGIN CERTIFICATE-----\nfake\n");
    host_.Write("usr/share/zoneinfo/Etc/UTC", "TZif-utc");
    fetcher_ = std::make_shared<FakeFetcher>();
    fetcher_->Add({"tpkg", "1.0-1", "all"}, BuildDeb(debs_, "tpkg", "1.0-1"));
    fetcher_->Add({"other", "2.0", "all"}, BuildDeb(debs_, "other", "2.0"));
    options_.static_base.host_root = host_.path();
    options_.deb_cache_dir = debs_ / "cache";
    options_.fetcher = fetcher_;
    options_.installed_files_fallback = false;
    recipe_.name = "test";
    recipe_.packages = {"tpkg", "other"};
    recipe_.symlinks = {{"usr/bin/t", "tool"}};
  }

  std::string Key() {
    absl::StatusOr<PlannedLayer> layer = DebianBaseLayer(recipe_, options_);
    EXPECT_TRUE(layer.ok()) << layer.status();
    return layer.ok() ? layer->input_key : "";
  }

  TempTree host_, debs_;
  std::shared_ptr<FakeFetcher> fetcher_;
  DebianBaseOptions options_;
  DebianBaseRecipe recipe_;
};

TEST_F(DebianBaseLayerTest, KeyIsComputedWithoutFetching) {
  std::string key = Key();
  EXPECT_THAT(key, ::testing::StartsWith("sha256:"));
  EXPECT_EQ(fetcher_->fetches, 0);
}

TEST_F(DebianBaseLayerTest, KeyChangesWithAVersionAndNothingElse) {
  std::string key = Key();
  recipe_.packages = {"other", "tpkg", "tpkg"};  // order and duplicates do not matter
  EXPECT_EQ(Key(), key);
  fetcher_->Add({"tpkg", "1.0-2", "all"}, BuildDeb(debs_, "tpkg", "1.0-2"));
  EXPECT_NE(Key(), key);
}

TEST_F(DebianBaseLayerTest, KeyChangesWithExclusionsSymlinksAndTheStaticBase) {
  std::string key = Key();
  recipe_.exclude_prefixes = {"usr/share/tpkg/"};
  std::string excluded = Key();
  EXPECT_NE(excluded, key);
  recipe_.symlinks.emplace_back("usr/bin/u", "tool");
  std::string linked = Key();
  EXPECT_NE(linked, excluded);
  host_.Write("etc/ssl/certs/ca-certificates.crt", "-----BEGIN CERTIFICATE-----\nnew\n");
  EXPECT_NE(Key(), linked);
}

TEST_F(DebianBaseLayerTest, KeyChangesWithAnAddedPackageItsArchitectureAndTheRecipesName) {
  std::string key = Key();
  std::set<std::string> keys = {key};
  const std::string deb = BuildDeb(debs_, "libssl3", "3.0.19");  // keys never fetch it
  fetcher_->Add({"libssl3", "3.0.19-1~deb12u2", "amd64"}, deb);
  recipe_.packages.push_back("libssl3");  // a binary that now links libssl (Rust's run base)
  EXPECT_TRUE(keys.insert(Key()).second);
  fetcher_->Add({"libssl3", "3.0.19-1~deb12u2", "arm64"}, deb);
  EXPECT_TRUE(keys.insert(Key()).second);  // the same version for another machine
  recipe_.name = "other-recipe";
  EXPECT_TRUE(keys.insert(Key()).second);
  // Where the .debs are cached is not an input.
  options_.deb_cache_dir = debs_ / "elsewhere";
  EXPECT_FALSE(keys.insert(Key()).second);
}

TEST_F(DebianBaseLayerTest, AHostFileChangedAfterPlanningIsNeverWrittenUnderTheEarlierKey) {
  absl::StatusOr<PlannedLayer> layer = DebianBaseLayer(recipe_, options_);
  ASSERT_TRUE(layer.ok()) << layer.status();
  host_.Write("usr/share/zoneinfo/Etc/UTC", "TZif-utc-2026a");
  absl::StatusOr<LayerOutput> out = layer->produce();
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(out.status().message()), HasSubstr("time zones changed"));
}

TEST_F(DebianBaseLayerTest, NotInstalledIsAnErrorFromPlanning) {
  recipe_.packages.push_back("missing");
  absl::StatusOr<PlannedLayer> layer = DebianBaseLayer(recipe_, options_);
  EXPECT_EQ(layer.status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(DebianBaseLayerTest, LaysOutPackagesLikeDebian12) {
  absl::StatusOr<PlannedLayer> layer = DebianBaseLayer(recipe_, options_);
  ASSERT_TRUE(layer.ok()) << layer.status();
  absl::StatusOr<LayerOutput> out = layer->produce();
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(fetcher_->fetches, 2);
  std::map<std::string, oci::LayerEntry> by;
  for (const oci::LayerEntry& e : out->spec.entries()) by[e.path] = e;
  using LT = oci::LayerEntry::Type;
  // Merged /usr: the package's bin/legacy lands in usr/bin, /bin is a link.
  EXPECT_FALSE(by.count("bin/legacy"));
  ASSERT_TRUE(by.count("bin"));
  EXPECT_EQ(by["bin"].type, LT::kSymlink);
  EXPECT_EQ(by["bin"].link_target, "usr/bin");
  EXPECT_EQ(by["lib64"].link_target, "usr/lib64");
  // The hard link pair: the .deb stores bytes at bin/legacy, linked from usr/bin/a-legacy; in
  // the layer the smaller path holds the bytes, the other links to it.
  EXPECT_EQ(by["usr/bin/legacy"].type, LT::kHardlink);
  EXPECT_EQ(by["usr/bin/legacy"].link_target, "usr/bin/a-legacy");
  EXPECT_EQ(by["usr/bin/a-legacy"].type, LT::kFile);
  EXPECT_EQ(by["usr/bin/a-legacy"].mode, 0755u);
  EXPECT_EQ(by["usr/bin/su-helper"].mode, 0755u) << "setuid dropped";
  EXPECT_EQ(by["usr/bin"].mode, 0755u);
  EXPECT_EQ(by["usr/lib/libt.so.1"].link_target, "libt.so.1.0");
  EXPECT_TRUE(by.count("usr/share/tpkg/data.txt"));
  EXPECT_FALSE(by.count("usr/share/doc/tpkg/copyright"));
  EXPECT_FALSE(by.count("usr/share/doc"));
  EXPECT_EQ(by["usr/bin/t"].link_target, "tool");
  // The static base's passwd (with the non-root user) beats the package's.
  ASSERT_TRUE(by["etc/passwd"].contents.has_value());
  EXPECT_THAT(*by["etc/passwd"].contents, HasSubstr("nonroot:x:65532"));
  EXPECT_TRUE(by.count("etc/ssl/certs/ca-certificates.crt"));
  // Extracted once into the cache's staging area; a second produce reuses it.
  EXPECT_THAT(by["usr/share/tpkg/data.txt"].source_path, HasSubstr("/cache/staging/"));
  absl::StatusOr<LayerOutput> again = layer->produce();
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(again->spec.entries().size(), out->spec.entries().size());
}

TEST_F(DebianBaseLayerTest, UndownloadableVersionFailsWithoutTheFallback) {
  fetcher_->Add({"gone", "0.1", "all"}, debs_ / "nonexistent.deb");
  recipe_.packages = {"gone"};
  absl::StatusOr<PlannedLayer> layer = DebianBaseLayer(recipe_, options_);
  ASSERT_TRUE(layer.ok()) << layer.status();
  absl::StatusOr<LayerOutput> out = layer->produce();
  EXPECT_FALSE(out.ok());
  EXPECT_THAT(out.status().message(), HasSubstr("gone=0.1:all"));
}

TEST(AptDebFetcher, NotInstalledSaysWhatToInstall) {
  TempTree cache;
  DebFetcherPtr fetcher = NewAptDebFetcher({cache.path()});
  absl::StatusOr<std::vector<DebPackage>> packages = fetcher->Installed({"tempa-no-such-package"});
  EXPECT_EQ(packages.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(packages.status().message(), HasSubstr("apt-get install tempa-no-such-package"));
}

TEST(DebPackage, FileNameEncodesTheEpochLikeApt) {
  EXPECT_EQ((DebPackage{"zlib1g", "1:1.2.13.dfsg-1", "amd64"}).FileName(),
            "zlib1g_1%3a1.2.13.dfsg-1_amd64.deb");
}

TEST(GlibcRecipe, AddsExtrasAndTheOpenSslCaLinksOnlyWithLibssl) {
  DebianBaseRecipe plain = GlibcRecipe();
  EXPECT_THAT(plain.packages, ::testing::ElementsAre("libc6", "libgcc-s1"));
  EXPECT_TRUE(plain.symlinks.empty());
  DebianBaseRecipe ssl = GlibcRecipe({"libssl3"});
  EXPECT_THAT(ssl.packages, ::testing::ElementsAre("libc6", "libgcc-s1", "libssl3"));
  EXPECT_FALSE(ssl.symlinks.empty());
}

}  // namespace
}  // namespace tempa::buildpacks::runbase
