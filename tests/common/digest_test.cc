#include "common/digest.h"

#include <fstream>

#include "gtest/gtest.h"

namespace tempa {
namespace {

TEST(DigestTest, HashesKnownVectors) {
  EXPECT_EQ(Sha256Of("").ToString(),
            "sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  EXPECT_EQ(Sha256Of("abc").hex(),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST(DigestTest, StreamingMatchesOneShot) {
  Sha256 h;
  h.Update("a");
  h.Update("bc");
  EXPECT_EQ(h.Finish(), Sha256Of("abc"));
}

TEST(DigestTest, ParseRejectsMalformedDigests) {
  EXPECT_FALSE(Digest::Parse("md5:abc").ok());
  EXPECT_FALSE(Digest::Parse("sha256:ABC").ok());
  EXPECT_FALSE(Digest::Parse("sha256:" + std::string(63, 'a')).ok());
  auto ok = Digest::Parse("sha256:" + std::string(64, 'a'));
  ASSERT_TRUE(ok.ok());
  EXPECT_EQ(ok->hex(), std::string(64, 'a'));
}

TEST(DigestTest, HashesFilesAndReportsSize) {
  std::string path = testing::TempDir() + "/digest_test_file";
  std::ofstream(path) << "abc";
  uint64_t size = 0;
  auto d = Sha256OfFile(path, &size);
  ASSERT_TRUE(d.ok()) << d.status();
  EXPECT_EQ(*d, Sha256Of("abc"));
  EXPECT_EQ(size, 3u);
  EXPECT_FALSE(Sha256OfFile(path + ".missing").ok());
}

}  // namespace
}  // namespace tempa
