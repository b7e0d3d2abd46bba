// A release's filesystem on this machine: the image pulled from the registry by digest and
// unpacked once into a root filesystem kept for rollbacks. Layers are hostile input: whiteouts
// honoured, every path confined to the rootfs (no "..", absolute paths or writes through
// symlinks), device nodes refused, setuid/setgid bits dropped, sizes bounded.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa::deploy {

// What the image's config says about running it.
struct ImageRunConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // "K=V" from the image
  std::string working_dir;       // "" : "/"
  std::string user;              // as in the config ("65534", "app", "1000:1000", "")
  int exposed_port = 0;          // first ExposedPorts entry, or PORT from env; 0 when none
};

struct UnpackedImage {
  std::string manifest_digest;  // "sha256:<hex>"
  std::string rootfs;           // absolute path; root-owned, not writable by others
  ImageRunConfig config;
};

class ImageUnpacker {
 public:
  virtual ~ImageUnpacker() = default;
  // Pulls (when not already unpacked) and unpacks `image` (HOST[:PORT]/REPO@sha256:<hex>).
  // Concurrent calls for the same image wait for one unpack; a call for an image already
  // unpacked returns at once, without the network. Errors name the image (and the layer):
  // InvalidArgument for a reference without a digest or a hostile/malformed layer, DataLoss
  // when what the registry served does not match its digest or diff_id, Unavailable when the
  // registry cannot be reached, NotFound when it does not have the image, ResourceExhausted
  // past a size/entry limit, FailedPrecondition for an image of another platform.
  virtual absl::StatusOr<UnpackedImage> Unpack(absl::string_view image) = 0;
  // Removes unpacked images whose manifest digest ("sha256:<hex>", as in UnpackedImage) is not
  // in `keep`, never following a link inside them. Their rootfs paths must not be in use.
  virtual absl::Status Prune(const std::vector<std::string>& keep) = 0;
};

}  // namespace tempa::deploy
