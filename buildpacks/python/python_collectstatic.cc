#include "buildpacks/python/python_collectstatic.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <fstream>
#include <vector>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "buildpacks/internal/fs_util.h"
#include "buildpacks/internal/runtime_files.h"
#include "buildpacks/internal/step_failure.h"
#include "buildpacks/python/python_buildpack.h"
#include "buildpacks/python/python_install.h"
#include "common/beneath.h"
#include "common/build_error.h"
#include "common/check.h"
#include "common/digest.h"
#include "common/status_macros.h"
#include "common/tree_copy.h"

namespace tempa::buildpacks::python {
namespace {

namespace fs = buildpacks::internal;

// Bump when the layer's layout or the collectstatic invocation changes.
constexpr char kStaticLayerVersion[] = "python-static-v1";
constexpr size_t kMaxSettingsBytes = 1 << 20;
constexpr size_t kMaxSettingsFiles = 32;
constexpr char kAppDir[] = "/app";
constexpr char kRootMarker[] = "tempa-static-root=";
constexpr char kSkipHint[] =
    "; to build without it, pass --build-env DISABLE_COLLECTSTATIC=1 or set collectstatic = false "
    "under [build] in tempa.toml";

// What collectstatic must not see or hash: version control and bytecode.
const std::vector<std::string>& ExcludedNames() {
  static const auto* names = new std::vector<std::string>{".git", "__pycache__"};
  return *names;
}

// "mysite.settings.prod" from manage.py's DJANGO_SETTINGS_MODULE, or "".
std::string SettingsModule(const std::string& root) {
  absl::StatusOr<std::string> manage = fs::ReadSmallFileBeneath(root, "manage.py", 1 << 20);
  if (!manage.ok()) return "";
  size_t at = manage->find("DJANGO_SETTINGS_MODULE");
  size_t quote = at == std::string::npos ? at : manage->find_first_of("\"'", at + 22);
  if (quote == std::string::npos) return "";
  size_t end = manage->find((*manage)[quote], quote + 1);
  if (end == std::string::npos) return "";
  std::string module = manage->substr(quote + 1, end - quote - 1);
  for (char c : module) {
    if (!absl::ascii_isalnum(static_cast<unsigned char>(c)) && c != '_' && c != '.') return "";
  }
  return module;
}

// The settings files to read, most likely first, each relative to the root.
std::vector<std::string> SettingsFiles(const std::string& root, const std::string& project) {
  std::vector<std::string> out;
  auto add = [&](const std::string& rel) {
    if (std::find(out.begin(), out.end(), rel) == out.end() &&
        fs::IsRegularFile(absl::StrCat(root, "/", rel))) {
      out.push_back(rel);
    }
  };
  if (std::string module = SettingsModule(root);
      !module.empty() && !absl::StrContains(module, "..")) {
    std::string path = absl::StrReplaceAll(module, {{".", "/"}});
    add(path + ".py");
    add(path + "/__init__.py");
  }
  add(project + "/settings.py");
  // A settings package (settings/base.py, settings/production.py): STATIC_ROOT is often in base.
  for (const std::string& dir : {project + "/settings"}) {
    absl::StatusOr<std::vector<std::string>> names = fs::ListDirBeneath(root, dir);
    if (!names.ok()) continue;
    for (const std::string& name : *names) {
      if (absl::EndsWith(name, ".py") && out.size() < kMaxSettingsFiles) add(dir + "/" + name);
    }
  }
  return out;
}

absl::Status Internal(absl::Status status) {
  return WithFailure(Annotate(status, "collectstatic"), {FailureKind::kInternal, "build", ""});
}
absl::Status BadInput(absl::Status status) {
  return WithFailure(status, {FailureKind::kBadInput, "build", ""});
}

// "/app/staticfiles" → "staticfiles". STATIC_ROOT comes from the app's code: anything but a
// plain path strictly inside /app is refused.
absl::StatusOr<std::string> StaticRootBelowApp(const std::string& printed) {
  absl::string_view rest = printed;
  std::string why;
  if (!absl::ConsumePrefix(&rest, "/app/")) {
    why = "it is not inside /app";
  } else {
    rest = absl::StripSuffix(rest, "/");
    for (absl::string_view part : absl::StrSplit(rest, '/')) {
      if (part.empty() || part == "." || part == ".." ||
          part.find('\0') != absl::string_view::npos) {
        why = "it is not a plain path";
      }
    }
  }
  if (!why.empty()) {
    return BadInput(absl::InvalidArgumentError(absl::StrCat(
        "STATIC_ROOT is \"", printed, "\": ", why,
        "; the image keeps only the app's directory, so set STATIC_ROOT to a directory of the app "
        "(BASE_DIR / \"staticfiles\")",
        kSkipHint)));
  }
  return std::string(rest);
}

// The venv collectstatic runs with. Unpacking the deps layer means creating thousands of files
// (seconds on a slow disk), so the venv is kept between builds in the app cache, in one slot
// named by the deps layer's identity (its input key and the build env, which together key the
// layer): a code-only rebuild mounts it as it is. No sandboxed step ever mounts the slot
// writable, so it stays what the layer holds.
constexpr char kVenvSlot[] = "python-venv";  // in cache_dir: key, venv/

struct VenvForStep {
  std::string path;      // mounted read-only at /opt/venv
  std::string identity;  // of the deps layer
  bool keep = false;     // move `path` into the slot after the step
};

std::string VenvIdentity(const CollectstaticInputs& inputs, const BuildContext& context) {
  std::string text = absl::StrCat("deps=", inputs.deps_input_key, "\n");
  for (const auto& [key, value] : context.build_env) {
    absl::StrAppend(&text, key.size(), ":", key, "=", value.size(), ":", value, "\n");
  }
  return Sha256Of(text).ToString();
}

absl::StatusOr<VenvForStep> AcquireVenv(const CollectstaticInputs& inputs,
                                        const BuildContext& context) {
  VenvForStep venv;
  venv.identity = VenvIdentity(inputs, context);
  const bool cached = !context.cache_dir.empty();
  // The deps install ran in this build: its output is the layer's content.
  if (fs::IsDirectory(context.scratch_dir + "/venv")) {
    venv.path = context.scratch_dir + "/venv";
    venv.keep = cached;
    return venv;
  }
  if (cached) {
    std::string slot = absl::StrCat(context.cache_dir, "/", kVenvSlot);
    absl::StatusOr<std::string> key = fs::ReadSmallFile(slot + "/key", 256);
    if (key.ok() && *key == venv.identity && fs::IsDirectory(slot + "/venv")) {
      venv.path = slot + "/venv";
      return venv;
    }
  }
  std::string unpacked = context.scratch_dir + "/deps-layer";
  if (!context.extract_layer) {
    return absl::FailedPreconditionError("the deps layer cannot be unpacked here");
  }
  if (context.log) context.log("collectstatic: unpacking the deps layer for its venv");
  RETURN_IF_ERROR(context.extract_layer(LayerRole::kDeps, unpacked));
  // The layer holds opt/venv/...: a real directory there (never a link to follow when the
  // sandbox mounts it).
  ASSIGN_OR_RETURN(UniqueFd root, OpenRootDirectory(unpacked));
  RETURN_IF_ERROR(
      Annotate(OpenBeneath(root.get(), kVenvDir + 1, O_RDONLY | O_DIRECTORY, unpacked).status(),
               "the unpacked deps layer"));
  venv.path = absl::StrCat(unpacked, kVenvDir);
  venv.keep = cached;
  return venv;
}

// Moves the venv into the slot for the next build; a failure only costs that build an unpack.
void KeepVenv(const VenvForStep& venv, const BuildContext& context) {
  if (!venv.keep) return;
  absl::StatusOr<UniqueFd> cache = OpenRootDirectory(context.cache_dir);
  if (!cache.ok()) return;
  std::string slot = absl::StrCat(context.cache_dir, "/", kVenvSlot);
  if (!RemoveTreeAt(cache->get(), kVenvSlot, slot).ok()) return;
  if (::mkdirat(cache->get(), kVenvSlot, 0700) != 0) return;
  // The same filesystem as the scratch directory, or no slot (EXDEV): never a copy.
  if (::rename(venv.path.c_str(), (slot + "/venv").c_str()) != 0) return;
  // The key last: a slot without one is never used.
  std::ofstream(slot + "/key.tmp", std::ios::trunc) << venv.identity;
  ::rename((slot + "/key.tmp").c_str(), (slot + "/key").c_str());
}

absl::StatusOr<LayerOutput> RunCollectstatic(const CollectstaticInputs& inputs,
                                             const BuildContext& context) {
  TEMPA_CHECK(context.sandbox != nullptr, "BuildContext.sandbox must be set");
  // The app as collectstatic sees it: a copy the build user owns and may write, of exactly the
  // files the app layer holds, so nothing .tempaignore leaves out reaches STATIC_ROOT.
  std::string app_host = context.scratch_dir + "/django-app";
  absl::StatusOr<std::unique_ptr<internal::RuntimeFilesFilter>> filter =
      internal::RuntimeFilesFilter::Make(
          context.source_dir, PythonAppFilesOptions(context.include_files, context.exclude_files));
  if (!filter.ok()) return WithFailure(filter.status(), {FailureKind::kBadInput, "build", ""});
  TreeCopyOptions copy;
  copy.exclude_names = ExcludedNames();
  copy.owner_from_parent = true;
  copy.skip = [&filter](const std::string& rel, bool is_dir) {
    return (*filter)->Skip(rel, is_dir);
  };
  if (absl::Status s = CopyTree(context.source_dir, app_host, copy); !s.ok()) return Internal(s);
  absl::StatusOr<VenvForStep> venv = AcquireVenv(inputs, context);
  if (!venv.ok()) return Internal(venv.status());
  const std::string venv_host = venv->path;

  SandboxCommand command;
  command.argv = {"/bin/sh", "-c",
                  absl::StrCat("python manage.py collectstatic --noinput && python manage.py "
                               "shell -c 'from django.conf import settings; print(\"",
                               kRootMarker, "\" + str(settings.STATIC_ROOT))'")};
  command.env = PythonStepEnv(context.build_env);
  command.env["PATH"] = absl::StrCat(kVenvDir, "/bin:/usr/bin:/bin");
  command.env["VIRTUAL_ENV"] = kVenvDir;
  command.cwd = kAppDir;
  command.mounts = {{app_host, kAppDir, true}, {venv_host, kVenvDir, false}};
  command.limits = context.limits;
  if (context.log) {
    context.log(absl::StrCat("$ python manage.py collectstatic --noinput (STATIC_ROOT is set in ",
                             inputs.settings_file, ")"));
  }
  std::string printed_root;
  absl::StatusOr<std::pair<SandboxResult, std::string>> ran = RunLogged(command, context);
  if (!ran.ok()) return Internal(ran.status());
  if (!ran->first.ok()) {
    return internal::StepFailed("python manage.py collectstatic", ran->first, ran->second,
                                command.limits, FailureKind::kCompile, kSkipHint);
  }
  for (absl::string_view line : absl::StrSplit(ran->second, '\n')) {
    if (absl::ConsumePrefix(&line, kRootMarker)) {
      printed_root = std::string(absl::StripTrailingAsciiWhitespace(line));
    }
  }
  KeepVenv(*venv, context);
  ASSIGN_OR_RETURN(std::string rel, StaticRootBelowApp(printed_root));

  // What the build wrote: reached beneath the copy without following a link, so a STATIC_ROOT
  // that is (or goes through) a symlink the app planted is refused rather than read.
  absl::StatusOr<UniqueFd> app_fd = OpenRootDirectory(app_host);
  if (!app_fd.ok()) return Internal(app_fd.status());
  if (absl::StatusOr<UniqueFd> dir =
          OpenBeneath(app_fd->get(), rel, O_RDONLY | O_DIRECTORY, kAppDir);
      !dir.ok()) {
    return BadInput(
        Annotate(dir.status(), absl::StrCat("STATIC_ROOT ", printed_root, " after collectstatic")));
  }
  LayerOutput output;
  oci::TreeOptions tree;
  tree.exclude_names = {"__pycache__"};
  if (absl::Status s = output.spec.AddTree(absl::StrCat(app_host, "/", rel),
                                           absl::StrCat(kAppDir + 1, "/", rel), tree);
      !s.ok()) {
    if (s.code() != absl::StatusCode::kInvalidArgument) return Internal(s);
    return BadInput(Annotate(s, "collectstatic left an unusable STATIC_ROOT"));
  }
  int64_t files = 0, bytes = 0;
  for (const oci::LayerEntry& entry : output.spec.entries()) {
    if (entry.type != oci::LayerEntry::Type::kFile) continue;
    ++files;
    struct stat st;
    if (::lstat(absl::StrCat(entry.source_root, "/", entry.source_path).c_str(), &st) == 0) {
      bytes += st.st_size;
    }
  }
  if (context.log) {
    context.log(
        absl::StrCat("collectstatic: ", files, " files, ", bytes, " bytes in ", printed_root));
  }
  output.report = {{"static_root", printed_root},
                   {"files", absl::StrCat(files)},
                   {"bytes", absl::StrCat(bytes)},
                   {"why", absl::StrCat("STATIC_ROOT is set in ", inputs.settings_file)}};
  return output;
}

}  // namespace

bool SetsStaticRoot(absl::string_view text) {
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    if (!absl::ConsumePrefix(&line, "STATIC_ROOT")) continue;  // module level only
    line = absl::StripLeadingAsciiWhitespace(line);
    if (!absl::ConsumePrefix(&line, "=") || absl::StartsWith(line, "=")) continue;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || absl::StartsWith(line, "#")) continue;
    if (line == "None" || absl::StartsWith(line, "None ") || absl::StartsWith(line, "None#")) {
      continue;
    }
    return true;
  }
  return false;
}

CollectstaticDecision DecideCollectstatic(const std::string& root, const std::string& project,
                                          const std::map<std::string, std::string>& build_env,
                                          std::optional<bool> configured) {
  CollectstaticDecision decision;
  if (project.empty() || !fs::IsRegularFile(root + "/manage.py")) return decision;
  for (const std::string& rel : SettingsFiles(root, project)) {
    absl::StatusOr<std::string> text = fs::ReadSmallFileBeneath(root, rel, kMaxSettingsBytes);
    if (text.ok() && SetsStaticRoot(*text)) {
      decision.settings_file = rel;
      break;
    }
  }
  if (decision.settings_file.empty()) {
    decision.reason =
        absl::StrCat("collectstatic: not run (STATIC_ROOT is not set in ", project, "'s settings)");
    return decision;
  }
  auto disabled = build_env.find("DISABLE_COLLECTSTATIC");
  if (disabled != build_env.end() && !disabled->second.empty() && disabled->second != "0") {
    decision.reason = absl::StrCat(
        "collectstatic: skipped (DISABLE_COLLECTSTATIC=", disabled->second, " in the build env)");
    return decision;
  }
  if (configured.has_value() && !*configured) {
    decision.reason = "collectstatic: skipped (collectstatic = false in tempa.toml)";
    return decision;
  }
  decision.run = true;
  decision.reason = absl::StrCat(
      "collectstatic: `python manage.py collectstatic --noinput` at "
      "build time (STATIC_ROOT is set in ",
      decision.settings_file, "); its files go in a layer of their own");
  return decision;
}

absl::StatusOr<PlannedLayer> CollectstaticLayer(const CollectstaticInputs& inputs,
                                                const BuildContext& context) {
  PlannedLayer layer;
  layer.role = LayerRole::kStatic;
  layer.input_key =
      Sha256Of(absl::StrCat(kStaticLayerVersion, "\napp=", inputs.app_key,
                            "\ndeps=", inputs.deps_input_key, "\nserver=", inputs.server_spec,
                            "\ninterpreter=", inputs.interpreter.Describe(), "\n"))
          .ToString();
  layer.produce = [inputs, context]() { return RunCollectstatic(inputs, context); };
  return layer;
}

}  // namespace tempa::buildpacks::python
