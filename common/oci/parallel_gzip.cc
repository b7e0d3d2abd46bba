#include "common/oci/parallel_gzip.h"

#include <libdeflate.h>

#include <algorithm>
#include <utility>

#include "common/check.h"

namespace tempa::oci {

ParallelGzipWriter::ParallelGzipWriter(int level, int threads, size_t chunk_bytes, ByteSink& out,
                                       Sha256* out_hash)
    : level_(level),
      chunk_bytes_(std::max<size_t>(chunk_bytes, 4096)),
      max_in_flight_(2 * static_cast<size_t>(std::max(threads, 1))),
      out_(out),
      out_hash_(out_hash) {
  TEMPA_CHECK(level >= 0 && level <= 12, "libdeflate level out of range");
  current_.reserve(chunk_bytes_);
  for (int i = 0; i < std::max(threads, 1); ++i) workers_.emplace_back([this] { WorkerLoop(); });
}

ParallelGzipWriter::~ParallelGzipWriter() {
  {
    absl::MutexLock lock(&mu_);
    stop_ = true;
  }
  for (std::thread& t : workers_) t.join();
}

void ParallelGzipWriter::WorkerLoop() {
  // One compressor per worker: libdeflate compressors are not thread-safe but are reusable.
  libdeflate_compressor* compressor = libdeflate_alloc_compressor(level_);
  TEMPA_CHECK(compressor != nullptr, "libdeflate_alloc_compressor");
  while (true) {
    Job* job = nullptr;
    {
      absl::MutexLock lock(&mu_);
      mu_.Await(absl::Condition(
          +[](ParallelGzipWriter* w) {
            return w->stop_ || !w->todo_.empty();
          },
          this));
      if (stop_) break;
      job = todo_.front();
      todo_.pop_front();
    }
    // The header libdeflate writes is fixed: no name, MTIME 0, XFL from the level, OS 255.
    job->out.resize(libdeflate_gzip_compress_bound(compressor, job->in.size()));
    size_t n = libdeflate_gzip_compress(compressor, job->in.data(), job->in.size(),
                                        job->out.data(), job->out.size());
    TEMPA_CHECK(n != 0, "libdeflate_gzip_compress exceeded its own bound");
    job->out.resize(n);
    absl::MutexLock lock(&mu_);
    job->done = true;
  }
  libdeflate_free_compressor(compressor);
}

absl::Status ParallelGzipWriter::Write(absl::string_view data) {
  while (!data.empty()) {
    size_t take = std::min(data.size(), chunk_bytes_ - current_.size());
    current_.append(data.data(), take);
    data.remove_prefix(take);
    if (current_.size() == chunk_bytes_) {
      Submit();
      absl::Status status = Emit(/*wait=*/in_flight_.size() >= max_in_flight_);
      if (!status.ok()) return status;
    }
  }
  return absl::OkStatus();
}

void ParallelGzipWriter::Submit() {
  auto job = std::make_unique<Job>();
  job->in = std::move(current_);
  if (!spare_.empty()) {
    current_ = std::move(spare_.back());
    spare_.pop_back();
  } else {
    current_ = std::string();
  }
  current_.clear();
  current_.reserve(chunk_bytes_);
  submitted_any_ = true;
  Job* raw = job.get();
  in_flight_.push_back(std::move(job));
  absl::MutexLock lock(&mu_);
  todo_.push_back(raw);
}

absl::Status ParallelGzipWriter::Emit(bool wait) {
  while (!in_flight_.empty()) {
    Job* front = in_flight_.front().get();
    {
      absl::MutexLock lock(&mu_);
      if (wait) {
        mu_.Await(absl::Condition(
            +[](Job* j) { return j->done; }, front));
      } else if (!front->done) {
        return absl::OkStatus();
      }
    }
    absl::Status status = out_.Write(front->out);
    if (!status.ok()) return status;
    if (out_hash_ != nullptr) out_hash_->Update(front->out);
    emitted_ += front->out.size();
    spare_.push_back(std::move(front->in));
    in_flight_.pop_front();
    wait = in_flight_.size() >= max_in_flight_;
  }
  return absl::OkStatus();
}

absl::Status ParallelGzipWriter::Finish() {
  if (!current_.empty() || !submitted_any_) Submit();
  while (!in_flight_.empty()) {
    absl::Status status = Emit(/*wait=*/true);
    if (!status.ok()) return status;
  }
  return absl::OkStatus();
}

}  // namespace tempa::oci
