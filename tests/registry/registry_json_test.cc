// What registries answer, read as untrusted input: wrong types, wrong shapes and garbage give
// errors or excerpts, never an exception or a crash.
#include "common/registry/registry_json.h"

#include <string>

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tempa::registry {
namespace {

using ::testing::HasSubstr;

const std::string kDigest = "sha256:" + std::string(64, 'a');

TEST(RegistryJsonTest, ErrorBodiesGiveCodeAndMessage) {
  EXPECT_EQ(RegistryErrorText(R"({"errors":[{"code":"BLOB_UNKNOWN","message":"unknown"},)"
                              R"({"code":"DENIED","message":"no"}]})"),
            "BLOB_UNKNOWN: unknown; DENIED: no");
  EXPECT_EQ(RegistryErrorText(""), "");
}

TEST(RegistryJsonTest, ErrorBodiesOfTheWrongTypesNeverThrow) {
  // Each of these threw nlohmann::type_error (ending the process) when read with value().
  EXPECT_NO_THROW(RegistryErrorText(R"({"errors":[{"code":1}]})"));
  EXPECT_EQ(RegistryErrorText(R"({"errors":[{"code":1,"message":"m"}]})"), "m");
  EXPECT_EQ(RegistryErrorText(R"({"errors":[{"code":"C","message":{"a":1}}]})"), "C");
  EXPECT_EQ(RegistryErrorText(R"({"errors":{"code":"C"}})"), R"({"errors":{"code":"C"}})");
  EXPECT_EQ(RegistryErrorText(R"({"errors":[1,null,[],"x"]})"), R"({"errors":[1,null,[],"x"]})");
  EXPECT_EQ(RegistryErrorText("[1,2]"), "[1,2]");
  EXPECT_EQ(RegistryErrorText("{\"errors\":"), "{\"errors\":");
}

TEST(RegistryJsonTest, ErrorTextIsBoundedAndPrintable) {
  std::string many = R"({"errors":[)";
  for (int i = 0; i < 5000; ++i) many += R"({"code":"C","message":"a long message here"},)";
  many += "{}]}";
  EXPECT_LE(RegistryErrorText(many).size(), kMaxErrorTextBytes);
  EXPECT_LE(RegistryErrorText(std::string(1 << 20, 'x')).size(), kMaxErrorTextBytes);
  std::string escape = RegistryErrorText("<html>\x1b[31mred\r\n\x01</html>");
  EXPECT_EQ(escape, "<html>?[31mred  ?</html>");
}

TEST(RegistryJsonTest, TokenAnswersNeedAStringToken) {
  EXPECT_EQ(*ParseTokenAnswer(R"({"token":"abc","expires_in":60})"), "abc");
  EXPECT_EQ(*ParseTokenAnswer(R"({"access_token":"xyz"})"), "xyz");
  EXPECT_EQ(*ParseTokenAnswer(R"({"token":7,"access_token":"xyz"})"), "xyz");
  EXPECT_FALSE(ParseTokenAnswer(R"({"token":7})").ok());
  EXPECT_FALSE(ParseTokenAnswer(R"({"token":""})").ok());
  EXPECT_FALSE(ParseTokenAnswer(R"({"token":["a"]})").ok());
  EXPECT_FALSE(ParseTokenAnswer(R"(["token"])").ok());
  EXPECT_FALSE(ParseTokenAnswer(R"({"nothing":1})").ok());
  EXPECT_FALSE(ParseTokenAnswer("<html>").ok());
}

TEST(RegistryJsonTest, ManifestsGiveConfigAndLayers) {
  auto m = ParseManifest(
      R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json",)"
      R"("config":{"mediaType":"c","digest":")" +
      kDigest + R"(","size":7},"layers":[{"mediaType":"l","digest":")" + kDigest +
      R"(","size":9}]})");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_FALSE(m->is_index);
  EXPECT_EQ(m->media_type, "application/vnd.oci.image.manifest.v1+json");
  EXPECT_EQ(m->config.size, 7);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].size, 9);
  EXPECT_EQ(m->layers[0].media_type, "l");

  auto index = ParseManifest(R"({"manifests":[{"digest":")" + kDigest + R"(","size":1}]})");
  ASSERT_TRUE(index.ok()) << index.status();
  EXPECT_TRUE(index->is_index);
  EXPECT_EQ(index->manifests.size(), 1u);
}

TEST(RegistryJsonTest, MalformedManifestsAreRefusedNamingTheProblem) {
  auto config = [](const std::string& c) {
    return ParseManifest(R"({"config":)" + c + R"(,"layers":[]})");
  };
  EXPECT_THAT(std::string(config("1").status().message()), HasSubstr("not a JSON object"));
  EXPECT_THAT(std::string(config(R"({"digest":1,"size":1})").status().message()),
              HasSubstr("digest"));
  EXPECT_THAT(std::string(config(R"({"digest":"md5:x","size":1})").status().message()),
              HasSubstr("not sha256"));
  EXPECT_THAT(
      std::string(config(R"({"digest":")" + kDigest + R"(","size":"1"})").status().message()),
      HasSubstr("size"));
  EXPECT_THAT(
      std::string(config(R"({"digest":")" + kDigest + R"(","size":-1})").status().message()),
      HasSubstr("negative"));
  EXPECT_THAT(std::string(config(R"({"digest":")" + kDigest + R"(","size":18446744073709551615})")
                              .status()
                              .message()),
              HasSubstr("impossible"));
  EXPECT_FALSE(config(R"({"digest":")" + kDigest + R"(","size":1.5})").ok());
  EXPECT_FALSE(ParseManifest(R"({"config":{"digest":")" + kDigest + R"(","size":1}})").ok());
  EXPECT_FALSE(
      ParseManifest(R"({"config":{"digest":")" + kDigest + R"(","size":1},"layers":{}})").ok());
  EXPECT_FALSE(ParseManifest(R"({"manifests":5})").ok());
  EXPECT_FALSE(ParseManifest(R"({"manifests":[null]})").ok());
  EXPECT_FALSE(ParseManifest("[]").ok());
  EXPECT_FALSE(ParseManifest("").ok());
  EXPECT_FALSE(ParseManifest(std::string(1000, '[')).ok());
}

TEST(RegistryJsonTest, ManifestsListingTooManyLayersAreRefused) {
  std::string layers;
  for (size_t i = 0; i <= kMaxManifestEntries; ++i) {
    layers += R"({"digest":")" + kDigest + R"(","size":1},)";
  }
  layers.pop_back();
  auto m = ParseManifest(R"({"config":{"digest":")" + kDigest + R"(","size":1},"layers":[)" +
                         layers + "]}");
  ASSERT_FALSE(m.ok());
  EXPECT_THAT(std::string(m.status().message()), HasSubstr("more than"));
}

TEST(RegistryJsonTest, ManifestMediaTypeFallsBackWhenAbsentOrNotAString) {
  EXPECT_EQ(ManifestMediaType(R"({"mediaType":"x"})", "f"), "x");
  EXPECT_EQ(ManifestMediaType(R"({"mediaType":1})", "f"), "f");
  EXPECT_EQ(ManifestMediaType("nope", "f"), "f");
}

}  // namespace
}  // namespace tempa::registry
