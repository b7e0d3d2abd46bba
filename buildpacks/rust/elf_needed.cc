#include "buildpacks/rust/elf_needed.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <optional>

#include "absl/strings/str_cat.h"

namespace tempa::buildpacks::rust {
namespace {

constexpr uint32_t kPtLoad = 1, kPtDynamic = 2, kPtInterp = 3;
constexpr uint64_t kDtNull = 0, kDtNeeded = 1, kDtStrtab = 5, kDtStrsz = 10;
constexpr size_t kMaxEntries = 4096;  // more headers or dynamic entries than this is hostile

struct Segment {
  uint32_t type = 0;
  uint64_t offset = 0, vaddr = 0, filesz = 0;
};

// Bounded reads of a little-endian file.
class ElfFile {
 public:
  ElfFile(int fd, uint64_t size, bool is64) : fd_(fd), size_(size), is64_(is64) {}
  bool is64() const { return is64_; }

  std::optional<std::string> Bytes(uint64_t offset, uint64_t length) const {
    if (offset > size_ || length > size_ - offset || length > (64u << 20)) return std::nullopt;
    std::string out(length, '\0');
    if (pread(fd_, out.data(), length, static_cast<off_t>(offset)) !=
        static_cast<ssize_t>(length)) {
      return std::nullopt;
    }
    return out;
  }
  // An unsigned little-endian integer of `width` bytes at `offset` in `data`.
  static uint64_t Le(const std::string& data, size_t offset, size_t width) {
    uint64_t v = 0;
    for (size_t i = 0; i < width; ++i) {
      v |= static_cast<uint64_t>(static_cast<unsigned char>(data[offset + i])) << (8 * i);
    }
    return v;
  }
  // Native word: 8 bytes in ELF64, 4 in ELF32.
  uint64_t Word(const std::string& data, size_t offset) const {
    return Le(data, offset, is64_ ? 8 : 4);
  }

 private:
  int fd_;
  uint64_t size_;
  bool is64_;
};

absl::Status Bad(const std::string& path, absl::string_view what) {
  return absl::InvalidArgumentError(absl::StrCat(path, ": not a usable ELF executable: ", what));
}

}  // namespace

absl::StatusOr<ElfDependencies> ReadElfDependencies(const std::string& path) {
  int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
  if (fd < 0) return absl::NotFoundError(absl::StrCat("open ", path, ": ", strerror(errno)));
  struct FdCloser {
    int fd;
    ~FdCloser() { close(fd); }
  } closer{fd};
  struct stat st;
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) return Bad(path, "not a regular file");

  ElfFile probe(fd, static_cast<uint64_t>(st.st_size), false);
  std::optional<std::string> ident = probe.Bytes(0, 16);
  if (!ident || ident->compare(0, 4,
                               "\x7f"
                               "ELF") != 0)
    return Bad(path, "no ELF magic");
  if ((*ident)[5] != 1) return Bad(path, "big-endian ELF is not supported");
  if ((*ident)[4] != 1 && (*ident)[4] != 2) return Bad(path, "unknown ELF class");
  ElfFile elf(fd, static_cast<uint64_t>(st.st_size), (*ident)[4] == 2);

  // ELF header fields: e_phoff, e_phentsize, e_phnum.
  std::optional<std::string> header = elf.Bytes(0, elf.is64() ? 64 : 52);
  if (!header) return Bad(path, "truncated header");
  uint64_t phoff = elf.is64() ? ElfFile::Le(*header, 32, 8) : ElfFile::Le(*header, 28, 4);
  uint64_t phentsize = ElfFile::Le(*header, elf.is64() ? 54 : 42, 2);
  uint64_t phnum = ElfFile::Le(*header, elf.is64() ? 56 : 44, 2);
  if (phnum > kMaxEntries || phentsize < (elf.is64() ? 56u : 32u)) {
    return Bad(path, "implausible program headers");
  }
  std::optional<std::string> table = elf.Bytes(phoff, phentsize * phnum);
  if (!table) return Bad(path, "program headers outside the file");

  std::vector<Segment> loads;
  std::optional<Segment> dynamic;
  ElfDependencies deps;
  for (uint64_t i = 0; i < phnum; ++i) {
    size_t at = i * phentsize;
    Segment s;
    s.type = static_cast<uint32_t>(ElfFile::Le(*table, at, 4));
    if (elf.is64()) {
      s.offset = ElfFile::Le(*table, at + 8, 8);
      s.vaddr = ElfFile::Le(*table, at + 16, 8);
      s.filesz = ElfFile::Le(*table, at + 32, 8);
    } else {
      s.offset = ElfFile::Le(*table, at + 4, 4);
      s.vaddr = ElfFile::Le(*table, at + 8, 4);
      s.filesz = ElfFile::Le(*table, at + 16, 4);
    }
    if (s.type == kPtLoad) loads.push_back(s);
    if (s.type == kPtDynamic) dynamic = s;
    if (s.type == kPtInterp) {
      std::optional<std::string> interp = elf.Bytes(s.offset, std::min<uint64_t>(s.filesz, 4096));
      if (!interp) return Bad(path, "PT_INTERP outside the file");
      deps.interpreter = interp->substr(0, interp->find('\0'));
    }
  }
  if (!dynamic) return deps;  // statically linked

  size_t entry_size = elf.is64() ? 16 : 8;
  std::optional<std::string> dyn =
      elf.Bytes(dynamic->offset, std::min<uint64_t>(dynamic->filesz, kMaxEntries * entry_size));
  if (!dyn) return Bad(path, "dynamic section outside the file");
  std::vector<uint64_t> needed_offsets;
  uint64_t strtab_vaddr = 0, strsz = 0;
  for (size_t at = 0; at + entry_size <= dyn->size(); at += entry_size) {
    uint64_t tag = elf.Word(*dyn, at);
    uint64_t value = elf.Word(*dyn, at + entry_size / 2);
    if (tag == kDtNull) break;
    if (tag == kDtNeeded) needed_offsets.push_back(value);
    if (tag == kDtStrtab) strtab_vaddr = value;
    if (tag == kDtStrsz) strsz = value;
  }
  if (needed_offsets.empty()) return deps;
  // DT_STRTAB is an address: map it to a file offset through the PT_LOAD that contains it.
  std::optional<uint64_t> strtab;
  for (const Segment& load : loads) {
    if (strtab_vaddr >= load.vaddr && strtab_vaddr - load.vaddr < load.filesz) {
      strtab = strtab_vaddr - load.vaddr + load.offset;
    }
  }
  if (!strtab || strsz == 0) return Bad(path, "DT_STRTAB is not in a loaded segment");
  std::optional<std::string> strings = elf.Bytes(*strtab, strsz);
  if (!strings) return Bad(path, "string table outside the file");
  for (uint64_t offset : needed_offsets) {
    if (offset >= strings->size()) return Bad(path, "DT_NEEDED outside the string table");
    size_t end = strings->find('\0', offset);
    if (end == std::string::npos) return Bad(path, "unterminated DT_NEEDED name");
    deps.needed.push_back(strings->substr(offset, end - offset));
  }
  return deps;
}

}  // namespace tempa::buildpacks::rust
