#include "common/registry/registry_json.h"

#include <cstdint>
#include <limits>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/status_macros.h"
#include "nlohmann/json.hpp"

namespace tempa::registry {
namespace {

using Json = nlohmann::json;

// Parses without exceptions; a discarded value (not JSON) comes back as null.
Json ParseJson(absl::string_view body) {
  Json json = Json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  return json.is_discarded() ? Json() : json;
}

// The member `key` of `object` when it is a string, else nullptr.
const std::string* StringField(const Json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return nullptr;
  return it->get_ptr<const std::string*>();
}

// At most `max` bytes of `text` on one line, control characters and non-ASCII bytes shown as '?'.
std::string Printable(absl::string_view text, size_t max) {
  std::string out;
  for (char c : text.substr(0, max)) {
    if (c == '\n' || c == '\r' || c == '\t') {
      out.push_back(' ');
    } else if (static_cast<unsigned char>(c) < 0x20 || static_cast<unsigned char>(c) >= 0x7f) {
      out.push_back('?');
    } else {
      out.push_back(c);
    }
  }
  return std::string(absl::StripAsciiWhitespace(out));
}

absl::StatusOr<oci::Descriptor> ParseDescriptor(const Json& json) {
  if (!json.is_object()) return absl::InvalidArgumentError("a descriptor is not a JSON object");
  const std::string* digest = StringField(json, "digest");
  if (digest == nullptr) return absl::InvalidArgumentError("a descriptor has no string \"digest\"");
  oci::Descriptor d;
  absl::StatusOr<Digest> parsed = Digest::Parse(*digest);
  if (!parsed.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("a descriptor's digest \"", Printable(*digest, 100), "\" is not sha256"));
  }
  d.digest = *parsed;
  auto size = json.find("size");
  if (size == json.end() || !size->is_number_integer()) {
    return absl::InvalidArgumentError(
        absl::StrCat("descriptor ", d.digest.ToString(), " has no integer \"size\""));
  }
  if (size->is_number_unsigned()) {
    uint64_t u = size->get<uint64_t>();
    if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      return absl::InvalidArgumentError(
          absl::StrCat("descriptor ", d.digest.ToString(), " has an impossible size"));
    }
    d.size = static_cast<int64_t>(u);
  } else {
    d.size = size->get<int64_t>();
  }
  if (d.size < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("descriptor ", d.digest.ToString(), " has a negative size"));
  }
  if (const std::string* type = StringField(json, "mediaType")) d.media_type = *type;
  return d;
}

absl::StatusOr<std::vector<oci::Descriptor>> ParseDescriptors(const Json& json, const char* key) {
  auto it = json.find(key);
  if (it == json.end() || !it->is_array()) {
    return absl::InvalidArgumentError(absl::StrCat("manifest has no \"", key, "\" array"));
  }
  if (it->size() > kMaxManifestEntries) {
    return absl::InvalidArgumentError(
        absl::StrCat("manifest lists ", it->size(), " ", key, "; more than ", kMaxManifestEntries));
  }
  std::vector<oci::Descriptor> out;
  for (const Json& entry : *it) {
    absl::StatusOr<oci::Descriptor> d = ParseDescriptor(entry);
    if (!d.ok()) return Annotate(d.status(), key);
    out.push_back(*std::move(d));
  }
  return out;
}

}  // namespace

std::string PrintableExcerpt(absl::string_view text, size_t max) { return Printable(text, max); }

std::string RegistryErrorText(absl::string_view body) {
  Json json = ParseJson(body);
  std::vector<std::string> parts;
  if (json.is_object()) {
    auto errors = json.find("errors");
    if (errors != json.end() && errors->is_array()) {
      for (const Json& e : *errors) {
        if (parts.size() >= 10) break;
        const std::string* code = StringField(e, "code");
        const std::string* message = StringField(e, "message");
        std::string c = code ? Printable(*code, 100) : "";
        std::string m = message ? Printable(*message, 300) : "";
        if (c.empty() && m.empty()) continue;
        parts.push_back(c.empty() || m.empty() ? c + m : absl::StrCat(c, ": ", m));
      }
    }
  }
  std::string text = parts.empty() ? Printable(body, 200) : absl::StrJoin(parts, "; ");
  if (text.size() > kMaxErrorTextBytes) text.resize(kMaxErrorTextBytes);
  return text;
}

absl::StatusOr<std::string> ParseTokenAnswer(absl::string_view body) {
  Json json = ParseJson(body);
  if (!json.is_object()) {
    // No excerpt: whatever the realm answered is not for the build log.
    return absl::InvalidArgumentError(
        "token endpoint answered something that is not a JSON object");
  }
  for (const char* key : {"token", "access_token"}) {
    const std::string* token = StringField(json, key);
    if (token != nullptr && !token->empty()) return *token;
  }
  return absl::InvalidArgumentError("token endpoint answer has no string \"token\"");
}

absl::StatusOr<ParsedManifest> ParseManifest(absl::string_view body) {
  Json json = ParseJson(body);
  if (!json.is_object()) return absl::InvalidArgumentError("manifest is not a JSON object");
  ParsedManifest out;
  if (const std::string* type = StringField(json, "mediaType")) out.media_type = *type;
  if (json.contains("manifests")) {
    out.is_index = true;
    ASSIGN_OR_RETURN(out.manifests, ParseDescriptors(json, "manifests"));
    return out;
  }
  auto config = json.find("config");
  if (config == json.end()) return absl::InvalidArgumentError("manifest has no \"config\"");
  absl::StatusOr<oci::Descriptor> d = ParseDescriptor(*config);
  if (!d.ok()) return Annotate(d.status(), "config");
  out.config = *std::move(d);
  ASSIGN_OR_RETURN(out.layers, ParseDescriptors(json, "layers"));
  return out;
}

std::string ManifestMediaType(absl::string_view body, absl::string_view fallback) {
  Json json = ParseJson(body);
  const std::string* type = StringField(json, "mediaType");
  return type != nullptr ? *type : std::string(fallback);
}

}  // namespace tempa::registry
