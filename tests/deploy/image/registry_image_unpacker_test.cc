// RegistryImageUnpacker against a real docker-registry on loopback: images built here from
// crafted layers are pushed with the project's pusher, then pulled by digest and unpacked; what
// the registry serves wrong is refused, and so are hostile layers.
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

// Sends a manifest request for one digest as a request for another: a registry answering with
// the wrong manifest.
class SwappingTransport : public registry::HttpTransport {
 public:
  SwappingTransport(registry::HttpTransport* inner, std::string from, std::string to)
      : inner_(inner), from_(std::move(from)), to_(std::move(to)) {}
  absl::StatusOr<registry::HttpResponse> Send(const registry::HttpRequest& request) override {
    registry::HttpRequest copy = request;
    copy.url = absl::StrReplaceAll(copy.url, {{"/manifests/" + from_, "/manifests/" + to_}});
    return inner_->Send(copy);
  }

 private:
  registry::HttpTransport* inner_;
  std::string from_, to_;
};

TEST_F(RegistryImageUnpackerTest, MultiLayerImageIsPulledUnpackedAndDescribed) {
  PushedImage image =
      Push("multi/app",
           {MakeLayer({Dir("app"), File("app/server", "v1", 0755), File("etc/base", "base")},
                      Compression::kGzip),
            MakeLayer({File("app/server", "v2", 0755), Symlink("app/current", "server")},
                      Compression::kZstd),
            MakeLayer({File("app/static/index.html", "<h1>hi</h1>")}, Compression::kNone)},
           {{"Entrypoint", {"/app/server"}},
            {"Cmd", {"--serve"}},
            {"Env", {"PATH=/usr/bin", "MODE=prod"}},
            {"WorkingDir", "/app"},
            {"User", "65534"},
            {"ExposedPorts", {{"8080/tcp", nlohmann::json::object()}}}});
  auto unpacker = MakeUnpacker();
  auto unpacked = unpacker->Unpack(image.reference);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status();

  EXPECT_EQ(unpacked->manifest_digest, image.manifest_digest.ToString());
  EXPECT_EQ(unpacked->rootfs, dir_.Join("work/images/" + image.manifest_digest.hex() + "/rootfs"));
  EXPECT_EQ(ReadFile(unpacked->rootfs + "/app/server"), "v2");
  EXPECT_EQ(ReadFile(unpacked->rootfs + "/etc/base"), "base");
  EXPECT_EQ(ReadFile(unpacked->rootfs + "/app/static/index.html"), "<h1>hi</h1>");
  EXPECT_EQ(fs::read_symlink(unpacked->rootfs + "/app/current"), "server");
  EXPECT_THAT(unpacked->config.entrypoint, ElementsAre("/app/server"));
  EXPECT_THAT(unpacked->config.cmd, ElementsAre("--serve"));
  EXPECT_THAT(unpacked->config.env, ElementsAre("PATH=/usr/bin", "MODE=prod"));
  EXPECT_EQ(unpacked->config.working_dir, "/app");
  EXPECT_EQ(unpacked->config.user, "65534");
  EXPECT_EQ(unpacked->config.exposed_port, 8080);

  // Root-owned and not writable by others, from the work dir down.
  for (const std::string& path : {dir_.Join("work/images"), unpacked->rootfs}) {
    struct stat st;
    ASSERT_EQ(::stat(path.c_str(), &st), 0) << path;
    EXPECT_EQ(st.st_uid, ::geteuid()) << path;
    EXPECT_EQ(st.st_mode & 0022, 0u) << path;
  }
  EXPECT_THAT(Names(dir_.Join("work/tmp")), IsEmpty());
}

TEST_F(RegistryImageUnpackerTest, WhiteoutsAndOpaqueDirectoriesApplyAcrossLayers) {
  PushedImage image =
      Push("whiteout/app", {MakeLayer({File("a/gone", "1"), File("a/kept", "2"),
                                       File("cache/x", "x"), File("opaque/old", "o")}),
                            MakeLayer({File("a/.wh.gone", ""), File(".wh.cache", ""),
                                       File("opaque/.wh..wh..opq", ""), File("opaque/new", "n")}),
                            MakeLayer({File("cache/fresh", "f")})});
  auto unpacked = MakeUnpacker()->Unpack(image.reference);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status();
  EXPECT_THAT(Names(unpacked->rootfs + "/a"), ElementsAre("kept"));
  EXPECT_THAT(Names(unpacked->rootfs + "/cache"), ElementsAre("fresh"));
  EXPECT_THAT(Names(unpacked->rootfs + "/opaque"), ElementsAre("new"));
}

TEST_F(RegistryImageUnpackerTest, ASecondUnpackOfADoneImageSendsNoRequest) {
  PushedImage image = Push("again/app", {MakeLayer({File("f", "x")})}, {{"Env", {"PORT=9000"}}});
  auto unpacker = MakeUnpacker();
  auto first = unpacker->Unpack(image.reference);
  ASSERT_TRUE(first.ok()) << first.status();
  int64_t sent = counting_.counts().total();
  EXPECT_GT(sent, 0);
  auto second = unpacker->Unpack(image.reference);
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(counting_.counts().total(), sent);
  EXPECT_EQ(second->rootfs, first->rootfs);
  EXPECT_EQ(second->config.exposed_port, 9000);
  // A new unpacker on the same work dir (a restarted deployer) finds it too, once the first
  // one flushed it to disk (its destructor waits for that).
  unpacker.reset();
  EXPECT_TRUE(fs::exists(dir_.Join("work/images/" + image.manifest_digest.hex() + "/synced")));
  auto third = MakeUnpacker()->Unpack(image.reference);
  ASSERT_TRUE(third.ok()) << third.status();
  EXPECT_EQ(counting_.counts().total(), sent);
}

TEST_F(RegistryImageUnpackerTest, ConcurrentUnpacksOfOneImagePullItOnce) {
  PushedImage image = Push("concurrent/app", {MakeLayer({File("f", std::string(200000, 'c'))}),
                                              MakeLayer({File("g", "g")})});
  auto unpacker = MakeUnpacker();
  std::vector<absl::StatusOr<UnpackedImage>> results(4, absl::UnknownError("not run"));
  std::vector<std::thread> threads;
  for (auto& result : results) {
    threads.emplace_back([&] { result = unpacker->Unpack(image.reference); });
  }
  for (std::thread& t : threads) t.join();
  for (const auto& result : results) ASSERT_TRUE(result.ok()) << result.status();
  // One manifest, one config and two layer GETs: a single pull.
  EXPECT_EQ(counting_.counts().get, 4);
}

TEST_F(RegistryImageUnpackerTest, AReferenceWithoutADigestIsRefusedNamingTheFix) {
  Push("tagged/app", {MakeLayer({File("f", "x")})});
  auto unpacked = MakeUnpacker()->Unpack(server_->host_port() + "/tagged/app:latest");
  EXPECT_EQ(unpacked.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(unpacked.status().message(), HasSubstr("@sha256:"));
  EXPECT_EQ(counting_.counts().total(), 0);
}

TEST_F(RegistryImageUnpackerTest, AManifestWithAnotherDigestIsDataLoss) {
  PushedImage asked = Push("swap/app", {MakeLayer({File("f", "asked")})});
  PushedImage other = Push("swap/app", {MakeLayer({File("f", "other")})});
  SwappingTransport swapping(&curl_, asked.manifest_digest.ToString(),
                             other.manifest_digest.ToString());
  auto unpacked = MakeUnpacker(&swapping)->Unpack(asked.reference);
  EXPECT_EQ(unpacked.status().code(), absl::StatusCode::kDataLoss) << unpacked.status();
  EXPECT_THAT(unpacked.status().message(), HasSubstr(other.manifest_digest.ToString()));
  ExpectWorkDirEmpty();
}

TEST_F(RegistryImageUnpackerTest, ACorruptBlobInTheRegistryIsDataLossNamingTheLayer) {
  Layer good = MakeLayer({File("a", "a")});
  Layer corrupt = MakeLayer({File("b", std::string(5000, 'b'))});
  PushedImage image = Push("corrupt/app", {good, corrupt});
  Digest digest = Sha256Of(corrupt.blob);
  std::string data = server_->storage_dir() + "/docker/registry/v2/blobs/sha256/" +
                     digest.hex().substr(0, 2) + "/" + digest.hex() + "/data";
  ASSERT_TRUE(fs::exists(data)) << data;
  std::string flipped = corrupt.blob;
  flipped[flipped.size() / 2] ^= 0x55;
  {
    std::ofstream out(data, std::ios::binary | std::ios::trunc);
    out << flipped;
  }
  auto unpacked = MakeUnpacker()->Unpack(image.reference);
  EXPECT_EQ(unpacked.status().code(), absl::StatusCode::kDataLoss) << unpacked.status();
  EXPECT_THAT(unpacked.status().message(), HasSubstr("layer 2/2 " + digest.ToString()));
  ExpectWorkDirEmpty();
}

TEST_F(RegistryImageUnpackerTest, ADiffIdMismatchIsDataLossNamingTheLayer) {
  Layer one = MakeLayer({File("a", "a")});
  Layer two = MakeLayer({File("b", "b")});
  PushedImage image =
      Push("diffid/app", {one, two}, nlohmann::json::object(), {one.diff_id, one.diff_id});
  auto unpacked = MakeUnpacker()->Unpack(image.reference);
  EXPECT_EQ(unpacked.status().code(), absl::StatusCode::kDataLoss) << unpacked.status();
  EXPECT_THAT(unpacked.status().message(), HasSubstr("layer 2/2 " + Sha256Of(two.blob).ToString()));
  EXPECT_THAT(unpacked.status().message(), HasSubstr("diff_id"));
  ExpectWorkDirEmpty();
}

TEST_F(RegistryImageUnpackerTest, HostileLayersFailAndLeaveNothingOutsideTheRootfs) {
  std::string outside = dir_.Join("outside");
  fs::create_directories(outside);
  std::vector<std::vector<testing::TarEntry>> hostile = {
      {File("../escape", "x")},
      {File("../../escape", "x")},
      {File(outside + "/abs", "x")},
      {Symlink("link", outside), File("link/through", "x")},
      {testing::Hardlink("passwd", "/etc/passwd")},
      {testing::TarEntry{testing::TarEntry::kCharDevice, "dev/null", "", 0666}},
  };
  options_.limits.max_total_bytes = 1 << 20;
  testing::TarEntry huge = File("huge", "");
  huge.declared_size = 2 << 20;
  hostile.push_back({huge});
  auto unpacker = MakeUnpacker();
  int i = 0;
  for (const auto& entries : hostile) {
    SCOPED_TRACE(i);
    PushedImage image = Push("hostile/app" + std::to_string(i++),
                             {MakeLayer({File("ok", "fine")}), MakeLayer(entries)});
    auto unpacked = unpacker->Unpack(image.reference);
    EXPECT_FALSE(unpacked.ok());
    EXPECT_THAT(unpacked.status().message(), HasSubstr("layer 2/2"));
    EXPECT_THAT(Names(outside), IsEmpty());
    fs::remove(outside);
    ExpectWorkDirEmpty();
    fs::create_directories(outside);
  }
}

TEST_F(RegistryImageUnpackerTest, AnIndexResolvesToTheLinuxAmd64Manifest) {
  PushedImage amd64 = Push("multiarch/app", {MakeLayer({File("arch", "amd64")})});
  auto arm =
      testing::PushLayers(*client_, store_, "multiarch/app", {MakeLayer({File("arch", "arm64")})},
                          nlohmann::json::object(), {}, "arm64");
  ASSERT_TRUE(arm.ok()) << arm.status();
  auto entry = [](const PushedImage& image, const char* arch) {
    return nlohmann::json{{"mediaType", oci::kMediaTypeManifest},
                          {"digest", image.manifest_digest.ToString()},
                          {"size", image.manifest_json.size()},
                          {"platform", {{"os", "linux"}, {"architecture", arch}}}};
  };
  nlohmann::json index = {{"schemaVersion", 2},
                          {"mediaType", oci::kMediaTypeIndex},
                          {"manifests", {entry(*arm, "arm64"), entry(amd64, "amd64")}}};
  auto digest = client_->PutManifest("multiarch/app", "multi", oci::kMediaTypeIndex, index.dump());
  ASSERT_TRUE(digest.ok()) << digest.status();
  auto unpacked =
      MakeUnpacker()->Unpack(server_->host_port() + "/multiarch/app@" + digest->ToString());
  ASSERT_TRUE(unpacked.ok()) << unpacked.status();
  EXPECT_EQ(ReadFile(unpacked->rootfs + "/arch"), "amd64");
  EXPECT_EQ(unpacked->manifest_digest, digest->ToString());
}

TEST_F(RegistryImageUnpackerTest, AnImageForAnotherPlatformIsRefused) {
  auto arm = testing::PushLayers(*client_, store_, "armonly/app", {MakeLayer({File("f", "x")})},
                                 nlohmann::json::object(), {}, "arm64");
  ASSERT_TRUE(arm.ok()) << arm.status();
  auto unpacked = MakeUnpacker()->Unpack(arm->reference);
  EXPECT_EQ(unpacked.status().code(), absl::StatusCode::kFailedPrecondition) << unpacked.status();
  EXPECT_THAT(unpacked.status().message(), HasSubstr("linux/arm64"));
}

TEST_F(RegistryImageUnpackerTest, ARegistryThatIsDownIsUnavailableNamingItAndTheFix) {
  std::string host = "127.0.0.1:" + std::to_string(::tempa::testing::PickFreePort());
  auto unpacked = MakeUnpacker()->Unpack(host + "/app@sha256:" + std::string(64, 'a'));
  EXPECT_EQ(unpacked.status().code(), absl::StatusCode::kUnavailable) << unpacked.status();
  EXPECT_THAT(unpacked.status().message(), HasSubstr(host));
  EXPECT_THAT(unpacked.status().message(), HasSubstr("check that the registry is running"));
  ExpectWorkDirEmpty();
}

// Layers written by other tools: umoci records deletions as whiteouts, skopeo pushes the image
// (recompressed with zstd) to the registry.
TEST_F(RegistryImageUnpackerTest, AnImageMadeByUmociAndPushedBySkopeoUnpacks) {
  if (::access("/usr/bin/umoci", X_OK) != 0 || ::access("/usr/bin/skopeo", X_OK) != 0) {
    GTEST_SKIP() << "umoci or skopeo not installed";
  }
  std::string work = dir_.Join("umoci");
  std::string script = absl::StrCat(
      "set -e; mkdir ", work, "; cd ", work,
      "; umoci init --layout img; umoci new --image img:t"
      "; umoci unpack --image img:t b >/dev/null"
      "; mkdir -p b/rootfs/a b/rootfs/b; echo k > b/rootfs/a/keep; echo g > b/rootfs/a/gone"
      "; echo x > b/rootfs/b/x; umoci repack --image img:t b; rm -rf b"
      "; umoci unpack --image img:t b >/dev/null; rm b/rootfs/a/gone; rm -r b/rootfs/b"
      "; umoci repack --image img:t b"
      "; umoci config --image img:t --config.entrypoint /bin/app --config.exposedports 7000/tcp"
      "; skopeo copy -q --dest-tls-verify=false --dest-compress-format zstd oci:img:t docker://",
      server_->host_port(), "/umoci/app:t >/dev/null 2>&1");
  ASSERT_EQ(std::system(script.c_str()), 0) << script;
  auto manifest = client_->GetManifest("umoci/app", "t");
  ASSERT_TRUE(manifest.ok()) << manifest.status();
  auto unpacked =
      MakeUnpacker()->Unpack(server_->host_port() + "/umoci/app@" + manifest->digest.ToString());
  ASSERT_TRUE(unpacked.ok()) << unpacked.status();
  EXPECT_THAT(Names(unpacked->rootfs), ElementsAre("a"));
  EXPECT_THAT(Names(unpacked->rootfs + "/a"), ElementsAre("keep"));
  EXPECT_EQ(ReadFile(unpacked->rootfs + "/a/keep"), "k\n");
  EXPECT_THAT(unpacked->config.entrypoint, ElementsAre("/bin/app"));
  EXPECT_EQ(unpacked->config.exposed_port, 7000);
}

TEST_F(RegistryImageUnpackerTest, ADockerSchema2ImageUnpacks) {
  auto image = testing::PushLayers(*client_, store_, "docker/app",
                                   {MakeLayer({File("a", "1")}), MakeLayer({File("b", "2")})},
                                   {{"Cmd", {"/a"}}}, {}, "amd64", /*docker_media_types=*/true);
  ASSERT_TRUE(image.ok()) << image.status();
  ASSERT_THAT(image->manifest_json, HasSubstr(oci::kMediaTypeDockerManifest));
  auto unpacked = MakeUnpacker()->Unpack(image->reference);
  ASSERT_TRUE(unpacked.ok()) << unpacked.status();
  EXPECT_THAT(Names(unpacked->rootfs), UnorderedElementsAre("a", "b"));
  EXPECT_THAT(unpacked->config.cmd, ElementsAre("/a"));
}

}  // namespace
}  // namespace tempa::deploy
