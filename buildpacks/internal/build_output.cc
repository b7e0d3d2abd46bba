#include "buildpacks/internal/build_output.h"

#include <utility>

#include "absl/strings/str_cat.h"
#include "common/beneath.h"
#include "common/build_error.h"
#include "common/status_macros.h"

namespace tempa::buildpacks::internal {
namespace {

absl::Status AsFailure(absl::Status status, absl::string_view step, absl::string_view what) {
  if (status.code() == absl::StatusCode::kInvalidArgument) {
    return WithFailure(
        absl::InvalidArgumentError(absl::StrCat(step, " left something other than a file as ", what,
                                                ": ", status.message())),
        {FailureKind::kBadInput, "build", ""});
  }
  if (status.code() == absl::StatusCode::kNotFound) {
    return WithFailure(absl::InternalError(absl::StrCat(step, " exited 0 but left no ", what, ": ",
                                                        status.message())),
                       {FailureKind::kInternal, "build", ""});
  }
  return WithFailure(Annotate(status, absl::StrCat(step, ": read ", what)),
                     {FailureKind::kInternal, "build", ""});
}

}  // namespace

oci::LayerEntry BuildOutputFile::AsLayerEntry(const std::string& image_path, uint32_t mode) const {
  oci::LayerEntry entry;
  entry.path = image_path;
  entry.type = oci::LayerEntry::Type::kFile;
  entry.mode = mode;
  entry.source_root = root;
  entry.source_path = relative;
  return entry;
}

absl::StatusOr<BuildOutputFile> TakeOutputFile(const std::string& root, const std::string& relative,
                                               absl::string_view step, absl::string_view what) {
  BuildOutputFile out{root, relative, {}, 0};
  absl::StatusOr<UniqueFd> fd = OpenRegularFileBeneath(root, relative);
  if (!fd.ok()) return AsFailure(fd.status(), step, what);
  absl::StatusOr<Digest> digest =
      Sha256OfFd(fd->get(), absl::StrCat(root, "/", relative), &out.size);
  if (!digest.ok()) return AsFailure(digest.status(), step, what);
  out.digest = *digest;
  return out;
}

absl::StatusOr<BuildOutputFile> CopyOutputFile(const std::string& root, const std::string& relative,
                                               const std::string& dest, uint32_t mode,
                                               absl::string_view step, absl::string_view what) {
  absl::StatusOr<UniqueFd> root_fd = OpenRootDirectory(root);
  if (!root_fd.ok()) return AsFailure(root_fd.status(), step, what);
  if (absl::Status s = CopyFileBeneath(root_fd->get(), relative, root, dest, mode); !s.ok()) {
    return AsFailure(s, step, what);
  }
  size_t slash = dest.rfind('/');
  std::string dir = slash == std::string::npos ? "." : dest.substr(0, slash);
  return TakeOutputFile(dir, dest.substr(slash + 1), step, what);
}

}  // namespace tempa::buildpacks::internal
