#include "worker/git/transfer.h"

#include <utility>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "worker/git/known_hosts.h"
#include "worker/git/libgit2_util.h"

namespace tempa::worker {

TransferSession::TransferSession(const GitUrl& request_url, const GitAuth& auth, uint64_t max_bytes,
                                 std::function<bool()> cancelled)
    : request_url_(request_url),
      auth_(auth),
      max_bytes_(max_bytes),
      cancelled_(std::move(cancelled)) {}

bool TransferSession::Cancelled() const { return cancelled_ && cancelled_(); }

void TransferSession::AddReceived(uint64_t bytes, uint64_t objects) {
  received_bytes_ += bytes;
  received_objects_ += objects;
}

git_remote_callbacks TransferSession::Callbacks(const GitUrl& url) {
  current_ = url;
  secret_asks_ = 0;
  username_asks_ = 0;
  cancel_seen_ = false;
  over_budget_ = false;
  callback_error_ = absl::OkStatus();
  git_remote_callbacks callbacks = GIT_REMOTE_CALLBACKS_INIT;
  callbacks.credentials = &TransferSession::OnCredentials;
  callbacks.certificate_check = &TransferSession::OnCertificate;
  callbacks.transfer_progress = &TransferSession::OnTransfer;
  callbacks.sideband_progress = &TransferSession::OnSideband;
  callbacks.payload = this;
  return callbacks;
}

std::string TransferSession::Scrub(absl::string_view text) const {
  std::vector<std::pair<std::string, std::string>> secrets;
  for (const std::string* s :
       {&auth_.https_token, &auth_.ssh_private_key, &request_url_.password, &current_.password}) {
    if (s->size() >= 4) secrets.emplace_back(*s, "***");
  }
  // A token given as the user name of an http(s) URL (https://TOKEN@host/...).
  for (const GitUrl* u : {&request_url_, &current_}) {
    if (absl::StartsWith(u->scheme, "http") && u->password.empty() && u->user.size() >= 4) {
      secrets.emplace_back(u->user, "***");
    }
  }
  return absl::StrReplaceAll(text, secrets);
}

int TransferSession::OnCredentials(git_credential** out, const char* url,
                                   const char* username_from_url, unsigned int allowed_types,
                                   void* payload) {
  auto* self = static_cast<TransferSession*>(payload);
  const GitUrl& cur = self->current_;
  std::string where = cur.port.empty() ? cur.host : absl::StrCat(cur.host, ":", cur.port);
  // The URL libgit2 asks for may differ from the one we connected to (a redirect): credentials
  // belong to the request's own scheme, host and port.
  auto asked = ParseGitUrl(url != nullptr ? url : "");
  bool own_host = cur.scheme == self->request_url_.scheme && cur.host == self->request_url_.host &&
                  cur.port == self->request_url_.port && asked.ok() && asked->host == cur.host;
  std::string user = username_from_url != nullptr && *username_from_url != '\0'
                         ? username_from_url
                         : (cur.user.empty() ? "git" : cur.user);
  if (own_host && (allowed_types & GIT_CREDENTIAL_USERNAME) != 0 && self->username_asks_++ == 0) {
    return git_credential_username_new(out, user.c_str());
  }
  bool have_token = !self->auth_.https_token.empty();
  bool have_key = !self->auth_.ssh_private_key.empty();
  if (!own_host || (!have_token && !have_key)) {
    self->callback_error_ = absl::UnauthenticatedError(absl::StrCat(
        where,
        " asks for credentials and none are given for it: give the app an HTTPS token or "
        "an SSH key for ",
        self->request_url_.host, " (credentials go to the app's own repository host only)"));
    return GIT_EUSER;
  }
  if (self->secret_asks_++ > 0) {
    self->callback_error_ = absl::UnauthenticatedError(absl::StrCat(
        where, " refused the app's credentials: check the token or key and its access to ",
        self->request_url_.host, self->request_url_.path));
    return GIT_EUSER;
  }
  if ((allowed_types & GIT_CREDENTIAL_USERPASS_PLAINTEXT) != 0 && have_token) {
    std::string name =
        self->auth_.https_username.empty() ? "x-access-token" : self->auth_.https_username;
    return git_credential_userpass_plaintext_new(out, name.c_str(),
                                                 self->auth_.https_token.c_str());
  }
  if ((allowed_types & GIT_CREDENTIAL_SSH_MEMORY) != 0 && have_key) {
    return git_credential_ssh_key_memory_new(out, user.c_str(), nullptr,
                                             self->auth_.ssh_private_key.c_str(), nullptr);
  }
  self->callback_error_ = absl::UnauthenticatedError(
      absl::StrCat(where,
                   " asks for a kind of credentials the app does not have (an HTTPS token "
                   "for https://, an SSH key for ssh://)"));
  return GIT_EUSER;
}

int TransferSession::OnCertificate(git_cert* cert, int valid, const char* host, void* payload) {
  auto* self = static_cast<TransferSession*>(payload);
  if (cert->cert_type != GIT_CERT_HOSTKEY_LIBSSH2) return GIT_PASSTHROUGH;  // TLS: libgit2 checks
  const auto* hostkey = reinterpret_cast<const git_cert_hostkey*>(cert);
  if ((hostkey->type & GIT_CERT_SSH_RAW) == 0 || hostkey->hostkey == nullptr) {
    self->callback_error_ = absl::UnauthenticatedError(
        absl::StrCat("the SSH server ", host, " gave no host key to check"));
    return GIT_ECERTIFICATE;
  }
  absl::Status s = CheckKnownHost(self->auth_.ssh_known_hosts,
                                  host != nullptr ? host : self->current_.host, self->current_.port,
                                  absl::string_view(hostkey->hostkey, hostkey->hostkey_len));
  if (!s.ok()) {
    self->callback_error_ = s;
    return GIT_ECERTIFICATE;
  }
  return 0;
}

int TransferSession::OnTransfer(const git_indexer_progress* stats, void* payload) {
  auto* self = static_cast<TransferSession*>(payload);
  if (self->Cancelled()) {
    self->cancel_seen_ = true;
    return GIT_EUSER;
  }
  if (self->received_bytes_ + stats->received_bytes > self->max_bytes_) {
    self->over_budget_ = true;
    return GIT_EUSER;
  }
  return 0;
}

int TransferSession::OnSideband(const char*, int, void* payload) {
  auto* self = static_cast<TransferSession*>(payload);
  if (self->Cancelled()) {
    self->cancel_seen_ = true;
    return GIT_EUSER;
  }
  return 0;
}

absl::Status TransferSession::StatusFor(int rc, absl::string_view what) {
  if (rc == 0) return absl::OkStatus();
  std::string redacted = Scrub(what);
  if (cancel_seen_ || Cancelled()) {
    return absl::CancelledError(absl::StrCat(redacted, ": cancelled"));
  }
  if (over_budget_) {
    return absl::ResourceExhaustedError(
        absl::StrCat(redacted, ": the transfer exceeded max_fetch_bytes (", max_bytes_,
                     " bytes); the repository is too big for this worker's limit"));
  }
  if (!callback_error_.ok()) {
    return absl::Status(callback_error_.code(),
                        absl::StrCat(redacted, ": ", Scrub(callback_error_.message())));
  }
  std::string message = absl::StrCat(redacted, ": ", Scrub(LastGitError()));
  if (rc == GIT_EAUTH) return absl::UnauthenticatedError(message);
  if (rc == GIT_ECERTIFICATE) return absl::UnauthenticatedError(message);
  if (rc == GIT_ENOTFOUND) return absl::NotFoundError(message);
  return absl::UnavailableError(message);
}

absl::Status CheckSshUsable(const GitAuth& auth) {
  InitLibgit2Once();
  if ((git_libgit2_features() & GIT_FEATURE_SSH) == 0) {
    return absl::UnimplementedError(
        "this worker's libgit2 was built without SSH support: install a libgit2 built with "
        "libssh2 (Debian's libgit2-1.5 is), or give the app an https:// URL and a token");
  }
  if (auth.ssh_known_hosts.empty()) {
    return absl::FailedPreconditionError(
        "an SSH repository needs the host's key: set the app's ssh_known_hosts (ssh-keyscan "
        "HOST) so the worker can verify the server");
  }
  return absl::OkStatus();
}

}  // namespace tempa::worker
