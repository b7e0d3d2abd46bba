// What registries answer is untrusted: error bodies, token answers, manifests and indexes,
// WWW-Authenticate challenges and redirect locations. The first byte picks the parser; each must
// refuse or accept without crashing or throwing, and keep the promises its header makes.
#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "common/registry/redirect_policy.h"
#include "common/registry/registry_auth.h"
#include "common/registry/registry_json.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

using namespace tempa::registry;  // NOLINT: every function here is the registry's

bool Printable(absl::string_view text) {
  for (char c : text) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return false;
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  const uint8_t which = data[0] % 5;
  absl::string_view body(reinterpret_cast<const char*>(data + 1), size - 1);
  switch (which) {
    case 0: {
      std::string text = RegistryErrorText(body);
      tempa::fuzz::Check(text.size() <= kMaxErrorTextBytes, "error text longer than its bound");
      tempa::fuzz::Check(Printable(text), "error text carries control characters");
      tempa::fuzz::Check(Printable(PrintableExcerpt(body)), "excerpt carries control characters");
      break;
    }
    case 1: {
      absl::StatusOr<std::string> token = ParseTokenAnswer(body);
      tempa::fuzz::Check(!token.ok() || !token->empty(), "an accepted token answer has no token");
      break;
    }
    case 2: {
      absl::StatusOr<ParsedManifest> manifest = ParseManifest(body);
      if (manifest.ok()) {
        tempa::fuzz::Check(manifest->layers.size() <= kMaxManifestEntries &&
                               manifest->manifests.size() <= kMaxManifestEntries,
                           "a manifest past the entry bound was accepted");
        for (const auto& layer : manifest->layers) {
          tempa::fuzz::Check(layer.size >= 0, "a layer with a negative size was accepted");
        }
      }
      ManifestMediaType(body, "fallback");
      break;
    }
    case 3:
      ParseWwwAuthenticate(body);
      break;
    case 4: {
      HttpRequest request;
      request.url = "https://registry.example.com/v2/app/blobs/sha256:0";
      request.headers = {{"Authorization", "Bearer secret"}};
      absl::StatusOr<HttpRequest> next = RedirectedRequest(request, body);
      if (next.ok()) {
        bool same_origin = next->url.rfind("https://registry.example.com/", 0) == 0;
        bool has_auth = false;
        for (const auto& [name, value] : next->headers) has_auth |= name == "Authorization";
        tempa::fuzz::Check(same_origin || !has_auth, "credentials followed a redirect elsewhere");
        tempa::fuzz::Check(next->url.rfind("https://", 0) == 0, "a redirect left https");
      }
      break;
    }
  }
  return 0;
}
