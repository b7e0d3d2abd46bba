// The deployer's names for the hostile-layer extractor, which moved to
// common/oci/layer_extractor.h (the worker unpacks a build's own layers with it too).
#pragma once

#include "common/oci/layer_extractor.h"
#include "deploy/image/beneath_tree.h"

namespace tempa::deploy {

using oci::ExtractLimits;
using oci::LayerExtractor;
using oci::SanitizedMode;

}  // namespace tempa::deploy
