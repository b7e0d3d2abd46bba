#include "worker/daemon/grpc_remote_layer_index.h"

#include "absl/strings/str_cat.h"
#include "common/grpc/status_conversion.h"

namespace tempa::worker {
namespace {

constexpr absl::Duration kDeadline = absl::Seconds(10);

}  // namespace

GrpcRemoteLayerIndex::GrpcRemoteLayerIndex(std::shared_ptr<grpc::Channel> channel,
                                           rpc::ClientOptions options, std::string worker_id)
    : stub_(v1::LayerCacheService::NewStub(std::move(channel))),
      options_(std::move(options)),
      worker_id_(std::move(worker_id)) {}

absl::StatusOr<std::optional<RemoteLayer>> GrpcRemoteLayerIndex::Find(const std::string& key) {
  grpc::ClientContext ctx;
  rpc::PrepareContext(&ctx, options_, kDeadline);
  v1::FindLayerRequest request;
  request.set_key(key);
  v1::FindLayerResponse response;
  grpc::Status status = stub_->FindLayer(&ctx, request, &response);
  if (!status.ok()) return rpc::FromGrpcStatus(status, "find a layer in the fleet cache");
  if (!response.found()) return std::optional<RemoteLayer>();
  // The coordinator's answer is checked like any other outside input.
  const v1::LayerDescriptor& layer = response.entry().layer();
  absl::StatusOr<Digest> digest = Digest::Parse(layer.digest());
  absl::StatusOr<Digest> diff_id = Digest::Parse(layer.diff_id());
  if (!digest.ok() || !diff_id.ok() || layer.size() <= 0 || layer.media_type().empty()) {
    return absl::DataLossError(
        absl::StrCat("the fleet cache's entry for ", key, " is not a layer descriptor"));
  }
  RemoteLayer found;
  found.record.blob.media_type = layer.media_type();
  found.record.blob.digest = *digest;
  found.record.blob.size = layer.size();
  found.record.diff_id = *diff_id;
  found.repository = response.entry().repository();
  return std::optional<RemoteLayer>(std::move(found));
}

absl::Status GrpcRemoteLayerIndex::Put(const std::string& key, const oci::LayerRecord& record,
                                       const std::string& repository) {
  grpc::ClientContext ctx;
  rpc::PrepareContext(&ctx, options_, kDeadline);
  v1::PutLayerRequest request;
  v1::LayerCacheEntry* entry = request.mutable_entry();
  entry->set_key(key);
  entry->set_repository(repository);
  entry->set_worker_id(worker_id_);
  entry->mutable_layer()->set_media_type(record.blob.media_type);
  entry->mutable_layer()->set_digest(record.blob.digest.ToString());
  entry->mutable_layer()->set_size(record.blob.size);
  entry->mutable_layer()->set_diff_id(record.diff_id.ToString());
  entry->mutable_layer()->set_role(v1::LAYER_ROLE_DEPS);
  v1::PutLayerResponse response;
  grpc::Status status = stub_->PutLayer(&ctx, request, &response);
  if (!status.ok()) return rpc::FromGrpcStatus(status, "record a layer in the fleet cache");
  return absl::OkStatus();
}

}  // namespace tempa::worker
