#include "common/registry/registry_client.h"

#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "common/oci/descriptor.h"
#include "common/registry/image_reference.h"
#include "common/registry/registry_json.h"
#include "common/registry/url_origin.h"
#include "common/status_macros.h"

namespace tempa::registry {
namespace {

absl::StatusCode CodeForHttp(int status) {
  switch (status) {
    case 400:
      return absl::StatusCode::kInvalidArgument;
    case 401:
      return absl::StatusCode::kUnauthenticated;
    case 403:
      return absl::StatusCode::kPermissionDenied;
    case 404:
      return absl::StatusCode::kNotFound;
    case 409:
      return absl::StatusCode::kAlreadyExists;
    case 412:
      return absl::StatusCode::kFailedPrecondition;
    case 416:
      return absl::StatusCode::kOutOfRange;
    case 429:
      return absl::StatusCode::kResourceExhausted;
    default:
      return status >= 500 ? absl::StatusCode::kUnavailable : absl::StatusCode::kUnknown;
  }
}

// Path and query of a URL, for error messages ("/v2/app/blobs/uploads/").
std::string PathOf(absl::string_view url) {
  size_t scheme = url.find("://");
  size_t slash = url.find('/', scheme == absl::string_view::npos ? 0 : scheme + 3);
  if (slash == absl::string_view::npos) return "/";
  absl::string_view path = url.substr(slash);
  return std::string(path.substr(0, path.find('?')));
}

// Public registries known to serve their token realm from another host of their own.
bool KnownTokenService(absl::string_view registry_host, absl::string_view realm_host) {
  if (realm_host == "auth.docker.io") {
    return registry_host == "docker.io" || registry_host == "index.docker.io" ||
           registry_host == "registry-1.docker.io";
  }
  return realm_host == "gitlab.com" && registry_host == "registry.gitlab.com";
}

}  // namespace

std::string AppendQuery(absl::string_view url, absl::string_view key, absl::string_view value) {
  char sep = url.find('?') == absl::string_view::npos ? '?' : '&';
  return absl::StrCat(url, std::string(1, sep), key, "=", UrlEncode(value));
}

RegistryClient::RegistryClient(std::string host, HttpTransport* transport,
                               RegistryClientOptions options)
    : host_(std::move(host)),
      options_(std::move(options)),
      counting_(transport),
      retrying_(&counting_, options_.retry, options_.sleeper) {
  bool plain = IsLoopbackHost(host_) || options_.insecure;
  base_url_ = absl::StrCat(plain ? "http://" : "https://", host_);
}

std::string RegistryClient::Url(absl::string_view repo, absl::string_view kind,
                                absl::string_view rest) const {
  return absl::StrCat(base_url_, "/v2/", repo, "/", kind, "/", rest);
}

absl::StatusOr<std::string> RegistryClient::ResolveLocation(absl::string_view location) const {
  if (location.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("registry ", host_, " opened an upload without a Location header"));
  }
  absl::StatusOr<std::string> url = ResolveUrl(base_url_, location);
  if (!url.ok()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "registry ", host_, " answered an unusable Location: ", url.status().message()));
  }
  // An upload location is a redirect by another name: the same rules, so a remote registry
  // cannot aim our uploads at this machine's own services or off https.
  absl::StatusOr<UrlOrigin> from = OriginOf(base_url_);
  absl::StatusOr<UrlOrigin> to = OriginOf(*url);
  if (!from.ok() || !to.ok()) {
    return absl::InvalidArgumentError(
        absl::StrCat("registry ", host_, " answered an unusable upload Location"));
  }
  if (IsLoopbackHost(to->host) && !IsLoopbackHost(from->host)) {
    return absl::PermissionDeniedError(
        absl::StrCat("registry ", host_, " named an upload location on loopback (", to->ToString(),
                     "); refused, nothing was sent there"));
  }
  if (from->scheme == "https" && to->scheme != "https") {
    return absl::PermissionDeniedError(
        absl::StrCat("registry ", host_, " named an upload location on plain http (",
                     to->ToString(), "); refused, nothing was sent there"));
  }
  return url;
}

absl::Status RegistryClient::ErrorFor(const HttpRequest& request,
                                      const HttpResponse& response) const {
  std::string text = RegistryErrorText(response.body);
  return absl::Status(
      CodeForHttp(response.status),
      absl::StrCat("registry ", host_, " answered ", response.status, " to ", request.method, " ",
                   PrintableExcerpt(PathOf(request.url)), text.empty() ? "" : ": ", text));
}

absl::StatusOr<HttpResponse> RegistryClient::Send(const HttpRequest& request) {
  absl::StatusOr<HttpResponse> response = retrying_.Send(request);
  // Unavailable already names the host; a body cut off or a redirect refused gets the registry.
  if (!response.ok() && !absl::IsUnavailable(response.status())) {
    return Annotate(response.status(), absl::StrCat("registry ", host_));
  }
  return response;
}

absl::StatusOr<bool> RegistryClient::RealmGetsCredentials(absl::string_view realm) const {
  absl::StatusOr<UrlOrigin> origin = OriginOf(realm);
  if (!origin.ok()) {
    return absl::PermissionDeniedError(absl::StrCat(
        "registry ", host_, " sent an unusable token realm: ", origin.status().message()));
  }
  absl::StatusOr<UrlOrigin> own = OriginOf(base_url_);
  const bool same_host = own.ok() && own->host == origin->host;
  if (IsLoopbackHost(origin->host) && !IsLoopbackHost(host_)) {
    // A remote registry must not make us call services that listen on our own loopback.
    return absl::PermissionDeniedError(absl::StrCat("registry ", host_,
                                                    " sent a token realm on loopback (",
                                                    origin->ToString(), "); nothing was sent"));
  }
  if (origin->scheme != "https" && !IsLoopbackHost(origin->host) &&
      !(same_host && options_.insecure)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "registry ", host_, " sent a token realm on plain http (", origin->ToString(),
        "); tokens are fetched only over https, except on loopback; nothing was sent"));
  }
  if (!options_.credentials) return false;
  if (same_host || KnownTokenService(own.ok() ? own->host : "", origin->host)) return true;
  for (const std::string& trusted : options_.token_hosts) {
    if (absl::AsciiStrToLower(trusted) == origin->host) return true;
  }
  return absl::PermissionDeniedError(absl::StrCat(
      "registry ", host_, " sent a token realm on another host (", origin->host,
      "); Tempa sends the registry's credentials only to ", host_,
      " itself, so nothing was sent. If that host is the registry's token service, list it in "
      "the registry's trusted token hosts"));
}

void RegistryClient::Backoff(int attempt) {
  absl::Duration delay = BackoffFor(options_.retry, attempt);
  if (options_.sleeper) {
    options_.sleeper(delay);
  } else {
    absl::SleepFor(delay);
  }
}

std::optional<std::string> RegistryClient::CachedAuthorization(const Call& call) {
  absl::MutexLock lock(&mu_);
  if (use_basic_ && options_.credentials) return BasicAuthorization(*options_.credentials);
  auto it = tokens_.find(absl::StrJoin(RepositoryScopes(call.repos, call.actions), " "));
  if (it != tokens_.end()) return absl::StrCat("Bearer ", it->second);
  return std::nullopt;
}

absl::Status RegistryClient::Authenticate(const Call& call, const HttpResponse& unauthorized) {
  std::optional<AuthChallenge> challenge =
      ParseWwwAuthenticate(unauthorized.Header("www-authenticate"));
  if (!challenge) {
    return absl::UnauthenticatedError(
        absl::StrCat("registry ", host_,
                     " answered 401 without a usable WWW-Authenticate "
                     "challenge (\"",
                     PrintableExcerpt(unauthorized.Header("www-authenticate")), "\")"));
  }
  if (challenge->scheme == "basic") {
    if (!options_.credentials) {
      return absl::UnauthenticatedError(
          absl::StrCat("registry ", host_, " requires a username and password (Basic auth)"));
    }
    absl::MutexLock lock(&mu_);
    use_basic_ = true;
    return absl::OkStatus();
  }
  // Bearer: GET realm?service=...&scope=... (Basic credentials when we have them).
  auto realm = challenge->params.find("realm");
  if (realm == challenge->params.end() || realm->second.empty()) {
    return absl::UnauthenticatedError(
        absl::StrCat("registry ", host_, " sent a Bearer challenge without a realm"));
  }
  std::vector<std::string> scopes = RepositoryScopes(call.repos, call.actions);
  std::string key = absl::StrJoin(scopes, " ");
  auto asked = challenge->params.find("scope");
  if (asked != challenge->params.end() && !asked->second.empty() && asked->second != key) {
    scopes.push_back(asked->second);
  }
  HttpRequest token_request;
  token_request.url = realm->second;
  if (auto service = challenge->params.find("service"); service != challenge->params.end()) {
    token_request.url = AppendQuery(token_request.url, "service", service->second);
  }
  for (const std::string& scope : scopes) {
    token_request.url = AppendQuery(token_request.url, "scope", scope);
  }
  ASSIGN_OR_RETURN(bool send_credentials, RealmGetsCredentials(realm->second));
  if (send_credentials) {
    token_request.headers.emplace_back("Authorization", BasicAuthorization(*options_.credentials));
  }
  absl::StatusOr<HttpResponse> answer = Send(token_request);
  if (!answer.ok()) return Annotate(answer.status(), "fetch registry token");
  if (answer->status != 200) {
    absl::Status error = ErrorFor(token_request, *answer);
    return absl::Status(error.code(),
                        absl::StrCat("fetch registry token from ", PrintableExcerpt(realm->second),
                                     ": ", error.message()));
  }
  absl::StatusOr<std::string> token = ParseTokenAnswer(answer->body);
  if (!token.ok()) {
    return Annotate(token.status(), absl::StrCat("fetch registry token for ", host_));
  }
  absl::MutexLock lock(&mu_);
  tokens_[key] = *std::move(token);
  return absl::OkStatus();
}

absl::StatusOr<HttpResponse> RegistryClient::SendAuthorized(const Call& call) {
  HttpRequest request = call.request;
  // Credentials go to the registry's own origin only, never to a URL it named elsewhere.
  if (!SameOrigin(request.url, base_url_)) return Send(request);
  std::optional<std::string> auth = CachedAuthorization(call);
  if (auth) request.headers.emplace_back("Authorization", *auth);
  ASSIGN_OR_RETURN(HttpResponse response, Send(request));
  if (response.status != 401) return response;
  RETURN_IF_ERROR(Authenticate(call, response));
  std::optional<std::string> fresh = CachedAuthorization(call);
  if (!fresh) return response;
  if (request.rewind_sink && !request.rewind_sink()) return response;
  request = call.request;
  request.headers.emplace_back("Authorization", *fresh);
  ASSIGN_OR_RETURN(response, Send(request));
  if (response.status == 401) {
    absl::Status error = ErrorFor(request, response);
    return absl::UnauthenticatedError(
        absl::StrCat(error.message(), " (credentials or token rejected)"));
  }
  return response;
}

absl::StatusOr<HttpResponse> RegistryClient::Do(Call call) {
  ASSIGN_OR_RETURN(HttpResponse response, SendAuthorized(call));
  if (!RetryableStatus(response.status)) return response;
  return absl::UnavailableError(absl::StrCat(
      ErrorFor(call.request, response).message(),
      response.attempts > 1 ? absl::StrCat(" (gave up after ", response.attempts, " attempts)")
                            : ""));
}

absl::Status RegistryClient::CheckReachable(absl::string_view repo) {
  Call call;
  call.request.method = "GET";
  call.request.url = base_url_ + "/v2/";
  call.repos = {std::string(repo)};
  call.actions = "pull,push";
  HttpRequest request = call.request;
  ASSIGN_OR_RETURN(HttpResponse response, Do(std::move(call)));
  if (response.status == 200) return absl::OkStatus();
  return ErrorFor(request, response);
}

absl::StatusOr<bool> RegistryClient::BlobExists(absl::string_view repo, const Digest& digest) {
  Call call;
  call.request.method = "HEAD";
  call.request.url = Url(repo, "blobs", digest.ToString());
  call.request.follow_redirects = true;
  call.repos = {std::string(repo)};
  call.actions = "pull,push";  // the pusher's question; one token serves HEAD and upload
  ASSIGN_OR_RETURN(HttpResponse response, Do(std::move(call)));
  if (response.status == 200) return true;
  if (response.status == 404) return false;
  HttpRequest request{.method = "HEAD", .url = Url(repo, "blobs", digest.ToString())};
  return ErrorFor(request, response);
}

absl::StatusOr<Digest> RegistryClient::PutManifest(absl::string_view repo,
                                                   absl::string_view reference,
                                                   absl::string_view media_type,
                                                   absl::string_view manifest) {
  Call call;
  call.request.method = "PUT";
  call.request.url = Url(repo, "manifests", reference);
  call.request.headers = {{"Content-Type", std::string(media_type)}};
  call.request.body = std::string(manifest);
  call.repos = {std::string(repo)};
  call.actions = "pull,push";
  HttpRequest request = call.request;
  ASSIGN_OR_RETURN(HttpResponse response, Do(std::move(call)));
  if (response.status != 201 && response.status != 200) return ErrorFor(request, response);
  Digest ours = Sha256Of(manifest);
  std::string reported = response.Header("docker-content-digest");
  if (!reported.empty() && reported != ours.ToString()) {
    return absl::DataLossError(absl::StrCat("registry ", host_, " reports manifest digest ",
                                            PrintableExcerpt(reported, 100), " but we sent ",
                                            ours.ToString()));
  }
  return ours;
}

absl::StatusOr<FetchedManifest> RegistryClient::GetManifest(absl::string_view repo,
                                                            absl::string_view reference) {
  Call call;
  call.request.url = Url(repo, "manifests", reference);
  call.request.headers = {
      {"Accept", absl::StrJoin({oci::kMediaTypeManifest, oci::kMediaTypeIndex,
                                oci::kMediaTypeDockerManifest, oci::kMediaTypeDockerManifestList},
                               ", ")}};
  call.request.follow_redirects = true;
  // Bounded while reading: a hostile registry's endless manifest stops at 4 MiB.
  call.request.max_body_bytes = kMaxManifestBytes;
  call.repos = {std::string(repo)};
  HttpRequest request = call.request;
  absl::StatusOr<HttpResponse> answer = Do(std::move(call));
  if (absl::IsOutOfRange(answer.status())) {
    return absl::OutOfRangeError(absl::StrCat("registry ", host_,
                                              " answered a manifest larger than 4 MiB for ", repo,
                                              ":", reference, " (stopped reading)"));
  }
  if (!answer.ok()) return answer.status();
  HttpResponse& response = *answer;
  if (response.status != 200) return ErrorFor(request, response);
  FetchedManifest out;
  out.digest = Sha256Of(response.body);
  out.body = std::move(response.body);
  std::string type = response.Header("content-type");
  out.media_type = std::string(absl::StripAsciiWhitespace(type.substr(0, type.find(';'))));
  std::string reported = response.Header("docker-content-digest");
  auto want = Digest::Parse(reference);
  if ((want.ok() && *want != out.digest) ||
      (!reported.empty() && reported != out.digest.ToString())) {
    return absl::DataLossError(absl::StrCat("manifest ", repo, "@", reference, " from ", host_,
                                            " hashes to ", out.digest.ToString()));
  }
  return out;
}

}  // namespace tempa::registry
