#include "deploy/image/registry_image_unpacker.h"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <map>
#include <set>
#include <thread>
#include <utility>

#include "absl/base/thread_annotations.h"
#include "absl/container/flat_hash_set.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/synchronization/mutex.h"
#include "common/beneath.h"
#include "common/registry/image_reference.h"
#include "common/status_macros.h"
#include "deploy/image/beneath_tree.h"
#include "deploy/image/dir_layer_chains.h"
#include "deploy/image/image_pull.h"

namespace tempa::deploy {
namespace {

constexpr char kImagesDir[] = "images";
constexpr char kTmpDir[] = "tmp";
constexpr char kChainsDir[] = "chains";
constexpr char kLockFile[] = "lock";
// Sync queue entries for snapshots (images go by their bare hex).
constexpr char kChainPrefix[] = "chain/";
// Written into images/<hex> once everything in it is on disk.
constexpr char kSyncedFile[] = "synced";

// Makes (when missing) and opens a directory Tempa owns, refusing a symlink or another owner,
// and sets its mode.
absl::StatusOr<UniqueFd> OwnedDirectory(const std::string& path, mode_t mode) {
  if (::mkdir(path.c_str(), 0700) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "mkdir", path);
  }
  ASSIGN_OR_RETURN(UniqueFd fd, OpenRootDirectory(path));
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "stat", path);
  if (st.st_uid != ::geteuid()) {
    return absl::FailedPreconditionError(
        absl::StrCat(path, " is owned by uid ", st.st_uid, ", not by the deployer (uid ",
                     ::geteuid(), "); give the deployer a work directory of its own"));
  }
  if ((st.st_mode & 07777) != mode && ::fchmod(fd.get(), mode) != 0) {
    return ErrnoStatus(errno, "chmod", path);
  }
  return fd;
}

bool IsHex64(absl::string_view s) {
  if (s.size() != 64) return false;
  for (char c : s) {
    if (!((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f'))) return false;
  }
  return true;
}

class RegistryImageUnpacker : public ImageUnpacker {
 public:
  RegistryImageUnpacker(RegistryImageUnpackerOptions options, registry::HttpTransport* transport,
                        UniqueFd lock, UniqueFd images, UniqueFd tmp, UniqueFd chains)
      : options_(std::move(options)),
        transport_(transport),
        images_dir_(absl::StrCat(options_.work_dir, "/", kImagesDir)),
        tmp_dir_(absl::StrCat(options_.work_dir, "/", kTmpDir)),
        lock_(std::move(lock)),
        images_(std::move(images)),
        tmp_(std::move(tmp)),
        chains_(std::move(chains), absl::StrCat(options_.work_dir, "/", kChainsDir), options_.sync,
                [this](const std::string& hex) { QueueSync(absl::StrCat(kChainPrefix, hex)); }) {
    if (options_.sync) syncer_ = std::thread([this] { SyncLoop(); });
  }

  ~RegistryImageUnpacker() override {
    {
      absl::MutexLock lock(&mu_);
      stopping_ = true;
    }
    if (syncer_.joinable()) syncer_.join();
  }

  absl::StatusOr<UnpackedImage> Unpack(absl::string_view image) override {
    ASSIGN_OR_RETURN(registry::ImageReference ref, registry::ImageReference::Parse(image));
    if (!ref.digest()) {
      return absl::InvalidArgumentError(absl::StrCat(
          "image ", image, " is not named by digest; releases run an exact image: give it as ",
          ref.registry(), "/", ref.repository(), "@sha256:<hex> (the digest the build pushed)"));
    }
    const std::string hex = ref.digest()->hex();
    absl::Mutex* image_mu = ImageMutex(hex);
    absl::MutexLock image_lock(image_mu);

    absl::StatusOr<UnpackedImage> done = LoadUnpacked(hex);
    if (!absl::IsNotFound(done.status())) return done;

    std::string tmp_name = absl::StrCat("unpack-", hex, "-", ::getpid(), "-", ++sequence_);
    std::string tmp_path = absl::StrCat(tmp_dir_, "/", tmp_name);
    {
      // Known as in flight before it exists, so a concurrent Prune never takes it for a leftover.
      absl::MutexLock lock(&mu_);
      in_flight_.insert(tmp_name);
    }
    if (::mkdirat(tmp_.get(), tmp_name.c_str(), 0700) != 0) {
      absl::Status error = ErrnoStatus(errno, "mkdir", tmp_path);
      absl::MutexLock lock(&mu_);
      in_flight_.erase(tmp_name);
      return error;
    }
    absl::Status status = UnpackInto(ref, tmp_name, tmp_path, hex);
    if (!status.ok()) {
      absl::Status removed = RemoveBeneath(tmp_.get(), tmp_name, tmp_path);
      (void)removed;  // the pull's error is the one to report; Prune retries the removal
    }
    {
      absl::MutexLock lock(&mu_);
      in_flight_.erase(tmp_name);
    }
    if (!status.ok()) return status;
    return LoadUnpacked(hex);
  }

  absl::Status Prune(const std::vector<std::string>& keep) override {
    std::set<std::string> kept(keep.begin(), keep.end());
    ASSIGN_OR_RETURN(std::vector<std::string> names, ListDirectory(images_.get(), images_dir_));
    for (const std::string& name : names) {
      if (!IsHex64(name) || kept.count(absl::StrCat("sha256:", name)) > 0) continue;
      absl::MutexLock image_lock(ImageMutex(name));
      RETURN_IF_ERROR(Discard(name));
    }
    // Snapshots no kept image is built on.
    absl::flat_hash_set<std::string> bases;
    ASSIGN_OR_RETURN(names, ListDirectory(images_.get(), images_dir_));
    for (const std::string& name : names) {
      absl::StatusOr<std::vector<Digest>> diff_ids = DiffIds(name);
      if (!diff_ids.ok() || diff_ids->size() < 2) continue;
      std::vector<Digest> chain = ChainIds(*diff_ids);
      bases.insert(chain[chain.size() - 2].hex());
      bases.insert(chain[0].hex());
    }
    RETURN_IF_ERROR(chains_.Prune(bases));
    // Leftovers of unpacks that crashed.
    ASSIGN_OR_RETURN(std::vector<std::string> temps, ListDirectory(tmp_.get(), tmp_dir_));
    absl::MutexLock lock(&mu_);
    for (const std::string& name : temps) {
      if (in_flight_.contains(name)) continue;
      RETURN_IF_ERROR(RemoveBeneath(tmp_.get(), name, absl::StrCat(tmp_dir_, "/", name)));
    }
    return absl::OkStatus();
  }

 private:
  absl::Mutex* ImageMutex(const std::string& hex) {
    absl::MutexLock lock(&mu_);
    std::unique_ptr<absl::Mutex>& mu = image_mutexes_[hex];
    if (mu == nullptr) mu = std::make_unique<absl::Mutex>();
    return mu.get();
  }

  // Removes images/<hex>, renamed out of images/ first so no reader ever sees it half-removed.
  // The caller holds the image's mutex.
  absl::Status Discard(const std::string& hex) {
    std::string doomed = absl::StrCat("prune-", hex, "-", ::getpid(), "-", ++sequence_);
    {
      absl::MutexLock lock(&mu_);
      in_flight_.insert(doomed);  // Prune's sweep of tmp/ leaves it to us
    }
    absl::Status status;
    if (::renameat(images_.get(), hex.c_str(), tmp_.get(), doomed.c_str()) == 0) {
      status = RemoveBeneath(tmp_.get(), doomed, absl::StrCat(tmp_dir_, "/", doomed));
    } else if (errno != ENOENT) {
      status = ErrnoStatus(errno, "rename", absl::StrCat(images_dir_, "/", hex));
    }
    absl::MutexLock lock(&mu_);
    in_flight_.erase(doomed);
    return status;
  }

  absl::Status UnpackInto(const registry::ImageReference& ref, const std::string& tmp_name,
                          const std::string& tmp_path, const std::string& hex) {
    int fd =
        ::openat(tmp_.get(), tmp_name.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "open directory", tmp_path);
    UniqueFd dir(fd);
    registry::RegistryClient client(ref.registry(), transport_, options_.registry);
    ASSIGN_OR_RETURN(PulledImage pulled,
                     PullInto(client, ref, dir.get(), tmp_path, options_, &chains_));
    if (::renameat(tmp_.get(), tmp_name.c_str(), images_.get(), hex.c_str()) != 0) {
      if (errno != ENOTEMPTY && errno != EEXIST) {
        return ErrnoStatus(errno, "rename into place", absl::StrCat(images_dir_, "/", hex));
      }
      // An incomplete image someone tampered with (ours are published whole): replace it.
      RETURN_IF_ERROR(Discard(hex));
      if (::renameat(tmp_.get(), tmp_name.c_str(), images_.get(), hex.c_str()) != 0) {
        return ErrnoStatus(errno, "rename into place", absl::StrCat(images_dir_, "/", hex));
      }
    }
    if (options_.sync) {
      {
        absl::MutexLock lock(&mu_);
        unsynced_.insert(hex);
      }
      QueueSync(hex);
    }
    return absl::OkStatus();
  }

  // Whether images/<hex> (open as `image_fd`) is safely on disk, or was published by this
  // instance and is being flushed (its files are in the page cache meanwhile).
  bool Synced(int image_fd, const std::string& hex) {
    struct stat st;
    if (::fstatat(image_fd, kSyncedFile, &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG(st.st_mode)) {
      return true;
    }
    absl::MutexLock lock(&mu_);
    return unsynced_.contains(hex);
  }

  void QueueSync(const std::string& item) {
    if (!options_.sync) return;
    absl::MutexLock lock(&mu_);
    sync_queue_.push_back(item);
  }

  // Flushes published images in the background, off the deploy's critical path (a syncfs can
  // take seconds on a busy disk), then marks each with kSyncedFile. Drains the queue before it
  // stops.
  void SyncLoop() {
    while (true) {
      std::string hex;
      {
        absl::MutexLock lock(&mu_);
        mu_.Await(absl::Condition(
            +[](RegistryImageUnpacker* u) ABSL_EXCLUSIVE_LOCKS_REQUIRED(u->mu_) {
              return u->stopping_ || !u->sync_queue_.empty();
            },
            this));
        if (sync_queue_.empty()) return;
        hex = sync_queue_.front();
        sync_queue_.pop_front();
      }
      if (absl::StartsWith(hex, kChainPrefix)) {
        if (::syncfs(images_.get()) == 0) chains_.MarkSynced(hex.substr(strlen(kChainPrefix)));
        continue;
      }
      // A failure leaves the image unmarked: a later instance pulls it again. The mark is
      // written under the image's mutex, so Prune never removes a directory it is writing in.
      if (::syncfs(images_.get()) == 0) {
        absl::MutexLock image_lock(ImageMutex(hex));
        int fd =
            ::openat(images_.get(), hex.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
        if (fd >= 0) {
          UniqueFd image(fd);
          int marker =
              ::openat(image.get(), kSyncedFile, O_WRONLY | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600);
          if (marker >= 0) {
            ::fsync(marker);
            ::close(marker);
            ::fsync(image.get());
          }
        }
      }
      absl::MutexLock lock(&mu_);
      unsynced_.erase(hex);
    }
  }

  // The diff_ids of the unpacked image `hex`.
  absl::StatusOr<std::vector<Digest>> DiffIds(const std::string& hex) {
    std::string dir = absl::StrCat(images_dir_, "/", hex);
    UniqueFd image(
        ::openat(images_.get(), hex.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
    if (!image.valid()) return ErrnoStatus(errno, "open directory", dir);
    ASSIGN_OR_RETURN(std::string json,
                     ReadSmallFile(image.get(), kConfigFile, dir, options_.max_config_bytes));
    ASSIGN_OR_RETURN(oci::ImageConfig config, oci::ParseConfig(json));
    return config.diff_ids;
  }

  // The image as an earlier Unpack left it; NotFound when it is not (completely) there.
  absl::StatusOr<UnpackedImage> LoadUnpacked(const std::string& hex) {
    std::string dir = absl::StrCat(images_dir_, "/", hex);
    int fd = ::openat(images_.get(), hex.c_str(), O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
    if (fd < 0) return ErrnoStatus(errno, "open directory", dir);
    UniqueFd image(fd);
    if (options_.sync && !Synced(image.get(), hex)) {
      return absl::NotFoundError(absl::StrCat(dir,
                                              " was never flushed to disk (the machine or "
                                              "the deployer stopped before); pulling it again"));
    }
    ASSIGN_OR_RETURN(std::string config_json,
                     ReadSmallFile(image.get(), kConfigFile, dir, options_.max_config_bytes));
    absl::StatusOr<oci::ImageConfig> config = oci::ParseConfig(config_json);
    if (!config.ok()) return Annotate(config.status(), dir);
    UnpackedImage out;
    out.manifest_digest = absl::StrCat("sha256:", hex);
    out.rootfs = absl::StrCat(dir, "/rootfs");
    out.config = RunConfigOf(*config);
    return out;
  }

  const RegistryImageUnpackerOptions options_;
  registry::HttpTransport* const transport_;
  const std::string images_dir_;
  const std::string tmp_dir_;
  const UniqueFd lock_;  // flock'ed: one unpacker per work directory
  const UniqueFd images_;
  const UniqueFd tmp_;
  std::atomic<uint64_t> sequence_{0};

  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<absl::Mutex>> image_mutexes_ ABSL_GUARDED_BY(mu_);
  absl::flat_hash_set<std::string> in_flight_ ABSL_GUARDED_BY(mu_);
  // Published by this instance, not yet marked synced; and the syncer's work.
  absl::flat_hash_set<std::string> unsynced_ ABSL_GUARDED_BY(mu_);
  std::deque<std::string> sync_queue_ ABSL_GUARDED_BY(mu_);
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::thread syncer_;
  DirLayerChains chains_;
};

}  // namespace

absl::StatusOr<std::unique_ptr<ImageUnpacker>> MakeRegistryImageUnpacker(
    RegistryImageUnpackerOptions options, registry::HttpTransport* transport) {
  if (options.work_dir.empty()) {
    return absl::InvalidArgumentError("the image unpacker needs a work directory");
  }
  if (options.work_dir.front() != '/') {
    char cwd[4096];
    if (::getcwd(cwd, sizeof(cwd)) == nullptr) return ErrnoStatus(errno, "getcwd");
    options.work_dir = absl::StrCat(cwd, "/", options.work_dir);
  }
  while (options.work_dir.size() > 1 && options.work_dir.back() == '/') options.work_dir.pop_back();
  if (::mkdir(options.work_dir.c_str(), 0711) != 0 && errno != EEXIST) {
    return ErrnoStatus(errno, "mkdir", options.work_dir);
  }
  // Rootfs paths are handed out by name: nobody else may rename what is in the work directory.
  struct stat st;
  if (::stat(options.work_dir.c_str(), &st) != 0)
    return ErrnoStatus(errno, "stat", options.work_dir);
  if (st.st_uid != ::geteuid() || (st.st_mode & 0022) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("work directory ", options.work_dir, " must be owned by the deployer (uid ",
                     ::geteuid(), ") and writable by nobody else; it is uid ", st.st_uid, " mode ",
                     absl::StrFormat("%04o", st.st_mode & 07777), " (chown it, then chmod go-w)"));
  }
  // One unpacker per work directory, across processes: Prune sweeps tmp/ of what it does not
  // know, and the image mutexes are this process's.
  std::string lock_path = absl::StrCat(options.work_dir, "/", kLockFile);
  UniqueFd lock(::open(lock_path.c_str(), O_RDWR | O_CREAT | O_NOFOLLOW | O_CLOEXEC, 0600));
  if (!lock.valid()) return ErrnoStatus(errno, "open", lock_path);
  if (::flock(lock.get(), LOCK_EX | LOCK_NB) != 0) {
    if (errno != EWOULDBLOCK) return ErrnoStatus(errno, "lock", lock_path);
    return absl::FailedPreconditionError(
        absl::StrCat(options.work_dir,
                     " is in use by another image unpacker (another deployer?); give each "
                     "deployer a work directory of its own"));
  }
  ASSIGN_OR_RETURN(UniqueFd images,
                   OwnedDirectory(absl::StrCat(options.work_dir, "/", kImagesDir), 0711));
  ASSIGN_OR_RETURN(UniqueFd tmp,
                   OwnedDirectory(absl::StrCat(options.work_dir, "/", kTmpDir), 0700));
  ASSIGN_OR_RETURN(UniqueFd chains,
                   OwnedDirectory(absl::StrCat(options.work_dir, "/", kChainsDir), 0700));
  return std::make_unique<RegistryImageUnpacker>(std::move(options), transport, std::move(lock),
                                                 std::move(images), std::move(tmp),
                                                 std::move(chains));
}

}  // namespace tempa::deploy
