#!/usr/bin/env python3
"""Makes wheels for Tempa's Python tests, without PyPI.

  wheels.py pure OUT_DIR NAME VERSION [REQUIREMENT...]
      A tiny pure-Python wheel: module NAME (lowercase, "-" → "_") with
      `VERSION = "<version>"` and `def hello(): return "hello from NAME"`.
  wheels.py debian OUT_DIR SPEC...
      Wheels from Debian's packages (apt-get download + dpkg-deb -x): SPEC is
      DEB[+DEB...][@EXTRA_REQUIREMENT[,EXTRA_REQUIREMENT...]] — several .debs merge into one
      wheel (setuptools' pkg_resources lives in python3-pkg-resources); EXTRA_REQUIREMENT adds a
      Requires-Dist Debian patched out (gunicorn's setuptools), and -NAME drops the wheel's own
      Requires-Dist lines for NAME (an upstream pin Debian relaxed). The .debs are kept in
      OUT_DIR/debs, so reruns need no network (the wheels are rebuilt: a few seconds).

Wheels are written deterministically (sorted entries, fixed timestamps and modes). Prints the
wheel paths, one per line.
"""
import base64
import fcntl
import glob
import hashlib
import os
import re
import shutil
import subprocess
import sys
import tempfile
import zipfile

DIST_PACKAGES = "usr/lib/python3/dist-packages"


def normalize(name):
    return re.sub(r"[-_.]+", "-", name).lower()


def write_wheel(out_dir, name, version, files, tag="py3-none-any"):
    """files: {archive path: bytes}. Adds WHEEL and RECORD; returns the wheel's path."""
    dist = re.sub(r"[-_.]+", "_", name)
    info = f"{dist}-{version}.dist-info"
    files = dict(files)
    purelib = "true" if tag == "py3-none-any" else "false"
    files[f"{info}/WHEEL"] = (
        f"Wheel-Version: 1.0\nGenerator: tempa-tests\nRoot-Is-Purelib: {purelib}\nTag: {tag}\n"
    ).encode()
    record = []
    for path in sorted(files):
        digest = base64.urlsafe_b64encode(hashlib.sha256(files[path]).digest()).rstrip(b"=")
        record.append(f"{path},sha256={digest.decode()},{len(files[path])}")
    record.append(f"{info}/RECORD,,")
    files[f"{info}/RECORD"] = ("\n".join(record) + "\n").encode()
    path = os.path.join(out_dir, f"{dist}-{version}-{tag}.whl")
    tmp = path + ".tmp"
    with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED) as zf:
        for name_in_zip in sorted(files):
            zi = zipfile.ZipInfo(name_in_zip, date_time=(1980, 1, 1, 0, 0, 0))
            zi.external_attr = 0o644 << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(zi, files[name_in_zip])
    os.replace(tmp, path)
    return path


def pure(out_dir, name, version, requirements):
    module = re.sub(r"[-.]+", "_", name).lower()
    dist = re.sub(r"[-_.]+", "_", name)
    meta = f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
    meta += "".join(f"Requires-Dist: {r}\n" for r in requirements)
    code = f'VERSION = "{version}"\n\n\ndef hello():\n    return "hello from {name}"\n'
    return write_wheel(out_dir, name, version, {
        f"{module}/__init__.py": code.encode(),
        f"{dist}-{version}.dist-info/METADATA": meta.encode(),
    })


def requires_from_egg_info(text):
    """egg-info requires.txt → Requires-Dist lines (sections are extras and/or markers)."""
    out, extra, marker = [], "", ""
    for line in text.splitlines():
        line = line.strip()
        if not line:
            continue
        if line.startswith("["):
            section = line[1:-1]
            extra, _, marker = section.partition(":")
            continue
        conds = []
        if marker:
            conds.append(f"({marker})" if extra else marker)
        if extra:
            conds.append(f'extra == "{extra}"')
        out.append(line + (" ; " + " and ".join(conds) if conds else ""))
    return out


def fetch_deb(debs_dir, package):
    found = glob.glob(os.path.join(debs_dir, f"{package}_*.deb"))
    if not found:
        subprocess.run(["apt-get", "download", "-q", package], cwd=debs_dir, check=True,
                       stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        found = glob.glob(os.path.join(debs_dir, f"{package}_*.deb"))
    return sorted(found)[-1]


def debian(out_dir, spec):
    packages, _, extra = spec.partition("@")
    packages = packages.split("+")
    debs_dir = os.path.join(out_dir, "debs")
    os.makedirs(debs_dir, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for package in packages:
            subprocess.run(["dpkg-deb", "-x", fetch_deb(debs_dir, package), tmp], check=True)
        root = os.path.join(tmp, DIST_PACKAGES)
        infos = sorted(e for e in os.listdir(root) if e.endswith((".egg-info", ".dist-info")))
        main = infos[0]  # the first .deb's distribution names the wheel
        with open(os.path.join(root, main, "PKG-INFO" if main.endswith(".egg-info") else "METADATA")) as f:
            meta = f.read()
        name = re.search(r"^Name: (.+)$", meta, re.M).group(1).strip()
        version = re.search(r"^Version: (.+)$", meta, re.M).group(1).strip()
        requires = [l[len("Requires-Dist: "):] for l in meta.splitlines() if l.startswith("Requires-Dist: ")]
        req_file = os.path.join(root, main, "requires.txt")
        if os.path.exists(req_file):
            requires = requires_from_egg_info(open(req_file).read())
        # "-NAME" drops the upstream pins of NAME that Debian relaxed (FastAPI 0.92's
        # starlette<0.26, while bookworm pairs it with starlette 0.26.1).
        dropped = {normalize(r[1:]) for r in extra.split(",") if r.startswith("-")}
        requires = [r for r in requires
                    if normalize(re.split(r"[\s<>=!~;\[(]", r, 1)[0]) not in dropped]
        requires += [r for r in extra.split(",") if r and not r.startswith("-")]
        head, _, body = meta.partition("\n\n")
        head = "\n".join(l for l in head.splitlines() if not l.startswith("Requires-Dist: "))
        meta = head + "\n" + "".join(f"Requires-Dist: {r}\n" for r in requires) + "\n" + body
        dist = re.sub(r"[-_.]+", "_", name)
        info = f"{dist}-{version}.dist-info"
        files = {f"{info}/METADATA": meta.encode()}
        ep = os.path.join(root, main, "entry_points.txt")
        if os.path.exists(ep):
            files[f"{info}/entry_points.txt"] = open(ep, "rb").read()
        binary = False
        for dirpath, dirnames, filenames in os.walk(root):
            rel_dir = os.path.relpath(dirpath, root)
            if rel_dir.split(os.sep)[0] in infos:
                continue
            dirnames[:] = [d for d in dirnames if d != "__pycache__"]
            for fn in filenames:
                rel = os.path.normpath(os.path.join(rel_dir, fn))
                full = os.path.join(dirpath, fn)
                if not os.path.exists(full):
                    continue  # Debian links bundled assets (jquery) to other packages
                binary |= fn.endswith(".so")
                files[rel] = open(full, "rb").read()
        tag = "cp311-cp311-linux_x86_64" if binary else "py3-none-any"
        return write_wheel(out_dir, name, version, files, tag)


def main(argv):
    if len(argv) < 3:
        sys.exit(__doc__)
    out_dir = argv[2]
    os.makedirs(out_dir, exist_ok=True)
    # Tests running in parallel share the wheel cache: one writer at a time.
    lock = open(os.path.join(out_dir, ".lock"), "w")
    fcntl.flock(lock, fcntl.LOCK_EX)
    if argv[1] == "pure":
        print(pure(out_dir, argv[3], argv[4], argv[5:]))
    elif argv[1] == "debian":
        for spec in argv[3:]:
            print(debian(out_dir, spec))
    else:
        sys.exit(__doc__)


if __name__ == "__main__":
    main(sys.argv)
