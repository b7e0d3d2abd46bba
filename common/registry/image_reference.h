// Image references as the CLI and the worker write them: HOST[:PORT]/NAME[:TAG] or
// HOST[:PORT]/NAME@sha256:... . The registry host is always explicit (no Docker Hub default), so
// a push can never land somewhere the user did not name.
#pragma once

#include <optional>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "common/digest.h"

namespace tempa::registry {

// True for "localhost", 127.0.0.0/8 and [::1], with or without ":port". Loopback registries are
// spoken to over plain HTTP.
bool IsLoopbackHost(absl::string_view host_port);

class ImageReference {
 public:
  // Parses and validates (distribution spec grammar for names, tags and digests). Errors are
  // InvalidArgument and quote the input with an example of the expected form.
  static absl::StatusOr<ImageReference> Parse(absl::string_view text);

  // "127.0.0.1:5000", "registry.example.com", "[::1]:5000".
  const std::string& registry() const { return registry_; }
  // "app", "team/app".
  const std::string& repository() const { return repository_; }
  // The tag; "latest" when neither tag nor digest was given, empty when only a digest was.
  const std::string& tag() const { return tag_; }
  const std::optional<Digest>& digest() const { return digest_; }

  // What goes after /manifests/: the digest when given, else the tag.
  std::string reference() const { return digest_ ? digest_->ToString() : tag_; }
  bool IsLoopback() const { return IsLoopbackHost(registry_); }
  // "host/name@sha256:..." — the immutable name of a pushed image.
  std::string WithDigest(const Digest& digest) const;
  // Canonical text: host/name[:tag][@digest].
  std::string ToString() const;

 private:
  std::string registry_;
  std::string repository_;
  std::string tag_;
  std::optional<Digest> digest_;
};

}  // namespace tempa::registry
