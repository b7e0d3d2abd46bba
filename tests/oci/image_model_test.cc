#include "common/oci/image_model.h"

#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace tempa::oci {
namespace {

using ::testing::HasSubstr;

const Digest kA = Digest::FromHex(std::string(64, 'a'));
const Digest kB = Digest::FromHex(std::string(64, 'b'));
const Digest kC = Digest::FromHex(std::string(64, 'c'));

ImageConfig SampleConfig() {
  ImageConfig c;
  c.created_epoch = 1700000000;
  c.user = "1000:1000";
  c.env = {"PATH=/usr/bin:/bin", "PORT=8080"};
  c.entrypoint = {"/app/server"};
  c.cmd = {"--serve"};
  c.working_dir = "/app";
  c.exposed_ports = {"8080/tcp"};
  c.labels = {{"org.opencontainers.image.revision", "abc123"}};
  c.diff_ids = {kA, kB};
  return c;
}

TEST(ImageModelTest, ConfigGoldenJson) {
  EXPECT_EQ(
      SerializeConfig(SampleConfig()),
      R"({"architecture":"amd64","config":{"Cmd":["--serve"],"Entrypoint":["/app/server"],)"
      R"("Env":["PATH=/usr/bin:/bin","PORT=8080"],"ExposedPorts":{"8080/tcp":{}},)"
      R"("Labels":{"org.opencontainers.image.revision":"abc123"},"User":"1000:1000",)"
      R"("WorkingDir":"/app"},"created":"2023-11-14T22:13:20Z","os":"linux",)"
      R"("rootfs":{"diff_ids":["sha256:)" +
          std::string(64, 'a') + R"(","sha256:)" + std::string(64, 'b') +
          R"("],"type":"layers"}})");
}

TEST(ImageModelTest, MinimalConfigOmitsEmptyFields) {
  ImageConfig c;
  EXPECT_EQ(SerializeConfig(c),
            R"({"architecture":"amd64","config":{},"os":"linux",)"
            R"("rootfs":{"diff_ids":[],"type":"layers"}})");
}

TEST(ImageModelTest, ConfigRoundTrips) {
  ImageConfig c = SampleConfig();
  c.history = {{1700000000, "tempa layer run-base", "", false},
               {std::nullopt, "", "metadata", true}};
  absl::StatusOr<ImageConfig> parsed = ParseConfig(SerializeConfig(c));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, c);
}

TEST(ImageModelTest, ManifestGoldenJson) {
  Manifest m;
  m.config = {kMediaTypeConfig, kC, 1234, {}};
  m.layers = {{kMediaTypeLayerGzip, kA, 10, {}}, {kMediaTypeLayerGzip, kB, 20, {}}};
  m.annotations = {{"org.opencontainers.image.revision", "abc123"}};
  std::string a(64, 'a'), b(64, 'b'), c(64, 'c');
  EXPECT_EQ(SerializeManifest(m),
            R"({"annotations":{"org.opencontainers.image.revision":"abc123"},)"
            R"("config":{"digest":"sha256:)" + c +
                R"(","mediaType":"application/vnd.oci.image.config.v1+json","size":1234},)"
                R"("layers":[{"digest":"sha256:)" + a +
                R"(","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":10},)"
                R"({"digest":"sha256:)" + b +
                R"(","mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","size":20}],)"
                R"("mediaType":"application/vnd.oci.image.manifest.v1+json","schemaVersion":2})");
  absl::StatusOr<Manifest> parsed = ParseManifest(SerializeManifest(m));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(*parsed, m);
}

TEST(ImageModelTest, ParsesADockerSchema2ManifestAndConfig) {
  std::string a(64, 'a'), c(64, 'c');
  std::string manifest = R"({
    "schemaVersion": 2,
    "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
    "config": {"mediaType": "application/vnd.docker.container.image.v1+json", "size": 1469,
               "digest": "sha256:)" + c + R"("},
    "layers": [{"mediaType": "application/vnd.docker.image.rootfs.diff.tar.gzip",
                "size": 2814446, "digest": "sha256:)" + a + R"("}]})";
  absl::StatusOr<Manifest> m = ParseManifest(manifest);
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->media_type, kMediaTypeDockerManifest);
  EXPECT_EQ(m->config.media_type, kMediaTypeDockerConfig);
  ASSERT_EQ(m->layers.size(), 1u);
  EXPECT_EQ(m->layers[0].size, 2814446);

  std::string config = R"({"architecture":"arm64","variant":"v8","os":"linux",
    "created":"2023-05-09T23:11:11.759215987Z","docker_version":"20.10.23",
    "config":{"Env":["PATH=/bin"],"Cmd":["/bin/sh"],"Entrypoint":null,"Labels":null,
              "ExposedPorts":{"80/tcp":{}},"Image":"sha256:)" + c + R"("},
    "container_config":{"Cmd":["/bin/sh","-c","#(nop) CMD"]},
    "rootfs":{"type":"layers","diff_ids":["sha256:)" + a + R"("]},
    "history":[{"created":"2023-05-09T23:11:10Z","created_by":"ADD file:x in /"}]})";
  absl::StatusOr<ImageConfig> parsed = ParseConfig(config);
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->architecture, "arm64");
  EXPECT_EQ(parsed->variant, "v8");
  EXPECT_EQ(parsed->created_epoch, 1683673871);
  EXPECT_EQ(parsed->cmd, std::vector<std::string>{"/bin/sh"});
  EXPECT_TRUE(parsed->entrypoint.empty());
  EXPECT_EQ(parsed->exposed_ports, std::vector<std::string>{"80/tcp"});
  EXPECT_EQ(parsed->diff_ids, std::vector<Digest>{kA});
  ASSERT_EQ(parsed->history.size(), 1u);
  EXPECT_EQ(parsed->history[0].created_by, "ADD file:x in /");
}

TEST(ImageModelTest, OciManifestWithoutMediaTypeIsAccepted) {
  std::string c(64, 'c');
  absl::StatusOr<Manifest> m = ParseManifest(
      R"({"schemaVersion":2,"config":{"mediaType":"x","digest":"sha256:)" + c +
      R"(","size":2},"layers":[]})");
  ASSERT_TRUE(m.ok()) << m.status();
  EXPECT_EQ(m->media_type, kMediaTypeManifest);
}

void ExpectManifestError(const std::string& json, const std::string& field) {
  absl::StatusOr<Manifest> m = ParseManifest(json);
  EXPECT_EQ(m.status().code(), absl::StatusCode::kInvalidArgument) << json;
  EXPECT_THAT(m.status().message(), HasSubstr(field)) << json;
}

TEST(ImageModelTest, MalformedManifestsNameTheField) {
  std::string c(64, 'c');
  std::string config = R"("config":{"mediaType":"x","digest":"sha256:)" + c + R"(","size":2})";
  ExpectManifestError("{not json", "manifest");
  ExpectManifestError("[]", "manifest");
  ExpectManifestError(R"({"layers":[],)" + config + "}", "manifest.schemaVersion");
  ExpectManifestError(R"({"schemaVersion":1,"layers":[],)" + config + "}",
                      "manifest.schemaVersion");
  ExpectManifestError(R"({"schemaVersion":2,"layers":[]})", "manifest.config");
  ExpectManifestError(R"({"schemaVersion":2,)" + config + "}", "manifest.layers");
  ExpectManifestError(R"({"schemaVersion":2,"layers":[{"mediaType":"x","digest":"md5:1","size":1}],)" +
                          config + "}",
                      "manifest.layers[0].digest");
  ExpectManifestError(R"({"schemaVersion":2,"layers":[{"mediaType":"x","digest":"sha256:)" + c +
                          R"(","size":-1}],)" + config + "}",
                      "manifest.layers[0].size");
  ExpectManifestError(R"({"schemaVersion":2,"layers":[{"digest":"sha256:)" + c +
                          R"(","size":1}],)" + config + "}",
                      "manifest.layers[0].mediaType");
  ExpectManifestError(R"({"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json",)"
                      R"("manifests":[]})",
                      "index");
  ExpectManifestError(R"({"schemaVersion":2,"mediaType":"text/plain","layers":[],)" + config + "}",
                      "manifest.mediaType");
}

TEST(ImageModelTest, MalformedConfigsNameTheField) {
  auto error = [](const std::string& json) { return ParseConfig(json).status(); };
  std::string rootfs = R"("rootfs":{"type":"layers","diff_ids":[]})";
  EXPECT_THAT(error(R"({"os":"linux",)" + rootfs + "}").message(), HasSubstr("config.architecture"));
  EXPECT_THAT(error(R"({"architecture":"amd64","os":"linux"})").message(),
              HasSubstr("config.rootfs"));
  EXPECT_THAT(error(R"({"architecture":"amd64","os":"linux","rootfs":{"type":"x","diff_ids":[]}})")
                  .message(),
              HasSubstr("config.rootfs.type"));
  EXPECT_THAT(error(R"({"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[1]}})")
                  .message(),
              HasSubstr("config.rootfs.diff_ids[0]"));
  EXPECT_THAT(error(R"({"architecture":"amd64","os":"linux","created":"yesterday",)" + rootfs + "}")
                  .message(),
              HasSubstr("config.created"));
  EXPECT_THAT(error(R"({"architecture":"amd64","os":"linux","config":{"Env":"A=B"},)" + rootfs + "}")
                  .message(),
              HasSubstr("config.config.Env"));
  EXPECT_EQ(error(R"({"architecture":"amd64","os":"linux","config":{"Env":"A=B"},)" + rootfs + "}")
                .code(),
            absl::StatusCode::kInvalidArgument);
}

TEST(ImageModelTest, FormatsRfc3339InUtc) {
  EXPECT_EQ(FormatRfc3339(0), "1970-01-01T00:00:00Z");
  EXPECT_EQ(FormatRfc3339(1700000000), "2023-11-14T22:13:20Z");
}

}  // namespace
}  // namespace tempa::oci
