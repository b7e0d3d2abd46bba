// The deterministic layer writer: LayerSpec → tar (pax, libarchive) → multi-member gzip
// (libdeflate, parallel), hashing the tar (diff_id) and the gzip (blob digest) in the same pass.
// Same spec contents + same options + same libdeflate version → the same bytes on any machine:
// entries sorted by path bytes, every parent directory present, one mtime, fixed uid/gid, no user
// names, no atime/ctime, names written as raw bytes whatever the locale. Files are streamed from
// disk; memory use is bounded by the gzip pipeline, not by the layer's size.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "common/cas/blob_store.h"
#include "common/digest.h"
#include "common/oci/byte_sink.h"
#include "common/oci/descriptor.h"
#include "common/oci/layer_spec.h"
#include "common/oci/parallel_gzip.h"

namespace tempa::oci {

struct LayerWriteOptions {
  // Seconds since the epoch for every entry (SOURCE_DATE_EPOCH / commit time).
  int64_t mtime = 0;
  int uid = 0;
  int gid = 0;
  // libdeflate level 0..12; 6 compresses like gzip -6, several times faster.
  int compression_level = 6;
  // Compressing threads; 0: std::thread::hardware_concurrency().
  int threads = 0;
  // Uncompressed bytes per gzip member. Part of the output's identity: changing it changes
  // every digest, so leave it alone outside benchmarks.
  size_t chunk_bytes = kDefaultGzipChunkBytes;
};

struct LayerWriteResult {
  Digest diff_id;         // sha256 of the uncompressed tar
  Digest digest;          // sha256 of the gzip stream (unset when the sink variant skips it)
  int64_t size = 0;       // gzip bytes
  int64_t tar_size = 0;   // uncompressed tar bytes
  int64_t entries = 0;    // tar entries written, implicit parent directories included
};

// Identifies everything besides the spec and options that the output bytes depend on (tar
// format, gzip member size, libdeflate version), e.g. "pax1/libdeflate-1.14/members-1048576".
// Put it in action-cache keys so an upgrade of libdeflate cannot serve stale digests.
std::string LayerWriterVersion(const LayerWriteOptions& options);

// Writes the layer's gzip stream to `sink`. Invalid specs (bad paths, a parent that is not a
// directory, a hard link to a missing or later entry, an unreadable or non-regular source file,
// a file that changes size while being read) fail with InvalidArgument / NotFound / Internal
// naming the entry; the sink then holds a partial stream the caller should discard.
absl::StatusOr<LayerWriteResult> WriteLayerTo(const LayerSpec& spec,
                                              const LayerWriteOptions& options, ByteSink& sink,
                                              bool hash_output = true);

// Writes the layer into the store (one BlobWriter, committed at the end) and returns its
// descriptor (media type kMediaTypeLayerGzip) and diff_id.
absl::StatusOr<LayerRecord> WriteLayer(const LayerSpec& spec, const LayerWriteOptions& options,
                                       cas::BlobStore& store);

}  // namespace tempa::oci
