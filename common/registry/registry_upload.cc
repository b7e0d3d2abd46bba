// RegistryClient's blob upload half: sessions, cross-repo mount, monolithic PUT and resumable
// chunked PATCH uploads.
#include <algorithm>
#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "common/registry/registry_client.h"
#include "common/registry/registry_json.h"
#include "common/status_macros.h"

namespace tempa::registry {
namespace {

// Range: "0-<last byte>" → bytes the registry holds. Distribution answers "0-0" for an empty
// session, so that reads as 0 (a 1-byte chunk gets re-sent and answered with 416, then restarted).
std::optional<uint64_t> ParseRangeEnd(absl::string_view range) {
  if (range.empty()) return std::nullopt;
  if (absl::StartsWith(range, "bytes=")) range.remove_prefix(6);
  size_t dash = range.find('-');
  uint64_t first = 0, last = 0;
  if (dash == absl::string_view::npos || !absl::SimpleAtoi(range.substr(0, dash), &first) ||
      !absl::SimpleAtoi(range.substr(dash + 1), &last) || first != 0) {
    return std::nullopt;
  }
  return last == 0 ? 0 : last + 1;
}

}  // namespace

absl::StatusOr<std::string> RegistryClient::StartUpload(absl::string_view repo) {
  Call call;
  call.request.method = "POST";
  call.request.url = Url(repo, "blobs", "uploads/");
  call.repos = {std::string(repo)};
  call.actions = "pull,push";
  HttpRequest request = call.request;
  ASSIGN_OR_RETURN(HttpResponse response, Do(std::move(call)));
  if (response.status != 202) return ErrorFor(request, response);
  return ResolveLocation(response.Header("location"));
}

absl::StatusOr<MountResult> RegistryClient::MountBlob(absl::string_view repo, const Digest& digest,
                                                      absl::string_view from_repo) {
  Call call;
  call.request.method = "POST";
  call.request.url = AppendQuery(
      AppendQuery(Url(repo, "blobs", "uploads/"), "mount", digest.ToString()), "from", from_repo);
  call.repos = {std::string(repo), std::string(from_repo)};
  call.actions = "pull,push";
  HttpRequest request = call.request;
  ASSIGN_OR_RETURN(HttpResponse response, Do(std::move(call)));
  MountResult result;
  if (response.status == 201) {
    result.mounted = true;
    return result;
  }
  if (response.status == 202) {
    ASSIGN_OR_RETURN(result.upload_location, ResolveLocation(response.Header("location")));
    return result;
  }
  return Annotate(ErrorFor(request, response),
                  absl::StrCat("mount ", digest.ToString(), " from ", from_repo));
}

absl::Status RegistryClient::PushBlob(absl::string_view repo, const Digest& digest, uint64_t size,
                                      const std::string& path,
                                      std::optional<std::string> upload_location) {
  if (upload_location && upload_location->empty()) upload_location.reset();
  absl::Status status = size <= options_.monolithic_limit
                            ? PushMonolithic(repo, digest, size, path, upload_location)
                            : PushChunked(repo, digest, size, path, upload_location);
  return Annotate(status, absl::StrCat("push blob ", digest.ToString(), " to ", host_, "/", repo));
}

absl::Status RegistryClient::FinishUpload(absl::string_view repo, const Digest& digest,
                                          const std::string& location,
                                          std::optional<FileRange> body) {
  Call call;
  call.request.method = "PUT";
  call.request.url = AppendQuery(location, "digest", digest.ToString());
  call.request.headers = {{"Content-Type", "application/octet-stream"}};
  call.request.body_file = std::move(body);
  call.repos = {std::string(repo)};
  call.actions = "pull,push";
  // A failed PUT may have consumed the session; the caller restarts instead of repeating it.
  call.request.retryable = false;
  HttpRequest request = call.request;
  ASSIGN_OR_RETURN(HttpResponse response, Do(std::move(call)));
  if (response.status >= 500 || response.status == 429) {
    return absl::UnavailableError(ErrorFor(request, response).message());
  }
  if (response.status != 201 && response.status != 204) return ErrorFor(request, response);
  std::string reported = response.Header("docker-content-digest");
  if (!reported.empty() && reported != digest.ToString()) {
    return absl::DataLossError(
        absl::StrCat("registry stored the upload as ", PrintableExcerpt(reported, 100)));
  }
  return absl::OkStatus();
}

absl::Status RegistryClient::PushMonolithic(absl::string_view repo, const Digest& digest,
                                            uint64_t size, const std::string& path,
                                            std::optional<std::string> location) {
  // Retry the POST + PUT pair: after a failed PUT the old session cannot be trusted.
  for (int attempt = 1;; ++attempt) {
    if (!location) {
      ASSIGN_OR_RETURN(location, StartUpload(repo));
    }
    absl::Status status = FinishUpload(repo, digest, *location, FileRange{path, 0, size});
    if (!absl::IsUnavailable(status) || attempt >= options_.retry.max_attempts) {
      if (absl::IsUnavailable(status) && attempt > 1) {
        return absl::UnavailableError(
            absl::StrCat(status.message(), " (gave up after ", attempt, " attempts)"));
      }
      return status;
    }
    location.reset();
    Backoff(attempt);
  }
}

absl::Status RegistryClient::PushChunked(absl::string_view repo, const Digest& digest,
                                         uint64_t size, const std::string& path,
                                         std::optional<std::string> location) {
  if (!location) {
    ASSIGN_OR_RETURN(location, StartUpload(repo));
  }
  uint64_t offset = 0;
  int failures = 0;
  absl::Status last_failure;
  while (offset < size) {
    uint64_t n = std::min<uint64_t>(std::max<uint64_t>(options_.chunk_size, 1), size - offset);
    Call call;
    call.request.method = "PATCH";
    call.request.url = *location;
    call.request.headers = {{"Content-Type", "application/octet-stream"},
                            {"Content-Range", absl::StrCat(offset, "-", offset + n - 1)}};
    call.request.body_file = FileRange{path, offset, n};
    call.repos = {std::string(repo)};
    call.actions = "pull,push";
    call.request.retryable =
        false;  // a failed chunk is resumed from the registry's Range, not resent blind
    HttpRequest request = call.request;
    absl::StatusOr<HttpResponse> response = Do(std::move(call));
    if (response.ok() && response->status == 202) {
      ASSIGN_OR_RETURN(location, ResolveLocation(response->Header("location")));
      uint64_t next = ParseRangeEnd(response->Header("range")).value_or(offset + n);
      if (next > size) {
        return absl::DataLossError(absl::StrCat("registry ", host_, " reports holding ", next,
                                                " bytes of a ", size, "-byte upload"));
      }
      if (next > offset) {
        offset = next;
        continue;
      }
      // A registry that accepts chunks but never moves its Range would keep us sending forever.
      if (++failures >= options_.retry.max_attempts) {
        return absl::DataLossError(
            absl::StrCat("registry ", host_, " accepts chunks but reports no progress past ",
                         offset, " bytes (gave up after ", failures, " chunks)"));
      }
      continue;
    }
    bool retryable = response.ok() ? (response->status >= 500 || response->status == 429)
                                   : absl::IsUnavailable(response.status());
    if (!retryable) return response.ok() ? ErrorFor(request, *response) : response.status();
    last_failure = response.ok() ? ErrorFor(request, *response) : response.status();
    if (++failures >= options_.retry.max_attempts) {
      return absl::UnavailableError(
          absl::StrCat(last_failure.message(), " (gave up after ", failures, " failed chunks)"));
    }
    Backoff(failures);
    // Ask the registry how much it kept: GET <location> → 204 with Range: 0-<last>.
    Call status_call;
    status_call.request.url = *location;
    status_call.repos = {std::string(repo)};
    status_call.actions = "pull,push";
    HttpRequest status_request = status_call.request;
    ASSIGN_OR_RETURN(HttpResponse status, Do(std::move(status_call)));
    std::optional<uint64_t> kept = ParseRangeEnd(status.Header("range"));
    if ((status.status == 204 || status.status == 200) && kept && *kept <= size) {
      offset = *kept;
      if (!status.Header("location").empty()) {
        ASSIGN_OR_RETURN(location, ResolveLocation(status.Header("location")));
      }
    } else if (status.status == 404 || status.status == 400 || status.status == 204) {
      // The session is gone (distribution cancels one whose state no longer matches): restart.
      ASSIGN_OR_RETURN(location, StartUpload(repo));
      offset = 0;
    } else {
      return ErrorFor(status_request, status);
    }
  }
  return FinishUpload(repo, digest, *location, std::nullopt);
}

}  // namespace tempa::registry
