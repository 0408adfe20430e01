"""Differential test: pydepot's model library against Python's packaging (and pip).

Thousands of versions, names, filenames and specifiers, real and generated, go through both
pydepot (tests/tools/model_tool.cc, path in $PYDEPOT_MODEL_TOOL, default
build/tests/pydepot_model_tool) and Debian 12's python3-packaging 23.0 (for legacy sdists with a
known project, pip 23.0.1's own splitting code, copied below). The two must agree, except where
an entry of DELIBERATE_DIFFERENCES says what we do instead and why; the test also fails when an
entry no longer changes any outcome, so the table cannot go stale. docs/differential-testing.md
explains the design and lists the table.

Run with Debian's interpreter (the `python3` on PATH may be a pyenv one without packaging):

    /usr/bin/python3 -m pytest tests/diff
"""
from __future__ import annotations

import collections
import json
import os
import posixpath
import random
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

import pytest
from packaging.specifiers import InvalidSpecifier, Specifier, SpecifierSet
from packaging.utils import (
    InvalidSdistFilename,
    InvalidWheelFilename,
    canonicalize_name,
    canonicalize_version,
    parse_sdist_filename,
    parse_wheel_filename,
)
from packaging.version import InvalidVersion, Version

REPO = Path(__file__).resolve().parents[2]
TOOL = os.environ.get("PYDEPOT_MODEL_TOOL", str(REPO / "build" / "tests" / "pydepot_model_tool"))
REAL_WORLD = json.loads((Path(__file__).parent / "data" / "real_world.json").read_text())
SEED = 20240601
MIN_INPUTS = 2000

# The name-normalization spec's validity check, exactly as the spec writes it (Python `re`,
# case-insensitive; STANDARDS.md SIMPLE-03).
SPEC_NAME_RE = re.compile(r"^([A-Z0-9]|[A-Z0-9][A-Z0-9._-]*[A-Z0-9])\Z", re.IGNORECASE)
# Characters Python's re.IGNORECASE folds onto ASCII letters: long s, Kelvin sign, dotted and
# dotless i. They are how non-ASCII text gets through packaging's ASCII-looking patterns.
CASEFOLD_TO_ASCII = "\u017f\u212a\u0130\u0131"

# ---------------------------------------------------------------------------------------------
# pip 23.0.1's sdist splitting (pip/_internal: utils/misc.py splitext, utils/filetypes.py and
# utils/unpacking.py SUPPORTED_EXTENSIONS, index/package_finder.py _find_name_version_sep,
# _extract_version_from_fragment and LinkEvaluator._py_version_re). Copied (MIT licence) so the
# test does not need python3-pip installed; test_pip_copy_matches_pip checks the copy when pip
# is importable.
PIP_SUPPORTED_EXTENSIONS = (".zip", ".whl", ".tar.gz", ".tgz", ".tar", ".tar.bz2", ".tbz",
                            ".tar.xz", ".txz", ".tlz", ".tar.lz", ".tar.lzma")
PIP_PY_VERSION_RE = re.compile(r"-py([123]\.?[0-9]?)$")


def pip_splitext(path: str) -> tuple[str, str]:
    base, ext = posixpath.splitext(path)
    if base.lower().endswith(".tar"):
        ext = base[-4:] + ext
        base = base[:-4]
    return base, ext


def pip_find_name_version_sep(fragment: str, canonical_name: str, canon=canonicalize_name) -> int:
    for i, c in enumerate(fragment):
        if c != "-":
            continue
        if canon(fragment[:i]) == canonical_name:
            return i
    raise ValueError(f"{fragment} does not match {canonical_name}")


def pip_extract_version_from_fragment(fragment: str, canonical_name: str,
                                      canon=canonicalize_name) -> Optional[str]:
    try:
        version_start = pip_find_name_version_sep(fragment, canonical_name, canon) + 1
    except ValueError:
        return None
    version = fragment[version_start:]
    if not version:
        return None
    return version


# ---------------------------------------------------------------------------------------------
# Small helpers.

def ascii_canonicalize(name: str) -> str:
    """canonicalize_name with ASCII-only lower-casing: what NormalizeProjectName does."""
    return "".join(chr(ord(c) + 32) if "A" <= c <= "Z" else c
                   for c in re.sub(r"[-_.]+", "-", name))


def parse_version(text: str) -> Optional[Version]:
    try:
        return Version(text)
    except InvalidVersion:
        return None
    except ValueError:  # int() refuses more than 4300 digits (CPython 3.11)
        return None


def is_huge_number_error(text: str) -> bool:
    """packaging fails with ValueError from int(), not InvalidVersion: a >4300-digit number."""
    try:
        Version(text)
    except InvalidVersion:
        return False
    except ValueError:
        return True
    return False


def dedupe(items):
    seen = set()
    out = []
    for item in items:
        key = json.dumps(item)
        if key not in seen:
            seen.add(key)
            out.append(item)
    return out


def run_tool(commands: list[list[Any]]) -> list[dict]:
    if not os.access(TOOL, os.X_OK):
        pytest.fail(f"{TOOL} is missing: build it with "
                    f"`cmake --build build --target pydepot_model_tool` or set PYDEPOT_MODEL_TOOL")
    payload = "".join(json.dumps(c) + "\n" for c in commands).encode()
    proc = subprocess.run([TOOL], input=payload, capture_output=True, timeout=600, check=False)
    assert proc.returncode == 0, f"{TOOL} exited {proc.returncode}: {proc.stderr[-2000:]!r}"
    # Not splitlines(): that also splits on U+2028, U+0085 and \x1c-\x1e inside strings.
    lines = proc.stdout.decode("utf-8", "surrogateescape").split("\n")
    assert lines.pop() == "", "output must end with a newline"
    assert len(lines) == len(commands), "the tool must answer every line"
    results = [json.loads(line) for line in lines]
    for command, result in zip(commands, results):
        assert "error" not in result or "valid" in result, f"tool rejected {command!r}: {result}"
    return results


# ---------------------------------------------------------------------------------------------
# Inputs. Everything is deterministic (fixed seeds); real-world inputs come from the committed
# corpus tests/diff/data/real_world.json (tests/diff/collect_real_world.py).

EPOCHS = ["", "0!", "1!", "2!", "00!", "10!", "18446744073709551616!"]
RELEASES = ["0", "1", "1.0", "1.0.0", "1.2.3", "01.02.03", "1.0.0.0.0", "2023.10.1", "0.0",
            "10.20.30.40", "18446744073709551616", "1.99999999999999999999", "0.9", "3.11.2"]
PRES = ["", "a", "a1", "A1", "alpha", "alpha2", "b", "b0", "beta3", "c", "c4", "rc", "rc5", "RC1",
        "pre", "pre6", "preview", "preview7", ".a1", "-a1", "_a1", "a.1", "a-1", "a_1", ".alpha.1",
        "-beta-2", "_rc_3", "a01", "a000", "Alpha", "PREVIEW"]
POSTS = ["", ".post", ".post1", "post2", "-3", "-post4", "_post5", ".r6", "r", "rev", "rev7",
         ".REV8", "-r-9", ".post.10", "post_11", ".post01", "-0"]
DEVS = ["", ".dev", ".dev0", "dev1", "-dev2", "_dev3", ".DEV4", "dev.5", "dev-6", ".dev07"]
LOCALS = ["", "+abc", "+1", "+01", "+ubuntu-1", "+ubuntu.1", "+a_b.c-d", "+ABC", "+1.2.3",
          "+abc.5.7a", "+0", "+deadbeef.1", "+a.01.b", "+1a", "+00.a"]
PREFIXES = ["", "v", "V"]
WRAPS = [("", ""), (" ", " "), ("\t", "\n"), ("  ", ""), ("", "\r\n"), ("\x0b", "\x0c"),
         ("\x1c", "\x1f"), ("\u00a0", "\u3000"), ("\u2003", "")]
HANDWRITTEN_VERSIONS = [
    "", " ", "v", "V1", "1.", ".1", "1..0", "1.0.", "1.0-", "1.0+", "1.0+-a", "1.0+a..b",
    "1.0+a-", "1.0a1a2", "1.0.post1.post2", "1.0.dev1.dev2", "1!2!3", "!1", "1!", "-1", "+1",
    "1.0 1", "1.0\x00", "1.0\n\n", "\n1.0", "1,0", "1.0.*", "1.*", "1.0a1.*", "latest", "dev",
    "1.0-SNAPSHOT", "2.0-beta-2", "1.0-r1", "1.0_final", "1.0final", "1.0.0-1", "1.0-1-1",
    "0.1.0-alpha.1", "1.0.0-rc.1+build.1", "1.0.0+build.1", "v1.0.0", "vv1", "1.0c1", "1.0pre",
    "1.0.preview-1", "1.0-dev", "1.0a", "1.0b", "1.0-post", "1.0.post-1", "1.0post", "1.0rev",
    "1.0.r", "1.0-1.dev1", "1.0+ubuntu-1.dev1", "1.0dev", "1.0a.dev", "0.0.0", "0!0", "0000",
    "00.00.00", "1.0e1", "1e3", "0x10", "1_0", "1-0", "1.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0",
    "1.0\u00a0", "\u20031.0", "1.0.po\u017ft1", "1.0+\u017f", "1.0+\u212a", "1.0\u0131",
    "1.0a\u0130", "\u0661.0", "1.\u0662", "1.0\u2028", "\u30001.0\u3000", "1.0\U0001F600",
    "1.0+\u00e9", "\x1c1.0\x1d", "\x1e\x1f1.0", "1.0\x85", "1.0\x7f", "1\t.0",
    "1" * 40, "1." + "9" * 30, "1" * 5000, "1.0+" + "a" * 500,
    "1.0a" + "9" * 30, "1.0.post" + "0" * 20 + "7",
]
MUTATION_CHARS = list("-_.+!*vV aZz09\t\n,") + ["\x00", "\x1f", "\x85", "\xa0", "\u2003",
                                                 "\u017f", "\u212a", "\u0131", "\u0130",
                                                 "\u0663", "\u00e9", "\U0001F600"]


def mutate(rng: random.Random, text: str) -> str:
    choice = rng.randrange(5)
    pos = rng.randrange(len(text) + 1)
    if choice == 0 or not text:
        return text[:pos] + rng.choice(MUTATION_CHARS) + text[pos:]
    if choice == 1:
        return text[:pos] + text[pos + 1:]
    if choice == 2:
        end = rng.randrange(pos, len(text) + 1)
        return text[:end] + text[pos:end] + text[end:]
    if choice == 3:
        return text[:pos]
    return text[:pos] + rng.choice(MUTATION_CHARS) + text[pos + 1:]


def generate_versions() -> list[str]:
    rng = random.Random(SEED)
    defaults = {"prefix": "", "epoch": "", "release": "1.0", "pre": "", "post": "", "dev": "",
                "local": ""}
    axes = {"prefix": PREFIXES, "epoch": EPOCHS, "release": RELEASES, "pre": PRES, "post": POSTS,
            "dev": DEVS, "local": LOCALS}

    def build(parts):
        return (parts["prefix"] + parts["epoch"] + parts["release"] + parts["pre"] +
                parts["post"] + parts["dev"] + parts["local"])

    grammar = []
    for axis, values in axes.items():  # every spelling on its own
        for value in values:
            grammar.append(build({**defaults, axis: value}))
    for _ in range(2500):  # random combinations
        grammar.append(build({axis: rng.choice(values) for axis, values in axes.items()}))
    for _ in range(300):
        head, tail = rng.choice(WRAPS)
        grammar.append(head + rng.choice(grammar) + tail)
    real = list(REAL_WORLD["versions"])
    mutated = [mutate(rng, rng.choice(grammar + real)) for _ in range(900)]
    return dedupe(real + HANDWRITTEN_VERSIONS + grammar + mutated)


NAME_ALPHABET = (list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789") * 2 +
                 list("-_.-_.") + [" ", "\n", "\t", "/", "+", "!", "\x00", "\u00f6", "\u00c4",
                                   "\u212a", "\u017f", "\u0130", "\u0131", "\u00df", "\u03a3"])
HANDWRITTEN_NAMES = [
    "friendly-bard", "Friendly-Bard", "FRIENDLY-BARD", "friendly.bard", "friendly_bard",
    "friendly--bard", "FrIeNdLy-._.-bArD", "", "-", "_", ".", "a", "A", "9", "-foo", "foo-",
    "_foo", "foo_", ".foo", "foo.", "foo\n", "\nfoo", "foo\r", "f\u00f6", "F\u00d6O", "foo bar",
    "foo/bar", "foo+bar", "foo!", "\x01", "zope.interface", "Foo__Bar", "x.-_y", "\u212a",
    "\u017f", "\u0130", "\u0131", "a\u212ab", "\u212a-\u017f", "Stra\u00dfe", "\u03a3\u03c3",
    "a" * 300, "a-" * 100 + "a",
]


def generate_names() -> list[str]:
    rng = random.Random(SEED + 1)
    real = list(REAL_WORLD["names"])
    variants = []
    for name in real:
        variants += [name.upper(), name.replace("-", "_"), name.replace("-", "."),
                     re.sub(r"[-_.]", "-._", name), "_" + name, name + ".", name.title()]
    randoms = ["".join(rng.choice(NAME_ALPHABET) for _ in range(rng.randrange(0, 14)))
               for _ in range(1500)]
    return dedupe(HANDWRITTEN_NAMES + real + variants + randoms)


WHEEL_NAMES = ["foo", "Foo.Bar", "foo_bar", "foo__bar", "_foo", "foo_", "a.b_c", "Ab9", "a..b",
               "", "f\u00f6o", "foo bar", "foo\n", "foo\nbar", "\u212a", "foo+x", "foo-bar",
               "setuptools", "zope.interface"]
WHEEL_BUILDS = [None, "1", "01", "1abc", "0042_x", "x1", "", "\u0661", "1\nx", "1.2", "9" * 30,
                "1-2"]
WHEEL_TAGS = ["py3-none-any", "py2.py3-none-any",
              "cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64", "CP39-ABI3-WIN_AMD64",
              "pp39-pypy39_pp73-macosx_10_9_x86_64", "py3.-none-any", "py3--any", ".py3-none-any",
              "py3-none-", "py3-none-any-extra", "py3-none", "py3-none-any.any", "py3-n\u00f6ne-any",
              "cp311-cp311-linux_x86_64", "py3-none-ANY"]
WHEEL_EXTS = [".whl", ".whl", ".whl", ".WHL", ".zip", "", ".whl.asc"]


def generate_wheels(versions: list[str]) -> list[str]:
    rng = random.Random(SEED + 2)
    version_sample = rng.sample([v for v in versions if "-" not in v], 150) + [
        "1.0", " 1.0", "1.0 ", "v1.0", "1.0.0+local", "1!1.0", "bogus", "", "1.0_post1",
        "1.0.po\u017ft1", "\u00a01.0"]
    wheels = list(REAL_WORLD["wheels"])
    for name, version in REAL_WORLD["sdists"]:
        stem = name[: -len(".tar.gz")].rsplit("-", 1)
        if len(stem) == 2:
            wheels.append(f"{stem[0].replace('-', '_')}-{stem[1]}-py3-none-any.whl")
            wheels.append(f"{stem[0]}-{stem[1]}-py2.py3-none-any.whl")
    for _ in range(2600):
        build = rng.choice(WHEEL_BUILDS)
        parts = [rng.choice(WHEEL_NAMES), rng.choice(version_sample)]
        if build is not None:
            parts.append(build)
        parts.append(rng.choice(WHEEL_TAGS))
        wheels.append("-".join(parts) + rng.choice(WHEEL_EXTS))
    mutated = [mutate(rng, rng.choice(wheels)) for _ in range(400)]
    return dedupe(wheels + mutated)


SDIST_NAMES = ["foo", "foo_bar", "foo-bar", "Foo.Bar", "zope.interface", "Django", "", "foo-1.0",
               "f\u00f6o", "F\u00d6O", "a b", "x__y", "foo-py", "A-B-C", "\u212a", "\u017f"]
SDIST_VERSIONS = ["1.0", "1.0-1", "2.0-beta-2", "2.0-SNAPSHOT", "", "1.0.post1", "v1.0",
                  "1!1.0+local", "1.0-r1", "bogus", "1.0a1", "0", "1.0-py", "1.0.po\u017ft1",
                  "1.0\u00a0", "1.0.tar"]
PY_SUFFIXES = ["", "", "", "-py2.7", "-py27", "-py3", "-py3.10", "-py2.", "-py4", "-py2.7-py3"]
SDIST_EXTS = [".tar.gz", ".tar.gz", ".zip", ".tgz", ".tar.bz2", ".tbz", ".tar.xz", ".txz", ".tlz",
              ".tar.lz", ".tar.lzma", ".tar", ".tar.Z", ".TAR.GZ", ".Zip", ".tar.z", ".whl", ".egg",
              ".tar.gz.asc", "", ".tar.tgz"]


def generate_sdists(versions: list[str]) -> list[str]:
    rng = random.Random(SEED + 3)
    version_sample = rng.sample(versions, 120) + SDIST_VERSIONS
    sdists = [filename for filename, _ in REAL_WORLD["sdists"]]
    for _ in range(2600):
        stem = f"{rng.choice(SDIST_NAMES)}-{rng.choice(version_sample)}{rng.choice(PY_SUFFIXES)}"
        sdists.append(stem + rng.choice(SDIST_EXTS))
    mutated = [mutate(rng, rng.choice(sdists)) for _ in range(400)]
    return dedupe(sdists + mutated)


def generate_sdists_with_project(sdists: list[str]) -> list[list[str]]:
    rng = random.Random(SEED + 4)
    cases = [list(pair) for pair in REAL_WORLD["sdists"]]
    for filename in sdists:
        if filename.endswith((".whl", ".egg")):
            continue
        name = filename.split("-", 1)[0] if "-" in filename else filename
        candidates = [name, name.upper(), name.replace(".", "_"), filename.split(".")[0],
                      "-".join(filename.split("-")[:2]), "foo", "foo-bar", "other", "F\u00d6O",
                      "f\u00f6o", "\u212a"]
        candidates = [c for c in candidates if c]
        for project in rng.sample(candidates, 2):
            cases.append([filename, project])
    return dedupe(cases)


SPEC_OPERATORS = ["==", "!=", "<=", ">=", "<", ">", "~=", "===", "=", "=>", "<>", "~", "", "!"]
SPEC_VERSIONS = ["1", "1.0", "1.0.0", "1.5", "2", "2.0", "3.7", "3.8.0", "1.0a1", "1.0rc1",
                 "1.0.dev1", "1.0.post1", "1.0+local", "1.0.post1+l", "1!1.0", "1.0.*", "1.*",
                 "1!1.*", "1.0.*.*", "1.0a1.*", "1.0+local.*", "*", "foo", "", "1.0-1", "v1.0",
                 "V1.0", " 1.0", "1.0 ", "1.0-post1", "0", "0.0", "1.0.0.0", "1.0c1", "1.0.POST1",
                 "1.0a", "1.0-dev", "2.0b2.post3.dev4", "1.1.dev0", "01.00", "1.0\u00a0",
                 "1.0.po\u017ft1", "3.10", "4.0", "1.0.post1.dev1", "0.9", "1.0.1"]
VERSION_PROBES = ["0", "0.1", "0.9", "1", "1.0", "1.0.0", "1.0.0.0", "1.0a1", "1.0b2", "1.0rc1",
                  "1.0.dev1", "1.0a1.dev1", "1.0.post1", "1.0.post1.dev1", "1.0.post2",
                  "1.0+local", "1.0+l", "1.0.post1+l", "1.0.1", "1.0.1a1", "1.1", "1.1.dev0",
                  "1.5", "1.5.0", "1.5.2", "1.5+x", "1.99", "2", "2.0", "2.0rc1", "2.0.post1",
                  "2.0b2.post3.dev4", "3", "3.7", "3.7.0", "3.7.1", "3.8", "3.8.0", "3.9",
                  "3.10", "3.11.2", "4.0", "4.0.dev0", "1!0.5", "1!1.0", "1!1.0.1", "1!2.0",
                  "0!1.0", "10", "100.0", "1.0.0.1", "0.0", "0.0.1", "1.0-1", "1.0_a1", "1!1.0rc1",
                  "1!1.0.0a1", "1!1.5.dev0", "1!2.0.post1"]


def generate_specifiers() -> list[str]:
    rng = random.Random(SEED + 5)
    singles = [f"{op}{v}" for op in SPEC_OPERATORS for v in SPEC_VERSIONS]
    spaced = []
    for spec in rng.sample(singles, 200):
        op = re.match(r"[=!<>~]*", spec).group(0)
        rest = spec[len(op):]
        spaced.append(rng.choice(["  ", "\t", "", "\u00a0"]) + op + rng.choice([" ", "  ", ""]) +
                      rest + rng.choice([" ", "", "\n"]))
    combos = []
    for _ in range(500):
        parts = rng.sample(singles + spaced, rng.randrange(2, 4))
        combos.append(rng.choice([",", " , ", ", ", ",,", ";"]).join(parts))
    odd = ["", " ", ",", " , ", ">=1.0,", ",>=1.0", ">=1.0,,<2", "== 1.0", "~= 1.0", ">=1.0 <2",
           "(>=1.0)", ">=1.0;", "=== foo bar", "===", "=== ", "==1.0 .*", "== 1.0.*", ">= 1.0a1"]
    return dedupe(list(REAL_WORLD["specifiers"]) + odd + singles + spaced + combos)


# ---------------------------------------------------------------------------------------------
# Views: what each side says about one input, as plain data. Keys starting with "_" describe
# packaging's raw outcome for DELIBERATE_DIFFERENCES and are not compared.

def pkg_version_view(text: str) -> dict:
    v = parse_version(text)
    if v is None:
        return {"valid": False, "canonical": None, "release_key": text}
    return {
        "valid": True, "canonical": str(v), "public": v.public,
        "release_key": canonicalize_version(v), "is_prerelease": v.is_prerelease,
        "is_postrelease": v.is_postrelease, "is_devrelease": v.is_devrelease,
        "epoch": str(v.epoch), "release": [str(x) for x in v.release],
        "pre": [v.pre[0], str(v.pre[1])] if v.pre else None,
        "post": None if v.post is None else str(v.post),
        "dev": None if v.dev is None else str(v.dev), "local": v.local,
    }


def our_version_view(r: dict) -> dict:
    if not r["valid"]:
        return {"valid": False, "canonical": r["canonical"], "release_key": r["release_key"]}
    return {
        "valid": True, "canonical": r["canonical"], "public": r["public"],
        "release_key": r["release_key"], "is_prerelease": r["is_prerelease"],
        "is_postrelease": r["is_postrelease"], "is_devrelease": r["is_devrelease"],
        "epoch": r["epoch"], "release": r["release"], "pre": r["pre"], "post": r["post"],
        "dev": r["dev"], "local": ".".join(r["local"]) or None,
    }


def pkg_cmp_view(pair) -> dict:
    a, b = (parse_version(x) for x in pair)
    if a is None or b is None:
        return {"cmp": None}
    return {"cmp": (a > b) - (a < b)}


def pkg_name_view(name: str) -> dict:
    valid = SPEC_NAME_RE.match(name) is not None
    return {"valid": valid, "normalized": canonicalize_name(name),
            "is_normalized": valid and canonicalize_name(name) == name}


def wheel_parts(filename: str) -> Optional[list[str]]:
    """The filename split as packaging splits it, or None when the dash count is wrong."""
    stem = filename[:-4] if filename.endswith(".whl") else filename
    dashes = stem.count("-")
    if dashes not in (4, 5):
        return None
    return stem.split("-", dashes - 2)


def pkg_wheel_view(filename: str) -> dict:
    try:
        name, version, build, tags = parse_wheel_filename(filename)
    except (InvalidWheelFilename, InvalidVersion):
        return {"valid": False}
    return {"valid": True, "project": name, "version": str(version),
            "build": [build[0], build[1]] if build else None,
            "tags": sorted([t.interpreter, t.abi, t.platform] for t in tags)}


def our_dist_view(r: dict) -> dict:
    if not r["valid"]:
        return {"valid": False}
    view = {"valid": True, "project": r["project"],
            "version": r["version"] if r["version_valid"] else None}
    if r["filetype"] == "bdist_wheel":
        view["build"] = [int(r["build"][0]), r["build"][1]] if r["build"] else None
        view["tags"] = sorted([i.lower(), a.lower(), p.lower()] for i in r["python_tags"]
                              for a in r["abi_tags"] for p in r["platform_tags"])
        # Duplicate tags ("py3.py3") collapse in packaging's frozenset.
        view["tags"] = [list(t) for t in sorted({tuple(t) for t in view["tags"]})]
    else:
        view["version_text"] = None if r["version_valid"] else r["version_part"]
    return view


def pkg_sdist_view(filename: str) -> dict:
    try:
        name, version = parse_sdist_filename(filename)
    except InvalidSdistFilename:
        return {"valid": False, "_error": "filename"}
    except InvalidVersion:
        return {"valid": False, "_error": "version"}
    return {"valid": True, "project": name, "version": str(version), "version_text": None}


def pip_sdist_view(case, canon=canonicalize_name, split=pip_splitext) -> dict:
    """pip's reading of an sdist link for a project (LinkEvaluator.evaluate_link)."""
    filename, project = case
    base, ext = split(filename)
    if ext not in PIP_SUPPORTED_EXTENSIONS or ext == ".whl":
        return {"valid": False}
    version = pip_extract_version_from_fragment(base, canon(project), canon)
    if not version:
        return {"valid": False}
    match = PIP_PY_VERSION_RE.search(version)
    if match:
        version = version[: match.start()]
    if not version:
        return {"valid": False}
    parsed = parse_version(version)
    return {"valid": True, "project": canon(project),
            "version": str(parsed) if parsed else None,
            "version_text": None if parsed else version, "_text": version}


def pkg_pep625_view(filename: str) -> dict:
    """Warehouse's rule: the filename is exactly {normalized name with _}-{Version}.tar.gz."""
    if not filename.endswith(".tar.gz"):
        return {"pep625": False}
    stem = filename[: -len(".tar.gz")]
    if stem.count("-") != 1:
        return {"pep625": False}
    name, version = stem.split("-")
    parsed = parse_version(version)
    if not SPEC_NAME_RE.match(name) or parsed is None:
        return {"pep625": False}
    return {"pep625": filename == f"{canonicalize_name(name).replace('-', '_')}-{parsed}.tar.gz"}


def pkg_spec_view(case) -> dict:
    spec, version = case
    try:
        specifiers = SpecifierSet(spec)
    except InvalidSpecifier:
        return {"valid": False, "contains": None}
    parsed = parse_version(version) if version is not None else None
    contains = None
    if parsed is not None:
        contains = specifiers.contains(parsed, prereleases=True)
    return {"valid": True, "contains": contains}


def our_spec_view(r: dict) -> dict:
    return {"valid": r["valid"], "contains": r["contains"]}


def pkg_python_view(case) -> dict:
    spec, python = case
    try:
        specifiers = SpecifierSet(spec)
    except InvalidSpecifier:
        return {"valid": False}
    # prereleases=True: a final release is unaffected, and packaging 23.0's default (None)
    # raises InvalidVersion for "===" with a non-PEP 440 version.
    return {"valid": True,
            "matches": specifiers.contains(Version(".".join(map(str, python))), prereleases=True)}


# ---------------------------------------------------------------------------------------------
# DELIBERATE_DIFFERENCES: every place where pydepot answers differently from packaging (or pip)
# on purpose. `adjust(input, view)` gets packaging's view of an input (after the entries before
# it) and returns the view pydepot must produce instead, or None when the entry does not apply.
# `rewrite(input)` instead changes the input packaging is asked about (e.g. a legacy extension
# replaced by .tar.gz). The test asserts that pydepot's answer equals the adjusted view for every
# input, and that every entry changes at least one answer.

@dataclass(frozen=True)
class Difference:
    id: str
    areas: tuple[str, ...]
    reason: str
    adjust: Optional[Callable[[Any, dict], Optional[dict]]] = None
    rewrite: Optional[Callable[[Any], Optional[Any]]] = None


def _invalid_version_kept(text, view):
    if view["valid"]:
        return None
    return {"valid": False, "canonical": text, "release_key": text}


def _casefold_version(text, view):
    if view["valid"] and any(c in CASEFOLD_TO_ASCII for c in text):
        return {"valid": False, "canonical": text, "release_key": text}
    return None


def _huge_number_version(text, view):
    # packaging's answer with CPython's int-digits limit lifted.
    if not is_huge_number_error(text):
        return None
    limit = sys.get_int_max_str_digits()
    sys.set_int_max_str_digits(0)
    try:
        return pkg_version_view(text)
    finally:
        sys.set_int_max_str_digits(limit)


def _invalid_order(pair, view):
    if view["cmp"] is not None:
        return None
    a, b = (EXPECTED_VERSION_VALID[x] for x in pair)
    if a and b:
        return None
    if a != b:
        return {"cmp": -1 if b else 1}
    return {"cmp": (pair[0] > pair[1]) - (pair[0] < pair[1])}


def _casefold_order(pair, view):
    # Both valid for packaging, but one of them is not a version for us.
    if view["cmp"] is None or all(EXPECTED_VERSION_VALID[x] for x in pair):
        return None
    return _invalid_order(pair, {"cmp": None})


def _name_non_ascii_valid(name, view):
    if view["valid"] and not name.isascii():
        return {**view, "valid": False, "is_normalized": False}
    return None


def _name_unicode_lower(name, view):
    ours = ascii_canonicalize(name)
    if view["normalized"] == ours:
        return None
    valid = view["valid"]
    return {**view, "normalized": ours, "is_normalized": valid and ours == name}


def _wheel_field(filename, index):
    parts = wheel_parts(filename)
    return parts[index] if parts else None


def _wheel_empty_name(filename, view):
    if view["valid"] and _wheel_field(filename, 0) == "":
        return {"valid": False}
    return None


def _wheel_non_ascii(filename, view):
    if not view["valid"]:
        return None
    parts = wheel_parts(filename)
    if not parts[0].isascii() or any(c in CASEFOLD_TO_ASCII for c in parts[1]):
        return {"valid": False}
    if len(parts) == 4:
        # packaging's build number is (\d+), Unicode digits included; ours is [0-9]+.
        build = parts[2]
        digits = re.match(r"[0-9]*", build).group(0)
        if re.match(r"\d+", build).group(0) != digits:
            if not digits:
                return {"valid": False}
            return {**view, "build": [int(digits), build[len(digits):]]}
    return None


def _wheel_name_newline(filename, view):
    if view["valid"] and "\n" in _wheel_field(filename, 0):
        return {"valid": False}
    return None


def _wheel_empty_tag(filename, view):
    if view["valid"] and any("" in tag for tag in view["tags"]):
        return {"valid": False}
    return None


def _wheel_build_newline(filename, view):
    parts = wheel_parts(filename)
    if not view["valid"] or len(parts) != 4 or "\n" not in parts[2]:
        return None
    digits = re.match(r"[0-9]*", parts[2]).group(0)
    return {**view, "build": [int(digits), parts[2][len(digits):]]}


def _sdist_ext(filename):
    for ext in (".tar.gz", ".tar.bz2", ".tar.xz", ".tar.lzma", ".tar.lz", ".tar.Z", ".tgz",
                ".tbz", ".txz", ".tlz", ".zip", ".tar"):
        if len(filename) > len(ext) and filename.endswith(ext):
            return ext
    return None


def _rewrite_legacy_extension(filename):
    ext = _sdist_ext(filename)
    if ext in (None, ".tar.gz", ".zip"):
        return None
    return filename[: -len(ext)] + ".tar.gz"


def _rewrite_python_suffix(filename):
    ext = _sdist_ext(filename)
    if ext is None:
        return None
    stem = filename[: -len(ext)]
    match = re.search(r"-py[123]\.?[0-9]?\Z", stem)
    if not match:
        return None
    return stem[: match.start()] + ext


def _sdist_invalid_version_kept(filename, view):
    if view["valid"] or view.get("_error") != "version":
        return None
    stem = filename[: -len(_sdist_ext(filename))]
    name, _, version = stem.rpartition("-")
    if not name or not version:
        return None
    return {"valid": True, "project": canonicalize_name(name), "version": None,
            "version_text": version}


def _sdist_casefold_version(filename, view):
    if not view["valid"] or view["version"] is None:
        return None
    stem = filename[: -len(_sdist_ext(filename))]
    version = stem.rpartition("-")[2]
    if any(c in CASEFOLD_TO_ASCII for c in version):
        return {**view, "version": None, "version_text": version}
    return None


def _sdist_empty_name(filename, view):
    if view["valid"] and filename.startswith("-"):
        ext = _sdist_ext(filename)
        if ext and filename[: -len(ext)].rpartition("-")[0] == "":
            return {"valid": False}
    return None


def _sdist_unicode_lower(case, view):
    filename = case if isinstance(case, str) else case[0]
    if not view["valid"]:
        return None
    ext = _sdist_ext(filename)
    name = filename[: -len(ext)].rpartition("-")[0]
    if view["project"] != canonicalize_name(name) or canonicalize_name(name) == ascii_canonicalize(name):
        return None
    return {**view, "project": ascii_canonicalize(name)}


def _rewrite_tar_z(case):
    filename, project = case
    if filename.endswith(".tar.Z") and len(filename) > len(".tar.Z"):
        return [filename[: -len(".tar.Z")] + ".tar.gz", project]
    return None


def our_sdist_split(filename):
    ext = _sdist_ext(filename)
    return (filename[: -len(ext)], ext) if ext else (filename, "")


def _pip_like(case):
    """pip's algorithm with the deliberate differences that apply to this case."""
    filename, project = case
    ascii_only = filename.isascii() and project.isascii()
    same_split = _sdist_ext(filename) in (None, pip_splitext(filename)[1])
    return pip_sdist_view(case, canon=canonicalize_name if ascii_only else ascii_canonicalize,
                          split=pip_splitext if same_split else our_sdist_split)


def _pip_extension_split(case, view):
    if _sdist_ext(case[0]) in (None, pip_splitext(case[0])[1]):
        return None
    return _pip_like(case)


def _pip_unicode_lower(case, view):
    filename, project = case
    if filename.isascii() and project.isascii():
        return None
    return _pip_like(case)


def _pip_casefold_version(case, view):
    if not view["valid"] or view["version"] is None:
        return None
    if any(c in CASEFOLD_TO_ASCII for c in view["_text"]):
        return {**view, "version": None, "version_text": view["_text"]}
    return None


def _pep625_non_ascii(filename, view):
    if view["pep625"] and not filename.isascii():
        return {"pep625": False}
    return None


def _clauses(spec: str) -> list[str]:
    return [c.strip() for c in spec.split(",") if c.strip()]


def _spec_casefold(case, view):
    spec, version = case
    if view["valid"] and any(any(ch in CASEFOLD_TO_ASCII for ch in clause) and
                             not clause.startswith("===") for clause in _clauses(spec)):
        return {"valid": False, "contains": None} if "contains" in view else {"valid": False}
    if (view.get("contains") is not None and isinstance(version, str) and
            any(c in CASEFOLD_TO_ASCII for c in version)):
        return {**view, "contains": None}
    return None


def _rewrite_compatible_suffix(case):
    spec, version = case
    clauses = _clauses(spec)
    changed = False
    for i, clause in enumerate(clauses):
        if clause.startswith("~=") and not clause.startswith("~=="):
            parsed = parse_version(clause[2:])
            # Non-ASCII spellings are left to spec-unicode-casefold.
            if parsed is not None and clause.isascii() and str(parsed) != clause[2:].strip():
                clauses[i] = f"~={parsed}"
                changed = True
    return [",".join(clauses), version] if changed else None


def _compatible_epoch(case, view):
    spec, version = case
    if not view.get("contains") or not isinstance(version, str):
        return None
    parsed = parse_version(version)
    for clause in _clauses(spec):
        if clause.startswith("~=") and not clause.startswith("~=="):
            named = parse_version(clause[2:])
            if named is not None and parsed is not None and named.epoch != parsed.epoch:
                return {**view, "contains": False}
    return None


PREFIX_CLAUSE_RE = re.compile(r"(==|!=)(?!=)\s*(\S*\.\*)\s*\Z")


def _prefix_match(prefix: str, version: Version) -> Optional[bool]:
    """PEP 440 prefix matching (==V.*): same epoch, release padded with zeros starts with V."""
    target = parse_version(prefix[:-2])
    if target is None:
        return None
    release = list(version.release) + [0] * max(0, len(target.release) - len(version.release))
    return version.epoch == target.epoch and tuple(release[: len(target.release)]) == target.release


def _prefix_epoch(case, view):
    spec, version = case
    if view.get("contains") is None:
        return None
    clauses = _clauses(spec)
    if not any((m := PREFIX_CLAUSE_RE.match(c)) and "!" in m.group(2) for c in clauses):
        return None
    parsed = Version(version)
    result = True
    for clause in clauses:
        m = PREFIX_CLAUSE_RE.match(clause)
        hit = _prefix_match(m.group(2), parsed) if m and "!" in m.group(2) else None
        if hit is None:
            result = result and Specifier(clause).contains(parsed, prereleases=True)
        else:
            result = result and (hit if m.group(1) == "==" else not hit)
    return {**view, "contains": result}


DELIBERATE_DIFFERENCES = [
    # Versions.
    Difference(
        "version-huge-number", ("version",),
        "A component longer than 4300 digits: CPython 3.11's int() raises ValueError inside "
        "packaging, so it has no answer; our numbers are digit strings and parse exactly.",
        adjust=_huge_number_version),
    Difference(
        "version-invalid-kept-as-text", ("version",),
        "packaging raises InvalidVersion; Version keeps the text (is_valid() false, Canonical() "
        "and ReleaseKey() return it, as canonicalize_version does), because stored legacy files "
        "have such versions.",
        adjust=_invalid_version_kept),
    Difference(
        "version-unicode-casefold", ("version",),
        "Python's re.IGNORECASE folds U+017F, U+212A, U+0130 and U+0131 onto s/k/i, so "
        "packaging accepts '1.0.po\u017ft1' or '1.0+\u212a'. PEP 440 letters are ASCII; "
        "we reject them.",
        adjust=_casefold_version),
    Difference(
        "order-invalid-versions", ("order",),
        "packaging cannot compare what it cannot parse; invalid versions sort below every valid "
        "one, and by their text among themselves.",
        adjust=_invalid_order),
    Difference(
        "order-unicode-casefold", ("order",),
        "Follows version-unicode-casefold: such a version is invalid for us, so it sorts below "
        "the valid ones.",
        adjust=_casefold_order),
    # Project names.
    Difference(
        "name-unicode-casefold", ("name",),
        "The spec's regex is used with re.IGNORECASE in Unicode mode, so Python accepts U+212A, "
        "U+017F, U+0130, U+0131 as letters; the spec says ASCII only, and so do we.",
        adjust=_name_non_ascii_valid),
    Difference(
        "name-unicode-lowercase", ("name",),
        "canonicalize_name uses str.lower(), which lower-cases non-ASCII letters ('\u00c4' -> "
        "'\u00e4', '\u0130' -> 'i\u0307'); NormalizeProjectName lower-cases ASCII only and "
        "keeps other bytes (no valid name contains them).",
        adjust=_name_unicode_lower),
    # Wheels.
    Difference(
        "wheel-empty-name", ("wheel",),
        "packaging accepts an empty name part ('-1.0-py3-none-any.whl'); a file for no project "
        "is useless to an index, so we reject it.",
        adjust=_wheel_empty_name),
    Difference(
        "wheel-non-ascii", ("wheel",),
        "packaging's [\\w\\d._] and \\d are Unicode (names like 'f\u00f6o', build tags like "
        "'\u0661'); the wheel spec allows ASCII only there; we reject them.",
        adjust=_wheel_non_ascii),
    Difference(
        "wheel-name-newline", ("wheel",),
        "packaging's name check ends in '$', which matches before a final newline, so a name "
        "part 'foo\\n' passes; we reject it.",
        adjust=_wheel_name_newline),
    Difference(
        "wheel-empty-tag", ("wheel",),
        "packaging accepts empty tags ('py3.', 'py3--any'); no installer can match them, so we "
        "reject the filename.",
        adjust=_wheel_empty_tag),
    Difference(
        "wheel-build-newline", ("wheel",),
        "packaging reads the build tag with re.match(r'(\\d+)(.*)'), and '.' stops at a "
        "newline, silently dropping the rest; we keep the whole suffix.",
        adjust=_wheel_build_newline),
    # Sdists without a project (packaging's parse_sdist_filename).
    Difference(
        "sdist-legacy-extension", ("sdist",),
        "packaging knows only .tar.gz and .zip; pip (and stored legacy files) also use .tgz, "
        ".tar.bz2, .tbz, .tar.xz, .txz, .tlz, .tar.lz, .tar.lzma, .tar and .tar.Z. We parse "
        "them as the same name with .tar.gz.",
        rewrite=_rewrite_legacy_extension),
    Difference(
        "sdist-python-suffix", ("sdist",),
        "A bdist_dumb-style '-pyX.Y' after the version (pip's -py([123]\\.?[0-9]?)$) is not "
        "part of the version: pip drops it, and so do we (it goes to legacy_python).",
        rewrite=_rewrite_python_suffix),
    Difference(
        "sdist-invalid-version-kept", ("sdist",),
        "packaging raises InvalidVersion; we return the filename with the version kept as text "
        "(version.is_valid() false), so stored legacy files can be listed. Uploads check it.",
        adjust=_sdist_invalid_version_kept),
    Difference(
        "sdist-unicode-casefold", ("sdist",),
        "As version-unicode-casefold: such a version is kept as text, not parsed.",
        adjust=_sdist_casefold_version),
    Difference(
        "sdist-empty-name", ("sdist",),
        "packaging accepts an empty name part ('-1.0.tar.gz'); we reject it.",
        adjust=_sdist_empty_name),
    Difference(
        "sdist-unicode-lowercase", ("sdist",),
        "As name-unicode-lowercase: the project is normalized with ASCII lower-casing.",
        adjust=_sdist_unicode_lower),
    # Sdists with a known project (pip's _find_name_version_sep).
    Difference(
        "sdist-project-tar-z", ("sdist_project",),
        "pip dropped .tar.Z (compress(1)); old stored files have it, so we still read it.",
        rewrite=_rewrite_tar_z),
    Difference(
        "sdist-project-extension-split", ("sdist_project",),
        "pip's splitext takes a '.tar' before the last extension with it ('x-1.0.tar.tgz' has "
        "the unsupported extension '.tar.tgz', so pip skips the file); we take the last "
        "extension, as packaging does, and the version keeps the '.tar'.",
        adjust=_pip_extension_split),
    Difference(
        "sdist-project-unicode-lowercase", ("sdist_project",),
        "As name-unicode-lowercase: prefixes and the project are compared with ASCII "
        "lower-casing, so 'F\u00d6O-1.0.tar.gz' is not a file of project 'f\u00f6o'.",
        adjust=_pip_unicode_lower),
    Difference(
        "sdist-project-unicode-casefold", ("sdist_project",),
        "As version-unicode-casefold: such a version is kept as text, not parsed.",
        adjust=_pip_casefold_version),
    # PEP 625 check.
    Difference(
        "pep625-non-ascii", ("pep625",),
        "As name-unicode-casefold: '\u017f-1.0.tar.gz' passes the spec regex under "
        "re.IGNORECASE and equals its own canonicalize_name; names are ASCII for us.",
        adjust=_pep625_non_ascii),
    # Specifiers.
    Difference(
        "spec-unicode-casefold", ("spec", "python"),
        "As version-unicode-casefold, for the versions inside specifiers (except after '===', "
        "which compares text) and the versions tested against them.",
        adjust=_spec_casefold),
    Difference(
        "spec-compatible-suffix", ("spec", "python"),
        "packaging derives the ~= prefix from the version as written and knows only the "
        "lower-case suffixes a, b, rc, dev and post, so '~=1.0c1' or '~=1.0.POST1' becomes "
        "'==1.0.*'; PEP 440 ignores the suffix ('==1.*'), as packaging itself does for the "
        "normalized spelling '~=1.0rc1'. We use the normalized version. (packaging 24.2 too.)",
        rewrite=_rewrite_compatible_suffix),
    Difference(
        "spec-compatible-epoch", ("spec", "python"),
        "packaging 23.0's ~= prefix check ignores the epoch, so '~=0.1' contains '1!2.0'. "
        "PEP 440's prefix match includes the epoch; packaging 24 fixed this and agrees with us.",
        adjust=_compatible_epoch),
    Difference(
        "spec-prefix-epoch", ("spec",),
        "packaging 23.0's prefix match splits '1!1.0' at '.' only, so with an epoch it "
        "misaligns the release and '==1!1.*' does not contain '1!1.0rc1' (or '1!1.0.0.0.0a1' "
        "for '==1!1.0.*'). PEP 440 (and packaging 24) match; so do we.",
        adjust=_prefix_epoch),
]

# Filled in by the session fixture before the order area is compared.
EXPECTED_VERSION_VALID: dict[str, bool] = {}


# ---------------------------------------------------------------------------------------------
# Running both sides.

@dataclass
class AreaResult:
    name: str
    cases: list
    ours: list
    expected: list
    reference: list
    applied: list  # ids of the entries that changed each case's expected view


def expected_view(area: str, case, reference: Callable[[Any], dict], hits) -> tuple[dict, list]:
    applied = []
    for d in DELIBERATE_DIFFERENCES:
        if area in d.areas and d.rewrite is not None:
            rewritten = d.rewrite(case)
            if rewritten is not None:
                if reference(rewritten) != reference(case):
                    applied.append(d.id)
                case = rewritten
    view = reference(case)
    for d in DELIBERATE_DIFFERENCES:
        if area in d.areas and d.adjust is not None:
            adjusted = d.adjust(case, view)
            if adjusted is not None and adjusted != view:
                applied.append(d.id)
                view = adjusted
    for entry in applied:
        hits[entry] += 1
    return {k: v for k, v in view.items() if not k.startswith("_")}, applied


def compare(name, cases, ours, reference, hits) -> AreaResult:
    cache = {}

    def cached(case):
        key = json.dumps(case)
        if key not in cache:
            cache[key] = reference(case)
        return cache[key]

    expected, applied = [], []
    for case in cases:
        view, ids = expected_view(name, case, cached, hits)
        expected.append(view)
        applied.append(ids)
    return AreaResult(name, cases, ours, expected, [cached(c) for c in cases], applied)


def assert_agree(result: AreaResult):
    bad = [(c, o, e, r, a) for c, o, e, r, a in zip(result.cases, result.ours, result.expected,
                                                     result.reference, result.applied) if o != e]
    if bad:
        lines = [f"{len(bad)} of {len(result.cases)} {result.name} inputs disagree "
                 f"(showing 25):"]
        for case, ours, expected, reference, applied in bad[:25]:
            lines.append(f"  input {case!r}\n    pydepot   {ours}\n    expected  {expected}\n"
                         f"    packaging {reference}\n    entries   {applied}")
        pytest.fail("\n".join(lines), pytrace=False)


@pytest.fixture(scope="session")
def corpus():
    versions = generate_versions()
    sdists = generate_sdists(versions)
    return {
        "versions": versions,
        "names": generate_names(),
        "wheels": generate_wheels(versions),
        "sdists": sdists,
        "sdists_project": generate_sdists_with_project(sdists),
        "specifiers": generate_specifiers(),
    }


@pytest.fixture(scope="session")
def results(corpus):
    hits = collections.Counter()
    out = {}
    versions = corpus["versions"]
    raw_versions = run_tool([["version", v] for v in versions])
    for v, r in zip(versions, raw_versions):
        assert r["valid"] == r["lenient_valid"], f"Parse and ParseLenient disagree on {v!r}"
    out["version"] = compare("version", versions, [our_version_view(r) for r in raw_versions],
                             pkg_version_view, hits)
    EXPECTED_VERSION_VALID.clear()
    EXPECTED_VERSION_VALID.update({v: e["valid"] for v, e in
                                   zip(versions, out["version"].expected)})

    # Ordering: pairwise on a sample (random pairs, neighbours in packaging's order, self).
    rng = random.Random(SEED + 6)
    valid = [v for v in versions if EXPECTED_VERSION_VALID[v] and not is_huge_number_error(v)]
    ordered = sorted(valid, key=Version)
    pairs = [[rng.choice(versions), rng.choice(versions)] for _ in range(3000)]
    pairs += [[rng.choice(valid), rng.choice(valid)] for _ in range(3000)]
    pairs += [[a, b] for a, b in zip(ordered, ordered[1:])]
    pairs += [[b, a] for a, b in zip(ordered[::7], ordered[1::7])]
    pairs += [[v, v] for v in rng.sample(versions, 300)]
    pairs = [p for p in dedupe(pairs) if not any(is_huge_number_error(x) for x in p)]
    raw = run_tool([["cmp", a, b] for a, b in pairs])
    out["order"] = compare("order", pairs, [{"cmp": r["cmp"]} for r in raw], pkg_cmp_view, hits)

    names = corpus["names"]
    raw = run_tool([["name", n] for n in names])
    out["name"] = compare("name", names, raw, pkg_name_view, hits)

    wheels = corpus["wheels"]
    raw = run_tool([["wheel", w] for w in wheels])
    out["wheel"] = compare("wheel", wheels, [our_dist_view(r) for r in raw], pkg_wheel_view, hits)
    out["wheel_raw"] = raw

    sdists = corpus["sdists"]
    raw = run_tool([["sdist", s, ""] for s in sdists])
    out["sdist"] = compare("sdist", sdists, [our_dist_view(r) for r in raw], pkg_sdist_view, hits)
    out["sdist_raw"] = raw

    with_project = corpus["sdists_project"]
    raw = run_tool([["sdist", s, p] for s, p in with_project])
    out["sdist_project"] = compare("sdist_project", with_project,
                                   [our_dist_view(r) for r in raw], pip_sdist_view, hits)
    out["sdist_project_raw"] = raw

    raw = run_tool([["pep625", s] for s in sdists])
    out["pep625"] = compare("pep625", sdists, raw, pkg_pep625_view, hits)

    specs = corpus["specifiers"]
    spec_cases = [[s, None] for s in specs]
    valid_specs = [s for s in specs if pkg_spec_view([s, None])["valid"]]
    for spec in valid_specs:
        for probe in VERSION_PROBES:
            spec_cases.append([spec, probe])
    for spec in rng.sample(valid_specs, min(200, len(valid_specs))):
        for version in rng.sample(versions, 10):
            spec_cases.append([spec, version])
    spec_cases = dedupe(spec_cases)
    raw = run_tool([["spec", s] if v is None else ["spec", s, v] for s, v in spec_cases])
    out["spec"] = compare("spec", spec_cases, [our_spec_view(r) for r in raw], pkg_spec_view, hits)

    pythons = [(2, 7, 18), (3, 0, 0), (3, 6, 15), (3, 7, 0), (3, 8, 18), (3, 10, 13), (3, 11, 2),
               (3, 12, 1), (3, 13, 0), (4, 0, 0)]
    python_cases = [[s, p] for s in valid_specs for p in pythons]
    raw = run_tool([["python", s, *p] for s, p in python_cases])
    out["python"] = compare("python", python_cases, raw, pkg_python_view, hits)

    out["hits"] = hits
    return out


# ---------------------------------------------------------------------------------------------
# The tests.

def test_corpus_sizes(corpus):
    assert len(corpus["versions"]) >= MIN_INPUTS
    assert len(corpus["names"]) >= MIN_INPUTS
    assert len(corpus["wheels"]) >= MIN_INPUTS
    assert len(corpus["sdists"]) >= MIN_INPUTS
    assert len(corpus["sdists_project"]) >= MIN_INPUTS
    assert len(REAL_WORLD["versions"]) >= 1000


@pytest.mark.parametrize("area", ["version", "order", "name", "wheel", "sdist", "sdist_project",
                                  "pep625", "spec", "python"])
def test_agrees_with_packaging(results, area):
    assert_agree(results[area])


def test_sort_matches_packaging(results, corpus):
    valid = [v for v in corpus["versions"]
             if EXPECTED_VERSION_VALID[v] and not is_huge_number_error(v)]
    shuffled = list(valid)
    random.Random(SEED + 7).shuffle(shuffled)
    theirs = sorted(range(len(shuffled)), key=lambda i: Version(shuffled[i]))  # stable
    ours = run_tool([["sort", shuffled]])[0]["order"]
    if ours != theirs:
        first = next(i for i, (a, b) in enumerate(zip(ours, theirs)) if a != b)
        pytest.fail(f"sort order differs from position {first} of {len(valid)}: pydepot "
                    f"{[shuffled[i] for i in ours[first:first + 5]]!r}, packaging "
                    f"{[shuffled[i] for i in theirs[first:first + 5]]!r}", pytrace=False)


def test_every_deliberate_difference_is_exercised(results):
    stale = [d.id for d in DELIBERATE_DIFFERENCES if results["hits"][d.id] == 0]
    assert not stale, f"these DELIBERATE_DIFFERENCES entries change no outcome: {stale}"
    ids = [d.id for d in DELIBERATE_DIFFERENCES]
    assert len(ids) == len(set(ids))


def test_deliberate_differences_are_documented():
    doc = (REPO / "docs" / "differential-testing.md").read_text()
    missing = [d.id for d in DELIBERATE_DIFFERENCES if f"`{d.id}`" not in doc]
    assert not missing, f"docs/differential-testing.md does not list {missing}"


def test_parse_dist_filename_agrees_with_specific_parsers(corpus, results):
    """ParseDistFilename picks the parser by extension and must then answer as that parser."""
    wheels = corpus["wheels"]
    dist = run_tool([["dist", w, ""] for w in wheels if w.endswith(".whl")])
    specific = [r for w, r in zip(wheels, results["wheel_raw"]) if w.endswith(".whl")]
    assert dist == specific
    sdist_cases = [(s, p) for s, p in corpus["sdists_project"] if _sdist_ext(s)]
    dist = run_tool([["dist", s, p] for s, p in sdist_cases])
    specific = run_tool([["sdist", s, p] for s, p in sdist_cases])
    assert dist == specific


def test_pip_copy_matches_pip(corpus):
    pip_finder = pytest.importorskip("pip._internal.index.package_finder")
    pip_misc = pytest.importorskip("pip._internal.utils.misc")
    pip_unpacking = pytest.importorskip("pip._internal.utils.unpacking")
    assert set(pip_unpacking.SUPPORTED_EXTENSIONS) == set(PIP_SUPPORTED_EXTENSIONS)
    assert pip_finder.LinkEvaluator._py_version_re.pattern == PIP_PY_VERSION_RE.pattern
    for filename, project in corpus["sdists_project"]:
        assert pip_misc.splitext(filename) == pip_splitext(filename)
        base = pip_splitext(filename)[0]
        canonical = canonicalize_name(project)
        assert (pip_finder._extract_version_from_fragment(base, canonical) ==
                pip_extract_version_from_fragment(base, canonical))


def test_standards_examples():
    """The examples of STANDARDS.md section 8, through the tool."""
    cases = [
        (["wheel", "foo-1.0-py3-none-any.whl"], {"valid": True}),
        (["wheel", "foo-1.0-1-py3-none-any.whl"], {"valid": True, "build": ["1", ""]}),
        (["wheel", "foo-1.0-x1-py3-none-any.whl"], {"valid": False}),
        (["wheel", "foo-1.0-py3-none.whl"], {"valid": False}),
        (["wheel", "foo_bar-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl"],
         {"valid": True, "project": "foo-bar"}),
        (["wheel", "Foo.Bar-1.0-py3-none-any.whl"], {"valid": True, "project": "foo-bar"}),
        (["wheel", "foo__bar-1.0-py3-none-any.whl"], {"valid": False}),
        (["sdist", "foo_bar-1.0.tar.gz", ""], {"project": "foo-bar", "version": "1.0"}),
        (["sdist", "foo-bar-1.0-1.tar.gz", "foo-bar"],
         {"version_part": "1.0-1", "version": "1.0.post1"}),
        (["sdist", "Django-1.0.tar.gz", "django"], {"project": "django", "version": "1.0"}),
        (["sdist", "zope.interface-4.0.zip", "zope.interface"], {"project": "zope-interface"}),
        (["dist", "foo-1.0.win32-py2.7.exe", ""],
         {"filetype": "bdist_wininst", "version": "1.0", "legacy_platform": "win32",
          "legacy_python": "2.7"}),
        (["dist", "foo-1.0.win32.msi", ""], {"filetype": "bdist_msi", "legacy_platform": "win32"}),
        (["dist", "foo-1.0-1.noarch.rpm", ""],
         {"filetype": "bdist_rpm", "version": "1.0", "legacy_release": "1",
          "legacy_platform": "noarch"}),
        (["dist", "foo-1.0.macosx-10.6.dmg", ""],
         {"filetype": "bdist_dmg", "legacy_platform": "macosx-10.6"}),
        (["dist", "foo_bar-1.0-py2.7-linux-x86_64.egg", ""],
         {"filetype": "bdist_egg", "project": "foo-bar", "legacy_python": "2.7",
          "legacy_platform": "linux-x86_64"}),
        (["name", "FrIeNdLy-._.-bArD"], {"valid": True, "normalized": "friendly-bard"}),
        (["name", "foo\n"], {"valid": False}),
        (["pep625", "foo_bar-1.0.tar.gz"], {"pep625": True}),
        (["pep625", "foo-bar-1.0.tar.gz"], {"pep625": False}),
    ]
    answers = run_tool([c for c, _ in cases])
    for (command, want), got in zip(cases, answers):
        for key, value in want.items():
            assert got.get(key) == value, f"{command}: {key} is {got.get(key)!r}, want {value!r}"
