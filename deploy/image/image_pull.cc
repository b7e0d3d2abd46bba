#include "deploy/image/image_pull.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <optional>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "common/beneath.h"
#include "common/registry/registry_json.h"
#include "common/status_macros.h"
#include "deploy/image/beneath_tree.h"

namespace tempa::deploy {
namespace {

constexpr const char* kLayerTypes[] = {
    oci::kMediaTypeLayerGzip,
    oci::kMediaTypeLayerTar,
    "application/vnd.oci.image.layer.v1.tar+zstd",
    oci::kMediaTypeDockerLayerGzip,
    "application/vnd.docker.image.rootfs.diff.tar",
    "application/vnd.docker.image.rootfs.diff.tar.zstd",
};

bool IsLayerType(const std::string& type) {
  for (const char* t : kLayerTypes) {
    if (type == t) return true;
  }
  return false;
}

// Adds the registry and what to do to an error from the registry client.
absl::Status RegistryError(const absl::Status& status, const registry::ImageReference& ref,
                           absl::string_view what) {
  std::string context = absl::StrCat("pull ", ref.ToString(), ": ", what);
  if (absl::IsUnavailable(status)) {
    return absl::UnavailableError(absl::StrCat(
        context, ": registry ", ref.registry(), " is unreachable (", status.message(),
        "); check that the registry is running and reachable from the deployer, then deploy "
        "again"));
  }
  if (absl::IsNotFound(status)) {
    return absl::NotFoundError(absl::StrCat(context, ": registry ", ref.registry(),
                                            " does not have it (", status.message(),
                                            "); was the image pushed there?"));
  }
  return Annotate(status, context);
}

absl::Status WriteNewFile(int dir_fd, const std::string& name, const std::string& dir,
                          absl::string_view contents) {
  std::string path = absl::StrCat(dir, "/", name);
  int fd =
      ::openat(dir_fd, name.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600);
  if (fd < 0) return ErrnoStatus(errno, "create", path);
  UniqueFd file(fd);
  while (!contents.empty()) {
    ssize_t n = ::write(file.get(), contents.data(), contents.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "write", path);
    contents.remove_prefix(static_cast<size_t>(n));
  }
  return absl::OkStatus();
}

absl::StatusOr<UniqueFd> MakeDir(int dir_fd, const std::string& name, const std::string& dir,
                                 mode_t mode) {
  std::string path = absl::StrCat(dir, "/", name);
  if (::mkdirat(dir_fd, name.c_str(), 0700) != 0) return ErrnoStatus(errno, "mkdir", path);
  int fd = ::openat(dir_fd, name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (fd < 0) return ErrnoStatus(errno, "open directory", path);
  UniqueFd out(fd);
  if (::fchmod(out.get(), mode) != 0) return ErrnoStatus(errno, "chmod", path);
  return out;
}

absl::StatusOr<registry::FetchedManifest> GetManifestByDigest(registry::RegistryClient& client,
                                                              const registry::ImageReference& ref,
                                                              const Digest& wanted,
                                                              absl::string_view what) {
  absl::StatusOr<registry::FetchedManifest> fetched =
      client.GetManifest(ref.repository(), wanted.ToString());
  if (!fetched.ok()) return RegistryError(fetched.status(), ref, what);
  if (!(fetched->digest == wanted)) {
    return absl::DataLossError(absl::StrCat(
        "pull ", ref.ToString(), ": ", what, ": the registry served one with digest ",
        fetched->digest.ToString(), ", not ", wanted.ToString(),
        "; the registry's storage is corrupt or it is not the registry the image was pushed to"));
  }
  return fetched;
}

// The image manifest the reference names; an index resolves to this platform's entry.
absl::StatusOr<oci::Manifest> FetchManifest(registry::RegistryClient& client,
                                            const registry::ImageReference& ref,
                                            const Platform& platform, std::string* body) {
  ASSIGN_OR_RETURN(registry::FetchedManifest fetched,
                   GetManifestByDigest(client, ref, *ref.digest(), "manifest"));
  absl::StatusOr<registry::ParsedManifest> parsed = registry::ParseManifest(fetched.body);
  if (!parsed.ok()) return Annotate(parsed.status(), absl::StrCat("pull ", ref.ToString()));
  if (parsed->is_index) {
    absl::StatusOr<oci::Descriptor> picked = PickPlatform(fetched.body, platform);
    if (!picked.ok()) return Annotate(picked.status(), absl::StrCat("pull ", ref.ToString()));
    ASSIGN_OR_RETURN(fetched, GetManifestByDigest(client, ref, picked->digest,
                                                  absl::StrCat("manifest for ", platform.os, "/",
                                                               platform.architecture)));
  }
  absl::StatusOr<oci::Manifest> manifest = oci::ParseManifest(fetched.body);
  if (!manifest.ok()) return Annotate(manifest.status(), absl::StrCat("pull ", ref.ToString()));
  *body = std::move(fetched.body);
  return manifest;
}

// The hand-over between the downloading thread and extraction.
class LayerDownloads {
 public:
  // Layers [first, n) are to be downloaded.
  LayerDownloads(size_t n, size_t first) : done_(n), next_download_(first), extracted_(first) {}

  // Blocks the downloader until layer `i` may be fetched; false once cancelled.
  bool WaitForRoom(size_t i) {
    absl::MutexLock lock(&mu_);
    mu_.Await(absl::Condition(
        +[](LayerDownloads* d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(d->mu_) {
          return d->cancelled_ || d->next_download_ < d->extracted_ + kAhead;
        },
        this));
    return !cancelled_;
  }
  void Done(size_t i, absl::Status status) {
    absl::MutexLock lock(&mu_);
    done_[i] = std::move(status);
    next_download_ = i + 1;
  }
  // Blocks until layer `i` is downloaded (or failed).
  absl::Status Wait(size_t i) {
    absl::MutexLock lock(&mu_);
    waiting_for_ = i;
    mu_.Await(absl::Condition(
        +[](LayerDownloads* d) ABSL_EXCLUSIVE_LOCKS_REQUIRED(d->mu_) {
          return d->done_[d->waiting_for_].has_value();
        },
        this));
    return *done_[i];
  }
  void Extracted(size_t i) {
    absl::MutexLock lock(&mu_);
    extracted_ = i + 1;
  }
  void Cancel() {
    absl::MutexLock lock(&mu_);
    cancelled_ = true;
  }

 private:
  static constexpr size_t kAhead = 2;  // layers downloaded but not yet extracted, at most
  absl::Mutex mu_;
  std::vector<std::optional<absl::Status>> done_ ABSL_GUARDED_BY(mu_);
  size_t next_download_ ABSL_GUARDED_BY(mu_);
  size_t extracted_ ABSL_GUARDED_BY(mu_);
  size_t waiting_for_ ABSL_GUARDED_BY(mu_) = 0;
  bool cancelled_ ABSL_GUARDED_BY(mu_) = false;
};

}  // namespace

std::vector<Digest> ChainIds(const std::vector<Digest>& diff_ids) {
  std::vector<Digest> out;
  for (const Digest& d : diff_ids) {
    out.push_back(out.empty() ? d
                              : Sha256Of(absl::StrCat(out.back().ToString(), " ", d.ToString())));
  }
  return out;
}

absl::StatusOr<std::string> ReadSmallFile(int dir_fd, const std::string& name,
                                          const std::string& dir, uint64_t max) {
  struct stat st;
  ASSIGN_OR_RETURN(UniqueFd fd, OpenRegularFileBeneath(dir_fd, name, dir, &st));
  if (static_cast<uint64_t>(st.st_size) > max) {
    return absl::ResourceExhaustedError(
        absl::StrCat(dir, "/", name, " is larger than ", max, " bytes"));
  }
  std::string out(static_cast<size_t>(st.st_size), '\0');
  size_t done = 0;
  while (done < out.size()) {
    ssize_t n = ::read(fd.get(), out.data() + done, out.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return ErrnoStatus(errno, "read", absl::StrCat(dir, "/", name));
    if (n == 0) break;
    done += static_cast<size_t>(n);
  }
  out.resize(done);
  return out;
}

absl::StatusOr<PulledImage> PullInto(registry::RegistryClient& client,
                                     const registry::ImageReference& ref, int dir_fd,
                                     const std::string& dir,
                                     const RegistryImageUnpackerOptions& options,
                                     LayerChains* chains) {
  const std::string image = ref.ToString();
  std::string manifest_json;
  ASSIGN_OR_RETURN(oci::Manifest manifest,
                   FetchManifest(client, ref, options.platform, &manifest_json));
  RETURN_IF_ERROR(WriteNewFile(dir_fd, kManifestFile, dir, manifest_json));

  // The config: bounded, verified, type-checked, for this platform.
  if (manifest.config.size < 0 ||
      static_cast<uint64_t>(manifest.config.size) > options.max_config_bytes) {
    return absl::InvalidArgumentError(absl::StrCat("pull ", image, ": its config declares ",
                                                   manifest.config.size, " bytes, more than the ",
                                                   options.max_config_bytes, " accepted"));
  }
  absl::Status got = client.GetBlob(ref.repository(), manifest.config.digest,
                                    static_cast<uint64_t>(manifest.config.size),
                                    absl::StrCat(dir, "/", kConfigFile));
  if (!got.ok()) {
    return RegistryError(got, ref, absl::StrCat("config ", manifest.config.digest.ToString()));
  }
  ASSIGN_OR_RETURN(std::string config_json,
                   ReadSmallFile(dir_fd, kConfigFile, dir, options.max_config_bytes));
  absl::StatusOr<oci::ImageConfig> config = oci::ParseConfig(config_json);
  if (!config.ok()) return Annotate(config.status(), absl::StrCat("pull ", image));
  if (config->os != options.platform.os || config->architecture != options.platform.architecture) {
    return absl::FailedPreconditionError(
        absl::StrCat("pull ", image, ": the image is for ", config->os, "/", config->architecture,
                     " but this machine runs ", options.platform.os, "/",
                     options.platform.architecture, " images; build it for this platform"));
  }
  if (config->diff_ids.size() != manifest.layers.size()) {
    return absl::InvalidArgumentError(
        absl::StrCat("pull ", image, ": the manifest lists ", manifest.layers.size(),
                     " layers but the config has ", config->diff_ids.size(), " diff_ids"));
  }
  // Compressed sizes bounded like the uncompressed stream (headers included).
  const uint64_t max_blob_bytes =
      options.limits.max_total_bytes + (options.limits.max_entries + 16) * 3 * 512;
  uint64_t blob_bytes = 0;
  const size_t n = manifest.layers.size();
  for (size_t i = 0; i < n; ++i) {
    const oci::Descriptor& layer = manifest.layers[i];
    std::string name = absl::StrCat("layer ", i + 1, "/", n, " ", layer.digest.ToString());
    if (!IsLayerType(layer.media_type)) {
      return absl::InvalidArgumentError(
          absl::StrCat("pull ", image, ": ", name, " has media type \"", layer.media_type,
                       "\"; only tar layers (uncompressed, gzip or zstd) can be unpacked"));
    }
    blob_bytes += static_cast<uint64_t>(std::max<int64_t>(layer.size, 0));
    if (layer.size < 0 || blob_bytes > max_blob_bytes) {
      return absl::ResourceExhaustedError(
          absl::StrCat("pull ", image, ": its layers declare more than ", max_blob_bytes,
                       " bytes, past the limit on an image's extracted size (max_total_bytes)"));
    }
  }

  ASSIGN_OR_RETURN(UniqueFd rootfs, MakeDir(dir_fd, "rootfs", dir, 0755));
  ASSIGN_OR_RETURN(UniqueFd blobs, MakeDir(dir_fd, "blobs", dir, 0700));
  const std::string blobs_dir = absl::StrCat(dir, "/blobs");
  LayerExtractor extractor(rootfs.get(), absl::StrCat(dir, "/rootfs"), options.limits,
                           ::geteuid() == 0);
  auto layer_name = [&](size_t i) {
    return absl::StrCat("layer ", i + 1, "/", n, " ", manifest.layers[i].digest.ToString());
  };
  auto blob_path = [&](size_t i) { return absl::StrCat(blobs_dir, "/", i); };
  const std::vector<Digest> chain_ids = ChainIds(config->diff_ids);
  size_t first = 0;
  if (chains != nullptr && n >= 2) {
    ASSIGN_OR_RETURN(first, chains->CloneLongest(chain_ids, n - 1, rootfs.get()));
  }
  // Downloads run ahead of extraction on a thread of their own (a few layers at most, so the
  // blobs waiting on disk stay bounded); extraction takes them in order.
  LayerDownloads downloads(n, first);
  std::thread downloader([&] {
    for (size_t i = first; i < n; ++i) {
      if (!downloads.WaitForRoom(i)) return;
      const oci::Descriptor& layer = manifest.layers[i];
      absl::Status s = client.GetBlob(ref.repository(), layer.digest,
                                      static_cast<uint64_t>(layer.size), blob_path(i));
      downloads.Done(i, s.ok() ? s : RegistryError(s, ref, layer_name(i)));
      if (!s.ok()) return;
    }
  });
  absl::Status extracted = [&]() -> absl::Status {
    for (size_t i = first; i < n; ++i) {
      RETURN_IF_ERROR(downloads.Wait(i));
      absl::StatusOr<Digest> diff_id = extractor.Apply(blob_path(i), layer_name(i));
      if (!diff_id.ok()) return Annotate(diff_id.status(), absl::StrCat("unpack ", image));
      if (!(*diff_id == config->diff_ids[i])) {
        return absl::DataLossError(absl::StrCat(
            "unpack ", image, ": ", layer_name(i), ": its uncompressed tar hashes to ",
            diff_id->ToString(), " but the config's diff_id is ", config->diff_ids[i].ToString(),
            "; the image is corrupt: build and push it again"));
      }
      if (::unlinkat(blobs.get(), absl::StrCat(i).c_str(), 0) != 0) {
        return ErrnoStatus(errno, "remove", blob_path(i));
      }
      downloads.Extracted(i);
      // Snapshots of all but the top layer (a code-only change reuses it) and of the first
      // layer, the run base (other apps on that base reuse it).
      if (chains != nullptr && (i + 2 == n || (i == 0 && n >= 3))) {
        chains->Save(chain_ids[i], rootfs.get());
      }
    }
    return absl::OkStatus();
  }();
  downloads.Cancel();
  downloader.join();
  RETURN_IF_ERROR(extracted);
  blobs.Reset();
  RETURN_IF_ERROR(RemoveBeneath(dir_fd, "blobs", blobs_dir));
  PulledImage out;
  out.config = *std::move(config);
  out.reused_layers = first;
  out.extracted_bytes = extractor.total_bytes();
  out.entries = extractor.total_entries();
  return out;
}

}  // namespace tempa::deploy
