// A small Prometheus registry: counters, gauges, histograms (optionally with a fixed label set,
// each label set its own series) and gauges computed at render time, rendered as the text
// exposition format 0.0.4 for an HTTP /metrics endpoint. Updating a metric is lock-free (atomics);
// only registering and rendering take the registry's lock. Names follow
// tempa_<subsystem>_<name>_<unit> (e.g. tempa_coordinator_dispatch_latency_seconds).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"

namespace tempa::metrics {

// Label name/value pairs of one series, e.g. {{"status", "FAILED"}}. Order is kept as given.
using Labels = std::vector<std::pair<std::string, std::string>>;

// A value that only goes up (events, bytes). Add() of a negative amount is ignored.
class Counter {
 public:
  void Inc() { Add(1); }
  void Add(double amount);
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// A value that goes up and down (in-flight requests, connected workers).
class Gauge {
 public:
  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Add(double amount) { value_.fetch_add(amount, std::memory_order_relaxed); }
  void Inc() { Add(1); }
  void Dec() { Add(-1); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Observations counted into fixed buckets (upper bounds, strictly increasing; +Inf implied),
// with their sum: latencies in seconds, sizes in bytes.
class Histogram {
 public:
  explicit Histogram(std::vector<double> upper_bounds);

  void Observe(double value);

  const std::vector<double>& upper_bounds() const { return upper_bounds_; }
  // Count of observations ≤ upper_bounds()[i] (cumulative); index upper_bounds().size() is +Inf.
  uint64_t CumulativeCount(size_t i) const;
  double Sum() const { return sum_.load(std::memory_order_relaxed); }

 private:
  std::vector<double> upper_bounds_;
  // Per-bucket (non-cumulative) counts; the last one counts values above every bound.
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;
  std::atomic<double> sum_{0};
};

// Buckets for request and dispatch latencies in seconds: 0.5 ms to 10 s.
std::vector<double> LatencyBuckets();

// Owns every metric; pointers it returns stay valid for its lifetime. Registering the same name
// and labels twice returns the first metric. A name registered with another type or help, or an
// invalid name or label, is a programming error and aborts.
class MetricsRegistry {
 public:
  MetricsRegistry() = default;
  MetricsRegistry(const MetricsRegistry&) = delete;
  MetricsRegistry& operator=(const MetricsRegistry&) = delete;

  Counter* AddCounter(const std::string& name, const std::string& help, const Labels& labels = {});
  Gauge* AddGauge(const std::string& name, const std::string& help, const Labels& labels = {});
  Histogram* AddHistogram(const std::string& name, const std::string& help,
                          std::vector<double> upper_bounds, const Labels& labels = {});
  // A gauge whose value `value` computes at each Render() (queue depth, connected workers).
  // `value` runs without the registry's lock held, so it may take locks of its own.
  void AddCallbackGauge(const std::string& name, const std::string& help,
                        std::function<double()> value, const Labels& labels = {});

  // Every family sorted by name, in the Prometheus text exposition format 0.0.4.
  std::string Render() const;

 private:
  enum class Type { kCounter, kGauge, kHistogram };
  struct Series {
    Labels labels;
    std::unique_ptr<Counter> counter;
    std::unique_ptr<Gauge> gauge;
    std::unique_ptr<Histogram> histogram;
    std::function<double()> callback;
  };
  struct Family {
    std::string name;
    std::string help;
    Type type;
    std::vector<std::unique_ptr<Series>> series;
  };

  // The series `name`{labels}, created (with the family) when new.
  Series* FindOrAdd(const std::string& name, const std::string& help, Type type,
                    const Labels& labels, bool* created) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);

  mutable absl::Mutex mu_;
  std::vector<std::unique_ptr<Family>> families_ ABSL_GUARDED_BY(mu_);
};

}  // namespace tempa::metrics
