#include "coordinator/auth/token_file.h"

#include <openssl/crypto.h>

#include "absl/container/flat_hash_map.h"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/crypto/private_file.h"

namespace tempa::coordinator::auth {
namespace {

absl::Status LineError(absl::string_view path, int line, absl::string_view problem) {
  return absl::InvalidArgumentError(
      absl::StrCat("token file ", path, " line ", line, ": ", problem));
}

bool IsTokenChar(char c) { return c > ' ' && c <= '~'; }

}  // namespace

absl::StatusOr<std::vector<TokenEntry>> ParseTokenFile(absl::string_view contents,
                                                       absl::string_view path) {
  std::vector<TokenEntry> entries;
  absl::flat_hash_map<std::string, int> line_of_token;
  int line_number = 0;
  for (absl::string_view line : absl::StrSplit(contents, '\n')) {
    ++line_number;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line.front() == '#') continue;
    std::vector<absl::string_view> fields =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (fields.size() < 2 || fields.size() > 3) {
      return LineError(path, line_number,
                       absl::StrCat("want `ROLE TOKEN [NAME]`, found ", fields.size(),
                                    " fields (a comment must be a line of its own)"));
    }
    std::optional<Role> role = ParseRole(fields[0]);
    if (!role) {
      // The field is not echoed: a line written `TOKEN ROLE` would print the token.
      return LineError(path, line_number,
                       "the first field is not a role: want admin, read-only or worker");
    }
    absl::string_view token = fields[1];
    if (token.size() < kMinTokenLength) {
      return LineError(path, line_number,
                       absl::StrCat("the token is ", token.size(), " characters, fewer than ",
                                    kMinTokenLength, " (make one with: openssl rand -hex 32)"));
    }
    for (char c : token) {
      if (!IsTokenChar(c)) {
        return LineError(path, line_number, "the token has a character outside printable ASCII");
      }
    }
    auto [it, inserted] = line_of_token.emplace(std::string(token), line_number);
    if (!inserted) {
      return LineError(path, line_number,
                       absl::StrCat("repeats the token of line ", it->second,
                                    ": every token must be different"));
    }
    TokenEntry entry;
    entry.role = *role;
    entry.token = std::string(token);
    if (fields.size() == 3) entry.name = std::string(fields[2]);
    entry.line = line_number;
    entries.push_back(std::move(entry));
  }
  for (auto& [token, line] : line_of_token) {
    OPENSSL_cleanse(const_cast<char*>(token.data()), token.size());
  }
  if (entries.empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "token file ", path,
        " lists no token, so every call would be refused: add a line `admin TOKEN [NAME]`"));
  }
  return entries;
}

absl::StatusOr<std::vector<TokenEntry>> LoadTokenFile(const std::string& path) {
  crypto::PrivateFileRules rules;
  rules.what = "token file";
  rules.max_bytes = 1 << 20;
  absl::StatusOr<std::string> contents = crypto::ReadPrivateFile(path, rules);
  if (!contents.ok()) return contents.status();
  absl::StatusOr<std::vector<TokenEntry>> entries = ParseTokenFile(*contents, path);
  OPENSSL_cleanse(contents->data(), contents->size());
  return entries;
}

}  // namespace tempa::coordinator::auth
