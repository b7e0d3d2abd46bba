// RETURN_IF_ERROR / ASSIGN_OR_RETURN for absl::Status code: Abseil 20220623 ships none.
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/str_cat.h"

#define TEMPA_STATUS_CONCAT_INNER(a, b) a##b
#define TEMPA_STATUS_CONCAT(a, b) TEMPA_STATUS_CONCAT_INNER(a, b)

#define RETURN_IF_ERROR(expr)                     \
  do {                                            \
    ::absl::Status _tempa_status = (expr);        \
    if (!_tempa_status.ok()) return _tempa_status; \
  } while (0)

#define ASSIGN_OR_RETURN(lhs, expr) \
  TEMPA_ASSIGN_OR_RETURN_IMPL(TEMPA_STATUS_CONCAT(_tempa_statusor_, __LINE__), lhs, expr)

#define TEMPA_ASSIGN_OR_RETURN_IMPL(statusor, lhs, expr) \
  auto statusor = (expr);                                \
  if (!statusor.ok()) return std::move(statusor).status(); \
  lhs = std::move(statusor).value()

namespace tempa {

// Returns `status` with `context` prepended to its message ("context: message"), code kept.
inline absl::Status Annotate(const absl::Status& status, absl::string_view context) {
  if (status.ok()) return status;
  return absl::Status(status.code(), absl::StrCat(context, ": ", status.message()));
}

}  // namespace tempa
