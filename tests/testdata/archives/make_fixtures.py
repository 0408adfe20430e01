#!/usr/bin/python3
"""Writes the small distribution archives that src/archive/dist_archive_test.cc reads.

They are made with Python's own zipfile and tarfile (stdlib only), so that the C++ reader is
tested against archives that libarchive did not write. Each archive `X` comes with `X.metadata`,
the bytes of its METADATA / PKG-INFO member as Python reads them (PEP 658 naming).

The output is deterministic (fixed timestamps, gzip mtime 0): run it again and git shows no diff.

    /usr/bin/python3 tests/testdata/archives/make_fixtures.py
"""

import gzip
import io
import os
import tarfile
import zipfile

HERE = os.path.dirname(os.path.abspath(__file__))
DATE = (2024, 1, 2, 3, 4, 6)
MTIME = 1704164646

PKG_INFO = (
    "Metadata-Version: 2.2\n"
    "Name: demo-pkg\n"
    "Version: 1.0\n"
    "Summary: A fixture for pydepot's archive reader\n"
    "Author: Zo\u00eb Example\n"
    "Requires-Dist: requests>=2\n"
    "Requires-Dist: tomli; python_version < '3.11'\n"
    "Description-Content-Type: text/markdown\n"
    "\n"
    "# demo-pkg\n"
    "\n"
    "Made by make_fixtures.py.\n"
).encode("utf-8")

LONG_DIR = "a_directory_name_long_enough_that_ustar_needs_a_pax_header/" * 3


def write(name, data):
    with open(os.path.join(HERE, name), "wb") as f:
        f.write(data)


def sdist_tar_gz():
    top = "demo_pkg-1.0"
    members = [
        (top + "/", None),
        (top + "/PKG-INFO", PKG_INFO),
        (top + "/pyproject.toml", b'[project]\nname = "demo-pkg"\nversion = "1.0"\n'),
        (top + "/src/demo_pkg/__init__.py", b""),
        (top + "/" + LONG_DIR + "data.txt", b"long path\n"),
        (top + "/src/demo_pkg/caf\u00e9.txt", b"non-ASCII name\n"),
    ]
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for name, data in members:
            info = tarfile.TarInfo(name.rstrip("/"))
            info.mtime = MTIME
            if data is None:
                info.type = tarfile.DIRTYPE
                info.mode = 0o755
                tar.addfile(info)
            else:
                info.size = len(data)
                info.mode = 0o644
                tar.addfile(info, io.BytesIO(data))
    packed = io.BytesIO()
    with gzip.GzipFile(fileobj=packed, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    write("demo_pkg-1.0.tar.gz", packed.getvalue())
    write("demo_pkg-1.0.tar.gz.metadata", PKG_INFO)


def sdist_zip():
    # A legacy sdist: .zip, name part with '.' and upper case, as old setuptools made.
    top = "Demo.Pkg-1.0"
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in [
            (top + "/PKG-INFO", PKG_INFO),
            (top + "/setup.py", b"from setuptools import setup\nsetup()\n"),
            (top + "/caf\u00e9.txt", b"non-ASCII name\n"),
        ]:
            z.writestr(zipfile.ZipInfo(name, DATE), data)
    write("Demo.Pkg-1.0.zip", buf.getvalue())
    write("Demo.Pkg-1.0.zip.metadata", PKG_INFO)


def wheel():
    dist_info = "demo_pkg-1.0.dist-info"
    metadata = PKG_INFO.replace(b"Metadata-Version: 2.2", b"Metadata-Version: 2.1")
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data in [
            ("demo_pkg/__init__.py", b""),
            (dist_info + "/METADATA", metadata),
            (dist_info + "/WHEEL", b"Wheel-Version: 1.0\nGenerator: make_fixtures.py\n"
             b"Root-Is-Purelib: true\nTag: py3-none-any\n"),
            (dist_info + "/RECORD", b""),
        ]:
            z.writestr(zipfile.ZipInfo(name, DATE), data)
    write("demo_pkg-1.0-py3-none-any.whl", buf.getvalue())
    write("demo_pkg-1.0-py3-none-any.whl.metadata", metadata)


if __name__ == "__main__":
    sdist_tar_gz()
    sdist_zip()
    wheel()
