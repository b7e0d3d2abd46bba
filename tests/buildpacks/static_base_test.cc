#include "buildpacks/runbase/static_base.h"

#include <sys/stat.h>
#include <utime.h>

#include <map>

#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "temp_tree.h"

namespace tempa::buildpacks::runbase {
namespace {

using test_support::TempTree;
using ::testing::HasSubstr;

// A host root with the inputs the base reads, small enough to reason about.
void FakeHost(const TempTree& root) {
  root.Write("etc/ssl/certs/ca-certificates.crt", "-----BEGIN CERTIFICATE-----\nfake\n");
  root.Write("usr/share/zoneinfo/Etc/UTC", "TZif-utc");
  root.Write("usr/share/zoneinfo/Europe/Berlin", "TZif-berlin");
  root.Write("usr/share/zoneinfo/zone1970.tab", "DE\t+5230+01322\tEurope/Berlin\n");
  root.Write("usr/share/zoneinfo/iso3166.tab", "DE\tGermany\n");
  root.Symlink("Etc/UTC", "usr/share/zoneinfo/UTC");
  root.Symlink("../Europe/Berlin", "usr/share/zoneinfo/Etc/Berlin-alias");
  root.Symlink("/etc/localtime", "usr/share/zoneinfo/localtime");
  root.Symlink("../../../../../etc/shadow", "usr/share/zoneinfo/Etc/escape");
  root.Write("usr/share/zoneinfo/posix/Etc/UTC", "TZif-utc");
  root.Write("usr/share/zoneinfo/right/Etc/UTC", "TZif-right");
}

std::map<std::string, oci::LayerEntry> ByPath(const oci::LayerSpec& spec) {
  std::map<std::string, oci::LayerEntry> out;
  for (const oci::LayerEntry& e : spec.entries()) out[e.path] = e;
  return out;
}

std::string KeyOf(const TempTree& root) {
  absl::StatusOr<StaticBase> base = BuildStaticBase({root.path()});
  EXPECT_TRUE(base.ok()) << base.status();
  return base.ok() ? base->input_key : "";
}

TEST(StaticBase, HoldsCertsZonesUsersAndTmp) {
  TempTree root;
  FakeHost(root);
  absl::StatusOr<StaticBase> base = BuildStaticBase({root.path()});
  ASSERT_TRUE(base.ok()) << base.status();
  auto entries = ByPath(base->spec);
  ASSERT_TRUE(entries.count("etc/ssl/certs/ca-certificates.crt"));
  EXPECT_EQ(entries["etc/ssl/certs/ca-certificates.crt"].source_path,
            root / "etc/ssl/certs/ca-certificates.crt");
  EXPECT_TRUE(entries.count("usr/share/zoneinfo/Europe/Berlin"));
  EXPECT_TRUE(entries.count("usr/share/zoneinfo/zone1970.tab"));
  EXPECT_TRUE(entries.count("usr/share/zoneinfo/iso3166.tab"));
  EXPECT_EQ(entries["usr/share/zoneinfo/UTC"].type, oci::LayerEntry::Type::kSymlink);
  EXPECT_EQ(entries["usr/share/zoneinfo/UTC"].link_target, "Etc/UTC");
  EXPECT_EQ(entries["usr/share/zoneinfo/Etc/Berlin-alias"].link_target, "../Europe/Berlin");
  // Duplicates and links to the host stay out.
  EXPECT_FALSE(entries.count("usr/share/zoneinfo/posix"));
  EXPECT_FALSE(entries.count("usr/share/zoneinfo/posix/Etc/UTC"));
  EXPECT_FALSE(entries.count("usr/share/zoneinfo/right/Etc/UTC"));
  EXPECT_FALSE(entries.count("usr/share/zoneinfo/localtime"));
  EXPECT_FALSE(entries.count("usr/share/zoneinfo/Etc/escape"));

  EXPECT_THAT(*entries["etc/passwd"].contents,
              HasSubstr("nonroot:x:65532:65532:nonroot:/home/nonroot:"));
  EXPECT_THAT(*entries["etc/passwd"].contents, HasSubstr("root:x:0:0:"));
  EXPECT_THAT(*entries["etc/group"].contents, HasSubstr("nonroot:x:65532:"));
  EXPECT_EQ(*entries["etc/nsswitch.conf"].contents, "hosts: files dns\n");
  EXPECT_EQ(entries["tmp"].type, oci::LayerEntry::Type::kDirectory);
  EXPECT_EQ(entries["tmp"].mode, 01777u);
  EXPECT_EQ(entries["home/nonroot"].type, oci::LayerEntry::Type::kDirectory);
  EXPECT_EQ(entries["home/nonroot"].uid, 65532);  // the non-root user owns its home
  EXPECT_EQ(entries["home/nonroot"].mode, 0700u);
  EXPECT_EQ(base->file_count, 5);
}

TEST(StaticBase, SameInputsGiveTheSameKey) {
  TempTree a, b;
  FakeHost(a);
  FakeHost(b);
  std::string key = KeyOf(a);
  EXPECT_THAT(key, ::testing::StartsWith("sha256:"));
  EXPECT_EQ(key, KeyOf(a));
  // The key is about content, not where the host root is or when files were touched.
  EXPECT_EQ(key, KeyOf(b));
  struct utimbuf times = {1000, 1000};
  ASSERT_EQ(utime((a / "usr/share/zoneinfo/Etc/UTC").c_str(), &times), 0);
  EXPECT_EQ(key, KeyOf(a));
}

TEST(StaticBase, KeyChangesWhenAnyInputChanges) {
  TempTree root;
  FakeHost(root);
  std::string original = KeyOf(root);

  root.Write("etc/ssl/certs/ca-certificates.crt", "-----BEGIN CERTIFICATE-----\nrotated\n");
  std::string certs_changed = KeyOf(root);
  EXPECT_NE(certs_changed, original);

  root.Write("usr/share/zoneinfo/Europe/Berlin", "TZif-berlin-2025b");
  std::string zone_changed = KeyOf(root);
  EXPECT_NE(zone_changed, certs_changed);

  root.Write("usr/share/zoneinfo/Asia/Tokyo", "TZif-tokyo");
  std::string zone_added = KeyOf(root);
  EXPECT_NE(zone_added, zone_changed);

  // Changes to what the base skips do not matter.
  root.Write("usr/share/zoneinfo/right/Asia/Tokyo", "TZif-right-tokyo");
  EXPECT_EQ(KeyOf(root), zone_added);
}

TEST(StaticBase, MissingHostPackagesAreNamed) {
  TempTree root;
  root.Mkdir("usr/share/zoneinfo");
  auto base = BuildStaticBase({root.path()});
  ASSERT_FALSE(base.ok());
  EXPECT_EQ(base.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(base.status().message()), HasSubstr("ca-certificates"));

  root.Write("etc/ssl/certs/ca-certificates.crt", "x");
  std::filesystem::remove_all(root / "usr/share/zoneinfo");
  base = BuildStaticBase({root.path()});
  ASSERT_FALSE(base.ok());
  EXPECT_THAT(std::string(base.status().message()), HasSubstr("tzdata"));
}

TEST(StaticBase, PlannedLayerIsKeyedByInputs) {
  TempTree root;
  FakeHost(root);
  auto layer = StaticBaseLayer({root.path()});
  ASSERT_TRUE(layer.ok()) << layer.status();
  EXPECT_EQ(layer->role, LayerRole::kBase);
  EXPECT_EQ(layer->input_key, KeyOf(root));
  auto output = layer->produce();
  ASSERT_TRUE(output.ok());
  EXPECT_TRUE(ByPath(output->spec).count("etc/passwd"));
}

// Regression: the key was computed when the build planned and the files read when the layer
// was written, so a CA bundle upgraded in between went into the cache under the old key.
TEST(StaticBase, AHostFileChangedAfterPlanningIsNeverWrittenUnderTheEarlierKey) {
  TempTree root;
  FakeHost(root);
  auto layer = StaticBaseLayer({root.path()});
  ASSERT_TRUE(layer.ok()) << layer.status();
  root.Write("etc/ssl/certs/ca-certificates.crt", "-----BEGIN CERTIFICATE-----\nupgraded\n");
  auto output = layer->produce();
  ASSERT_FALSE(output.ok());
  EXPECT_EQ(output.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_THAT(std::string(output.status().message()), HasSubstr("build again"));
  // Planned again, the layer has the new key and is made.
  auto again = StaticBaseLayer({root.path()});
  ASSERT_TRUE(again.ok());
  EXPECT_NE(again->input_key, layer->input_key);
  EXPECT_TRUE(again->produce().ok());
}

TEST(StaticBase, BuildsFromThisHost) {
  if (access("/etc/ssl/certs/ca-certificates.crt", R_OK) != 0) GTEST_SKIP() << "no CA bundle";
  auto base = BuildStaticBase();
  ASSERT_TRUE(base.ok()) << base.status();
  auto entries = ByPath(base->spec);
  EXPECT_TRUE(entries.count("usr/share/zoneinfo/Europe/Berlin"));
  EXPECT_FALSE(entries.count("usr/share/zoneinfo/right/Europe/Berlin"));
  EXPECT_GT(base->file_count, 300);
  EXPECT_EQ(base->input_key, BuildStaticBase()->input_key);
}

}  // namespace
}  // namespace tempa::buildpacks::runbase
