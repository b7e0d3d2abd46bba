#include "worker/sandbox/output_collector.h"

#include <utility>

#include "absl/strings/str_join.h"

namespace tempa {

OutputCollector::OutputCollector(std::function<void(absl::string_view)> on_line, size_t tail_lines,
                                 size_t max_line_bytes)
    : on_line_(std::move(on_line)), tail_lines_(tail_lines), max_line_bytes_(max_line_bytes) {}

void OutputCollector::Feed(absl::string_view bytes) {
  bytes_ += bytes.size();
  while (!bytes.empty()) {
    size_t newline = bytes.find('\n');
    absl::string_view segment = bytes.substr(0, newline);
    while (partial_.size() + segment.size() > max_line_bytes_) {
      size_t take = max_line_bytes_ - partial_.size();
      partial_.append(segment.data(), take);
      Emit(partial_);
      partial_.clear();
      segment.remove_prefix(take);
    }
    partial_.append(segment.data(), segment.size());
    if (newline == absl::string_view::npos) return;
    Emit(partial_);
    partial_.clear();
    bytes.remove_prefix(newline + 1);
  }
}

void OutputCollector::Finish() {
  if (partial_.empty()) return;
  Emit(partial_);
  partial_.clear();
}

std::string OutputCollector::Tail() const { return absl::StrJoin(tail_, "\n"); }

void OutputCollector::Emit(absl::string_view line) {
  // Tools print CRLF or progress bars with \r; the line without its terminator is what we want.
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  if (on_line_) on_line_(line);
  if (tail_lines_ == 0) return;
  if (tail_.size() == tail_lines_) tail_.pop_front();
  tail_.emplace_back(line);
}

}  // namespace tempa
