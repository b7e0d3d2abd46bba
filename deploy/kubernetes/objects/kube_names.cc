#include "deploy/kubernetes/objects/kube_names.h"

#include <openssl/evp.h>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "common/digest.h"

namespace tempa::deploy::kube {
namespace {

bool IsLowerAlnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }
bool IsAlnum(char c) { return absl::ascii_isalnum(static_cast<unsigned char>(c)); }

std::string CutTrailingDash(std::string text, size_t max) {
  if (text.size() > max) text.resize(max);
  while (!text.empty() && text.back() == '-') text.pop_back();
  return text;
}

}  // namespace

std::string Hash8(absl::string_view text) { return Sha256Of(text).hex().substr(0, 8); }

bool IsDnsLabel(absl::string_view text) {
  if (text.empty() || text.size() > kMaxLabel) return false;
  if (!IsLowerAlnum(text.front()) || !IsLowerAlnum(text.back())) return false;
  for (char c : text) {
    if (!IsLowerAlnum(c) && c != '-') return false;
  }
  return true;
}

bool IsDns1035Label(absl::string_view text) {
  return IsDnsLabel(text) && text.front() >= 'a' && text.front() <= 'z';
}

bool IsDnsSubdomain(absl::string_view text) {
  if (text.empty() || text.size() > 253) return false;
  for (absl::string_view label : absl::StrSplit(text, '.')) {
    if (!IsDnsLabel(label)) return false;
  }
  return true;
}

std::string SanitizeLabel(absl::string_view text, size_t max) {
  std::string out;
  out.reserve(text.size() + 2);
  for (char c : text) {
    char lower = absl::ascii_tolower(static_cast<unsigned char>(c));
    out.push_back(IsLowerAlnum(lower) ? lower : '-');
  }
  if (out.empty() || !(out.front() >= 'a' && out.front() <= 'z')) out.insert(0, "w-");
  out = CutTrailingDash(std::move(out), max);
  return out.empty() ? "w" : out;
}

std::string BoundedName(absl::string_view base, absl::string_view suffix) {
  std::string tail = suffix.empty() ? "" : absl::StrCat("-", suffix);
  std::string whole = absl::StrCat(base, tail);
  if (whole.size() <= kMaxLabel) return whole;
  // BASE cut + "-" + 8 hex + tail.
  size_t room = kMaxLabel - 9 - tail.size();
  return absl::StrCat(CutTrailingDash(std::string(base), room), "-", Hash8(base), tail);
}

std::string LabelValue(absl::string_view text) {
  bool valid =
      !text.empty() && text.size() <= kMaxLabel && IsAlnum(text.front()) && IsAlnum(text.back());
  for (char c : text) {
    if (!IsAlnum(c) && c != '-' && c != '_' && c != '.') valid = false;
  }
  if (valid) return std::string(text);
  std::string cut = SanitizeLabel(text, kMaxLabel - 9);
  return absl::StrCat(cut, "-", Hash8(text));
}

std::string MemoryQuantity(int64_t bytes) {
  constexpr int64_t kKi = 1024, kMi = kKi * 1024, kGi = kMi * 1024;
  if (bytes > 0 && bytes % kGi == 0) return absl::StrCat(bytes / kGi, "Gi");
  if (bytes > 0 && bytes % kMi == 0) return absl::StrCat(bytes / kMi, "Mi");
  if (bytes > 0 && bytes % kKi == 0) return absl::StrCat(bytes / kKi, "Ki");
  return absl::StrCat(bytes);
}

std::string CpuQuantity(int millis) { return absl::StrCat(millis, "m"); }

std::string Base64(absl::string_view bytes) {
  std::string out(4 * ((bytes.size() + 2) / 3), '\0');
  int written = EVP_EncodeBlock(reinterpret_cast<unsigned char*>(out.data()),
                                reinterpret_cast<const unsigned char*>(bytes.data()),
                                static_cast<int>(bytes.size()));
  out.resize(written < 0 ? 0 : static_cast<size_t>(written));
  return out;
}

}  // namespace tempa::deploy::kube
