// LayerExtractor against layers crafted the way an attacker would write them: every hostile
// entry is refused and nothing lands outside the rootfs; whiteouts hide lower layers only.
#include "deploy/image/layer_extractor.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/beneath.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/deploy/image/test_layers.h"
#include "tests/support/temp_dir.h"

namespace tempa::deploy {
namespace {

using testing::Compression;
using testing::Dir;
using testing::File;
using testing::Hardlink;
using ::testing::HasSubstr;
using testing::Layer;
using testing::MakeLayer;
using testing::Symlink;
using testing::TarEntry;
using ::testing::UnorderedElementsAre;

namespace fs = std::filesystem;

std::vector<std::string> Names(const std::string& dir) {
  std::vector<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.push_back(e.path().filename().string());
  return out;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

class LayerExtractorTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fs::create_directories(rootfs_);
    fs::create_directories(outside_);
    auto fd = OpenRootDirectory(rootfs_);
    ASSERT_TRUE(fd.ok()) << fd.status();
    rootfs_fd_ = std::move(*fd);
    extractor_ =
        std::make_unique<LayerExtractor>(rootfs_fd_.get(), rootfs_, limits_, ::geteuid() == 0);
  }

  absl::StatusOr<Digest> Apply(const Layer& layer) {
    std::string path = dir_.Join("layer" + std::to_string(++layers_));
    testing::WriteLayerFile(layer, path);
    return extractor_->Apply(path, "layer " + std::to_string(layers_));
  }
  absl::Status ApplyEntries(const std::vector<TarEntry>& entries) {
    return Apply(MakeLayer(entries)).status();
  }
  // Nothing but the rootfs in its parent, nothing in the directory beside it.
  void ExpectNothingOutside() {
    EXPECT_THAT(Names(dir_.Join("parent")), UnorderedElementsAre("rootfs"));
    EXPECT_THAT(Names(outside_), ::testing::IsEmpty());
    for (const std::string& name : Names(dir_.path())) {
      EXPECT_TRUE(name == "parent" || name == "outside" || name.rfind("layer", 0) == 0) << name;
    }
  }
  std::string In(const std::string& relative) { return rootfs_ + "/" + relative; }

  ::tempa::testing::TempDir dir_;
  std::string rootfs_ = dir_.Join("parent/rootfs");
  std::string outside_ = dir_.Join("outside");
  ExtractLimits limits_;
  UniqueFd rootfs_fd_;
  std::unique_ptr<LayerExtractor> extractor_;
  int layers_ = 0;
};

TEST_F(LayerExtractorTest, ExtractsFilesDirsAndSymlinksAndReturnsTheDiffId) {
  for (Compression c : {Compression::kNone, Compression::kGzip, Compression::kZstd}) {
    Layer layer = MakeLayer({Dir("app"), File("app/main", "#!/bin/sh\n", 0755),
                             File("deep/er/file", "x"), Symlink("app/link", "/etc/passwd")},
                            c);
    auto diff_id = Apply(layer);
    ASSERT_TRUE(diff_id.ok()) << diff_id.status();
    EXPECT_EQ(*diff_id, layer.diff_id);
    EXPECT_EQ(ReadFile(In("app/main")), "#!/bin/sh\n");
    EXPECT_EQ(ReadFile(In("deep/er/file")), "x");
    EXPECT_EQ(fs::read_symlink(In("app/link")), "/etc/passwd");  // kept as-is, never followed
  }
  ExpectNothingOutside();
}

TEST_F(LayerExtractorTest, SetuidStickyAndWorldWritableBitsAreDropped) {
  ASSERT_TRUE(ApplyEntries({File("suid", "x", 04755), File("shared", "x", 0666), Dir("tmp", 01777),
                            Dir("group", 02775)})
                  .ok());
  struct stat st;
  ASSERT_EQ(::stat(In("suid").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0755u);
  ASSERT_EQ(::stat(In("shared").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0664u);
  ASSERT_EQ(::stat(In("tmp").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0775u);
  ASSERT_EQ(::stat(In("group").c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 07777, 0775u);
}

TEST_F(LayerExtractorTest, EntriesGetTheImagesOwnersWhenRunAsRoot) {
  if (::geteuid() != 0) GTEST_SKIP() << "needs root";
  TarEntry file = File("owned", "x");
  file.uid = 1234, file.gid = 4321;
  TarEntry link = Symlink("owned-link", "owned");
  link.uid = 1235, link.gid = 4322;
  ASSERT_TRUE(ApplyEntries({file, link}).ok());
  struct stat st;
  ASSERT_EQ(::lstat(In("owned").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1234u);
  EXPECT_EQ(st.st_gid, 4321u);
  ASSERT_EQ(::lstat(In("owned-link").c_str(), &st), 0);
  EXPECT_EQ(st.st_uid, 1235u);
}

TEST_F(LayerExtractorTest, WhiteoutsRemoveWhatLowerLayersPut) {
  ASSERT_TRUE(ApplyEntries({File("a/f1", "1"), File("a/f2", "2"), File("b/g", "g"),
                            File("c/d/e", "e"), File("c/old", "o")})
                  .ok());
  ASSERT_TRUE(ApplyEntries({File("a/.wh.f1", ""), File(".wh.b", ""), File("c/.wh..wh..opq", ""),
                            File("c/new", "n")})
                  .ok());
  EXPECT_THAT(Names(In("a")), UnorderedElementsAre("f2"));
  EXPECT_FALSE(fs::exists(In("b")));
  EXPECT_THAT(Names(In("c")), UnorderedElementsAre("new"));
  EXPECT_THAT(Names(rootfs_), UnorderedElementsAre("a", "c"));
}

TEST_F(LayerExtractorTest, OpaqueWhiteoutKeepsWhatItsOwnLayerAddedBeforeIt) {
  ASSERT_TRUE(ApplyEntries({File("c/old", "o"), File("c/sub/old", "o")}).ok());
  ASSERT_TRUE(
      ApplyEntries({File("c/sub/new", "n"), File("c/first", "f"), File("c/.wh..wh..opq", "")})
          .ok());
  EXPECT_THAT(Names(In("c")), UnorderedElementsAre("first", "sub"));
  EXPECT_THAT(Names(In("c/sub")), UnorderedElementsAre("new"));
}

TEST_F(LayerExtractorTest, WhiteoutOfASymlinkRemovesTheLinkNotItsTarget) {
  testing::WriteLayerFile({"keep"}, outside_ + "/precious");
  ASSERT_TRUE(ApplyEntries({Symlink("x", outside_), Symlink("y", outside_ + "/precious")}).ok());
  ASSERT_TRUE(ApplyEntries({File(".wh.x", ""), File(".wh.y", "")}).ok());
  EXPECT_FALSE(fs::exists(fs::symlink_status(In("x"))));
  EXPECT_EQ(ReadFile(outside_ + "/precious"), "keep");
}

TEST_F(LayerExtractorTest, AFileReplacingAHardLinkedOneLeavesTheOtherNameAlone) {
  ASSERT_TRUE(ApplyEntries({File("a", "old"), Hardlink("b", "a")}).ok());
  ASSERT_TRUE(ApplyEntries({File("a", "new")}).ok());
  EXPECT_EQ(ReadFile(In("a")), "new");
  EXPECT_EQ(ReadFile(In("b")), "old");
}

TEST_F(LayerExtractorTest, DotDotIsRefused) {
  auto status = ApplyEntries({File("../escape", "pwned")});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(status.message(), HasSubstr("\"..\""));
  status = ApplyEntries({File("a/../../escape", "pwned")});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  ExpectNothingOutside();
}

TEST_F(LayerExtractorTest, AbsolutePathsAreRefused) {
  auto status = ApplyEntries({File(outside_ + "/abs", "pwned")});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(status.message(), HasSubstr("absolute path"));
  ExpectNothingOutside();
}

TEST_F(LayerExtractorTest, AFileThroughASymlinkToOutsideIsRefused) {
  // In one layer, and with the link planted by a lower layer; absolute and relative targets.
  auto status = ApplyEntries({Symlink("link", outside_), File("link/pwned", "x")});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(status.message(), HasSubstr("symlink"));
  ASSERT_TRUE(ApplyEntries({Symlink("up", "../../outside"), Symlink("dir", outside_)}).ok());
  for (const char* path : {"up/pwned", "dir/pwned", "dir/sub/pwned"}) {
    status = ApplyEntries({File(path, "x")});
    EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << path << ": " << status;
  }
  status = ApplyEntries({Dir("dir/newdir")});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  status = ApplyEntries({Symlink("dir/l", "/")});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  status = ApplyEntries({File("dir/.wh.x", "")});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  ExpectNothingOutside();
}

TEST_F(LayerExtractorTest, AFileOverAPlantedSymlinkReplacesTheLinkNotItsTarget) {
  testing::WriteLayerFile({"keep"}, outside_ + "/precious");
  ASSERT_TRUE(ApplyEntries({Symlink("f", outside_ + "/precious")}).ok());
  ASSERT_TRUE(ApplyEntries({File("f", "mine")}).ok());
  EXPECT_EQ(ReadFile(outside_ + "/precious"), "keep");
  EXPECT_EQ(ReadFile(In("f")), "mine");
  EXPECT_FALSE(fs::is_symlink(In("f")));
}

TEST_F(LayerExtractorTest, HardLinksOutOfTheRootfsAreRefused) {
  struct stat before;
  ASSERT_EQ(::stat("/etc/passwd", &before), 0);
  auto status = ApplyEntries({Hardlink("passwd", "/etc/passwd")});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  status = ApplyEntries({Hardlink("passwd", "../../../../../../etc/passwd")});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  status = ApplyEntries({Hardlink("passwd", "etc/passwd")});  // no such file in the image
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(status.message(), HasSubstr("hard link"));
  status = ApplyEntries({Symlink("etc", "/etc"), Hardlink("passwd", "etc/passwd")});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  struct stat after;
  ASSERT_EQ(::stat("/etc/passwd", &after), 0);
  EXPECT_EQ(after.st_nlink, before.st_nlink);
  EXPECT_FALSE(fs::exists(In("passwd")));
  ExpectNothingOutside();
}

TEST_F(LayerExtractorTest, DeviceNodesAndFifosAreRefusedNamingThem) {
  auto status = ApplyEntries({TarEntry{TarEntry::kCharDevice, "dev/mem", "", 0666}});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(status.message(), HasSubstr("dev/mem"));
  EXPECT_THAT(status.message(), HasSubstr("character device"));
  status = ApplyEntries({TarEntry{TarEntry::kFifo, "pipe", "", 0644}});
  EXPECT_THAT(status.message(), HasSubstr("fifo"));
  EXPECT_FALSE(fs::exists(In("dev/mem")));
  EXPECT_FALSE(fs::exists(In("pipe")));
}

TEST_F(LayerExtractorTest, ADeclaredSizePastTheLimitIsRefusedBeforeItIsWritten) {
  limits_.max_total_bytes = 1 << 20;
  SetUp();
  TarEntry huge = File("huge", "");
  huge.declared_size = 4 << 20;
  auto status = ApplyEntries({File("small", std::string(1000, 'x')), huge});
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(status.message(), HasSubstr("max_total_bytes"));
  EXPECT_THAT(status.message(), HasSubstr("1048576"));
  EXPECT_FALSE(fs::exists(In("huge")));
}

TEST_F(LayerExtractorTest, TheSizeLimitCountsEveryLayer) {
  limits_.max_total_bytes = 10000;
  SetUp();
  ASSERT_TRUE(ApplyEntries({File("a", std::string(6000, 'a'))}).ok());
  auto status = ApplyEntries({File("b", std::string(6000, 'b'))});
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
}

TEST_F(LayerExtractorTest, TooManyEntriesAreRefusedNamingTheLimit) {
  limits_.max_entries = 3;
  SetUp();
  auto status = ApplyEntries({File("1", ""), File("2", ""), File("3", ""), File("4", "")});
  EXPECT_EQ(status.code(), absl::StatusCode::kResourceExhausted) << status;
  EXPECT_THAT(status.message(), HasSubstr("max_entries"));
}

TEST_F(LayerExtractorTest, GarbageIsNotATarLayer) {
  Layer junk;
  junk.blob = std::string(3000, '\x7f');
  auto status = Apply(junk).status();
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(status.message(), HasSubstr("layer 1"));
}

TEST_F(LayerExtractorTest, HardLinksToFilesOfLowerLayersWork) {
  ASSERT_TRUE(ApplyEntries({File("bin/tool", "t", 0755)}).ok());
  ASSERT_TRUE(ApplyEntries({Hardlink("bin/alias", "bin/tool")}).ok());
  struct stat a, b;
  ASSERT_EQ(::stat(In("bin/tool").c_str(), &a), 0);
  ASSERT_EQ(::stat(In("bin/alias").c_str(), &b), 0);
  EXPECT_EQ(a.st_ino, b.st_ino);
}

TEST_F(LayerExtractorTest, NonAsciiNamesAreKeptByteForByte) {
  // GNU tar's pax output, as Docker and BuildKit write it: the name as UTF-8 in a "path" record.
  std::string src = dir_.Join("src");
  fs::create_directories(src + "/caf\xc3\xa9");
  testing::WriteLayerFile({"x"}, src + "/caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.txt");
  std::string tar = dir_.Join("gnu.tar");
  ASSERT_EQ(std::system(("tar --format=pax -C " + src + " -cf " + tar + " .").c_str()), 0);
  Layer layer;
  layer.blob = ReadFile(tar);
  auto diff_id = Apply(layer);
  ASSERT_TRUE(diff_id.ok()) << diff_id.status();
  EXPECT_EQ(*diff_id, Sha256Of(layer.blob));
  EXPECT_EQ(ReadFile(In("caf\xc3\xa9/\xe6\x97\xa5\xe6\x9c\xac.txt")), "x");
}

TEST_F(LayerExtractorTest, ADirectoryReplacedByASymlinkIsNotWrittenThroughAfterwards) {
  // The directory "d" is open (as the parent of d/x) when the symlink replaces it.
  auto status = ApplyEntries({File("d/x", "x"), Symlink("d", outside_), File("d/y", "y")});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_THAT(status.message(), HasSubstr("symlink"));
  EXPECT_TRUE(fs::is_symlink(In("d")));
  ExpectNothingOutside();
}

TEST_F(LayerExtractorTest, ADirectoryRemovedByAWhiteoutIsMadeAnewForLaterEntries) {
  ASSERT_TRUE(ApplyEntries({File("a/b/old", "o")}).ok());
  ASSERT_TRUE(
      ApplyEntries({File("a/b/.wh.nothing", ""), File(".wh.a", ""), File("a/b/new", "n")}).ok());
  EXPECT_THAT(Names(In("a/b")), UnorderedElementsAre("new"));
}

}  // namespace
}  // namespace tempa::deploy
