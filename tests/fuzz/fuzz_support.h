// Helpers shared by the libFuzzer targets: a private scratch directory for parsers that only
// read files, writing an input there, splitting one input into several files, and a check that
// aborts (so libFuzzer records the input) when a parser breaks a promise its header makes.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace tempa::fuzz {

// A directory of this process, created on first use and removed at exit.
const std::string& ScratchDir();

// Replaces `path` with exactly `data` (aborts on I/O errors: the fuzzer's fault, not the input's).
void WriteFile(const std::string& path, std::string_view data);

// Removes `path` if it exists.
void RemoveFile(const std::string& path);

// Splits the input at each "\n%%\n" into at most `max_parts` pieces (the last keeps the rest), so
// a seed that feeds two files stays readable: "[build]\n...\n%%\nweb: ./server\n".
std::vector<std::string_view> SplitParts(const uint8_t* data, size_t size, size_t max_parts);

// Aborts with `what` when `ok` is false.
void Check(bool ok, std::string_view what);

}  // namespace tempa::fuzz
