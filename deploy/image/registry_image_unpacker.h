// ImageUnpacker over the project's registry client: pulls an image by digest and unpacks its
// layers (LayerExtractor) under a work directory, once per image:
//
//   WORK/images/<hex>/rootfs        the root filesystem (root-owned 0755; entries as the image
//                                   says, less setuid/setgid/sticky and o+w; files may be hard
//                                   links shared with other images': never write into them)
//   WORK/images/<hex>/config.json   the image config (verified blob), read back on later calls
//   WORK/images/<hex>/manifest.json the image manifest
//   WORK/images/<hex>/synced        present once all of it is flushed to disk
//   WORK/tmp/unpack-<hex>-<n>/      where an unpack happens; renamed into images/ only when
//                                   complete, removed on failure
//   WORK/chains/<chainid>/          snapshots of lower layers shared by images (dir_layer_chains.h)
//   WORK/lock                       flock'ed while an unpacker uses the directory
//
// WORK/images is 0711 (runc, as root, reaches the rootfs; nobody else can list it) and WORK/tmp
// 0700 (chains/ too); each is refused when it is a symlink or owned by someone else. One unpacker
// per work directory (a second one is FailedPrecondition): Prune removes temporary directories it
// does not know of.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "common/registry/http_transport.h"
#include "common/registry/registry_client.h"
#include "deploy/image/image_manifest.h"
#include "deploy/image/image_unpacker.h"
#include "deploy/image/layer_extractor.h"

namespace tempa::deploy {

struct RegistryImageUnpackerOptions {
  // Created (0711) when missing; its images/ and tmp/ are made by the unpacker.
  std::string work_dir;
  // How to reach registries: `insecure` (plain HTTP beyond loopback), `credentials`, retries
  // (and the sleeper between them, which tests replace).
  registry::RegistryClientOptions registry;
  // Bounds on what one image may unpack to (defaults: 8 GiB of files, 1M entries).
  ExtractLimits limits;
  // Largest image config accepted.
  uint64_t max_config_bytes = 4 << 20;
  // Flush each unpacked image to disk (syncfs, on a background thread after it is published,
  // off the deploy's critical path) and mark it "synced"; an image without the mark that this
  // instance did not publish (a crash or power loss came first) is pulled again, so a rootfs
  // with files missing is never run. Off: no flush, no mark needed.
  bool sync = true;
  // The platform picked from an image index, and required of an image's config.
  Platform platform;
};

// Makes the work directory's layout and returns the unpacker. `transport` (common/registry's
// CurlHttpTransport in the deployer) must outlive it.
absl::StatusOr<std::unique_ptr<ImageUnpacker>> MakeRegistryImageUnpacker(
    RegistryImageUnpackerOptions options, registry::HttpTransport* transport);

}  // namespace tempa::deploy
