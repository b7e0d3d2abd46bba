// How the state store lays out its RocksDB keys, so that iteration order is useful: builds by
// 8-byte big-endian sequence (acceptance order), "<app>\0<be seq>" for the per-app index,
// "<be seq><be line>" for log lines, "<app>\0<kind>" for secrets. Shared by the store and its
// tests (which plant corrupt values under real keys).
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "rocksdb/slice.h"
#include "rocksdb/status.h"

namespace tempa::coordinator::state_keys {

// The column families, in the order the store opens them (after "default").
inline constexpr const char* kApps = "apps";
inline constexpr const char* kSecrets = "secrets";
inline constexpr const char* kBuilds = "builds";
inline constexpr const char* kBuildsByApp = "builds_by_app";
inline constexpr const char* kUnfinished = "unfinished";
inline constexpr const char* kLogs = "logs";
inline constexpr const char* kWorkers = "workers";
inline constexpr const char* kLayerCache = "layer_cache";
inline constexpr const char* kDeliveries = "deliveries";
inline constexpr const char* kMeta = "meta";
// Deploy intents by id, and the index of the unfinished ones (PENDING, DEPLOYING).
inline constexpr const char* kDeploys = "deploys";
inline constexpr const char* kUnfinishedDeploys = "unfinished_deploys";

// A RocksDB slice as an absl::string_view (Debian's Abseil has its own string_view type).
inline absl::string_view View(const rocksdb::Slice& slice) {
  return absl::string_view(slice.data(), slice.size());
}

std::string BigEndian64(uint64_t value);
// nullopt unless `bytes` is exactly 8 bytes.
std::optional<uint64_t> ParseBigEndian64(absl::string_view bytes);

std::string BuildKey(uint64_t sequence);
// "<app>\0": every key of the app in builds_by_app (and secrets) starts with it.
std::string AppPrefix(absl::string_view app);
std::string BuildByAppKey(absl::string_view app, uint64_t sequence);
std::string LogKey(uint64_t sequence, uint64_t line);
std::string SecretKey(absl::string_view app, absl::string_view kind);
std::string CounterKey(absl::string_view name);

// A key made printable for an error message.
std::string Printable(absl::string_view key);

// A RocksDB status as an absl::Status with `context` first ("read build b-7: IO error: ...").
// Corruption → DataLoss, IOError/NoSpace → Unavailable/ResourceExhausted, anything else Internal.
absl::Status FromRocksdb(const rocksdb::Status& status, absl::string_view context);

}  // namespace tempa::coordinator::state_keys
