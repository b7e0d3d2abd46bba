#include "common/registry/image_pusher.h"

#include <algorithm>
#include <atomic>
#include <thread>

#include "absl/container/flat_hash_set.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/registry/registry_json.h"
#include "common/status_macros.h"

namespace tempa::registry {
namespace {

// Short form for messages: "sha256:ab12cd34ef56…".
std::string Short(const Digest& d) { return absl::StrCat("sha256:", d.hex().substr(0, 12), "…"); }

enum class Outcome { kSkipped, kMounted, kUploaded };

absl::StatusOr<Outcome> PushOne(RegistryClient& client, const ImageReference& target,
                                cas::BlobStore& blobs, const oci::Descriptor& blob,
                                const PushOptions& options) {
  const std::string& repo = target.repository();
  ASSIGN_OR_RETURN(bool exists, client.BlobExists(repo, blob.digest));
  if (exists) return Outcome::kSkipped;
  std::optional<std::string> session;
  auto source = options.blob_sources.find(blob.digest);
  if (source != options.blob_sources.end() && source->second != repo) {
    ASSIGN_OR_RETURN(MountResult mount, client.MountBlob(repo, blob.digest, source->second));
    if (mount.mounted) return Outcome::kMounted;
    session = mount.upload_location;
    ASSIGN_OR_RETURN(bool have, blobs.Contains(blob.digest));
    if (!have) {  // refused: fetched from where it lives, then uploaded like any other
      ASSIGN_OR_RETURN(std::unique_ptr<cas::BlobWriter> writer, blobs.NewWriter());
      RETURN_IF_ERROR(Annotate(
          client.GetBlob(source->second, blob.digest, static_cast<uint64_t>(blob.size), *writer),
          absl::StrCat("fetch it from ", source->second)));
    }
  }
  for (const std::string& from : options.mount_from) {
    if (from == repo) continue;
    ASSIGN_OR_RETURN(MountResult mount, client.MountBlob(repo, blob.digest, from));
    if (mount.mounted) return Outcome::kMounted;
    // Keep the session the registry opened rather than opening another; earlier ones expire.
    session = mount.upload_location;
  }
  ASSIGN_OR_RETURN(std::string path, blobs.Path(blob.digest));
  ASSIGN_OR_RETURN(uint64_t size, blobs.Size(blob.digest));
  if (blob.size >= 0 && static_cast<uint64_t>(blob.size) != size) {
    return absl::FailedPreconditionError(
        absl::StrCat("the manifest says ", blob.size, " bytes but the store holds ", size));
  }
  RETURN_IF_ERROR(client.PushBlob(repo, blob.digest, size, path, session));
  return Outcome::kUploaded;
}

// Largest image config PullImage accepts: it is read into memory afterwards.
constexpr int64_t kMaxConfigBytes = 4 << 20;

}  // namespace

absl::StatusOr<PushResult> PushImage(RegistryClient& client, const ImageReference& target,
                                     cas::BlobStore& blobs, const oci::Descriptor& config,
                                     const std::vector<oci::Descriptor>& layers,
                                     absl::string_view manifest_json, const PushOptions& options) {
  // Config first: it is small and a registry may want it before the manifest anyway.
  std::vector<const oci::Descriptor*> todo;
  absl::flat_hash_set<Digest> seen;
  for (const oci::Descriptor* d : {&config}) {
    if (seen.insert(d->digest).second) todo.push_back(d);
  }
  for (const oci::Descriptor& d : layers) {
    if (seen.insert(d.digest).second) todo.push_back(&d);
  }

  PushResult result;
  absl::Mutex mu;
  absl::Status first_error;
  std::atomic<size_t> next{0};
  std::atomic<bool> failed{false};
  auto worker = [&]() {
    for (size_t i = next++; i < todo.size() && !failed; i = next++) {
      const oci::Descriptor& blob = *todo[i];
      absl::StatusOr<Outcome> outcome = PushOne(client, target, blobs, blob, options);
      absl::MutexLock lock(&mu);
      if (!outcome.ok()) {
        if (first_error.ok()) {
          const char* what = &blob == &config ? "config" : "layer";
          first_error = Annotate(outcome.status(),
                                 absl::StrCat("push ", what, " ", Short(blob.digest), " to ",
                                              target.registry(), "/", target.repository()));
        }
        failed = true;
        continue;
      }
      switch (*outcome) {
        case Outcome::kSkipped:
          ++result.skipped;
          break;
        case Outcome::kMounted:
          ++result.mounted;
          break;
        case Outcome::kUploaded:
          ++result.uploaded;
          result.bytes_uploaded += static_cast<uint64_t>(blob.size);
          break;
      }
    }
  };
  int threads = std::clamp<int>(options.parallelism, 1, static_cast<int>(todo.size()));
  std::vector<std::thread> pool;
  for (int i = 1; i < threads; ++i) pool.emplace_back(worker);
  worker();
  for (std::thread& t : pool) t.join();
  RETURN_IF_ERROR(first_error);

  // The manifest goes last: a registry may refuse a manifest whose blobs it does not have, and a
  // tag must never point at a half-pushed image.
  absl::StatusOr<Digest> digest =
      client.PutManifest(target.repository(), target.reference(),
                         ManifestMediaType(manifest_json, oci::kMediaTypeManifest), manifest_json);
  if (!digest.ok()) {
    return Annotate(digest.status(), absl::StrCat("push manifest to ", target.ToString()));
  }
  result.manifest_digest = *digest;
  return result;
}

absl::StatusOr<PullResult> PullImage(RegistryClient& client, const ImageReference& source,
                                     cas::BlobStore& blobs) {
  const std::string context = absl::StrCat("pull ", source.ToString());
  absl::StatusOr<FetchedManifest> fetched =
      client.GetManifest(source.repository(), source.reference());
  if (!fetched.ok()) return Annotate(fetched.status(), context);
  absl::StatusOr<ParsedManifest> manifest = ParseManifest(fetched->body);
  if (!manifest.ok()) {
    return Annotate(manifest.status(), absl::StrCat(context, ": registry ", client.host(),
                                                    " answered a bad manifest"));
  }
  if (manifest->is_index) {
    return absl::FailedPreconditionError(
        absl::StrCat(context, ": is an index (multi-platform image); pull a platform manifest"));
  }
  if (manifest->config.size > kMaxConfigBytes) {
    return absl::InvalidArgumentError(absl::StrCat(context, ": its config is ",
                                                   manifest->config.size,
                                                   " bytes; Tempa reads configs up to 4 MiB"));
  }
  PullResult result;
  result.manifest_digest = fetched->digest;
  result.media_type = fetched->media_type;
  result.config = manifest->config;
  result.layers = std::move(manifest->layers);
  std::vector<const oci::Descriptor*> all = {&result.config};
  for (const auto& d : result.layers) all.push_back(&d);
  for (const oci::Descriptor* d : all) {
    ASSIGN_OR_RETURN(bool have, blobs.Contains(d->digest));
    if (have) continue;
    ASSIGN_OR_RETURN(std::unique_ptr<cas::BlobWriter> writer, blobs.NewWriter());
    absl::Status status =
        client.GetBlob(source.repository(), d->digest, static_cast<uint64_t>(d->size), *writer);
    if (!status.ok()) return Annotate(status, context);
  }
  ASSIGN_OR_RETURN(Digest stored, blobs.Put(fetched->body));
  (void)stored;  // equals manifest_digest: Put hashes what GetManifest already verified
  result.manifest_json = std::move(fetched->body);
  return result;
}

}  // namespace tempa::registry
