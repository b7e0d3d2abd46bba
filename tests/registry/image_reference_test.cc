#include "common/registry/image_reference.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tempa::registry {
namespace {

using ::testing::HasSubstr;

const std::string kHex(64, 'a');

TEST(ImageReferenceTest, ParsesHostPortNameAndTag) {
  auto ref = ImageReference::Parse("127.0.0.1:5000/team/app:v1.2");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->registry(), "127.0.0.1:5000");
  EXPECT_EQ(ref->repository(), "team/app");
  EXPECT_EQ(ref->tag(), "v1.2");
  EXPECT_FALSE(ref->digest().has_value());
  EXPECT_EQ(ref->reference(), "v1.2");
  EXPECT_EQ(ref->ToString(), "127.0.0.1:5000/team/app:v1.2");
}

TEST(ImageReferenceTest, DefaultsTagToLatest) {
  auto ref = ImageReference::Parse("registry.example.com/app");
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->tag(), "latest");
  EXPECT_EQ(ref->reference(), "latest");
}

TEST(ImageReferenceTest, ParsesDigestReference) {
  auto ref = ImageReference::Parse("localhost:5000/app@sha256:" + kHex);
  ASSERT_TRUE(ref.ok()) << ref.status();
  EXPECT_EQ(ref->tag(), "");
  ASSERT_TRUE(ref->digest().has_value());
  EXPECT_EQ(ref->reference(), "sha256:" + kHex);
  auto both = ImageReference::Parse("localhost/app:v1@sha256:" + kHex);
  ASSERT_TRUE(both.ok()) << both.status();
  EXPECT_EQ(both->tag(), "v1");
  EXPECT_EQ(both->reference(), "sha256:" + kHex);
}

TEST(ImageReferenceTest, AcceptsSeparatorsAllowedByTheSpec) {
  for (const char* text : {"r.io/a_b", "r.io/a__b", "r.io/a.b", "r.io/a---b", "r.io/a/b/c-1",
                           "[::1]:5000/app", "my-registry.local:443/x/y:TAG_1.0-rc"}) {
    EXPECT_TRUE(ImageReference::Parse(text).ok()) << text;
  }
}

TEST(ImageReferenceTest, RejectsBadNamesWithAnExample) {
  for (const char* text :
       {"", "app", "app:latest", "library/app", "r.io/", "r.io/App", "r.io/a___b", "r.io/-a",
        "r.io/a-", "r.io/a//b", "r.io/a:", "r.io/a:-x", "r.io/a@sha256:abc", "r.io/a@md5:ab",
        "bad_host.io/app", "r.io:99999/app", "r.io:/app"}) {
    auto ref = ImageReference::Parse(text);
    ASSERT_FALSE(ref.ok()) << text;
    EXPECT_EQ(ref.status().code(), absl::StatusCode::kInvalidArgument) << text;
    EXPECT_THAT(std::string(ref.status().message()),
                HasSubstr("expected HOST[:PORT]/NAME[:TAG], e.g. 127.0.0.1:5000/hello:latest"));
  }
  auto ref = ImageReference::Parse("hello:latest");
  EXPECT_THAT(std::string(ref.status().message()), HasSubstr("bad image name \"hello:latest\""));
}

TEST(ImageReferenceTest, RejectsOverlongTagsAndNames) {
  EXPECT_FALSE(ImageReference::Parse("r.io/a:" + std::string(129, 't')).ok());
  EXPECT_TRUE(ImageReference::Parse("r.io/a:" + std::string(128, 't')).ok());
  EXPECT_FALSE(ImageReference::Parse("r.io/" + std::string(256, 'a')).ok());
}

TEST(ImageReferenceTest, KnowsLoopbackHosts) {
  EXPECT_TRUE(ImageReference::Parse("localhost:5000/a")->IsLoopback());
  EXPECT_TRUE(ImageReference::Parse("127.0.0.1:5000/a")->IsLoopback());
  EXPECT_TRUE(ImageReference::Parse("127.3.2.1/a")->IsLoopback());
  EXPECT_TRUE(ImageReference::Parse("[::1]:5000/a")->IsLoopback());
  EXPECT_FALSE(ImageReference::Parse("128.0.0.1:5000/a")->IsLoopback());
  EXPECT_FALSE(ImageReference::Parse("127.0.0.1.example.com/a")->IsLoopback());
  EXPECT_FALSE(ImageReference::Parse("registry.example.com/a")->IsLoopback());
}

TEST(ImageReferenceTest, WithDigestNamesTheImmutableImage) {
  auto ref = ImageReference::Parse("127.0.0.1:5000/app:v1");
  ASSERT_TRUE(ref.ok());
  EXPECT_EQ(ref->WithDigest(Digest::FromHex(kHex)), "127.0.0.1:5000/app@sha256:" + kHex);
}

TEST(ImageReferenceTest, EveryNameThatConnectsToThisHostIsLoopback) {
  for (const char* host :
       {"localhost", "LOCALHOST:5000", "localhost.", "x.localhost:443", "127.0.0.1",
        "127.1.2.3:5000", "0.0.0.0:80", "[::1]:5000", "[::]", "[::ffff:127.0.0.1]:8080"}) {
    EXPECT_TRUE(IsLoopbackHost(host)) << host;
  }
  for (const char* host : {"registry.example.com", "localhost.example.com", "128.0.0.1",
                           "10.0.0.1:5000", "[2001:db8::1]", "[::ffff:10.0.0.1]"}) {
    EXPECT_FALSE(IsLoopbackHost(host)) << host;
  }
}

}  // namespace
}  // namespace tempa::registry
