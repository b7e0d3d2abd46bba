// Naming what a deploy answers on: the track a branch deploys to ("production", or the branch
// as a DNS label for a preview) and the host names of a release (APP.DOMAIN or
// APP-TRACK.DOMAIN, then APP-SHORTSHA.DOMAIN). Every label produced is a valid DNS label:
// 1-63 characters of [a-z0-9-], not starting or ending with '-'. Plain strings only; the
// proto-dependent settings resolution lives in deploy_settings.h.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"

namespace tempa::deploy {

inline constexpr size_t kMaxDnsLabel = 63;
// A preview track is at most this long, so that APP-TRACK fits one DNS label for apps of up
// to 22 characters; longer combinations are shortened by HostsFor (with a hash, see below).
inline constexpr size_t kMaxTrackLength = 40;
inline constexpr absl::string_view kProductionTrack = "production";

// True for 1-63 characters of [a-z0-9-] neither starting nor ending with '-'.
bool IsDnsLabel(absl::string_view label);

// The app name rule the deployer holds callers to (the coordinator's app names already obey
// it). InvalidArgument naming the field and the fix.
absl::Status CheckAppLabel(absl::string_view app);

// The track a deploy of `branch` goes to: "production" for the app's production branch, else
// the branch as a DNS label: lowercased, every character outside [a-z0-9-] replaced by '-'
// (a multi-byte UTF-8 character becomes one '-'), runs of '-' collapsed, '-' trimmed from both
// ends. Whenever that loses more than '/' → '-' (upper case, '_', '.', non-ASCII, '-' runs or
// ends, an empty or too long result, the reserved name "production"), the label is shortened
// as needed and ends in '-' and 8 hex digits of the SHA-256 of the branch, so such branches
// never share a track. The one collision left is by design: "feature/x" and "feature-x" both
// give "feature-x" (the readable preview name users expect). At most kMaxTrackLength chars.
std::string TrackFor(absl::string_view branch, bool production);

// `label` when it has at most `max` characters, else its first characters (trailing '-'
// trimmed), '-' and 8 hex digits of the SHA-256 of the whole label, `max` characters at most.
std::string BoundedLabel(absl::string_view label, size_t max = kMaxDnsLabel);

// The first 7 characters of `commit`, lowercased.
std::string ShortSha(absl::string_view commit);

// The hosts a release answers on, the track's first: APP.DOMAIN for production,
// APP-TRACK.DOMAIN for a preview; then APP-SHORTSHA.DOMAIN. A first label longer than 63
// characters is shortened with BoundedLabel.
std::vector<std::string> HostsFor(absl::string_view app, absl::string_view track,
                                  absl::string_view commit, absl::string_view domain);

// A domain the deployer may serve under: dot-separated DNS labels, 253 characters at most,
// no trailing dot. InvalidArgument naming --domain and an example otherwise.
absl::Status CheckDomain(absl::string_view domain);

}  // namespace tempa::deploy
