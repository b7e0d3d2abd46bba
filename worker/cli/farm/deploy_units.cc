#include "worker/cli/farm/deploy_units.h"

#include <cmath>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"

namespace tempa::cli::farm {
namespace {

// A non-negative decimal number (digits, at most one '.'), without exponent, sign or spaces.
bool ParseDecimal(absl::string_view text, double* value) {
  if (text.empty() || text.size() > 32) return false;
  int dots = 0;
  for (char c : text) {
    if (c == '.') {
      ++dots;
    } else if (!absl::ascii_isdigit(static_cast<unsigned char>(c))) {
      return false;
    }
  }
  if (dots > 1 || text == ".") return false;
  return absl::SimpleAtod(text, value) && std::isfinite(*value) && *value >= 0;
}

std::string Trimmed(double value) {
  std::string s = absl::StrFormat("%.3f", value);
  while (!s.empty() && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}

}  // namespace

absl::StatusOr<int64_t> ParseMemory(absl::string_view flag, absl::string_view text) {
  struct Suffix {
    const char* name;
    double factor;
  };
  static const Suffix kSuffixes[] = {{"Ki", 1024.0},
                                     {"Mi", 1024.0 * 1024},
                                     {"Gi", 1024.0 * 1024 * 1024},
                                     {"Ti", 1099511627776.0},
                                     {"K", 1e3},
                                     {"M", 1e6},
                                     {"G", 1e9},
                                     {"T", 1e12}};
  absl::string_view number = text;
  double factor = 1;
  for (const Suffix& suffix : kSuffixes) {
    if (absl::EndsWith(text, suffix.name)) {
      number = text.substr(0, text.size() - absl::string_view(suffix.name).size());
      factor = suffix.factor;
      break;
    }
  }
  double value = 0;
  if (!ParseDecimal(number, &value) || value * factor > 9.0e18) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " \"", text,
                     "\" is not an amount of memory: give bytes with a unit, like 256Mi, 1Gi or "
                     "512M (Ki/Mi/Gi are powers of 1024, K/M/G of 1000)"));
  }
  return static_cast<int64_t>(std::llround(value * factor));
}

absl::StatusOr<int32_t> ParseCpu(absl::string_view flag, absl::string_view text) {
  double value = 0;
  bool millis = absl::EndsWith(text, "m");
  absl::string_view number = millis ? text.substr(0, text.size() - 1) : text;
  bool ok = ParseDecimal(number, &value);
  if (ok && millis && number.find('.') != absl::string_view::npos) ok = false;
  double result = millis ? value : value * 1000;
  if (!ok || result > 1e9) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, " \"", text,
        "\" is not an amount of CPU: give CPUs like 0.5 or 2, or millicpus like 500m"));
  }
  if (result != 0 && result < 1) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " \"", text, "\" is finer than a thousandth of a CPU (1m)"));
  }
  return static_cast<int32_t>(std::llround(result));
}

std::string FormatMemory(int64_t bytes) {
  if (bytes == 0) return "default";
  const char* units[] = {"Ti", "Gi", "Mi", "Ki"};
  double factors[] = {1099511627776.0, 1073741824.0, 1048576.0, 1024.0};
  for (int i = 0; i < 4; ++i) {
    if (static_cast<double>(bytes) >= factors[i]) {
      return absl::StrCat(Trimmed(static_cast<double>(bytes) / factors[i]), units[i]);
    }
  }
  return absl::StrCat(bytes, " B");
}

std::string FormatCpu(int32_t millis) {
  if (millis == 0) return "default";
  return absl::StrCat(Trimmed(millis / 1000.0), " CPU");
}

}  // namespace tempa::cli::farm
