#include "coordinator/state/state_keys.h"

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/strip.h"
#include "coordinator/state/state_store.h"

namespace tempa::coordinator {

std::string BuildIdFor(uint64_t sequence) { return absl::StrCat("b-", sequence); }

std::optional<uint64_t> SequenceOfBuildId(absl::string_view id) {
  if (!absl::ConsumePrefix(&id, "b-") || id.empty() || id.size() > 20) return std::nullopt;
  for (char c : id) {
    if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) return std::nullopt;
  }
  // One spelling per sequence: "b-07" would otherwise name the same record as "b-7".
  if (id.size() > 1 && id[0] == '0') return std::nullopt;
  uint64_t sequence = 0;
  if (!absl::SimpleAtoi(id, &sequence)) return std::nullopt;
  return sequence;
}

namespace state_keys {

std::string BigEndian64(uint64_t value) {
  std::string out(8, '\0');
  for (int i = 7; i >= 0; --i) {
    out[i] = static_cast<char>(value & 0xff);
    value >>= 8;
  }
  return out;
}

std::optional<uint64_t> ParseBigEndian64(absl::string_view bytes) {
  if (bytes.size() != 8) return std::nullopt;
  uint64_t value = 0;
  for (char c : bytes) value = (value << 8) | static_cast<unsigned char>(c);
  return value;
}

std::string BuildKey(uint64_t sequence) { return BigEndian64(sequence); }

std::string AppPrefix(absl::string_view app) {
  return absl::StrCat(app, absl::string_view("\0", 1));
}

std::string BuildByAppKey(absl::string_view app, uint64_t sequence) {
  return absl::StrCat(AppPrefix(app), BigEndian64(sequence));
}

std::string LogKey(uint64_t sequence, uint64_t line) {
  return absl::StrCat(BigEndian64(sequence), BigEndian64(line));
}

std::string SecretKey(absl::string_view app, absl::string_view kind) {
  return absl::StrCat(AppPrefix(app), kind);
}

std::string CounterKey(absl::string_view name) { return absl::StrCat("counter/", name); }

std::string Printable(absl::string_view key) {
  return absl::StrCat("\"", absl::CHexEscape(key), "\"");
}

absl::Status FromRocksdb(const rocksdb::Status& status, absl::string_view context) {
  if (status.ok()) return absl::OkStatus();
  std::string message = absl::StrCat(context, ": ", status.ToString());
  if (status.IsCorruption()) return absl::DataLossError(message);
  if (status.IsNoSpace()) return absl::ResourceExhaustedError(message);
  if (status.IsIOError()) return absl::UnavailableError(message);
  if (status.IsNotFound()) return absl::NotFoundError(message);
  if (status.IsInvalidArgument()) return absl::InvalidArgumentError(message);
  return absl::InternalError(message);
}

}  // namespace state_keys
}  // namespace tempa::coordinator
