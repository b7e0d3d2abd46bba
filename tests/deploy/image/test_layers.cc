#include "tests/deploy/image/test_layers.h"

#include <archive.h>
#include <archive_entry.h>

#include <fstream>

#include "common/check.h"
#include "common/oci/descriptor.h"
#include "common/registry/image_pusher.h"
#include "common/status_macros.h"

namespace tempa::deploy::testing {
namespace {

// Writes through libarchive into a string.
class Writer {
 public:
  Writer() : a_(archive_write_new()) {}
  ~Writer() { archive_write_free(a_); }
  archive* get() { return a_; }
  void Open() {
    TEMPA_CHECK(archive_write_open(a_, this, nullptr, &Writer::Write, nullptr) == ARCHIVE_OK,
                "archive_write_open");
  }
  std::string Finish() {
    TEMPA_CHECK(archive_write_close(a_) == ARCHIVE_OK, archive_error_string(a_));
    return out_;
  }

 private:
  static la_ssize_t Write(archive*, void* self, const void* buf, size_t n) {
    static_cast<Writer*>(self)->out_.append(static_cast<const char*>(buf), n);
    return static_cast<la_ssize_t>(n);
  }
  archive* a_;
  std::string out_;
};

std::string Tar(const std::vector<TarEntry>& entries) {
  Writer w;
  archive_write_set_format_pax_restricted(w.get());
  archive_write_set_bytes_in_last_block(w.get(), 1);
  w.Open();
  for (const TarEntry& t : entries) {
    archive_entry* e = archive_entry_new();
    archive_entry_set_pathname(e, t.path.c_str());
    archive_entry_set_uid(e, t.uid);
    archive_entry_set_gid(e, t.gid);
    archive_entry_set_mtime(e, 1700000000, 0);
    archive_entry_set_perm(e, t.mode);
    int64_t size = 0;
    switch (t.type) {
      case TarEntry::kFile:
        archive_entry_set_filetype(e, AE_IFREG);
        size = t.declared_size >= 0 ? t.declared_size : static_cast<int64_t>(t.data.size());
        break;
      case TarEntry::kDir:
        archive_entry_set_filetype(e, AE_IFDIR);
        break;
      case TarEntry::kSymlink:
        archive_entry_set_filetype(e, AE_IFLNK);
        archive_entry_set_symlink(e, t.data.c_str());
        break;
      case TarEntry::kHardlink:
        archive_entry_set_filetype(e, AE_IFREG);
        archive_entry_set_hardlink(e, t.data.c_str());
        break;
      case TarEntry::kCharDevice:
        archive_entry_set_filetype(e, AE_IFCHR);
        archive_entry_set_rdevmajor(e, 1);
        archive_entry_set_rdevminor(e, 3);
        break;
      case TarEntry::kFifo:
        archive_entry_set_filetype(e, AE_IFIFO);
        break;
    }
    archive_entry_set_size(e, size);
    TEMPA_CHECK(archive_write_header(w.get(), e) == ARCHIVE_OK, archive_error_string(w.get()));
    if (t.type == TarEntry::kFile && !t.data.empty()) {
      archive_write_data(w.get(), t.data.data(), std::min<size_t>(t.data.size(), size));
    }
    archive_entry_free(e);
  }
  return w.Finish();
}

std::string Compress(const std::string& data, Compression compression) {
  Writer w;
  archive_write_set_format_raw(w.get());
  if (compression == Compression::kGzip) archive_write_add_filter_gzip(w.get());
  if (compression == Compression::kZstd) archive_write_add_filter_zstd(w.get());
  archive_write_set_bytes_in_last_block(w.get(), 1);
  w.Open();
  archive_entry* e = archive_entry_new();
  archive_entry_set_filetype(e, AE_IFREG);
  archive_entry_set_pathname(e, "layer");
  archive_entry_set_size(e, static_cast<int64_t>(data.size()));
  TEMPA_CHECK(archive_write_header(w.get(), e) == ARCHIVE_OK, archive_error_string(w.get()));
  archive_write_data(w.get(), data.data(), data.size());
  archive_entry_free(e);
  return w.Finish();
}

nlohmann::json DescriptorJson(const oci::Descriptor& d) {
  return {{"mediaType", d.media_type}, {"digest", d.digest.ToString()}, {"size", d.size}};
}

}  // namespace

TarEntry File(std::string path, std::string contents, mode_t mode) {
  return {TarEntry::kFile, std::move(path), std::move(contents), mode};
}
TarEntry Dir(std::string path, mode_t mode) { return {TarEntry::kDir, std::move(path), "", mode}; }
TarEntry Symlink(std::string path, std::string target) {
  return {TarEntry::kSymlink, std::move(path), std::move(target), 0777};
}
TarEntry Hardlink(std::string path, std::string target) {
  return {TarEntry::kHardlink, std::move(path), std::move(target), 0644};
}

Layer MakeLayer(const std::vector<TarEntry>& entries, Compression compression) {
  Layer layer;
  std::string tar = Tar(entries);
  layer.diff_id = Sha256Of(tar);
  switch (compression) {
    case Compression::kNone:
      layer.blob = tar;
      layer.media_type = oci::kMediaTypeLayerTar;
      break;
    case Compression::kGzip:
      layer.blob = Compress(tar, compression);
      layer.media_type = oci::kMediaTypeLayerGzip;
      break;
    case Compression::kZstd:
      layer.blob = Compress(tar, compression);
      layer.media_type = "application/vnd.oci.image.layer.v1.tar+zstd";
      break;
  }
  return layer;
}

void WriteLayerFile(const Layer& layer, const std::string& path) {
  std::ofstream out(path, std::ios::binary);
  out << layer.blob;
  TEMPA_CHECK(out.good(), "write layer file");
}

absl::StatusOr<PushedImage> PushLayers(registry::RegistryClient& client, cas::BlobStore& store,
                                       const std::string& repo, const std::vector<Layer>& layers,
                                       const nlohmann::json& run_config,
                                       const std::vector<Digest>& diff_ids,
                                       const std::string& architecture, bool docker_media_types) {
  nlohmann::json ids = nlohmann::json::array();
  std::vector<oci::Descriptor> descriptors;
  for (size_t i = 0; i < layers.size(); ++i) {
    ids.push_back((diff_ids.empty() ? layers[i].diff_id : diff_ids[i]).ToString());
    oci::Descriptor d;
    d.media_type = docker_media_types ? oci::kMediaTypeDockerLayerGzip : layers[i].media_type;
    ASSIGN_OR_RETURN(d.digest, store.Put(layers[i].blob));
    d.size = static_cast<int64_t>(layers[i].blob.size());
    descriptors.push_back(d);
  }
  nlohmann::json config = {{"architecture", architecture},
                           {"os", "linux"},
                           {"config", run_config},
                           {"rootfs", {{"type", "layers"}, {"diff_ids", ids}}}};
  std::string config_json = config.dump();
  oci::Descriptor config_d;
  config_d.media_type = docker_media_types ? oci::kMediaTypeDockerConfig : oci::kMediaTypeConfig;
  ASSIGN_OR_RETURN(config_d.digest, store.Put(config_json));
  config_d.size = static_cast<int64_t>(config_json.size());
  nlohmann::json layer_list = nlohmann::json::array();
  for (const oci::Descriptor& d : descriptors) layer_list.push_back(DescriptorJson(d));
  nlohmann::json manifest = {
      {"schemaVersion", 2},
      {"mediaType", docker_media_types ? oci::kMediaTypeDockerManifest : oci::kMediaTypeManifest},
      {"config", DescriptorJson(config_d)},
      {"layers", layer_list}};
  PushedImage out;
  out.manifest_json = manifest.dump();
  ASSIGN_OR_RETURN(registry::ImageReference target,
                   registry::ImageReference::Parse(client.host() + "/" + repo + ":latest"));
  ASSIGN_OR_RETURN(
      registry::PushResult pushed,
      registry::PushImage(client, target, store, config_d, descriptors, out.manifest_json));
  out.manifest_digest = pushed.manifest_digest;
  out.reference = target.WithDigest(pushed.manifest_digest);
  return out;
}

}  // namespace tempa::deploy::testing
