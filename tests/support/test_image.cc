#include "tests/support/test_image.h"

#include <libdeflate.h>

#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"
#include "tests/support/temp_dir.h"

namespace tempa::testing {
namespace {

// xorshift64*: fast, deterministic filler; quality is irrelevant, incompressibility is the point.
void FillRandom(std::string& out, uint64_t seed) {
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i + 8 <= out.size(); i += 8) {
    x ^= x >> 12, x ^= x << 25, x ^= x >> 27;
    uint64_t v = x * 0x2545F4914F6CDD1Dull;
    std::memcpy(&out[i], &v, 8);
  }
}

// One-file ustar archive: header, contents padded to 512, two zero blocks.
std::string TarOneFile(const std::string& name, const std::string& contents) {
  char header[512] = {};
  std::snprintf(header, 100, "%s", name.c_str());
  std::snprintf(header + 100, 8, "%07o", 0644);
  std::snprintf(header + 108, 8, "%07o", 0);
  std::snprintf(header + 116, 8, "%07o", 0);
  std::snprintf(header + 124, 12, "%011llo", static_cast<unsigned long long>(contents.size()));
  std::snprintf(header + 136, 12, "%011o", 0);
  header[156] = '0';
  std::memcpy(header + 257,
              "ustar\0"
              "00",
              8);
  std::memset(header + 148, ' ', 8);
  unsigned sum = 0;
  for (unsigned char c : header) sum += c;
  std::snprintf(header + 148, 8, "%06o", sum);
  std::string tar(header, 512);
  tar += contents;
  tar.append((512 - contents.size() % 512) % 512, '\0');
  tar.append(1024, '\0');
  return tar;
}

std::string Gzip(const std::string& data) {
  libdeflate_compressor* c = libdeflate_alloc_compressor(1);
  std::string out(libdeflate_gzip_compress_bound(c, data.size()), '\0');
  size_t n = libdeflate_gzip_compress(c, data.data(), data.size(), out.data(), out.size());
  libdeflate_free_compressor(c);
  out.resize(n);
  return out;
}

nlohmann::ordered_json DescriptorJson(const oci::Descriptor& d) {
  return {{"mediaType", d.media_type}, {"digest", d.digest.ToString()}, {"size", d.size}};
}

}  // namespace

absl::StatusOr<TestImage> MakeTestImage(cas::BlobStore& store,
                                        const std::vector<uint64_t>& layer_sizes, uint64_t seed) {
  TestImage image;
  nlohmann::ordered_json diff_ids = nlohmann::ordered_json::array();
  for (size_t i = 0; i < layer_sizes.size(); ++i) {
    std::string contents(layer_sizes[i], '\0');
    FillRandom(contents, seed * 1000 + i);
    std::string tar = TarOneFile(absl::StrCat("data/file", i), contents);
    diff_ids.push_back(Sha256Of(tar).ToString());
    std::string blob = Gzip(tar);
    oci::Descriptor d;
    d.media_type = oci::kMediaTypeLayerGzip;
    ASSIGN_OR_RETURN(d.digest, store.Put(blob));
    d.size = static_cast<int64_t>(blob.size());
    image.layers.push_back(d);
    image.total_bytes += blob.size();
  }
  nlohmann::ordered_json config = {
      {"created", "2024-01-01T00:00:00Z"},
      {"architecture", "amd64"},
      {"os", "linux"},
      {"config", {{"Env", {"PATH=/usr/bin"}}, {"Cmd", {"/data/file0"}}}},
      {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids}}},
      {"history", nlohmann::ordered_json::array()}};
  std::string config_json = config.dump();
  image.config.media_type = oci::kMediaTypeConfig;
  ASSIGN_OR_RETURN(image.config.digest, store.Put(config_json));
  image.config.size = static_cast<int64_t>(config_json.size());
  image.total_bytes += config_json.size();

  nlohmann::ordered_json layers = nlohmann::ordered_json::array();
  for (const auto& d : image.layers) layers.push_back(DescriptorJson(d));
  nlohmann::ordered_json manifest = {{"schemaVersion", 2},
                                     {"mediaType", oci::kMediaTypeManifest},
                                     {"config", DescriptorJson(image.config)},
                                     {"layers", layers}};
  image.manifest_json = manifest.dump();
  ASSIGN_OR_RETURN(image.manifest_digest, store.Put(image.manifest_json));
  return image;
}

absl::Status WriteOciLayoutIndex(const std::string& dir, const TestImage& image,
                                 const std::string& tag) {
  WriteFileOrDie(dir + "/oci-layout", R"({"imageLayoutVersion":"1.0.0"})");
  nlohmann::ordered_json index = {
      {"schemaVersion", 2},
      {"manifests",
       {{{"mediaType", oci::kMediaTypeManifest},
         {"digest", image.manifest_digest.ToString()},
         {"size", image.manifest_json.size()},
         {"annotations", {{"org.opencontainers.image.ref.name", tag}}}}}}};
  WriteFileOrDie(dir + "/index.json", index.dump());
  return absl::OkStatus();
}

}  // namespace tempa::testing
