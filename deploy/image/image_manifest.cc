#include "deploy/image/image_manifest.h"

#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "nlohmann/json.hpp"

namespace tempa::deploy {
namespace {

using json = nlohmann::json;

const std::string* StringAt(const json& object, const char* key) {
  if (!object.is_object()) return nullptr;
  auto it = object.find(key);
  if (it == object.end() || !it->is_string()) return nullptr;
  return it->get_ptr<const std::string*>();
}

int PortOf(absl::string_view text) {
  int port = 0;
  if (!absl::SimpleAtoi(text, &port) || port <= 0 || port > 65535) return 0;
  return port;
}

}  // namespace

absl::StatusOr<oci::Descriptor> PickPlatform(absl::string_view index_json,
                                             const Platform& platform) {
  json index = json::parse(index_json.begin(), index_json.end(), nullptr,
                           /*allow_exceptions=*/false);
  if (!index.is_object() || !index.contains("manifests") || !index["manifests"].is_array()) {
    return absl::InvalidArgumentError("image index has no \"manifests\" array");
  }
  std::vector<std::string> seen;
  for (const json& entry : index["manifests"]) {
    if (!entry.is_object()) continue;
    auto platform_it = entry.find("platform");
    if (platform_it == entry.end()) continue;
    const std::string* os = StringAt(*platform_it, "os");
    const std::string* arch = StringAt(*platform_it, "architecture");
    const std::string* digest = StringAt(entry, "digest");
    const std::string* type = StringAt(entry, "mediaType");
    if (os == nullptr || arch == nullptr || digest == nullptr) continue;
    seen.push_back(absl::StrCat(*os, "/", *arch));
    if (*os != platform.os || *arch != platform.architecture) continue;
    auto size = entry.find("size");
    if (size == entry.end() || !size->is_number_integer() || size->get<int64_t>() < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat("image index entry for ", seen.back(), " has no valid \"size\""));
    }
    absl::StatusOr<Digest> d = Digest::Parse(*digest);
    if (!d.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("image index entry for ", seen.back(), ": ", d.status().message()));
    }
    oci::Descriptor out;
    out.media_type = type != nullptr ? *type : oci::kMediaTypeManifest;
    out.digest = *d;
    out.size = size->get<int64_t>();
    return out;
  }
  return absl::NotFoundError(absl::StrCat(
      "the image index has no manifest for ", platform.os, "/", platform.architecture, " (it has: ",
      seen.empty() ? "none" : absl::StrJoin(seen, ", "), "); build the image for this platform"));
}

ImageRunConfig RunConfigOf(const oci::ImageConfig& config) {
  ImageRunConfig out;
  out.entrypoint = config.entrypoint;
  out.cmd = config.cmd;
  out.env = config.env;
  out.working_dir = config.working_dir;
  out.user = config.user;
  for (const std::string& exposed : config.exposed_ports) {
    if (absl::EndsWith(exposed, "/udp")) continue;
    out.exposed_port = PortOf(exposed.substr(0, exposed.find('/')));
    if (out.exposed_port != 0) break;
  }
  if (out.exposed_port == 0) {
    for (const std::string& kv : config.env) {
      if (absl::StartsWith(kv, "PORT=")) out.exposed_port = PortOf(kv.substr(5));
    }
  }
  return out;
}

}  // namespace tempa::deploy
