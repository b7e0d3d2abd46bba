#include "common/env_file.h"

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace tempa {

absl::Status ForEachEnvFileLine(
    absl::string_view content, absl::string_view label,
    const std::function<absl::Status(const std::string& where, absl::string_view pair)>& add) {
  int number = 0;
  for (absl::string_view line : absl::StrSplit(content, '\n')) {
    ++number;
    absl::ConsumeSuffix(&line, "\r");
    absl::string_view trimmed = absl::StripLeadingAsciiWhitespace(line);
    if (trimmed.empty() || trimmed[0] == '#') continue;
    absl::ConsumePrefix(&trimmed, "export ");
    if (absl::Status s = add(absl::StrCat(label, " line ", number), trimmed); !s.ok()) return s;
  }
  return absl::OkStatus();
}

}  // namespace tempa
