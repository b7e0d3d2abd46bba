#include "deploy/core/hosts.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/digest.h"

namespace tempa::deploy {
namespace {

constexpr size_t kHashLength = 8;

bool IsLabelChar(char c) { return absl::ascii_isdigit(c) || (c >= 'a' && c <= 'z') || c == '-'; }

std::string HashSuffix(absl::string_view text) {
  return Sha256Of(text).hex().substr(0, kHashLength);
}

// `label` cut to `max - 9` characters (trailing '-' trimmed) plus "-HASH" of `hashed`; just
// "HASH" padded out when nothing of the label is left.
std::string WithHash(absl::string_view label, absl::string_view hashed, size_t max) {
  std::string hash = HashSuffix(hashed);
  size_t keep = max > kHashLength + 1 ? max - kHashLength - 1 : 0;
  std::string head(label.substr(0, std::min(keep, label.size())));
  while (!head.empty() && head.back() == '-') head.pop_back();
  if (head.empty()) return hash.substr(0, std::min(max, hash.size()));
  return absl::StrCat(head, "-", hash);
}

}  // namespace

bool IsDnsLabel(absl::string_view label) {
  if (label.empty() || label.size() > kMaxDnsLabel) return false;
  if (label.front() == '-' || label.back() == '-') return false;
  return std::all_of(label.begin(), label.end(), IsLabelChar);
}

absl::Status CheckAppLabel(absl::string_view app) {
  if (IsDnsLabel(app)) return absl::OkStatus();
  return absl::InvalidArgumentError(absl::StrCat(
      "deploy.app \"", absl::CEscape(app.substr(0, 80)),
      "\" is not a DNS label: use 1-63 lowercase letters, digits and '-', not starting or "
      "ending with '-'"));
}

std::string TrackFor(absl::string_view branch, bool production) {
  if (production) return std::string(kProductionTrack);
  std::string label;
  bool lossy = false;
  for (size_t i = 0; i < branch.size(); ++i) {
    unsigned char c = static_cast<unsigned char>(branch[i]);
    char out;
    if (IsLabelChar(static_cast<char>(c))) {
      out = static_cast<char>(c);
    } else if (c == '/') {
      out = '-';
    } else {
      lossy = true;
      out = absl::ascii_isupper(c) ? absl::ascii_tolower(c) : '-';
      // A multi-byte UTF-8 character becomes one '-': skip its continuation bytes.
      if (c >= 0x80) {
        while (i + 1 < branch.size() &&
               (static_cast<unsigned char>(branch[i + 1]) & 0xC0) == 0x80) {
          ++i;
        }
      }
    }
    if (out == '-' && !label.empty() && label.back() == '-') {
      lossy = true;  // a run of '-' collapsed
      continue;
    }
    label.push_back(out);
  }
  if (!label.empty() && label.front() == '-') {
    lossy = true;
    label.erase(0, 1);
  }
  if (!label.empty() && label.back() == '-') {
    lossy = true;
    label.pop_back();
  }
  if (label.empty() || label == kProductionTrack) lossy = true;
  if (label.size() > kMaxTrackLength) lossy = true;
  if (!lossy) return label;
  if (label.empty()) label = "branch";
  return WithHash(label, branch, kMaxTrackLength);
}

std::string BoundedLabel(absl::string_view label, size_t max) {
  if (label.size() <= max) return std::string(label);
  return WithHash(label, label, max);
}

std::string ShortSha(absl::string_view commit) {
  return absl::AsciiStrToLower(commit.substr(0, 7));
}

std::vector<std::string> HostsFor(absl::string_view app, absl::string_view track,
                                  absl::string_view commit, absl::string_view domain) {
  std::string track_label =
      track == kProductionTrack ? std::string(app) : BoundedLabel(absl::StrCat(app, "-", track));
  std::string commit_label = BoundedLabel(absl::StrCat(app, "-", ShortSha(commit)));
  return {absl::StrCat(track_label, ".", domain), absl::StrCat(commit_label, ".", domain)};
}

absl::Status CheckDomain(absl::string_view domain) {
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(
        absl::StrCat("--domain \"", absl::CEscape(domain.substr(0, 80)), "\" ", why,
                     ": give dot-separated DNS labels, e.g. --domain apps.example.com"));
  };
  if (domain.empty()) return bad("is empty");
  if (domain.size() > 253) return bad("is longer than 253 characters");
  for (absl::string_view label : absl::StrSplit(domain, '.')) {
    if (!IsDnsLabel(label)) {
      return bad(absl::StrCat("has \"", absl::CEscape(label.substr(0, 80)),
                              "\", which is not a lowercase DNS label"));
    }
  }
  return absl::OkStatus();
}

}  // namespace tempa::deploy
