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
  // Concurrent calls for the same image wait for one unpack.
  virtual absl::StatusOr<UnpackedImage> Unpack(absl::string_view image) = 0;
  // Removes unpacked images whose manifest digest is not in `keep`.
  virtual absl::Status Prune(const std::vector<std::string>& keep) = 0;
};

}  // namespace tempa::deploy
