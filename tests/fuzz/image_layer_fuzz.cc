// libFuzzer target for the unpacker's parsers of untrusted input: the input is applied as an
// image layer (any bytes: tar, gzip, zstd or garbage) onto a fresh rootfs, and read as an image
// index. LayerExtractor must answer with a status, never crash, and never write outside the
// rootfs: its parent directory must hold the rootfs and nothing else afterwards. A second
// layer (after "\n%%\n") is applied on top, so whiteouts and links across layers are reached.
// Built by tests/fuzz/CMakeLists.txt (tempa_fuzzer(image_layer_fuzz ...)).
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "common/beneath.h"
#include "deploy/image/beneath_tree.h"
#include "deploy/image/image_manifest.h"
#include "deploy/image/layer_extractor.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace deploy = tempa::deploy;
  using tempa::fuzz::Check;
  static const std::string dir = tempa::fuzz::ScratchDir();
  static const std::string parent = dir + "/parent";
  ::mkdir(parent.c_str(), 0700);
  tempa::UniqueFd parent_fd(::open(parent.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  Check(parent_fd.valid(), "open parent");
  Check(::mkdirat(parent_fd.get(), "rootfs", 0755) == 0, "mkdir rootfs");
  {
    absl::StatusOr<tempa::UniqueFd> rootfs = tempa::OpenRootDirectory(parent + "/rootfs");
    Check(rootfs.ok(), "open rootfs");
    deploy::ExtractLimits limits;
    limits.max_total_bytes = 1 << 20;
    limits.max_entries = 2000;
    deploy::LayerExtractor extractor(rootfs->get(), parent + "/rootfs", limits,
                                     /*apply_owners=*/false);
    int n = 0;
    for (std::string_view layer : tempa::fuzz::SplitParts(data, size, 2)) {
      std::string path = dir + "/layer" + std::to_string(n++);
      tempa::fuzz::WriteFile(path, layer);
      if (!extractor.Apply(path, "fuzz layer").ok()) break;
    }
  }
  absl::StatusOr<std::vector<std::string>> names = deploy::ListDirectory(parent_fd.get(), parent);
  Check(names.ok() && names->size() == 1 && (*names)[0] == "rootfs", "wrote outside the rootfs");
  Check(deploy::RemoveBeneath(parent_fd.get(), "rootfs", parent + "/rootfs").ok(), "remove rootfs");
  deploy::PickPlatform(absl::string_view(reinterpret_cast<const char*>(data), size), {})
      .IgnoreError();
  return 0;
}
