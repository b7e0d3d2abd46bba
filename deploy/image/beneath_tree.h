// The deployer's names for the beneath-a-descriptor tree helpers, which moved to
// common/oci/beneath_tree.h with the layer extractor (the worker unpacks layers too).
#pragma once

#include "common/oci/beneath_tree.h"

namespace tempa::deploy {

using oci::EmptyDirectory;
using oci::kMaxPathBytes;
using oci::kMaxPathDepth;
using oci::ListDirectory;
using oci::OpenDirBeneath;
using oci::RemoveBeneath;
using oci::SplitEntryPath;

}  // namespace tempa::deploy
