// Taking a file back from a finished build step. The step's writable mounts are the build's to
// fill, so the file is opened beneath the mounted directory without following any symlink: a
// link planted where the binary should be is a bad_input failure naming the path, never a read
// of a host file.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/digest.h"
#include "common/oci/layer_spec.h"

namespace tempa::buildpacks::internal {

struct BuildOutputFile {
  std::string root;      // the host directory the step had mounted
  std::string relative;  // the file, relative to it
  Digest digest;
  uint64_t size = 0;

  // A layer entry at `image_path` whose bytes are read beneath `root` again when written.
  oci::LayerEntry AsLayerEntry(const std::string& image_path, uint32_t mode) const;
};

// Opens and hashes the regular file `relative` beneath `root`. `what` says what the file is
// ("the binary go build left") for messages. A symlink or non-file there is a kBadInput build
// failure; a missing file is kInternal ("<step> exited 0 but left no <what>").
absl::StatusOr<BuildOutputFile> TakeOutputFile(const std::string& root, const std::string& relative,
                                               absl::string_view step, absl::string_view what);

// Copies that file to `dest` (a new file of Tempa's, mode `mode`) and hashes the copy, with the
// same failures. For outputs in a cache the next build overwrites (cargo's target/).
absl::StatusOr<BuildOutputFile> CopyOutputFile(const std::string& root, const std::string& relative,
                                               const std::string& dest, uint32_t mode,
                                               absl::string_view step, absl::string_view what);

}  // namespace tempa::buildpacks::internal
