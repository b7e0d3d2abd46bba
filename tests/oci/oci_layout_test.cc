#include "common/oci/oci_layout.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "common/oci/image_model.h"
#include "common/oci/layer_writer.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/oci/test_util.h"
#include "tests/support/dir_blob_store.h"

namespace tempa::oci {
namespace {

using ::testing::HasSubstr;
using testing::TempDir;
using Type = LayerEntry::Type;

class OciLayoutTest : public ::testing::Test {
 protected:
  OciLayoutTest() : store_(store_dir_.path()) {}

  // A two-layer image: a base with a directory tree, an app layer with a binary, a symlink and
  // a hard link. Returns the manifest descriptor.
  Descriptor BuildImage() {
    LayerWriteOptions options;
    options.mtime = 1700000000;
    LayerSpec base;
    base.Add({"etc/os-release", Type::kFile, 0644, "", "ID=tempa\n", ""});
    base.Add({"tmp", Type::kDirectory, 01777, "", {}, ""});
    LayerSpec app;
    app.Add({"app/server", Type::kFile, 0755, "", "#!/bin/sh\necho hi\n", ""});
    app.Add({"app/current", Type::kSymlink, 0777, "", {}, "server"});
    app.Add({"app/server2", Type::kHardlink, 0755, "", {}, "app/server"});
    ImageConfig config;
    config.created_epoch = options.mtime;
    config.entrypoint = {"/app/server"};
    config.exposed_ports = {"8080/tcp"};
    Manifest manifest;
    for (const LayerSpec* spec : {&base, &app}) {
      absl::StatusOr<LayerRecord> layer = WriteLayer(*spec, options, store_);
      EXPECT_TRUE(layer.ok()) << layer.status();
      config.diff_ids.push_back(layer->diff_id);
      manifest.layers.push_back(layer->blob);
    }
    std::string config_json = SerializeConfig(config);
    manifest.config = {kMediaTypeConfig, *store_.Put(config_json),
                       static_cast<int64_t>(config_json.size()), {}};
    std::string manifest_json = SerializeManifest(manifest);
    layers_ = manifest.layers;
    return {kMediaTypeManifest, *store_.Put(manifest_json),
            static_cast<int64_t>(manifest_json.size()), {}};
  }

  TempDir store_dir_;
  TempDir out_;
  tempa::testing::DirBlobStore store_;
  std::vector<Descriptor> layers_;
};

TEST_F(OciLayoutTest, WritesLayoutFilesAndIndex) {
  Descriptor manifest = BuildImage();
  std::string dir = out_ / "layout";
  ASSERT_TRUE(WriteOciLayout(dir, "v1", store_, manifest).ok());
  EXPECT_EQ(testing::ReadWholeFile(dir + "/oci-layout"), R"({"imageLayoutVersion":"1.0.0"})");
  for (const Descriptor& layer : layers_) {
    EXPECT_EQ(testing::ReadWholeFile(absl::StrCat(dir, "/blobs/sha256/", layer.digest.hex())),
              *store_.Read(layer.digest));
  }
  // A second tag keeps the first; re-tagging replaces.
  ASSERT_TRUE(WriteOciLayout(dir, "latest", store_, manifest).ok());
  ASSERT_TRUE(WriteOciLayout(dir, "v1", store_, manifest).ok());
  auto index = nlohmann::json::parse(testing::ReadWholeFile(dir + "/index.json"));
  ASSERT_EQ(index["manifests"].size(), 2u);
  EXPECT_EQ(index["manifests"][0]["annotations"]["org.opencontainers.image.ref.name"], "latest");
  EXPECT_EQ(index["manifests"][1]["annotations"]["org.opencontainers.image.ref.name"], "v1");
  EXPECT_EQ(index["manifests"][1]["digest"], manifest.digest.ToString());
  EXPECT_EQ(index["schemaVersion"], 2);
}

TEST_F(OciLayoutTest, MissingBlobIsNotFound) {
  Descriptor manifest = BuildImage();
  ASSERT_EQ(std::remove(store_.BlobPath(layers_[1].digest).c_str()), 0);
  absl::Status status = WriteOciLayout(out_ / "layout", "v1", store_, manifest);
  EXPECT_EQ(status.code(), absl::StatusCode::kNotFound);
}

TEST_F(OciLayoutTest, CorruptedBlobIsDataLoss) {
  Descriptor manifest = BuildImage();
  testing::WriteFile(store_.BlobPath(layers_[0].digest), "not the layer");
  absl::Status status = WriteOciLayout(out_ / "layout", "v1", store_, manifest);
  EXPECT_EQ(status.code(), absl::StatusCode::kDataLoss);
  EXPECT_THAT(status.message(), HasSubstr(layers_[0].digest.ToString()));
}

TEST_F(OciLayoutTest, UmociUnpacksTheImage) {
  if (!testing::HaveTool("umoci")) GTEST_SKIP() << "umoci not installed";
  Descriptor manifest = BuildImage();
  std::string dir = out_ / "layout";
  ASSERT_TRUE(WriteOciLayout(dir, "v1", store_, manifest).ok());
  std::string bundle = out_ / "bundle";
  testing::CommandResult unpack =
      testing::Run(absl::StrCat("umoci unpack --rootless --image ", dir, ":v1 ", bundle));
  ASSERT_EQ(unpack.exit_code, 0) << unpack.output;
  EXPECT_EQ(testing::ReadWholeFile(bundle + "/rootfs/app/server"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(testing::ReadWholeFile(bundle + "/rootfs/app/server2"), "#!/bin/sh\necho hi\n");
  EXPECT_EQ(testing::ReadWholeFile(bundle + "/rootfs/etc/os-release"), "ID=tempa\n");
  EXPECT_EQ(testing::Run("readlink " + bundle + "/rootfs/app/current").output, "server\n");
  EXPECT_THAT(testing::ReadWholeFile(bundle + "/config.json"), HasSubstr("/app/server"));

  testing::CommandResult stat = testing::Run(absl::StrCat("umoci stat --image ", dir, ":v1"));
  EXPECT_EQ(stat.exit_code, 0) << stat.output;
}

TEST_F(OciLayoutTest, SkopeoInspectsTheImage) {
  if (!testing::HaveTool("skopeo")) GTEST_SKIP() << "skopeo not installed";
  Descriptor manifest = BuildImage();
  std::string dir = out_ / "layout";
  ASSERT_TRUE(WriteOciLayout(dir, "v1", store_, manifest).ok());
  testing::CommandResult inspect = testing::Run(absl::StrCat("skopeo inspect oci:", dir, ":v1"));
  ASSERT_EQ(inspect.exit_code, 0) << inspect.output;
  auto json = nlohmann::json::parse(inspect.output, nullptr, false);
  ASSERT_FALSE(json.is_discarded()) << inspect.output;
  EXPECT_EQ(json["Digest"], manifest.digest.ToString());
  EXPECT_EQ(json["Architecture"], "amd64");
  ASSERT_EQ(json["Layers"].size(), 2u);
  EXPECT_EQ(json["Layers"][1], layers_[1].digest.ToString());

  // skopeo also verifies every blob's digest when copying.
  testing::CommandResult copy =
      testing::Run(absl::StrCat("skopeo copy oci:", dir, ":v1 oci:", out_ / "copy", ":v1"));
  EXPECT_EQ(copy.exit_code, 0) << copy.output;
}

}  // namespace
}  // namespace tempa::oci
