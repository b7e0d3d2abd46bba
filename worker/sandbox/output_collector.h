// OutputCollector: turns a command's raw output bytes into lines for the streaming callback and
// keeps a bounded tail of them for error messages.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <functional>
#include <string>

#include "absl/strings/string_view.h"

namespace tempa {

class OutputCollector {
 public:
  // `on_line` may be empty. Lines longer than `max_line_bytes` are split so a command that never
  // prints a newline cannot grow memory without bound.
  OutputCollector(std::function<void(absl::string_view)> on_line, size_t tail_lines,
                  size_t max_line_bytes = 64 << 10);

  void Feed(absl::string_view bytes);
  // Emits a trailing line that had no newline.
  void Finish();

  // The last lines, newline-joined.
  std::string Tail() const;
  uint64_t bytes() const { return bytes_; }

 private:
  void Emit(absl::string_view line);

  std::function<void(absl::string_view)> on_line_;
  size_t tail_lines_;
  size_t max_line_bytes_;
  std::string partial_;
  std::deque<std::string> tail_;
  uint64_t bytes_ = 0;
};

}  // namespace tempa
