#include "common/oci/oci_layout.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <sstream>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/digest.h"
#include "common/oci/image_model.h"
#include "common/posix_status.h"
#include "common/status_macros.h"

namespace tempa::oci {
namespace {

using json = nlohmann::json;
namespace fs = std::filesystem;

constexpr char kRefName[] = "org.opencontainers.image.ref.name";

// Writes `data` to `path` through a temp file and rename, so readers never see half a file.
absl::Status WriteFileAtomic(const std::string& path, absl::string_view data) {
  std::string tmp = absl::StrCat(path, ".tmp.", getpid());
  int fd = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return ErrnoStatus(errno, "create", tmp);
  while (!data.empty()) {
    ssize_t n = write(fd, data.data(), data.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      absl::Status status = ErrnoStatus(errno, "write", tmp);
      close(fd);
      unlink(tmp.c_str());
      return status;
    }
    data.remove_prefix(static_cast<size_t>(n));
  }
  if (close(fd) != 0 || rename(tmp.c_str(), path.c_str()) != 0) {
    absl::Status status = ErrnoStatus(errno, "write", path);
    unlink(tmp.c_str());
    return status;
  }
  return absl::OkStatus();
}

// Streams the blob from the store's file into the layout, hashing on the way: the export is
// what other tools will trust, so a corrupted store file must not leak into it.
absl::Status CopyBlob(cas::BlobStore& store, const Descriptor& blob, const std::string& blobs) {
  std::string dest = absl::StrCat(blobs, "/", blob.digest.hex());
  struct stat st;
  if (stat(dest.c_str(), &st) == 0 && st.st_size == blob.size) return absl::OkStatus();
  ASSIGN_OR_RETURN(std::string src, store.Path(blob.digest));
  int in = open(src.c_str(), O_RDONLY | O_CLOEXEC);
  if (in < 0) return ErrnoStatus(errno, "open", src);
  std::string tmp = absl::StrCat(dest, ".tmp.", getpid());
  int out = open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (out < 0) {
    absl::Status status = ErrnoStatus(errno, "create", tmp);
    close(in);
    return status;
  }
  auto fail = [&](absl::Status status) {
    close(in);
    close(out);
    unlink(tmp.c_str());
    return status;
  };
  Sha256 hash;
  std::vector<char> buffer(1 << 20);
  int64_t copied = 0;
  while (true) {
    ssize_t n = read(in, buffer.data(), buffer.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fail(ErrnoStatus(errno, "read", src));
    if (n == 0) break;
    hash.Update(buffer.data(), static_cast<size_t>(n));
    copied += n;
    for (ssize_t done = 0; done < n;) {
      ssize_t w = write(out, buffer.data() + done, static_cast<size_t>(n - done));
      if (w < 0 && errno == EINTR) continue;
      if (w < 0) return fail(ErrnoStatus(errno, "write", tmp));
      done += w;
    }
  }
  Digest got = hash.Finish();
  if (got != blob.digest || copied != blob.size) {
    return fail(absl::DataLossError(absl::StrCat("blob ", blob.digest.ToString(), " in the store (",
                                                 src, ") has digest ", got.ToString(), " and ",
                                                 copied, " bytes, expected ", blob.size)));
  }
  close(in);
  if (close(out) != 0 || rename(tmp.c_str(), dest.c_str()) != 0) {
    absl::Status status = ErrnoStatus(errno, "write", dest);
    unlink(tmp.c_str());
    return status;
  }
  return absl::OkStatus();
}

// index.json's manifests, minus any entry already naming `tag`.
absl::StatusOr<json> ExistingManifests(const std::string& index_path, const std::string& tag) {
  json kept = json::array();
  std::ifstream in(index_path);
  if (!in) return kept;
  std::stringstream text;
  text << in.rdbuf();
  json index = json::parse(text.str(), nullptr, /*allow_exceptions=*/false);
  if (index.is_discarded() || !index.is_object() || !index.contains("manifests") ||
      !index["manifests"].is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat(index_path, " exists but is not an OCI image index; refusing to overwrite"));
  }
  for (const json& m : index["manifests"]) {
    const json* annotations = m.contains("annotations") ? &m["annotations"] : nullptr;
    bool same_tag = annotations != nullptr && annotations->is_object() &&
                    annotations->contains(kRefName) && (*annotations)[kRefName] == tag;
    if (!same_tag) kept.push_back(m);
  }
  return kept;
}

}  // namespace

absl::Status WriteOciLayout(const std::string& dir, const std::string& tag, cas::BlobStore& store,
                            const Descriptor& manifest) {
  if (tag.empty()) return absl::InvalidArgumentError("OCI layout tag is empty");
  std::string context = absl::StrCat("export ", manifest.digest.ToString(), " to ", dir, ":", tag);
  std::string blobs = absl::StrCat(dir, "/blobs/sha256");
  std::error_code ec;
  fs::create_directories(blobs, ec);
  if (ec) {
    return absl::InternalError(absl::StrCat(context, ": create ", blobs, ": ", ec.message()));
  }

  absl::StatusOr<std::string> manifest_bytes = store.Read(manifest.digest);
  if (!manifest_bytes.ok()) return Annotate(manifest_bytes.status(), context);
  absl::StatusOr<Manifest> parsed = ParseManifest(*manifest_bytes);
  if (!parsed.ok()) return Annotate(parsed.status(), context);
  RETURN_IF_ERROR(Annotate(CopyBlob(store, parsed->config, blobs), context));
  for (const Descriptor& layer : parsed->layers) {
    RETURN_IF_ERROR(Annotate(CopyBlob(store, layer, blobs), context));
  }
  // The manifest last: a layout whose manifest is present has all its blobs.
  RETURN_IF_ERROR(Annotate(
      WriteFileAtomic(absl::StrCat(blobs, "/", manifest.digest.hex()), *manifest_bytes), context));
  RETURN_IF_ERROR(Annotate(
      WriteFileAtomic(absl::StrCat(dir, "/oci-layout"), R"({"imageLayoutVersion":"1.0.0"})"),
      context));

  std::string index_path = absl::StrCat(dir, "/index.json");
  absl::StatusOr<json> manifests = ExistingManifests(index_path, tag);
  if (!manifests.ok()) return Annotate(manifests.status(), context);
  json entry = {{"mediaType", parsed->media_type},
                {"digest", manifest.digest.ToString()},
                {"size", static_cast<int64_t>(manifest_bytes->size())},
                {"annotations", {{kRefName, tag}}}};
  manifests->push_back(entry);
  json index = {{"schemaVersion", 2}, {"mediaType", kMediaTypeIndex}, {"manifests", *manifests}};
  return Annotate(
      WriteFileAtomic(index_path, index.dump(-1, ' ', false, json::error_handler_t::replace)),
      context);
}

}  // namespace tempa::oci
