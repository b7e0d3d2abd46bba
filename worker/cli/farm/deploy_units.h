// The units `tempa apps set` takes and shows: memory as Kubernetes writes it (256Mi, 1Gi, 512M,
// or plain bytes) and CPU as CPUs (0.5, 2) or millicpus (500m). Errors name the flag and show an
// example.
#pragma once

#include <cstdint>
#include <string>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa::cli::farm {

// Bytes: N, NKi/NMi/NGi/NTi (powers of 1024), NK/NM/NG/NT (powers of 1000); N may have a
// fraction ("1.5Gi"). "0": the deployer's default.
absl::StatusOr<int64_t> ParseMemory(absl::string_view flag, absl::string_view text);
// Thousandths of a CPU: "0.5" → 500, "2" → 2000, "250m" → 250. "0": the deployer's default.
absl::StatusOr<int32_t> ParseCpu(absl::string_view flag, absl::string_view text);

// "256Mi", "1.5Gi", "1000 B"; "default" for 0.
std::string FormatMemory(int64_t bytes);
// "0.5 CPU", "2 CPU", "0.25 CPU"; "default" for 0.
std::string FormatCpu(int32_t millis);

}  // namespace tempa::cli::farm
