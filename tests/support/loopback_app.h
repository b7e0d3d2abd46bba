// Runs a built app binary on this host and talks plain HTTP/1.0 to it on loopback, for the
// buildpack integration tests: the app gets PORT=<a free port> and nothing else in its
// environment, the one thing the image's config promises it.
#pragma once

#include <string>

#include "absl/status/statusor.h"

namespace tempa::testing {

// One GET of http://127.0.0.1:`port``path`: the raw response (status line, headers, body); ""
// when nothing answers.
std::string HttpGet(int port, const std::string& path);

// What an app answered.
struct AppAnswers {
  std::string root;    // GET /
  std::string health;  // GET /healthz
};

// Starts `binary` with only PORT set, GETs / (retrying while the app starts, about 5 s), then
// /healthz, and stops it (SIGTERM). An error only when the binary cannot be started.
absl::StatusOr<AppAnswers> RunAppAndGet(const std::string& binary);

}  // namespace tempa::testing
