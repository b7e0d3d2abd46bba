// The action cache: a build input key ("what went into this layer") → the layer it produced.
#pragma once

#include <optional>
#include "absl/strings/string_view.h"

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "common/oci/descriptor.h"

namespace tempa::cas {

class ActionCache {
 public:
  virtual ~ActionCache() = default;
  // The layer recorded under `key`, or nullopt. Callers still check the blob store holds the
  // blob, since eviction may have removed it.
  virtual absl::StatusOr<std::optional<oci::LayerRecord>> Get(absl::string_view key) = 0;
  // Records (or replaces) the layer for `key`; durable when it returns OK.
  virtual absl::Status Put(absl::string_view key, const oci::LayerRecord& layer) = 0;
};

}  // namespace tempa::cas
