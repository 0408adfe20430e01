"""Uploads through the legacy API (STANDARDS §11): twine, and every negative case with raw requests
or curl. Each refused upload must change nothing."""

import hashlib
import shutil

import pytest
import requests

from conftest import build_package, run, twine_upload

ALREADY_EXISTS = "File already exists"


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    work = tmp_path_factory.mktemp("upload")
    first = build_package(work, "upload-demo", "1.0")
    other = build_package(work, "upload-demo", "1.0", extra_text="different bytes")
    return {"first": first, "other": other, "work": work}


def form_for(path, name="upload-demo", version="1.0", **overrides):
    data = path.read_bytes()
    is_wheel = path.name.endswith(".whl")
    fields = {
        ":action": "file_upload",
        "protocol_version": "1",
        "metadata_version": "2.1",
        "name": name,
        "version": version,
        "filetype": "bdist_wheel" if is_wheel else "sdist",
        "pyversion": "py3" if is_wheel else "source",
        "sha256_digest": hashlib.sha256(data).hexdigest(),
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}, data


def post(server, fields, filename, data, user="uploader", headers=None, path="/legacy/"):
    # Without a file, a text part keeps the body multipart/form-data.
    files = ({"content": (filename, data, "application/octet-stream")} if filename else
             {"comment": (None, "no file here")})
    return requests.post(server.url + path, data=fields, files=files, auth=server.auth(user),
                         headers=headers or {}, allow_redirects=False, timeout=60)


def listed(server, project="upload-demo"):
    r = server.get("/simple/%s/" % project, headers={"Accept":
                                                     "application/vnd.pypi.simple.v1+json"})
    if r.status_code == 404:
        return {}
    return {f["filename"]: f["hashes"]["sha256"] for f in r.json()["files"]}


def test_twine_upload_then_identical_reupload(fresh_server, dists):
    res = twine_upload(fresh_server, dists["first"])
    assert res.returncode == 0, res.stdout + res.stderr
    before = listed(fresh_server)
    assert sorted(before) == sorted(f.name for f in dists["first"])
    for f in dists["first"]:
        assert before[f.name] == hashlib.sha256(f.read_bytes()).hexdigest()
    # The same bytes again: 200, nothing changes.
    res = twine_upload(fresh_server, dists["first"])
    assert res.returncode == 0, res.stdout + res.stderr
    assert listed(fresh_server) == before
    # Different bytes under the same names: 400 "File already exists", nothing changes.
    for f in dists["other"]:
        fields, data = form_for(f)
        r = post(fresh_server, fields, f.name, data)
        assert r.status_code == 400
        assert r.reason.startswith(ALREADY_EXISTS) and r.text.startswith(ALREADY_EXISTS)
    assert listed(fresh_server) == before
    res = twine_upload(fresh_server, dists["other"])
    assert res.returncode != 0
    assert listed(fresh_server) == before


def bad_cases(wheel, sdist):
    """(description, fields/file mutation, expected status, message fragment)."""
    w_fields, w_data = form_for(wheel)
    s_fields, s_data = form_for(sdist)
    cases = [
        ("no :action", dict(w_fields, **{":action": None}), wheel.name, w_data, 400, ":action"),
        ("unknown action", dict(w_fields, **{":action": "frobnicate"}), wheel.name, w_data, 400,
         ":action"),
        ("register", dict(w_fields, **{":action": "submit"}), wheel.name, w_data, 410,
         "pre-registration"),
        ("doc upload", dict(w_fields, **{":action": "doc_upload"}), wheel.name, w_data, 410,
         "documentation"),
        ("protocol", dict(w_fields, protocol_version="2"), wheel.name, w_data, 400,
         "Unknown protocol version"),
        ("bad name", dict(w_fields, name="-upload-demo"), wheel.name, w_data, 400,
         "Start and end with a letter"),
        ("bad version", dict(w_fields, version="not a version"), wheel.name, w_data, 400,
         "invalid value for Version"),
        ("filetype", dict(w_fields, filetype="bdist_egg"), wheel.name, w_data, 400,
         "Use a known file type"),
        ("no pyversion", dict(w_fields, pyversion=None), wheel.name, w_data, 400,
         "Python version is required"),
        ("sdist pyversion", dict(s_fields, pyversion="py3"), sdist.name, s_data, 400,
         "Use 'source'"),
        ("no file", w_fields, None, None, 400, "does not have a file"),
        ("no digest", dict(w_fields, sha256_digest=None), wheel.name, w_data, 400,
         "Include at least one message digest"),
        ("wrong sha256", dict(w_fields, sha256_digest="0" * 64), wheel.name, w_data, 400,
         "digest supplied does not match"),
        ("wrong md5", dict(w_fields, md5_digest="0" * 32), wheel.name, w_data, 400,
         "digest supplied does not match"),
        ("wrong extension", dict(w_fields, filetype="sdist", pyversion=None), wheel.name, w_data,
         400, "Invalid file extension"),
        ("unknown extension", w_fields, "upload_demo-1.0.exe", w_data, 400,
         "Invalid file extension"),
        ("slash", w_fields, "../upload_demo-1.0-py3-none-any.whl", w_data, 400, "'/'"),
        ("backslash", w_fields, "..\\upload_demo-1.0-py3-none-any.whl", w_data, 400, "'/'"),
        # requests writes control characters as %XX (HTML5 style): a '%' is refused too.
        ("percent", w_fields, "upload_demo-1.0-py3-none-any\x01.whl", w_data, 400,
         "character"),
        ("name vs filename", dict(w_fields, name="other-project"), wheel.name, w_data, 400,
         "Start filename"),
        ("version vs filename", dict(w_fields, version="2.0"), wheel.name, w_data, 400,
         "Version in filename"),
        ("corrupt archive", dict(w_fields, sha256_digest=hashlib.sha256(b"junk").hexdigest()),
         wheel.name, b"junk", 400, "Invalid distribution file"),
        ("too long", w_fields, "upload_demo-1.0-py3-none-" + "x" * 300 + ".whl", w_data, 400,
         "too long"),
    ]
    return cases


def test_negative_uploads_change_nothing(fresh_server, dists):
    wheel = [f for f in dists["first"] if f.name.endswith(".whl")][0]
    sdist = [f for f in dists["first"] if f.name.endswith(".tar.gz")][0]
    for desc, fields, filename, data, status, fragment in bad_cases(wheel, sdist):
        r = post(fresh_server, fields, filename, data)
        assert r.status_code == status, (desc, r.status_code, r.text)
        assert fragment in r.text, (desc, r.text)
        assert fragment in r.reason or len(r.reason) >= 300, (desc, r.reason)
        # Only the duplicate-file case may use the phrases clients read as "already exists".
        for phrase in ("already exist", "updating asset", "already been taken"):
            assert phrase not in r.text.lower(), desc
        assert listed(fresh_server) == {}, desc
    # Nothing half-written anywhere in the storage.
    stored = [p for p in fresh_server.storage.rglob("*") if p.is_file() and "files" in p.parts]
    assert stored == []


def test_metadata_mismatch(fresh_server, tmp_path):
    # A wheel whose METADATA says another name, uploaded under a filename that matches the form.
    other = build_package(tmp_path, "mismatch-b", "1.0", sdist=False)[0]
    renamed = tmp_path / "mismatch_a-1.0-py3-none-any.whl"
    shutil.copy(other, renamed)
    fields, data = form_for(renamed, name="mismatch-a")
    r = post(fresh_server, fields, renamed.name, data)
    assert r.status_code == 400 and "Invalid distribution file" in r.text, r.text
    assert listed(fresh_server, "mismatch-a") == {}


def test_auth_and_roles_on_upload(fresh_server, dists):
    wheel = [f for f in dists["first"] if f.name.endswith(".whl")][0]
    fields, data = form_for(wheel)
    r = requests.post(fresh_server.url + "/legacy/", data=fields,
                      files={"content": (wheel.name, data)}, timeout=30)
    assert r.status_code == 401 and "Basic" in r.headers["WWW-Authenticate"]
    r = post(fresh_server, fields, wheel.name, data, user="reader")
    assert r.status_code == 403
    assert "overwrite artifact" not in r.text
    r = requests.post(fresh_server.url + "/legacy/", data=fields,
                      files={"content": (wheel.name, data)}, auth=("uploader", "wrong-password"),
                      timeout=30)
    assert r.status_code == 401
    assert listed(fresh_server) == {}


def test_upload_to_root_and_slashless_path(fresh_server, dists):
    wheel = [f for f in dists["first"] if f.name.endswith(".whl")][0]
    fields, data = form_for(wheel)
    r = post(fresh_server, fields, wheel.name, data, path="/legacy")
    assert r.status_code == 200, r.text
    r = post(fresh_server, fields, wheel.name, data, path="/")
    assert r.status_code == 200, r.text
    assert list(listed(fresh_server)) == [wheel.name]


def test_size_limit_answers_413_before_the_body(tmp_path, dists):
    from conftest import Server, make_storage
    srv = Server(make_storage(tmp_path), extra_args=["--max-upload-size", "1000"])
    try:
        wheel = [f for f in dists["first"] if f.name.endswith(".whl")][0]
        # curl sends Expect: 100-continue for a large body; a 413 must come before the body.
        big = tmp_path / "upload_demo-1.0-py3-none-any.whl"
        big.write_bytes(b"\0" * 5_000_000)
        out = run(["curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "-u",
                   "uploader:upload-secret-pw", "-F", ":action=file_upload", "-F",
                   "name=upload-demo", "-F", "version=1.0", "-F", "filetype=bdist_wheel", "-F",
                   "pyversion=py3", "-F", "sha256_digest=" + "0" * 64, "-F",
                   "content=@%s" % big, srv.url + "/legacy/"])
        assert out.stdout == "413", out
        assert listed(srv) == {}
        del wheel
    finally:
        srv.stop()


def test_json_error_for_json_clients(fresh_server, dists):
    wheel = [f for f in dists["first"] if f.name.endswith(".whl")][0]
    fields, data = form_for(wheel, sha256_digest="0" * 64)
    r = post(fresh_server, fields, wheel.name, data,
             headers={"Accept": "application/json;q=0.9, text/plain;q=0.8, text/html;q=0.7"})
    assert r.status_code == 400
    assert r.headers["Content-Type"] == "application/json"
    assert r.json()["code"].startswith("400 ")


def raw_multipart(fields, filename, data, boundary="pydepotBoundary1234"):
    """A multipart body written by hand, so the filename reaches the server byte for byte."""
    out = b""
    for name, value in fields.items():
        out += (b"--%s\r\nContent-Disposition: form-data; name=\"%s\"\r\n\r\n%s\r\n" %
                (boundary.encode(), name.encode(), value.encode()))
    out += (b"--%s\r\nContent-Disposition: form-data; name=\"content\"; filename=\"%s\"\r\n"
            b"Content-Type: application/octet-stream\r\n\r\n" % (boundary.encode(), filename))
    out += data + b"\r\n--%s--\r\n" % boundary.encode()
    return out, "multipart/form-data; boundary=" + boundary


@pytest.mark.parametrize("filename,fragment", [
    (b"upload_demo-1.0-py3-none-any\x01.whl", "control character"),
    (b"upload_demo-1.0-py3-none-any\x7f.whl", "control character"),
    (b"upload_demo-1.0-py3-none-\xff.whl", "UTF-8"),
    (b"../upload_demo-1.0-py3-none-any.whl", "'/'"),
    (b"upload_demo%2F..%2F-1.0-py3-none-any.whl", "character"),
])
def test_raw_hostile_filenames(fresh_server, dists, filename, fragment):
    wheel = [f for f in dists["first"] if f.name.endswith(".whl")][0]
    fields, data = form_for(wheel)
    body, ctype = raw_multipart(fields, filename, data)
    r = requests.post(fresh_server.url + "/legacy/", data=body, auth=fresh_server.auth("uploader"),
                      headers={"Content-Type": ctype}, timeout=30)
    assert r.status_code == 400, r.text
    assert fragment in r.text
    assert listed(fresh_server) == {}


def test_large_upload_streams_with_flat_memory(fresh_server, tmp_path):
    # A 200 MB wheel (stored, incompressible) goes through twine; the server's memory must stay
    # flat: the body streams to disk and is hashed on the way.
    import os
    import threading
    import zipfile
    wheel = tmp_path / "big_upload-1.0-py3-none-any.whl"
    with zipfile.ZipFile(wheel, "w", compression=zipfile.ZIP_STORED) as zf:
        zf.writestr("big_upload/__init__.py", "")
        with zf.open("big_upload/blob.bin", "w", force_zip64=True) as blob:
            for _ in range(200):
                blob.write(os.urandom(1 << 20))
        zf.writestr("big_upload-1.0.dist-info/METADATA",
                    "Metadata-Version: 2.1\nName: big-upload\nVersion: 1.0\n")
        zf.writestr("big_upload-1.0.dist-info/WHEEL",
                    "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr("big_upload-1.0.dist-info/RECORD", "")

    def rss_kb():
        status = open("/proc/%d/status" % fresh_server.proc.pid).read()
        return int([l for l in status.splitlines() if l.startswith("VmRSS:")][0].split()[1])

    # Warm up: the uploader's password is verified once (argon2id uses 19 MiB while it runs)
    # and then cached, so what is sampled below is the upload alone.
    assert fresh_server.get("/simple/", user="uploader").status_code == 200
    baseline = rss_kb()
    peak = [baseline]
    done = threading.Event()

    def sample():
        while not done.is_set():
            peak[0] = max(peak[0], rss_kb())
            done.wait(0.02)

    sampler = threading.Thread(target=sample)
    sampler.start()
    try:
        res = twine_upload(fresh_server, [wheel])
    finally:
        done.set()
        sampler.join()
    assert res.returncode == 0, res.stdout + res.stderr
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    assert listed(fresh_server, "big-upload") == {wheel.name: digest}
    growth_kb = peak[0] - baseline
    print("server RSS grew by at most %d kB during a 200 MB upload" % growth_kb)
    assert growth_kb < 32 * 1024, growth_kb
    r = fresh_server.get("/files/big-upload/" + wheel.name, stream=True)
    h = hashlib.sha256()
    for chunk in r.iter_content(1 << 20):
        h.update(chunk)
    assert h.hexdigest() == digest
