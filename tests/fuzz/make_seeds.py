#!/usr/bin/python3
"""Writes the libFuzzer seed corpora under tests/fuzz/corpus/<target>/.

The outputs are committed; re-run this after changing it:

    /usr/bin/python3 tests/fuzz/make_seeds.py

Everything is deterministic (fixed timestamps, owners and gzip mtime), so re-running it gives
identical files. scripts/fuzz.sh copies the seeds to build-fuzz/corpus/ before fuzzing, so the
fuzzer never writes here.
"""
import base64
import gzip
import hashlib
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


# negotiate_fuzz: Accept and Accept-Encoding values, as clients send them and broken.
NEGOTIATE_SEEDS = [
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
    "text/html; q=0.01",
    "application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
    "text/html;q=0.01",
    "application/vnd.pypi.simple.latest+json;q=1.000, */*;q=0.5", "text/html", "*/*", "",
    "application/*, application/vnd.pypi.simple.v1+json;q=0", "APPLICATION/VND.PYPI.SIMPLE.V1+HTML",
    "text/html;level=1;q=0.7, application/vnd.pypi.simple.v1+json;charset=utf-8;q=0.699",
    "application/json;q=0.9, text/plain;q=0.8, text/html;q=0.7", "text/*;q=0., application/json",
    "gzip, deflate, br", "br;q=1.0, GZIP;q=0.5", "identity, *;q=0.1", "gzip;q=0, *",
    "x-gzip;Q=0.001", "gzip;q=2", "gzip;q=x;q=1", "*;q=0, *", ",,; ;q=1,/,a/,/b, \t",
]

READER = "Basic " + base64.b64encode(b"reader:reader-password").decode()
UPLOADER = "Basic " + base64.b64encode(b"uploader:uploader-password").decode()
PIP_ACCEPT = ("application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
              "text/html; q=0.01")


def package_wheel(name: str, version: str) -> bytes:
    """A small valid wheel of `name` `version` (pure Python, fixed times)."""
    dist_info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": "VALUE = 2\n",
        f"{dist_info}/METADATA":
            f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n\nSeed.\n",
        f"{dist_info}/WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        f"{dist_info}/RECORD": "",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as zf:
        for path, text in files.items():
            zf.writestr(zipfile.ZipInfo(path, date_time=(1980, 1, 1, 0, 0, 0)), text)
    return buffer.getvalue()


def multipart(fields, filename, content: bytes, boundary: str = "fuzzb") -> bytes:
    out = b""
    for key, value in fields:
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="{key}"\r\n\r\n'
                f"{value}\r\n").encode()
    if filename is not None:
        out += (f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
                f'filename="{filename}"\r\nContent-Type: application/octet-stream\r\n\r\n'
                ).encode() + content + b"\r\n"
    return out + f"--{boundary}--\r\n".encode()


def upload_fields(name: str, version: str, filetype: str, content: bytes):
    return [(":action", "file_upload"), ("protocol_version", "1"), ("metadata_version", "2.1"),
            ("name", name), ("version", version), ("filetype", filetype),
            ("pyversion", "py3" if filetype == "bdist_wheel" else "source"),
            ("md5_digest", hashlib.md5(content).hexdigest()),
            ("sha256_digest", hashlib.sha256(content).hexdigest()),
            ("blake2_256_digest", hashlib.blake2b(content, digest_size=32).hexdigest())]


def request(flags: int, line: str, headers, body: bytes = b"") -> bytes:
    """The handlers_fuzz input format: a flags byte (bit 0 local store, bit 1 public read, bit 2
    throttled, bits 3-7 upload chunk size), then an HTTP-like request."""
    text = line + "\r\n" + "".join(f"{k}: {v}\r\n" for k, v in headers) + "\r\n"
    return bytes([flags]) + text.encode() + body


def handlers_seeds() -> dict:
    """handlers_fuzz: every route with and without credentials, hostile paths, and uploads."""
    seeds = {}
    reads = {
        "root-simple": "/simple/", "project": "/simple/foo/", "project-redirect": "/simple/Foo",
        "wheel": "/files/foo/foo-1.0-py3-none-any.whl",
        "metadata": "/files/foo/foo-1.0-py3-none-any.whl.metadata",
        "sdist": "/files/foo/foo-1.0.tar.gz", "pypi-json": "/pypi/foo/json",
        "pypi-release": "/pypi/Foo/1.0/json", "human-root": "/", "human-project": "/project/foo/",
        "human-release": "/project/foo/1.0/", "missing": "/simple/nothing/",
        "traversal-encoded": "/files/foo/..%2f..%2fauth%2fusers.json",
        "traversal-dots": "/files/%2e%2e/index/projects.json",
        "traversal-plain": "/simple/../auth/users.json", "nul": "/files/foo/foo%00.whl",
        "query": "/simple/foo/?format=json&x=%zz",
    }
    for i, (name, target) in enumerate(reads.items()):
        # Alternate the store (bit 0) so both see every route.
        seeds[f"get-{name}"] = request(i % 2, f"GET {target}", [("Authorization", READER)])
    seeds["get-project-pip"] = request(0, "GET /simple/foo/", [
        ("Authorization", READER), ("Accept", PIP_ACCEPT), ("Accept-Encoding", "gzip")])
    seeds["get-project-etag"] = request(1, "GET /simple/foo/", [
        ("Authorization", READER), ("If-None-Match", 'W/"x", *')])
    seeds["get-wheel-range"] = request(1, "GET /files/foo/foo-1.0-py3-none-any.whl", [
        ("Authorization", READER), ("Range", "bytes=10-99"), ("If-Range", '"abc"')])
    seeds["get-sdist-suffix-range"] = request(0, "GET /files/foo/foo-1.0.tar.gz", [
        ("Authorization", READER), ("Range", "bytes=-20")])
    seeds["head-wheel"] = request(1, "HEAD /files/foo/foo-1.0-py3-none-any.whl",
                                  [("Authorization", READER)])
    seeds["anonymous"] = request(0, "GET /simple/foo/", [])
    seeds["anonymous-public"] = request(2, "GET /files/foo/foo-1.0.tar.gz", [])
    seeds["wrong-password"] = request(1, "GET /simple/", [
        ("Authorization", "Basic " + base64.b64encode(b"reader:wrong").decode())])
    # Bit 2: the handlers that throttle password checks (429 after repeated failures).
    seeds["throttled-wrong-password"] = request(4, "GET /simple/foo/", [
        ("Authorization", "Basic " + base64.b64encode(b"uploader:guess").decode())])
    seeds["throttled-reader"] = request(4 | 1, "GET /files/foo/foo-1.0.tar.gz",
                                        [("Authorization", READER)])
    seeds["delete"] = request(0, "DELETE /simple/foo/", [("Authorization", READER)])
    seeds["relative-target"] = request(0, "GET simple/", [("Authorization", READER)])

    wheel = package_wheel("bar", "1.0")
    good = multipart(upload_fields("bar", "1.0", "bdist_wheel", wheel),
                     "bar-1.0-py3-none-any.whl", wheel)
    upload_headers = [("Authorization", UPLOADER),
                      ("Content-Type", "multipart/form-data; boundary=fuzzb")]
    # The chunk size is flags >> 3: whole, 7-byte and 31-byte chunks.
    seeds["upload-new-project"] = request(0, "POST /legacy/", upload_headers, good)
    seeds["upload-new-project-local-chunked"] = request(1 | 7 << 3, "POST /", upload_headers, good)
    seeds["upload-chunked-31"] = request(31 << 3, "POST /legacy", upload_headers, good)
    other = package_wheel("foo", "1.0")
    seeds["upload-existing-filename"] = request(1, "POST /legacy/", upload_headers, multipart(
        upload_fields("foo", "1.0", "bdist_wheel", other), "foo-1.0-py3-none-any.whl", other))
    bad_digest = upload_fields("bar", "1.0", "bdist_wheel", wheel)
    bad_digest[8] = ("sha256_digest", "0" * 64)
    seeds["upload-wrong-digest"] = request(0, "POST /legacy/", upload_headers, multipart(
        bad_digest, "bar-1.0-py3-none-any.whl", wheel))
    seeds["upload-traversal-filename"] = request(1, "POST /legacy/", upload_headers, multipart(
        upload_fields("bar", "1.0", "sdist", wheel), "../../auth/users.json", wheel))
    seeds["upload-reader"] = request(0, "POST /legacy/", [
        ("Authorization", READER), ("Content-Type", "multipart/form-data; boundary=fuzzb")], good)
    seeds["upload-too-large"] = request(0, "POST /legacy/", upload_headers + [
        ("Content-Length", "99999999999")], good)
    seeds["upload-no-boundary"] = request(0, "POST /legacy/", [
        ("Authorization", UPLOADER), ("Content-Type", "multipart/form-data")], good)
    seeds["upload-truncated"] = request(0, "POST /legacy/", upload_headers, good[:len(good) // 2])
    seeds["upload-action-in-query"] = request(0, "POST /legacy/?:action=file_upload", upload_headers,
                                              multipart(upload_fields("bar", "1.0", "bdist_wheel",
                                                                      wheel)[1:],
                                                        "bar-1.0-py3-none-any.whl", wheel))
    return seeds


# The targets whose seeds this script writes; the others' seeds (multipart_fuzz, ...) are
# committed by hand and left alone.
GENERATED = ("version_fuzz", "filename_fuzz", "metadata_fuzz", "dist_archive_fuzz",
             "negotiate_fuzz", "handlers_fuzz")


def main() -> None:
    for target in GENERATED:
        if (CORPUS / target).exists():
            shutil.rmtree(CORPUS / target)
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

    for i, seed in enumerate(NEGOTIATE_SEEDS):
        write("negotiate_fuzz", f"seed-{i:02d}", seed)
    for name, seed in handlers_seeds().items():
        write("handlers_fuzz", name, seed)
    total = sum(p.stat().st_size for p in CORPUS.rglob("*") if p.is_file())
    print(f"wrote {sum(1 for p in CORPUS.rglob('*') if p.is_file())} seeds, {total} bytes")


if __name__ == "__main__":
    main()
