// RegistryImageUnpacker against a real docker-registry on loopback: images built here from
// crafted layers are pushed with the project's pusher, then pulled by digest and unpacked.
#include "deploy/image/registry_image_unpacker.h"

#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <thread>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "common/check.h"
#include "common/registry/counting_http_transport.h"
#include "common/registry/curl_http_transport.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "tests/deploy/image/test_layers.h"
#include "tests/support/dir_blob_store.h"
#include "tests/support/registry_server.h"
#include "tests/support/temp_dir.h"

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

// Every path below `root` with its type, mode, owner and contents (or link target).
std::map<std::string, std::string> Tree(const std::string& root) {
  std::map<std::string, std::string> out;
  for (const auto& e : fs::recursive_directory_iterator(root)) {
    struct stat st;
    TEMPA_CHECK(::lstat(e.path().c_str(), &st) == 0, "lstat");
    std::string what = absl::StrCat(st.st_mode, " ", st.st_uid, ":", st.st_gid, " ");
    if (S_ISLNK(st.st_mode)) what += fs::read_symlink(e.path()).string();
    if (S_ISREG(st.st_mode)) what += ReadFile(e.path());
    out[fs::relative(e.path(), root).string()] = what;
  }
  return out;
}

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

class RegistryImageUnpackerTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!::tempa::testing::RegistryServer::Available()) return;
    auto server = ::tempa::testing::RegistryServer::Start();
    if (server.ok()) {
      server_ = std::move(*server);
    } else {
      start_error_ = new std::string(server.status().ToString());
    }
  }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    if (!::tempa::testing::RegistryServer::Available()) {
      GTEST_SKIP() << "docker-registry not installed";
    }
    ASSERT_NE(server_, nullptr) << (start_error_ != nullptr ? *start_error_ : "");
    client_ = std::make_unique<registry::RegistryClient>(server_->host_port(), &curl_);
    options_.work_dir = dir_.Join("work");
    options_.registry.sleeper = [](absl::Duration) {};
  }

  std::unique_ptr<ImageUnpacker> MakeUnpacker(registry::HttpTransport* transport = nullptr) {
    auto unpacker = MakeRegistryImageUnpacker(options_, transport ? transport : &counting_);
    TEMPA_CHECK(unpacker.ok(), unpacker.status().ToString().c_str());
    return *std::move(unpacker);
  }

  PushedImage Push(const std::string& repo, const std::vector<Layer>& layers,
                   const nlohmann::json& run_config = nlohmann::json::object(),
                   const std::vector<Digest>& diff_ids = {}) {
    auto pushed = testing::PushLayers(*client_, store_, repo, layers, run_config, diff_ids);
    TEMPA_CHECK(pushed.ok(), pushed.status().ToString().c_str());
    return *pushed;
  }

  // The work directory holds the (empty) layout only: a failed unpack left nothing behind.
  void ExpectWorkDirEmpty() {
    EXPECT_THAT(Names(dir_.path()), UnorderedElementsAre("work", "store"));
    EXPECT_THAT(Names(dir_.Join("work")), UnorderedElementsAre("images", "tmp", "chains", "lock"));
    EXPECT_THAT(Names(dir_.Join("work/images")), IsEmpty());
    EXPECT_THAT(Names(dir_.Join("work/tmp")), IsEmpty());
    // Snapshots of verified lower layers may stay; nothing half-made does.
    for (const std::string& name : Names(dir_.Join("work/chains"))) {
      EXPECT_EQ(name.find(".tmp-"), std::string::npos) << name;
    }
  }

  static inline std::unique_ptr<::tempa::testing::RegistryServer> server_;
  static inline std::string* start_error_ = nullptr;
  ::tempa::testing::TempDir dir_;
  ::tempa::testing::DirBlobStore store_{dir_.Join("store")};
  registry::CurlHttpTransport curl_;
  registry::CountingHttpTransport counting_{&curl_};
  std::unique_ptr<registry::RegistryClient> client_;
  RegistryImageUnpackerOptions options_;
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
