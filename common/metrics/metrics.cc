#include "common/metrics/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <limits>

#include "absl/strings/str_cat.h"
#include "common/check.h"

namespace tempa::metrics {
namespace {

bool ValidName(const std::string& name, bool allow_colon) {
  if (name.empty()) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
              (allow_colon && c == ':') || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

// A sample value as Prometheus parses it: integers without exponent, others the shortest text
// that reads back as the same double, and +Inf / -Inf / NaN.
std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  char buf[64];
  auto result = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, result.ptr);
}

// Label values escape backslash, double quote and newline; HELP text backslash and newline.
std::string Escape(const std::string& s, bool quote) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else if (quote && c == '"') {
      out += "\\\"";
    } else {
      out += c;
    }
  }
  return out;
}

// `{a="x",b="y"}` from `labels` plus an optional trailing `le`; empty when there are none.
std::string LabelText(const Labels& labels, const std::string* le = nullptr) {
  if (labels.empty() && le == nullptr) return "";
  std::string out = "{";
  bool first = true;
  for (const auto& [name, value] : labels) {
    absl::StrAppend(&out, first ? "" : ",", name, "=\"", Escape(value, true), "\"");
    first = false;
  }
  if (le != nullptr) absl::StrAppend(&out, first ? "" : ",", "le=\"", *le, "\"");
  out += "}";
  return out;
}

}  // namespace

void Counter::Add(double amount) {
  if (!(amount >= 0)) return;  // also drops NaN
  value_.fetch_add(amount, std::memory_order_relaxed);
}

Histogram::Histogram(std::vector<double> upper_bounds) : upper_bounds_(std::move(upper_bounds)) {
  for (size_t i = 0; i < upper_bounds_.size(); ++i) {
    TEMPA_CHECK(!std::isnan(upper_bounds_[i]), "histogram bound is NaN");
    TEMPA_CHECK(i == 0 || upper_bounds_[i - 1] < upper_bounds_[i],
                "histogram bounds must increase strictly");
  }
  if (!upper_bounds_.empty() && std::isinf(upper_bounds_.back()) && upper_bounds_.back() > 0) {
    upper_bounds_.pop_back();  // +Inf is always implied
  }
  counts_ = std::make_unique<std::atomic<uint64_t>[]>(upper_bounds_.size() + 1);
  for (size_t i = 0; i <= upper_bounds_.size(); ++i) counts_[i].store(0);
}

void Histogram::Observe(double value) {
  if (std::isnan(value)) return;
  // The first bound ≥ value: Prometheus buckets are "less than or equal".
  size_t i =
      std::lower_bound(upper_bounds_.begin(), upper_bounds_.end(), value) - upper_bounds_.begin();
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

uint64_t Histogram::CumulativeCount(size_t i) const {
  uint64_t total = 0;
  for (size_t j = 0; j <= i && j <= upper_bounds_.size(); ++j) {
    total += counts_[j].load(std::memory_order_relaxed);
  }
  return total;
}

std::vector<double> LatencyBuckets() {
  return {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
}

MetricsRegistry::Series* MetricsRegistry::FindOrAdd(const std::string& name,
                                                    const std::string& help, Type type,
                                                    const Labels& labels, bool* created) {
  TEMPA_CHECK(ValidName(name, /*allow_colon=*/true), name.c_str());
  for (const auto& [label, value] : labels) {
    TEMPA_CHECK(ValidName(label, /*allow_colon=*/false), label.c_str());
    TEMPA_CHECK(label.rfind("__", 0) != 0, "label names starting with __ are reserved");
    TEMPA_CHECK(type != Type::kHistogram || label != "le", "le is a histogram's own label");
  }
  Family* family = nullptr;
  for (const auto& f : families_) {
    if (f->name == name) family = f.get();
  }
  if (family == nullptr) {
    families_.push_back(std::make_unique<Family>(Family{name, help, type, {}}));
    family = families_.back().get();
  }
  TEMPA_CHECK(family->type == type, ("metric registered twice with two types: " + name).c_str());
  TEMPA_CHECK(family->help == help, ("metric registered twice with two helps: " + name).c_str());
  for (const auto& series : family->series) {
    if (series->labels == labels) {
      *created = false;
      return series.get();
    }
  }
  family->series.push_back(std::make_unique<Series>());
  family->series.back()->labels = labels;
  *created = true;
  return family->series.back().get();
}

Counter* MetricsRegistry::AddCounter(const std::string& name, const std::string& help,
                                     const Labels& labels) {
  absl::MutexLock lock(&mu_);
  bool created;
  Series* series = FindOrAdd(name, help, Type::kCounter, labels, &created);
  if (created) series->counter = std::make_unique<Counter>();
  return series->counter.get();
}

Gauge* MetricsRegistry::AddGauge(const std::string& name, const std::string& help,
                                 const Labels& labels) {
  absl::MutexLock lock(&mu_);
  bool created;
  Series* series = FindOrAdd(name, help, Type::kGauge, labels, &created);
  if (created) series->gauge = std::make_unique<Gauge>();
  TEMPA_CHECK(series->gauge != nullptr, ("gauge is a callback gauge: " + name).c_str());
  return series->gauge.get();
}

Histogram* MetricsRegistry::AddHistogram(const std::string& name, const std::string& help,
                                         std::vector<double> upper_bounds, const Labels& labels) {
  absl::MutexLock lock(&mu_);
  bool created;
  Series* series = FindOrAdd(name, help, Type::kHistogram, labels, &created);
  if (created) series->histogram = std::make_unique<Histogram>(std::move(upper_bounds));
  return series->histogram.get();
}

void MetricsRegistry::AddCallbackGauge(const std::string& name, const std::string& help,
                                       std::function<double()> value, const Labels& labels) {
  absl::MutexLock lock(&mu_);
  bool created;
  Series* series = FindOrAdd(name, help, Type::kGauge, labels, &created);
  TEMPA_CHECK(created, ("callback gauge registered twice: " + name).c_str());
  series->callback = std::move(value);
}

std::string MetricsRegistry::Render() const {
  // Snapshot under the lock (families and series are never removed and never move), render
  // without it so callbacks may take their own locks.
  struct View {
    const Family* family;
    std::vector<const Series*> series;
  };
  std::vector<View> views;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& family : families_) {
      View view{family.get(), {}};
      for (const auto& series : family->series) view.series.push_back(series.get());
      views.push_back(std::move(view));
    }
  }
  std::sort(views.begin(), views.end(),
            [](const View& a, const View& b) { return a.family->name < b.family->name; });

  std::string out;
  for (const View& view : views) {
    const Family& family = *view.family;
    const char* type = family.type == Type::kCounter ? "counter"
                       : family.type == Type::kGauge ? "gauge"
                                                     : "histogram";
    absl::StrAppend(&out, "# HELP ", family.name, " ", Escape(family.help, false), "\n");
    absl::StrAppend(&out, "# TYPE ", family.name, " ", type, "\n");
    for (const Series* series : view.series) {
      if (series->histogram != nullptr) {
        const Histogram& h = *series->histogram;
        const auto& bounds = h.upper_bounds();
        for (size_t i = 0; i <= bounds.size(); ++i) {
          std::string le = i < bounds.size() ? FormatValue(bounds[i]) : "+Inf";
          absl::StrAppend(&out, family.name, "_bucket", LabelText(series->labels, &le), " ",
                          h.CumulativeCount(i), "\n");
        }
        // _count equals the +Inf bucket, so read it from the buckets rather than a second atomic
        // that a concurrent Observe() could have reached first.
        absl::StrAppend(&out, family.name, "_sum", LabelText(series->labels), " ",
                        FormatValue(h.Sum()), "\n");
        absl::StrAppend(&out, family.name, "_count", LabelText(series->labels), " ",
                        h.CumulativeCount(bounds.size()), "\n");
        continue;
      }
      double value = series->counter != nullptr ? series->counter->Value()
                     : series->gauge != nullptr ? series->gauge->Value()
                     : series->callback         ? series->callback()
                                                : 0;
      absl::StrAppend(&out, family.name, LabelText(series->labels), " ", FormatValue(value), "\n");
    }
  }
  return out;
}

}  // namespace tempa::metrics
