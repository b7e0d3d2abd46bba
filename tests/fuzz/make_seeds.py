#!/usr/bin/env python3
"""Writes the binary seeds of tests/fuzz/corpus: tiny ELF executables (64- and 32-bit, dynamic and
static) and tiny .deb packages (dpkg-deb, one per data.tar compression). Run from anywhere; the
outputs are committed, this script is only for regenerating them."""
import os
import shutil
import struct
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
CORPUS = os.path.join(HERE, "corpus")


def elf(is64, interp, needed):
    base = 0x400000
    ehsize, phentsize = (64, 56) if is64 else (52, 32)
    phnum = 3 if needed else 2
    at = ehsize + phnum * phentsize
    interp_bytes = interp.encode() + b"\0"
    interp_off = at
    at += len(interp_bytes)
    strtab = b"\0"
    offsets = []
    for name in needed:
        offsets.append(len(strtab))
        strtab += name.encode() + b"\0"
    strtab_off = at
    at += len(strtab)
    at = (at + 7) & ~7
    dyn_off = at
    word = "Q" if is64 else "I"
    entries = [(1, o) for o in offsets] + [(5, base + strtab_off), (10, len(strtab)), (0, 0)]
    dynamic = b"".join(struct.pack("<" + word * 2, t, v) for t, v in entries) if needed else b""
    total = dyn_off + len(dynamic)

    def phdr(ptype, offset, size):
        if is64:
            return struct.pack("<IIQQQQQQ", ptype, 4, offset, base + offset, base + offset, size,
                               size, 8)
        return struct.pack("<IIIIIIII", ptype, offset, base + offset, base + offset, size, size,
                           4, 4)

    phdrs = phdr(3, interp_off, len(interp_bytes))
    phdrs += struct.pack("<IIQQQQQQ", 1, 5, 0, base, base, total, total, 0x1000) if is64 else \
        struct.pack("<IIIIIIII", 1, 0, base, base, total, total, 5, 0x1000)
    if needed:
        phdrs += phdr(2, dyn_off, len(dynamic))
    ident = b"\x7fELF" + bytes([2 if is64 else 1, 1, 1]) + b"\0" * 9
    if is64:
        header = ident + struct.pack("<HHIQQQIHHHHHH", 2, 62, 1, base, ehsize, 0, 0, ehsize,
                                     phentsize, phnum, 64, 0, 0)
    else:
        header = ident + struct.pack("<HHIIIIIHHHHHH", 2, 3, 1, base, ehsize, 0, 0, ehsize,
                                     phentsize, phnum, 40, 0, 0)
    out = bytearray(total)
    out[0:len(header)] = header
    out[ehsize:ehsize + len(phdrs)] = phdrs
    out[interp_off:interp_off + len(interp_bytes)] = interp_bytes
    out[strtab_off:strtab_off + len(strtab)] = strtab
    out[dyn_off:dyn_off + len(dynamic)] = dynamic
    return bytes(out)


def write(path, data):
    os.makedirs(os.path.dirname(path), exist_ok=True)
    with open(path, "wb") as f:
        f.write(data)


def debs():
    with tempfile.TemporaryDirectory() as tmp:
        root = os.path.join(tmp, "pkg")
        os.makedirs(os.path.join(root, "DEBIAN"))
        os.makedirs(os.path.join(root, "usr/bin"))
        os.makedirs(os.path.join(root, "usr/share/doc/seed"))
        with open(os.path.join(root, "DEBIAN/control"), "w") as f:
            f.write("Package: seed\nVersion: 1.0\nArchitecture: all\n"
                    "Maintainer: Tempa <tempa@example.com>\nDescription: fuzz seed\n")
        with open(os.path.join(root, "usr/bin/seed"), "w") as f:
            f.write("#!/bin/sh\necho seed\n")
        os.chmod(os.path.join(root, "usr/bin/seed"), 0o755)
        os.symlink("seed", os.path.join(root, "usr/bin/seed-link"))
        os.link(os.path.join(root, "usr/bin/seed"), os.path.join(root, "usr/bin/seed-hard"))
        with open(os.path.join(root, "usr/share/doc/seed/copyright"), "w") as f:
            f.write("public domain\n")
        for z in ["gzip", "xz", "zstd"]:
            deb = os.path.join(tmp, f"seed-{z}.deb")
            subprocess.run(["dpkg-deb", "--root-owner-group", f"-Z{z}", "--build", root, deb],
                           check=True, stdout=subprocess.DEVNULL,
                           env=dict(os.environ, SOURCE_DATE_EPOCH="0"))
            shutil.copy(deb, os.path.join(CORPUS, "deb_reader_fuzz", f"{z}.deb"))


def main():
    write(os.path.join(CORPUS, "elf_needed_fuzz", "elf64_dynamic"),
          elf(True, "/lib64/ld-linux-x86-64.so.2", ["libgcc_s.so.1", "libc.so.6"]))
    write(os.path.join(CORPUS, "elf_needed_fuzz", "elf32_dynamic"),
          elf(False, "/lib/ld-linux.so.2", ["libc.so.6"]))
    write(os.path.join(CORPUS, "elf_needed_fuzz", "elf64_no_dynamic"),
          elf(True, "/lib64/ld-linux-x86-64.so.2", []))
    debs()
    return 0


if __name__ == "__main__":
    sys.exit(main())
