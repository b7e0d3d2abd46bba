#include "buildpacks/internal/runtime_files.h"

#include <algorithm>
#include <set>
#include <unordered_map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "buildpacks/internal/fs_util.h"
#include "buildpacks/internal/ignore_rules.h"
#include "common/build_error.h"
#include "common/digest.h"
#include "common/status_macros.h"

namespace tempa::buildpacks::internal {
namespace {

constexpr const char* kVcsNames[] = {".git", ".hg", ".svn"};
constexpr size_t kIncludedNamed = 3;  // paths the report names that include brought back

// Tempa's own config, never needed at run time.
const std::vector<std::string>& TempaConfigFiles() {
  static const auto* files =
      new std::vector<std::string>{"/tempa.toml", "/Procfile", "/.tempaignore", "/.dockerignore"};
  return *files;
}

std::vector<std::string> WithTempaConfig(std::vector<std::string> defaults) {
  defaults.insert(defaults.end(), TempaConfigFiles().begin(), TempaConfigFiles().end());
  return defaults;
}

struct Ignore {
  IgnoreRules rules;
  std::string name;  // ".tempaignore", ".dockerignore"; empty when the app has neither
};

absl::StatusOr<Ignore> LoadIgnoreFile(const std::string& root) {
  for (auto [name, syntax] : {std::pair{".tempaignore", IgnoreSyntax::kGitignore},
                              std::pair{".dockerignore", IgnoreSyntax::kDockerignore}}) {
    if (!Exists(absl::StrCat(root, "/", name))) continue;
    // One byte past the limit, so Parse can tell an oversized file from a full one.
    ASSIGN_OR_RETURN(std::string text, ReadPrefixBeneath(root, name, kMaxIgnoreFileBytes + 1));
    ASSIGN_OR_RETURN(IgnoreRules rules, IgnoreRules::Parse(text, syntax, name));
    return Ignore{std::move(rules), name};
  }
  return Ignore{};
}

// Where the walk stands in one directory, per rule set.
struct DirState {
  IgnoreRules::State defaults, ignore, include, exclude;
};

// Decides each entry of the walk (TreeOptions::skip) and counts why, for the report.
class Selector {
 public:
  Selector(const RuntimeFilesOptions& options, const IgnoreRules& defaults, const Ignore& ignore,
           const IgnoreRules& include, const IgnoreRules& exclude)
      : options_(options),
        defaults_(defaults),
        ignore_(ignore),
        include_(include),
        exclude_(exclude) {
    dirs_[""] = DirState{};
  }

  // True to leave `rel` out (and not walk it when a directory).
  bool Skip(const std::string& rel, bool is_dir) {
    size_t slash = rel.rfind('/');
    std::string parent_rel = slash == std::string::npos ? "" : rel.substr(0, slash);
    std::string name = slash == std::string::npos ? rel : rel.substr(slash + 1);
    for (const char* vcs : kVcsNames) {
      if (name == vcs) {
        vcs_seen_.insert(vcs);
        ++default_paths_;
        return true;
      }
    }
    if (parent_rel.empty() && !options_.binary_name.empty() && name == options_.binary_name) {
      binary_collision_ = true;
      return true;
    }
    const DirState& parent = dirs_.at(parent_rel);
    DirState state{defaults_.Descend(parent.defaults, rel, is_dir),
                   ignore_.rules.Descend(parent.ignore, rel, is_dir),
                   include_.Descend(parent.include, rel, is_dir),
                   exclude_.Descend(parent.exclude, rel, is_dir)};
    bool left_out = state.defaults.excluded || state.ignore.excluded;
    bool keep = !state.exclude.excluded && (state.include.excluded || !left_out);
    // Counted where a rule first applies, not again for what lies under it.
    if (state.exclude.excluded) {
      if (!parent.exclude.excluded && (state.include.excluded || !left_out)) ++exclude_paths_;
    } else if (state.defaults.excluded && !parent.defaults.excluded) {
      if (!state.include.excluded) {
        default_rules_.insert(state.defaults.rule);
        ++default_paths_;
      }
    } else if (!state.defaults.excluded && state.ignore.excluded && !parent.ignore.excluded) {
      if (!state.include.excluded) ++ignore_paths_;
    }
    if (is_dir) {
      // Walked when something under it may still be kept: include can bring files back, and so
      // can a .dockerignore exception.
      bool walk =
          keep ||
          (!state.exclude.excluded &&
           (!include_.empty() || (ignore_.rules.syntax() == IgnoreSyntax::kDockerignore &&
                                  ignore_.rules.has_negations() && !state.defaults.excluded)));
      if (walk) dirs_[rel] = state;
      return !walk;
    }
    if (!keep) return true;
    if (left_out) included_.push_back(rel);
    if (++kept_ > options_.max_files) {
      over_files_ = true;
      return true;
    }
    return false;
  }

  bool over_files() const { return over_files_; }

  std::string Why() const {
    std::vector<std::string> parts;
    if (default_paths_ > 0) {
      std::vector<std::string> names(vcs_seen_.begin(), vcs_seen_.end());
      for (int rule : default_rules_) names.push_back(defaults_.text(rule));
      parts.push_back(absl::StrCat("defaults excluded ", absl::StrJoin(names, ", "), " (",
                                   default_paths_, default_paths_ == 1 ? " path)" : " paths)"));
    } else {
      parts.push_back("defaults excluded nothing");
    }
    if (!ignore_.name.empty()) {
      parts.push_back(absl::StrCat(ignore_.name, " excluded ", ignore_paths_));
    }
    if (!included_.empty()) {
      std::vector<std::string> named(
          included_.begin(), included_.begin() + std::min(included_.size(), kIncludedNamed));
      std::string more = included_.size() > kIncludedNamed
                             ? absl::StrCat(" and ", included_.size() - kIncludedNamed, " more")
                             : "";
      parts.push_back(absl::StrCat("tempa.toml include added ", absl::StrJoin(named, ", "), more));
    }
    if (!exclude_.empty())
      parts.push_back(absl::StrCat("tempa.toml exclude removed ", exclude_paths_));
    if (!options_.binary_name.empty()) {
      parts.push_back(absl::StrCat(
          "the binary is /", options_.dest_prefix, "/", options_.binary_name, ", in the app layer",
          binary_collision_ ? absl::StrCat(" (the repository's own ", options_.binary_name,
                                           " at the root is not copied)")
                            : ""));
    }
    return absl::StrJoin(parts, "; ");
  }

 private:
  const RuntimeFilesOptions& options_;
  const IgnoreRules& defaults_;
  const Ignore& ignore_;
  const IgnoreRules& include_;
  const IgnoreRules& exclude_;
  std::unordered_map<std::string, DirState> dirs_;  // the walked directories
  size_t kept_ = 0;
  bool over_files_ = false;
  bool binary_collision_ = false;
  std::set<std::string> vcs_seen_;
  std::set<int> default_rules_;
  size_t default_paths_ = 0, ignore_paths_ = 0, exclude_paths_ = 0;
  std::vector<std::string> included_;
};

std::string ParentOf(const std::string& path) {
  size_t slash = path.rfind('/');
  return slash == std::string::npos ? "" : path.substr(0, slash);
}

}  // namespace

std::vector<std::string> GoRuntimeDefaults() {
  return WithTempaConfig(
      {"/target/", "/vendor/", "*.go", "go.mod", "go.sum", "go.work", "go.work.sum"});
}

std::vector<std::string> RustRuntimeDefaults() {
  return WithTempaConfig({"/target/", "/vendor/", "*.rs", "Cargo.toml", "Cargo.lock",
                          "rust-toolchain", "rust-toolchain.toml", ".cargo/"});
}

// The rules of one selection and the Selector over them (which holds references into it).
struct RuntimeFilesFilter::Rules {
  Rules(RuntimeFilesOptions options, IgnoreRules defaults, Ignore ignore, IgnoreRules include,
        IgnoreRules exclude)
      : options(std::move(options)),
        defaults(std::move(defaults)),
        ignore(std::move(ignore)),
        include(std::move(include)),
        exclude(std::move(exclude)),
        selector(this->options, this->defaults, this->ignore, this->include, this->exclude) {}
  RuntimeFilesOptions options;
  IgnoreRules defaults;
  Ignore ignore;
  IgnoreRules include;
  IgnoreRules exclude;
  Selector selector;
};

absl::StatusOr<std::unique_ptr<RuntimeFilesFilter>> RuntimeFilesFilter::Make(
    const std::string& app_dir, const RuntimeFilesOptions& options) {
  ASSIGN_OR_RETURN(IgnoreRules defaults, IgnoreRules::FromGlobs(options.defaults, "defaults"));
  ASSIGN_OR_RETURN(IgnoreRules include,
                   IgnoreRules::FromGlobs(options.include, "tempa.toml include"));
  ASSIGN_OR_RETURN(IgnoreRules exclude,
                   IgnoreRules::FromGlobs(options.exclude, "tempa.toml exclude"));
  ASSIGN_OR_RETURN(Ignore ignore, LoadIgnoreFile(app_dir));
  return std::unique_ptr<RuntimeFilesFilter>(new RuntimeFilesFilter(std::make_unique<Rules>(
      options, std::move(defaults), std::move(ignore), std::move(include), std::move(exclude))));
}

RuntimeFilesFilter::RuntimeFilesFilter(std::unique_ptr<Rules> rules) : rules_(std::move(rules)) {}
RuntimeFilesFilter::~RuntimeFilesFilter() = default;

bool RuntimeFilesFilter::Skip(const std::string& rel, bool is_dir) {
  return rules_->selector.Skip(rel, is_dir);
}

absl::StatusOr<LayerOutput> RuntimeFilesLayer(const std::string& app_dir,
                                              const RuntimeFilesOptions& options) {
  ASSIGN_OR_RETURN(std::unique_ptr<RuntimeFilesFilter> filter,
                   RuntimeFilesFilter::Make(app_dir, options));
  Selector& selector = filter->rules_->selector;

  oci::LayerSpec tree;
  oci::TreeOptions tree_options;
  tree_options.allow_links_out = options.allow_links_out;
  tree_options.skip = [&selector](const std::string& rel, bool is_dir) {
    return selector.Skip(rel, is_dir);
  };
  RETURN_IF_ERROR(tree.AddTree(app_dir, options.dest_prefix, tree_options));
  if (selector.over_files()) {
    return absl::InvalidArgumentError(absl::StrCat(
        app_dir, " has more than ", options.max_files,
        " runtime files; leave out what the app does not read at run time in .tempaignore (e.g. "
        "\"data/\") or with tempa.toml's exclude"));
  }

  // Directories only where something is kept below them: a tree of sources alone leaves none.
  std::set<std::string> needed = {options.dest_prefix};
  for (const oci::LayerEntry& entry : tree.entries()) {
    if (entry.type == oci::LayerEntry::Type::kDirectory) continue;
    for (std::string dir = ParentOf(entry.path); !dir.empty() && needed.insert(dir).second;
         dir = ParentOf(dir)) {
    }
  }
  LayerOutput output;
  std::string manifest = absl::StrCat(options.layer_version, "\n");
  uint64_t bytes = 0;
  size_t files = 0;
  for (const oci::LayerEntry& entry : tree.entries()) {
    if (entry.type == oci::LayerEntry::Type::kDirectory && !needed.count(entry.path)) continue;
    std::string content = entry.link_target;
    if (entry.type == oci::LayerEntry::Type::kFile) {
      int64_t size = 0;
      ASSIGN_OR_RETURN(UniqueFd fd, oci::OpenEntrySource(entry, &size));
      bytes += static_cast<uint64_t>(size);
      if (bytes > options.max_bytes) {
        return absl::InvalidArgumentError(absl::StrCat(
            app_dir, " holds more than ", options.max_bytes, " bytes of runtime files (at ",
            entry.path,
            "); leave out what the app does not read at run time in .tempaignore or with "
            "tempa.toml's exclude"));
      }
      ASSIGN_OR_RETURN(Digest digest, Sha256OfFd(fd.get(), entry.path));
      content = digest.ToString();
    }
    if (entry.type != oci::LayerEntry::Type::kDirectory) ++files;
    absl::StrAppend(&manifest, entry.path, "\t", static_cast<int>(entry.type), "\t", entry.mode,
                    "\t", content, "\n");
    output.spec.Add(entry);
  }
  output.content_key = Sha256Of(manifest).ToString();
  output.report = {
      {"files", absl::StrCat(files)}, {"bytes", absl::StrCat(bytes)}, {"why", selector.Why()}};
  return output;
}

absl::StatusOr<std::optional<PlannedLayer>> RuntimeFilesPlannedLayer(
    const BuildContext& context, std::vector<std::string> defaults,
    const std::string& binary_name) {
  RuntimeFilesOptions options;
  options.binary_name = binary_name;
  options.defaults = std::move(defaults);
  options.include = context.include_files;
  options.exclude = context.exclude_files;
  absl::StatusOr<LayerOutput> output = RuntimeFilesLayer(context.source_dir, options);
  if (!output.ok()) {
    return WithFailure(Annotate(output.status(), "runtime files"),
                       {FailureKind::kBadInput, "build", ""});
  }
  if (context.log) context.log(RuntimeFilesLogLine(*output));
  if (output->report["files"] == "0") return std::optional<PlannedLayer>();
  PlannedLayer layer;
  layer.role = LayerRole::kFiles;
  layer.produce = [output = *std::move(output)]() -> absl::StatusOr<LayerOutput> { return output; };
  return std::optional<PlannedLayer>(std::move(layer));
}

std::string RuntimeFilesLogLine(const LayerOutput& output) {
  auto get = [&](const char* key) {
    auto it = output.report.find(key);
    return it == output.report.end() ? std::string() : it->second;
  };
  return absl::StrCat("runtime files: ", get("files"), " files, ", get("bytes"), " bytes (",
                      get("why"), ")");
}

}  // namespace tempa::buildpacks::internal
