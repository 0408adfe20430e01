#!/usr/bin/python3
"""Writes the libFuzzer seed corpora under tests/fuzz/corpus/<target>/.

The outputs are committed; re-run this after changing it:

    /usr/bin/python3 tests/fuzz/make_seeds.py

Everything is deterministic (fixed timestamps, owners and gzip mtime), so re-running it gives
identical files. scripts/fuzz.sh copies the seeds to build-fuzz/corpus/ before fuzzing, so the
fuzzer never writes here.
"""
import gzip
import io
import shutil
import tarfile
import zipfile
from pathlib import Path

CORPUS = Path(__file__).resolve().parent / "corpus"
REAL_METADATA = Path("/usr/lib/python3/dist-packages/packaging-23.0.dist-info/METADATA")

VERSION_SEEDS = [
    "1.0\n1.0.0", "1.0a1\n1.0", "1!2.0rc1.post3.dev4+local.7\nv1.0", " 1.0-1 \n1.0_r1",
    "1.0.0a1\n", "invalid\n1", "2.0-SNAPSHOT\nfoo", "01.02.03\n1.2.3", "1.0.post0.dev0\n1.0",
    "1.0+ubuntu-1\n1.0+ubuntu.1", "V1.0ALPHA2\n1.0a2", "1.0-r-3\n1.0.post3", "1.0c1\n1.0rc1",
    "18446744073709551616.1\n18446744073709551615.1",
    ">=1.0,<2\n1.5", "~=1.4.2\n1.4.5", "~=0.1\n1!2.0", "==1.0.*\n1.0.post1", "!=1.0.*\n1.1",
    "===foo\nfoo", "==1.0+local\n1.0+LOCAL", "<2.0\n2.0a1", ">1.0\n1.0.post1", "<=1.0\n1.0+x",
    ">=2.7,!=3.0.*,!=3.1.*,!=3.2.*\n3.11.2", "~=1.0c1\n1.1", "==1!1.*\n1!1.0rc1", " >= 1.0 , \n1",
    "\n", "==\n", "~=1\n1",
]

FILENAME_SEEDS = [
    "foo-1.0-py3-none-any.whl", "foo-1.0-1-py3-none-any.whl", "Foo.Bar-1.0-py2.py3-none-any.whl",
    "foo_bar-1.0-cp312-cp312-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    "foo-1.0-x1-py3-none-any.whl", "foo__bar-1.0-py3-none-any.whl",
    "foo_bar-1.0.tar.gz", "foo-bar-1.0-1.tar.gz\tfoo-bar", "Django-1.0.tar.gz\tdjango",
    "zope.interface-4.0.zip\tZope.Interface", "foo-1.0-py2.7.tar.gz\tfoo", "foo-1.0.tar.Z",
    "foo-1.0.tgz", "foo-1.0.tar.bz2", "foo-1.0.tar.lzma", "foo-2.0-SNAPSHOT.tar.gz\tfoo",
    "foo_bar-1.0-py2.7-linux-x86_64.egg", "foo-bar-1.0-py3.4-macosx-10.9-x86_64.egg\tfoo.bar",
    "foo-1.0.win32-py2.7.exe", "Foo-Bar-1.0.post1.win-amd64-py3.4.exe", "foo-1.0.win32.msi",
    "foo-1.0.macosx-10.6.dmg", "foo-1.0-py2.7-macosx10.6.dmg", "foo-1.0-1.noarch.rpm",
    "python-foo-2.0-3.el7.src.rpm\tpython-foo", "-1.0.tar.gz", "foo-.whl", ".tar.gz",
]

PKG_INFO_1_0 = """Metadata-Version: 1.0
Name: demo-pkg
Version: 1.0
Summary: A demo
Home-page: UNKNOWN
Author: Someone
License: MIT
Description: First line
        second line
        |   indented
Platform: UNKNOWN
"""

METADATA_2_1 = """Metadata-Version: 2.1
Name: demo_pkg
Version: 1.0
Summary: A demo package
Requires-Python: >=3.8
Requires-Dist: requests (>=2.0) ; extra == 'http'
Requires-Dist: packaging
Provides-Extra: http
Description-Content-Type: text/markdown

# demo

The body is the description.
"""


def write(target: str, name: str, data) -> None:
    directory = CORPUS / target
    directory.mkdir(parents=True, exist_ok=True)
    (directory / name).write_bytes(data if isinstance(data, bytes) else data.encode())


def wheel_bytes() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        files = {
            "demo_pkg/__init__.py": "__version__ = '1.0'\n",
            "demo_pkg-1.0.dist-info/METADATA": METADATA_2_1,
            "demo_pkg-1.0.dist-info/WHEEL":
                "Wheel-Version: 1.0\nGenerator: make_seeds\nRoot-Is-Purelib: true\n"
                "Tag: py3-none-any\n",
        }
        record = "".join(f"{name},,\n" for name in files) + "demo_pkg-1.0.dist-info/RECORD,,\n"
        files["demo_pkg-1.0.dist-info/RECORD"] = record
        for name, text in files.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            zf.writestr(info, text)
    return buffer.getvalue()


def sdist_tar_gz() -> bytes:
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tf:
        entries = {
            "demo_pkg-1.0/PKG-INFO": METADATA_2_1.replace("2.1", "2.2", 1),
            "demo_pkg-1.0/pyproject.toml":
                '[build-system]\nrequires = ["flit_core"]\n'
                'build-backend = "flit_core.buildapi"\n',
            "demo_pkg-1.0/demo_pkg/__init__.py": "__version__ = '1.0'\n",
        }
        for directory in ("demo_pkg-1.0", "demo_pkg-1.0/demo_pkg"):
            info = tarfile.TarInfo(directory)
            info.type = tarfile.DIRTYPE
            info.mode = 0o755
            tf.addfile(info)
        for name, text in entries.items():
            data = text.encode()
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mode = 0o644
            tf.addfile(info, io.BytesIO(data))
    out = io.BytesIO()
    with gzip.GzipFile(fileobj=out, mode="wb", mtime=0) as gz:
        gz.write(raw.getvalue())
    return out.getvalue()


def sdist_zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for name, text in {"demo_pkg-1.0/PKG-INFO": PKG_INFO_1_0.replace("demo-pkg", "demo_pkg"),
                           "demo_pkg-1.0/setup.py": "from setuptools import setup\nsetup()\n"}.items():
            zf.writestr(zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0)), text)
    return buffer.getvalue()


def main() -> None:
    if CORPUS.exists():
        shutil.rmtree(CORPUS)
    for i, seed in enumerate(VERSION_SEEDS):
        write("version_fuzz", f"seed-{i:02d}", seed)
    for i, seed in enumerate(FILENAME_SEEDS):
        write("filename_fuzz", f"seed-{i:02d}", seed)

    write("metadata_fuzz", "pkg-info-1.0", PKG_INFO_1_0)
    write("metadata_fuzz", "metadata-2.1", METADATA_2_1)
    write("metadata_fuzz", "metadata-2.1-crlf", METADATA_2_1.replace("\n", "\r\n"))
    if REAL_METADATA.exists():  # packaging 23.0's own METADATA, a real-world file
        write("metadata_fuzz", "packaging-23.0-METADATA", REAL_METADATA.read_bytes())

    write("dist_archive_fuzz", "wheel", b"\x00" + wheel_bytes())
    write("dist_archive_fuzz", "sdist-tar-gz", b"\x01" + sdist_tar_gz())
    write("dist_archive_fuzz", "sdist-zip", b"\x01" + sdist_zip())
    total = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    print(f"wrote {sum(1 for p in CORPUS.rglob('*') if p.is_file())} seeds, {total} bytes")


if __name__ == "__main__":
    main()
