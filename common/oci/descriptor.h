// OCI media types and the descriptor value types shared by the CAS, the layer writer and the
// registry client.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "common/digest.h"

namespace tempa::oci {

inline constexpr char kMediaTypeManifest[] = "application/vnd.oci.image.manifest.v1+json";
inline constexpr char kMediaTypeIndex[] = "application/vnd.oci.image.index.v1+json";
inline constexpr char kMediaTypeConfig[] = "application/vnd.oci.image.config.v1+json";
inline constexpr char kMediaTypeLayerGzip[] = "application/vnd.oci.image.layer.v1.tar+gzip";
inline constexpr char kMediaTypeLayerTar[] = "application/vnd.oci.image.layer.v1.tar";
// Docker schema 2 types, accepted when pulling images others built.
inline constexpr char kMediaTypeDockerManifest[] =
    "application/vnd.docker.distribution.manifest.v2+json";
inline constexpr char kMediaTypeDockerManifestList[] =
    "application/vnd.docker.distribution.manifest.list.v2+json";
inline constexpr char kMediaTypeDockerConfig[] = "application/vnd.docker.container.image.v1+json";
inline constexpr char kMediaTypeDockerLayerGzip[] =
    "application/vnd.docker.image.rootfs.diff.tar.gzip";

// A content descriptor: what a manifest says about one blob.
struct Descriptor {
  std::string media_type;
  Digest digest;
  int64_t size = 0;
  std::map<std::string, std::string> annotations;

  friend bool operator==(const Descriptor&, const Descriptor&) = default;
};

// A layer blob plus the digest of its uncompressed tar (the config's rootfs diff_id).
struct LayerRecord {
  Descriptor blob;
  Digest diff_id;

  friend bool operator==(const LayerRecord&, const LayerRecord&) = default;
};

}  // namespace tempa::oci
