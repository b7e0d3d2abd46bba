// ByteSink: where a writer streams its output (a CAS blob, a file, memory). Small on purpose so
// the layer writer can be tested and benchmarked without a store.
#pragma once

#include <memory>
#include <string>

#include "absl/status/status.h"
#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"

namespace tempa::oci {

class ByteSink {
 public:
  virtual ~ByteSink() = default;
  // Appends `data`; an error aborts the whole write and is returned to the writer's caller.
  virtual absl::Status Write(absl::string_view data) = 0;
};

// Collects everything in memory (tests, small blobs).
class StringSink : public ByteSink {
 public:
  absl::Status Write(absl::string_view data) override {
    out_.append(data.data(), data.size());
    return absl::OkStatus();
  }
  const std::string& data() const { return out_; }

 private:
  std::string out_;
};

// Writes to a file, created or truncated; Close fsyncs nothing (callers that need durability
// use the CAS, which does).
class FileSink : public ByteSink {
 public:
  static absl::StatusOr<std::unique_ptr<FileSink>> Create(const std::string& path);
  ~FileSink() override;
  FileSink(const FileSink&) = delete;
  FileSink& operator=(const FileSink&) = delete;

  absl::Status Write(absl::string_view data) override;
  // Closes the file, reporting a failed close; idempotent.
  absl::Status Close();

 private:
  FileSink(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  std::string path_;
  int fd_ = -1;
};

}  // namespace tempa::oci
