#include "common/cas/rocksdb_action_cache.h"

#include <string>

#include "absl/strings/str_cat.h"
#include "rocksdb/db.h"
#include "tempa/v1/image.pb.h"

namespace tempa::cas {
namespace {

rocksdb::Slice ToSlice(absl::string_view s) { return rocksdb::Slice(s.data(), s.size()); }

// Only the descriptor's media type, digest and size travel; annotations are not part of a
// layer's identity and tempa.v1.LayerDescriptor has no field for them.
tempa::v1::LayerDescriptor ToProto(const oci::LayerRecord& layer) {
  tempa::v1::LayerDescriptor proto;
  proto.set_media_type(layer.blob.media_type);
  proto.set_digest(layer.blob.digest.ToString());
  proto.set_size(layer.blob.size);
  proto.set_diff_id(layer.diff_id.ToString());
  return proto;
}

std::optional<oci::LayerRecord> FromProto(const tempa::v1::LayerDescriptor& proto) {
  absl::StatusOr<Digest> digest = Digest::Parse(proto.digest());
  absl::StatusOr<Digest> diff_id = Digest::Parse(proto.diff_id());
  if (!digest.ok() || !diff_id.ok() || proto.size() < 0) return std::nullopt;
  oci::LayerRecord layer;
  layer.blob.media_type = proto.media_type();
  layer.blob.digest = *digest;
  layer.blob.size = proto.size();
  layer.diff_id = *diff_id;
  return layer;
}

}  // namespace

absl::StatusOr<std::optional<oci::LayerRecord>> RocksDbActionCache::Get(absl::string_view key) {
  std::string value;
  rocksdb::Status s = db_->Get(rocksdb::ReadOptions(), cf_, ToSlice(key), &value);
  if (s.IsNotFound()) return std::nullopt;
  if (!s.ok()) {
    return absl::InternalError(absl::StrCat("action cache: get ", key, ": ", s.ToString()));
  }
  tempa::v1::LayerDescriptor proto;
  std::optional<oci::LayerRecord> layer;
  if (proto.ParseFromString(value)) layer = FromProto(proto);
  if (!layer) {
    rocksdb::Status d = db_->Delete(rocksdb::WriteOptions(), cf_, ToSlice(key));
    if (!d.ok()) {
      return absl::InternalError(
          absl::StrCat("action cache: delete malformed entry ", key, ": ", d.ToString()));
    }
  }
  return layer;
}

absl::Status RocksDbActionCache::Put(absl::string_view key, const oci::LayerRecord& layer) {
  rocksdb::WriteOptions options;
  options.sync = true;  // the contract: durable when Put returns OK
  rocksdb::Status s = db_->Put(options, cf_, ToSlice(key), ToProto(layer).SerializeAsString());
  if (!s.ok()) {
    return absl::InternalError(absl::StrCat("action cache: put ", key, ": ", s.ToString()));
  }
  return absl::OkStatus();
}

}  // namespace tempa::cas
