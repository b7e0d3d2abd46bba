#include "coordinator/webhook/github_webhook.h"

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include <cstdint>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "nlohmann/json.hpp"

namespace tempa::coordinator {
namespace {

using json = nlohmann::json;

constexpr size_t kHmacBytes = 32;
constexpr size_t kMaxRefBytes = 1024;

bool Hmac(absl::string_view secret, absl::string_view body, unsigned char out[kHmacBytes]) {
  unsigned int len = 0;
  unsigned char* result =
      HMAC(EVP_sha256(), secret.data(), static_cast<int>(secret.size()),
           reinterpret_cast<const unsigned char*>(body.data()), body.size(), out, &len);
  return result != nullptr && len == kHmacBytes;
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

bool IsHex(absl::string_view s) {
  for (char c : s) {
    if (HexValue(c) < 0) return false;
  }
  return true;
}

absl::Status FieldError(absl::string_view field, absl::string_view problem) {
  return absl::InvalidArgumentError(absl::StrCat("field ", field, ": ", problem));
}

// `object[key]` as a string: "" when absent or null, an error naming `path` for another type.
absl::Status OptionalString(const json& object, const char* key, absl::string_view path,
                            std::string* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) {
    out->clear();
    return absl::OkStatus();
  }
  if (!it->is_string())
    return FieldError(path, absl::StrCat("is a ", it->type_name(), ", not a string"));
  *out = it->get_ref<const std::string&>();
  return absl::OkStatus();
}

absl::Status RequiredString(const json& object, const char* key, absl::string_view path,
                            std::string* out) {
  auto it = object.find(key);
  if (it == object.end() || it->is_null()) return FieldError(path, "missing");
  return OptionalString(object, key, path, out);
}

// A commit id: 40 (SHA-1) or 64 (SHA-256) hex digits, returned lowercase.
absl::Status CommitId(const json& object, const char* key, absl::string_view path,
                      std::string* out) {
  if (absl::Status s = RequiredString(object, key, path, out); !s.ok()) return s;
  if ((out->size() != 40 && out->size() != 64) || !IsHex(*out)) {
    return FieldError(path, "is not a commit id (40 or 64 hex digits)");
  }
  absl::AsciiStrToLower(out);
  return absl::OkStatus();
}

absl::Status ParseRepository(const json& object, GithubRepository* repo) {
  auto it = object.find("repository");
  if (it == object.end() || it->is_null()) return absl::NotFoundError("field repository: missing");
  if (!it->is_object()) return FieldError("repository", "is not an object");
  const json& r = *it;
  for (auto [key, out] :
       {std::pair{"full_name", &repo->full_name}, std::pair{"clone_url", &repo->clone_url},
        std::pair{"ssh_url", &repo->ssh_url}, std::pair{"git_url", &repo->git_url},
        std::pair{"html_url", &repo->html_url},
        std::pair{"default_branch", &repo->default_branch}}) {
    if (absl::Status s = OptionalString(r, key, absl::StrCat("repository.", key), out); !s.ok()) {
      return s;
    }
  }
  if (repo->Urls().empty()) {
    return FieldError("repository", "has none of clone_url, ssh_url, git_url, html_url");
  }
  return absl::OkStatus();
}

// The payload as a JSON object, or InvalidArgument. Never throws: parse errors come back as a
// discarded value.
absl::StatusOr<json> ParseObject(absl::string_view body) {
  json doc = json::parse(body.begin(), body.end(), nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return absl::InvalidArgumentError("payload is not valid JSON");
  if (!doc.is_object()) return absl::InvalidArgumentError("payload is not a JSON object");
  return doc;
}

bool HasControlCharacter(absl::string_view s) {
  for (char c : s) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) return true;
  }
  return false;
}

// `s` cut to at most `max` bytes without splitting a UTF-8 sequence.
std::string TruncateUtf8(const std::string& s, size_t max) {
  if (s.size() <= max) return s;
  size_t cut = max;
  while (cut > 0 && (static_cast<unsigned char>(s[cut]) & 0xC0) == 0x80) --cut;
  return s.substr(0, cut);
}

}  // namespace

bool VerifyGithubSignature(absl::string_view secret, absl::string_view body,
                           absl::string_view header) {
  if (secret.empty()) return false;
  if (!absl::ConsumePrefix(&header, "sha256=")) return false;
  if (header.size() != 2 * kHmacBytes) return false;
  unsigned char given[kHmacBytes];
  for (size_t i = 0; i < kHmacBytes; ++i) {
    int hi = HexValue(header[2 * i]);
    int lo = HexValue(header[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    given[i] = static_cast<unsigned char>(hi << 4 | lo);
  }
  unsigned char expected[kHmacBytes];
  if (!Hmac(secret, body, expected)) return false;
  return CRYPTO_memcmp(given, expected, kHmacBytes) == 0;
}

std::string GithubSignature(absl::string_view secret, absl::string_view body) {
  unsigned char mac[kHmacBytes];
  if (!Hmac(secret, body, mac)) return "";
  static constexpr char kDigits[] = "0123456789abcdef";
  std::string out = "sha256=";
  for (unsigned char b : mac) {
    out += kDigits[b >> 4];
    out += kDigits[b & 0xf];
  }
  return out;
}

std::vector<std::string> GithubRepository::Urls() const {
  std::vector<std::string> urls;
  for (const std::string* url : {&clone_url, &ssh_url, &git_url, &html_url}) {
    if (!url->empty()) urls.push_back(*url);
  }
  return urls;
}

absl::StatusOr<GithubPush> ParseGithubPush(absl::string_view body) {
  absl::StatusOr<json> doc = ParseObject(body);
  if (!doc.ok()) return doc.status();
  const json& d = *doc;
  GithubPush push;
  if (absl::Status s = RequiredString(d, "ref", "ref", &push.ref); !s.ok()) return s;
  if (push.ref.empty() || push.ref.size() > kMaxRefBytes || HasControlCharacter(push.ref)) {
    return FieldError("ref", "is not a git ref name");
  }
  absl::string_view branch = push.ref;
  if (absl::ConsumePrefix(&branch, "refs/heads/")) push.branch = std::string(branch);
  if (absl::Status s = CommitId(d, "before", "before", &push.before); !s.ok()) return s;
  if (absl::Status s = CommitId(d, "after", "after", &push.after); !s.ok()) return s;

  bool deleted_flag = false;
  if (auto it = d.find("deleted"); it != d.end() && !it->is_null()) {
    if (!it->is_boolean()) return FieldError("deleted", "is not a boolean");
    deleted_flag = it->get<bool>();
  }
  push.deleted = deleted_flag || push.after.find_first_not_of('0') == std::string::npos;

  if (absl::Status s = ParseRepository(d, &push.repository); !s.ok()) {
    return absl::IsNotFound(s) ? FieldError("repository", "missing") : s;
  }

  if (auto it = d.find("head_commit"); it != d.end() && !it->is_null()) {
    if (!it->is_object()) return FieldError("head_commit", "is not an object");
    if (absl::Status s = OptionalString(*it, "id", "head_commit.id", &push.head_commit_id);
        !s.ok()) {
      return s;
    }
    std::string message;
    if (absl::Status s = OptionalString(*it, "message", "head_commit.message", &message); !s.ok()) {
      return s;
    }
    push.head_commit_message = TruncateUtf8(message, kMaxCommitMessageBytes);
  }
  if (auto it = d.find("pusher"); it != d.end() && !it->is_null()) {
    if (!it->is_object()) return FieldError("pusher", "is not an object");
    if (absl::Status s = OptionalString(*it, "name", "pusher.name", &push.pusher); !s.ok()) {
      return s;
    }
  }
  return push;
}

absl::StatusOr<GithubRepository> ParseGithubPingRepository(absl::string_view body) {
  absl::StatusOr<json> doc = ParseObject(body);
  if (!doc.ok()) return doc.status();
  GithubRepository repo;
  if (absl::Status s = ParseRepository(*doc, &repo); !s.ok()) return s;
  return repo;
}

std::string NormalizeRepoUrl(absl::string_view url) {
  std::string s(absl::StripAsciiWhitespace(url));
  for (;;) {
    if (absl::EndsWith(s, "/")) {
      s.pop_back();
    } else if (s.size() > 4 && absl::EndsWith(s, ".git")) {
      s.resize(s.size() - 4);
    } else {
      break;
    }
  }
  // The span of the host (with user and port) to lowercase, or none for a local path.
  size_t host_begin = std::string::npos, host_end = std::string::npos;
  size_t scheme_end = s.find("://");
  if (scheme_end != std::string::npos) {
    for (size_t i = 0; i < scheme_end; ++i) s[i] = absl::ascii_tolower(s[i]);
    host_begin = scheme_end + 3;
    host_end = s.find('/', host_begin);
    if (host_end == std::string::npos) host_end = s.size();
  } else {
    // scp-like "user@host:path": a colon before any slash.
    size_t colon = s.find(':');
    size_t slash = s.find('/');
    if (colon != std::string::npos && colon > 0 && (slash == std::string::npos || colon < slash)) {
      host_begin = 0;
      host_end = colon;
    }
  }
  if (host_begin != std::string::npos) {
    // The user name before '@' keeps its case.
    size_t at = s.rfind('@', host_end == 0 ? 0 : host_end - 1);
    if (at != std::string::npos && at >= host_begin && at < host_end) host_begin = at + 1;
    for (size_t i = host_begin; i < host_end; ++i) s[i] = absl::ascii_tolower(s[i]);
  }
  return s;
}

bool RepoUrlsMatch(absl::string_view a, absl::string_view b) {
  std::string na = NormalizeRepoUrl(a);
  return !na.empty() && na == NormalizeRepoUrl(b);
}

}  // namespace tempa::coordinator
