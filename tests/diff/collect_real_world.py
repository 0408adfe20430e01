#!/usr/bin/python3
"""Collects real-world versions, names, filenames and specifiers from this machine into
tests/diff/data/real_world.json, the committed corpus test_packaging_diff.py reads.

Re-run by hand when you want a fresher corpus (the test never runs it, so results do not depend
on what happens to be installed):

    /usr/bin/python3 tests/diff/collect_real_world.py

Sources: installed *.dist-info / *.egg-info directory names (Debian's dist-packages, pyenv and
any other Python on the disk), the wheels on disk (/usr/share/python-wheels, ensurepip bundles),
the setuptools and pip changelogs (every release since their first), the Debian changelogs of
python3-pip/setuptools/wheel/packaging (Debian version strings: mostly not PEP 440), pip's
vendor.txt pins, pyenv's python-build definitions (CPython, PyPy, Anaconda, ... names), and the
Requires-Python / Requires-Dist specifiers of installed METADATA files.
"""
import gzip
import json
import os
import re
import sys
from pathlib import Path

OUT = Path(__file__).resolve().parent / "data" / "real_world.json"

INFO_RE = re.compile(r"^(?P<name>.+?)-(?P<version>[^-]+?)\.(dist-info|egg-info)$")
REQ_SPEC_RE = re.compile(r"^[A-Za-z0-9._-]+\s*(\[[^\]]*\])?\s*\(?(?P<spec>[^;()]*)\)?\s*(;|$)")


def walk(roots, want):
    for root in roots:
        if not os.path.isdir(root):
            continue
        for dirpath, dirnames, filenames in os.walk(root):
            if dirpath.startswith(("/proc", "/sys", "/dev")):
                dirnames[:] = []
                continue
            for name in dirnames + filenames:
                if want(name):
                    yield os.path.join(dirpath, name)


def read_lines(path):
    opener = gzip.open if path.endswith(".gz") else open
    try:
        with opener(path, "rt", encoding="utf-8", errors="replace") as f:
            return f.read().splitlines()
    except OSError:
        return []


def main():
    roots = ["/usr/lib", "/usr/local/lib", "/usr/share/python-wheels", "/root/.pyenv/versions",
             "/opt"]
    versions, names, wheels, sdists, eggs, specs = set(), set(), set(), set(), set(), set()

    for path in walk(roots, lambda n: n.endswith((".dist-info", ".egg-info"))):
        m = INFO_RE.match(os.path.basename(path))
        if m:
            names.add(m["name"])
            versions.add(m["version"])
            sdists.add((f"{m['name']}-{m['version']}.tar.gz", m["name"]))
        if os.path.isdir(path):
            for meta in ("METADATA", "PKG-INFO"):
                for line in read_lines(os.path.join(path, meta)):
                    if line.startswith("Requires-Python:"):
                        specs.add(line.split(":", 1)[1].strip())
                    elif line.startswith("Requires-Dist:"):
                        rm = REQ_SPEC_RE.match(line.split(":", 1)[1].strip())
                        if rm and rm["spec"].strip():
                            specs.add(rm["spec"].strip())
                    elif line.startswith("Name:"):
                        names.add(line.split(":", 1)[1].strip())
                    elif line.startswith("Version:"):
                        versions.add(line.split(":", 1)[1].strip())
                    elif not line:
                        break

    for path in walk(roots, lambda n: n.endswith((".whl", ".egg"))):
        base = os.path.basename(path)
        (wheels if base.endswith(".whl") else eggs).add(base)

    docs = "/usr/share/doc"
    for line in read_lines(f"{docs}/python3-setuptools/changelog.gz"):
        if re.match(r"^v\d", line):
            versions.add(line[1:].strip())
    for line in read_lines(f"{docs}/python3-pip/changelog.gz"):
        m = re.match(r"^(\d[^ ]*) \(", line)
        if m:
            versions.add(m[1])
    for pkg in ("python3-pip", "python3-setuptools", "python3-wheel", "python3-packaging"):
        for line in read_lines(f"{docs}/{pkg}/changelog.Debian.gz"):
            m = re.match(r"^\S+ \(([^)]+)\)", line)
            if m:
                versions.add(m[1])
    for path in walk(roots, lambda n: n == "vendor.txt"):
        for line in read_lines(path):
            m = re.match(r"^([A-Za-z0-9._-]+)==(\S+)", line)
            if m:
                names.add(m[1])
                versions.add(m[2])
    build_defs = "/root/.pyenv/plugins/python-build/share/python-build"
    if os.path.isdir(build_defs):
        for entry in os.listdir(build_defs):
            if entry.startswith("patches"):
                continue
            versions.add(entry)
            m = re.match(r"^([A-Za-z][A-Za-z0-9]*(?:-[A-Za-z]+)?)-(\d.*)$", entry)
            if m:
                names.add(m[1])
                versions.add(m[2])
                sdists.add((entry + ".tar.gz", m[1]))

    corpus = {
        "versions": sorted(versions),
        "names": sorted(names),
        "wheels": sorted(wheels),
        "sdists": sorted(sdists),
        "eggs": sorted(eggs),
        "specifiers": sorted(specs),
    }
    OUT.parent.mkdir(exist_ok=True)
    OUT.write_text(json.dumps(corpus, indent=0, ensure_ascii=True) + "\n")
    print({k: len(v) for k, v in corpus.items()}, file=sys.stderr)


if __name__ == "__main__":
    main()
