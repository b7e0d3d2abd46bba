#include "common/registry/url_origin.h"

#include <curl/curl.h>

#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"

namespace tempa::registry {
namespace {

struct UrlDeleter {
  void operator()(CURLU* u) const { curl_url_cleanup(u); }
};
using UrlHandle = std::unique_ptr<CURLU, UrlDeleter>;

// Reads one part of a parsed URL; "" when it has none.
std::string Part(CURLU* url, CURLUPart part, unsigned int flags = 0) {
  char* value = nullptr;
  if (curl_url_get(url, part, &value, flags) != CURLUE_OK || value == nullptr) return "";
  std::string out(value);
  curl_free(value);
  return out;
}

absl::Status BadUrl(absl::string_view url, absl::string_view why) {
  // The URL came from a registry: show a bounded excerpt only.
  return absl::InvalidArgumentError(
      absl::StrCat("URL \"", absl::CHexEscape(url.substr(0, 200)), "\" ", why));
}

absl::StatusOr<UrlHandle> Parse(absl::string_view url) {
  UrlHandle handle(curl_url());
  if (!handle) return absl::ResourceExhaustedError("curl_url failed");
  if (curl_url_set(handle.get(), CURLUPART_URL, std::string(url).c_str(), 0) != CURLUE_OK) {
    return BadUrl(url, "is not an absolute URL");
  }
  return handle;
}

absl::StatusOr<UrlOrigin> OriginOfParsed(CURLU* url, absl::string_view text) {
  UrlOrigin origin;
  origin.scheme = absl::AsciiStrToLower(Part(url, CURLUPART_SCHEME));
  if (origin.scheme != "http" && origin.scheme != "https") {
    return BadUrl(text, "is not http or https");
  }
  origin.host = absl::AsciiStrToLower(Part(url, CURLUPART_HOST));
  if (origin.host.empty()) return BadUrl(text, "has no host");
  if (!absl::SimpleAtoi(Part(url, CURLUPART_PORT, CURLU_DEFAULT_PORT), &origin.port)) {
    return BadUrl(text, "has no usable port");
  }
  return origin;
}

}  // namespace

std::string UrlOrigin::ToString() const { return absl::StrCat(scheme, "://", host, ":", port); }

absl::StatusOr<UrlOrigin> OriginOf(absl::string_view url) {
  absl::StatusOr<UrlHandle> handle = Parse(url);
  if (!handle.ok()) return handle.status();
  return OriginOfParsed(handle->get(), url);
}

absl::StatusOr<std::string> ResolveUrl(absl::string_view base, absl::string_view reference) {
  absl::StatusOr<UrlHandle> handle = Parse(base);
  if (!handle.ok()) return handle.status();
  // Setting a URL on a handle that holds one resolves it as a relative reference (RFC 3986).
  if (curl_url_set(handle->get(), CURLUPART_URL, std::string(reference).c_str(), 0) != CURLUE_OK) {
    return BadUrl(reference, "cannot be resolved");
  }
  absl::StatusOr<UrlOrigin> origin = OriginOfParsed(handle->get(), reference);
  if (!origin.ok()) return origin.status();
  return Part(handle->get(), CURLUPART_URL);
}

bool SameOrigin(absl::string_view a, absl::string_view b) {
  absl::StatusOr<UrlOrigin> x = OriginOf(a);
  absl::StatusOr<UrlOrigin> y = OriginOf(b);
  return x.ok() && y.ok() && *x == *y;
}

}  // namespace tempa::registry
