// layer_bench: Tempa's layer writer against its peers on the same generated tree, in one run.
// The tree looks like a Go module cache (thousands of 1–20 KB source files) plus a few large
// semi-compressible binaries, ~200 MB, generated deterministically from a seed. Measured:
//   tempa        AddTree + WriteLayerTo a file (tar + parallel gzip + diff_id + digest)
//   tar|gzip     tar -c --sort=name | gzip -6 | sha256sum (the classic pipeline)
//   umoci        umoci init + new + insert into a fresh OCI layout
// Everything reads a warm page cache (the tree was just written), so this measures CPU cost.
//
// Usage: layer_bench [--mb=200] [--seed=42] [--threads=0] [--dir=/tmp] [--keep]
#include <sys/resource.h>
#include <sys/stat.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <optional>
#include <random>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "common/oci/byte_sink.h"
#include "common/oci/layer_writer.h"

namespace fs = std::filesystem;
using tempa::oci::FileSink;
using tempa::oci::LayerSpec;
using tempa::oci::LayerWriteOptions;
using tempa::oci::LayerWriteResult;

namespace {

struct Flags {
  int64_t mb = 200;
  uint64_t seed = 42;
  int threads = 0;
  std::string dir = "/tmp";
  bool keep = false;
};

Flags ParseFlags(int argc, char** argv) {
  Flags f;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    auto value = [&](const char* name) -> std::optional<std::string> {
      std::string prefix = absl::StrCat("--", name, "=");
      if (a.rfind(prefix, 0) == 0) return a.substr(prefix.size());
      return std::nullopt;
    };
    if (auto v = value("mb")) f.mb = std::stoll(*v);
    else if (auto v = value("seed")) f.seed = std::stoull(*v);
    else if (auto v = value("threads")) f.threads = std::stoi(*v);
    else if (auto v = value("dir")) f.dir = *v;
    else if (a == "--keep") f.keep = true;
    else {
      std::fprintf(stderr, "unknown flag %s\n", a.c_str());
      std::exit(2);
    }
  }
  return f;
}

// Deterministic generator: mt19937_64 is specified exactly by the standard; distributions are
// not, so ranges are taken by hand.
class Gen {
 public:
  explicit Gen(uint64_t seed) : rng_(seed) {}
  uint64_t Below(uint64_t n) { return rng_() % n; }

  // Go-ish source text: identifiers and keywords, lines of varying length.
  std::string Text(size_t bytes) {
    static const char* kWords[] = {"func",   "return", "if",      "err",    "nil",   "package",
                                   "import", "struct", "interface", "string", "int",  "for",
                                   "range",  "ctx",    "context", "fmt",    "Errorf", "var",
                                   ":=",     "{",      "}",       "(",      ")",     "bytes"};
    std::string out;
    out.reserve(bytes + 64);
    while (out.size() < bytes) {
      int words = 2 + static_cast<int>(Below(9));
      out.append(Below(3), '\t');
      for (int w = 0; w < words; ++w) {
        if (Below(5) == 0) {
          absl::StrAppend(&out, "v", Below(100000), " ");
        } else {
          absl::StrAppend(&out, kWords[Below(sizeof(kWords) / sizeof(kWords[0]))], " ");
        }
      }
      out.back() = '\n';
    }
    out.resize(bytes);
    return out;
  }

  // Semi-compressible binary: runs of random bytes mixed with repeats of earlier data, roughly
  // what a Go or Rust binary looks like to gzip (~2:1).
  std::string Binary(size_t bytes) {
    std::string out;
    out.reserve(bytes + 4096);
    while (out.size() < bytes) {
      size_t run = 64 + Below(2048);
      if (out.size() > 65536 && Below(2) == 0) {
        size_t from = Below(out.size() - run);
        out.append(out, from, run);
      } else {
        for (size_t i = 0; i < run; ++i) out.push_back(static_cast<char>(Below(64) + Below(64)));
      }
    }
    out.resize(bytes);
    return out;
  }

 private:
  std::mt19937_64 rng_;
};

void WriteFile(const fs::path& path, const std::string& data) {
  fs::create_directories(path.parent_path());
  std::ofstream(path, std::ios::binary).write(data.data(), static_cast<std::streamsize>(data.size()));
}

// Returns the bytes written.
int64_t GenerateTree(const fs::path& root, int64_t total_bytes, uint64_t seed) {
  Gen gen(seed);
  int64_t written = 0;
  // ~40% in a few large binaries, the rest in small files.
  const int64_t large_budget = total_bytes * 2 / 5;
  for (int i = 0; written < large_budget; ++i) {
    size_t size = (10 + gen.Below(21)) << 20;  // 10–30 MiB
    WriteFile(root / absl::StrCat("bin/tool", i), gen.Binary(size));
    fs::permissions(root / absl::StrCat("bin/tool", i), fs::perms(0755));
    written += static_cast<int64_t>(size);
  }
  for (int module = 0; written < total_bytes; ++module) {
    std::string dir = absl::StrCat("pkg/mod/github.com/org", module % 37, "/repo", module, "@v1.",
                                   module % 13, ".0");
    int files = 20 + static_cast<int>(gen.Below(60));
    for (int f = 0; f < files && written < total_bytes; ++f) {
      size_t size = 1024 + gen.Below(19 * 1024);  // 1–20 KB
      std::string sub = gen.Below(3) == 0 ? absl::StrCat("/internal/p", gen.Below(5)) : "";
      WriteFile(root / absl::StrCat(dir, sub, "/file", f, ".go"), gen.Text(size));
      written += static_cast<int64_t>(size);
    }
  }
  return written;
}

double CpuSeconds() {
  double total = 0;
  for (int who : {RUSAGE_SELF, RUSAGE_CHILDREN}) {
    struct rusage ru;
    getrusage(who, &ru);
    total += ru.ru_utime.tv_sec + ru.ru_stime.tv_sec +
             (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
  }
  return total;
}

// Wall seconds of `fn`; CPU seconds (this process's threads plus waited-for children) in *cpu.
// The machine may be shared, so CPU time is the steadier number.
double Seconds(const std::function<void()>& fn, double* cpu) {
  double cpu_start = CpuSeconds();
  auto start = std::chrono::steady_clock::now();
  fn();
  double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  *cpu = CpuSeconds() - cpu_start;
  return wall;
}

int Shell(const std::string& command) {
  int rc = std::system(command.c_str());
  if (rc != 0) std::fprintf(stderr, "command failed (%d): %s\n", rc, command.c_str());
  return rc;
}

bool SameBytes(const std::string& a, const std::string& b) {
  std::ifstream fa(a, std::ios::binary), fb(b, std::ios::binary);
  std::vector<char> ba(1 << 20), bb(1 << 20);
  while (true) {
    fa.read(ba.data(), static_cast<std::streamsize>(ba.size()));
    fb.read(bb.data(), static_cast<std::streamsize>(bb.size()));
    if (fa.gcount() != fb.gcount()) return false;
    if (fa.gcount() == 0) return true;
    if (std::memcmp(ba.data(), bb.data(), static_cast<size_t>(fa.gcount())) != 0) return false;
  }
}

struct Row {
  std::string tool;
  double seconds = 0;
  int64_t compressed = 0;
  double cpu = 0;
};

}  // namespace

int main(int argc, char** argv) {
  Flags flags = ParseFlags(argc, argv);
  std::string work = absl::StrCat(flags.dir, "/tempa-layer-bench-XXXXXX");
  if (mkdtemp(work.data()) == nullptr) {
    std::perror("mkdtemp");
    return 1;
  }
  fs::path tree = fs::path(work) / "tree";
  std::printf("generating ~%lld MB tree in %s (seed %llu)...\n", static_cast<long long>(flags.mb),
              tree.c_str(), static_cast<unsigned long long>(flags.seed));
  int64_t tree_bytes = GenerateTree(tree, flags.mb << 20, flags.seed);
  int64_t files = 0;
  for (const auto& e : fs::recursive_directory_iterator(tree)) files += e.is_regular_file();
  std::printf("tree: %lld files, %.1f MB\n", static_cast<long long>(files), tree_bytes / 1e6);

  std::vector<Row> rows;
  bool ok = true;
  auto run_tempa = [&](const std::string& name, size_t chunk, const std::string& out) -> Row {
    Row row{name, 0, 0};
    row.seconds = Seconds([&] {
      LayerSpec spec;
      absl::Status added = spec.AddTree(tree.string(), "");
      auto sink = FileSink::Create(out);
      if (!added.ok() || !sink.ok()) {
        std::fprintf(stderr, "%s\n", added.ok() ? sink.status().ToString().c_str()
                                                : added.ToString().c_str());
        ok = false;
        return;
      }
      LayerWriteOptions options;
      options.threads = flags.threads;
      options.chunk_bytes = chunk;
      absl::StatusOr<LayerWriteResult> result = WriteLayerTo(spec, options, **sink);
      if (!result.ok() || !(*sink)->Close().ok()) {
        std::fprintf(stderr, "write layer: %s\n", result.status().ToString().c_str());
        ok = false;
        return;
      }
      row.compressed = result->size;
    }, &row.cpu);
    return row;
  };

  std::string out1 = work + "/tempa-1.tar.gz", out2 = work + "/tempa-2.tar.gz";
  rows.push_back(run_tempa("tempa (1 MiB members)", size_t{1} << 20, out1));
  rows.push_back(run_tempa("tempa again", size_t{1} << 20, out2));
  bool identical = ok && SameBytes(out1, out2);
  rows.push_back(run_tempa("tempa (4 MiB members)", size_t{4} << 20, work + "/tempa-4m.tar.gz"));

  Row tar_gzip{"tar | gzip -6 | sha256sum", 0, 0};
  std::string tgz = work + "/tar.tar.gz";
  tar_gzip.seconds = Seconds([&] {
    ok &= Shell(absl::StrCat("cd '", tree.string(), "' && tar -c --sort=name --owner=0 --group=0 "
                             "--numeric-owner --mtime=@0 . | gzip -6 | tee '", tgz,
                             "' | sha256sum >/dev/null")) == 0;
  }, &tar_gzip.cpu);
  tar_gzip.compressed = static_cast<int64_t>(fs::file_size(tgz));
  rows.push_back(tar_gzip);

  if (Shell("command -v umoci >/dev/null") == 0) {
    Row umoci{"umoci init+new+insert", 0, 0};
    std::string layout = work + "/umoci-layout";
    umoci.seconds = Seconds([&] {
      ok &= Shell(absl::StrCat("umoci init --layout '", layout, "' && umoci new --image '", layout,
                               ":base' && umoci insert --rootless --image '", layout, ":base' '",
                               tree.string(), "' /")) == 0;
    }, &umoci.cpu);
    for (const auto& blob : fs::directory_iterator(fs::path(layout) / "blobs/sha256")) {
      umoci.compressed = std::max(umoci.compressed, static_cast<int64_t>(blob.file_size()));
    }
    rows.push_back(umoci);
  } else {
    std::printf("umoci not installed: skipped\n");
  }

  std::printf("\n%-26s %8s %8s %12s %8s %14s\n", "tool", "seconds", "MB/s", "vs tar|gzip",
              "cpu s", "compressed MB");
  for (const Row& r : rows) {
    std::printf("%-26s %8.2f %8.1f %11.2fx %8.2f %14.1f\n", r.tool.c_str(), r.seconds,
                tree_bytes / 1e6 / r.seconds, tar_gzip.seconds / r.seconds, r.cpu,
                r.compressed / 1e6);
  }
  std::printf("\ntempa threads: %d (0 = all cores: %u)\n", flags.threads,
              std::thread::hardware_concurrency());
  std::printf("identical: %s\n", identical ? "yes" : "no");

  if (!flags.keep) fs::remove_all(work);
  return ok && identical ? 0 : 1;
}
