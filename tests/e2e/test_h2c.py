"""HTTP/2 over cleartext with prior knowledge (h2c) on the HTTP/1.1 port, with Debian's curl
(built with nghttp2): what Cloud Run's "end-to-end HTTP/2" sends to the container. An upload
bigger than Cloud Run's 32 MiB HTTP/1 request cap goes through (docs/deploy.md)."""

import hashlib
import json
import os
import zipfile

import pytest

from conftest import PASSWORDS, build_package, run, twine_upload

pytestmark = pytest.mark.skipif(
    "HTTP2" not in run(["curl", "-V"]).stdout, reason="curl without HTTP/2")


def curl(srv, path, *args, user="reader"):
    """curl over h2c: (http_version, status, stdout) with the body in stdout."""
    res = run(["curl", "-sS", "--http2-prior-knowledge", "-u", "%s:%s" % (user, PASSWORDS[user]),
               "-w", "\n%{http_version} %{http_code}", *args, srv.url + path], text=False)
    assert res.returncode == 0, res.stderr
    body, _, tail = res.stdout.rpartition(b"\n")
    version, code = tail.decode().split()
    return version, int(code), body


def big_wheel(directory, name, version, size):
    """A valid wheel of about `size` bytes: a stored (uncompressed) data member of random
    bytes, METADATA naming `name` and `version`, WHEEL and RECORD."""
    module = name.replace("-", "_")
    dist_info = "%s-%s.dist-info" % (module, version)
    path = directory / ("%s-%s-py3-none-any.whl" % (module, version))
    metadata = "Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: big\n" % (name, version)
    wheel = "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(module + "/__init__.py", "", compress_type=zipfile.ZIP_DEFLATED)
        with z.open(module + "/blob.bin", "w", force_zip64=True) as out:
            left = size
            while left > 0:
                chunk = os.urandom(min(left, 1 << 20))
                out.write(chunk)
                left -= len(chunk)
        z.writestr(dist_info + "/METADATA", metadata, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr(dist_info + "/WHEEL", wheel, compress_type=zipfile.ZIP_DEFLATED)
        z.writestr(dist_info + "/RECORD", "", compress_type=zipfile.ZIP_DEFLATED)
    return path


def upload_args(path, name, version):
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    fields = {":action": "file_upload", "protocol_version": "1", "name": name,
              "version": version, "filetype": "bdist_wheel", "pyversion": "py3",
              "metadata_version": "2.1", "sha256_digest": digest}
    args = []
    for key, value in fields.items():
        args += ["-F", "%s=%s" % (key, value)]
    return args + ["-F", "content=@%s;type=application/octet-stream" % path], digest


def listed(srv, project):
    version, code, body = curl(srv, "/simple/%s/" % project,
                               "-H", "Accept: application/vnd.pypi.simple.v1+json")
    assert (version, code) == ("2", 200)
    return {f["filename"]: f["hashes"]["sha256"] for f in json.loads(body)["files"]}


def test_simple_page_and_download_over_h2c(fresh_server, workdir):
    dists = build_package(workdir, "h2c-demo", "1.0")
    res = twine_upload(fresh_server, dists)  # HTTP/1.1 on the same port
    assert res.returncode == 0, res.stdout + res.stderr
    version, code, body = curl(fresh_server, "/simple/h2c-demo/")
    assert (version, code) == ("2", 200)
    assert all(d.name.encode() in body for d in dists)
    # Without credentials: 401, as over HTTP/1.1.
    res = run(["curl", "-sS", "--http2-prior-knowledge", "-o", "/dev/null", "-w",
               "%{http_version} %{http_code}", fresh_server.url + "/simple/h2c-demo/"])
    assert res.stdout == "2 401"
    for dist in dists:
        version, code, body = curl(fresh_server, "/files/h2c-demo/" + dist.name)
        assert (version, code) == ("2", 200)
        assert body == dist.read_bytes()
    # HTTP/1.1 still works on the port.
    assert fresh_server.get("/simple/h2c-demo/", user="reader").status_code == 200


def test_upload_above_cloud_runs_http1_cap_over_h2c(fresh_server, workdir):
    path = big_wheel(workdir, "h2c-big", "1.0", 48 << 20)
    assert path.stat().st_size > 32 << 20
    args, digest = upload_args(path, "h2c-big", "1.0")
    version, code, body = curl(fresh_server, "/legacy/", *args, user="uploader")
    assert (version, code) == ("2", 200), body
    assert listed(fresh_server, "h2c-big") == {path.name: digest}
    version, code, body = curl(fresh_server, "/files/h2c-big/" + path.name)
    assert (version, code) == ("2", 200)
    assert hashlib.sha256(body).hexdigest() == digest


def test_refused_upload_over_h2c(fresh_server, workdir):
    path = big_wheel(workdir, "h2c-refused", "1.0", 1 << 20)
    args, _ = upload_args(path, "h2c-refused", "1.0")
    # A reader may not upload: 403, nothing stored.
    version, code, _ = curl(fresh_server, "/legacy/", *args, user="reader")
    assert (version, code) == ("2", 403)
    version, code, _ = curl(fresh_server, "/simple/h2c-refused/")
    assert (version, code) == ("2", 404)
