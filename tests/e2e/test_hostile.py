"""Hostile input against a real server (issue 6, item 1): every case gets a clear 4xx, a message a
person can act on, and nothing is stored. Malformed HTTP goes through raw sockets; the rest through
requests. Cases test_upload.py already covers (../ and backslash filenames, control characters and
bad UTF-8 in filenames, missing :action, file or digest, wrong sha256/md5, name mismatch, corrupt
archive, 413 with Expect) are not repeated here."""

import hashlib
import io
import re
import resource
import socket
import tarfile
import time
import zipfile

import pytest
import requests

from conftest import PASSWORDS, Server, make_storage

TIMEOUT_ARGS = ["--header-timeout", "2", "--idle-timeout", "2", "--body-timeout", "2"]


@pytest.fixture(scope="module")
def srv(tmp_path_factory):
    """A server of its own, with 2-second timeouts."""
    server = Server(make_storage(tmp_path_factory.mktemp("hostile")), extra_args=TIMEOUT_ARGS)
    yield server
    server.stop()


# --- helpers -----------------------------------------------------------------------------------

def basic(user="uploader"):
    import base64
    return "Basic " + base64.b64encode(("%s:%s" % (user, PASSWORDS[user])).encode()).decode()


def connect(server, source="127.0.0.1", timeout=10):
    host, port = server.netloc.rsplit(":", 1)
    s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    s.bind((source, 0))
    s.settimeout(timeout)
    s.connect((host, int(port)))
    return s


def read_all(s):
    out = b""
    try:
        while True:
            chunk = s.recv(65536)
            if not chunk:
                break
            out += chunk
    except (socket.timeout, ConnectionResetError):
        pass
    return out


def raw(server, data, source="127.0.0.1", timeout=10):
    """Sends `data` as it is and returns every byte the server sends until it closes."""
    s = connect(server, source, timeout)
    try:
        s.sendall(data)
        return read_all(s)
    finally:
        s.close()


def statuses(answer):
    return [(int(code), reason.decode("latin-1"))
            for code, reason in re.findall(rb"HTTP/1\.1 (\d{3}) ([^\r\n]*)\r\n", answer)]


def header(answer, name):
    m = re.search(rb"\r\n" + name.encode() + rb": ([^\r\n]*)\r\n", answer, re.I)
    return m.group(1).decode("latin-1") if m else None


def stored_files(server):
    return [p for p in server.storage.rglob("*") if p.is_file() and "files" in p.parts]


def spool_files(server):
    return [p for p in (server.storage / ".tmp").rglob("*") if p.is_file()] \
        if (server.storage / ".tmp").exists() else []


def assert_nothing_stored(server):
    assert stored_files(server) == []
    assert spool_files(server) == []
    r = server.get("/simple/", headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    assert r.status_code == 200 and r.json()["projects"] == []


AUTH = ("Authorization: %s\r\n" % basic("reader")).encode()


def get(target, extra=b"", close=True):
    return (b"GET " + target + b" HTTP/1.1\r\nHost: x\r\n" + AUTH + extra +
            (b"Connection: close\r\n" if close else b"") + b"\r\n")


def make_wheel(name, version, metadata_version=None, members=()):
    """A minimal valid wheel (bytes) and its filename."""
    base = name.replace("-", "_")
    dist = "%s-%s.dist-info" % (base, version)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("%s/__init__.py" % base, "")
        for member, data in members:
            zf.writestr(member, data)
        zf.writestr(dist + "/METADATA", "Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
                    % (name, metadata_version or version))
        zf.writestr(dist + "/WHEEL", "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                                     "Tag: py3-none-any\n")
        zf.writestr(dist + "/RECORD", "")
    return buf.getvalue(), "%s-%s-py3-none-any.whl" % (base, version)


def make_sdist(name, version, add):
    """A .tar.gz sdist with PKG-INFO, plus whatever `add(tar, top)` puts in."""
    top = "%s-%s" % (name.replace("-", "_"), version)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz") as tar:
        add(tar, top)
        info = tarfile.TarInfo(top + "/PKG-INFO")
        pkg_info = ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version)).encode()
        info.size = len(pkg_info)
        tar.addfile(info, io.BytesIO(pkg_info))
    return buf.getvalue(), top + ".tar.gz"


def upload_fields(name, version, data, filename, **overrides):
    wheel = filename.endswith(".whl")
    fields = {
        ":action": "file_upload", "protocol_version": "1", "metadata_version": "2.1",
        "name": name, "version": version, "filetype": "bdist_wheel" if wheel else "sdist",
        "pyversion": "py3" if wheel else "source",
        "sha256_digest": hashlib.sha256(data).hexdigest(),
    }
    fields.update(overrides)
    return {k: v for k, v in fields.items() if v is not None}


def upload(server, data, filename, fields=None, **overrides):
    fields = fields or upload_fields("hostile-demo", "1.0", data, filename, **overrides)
    return requests.post(server.url + "/legacy/", data=fields,
                         files={"content": (filename, data, "application/octet-stream")},
                         auth=server.auth("uploader"), timeout=60)


def multipart(parts, boundary=b"hostileBoundary"):
    """parts: (headers bytes, body bytes) each; returns the body with its closing boundary."""
    out = b""
    for head, body in parts:
        out += b"--" + boundary + b"\r\n" + head + b"\r\n\r\n" + body + b"\r\n"
    return out + b"--" + boundary + b"--\r\n"


def field(name, value):
    return (b'Content-Disposition: form-data; name="' + name + b'"', value)


def post_raw(server, body, content_type=b"multipart/form-data; boundary=hostileBoundary",
             length=None, extra=b""):
    head = (b"POST /legacy/ HTTP/1.1\r\nHost: x\r\nAuthorization: " + basic().encode() +
            b"\r\nContent-Type: " + content_type + b"\r\nContent-Length: " +
            str(len(body) if length is None else length).encode() + b"\r\n" + extra +
            b"Connection: close\r\n\r\n")
    return raw(server, head + body)


GOOD_WHEEL, GOOD_WHEEL_NAME = make_wheel("hostile-demo", "1.0")


def good_parts(filename=GOOD_WHEEL_NAME, data=GOOD_WHEEL):
    fields = upload_fields("hostile-demo", "1.0", data, filename)
    parts = [field(k.encode(), v.encode()) for k, v in fields.items()]
    parts.append((b'Content-Disposition: form-data; name="content"; filename="' +
                  filename.encode() + b'"', data))
    return parts


# --- path traversal in URLs --------------------------------------------------------------------

@pytest.mark.parametrize("target", [
    b"/files/hostile-demo/../../auth/users.json",
    b"/files/../auth/users.json",
    b"/simple/../auth/users.json",
    b"/files/hostile-demo/%2e%2e/%2e%2e/auth/users.json",
    b"/files/hostile-demo/%2e%2e%2f%2e%2e%2fauth%2fusers.json",
    b"/files/hostile-demo/..%2f..%2fauth%2fusers.json",
    b"/files/hostile-demo/..%2F..%2Findex%2Fprojects.json",
    b"/files/hostile-demo/..\\..\\auth\\users.json",
    b"/files/hostile-demo/..%5c..%5cauth%5cusers.json",
    b"//etc/passwd",
    b"/files//etc/passwd",
    b"/files/%2fetc%2fpasswd/x",
    b"http://evil.example/../auth/users.json",
    b"/simple/%2e%2e/",
])
def test_path_traversal_in_urls(srv, target):
    answer = raw(srv, get(target))
    (code, reason), = statuses(answer)
    assert code == 400, answer[:300]
    assert "Malformed" in reason or "absolute path" in reason
    assert b"argon2id" not in answer and b'"users"' not in answer


def test_store_internals_are_not_files(srv):
    for target in (b"/files/auth/users.json", b"/files/index/projects.json",
                   b"/files/index/projects/hostile-demo.json"):
        answer = raw(srv, get(target))
        assert statuses(answer)[0][0] == 404
        assert b"argon2id" not in answer


# --- NUL, control characters, bad UTF-8 ----------------------------------------------------------

@pytest.mark.parametrize("request_bytes,fragment", [
    (get(b"/simple/a\x00b/"), "target"),                       # raw NUL in the URL
    (get(b"/simple/a\x01b/"), "target"),                       # raw control character
    (get(b"/simple/\xff\xfe/"), "UTF-8"),                       # raw bytes that are not UTF-8
    (get(b"/simple/a%00b/"), "control characters"),
    (get(b"/simple/a%0d%0aSet-Cookie:%20x/"), "control characters"),
    (get(b"/simple/%ff%fe/"), "UTF-8"),
    (get(b"/simple/%c0%ae%c0%ae/"), "UTF-8"),                  # overlong '..'
    (get(b"/simple/", b"X-Evil: a\x00b\r\n"), "NUL and control characters"),
    (get(b"/simple/", b"X-Evil: a\x01b\r\n"), "NUL and control characters"),
    (get(b"/simple/", b"X-Evil: a\rb\r\n"), "Malformed"),
    (get(b"/simple/", b"X-Ev\x00il: a\r\n"), "header name"),
    (b"G\x00T /simple/ HTTP/1.1\r\nHost: x\r\n\r\n", "method"),
])
def test_nul_control_and_bad_utf8_in_requests(srv, request_bytes, fragment):
    answer = raw(srv, request_bytes)
    (code, reason), = statuses(answer)
    assert code == 400, answer[:300]
    assert fragment in reason, reason
    assert header(answer, "Connection") in ("close", None)


def replacing(name, value):
    """good_parts() with the field `name` (bytes) sent as `value` instead."""
    return [field(name, value) if head == field(name, b"")[0] else (head, body)
            for head, body in good_parts()]


def test_nul_control_and_bad_utf8_in_form_fields(srv):
    cases = [
        (replacing(b"name", b"hostile\x00demo"), "NUL"),
        ([field(b"summary", b"text\x00more")] + good_parts(), "NUL"),
        (replacing(b"name", b"hostile\x01demo"), "invalid value for Name"),
        (replacing(b"version", b"1.0\x1b[31m"), "invalid value for Version"),
        ([field(b"summary", b"\xff\xfe")] + good_parts(), "UTF-8"),
        ([field(b"na\xffme", b"x")] + good_parts(), "UTF-8"),
        ([field(b"na\x01me", b"x")] + good_parts(), "control character"),
    ]
    for parts, fragment in cases:
        (code, reason), = statuses(post_raw(srv, multipart(parts)))
        assert code == 400 and fragment in reason, (fragment, reason)
    assert_nothing_stored(srv)


# --- over-long ----------------------------------------------------------------------------------

def test_overlong_urls_and_headers(srv):
    answer = raw(srv, get(b"/simple/" + b"a" * 20000 + b"/"))
    assert statuses(answer)[0][0] == 414, answer[:200]
    answer = raw(srv, get(b"/simple/" + b"a" * 9000 + b"/"))
    assert statuses(answer)[0][0] == 414
    assert "limit is 8192" in statuses(answer)[0][1]
    answer = raw(srv, get(b"/simple/", b"X-Big: " + b"a" * 20000 + b"\r\n"))
    (code, reason), = statuses(answer)
    assert code == 431 and "16384" in reason
    answer = raw(srv, get(b"/simple/", b"".join(b"X-H%d: v\r\n" % i for i in range(3000))))
    assert statuses(answer)[0][0] == 431
    # A long name that fits the limits is simply not found, with a bounded reason phrase.
    for target in (b"/simple/" + b"a" * 5000 + b"/", b"/pypi/" + b"b" * 5000 + b"/json",
                   b"/files/" + b"c" * 5000 + b"/x.whl"):
        (code, reason), = statuses(raw(srv, get(target)))
        assert code == 404 and len(reason) <= 400


def test_overlong_form_values(srv):
    name = "a" * 10000
    r = upload(srv, GOOD_WHEEL, GOOD_WHEEL_NAME,
               fields=upload_fields(name, "1.0", GOOD_WHEEL, GOOD_WHEEL_NAME))
    assert r.status_code == 400 and "Start filename" in r.text
    assert len(r.reason) <= 400
    r = upload(srv, GOOD_WHEEL, GOOD_WHEEL_NAME, summary="s" * (5 << 20))
    assert r.status_code == 400 and "too large" in r.text
    assert_nothing_stored(srv)


# --- malformed multipart ------------------------------------------------------------------------

def test_malformed_multipart(srv):
    body = multipart(good_parts())
    cases = [
        (post_raw(srv, body, content_type=b"multipart/form-data"), "no boundary"),
        (post_raw(srv, body, content_type=b"multipart/form-data; boundary=other"), "not found"),
        (post_raw(srv, body, content_type=b"application/x-www-form-urlencoded"),
         "multipart/form-data"),
        (post_raw(srv, body[:-30]), "truncated"),
        (post_raw(srv, multipart([(b"Content-Disposition: form-data; name=\"x\"\r\nX-Pad: " +
                                   b"p" * 20000, b"v")] + good_parts())), "part headers too large"),
        (post_raw(srv, multipart([(b"X-No-Disposition: 1", b"v")] + good_parts())),
         "no Content-Disposition"),
        (post_raw(srv, multipart(good_parts() + good_parts()[-1:])), "more than one 'content'"),
        (post_raw(srv, multipart(good_parts() + [field(b"name", b"other-project")])),
         "Field 'name' was sent more than once"),
        (post_raw(srv, multipart(good_parts() + [field(b"sha256_digest", b"0" * 64)])),
         "Field 'sha256_digest' was sent more than once"),
        (post_raw(srv, multipart([p for p in good_parts() if p[0] != field(b"name", b"")[0]])),
         "invalid value for Name. Error: This field is required."),
        (post_raw(srv, multipart([p for p in good_parts() if p[0] != field(b"version", b"")[0]])),
         "invalid value for Version. Error: This field is required."),
        (post_raw(srv, multipart([p for p in good_parts() if p[0] != field(b"filetype", b"")[0]])),
         "Use a known file type."),
        (post_raw(srv, multipart([(b'Content-Disposition: form-data; name="name"; '
                                   b'filename="x"', b"hostile-demo")] +
                                 [p for p in good_parts() if p[0] != field(b"name", b"")[0]])),
         "Should not be a tuple"),
    ]
    for answer, fragment in cases:
        (code, reason), = statuses(answer)
        assert code == 400 and fragment in reason, (fragment, reason)
    # A body shorter than its Content-Length, then the client closes its side: 400, nothing kept.
    s = connect(srv)
    head = (b"POST /legacy/ HTTP/1.1\r\nHost: x\r\nAuthorization: " + basic().encode() +
            b"\r\nContent-Type: multipart/form-data; boundary=hostileBoundary\r\n"
            b"Content-Length: " + str(len(body) + 1000).encode() + b"\r\n\r\n")
    s.sendall(head + body)
    s.shutdown(socket.SHUT_WR)
    answer = read_all(s)
    s.close()
    (code, reason), = statuses(answer)
    assert code == 400 and "truncated" in reason
    assert_nothing_stored(srv)


# --- digests and metadata ------------------------------------------------------------------------

def test_wrong_digests(srv):
    data, name = GOOD_WHEEL, GOOD_WHEEL_NAME
    good = hashlib.sha256(data).hexdigest()
    for overrides in (dict(blake2_256_digest="0" * 64),
                      dict(sha256_digest="z" * 64),
                      dict(sha256_digest=good[:-1]),
                      dict(sha256_digest=hashlib.md5(data).hexdigest()),
                      dict(md5_digest=hashlib.md5(data).hexdigest(), sha256_digest="0" * 64),
                      dict(sha256_digest=None, md5_digest="", blake2_256_digest="UNKNOWN")):
        r = upload(srv, data, name, **overrides)
        assert r.status_code == 400, (overrides, r.text)
        assert ("does not match" in r.text or "at least one message digest" in r.text), r.text
    assert_nothing_stored(srv)


def test_metadata_that_disagrees_with_the_filename(srv):
    data, name = make_wheel("hostile-demo", "1.0", metadata_version="2.0")
    r = upload(srv, data, name)
    assert r.status_code == 400 and "version in the file's metadata" in r.text, r.text
    # An sdist whose PKG-INFO says 1.0, uploaded as 1.1 (filename and form agree with each other).
    data, _ = make_sdist("hostile-demo", "1.0", lambda tar, top: None)
    r = upload(srv, data, "hostile_demo-1.1.tar.gz",
               fields=upload_fields("hostile-demo", "1.1", data, "hostile_demo-1.1.tar.gz"))
    assert r.status_code == 400 and "version in the file's metadata" in r.text, r.text
    # A wheel whose METADATA names another project.
    data, _ = make_wheel("other-project", "1.0")
    r = upload(srv, data, GOOD_WHEEL_NAME)
    assert r.status_code == 400 and "Invalid distribution file" in r.text, r.text
    assert_nothing_stored(srv)


# --- bombs, links, absolute paths ----------------------------------------------------------------

def rss_kb(server):
    status = open("/proc/%d/status" % server.proc.pid).read()
    return int([l for l in status.splitlines() if l.startswith("VmRSS:")][0].split()[1])


def zeros(size):
    chunk = b"\0" * (1 << 20)
    for _ in range(size >> 20):
        yield chunk


def test_zip_and_tar_bombs(srv):
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        with zf.open("hostile_demo/zeros.bin", "w", force_zip64=True) as member:
            for chunk in zeros(200 << 20):
                member.write(chunk)
        dist = "hostile_demo-1.0.dist-info/"
        zf.writestr(dist + "METADATA", "Metadata-Version: 2.1\nName: hostile-demo\nVersion: 1.0\n")
        zf.writestr(dist + "WHEEL",
                    "Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(dist + "RECORD", "")
    zip_bomb = buf.getvalue()
    assert len(zip_bomb) < 1 << 20

    def add_zeros(tar, top):
        info = tarfile.TarInfo(top + "/zeros.bin")
        info.size = 200 << 20

        class Zeros(io.RawIOBase):
            def readable(self):
                return True

            def readinto(self, b):
                b[:] = bytes(len(b))
                return len(b)
        tar.addfile(info, io.BufferedReader(Zeros()))
    tar_bomb, tar_name = make_sdist("hostile-demo", "1.0", add_zeros)
    assert len(tar_bomb) < 1 << 20

    srv.get("/simple/", user="uploader")  # the uploader's password is verified and cached
    before = rss_kb(srv)
    for data, name in ((zip_bomb, GOOD_WHEEL_NAME), (tar_bomb, tar_name)):
        r = upload(srv, data, name)
        assert r.status_code == 400, r.text
        assert "Invalid distribution file" in r.text and "decompression bomb" in r.text, r.text
    assert rss_kb(srv) - before < 64 * 1024
    assert_nothing_stored(srv)


def symlink(name, target, kind=tarfile.SYMTYPE):
    def add(tar, top):
        info = tarfile.TarInfo(name.replace("TOP", top))
        info.type = kind
        info.linkname = target.replace("TOP", top)
        tar.addfile(info)
    return add


def plain(name):
    def add(tar, top):
        info = tarfile.TarInfo(name.replace("TOP", top))
        info.size = 1
        tar.addfile(info, io.BytesIO(b"x"))
    return add


@pytest.mark.parametrize("add", [
    symlink("TOP/passwd", "/etc/passwd"),
    symlink("TOP/up", "../../etc/passwd"),
    lambda tar, top: (symlink("TOP/dir", ".")(tar, top), plain("TOP/dir/inside")(tar, top)),
    symlink("TOP/passwd", "/etc/passwd", tarfile.LNKTYPE),
    symlink("TOP/dev", "", tarfile.CHRTYPE),
    plain("/etc/cron.d/evil"),
    plain("TOP/../../evil"),
    plain("../evil"),
], ids=["absolute-symlink", "escaping-symlink", "member-inside-a-symlink", "hardlink",
        "device", "absolute-path", "dotdot-path", "dotdot-top"])
def test_sdists_with_links_or_absolute_paths(srv, add):
    data, name = make_sdist("hostile-demo", "1.0", add)
    r = upload(srv, data, name)
    assert r.status_code == 400, r.text
    assert "Invalid distribution file" in r.text, r.text
    assert_nothing_stored(srv)


# --- sizes ---------------------------------------------------------------------------------------

def test_oversized_bodies_get_413_before_the_body(tmp_path):
    server = Server(make_storage(tmp_path), extra_args=["--max-upload-size", "1000"])
    try:
        # The head alone (no Expect: 100-continue): the answer comes without a byte of body.
        s = connect(server)
        s.sendall(b"POST /legacy/ HTTP/1.1\r\nHost: x\r\nAuthorization: " + basic().encode() +
                  b"\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                  b"Content-Length: 50000000\r\n\r\n")
        s.settimeout(5)
        answer = s.recv(65536)
        s.close()
        (code, reason), = statuses(answer)
        assert code == 413 and "File too large" in reason
        assert header(answer, "Connection") == "close"
        # Chunked: no length up front, refused once the body passes the limit.
        s = connect(server)
        s.sendall(b"POST /legacy/ HTTP/1.1\r\nHost: x\r\nAuthorization: " + basic().encode() +
                  b"\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                  b"Transfer-Encoding: chunked\r\n\r\n")
        chunk = b"--b\r\nContent-Disposition: form-data; name=\"pad\"\r\n\r\n" + b"p" * 500000
        try:
            for _ in range(20):
                s.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        except (BrokenPipeError, ConnectionResetError):
            pass
        answer = read_all(s)
        s.close()
        assert statuses(answer)[0][0] == 413, answer[:200]
        assert_nothing_stored(server)
    finally:
        server.stop()


# --- slow clients --------------------------------------------------------------------------------

def test_header_body_and_idle_timeouts(srv):
    start = time.monotonic()
    slow_head = connect(srv)
    slow_head.sendall(b"GET /simple/ HTTP/1.1\r\nHost: x\r\n")
    slow_body = connect(srv)
    slow_body.sendall(b"POST /legacy/ HTTP/1.1\r\nHost: x\r\nAuthorization: " + basic().encode() +
                      b"\r\nContent-Type: multipart/form-data; boundary=hostileBoundary\r\n"
                      b"Content-Length: 100000\r\n\r\n" + multipart(good_parts())[:500])
    idle = connect(srv)
    answers = [read_all(c) for c in (slow_head, slow_body, idle)]
    elapsed = time.monotonic() - start
    for c in (slow_head, slow_body, idle):
        c.close()
    (code, reason), = statuses(answers[0])
    assert code == 408 and "Request head not received within 2 seconds" in reason
    (code, reason), = statuses(answers[1])
    assert code == 408 and "Request body stalled" in reason and "Nothing was stored" in reason
    assert answers[2] == b""  # an idle connection is closed without an answer
    assert elapsed < 8
    assert_nothing_stored(srv)


def timed_get(server, source):
    """A whole authenticated page request on a new connection; (status, seconds)."""
    start = time.monotonic()
    answer = raw(server, get(b"/simple/"), source=source)
    return statuses(answer)[0][0] if statuses(answer) else None, time.monotonic() - start


def hold(server, count, source="127.0.0.1"):
    conns = []
    for _ in range(count):
        c = connect(server, source)
        c.sendall(b"GET /simple/ HTTP/1.1\r\nHost: x\r\nX-Half: ")
        conns.append(c)
    return conns


def test_many_slow_clients_do_not_starve_others(srv):
    srv.get("/simple/", user="reader")  # the reader's password is verified and cached
    held = hold(srv, 300)
    try:
        # 300 connections that sent half a head: a normal client still gets its page at once,
        # from the same address and from another.
        for source in ("127.0.0.1", "127.0.0.2"):
            code, seconds = timed_get(srv, source)
            assert code == 200 and seconds < 1.5, (source, code, seconds)
        # They are answered 408 and closed once the header timeout passes.
        held[0].settimeout(10)
        assert statuses(read_all(held[0]))[0][0] == 408
    finally:
        for c in held:
            c.close()


def test_connection_limits_answer_503(tmp_path):
    server = Server(make_storage(tmp_path),
                    extra_args=TIMEOUT_ARGS + ["--max-connections-per-address", "100"])
    try:
        server.get("/simple/", user="reader")
        held = hold(server, 300)
        try:
            refused = 0
            for c in held[100:]:
                c.settimeout(5)
                answer = read_all(c)
                (code, reason), = statuses(answer)
                assert code == 503 and "Too many connections from your address" in reason
                assert header(answer, "Retry-After") is not None
                refused += 1
            assert refused == 200
            code, seconds = timed_get(server, "127.0.0.2")
            assert code == 200 and seconds < 1.5
            assert timed_get(server, "127.0.0.1")[0] == 503
            # The held ones time out; then the address is served again.
            for c in held[:100]:
                c.settimeout(10)
                assert statuses(read_all(c))[0][0] == 408
            assert timed_get(server, "127.0.0.1")[0] == 200
        finally:
            for c in held:
                c.close()
    finally:
        server.stop()


def cpu_seconds(pid):
    fields = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / 100.0


def test_running_out_of_descriptors_does_not_spin(tmp_path):
    def low_limit():
        resource.setrlimit(resource.RLIMIT_NOFILE, (64, 64))
    storage = make_storage(tmp_path)
    import subprocess
    from conftest import PYDEPOT
    proc = subprocess.Popen([PYDEPOT, "serve", "--storage", str(storage), "--listen",
                             "127.0.0.1:0", "--max-connections", "1000", "--header-timeout", "30",
                             "--idle-timeout", "30"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=low_limit)
    try:
        line = proc.stdout.readline().strip()
        assert line.startswith("listening on http://"), line
        server = type("S", (), {"netloc": line[len("listening on http://"):]})()
        held = []
        try:
            for _ in range(100):
                c = connect(server, timeout=2)
                c.sendall(b"GET /simple/ HTTP/1.1\r\n")
                held.append(c)
            time.sleep(0.3)
            import os
            # The server is out of descriptors (the rest wait in the listen backlog)...
            assert len(os.listdir("/proc/%d/fd" % proc.pid)) >= 60
            # ...and waits for some to come back instead of retrying accept(2) in a loop.
            before = cpu_seconds(proc.pid)
            time.sleep(1.0)
            used = cpu_seconds(proc.pid) - before
            assert used < 0.4, "the accept loop spins on EMFILE: %.2f s of CPU in 1 s" % used
        finally:
            for c in held:
                c.close()
        # Descriptors come back: the server accepts and answers again.
        deadline = time.monotonic() + 10
        code = None
        while time.monotonic() < deadline and code != 401:
            try:
                answer = raw(server, b"GET /simple/ HTTP/1.1\r\nHost: x\r\n"
                                     b"Connection: close\r\n\r\n", timeout=2)
                code = statuses(answer)[0][0] if statuses(answer) else None
            except OSError:
                time.sleep(0.1)
        assert code == 401
    finally:
        proc.kill()
        proc.wait()
        proc.stdout.close()
        proc.stderr.close()


# --- framing: smuggling, pipelining, methods -----------------------------------------------------

@pytest.mark.parametrize("request_bytes,fragment", [
    (b"POST /legacy/ HTTP/1.1\r\nHost: x\r\nContent-Length: 6\r\nTransfer-Encoding: chunked\r\n"
     b"\r\n0\r\n\r\nGET /simple/ HTTP/1.1\r\nHost: x\r\n\r\n", "Transfer-Encoding"),
    (b"POST /legacy/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 6\r\n"
     b"\r\n0\r\n\r\nGET /simple/ HTTP/1.1\r\nHost: x\r\n\r\n", "Content-Length"),
    (b"POST /legacy/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nContent-Length: 40\r\n\r\n"
     b"helloGET /simple/ HTTP/1.1\r\nHost: x\r\n\r\n", "Conflicting Content-Length"),
    (b"POST /legacy/ HTTP/1.1\r\nHost: x\r\nContent-Length: 5, 40\r\n\r\nhello",
     "Conflicting Content-Length"),
    (b"POST /legacy/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip\r\n\r\n"
     b"GET /simple/ HTTP/1.1\r\nHost: x\r\n\r\n", "must end with chunked"),
    (b"POST /legacy/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked, identity\r\n\r\n0\r\n\r\n",
     "must end with chunked"),
    (b"POST /legacy/ HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: identity\r\n"
     b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", "more than once"),
    (b"POST /legacy/ HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
     "HTTP/1.0"),
    (b"GET /simple/ HTTP/1.1\r\nHost: x\r\nContent-Length: -1\r\n\r\n", "Content-Length"),
])
def test_request_smuggling_is_refused_and_the_connection_closed(srv, request_bytes, fragment):
    answer = raw(srv, request_bytes)
    found = statuses(answer)
    assert len(found) == 1, answer  # the smuggled request is never answered
    code, reason = found[0]
    assert code == 400 and fragment in reason, reason
    assert header(answer, "Connection") == "close"


def test_pipelined_requests_are_answered_in_order(srv):
    answer = raw(srv, get(b"/simple/", close=False) + get(b"/nothing", close=False) +
                 b"BREW /simple/ HTTP/1.1\r\nHost: x\r\n\r\n" +
                 get(b"/simple/%2e%2e/", close=False) + b"HEAD /simple/ HTTP/1.1\r\nHost: x\r\n" +
                 AUTH + b"Connection: close\r\n\r\n")
    assert [code for code, _ in statuses(answer)] == [200, 404, 405, 400, 200], answer[:2000]


@pytest.mark.parametrize("method,target", [
    (b"BREW", b"/simple/"), (b"PROPFIND", b"/"), (b"TRACE", b"/simple/"), (b"PUT", b"/legacy/"),
    (b"DELETE", b"/files/hostile-demo/x.whl"), (b"OPTIONS", b"/simple/"),
])
def test_unknown_and_unsupported_methods(srv, method, target):
    answer = raw(srv, method + b" " + target + b" HTTP/1.1\r\nHost: x\r\n" + AUTH +
                 b"Connection: close\r\n\r\n")
    (code, reason), = statuses(answer)
    assert code == 405, answer[:300]
    allow = header(answer, "Allow")
    assert allow and "GET" in allow and method.decode() not in allow
