// ParallelGzipWriter: turns one byte stream into a multi-member gzip, compressing fixed-size
// chunks on a bounded pool of threads with libdeflate and emitting the members in order.
//
// Why libdeflate: for a given libdeflate version and level its output depends only on the input
// bytes, on every CPU. ISA-L (and zlib-ng) pick arch-specific code paths at run time whose output
// differs between machines, which would break "same commit → same digest on any worker".
// Why multi-member: members compress independently, so the work parallelises, and the result
// is still one valid gzip stream (RFC 1952 §2.2) that gzip, zlib, Go (containerd, skopeo, umoci,
// the registry) and Python all read. The chunk size is part of the output's identity.
#pragma once

#include <cstddef>
#include <cstdint>
#include <deque>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/status.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "common/digest.h"
#include "common/oci/byte_sink.h"

namespace tempa::oci {

inline constexpr size_t kDefaultGzipChunkBytes = size_t{1} << 20;

class ParallelGzipWriter {
 public:
  // `level` 0..12 (libdeflate's scale; 6 ≈ gzip -6); `threads` ≥ 1 compressing workers.
  // Everything emitted goes to `out` and, when given, into `out_hash`. Both must outlive this.
  ParallelGzipWriter(int level, int threads, size_t chunk_bytes, ByteSink& out, Sha256* out_hash);
  ~ParallelGzipWriter();
  ParallelGzipWriter(const ParallelGzipWriter&) = delete;
  ParallelGzipWriter& operator=(const ParallelGzipWriter&) = delete;

  // Buffers `data`; full chunks go to the pool. Blocks while too many chunks are in flight
  // (memory stays bounded at ~4 chunks per thread). Returns the sink's error, if any.
  absl::Status Write(absl::string_view data);
  // Compresses what is buffered and emits every remaining member. Call once, last. An empty
  // input still yields one (empty) member so the output is always valid gzip.
  absl::Status Finish();
  // Compressed bytes emitted so far.
  uint64_t size() const { return emitted_; }

 private:
  struct Job {
    std::string in;
    std::string out;
    bool done = false;
  };

  void Submit();
  // Emits finished members from the front of the queue; waits for the front one when `wait`.
  absl::Status Emit(bool wait);
  void WorkerLoop();

  const int level_;
  const size_t chunk_bytes_;
  const size_t max_in_flight_;
  ByteSink& out_;
  Sha256* out_hash_;
  std::string current_;
  std::deque<std::unique_ptr<Job>> in_flight_;  // submission order; producer thread only
  std::vector<std::string> spare_;              // recycled input buffers
  uint64_t emitted_ = 0;
  bool submitted_any_ = false;

  absl::Mutex mu_;
  std::deque<Job*> todo_ ABSL_GUARDED_BY(mu_);
  bool stop_ ABSL_GUARDED_BY(mu_) = false;
  std::vector<std::thread> workers_;
};

}  // namespace tempa::oci
