// Image references come from flags and, through the worker, from webhook payloads and tempa.toml
// run images. Parse must refuse or accept without crashing, and what it accepts must print back
// to a reference that parses to the same parts.
#include <cstddef>
#include <cstdint>

#include "absl/strings/string_view.h"
#include "common/registry/image_reference.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using tempa::registry::ImageReference;
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  tempa::registry::IsLoopbackHost(text);
  absl::StatusOr<ImageReference> ref = ImageReference::Parse(text);
  if (!ref.ok()) return 0;
  absl::StatusOr<ImageReference> again = ImageReference::Parse(ref->ToString());
  tempa::fuzz::Check(again.ok(), "an accepted reference's ToString() does not parse");
  tempa::fuzz::Check(again->registry() == ref->registry() &&
                         again->repository() == ref->repository() && again->tag() == ref->tag() &&
                         again->reference() == ref->reference(),
                     "an accepted reference does not survive ToString() and Parse()");
  if (ref->digest()) ref->WithDigest(*ref->digest());
  return 0;
}
