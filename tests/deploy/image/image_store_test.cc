// The unpacker's work directory over time: images kept and pruned, flushed to disk, snapshots of
// shared bases, concurrent unpacks and prunes, and who may use the directory.
#include "tests/deploy/image/unpacker_fixture.h"

namespace tempa::deploy {
namespace {

using testing::Compression;
using testing::Dir;
using ::testing::ElementsAre;
using testing::File;
using ::testing::HasSubstr;
using ::testing::IsEmpty;
using testing::Layer;
using testing::MakeLayer;
using testing::PushedImage;
using testing::Symlink;
using ::testing::UnorderedElementsAre;

namespace fs = std::filesystem;
using testing::Names;
using testing::ReadFile;
using testing::RegistryImageUnpackerTest;
using testing::Tree;

TEST_F(RegistryImageUnpackerTest, PruneRemovesImagesNotKeptWithoutFollowingTheirLinks) {
  std::string outside = dir_.Join("outside");
  fs::create_directories(outside);
  { std::ofstream(outside + "/precious") << "keep"; }
  PushedImage kept = Push("prune/kept", {MakeLayer({File("k", "k")})});
  PushedImage dropped =
      Push("prune/dropped", {MakeLayer({Symlink("out", outside),
                                        Symlink("file", outside + "/precious"), File("d", "d")})});
  auto unpacker = MakeUnpacker();
  ASSERT_TRUE(unpacker->Unpack(kept.reference).ok());
  ASSERT_TRUE(unpacker->Unpack(dropped.reference).ok());
  ASSERT_TRUE(unpacker->Prune({kept.manifest_digest.ToString()}).ok());
  EXPECT_THAT(Names(dir_.Join("work/images")), ElementsAre(kept.manifest_digest.hex()));
  EXPECT_THAT(Names(dir_.Join("work/tmp")), IsEmpty());
  EXPECT_EQ(ReadFile(outside + "/precious"), "keep");
  // The kept image is still served without a pull; the dropped one is pulled again.
  int64_t sent = counting_.counts().total();
  ASSERT_TRUE(unpacker->Unpack(kept.reference).ok());
  EXPECT_EQ(counting_.counts().total(), sent);
  ASSERT_TRUE(unpacker->Unpack(dropped.reference).ok());
  EXPECT_GT(counting_.counts().total(), sent);
}

TEST_F(RegistryImageUnpackerTest, AnIncompleteImageDirectoryIsPulledAgainAndReplaced) {
  PushedImage image = Push("broken/app", {MakeLayer({File("f", "x")})});
  auto unpacker = MakeUnpacker();
  auto first = unpacker->Unpack(image.reference);
  ASSERT_TRUE(first.ok()) << first.status();
  fs::remove(dir_.Join("work/images/" + image.manifest_digest.hex() + "/config.json"));
  fs::remove(first->rootfs + "/f");
  auto again = unpacker->Unpack(image.reference);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_EQ(ReadFile(again->rootfs + "/f"), "x");
  EXPECT_THAT(Names(dir_.Join("work/tmp")), IsEmpty());
}

TEST_F(RegistryImageUnpackerTest, AnImageNeverFlushedToDiskIsPulledAgainAfterARestart) {
  PushedImage image = Push("unsynced/app", {MakeLayer({File("f", "x")})});
  MakeUnpacker()->Unpack(image.reference).IgnoreError();
  // As if the machine went down before the background flush marked it.
  std::string marker = dir_.Join("work/images/" + image.manifest_digest.hex() + "/synced");
  ASSERT_TRUE(fs::remove(marker));
  int64_t sent = counting_.counts().total();
  auto unpacker = MakeUnpacker();
  auto again = unpacker->Unpack(image.reference);
  ASSERT_TRUE(again.ok()) << again.status();
  EXPECT_GT(counting_.counts().total(), sent);
  EXPECT_EQ(ReadFile(again->rootfs + "/f"), "x");
  unpacker.reset();
  EXPECT_TRUE(fs::exists(marker));
}

TEST_F(RegistryImageUnpackerTest, AnImageOnAnUnpackedBasePullsOnlyItsTopLayer) {
  Layer base1 = MakeLayer({File("usr/lib/libx", "lib", 0755), File("etc/conf", "old"),
                           File("etc/drop", "d"), Dir("var/empty", 0700)});
  Layer base2 = MakeLayer({File("usr/bin/tool", "tool", 0755), Symlink("usr/bin/alias", "tool")});
  PushedImage first = Push("base/app", {base1, base2, MakeLayer({File("app/v1", "1")})});
  PushedImage second = Push(
      "base/app", {base1, base2,
                   MakeLayer({File("app/v2", "2"), File("etc/conf", "new"),
                              File("etc/.wh.drop", ""), File("usr/lib/libx", "patched", 0755)})});
  auto unpacker = MakeUnpacker();
  auto a = unpacker->Unpack(first.reference);
  ASSERT_TRUE(a.ok()) << a.status();
  int64_t gets = counting_.counts().get;
  auto b = unpacker->Unpack(second.reference);
  ASSERT_TRUE(b.ok()) << b.status();
  EXPECT_EQ(counting_.counts().get - gets, 3);  // manifest, config, the top layer

  // The second image is exactly what a fresh unpack makes; the first is untouched by it.
  options_.work_dir = dir_.Join("fresh");
  auto fresh = MakeUnpacker()->Unpack(second.reference);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(Tree(b->rootfs), Tree(fresh->rootfs));
  EXPECT_EQ(ReadFile(b->rootfs + "/etc/conf"), "new");
  EXPECT_EQ(ReadFile(b->rootfs + "/usr/lib/libx"), "patched");
  EXPECT_FALSE(fs::exists(b->rootfs + "/etc/drop"));
  EXPECT_FALSE(fs::exists(b->rootfs + "/app/v1"));
  EXPECT_EQ(ReadFile(a->rootfs + "/etc/conf"), "old");
  EXPECT_EQ(ReadFile(a->rootfs + "/usr/lib/libx"), "lib");
  EXPECT_EQ(ReadFile(a->rootfs + "/etc/drop"), "d");
  EXPECT_EQ(ReadFile(a->rootfs + "/app/v1"), "1");
  // Unchanged base files are shared, not copied.
  struct stat sa, sb;
  ASSERT_EQ(::stat((a->rootfs + "/usr/bin/tool").c_str(), &sa), 0);
  ASSERT_EQ(::stat((b->rootfs + "/usr/bin/tool").c_str(), &sb), 0);
  EXPECT_EQ(sa.st_ino, sb.st_ino);
}

TEST_F(RegistryImageUnpackerTest, PruneRemovesBaseSnapshotsNoKeptImageUses) {
  Layer base = MakeLayer({File("base", "b")});
  PushedImage one = Push("snap/one", {base, MakeLayer({File("one", "1")})});
  PushedImage two =
      Push("snap/two", {MakeLayer({File("other-base", "o")}), base, MakeLayer({File("two", "2")})});
  auto unpacker = MakeUnpacker();
  ASSERT_TRUE(unpacker->Unpack(one.reference).ok());
  ASSERT_TRUE(unpacker->Unpack(two.reference).ok());
  unpacker.reset();  // flushed, snapshots marked
  // Snapshots, each with its mark: one's base; two's first layer and its first two layers.
  EXPECT_EQ(Names(dir_.Join("work/chains")).size(), 6u);
  unpacker = MakeUnpacker();
  ASSERT_TRUE(unpacker->Prune({one.manifest_digest.ToString()}).ok());
  EXPECT_EQ(Names(dir_.Join("work/chains")).size(), 2u);
  ASSERT_TRUE(unpacker->Prune({}).ok());
  EXPECT_THAT(Names(dir_.Join("work/chains")), IsEmpty());
  EXPECT_THAT(Names(dir_.Join("work/images")), IsEmpty());
}

TEST_F(RegistryImageUnpackerTest, AnotherAppOnTheSameRunBasePullsOnlyItsOwnLayers) {
  Layer base = MakeLayer({File("usr/lib/python3", "py", 0755), File("etc/os-release", "debian")});
  PushedImage one = Push(
      "runbase/one", {base, MakeLayer({File("opt/venv/a", "a")}), MakeLayer({File("app", "1")})});
  PushedImage two = Push(
      "runbase/two", {base, MakeLayer({File("opt/venv/b", "b")}), MakeLayer({File("app", "2")})});
  auto unpacker = MakeUnpacker();
  ASSERT_TRUE(unpacker->Unpack(one.reference).ok());
  int64_t gets = counting_.counts().get;
  auto second = unpacker->Unpack(two.reference);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(counting_.counts().get - gets, 4);  // manifest, config, deps and app layers
  EXPECT_THAT(Names(second->rootfs + "/opt/venv"), ElementsAre("b"));
  EXPECT_EQ(ReadFile(second->rootfs + "/etc/os-release"), "debian");
  EXPECT_EQ(ReadFile(second->rootfs + "/app"), "2");
}

TEST_F(RegistryImageUnpackerTest, ASecondUnpackerOnTheSameWorkDirectoryIsRefused) {
  auto first = MakeUnpacker();
  auto second = MakeRegistryImageUnpacker(options_, &counting_);
  EXPECT_EQ(second.status().code(), absl::StatusCode::kFailedPrecondition) << second.status();
  EXPECT_THAT(second.status().message(), HasSubstr(options_.work_dir));
  first.reset();
  EXPECT_TRUE(MakeRegistryImageUnpacker(options_, &counting_).ok());
}

TEST_F(RegistryImageUnpackerTest, PruneRacingUnpacksNeverBreaksOne) {
  Layer base = MakeLayer({File("base/a", "a"), File("base/b", "b")});
  std::vector<PushedImage> images;
  for (int i = 0; i < 6; ++i) {
    images.push_back(
        Push("race/app" + std::to_string(i), {base, MakeLayer({File("app", std::to_string(i))})}));
  }
  auto unpacker = MakeUnpacker();
  std::atomic<bool> done{false};
  std::vector<absl::Status> prunes;
  std::thread pruner([&] {
    while (!done.load()) prunes.push_back(unpacker->Prune({}));
  });
  for (const PushedImage& image : images) {
    auto unpacked = unpacker->Unpack(image.reference);
    EXPECT_TRUE(unpacked.ok()) << unpacked.status();
  }
  done = true;
  pruner.join();
  for (const absl::Status& status : prunes) EXPECT_TRUE(status.ok()) << status;
  ASSERT_TRUE(unpacker->Prune({}).ok());
  EXPECT_THAT(Names(dir_.Join("work/images")), IsEmpty());
  EXPECT_THAT(Names(dir_.Join("work/tmp")), IsEmpty());
}

TEST_F(RegistryImageUnpackerTest, AWorkDirectoryOthersMayWriteIsRefused) {
  fs::create_directories(options_.work_dir);
  ASSERT_EQ(::chmod(options_.work_dir.c_str(), 0777), 0);
  auto refused = MakeRegistryImageUnpacker(options_, &counting_);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kFailedPrecondition) << refused.status();
  EXPECT_THAT(refused.status().message(), HasSubstr("chmod go-w"));
  ASSERT_EQ(::chmod(options_.work_dir.c_str(), 0711), 0);
  EXPECT_TRUE(MakeRegistryImageUnpacker(options_, &counting_).ok());
}

}  // namespace
}  // namespace tempa::deploy
