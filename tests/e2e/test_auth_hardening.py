"""Auth hardening against a real server (issue 6, item 2): brute-force throttling per client
address and per user name (429 + Retry-After, without an argon2id verify), no user enumeration by
message or timing, secrets never logged, Cache-Control: private on authenticated answers,
no-store on errors, and the security headers on every response."""

import base64
import hashlib
import re
import statistics
import time

import pytest
import requests

from conftest import PASSWORDS, Server, make_storage
from test_hostile import make_wheel, raw, statuses, header

THROTTLE_OFF = ["--max-auth-failures-per-address", "0", "--max-auth-failures-per-user", "0"]


def basic(user, password):
    return "Basic " + base64.b64encode(("%s:%s" % (user, password)).encode()).decode()


def login(server, user, password, source="127.0.0.1", target="/simple/", extra=b""):
    """One authenticated GET on a new connection from `source`; (status, reason, answer, s)."""
    start = time.monotonic()
    answer = raw(server, b"GET " + target.encode() + b" HTTP/1.1\r\nHost: x\r\nAuthorization: " +
                 basic(user, password).encode() + b"\r\n" + extra + b"Connection: close\r\n\r\n",
                 source=source)
    elapsed = time.monotonic() - start
    (code, reason), = statuses(answer)
    return code, reason, answer, elapsed


def body_of(answer):
    return answer.split(b"\r\n\r\n", 1)[1]


@pytest.fixture
def fresh(tmp_path):
    srv = Server(make_storage(tmp_path))
    yield srv
    srv.stop()


# --- throttling ---------------------------------------------------------------------------------

def test_user_is_throttled_after_five_failures_without_argon2(fresh):
    # The reader is logged in (its password remembered) before the attack.
    assert login(fresh, "reader", PASSWORDS["reader"])[0] == 200
    failures = []
    for i in range(5):
        # From five addresses: the per-user limit is what applies.
        code, _, answer, seconds = login(fresh, "reader", "guess-%d" % i, source="127.0.1.%d" % i)
        assert code == 401 and header(answer, "WWW-Authenticate")
        failures.append(seconds)
    refused = []
    for i in range(5):
        code, reason, answer, seconds = login(fresh, "reader", "guess-x", source="127.0.2.%d" % i)
        assert code == 429, answer[:300]
        assert "Too many failed logins for this user name" in reason
        retry = int(header(answer, "Retry-After"))
        assert 1 <= retry <= 60
        assert header(answer, "WWW-Authenticate") is None
        assert "no-store" in header(answer, "Cache-Control")
        refused.append(seconds)
    # The right password is refused too while the user is blocked (a remembered credential would
    # otherwise answer guesses at full speed), from any address.
    assert login(fresh, "reader", PASSWORDS["reader"])[0] == 429
    # A 429 runs no argon2id verify: it costs a fraction of a 401.
    assert statistics.median(refused) < statistics.median(failures) / 3, (refused, failures)
    # Other users are not affected.
    assert login(fresh, "admin", PASSWORDS["admin"], source="127.0.1.0")[0] == 200


def test_address_is_throttled_after_ten_failures(fresh):
    for i in range(10):
        assert login(fresh, "nobody-%d" % i, "pw", source="127.0.3.1")[0] == 401
    code, reason, answer, _ = login(fresh, "admin", PASSWORDS["admin"], source="127.0.3.1")
    assert code == 429 and "from your address" in reason
    assert int(header(answer, "Retry-After")) in range(1, 61)
    # Uploads from there too, answered before the body is read.
    answer = raw(fresh, b"POST /legacy/ HTTP/1.1\r\nHost: x\r\nAuthorization: " +
                 basic("uploader", PASSWORDS["uploader"]).encode() +
                 b"\r\nContent-Type: multipart/form-data; boundary=b\r\n"
                 b"Content-Length: 1000000\r\n\r\n", source="127.0.3.1")
    assert statuses(answer)[0][0] == 429
    assert login(fresh, "admin", PASSWORDS["admin"], source="127.0.3.2")[0] == 200


def test_unknown_users_are_throttled_like_known_ones(fresh):
    for user in ("reader", "no-such-user"):
        for i in range(5):
            assert login(fresh, user, "wrong", source="127.0.4.%d" % i)[0] == 401
    known = login(fresh, "reader", "wrong", source="127.0.5.1")
    unknown = login(fresh, "no-such-user", "wrong", source="127.0.5.2")
    assert known[0] == unknown[0] == 429
    # The same words (the seconds to wait may differ by one as time passes).
    assert re.sub(r"\d+", "N", known[1]) == re.sub(r"\d+", "N", unknown[1])
    assert re.sub(rb"\d+", b"N", body_of(known[2])) == re.sub(rb"\d+", b"N", body_of(unknown[2]))


def test_successes_do_not_count(fresh):
    for _ in range(30):
        assert login(fresh, "reader", PASSWORDS["reader"], source="127.0.6.1")[0] == 200
    for _ in range(4):
        assert login(fresh, "reader", "wrong", source="127.0.6.1")[0] == 401
    assert login(fresh, "reader", PASSWORDS["reader"], source="127.0.6.1")[0] == 200


def test_forwarded_for_is_believed_only_from_a_trusted_proxy(tmp_path):
    storage = make_storage(tmp_path)
    # Without --trusted-proxy, X-Forwarded-For changes nothing: the socket's address counts.
    plain = Server(storage)
    try:
        for i in range(10):
            code = login(plain, "nobody-%d" % i, "pw", source="127.0.7.1",
                         extra=b"X-Forwarded-For: 198.51.100.%d\r\n" % i)[0]
            assert code == 401
        code = login(plain, "admin", PASSWORDS["admin"], source="127.0.7.1",
                     extra=b"X-Forwarded-For: 198.51.100.99\r\n")[0]
        assert code == 429
    finally:
        plain.stop()
    # Behind a trusted proxy, each forwarded client is counted on its own.
    proxied = Server(storage, extra_args=["--trusted-proxy", "127.0.7.2"])
    try:
        for i in range(10):
            code = login(proxied, "nobody-%d" % i, "pw", source="127.0.7.2",
                         extra=b"X-Forwarded-For: 10.9.9.9, 203.0.113.1\r\n")[0]
            assert code == 401
        assert login(proxied, "admin", PASSWORDS["admin"], source="127.0.7.2",
                     extra=b"X-Forwarded-For: 203.0.113.1\r\n")[0] == 429
        assert login(proxied, "admin", PASSWORDS["admin"], source="127.0.7.2",
                     extra=b"X-Forwarded-For: 203.0.113.2\r\n")[0] == 200
        # A forged entry left of the real client changes nothing.
        assert login(proxied, "admin", PASSWORDS["admin"], source="127.0.7.2",
                     extra=b"X-Forwarded-For: 203.0.113.2, 203.0.113.1\r\n")[0] == 429
    finally:
        proxied.stop()


# --- no enumeration ------------------------------------------------------------------------------

def test_unknown_user_and_wrong_password_look_the_same(tmp_path):
    srv = Server(make_storage(tmp_path), extra_args=THROTTLE_OFF)
    try:
        for accept in (b"", b"Accept: application/json\r\n"):
            known = login(srv, "reader", "wrong-password", extra=accept)
            unknown = login(srv, "no-such-user", "wrong-password", extra=accept)
            assert known[0] == unknown[0] == 401
            assert known[1] == unknown[1]
            assert body_of(known[2]) == body_of(unknown[2])
            for name in ("WWW-Authenticate", "Content-Type", "Cache-Control"):
                assert header(known[2], name) == header(unknown[2], name)
        # Timing, loosely: both run one argon2id verify of the same cost (interleaved, medians).
        known_times, unknown_times = [], []
        for i in range(6):
            known_times.append(login(srv, "reader", "wrong-%d" % i)[3])
            unknown_times.append(login(srv, "no-such-user-%d" % i, "wrong-%d" % i)[3])
        ratio = statistics.median(unknown_times) / statistics.median(known_times)
        assert 0.5 < ratio < 2.0, (known_times, unknown_times)
    finally:
        srv.stop()


# --- secrets -------------------------------------------------------------------------------------

def test_passwords_never_reach_the_logs(tmp_path):
    storage = make_storage(tmp_path)
    from conftest import add_user
    add_user(storage, "distinct", "upload", "Sup3r-Distinct1ve-Right-Pw")
    srv = Server(storage)
    try:
        for user, password in (("distinct", "Sup3r-Distinct1ve-Wrong-Pw"),
                               ("ghost-user", "Sup3r-Distinct1ve-Ghost-Pw"),
                               ("distinct", "Sup3r-Distinct1ve-Right-Pw")):
            login(srv, user, password)
            login(srv, user, password, target="/files/x/y.whl")
            requests.post(srv.url + "/legacy/", data={":action": "file_upload"},
                          files={"content": ("x-1.0.tar.gz", b"junk")}, auth=(user, password),
                          timeout=30)
        raw(srv, b"GET /simple/Sup3r-Distinct1ve-Url HTTP/1.1\r\nHost: x\r\n"
                 b"Connection: close\r\n\r\n")
        srv.proc.terminate()
        out, err = srv.proc.communicate(timeout=10)
    finally:
        srv.stop()
    logs = srv.first_line + out + err
    assert "Sup3r-Distinct1ve" not in logs
    assert base64.b64encode(b"distinct:Sup3r").decode()[:12] not in logs


# --- caching and security headers ----------------------------------------------------------------

@pytest.fixture(scope="module")
def published(tmp_path_factory):
    srv = Server(make_storage(tmp_path_factory.mktemp("hardening")))
    data, name = make_wheel("hardened-demo", "1.0")
    r = requests.post(srv.url + "/legacy/", auth=srv.auth("uploader"), timeout=30, data={
        ":action": "file_upload", "protocol_version": "1", "metadata_version": "2.1",
        "name": "hardened-demo", "version": "1.0", "filetype": "bdist_wheel", "pyversion": "py3",
        "sha256_digest": hashlib.sha256(data).hexdigest()}, files={"content": (name, data)})
    assert r.status_code == 200, r.text
    yield srv, name
    srv.stop()


def answers(srv, name):
    """(description, requests.Response) for a spread of authenticated answers."""
    file_url = "/files/hardened-demo/" + name
    etag = srv.get(file_url).headers["ETag"]
    out = [
        ("simple root", srv.get("/simple/")),
        ("simple page", srv.get("/simple/hardened-demo/")),
        ("json page", srv.get("/simple/hardened-demo/",
                              headers={"Accept": "application/vnd.pypi.simple.v1+json"})),
        ("human root", srv.get("/")),
        ("human page", srv.get("/project/hardened-demo/")),
        ("pypi json", srv.get("/pypi/hardened-demo/json")),
        ("file", srv.get(file_url)),
        ("metadata", srv.get(file_url + ".metadata")),
        ("file 304", srv.get(file_url, headers={"If-None-Match": etag})),
        ("file 206", srv.get(file_url, headers={"Range": "bytes=0-9"})),
        ("file head", requests.head(srv.url + file_url, auth=srv.auth("admin"), timeout=30)),
        ("redirect", srv.get("/simple/Hardened_Demo/")),
        ("404", srv.get("/simple/nope/")),
        ("400", srv.get("/simple/%00/")),
        ("405", requests.delete(srv.url + "/simple/", auth=srv.auth("admin"), timeout=30)),
        ("401", srv.get("/simple/", user=None, auth=("admin", "wrong"))),
        ("403", requests.post(srv.url + "/legacy/", files={"x": ("a", b"b")},
                              auth=srv.auth("reader"), timeout=30)),
    ]
    return out


def test_authenticated_answers_are_private_and_errors_not_stored(published):
    srv, name = published
    for what, r in answers(srv, name):
        cache_control = r.headers.get("Cache-Control", "")
        assert "private" in cache_control and "public" not in cache_control, (what, cache_control)
        if r.status_code >= 400:
            assert "no-store" in cache_control, (what, cache_control)
    # Answers the server gives before a handler runs are errors too.
    answer = raw(srv, b"GET /simple/ HTTP/1.1\r\nHost: x\r\nX-Bad: \x01\r\n\r\n")
    assert "no-store" in header(answer, "Cache-Control")


def test_every_response_carries_the_security_headers(published):
    srv, name = published
    responses = [(what, r.status_code, r.headers) for what, r in answers(srv, name)]
    for what, request_bytes in (
            ("malformed", b"GET /simple/ HTTP/1.1\r\nHost: x\r\nX-Bad: \x01\r\n\r\n"),
            ("431", b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"),
            ("smuggling", b"POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked"
                          b"\r\n\r\n")):
        answer = raw(srv, request_bytes)
        hdrs = {k: header(answer, k) for k in ("X-Content-Type-Options", "X-Frame-Options",
                                              "Referrer-Policy", "Content-Security-Policy")}
        responses.append((what, statuses(answer)[0][0], hdrs))
    for what, code, hdrs in responses:
        assert hdrs.get("X-Content-Type-Options") == "nosniff", what
        assert hdrs.get("X-Frame-Options") == "DENY", what
        assert hdrs.get("Referrer-Policy") == "no-referrer", what
        csp = hdrs.get("Content-Security-Policy") or ""
        assert "default-src 'none'" in csp and "frame-ancestors 'none'" in csp, (what, csp)
        assert "script-src" not in csp and "'unsafe-inline'" not in csp, (what, csp)
    # The human pages need nothing the policy forbids: no scripts, inline styles or frames; the
    # one stylesheet is pydepot's own.
    page = srv.get("/project/hardened-demo/").text
    for forbidden in ("<script", "<style", "style=", "<iframe", "http://", "https://"):
        assert forbidden not in page
    assert 'href="../../static/style.css"' in page
