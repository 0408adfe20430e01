"""The upstream proxy (docs/upstream.md) with a second pydepot on loopback playing the public
index, behind a small recording proxy ("spy") so the tests see every request that reaches the
public side, and can take it down.

    pip -> pydepot (private, --upstream) -> spy -> pydepot (public, --public-read)
"""

import hashlib
import http.client
import http.server
import socketserver
import threading

import pytest

from conftest import PYDEPOT, Server, build_package, make_storage, pip, run, twine_upload


class Spy:
    """A recording reverse proxy in front of the public index; `down` makes it answer 502."""

    def __init__(self, target_netloc):
        self.paths = []
        self.down = False
        spy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                spy.paths.append(self.path)
                if spy.down:
                    self.send_error(502, "upstream down")
                    return
                conn = http.client.HTTPConnection(target_netloc, timeout=30)
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() in ("accept", "if-none-match", "authorization")}
                conn.request("GET", self.path, headers=headers)
                res = conn.getresponse()
                body = res.read()
                self.send_response(res.status)
                for k, v in res.getheaders():
                    if k.lower() in ("content-type", "etag", "location"):
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)
                conn.close()

            def log_message(self, *args):
                pass

        class ThreadingServer(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = ThreadingServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def asked_about(self, name):
        return [p for p in self.paths if "/%s/" % name in p]

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="module")
def world(tmp_path_factory):
    work = tmp_path_factory.mktemp("upstream")
    public = Server(make_storage(_mkdir(work, "public")), ["--public-read"])
    spy = Spy(public.netloc)
    private = Server(make_storage(_mkdir(work, "private")),
                     ["--upstream", spy.url + "/simple/", "--upstream-ttl", "0"])

    files = []
    files += build_package(work, "pub-dep", "1.0")
    files += build_package(work, "app-lib", "1.0", deps=["pub-dep>=1.0"])
    files += build_package(work, "app-lib", "2.0", deps=["pub-dep>=1.0"])
    # The attack: public packages under private names, with higher versions.
    files += build_package(work, "corp-secret", "99.0")
    files += build_package(work, "corp-claimed", "99.0")
    files += build_package(work, "corp-mixed", "2.0")
    res = twine_upload(public, files)
    assert res.returncode == 0, res.stdout + res.stderr
    res = run([PYDEPOT, "yank", "app-lib", "2.0", "--reason", "broken", "--storage",
               str(public.storage)])
    assert res.returncode == 0, res.stderr

    own = build_package(work, "corp-secret", "1.0") + build_package(work, "corp-mixed", "1.0")
    res = twine_upload(private, own)
    assert res.returncode == 0, res.stdout + res.stderr
    res = run([PYDEPOT, "claim", "corp-claimed", "--storage", str(private.storage)])
    assert res.returncode == 0, res.stderr
    yield {"public": public, "private": private, "spy": spy, "work": work}
    private.stop()
    spy.stop()
    public.stop()


def _mkdir(base, name):
    path = base / name
    path.mkdir()
    return path


def installed(target):
    return sorted(p.name for p in target.iterdir() if p.name.endswith(".dist-info"))


def test_install_through_the_proxy_takes_dependencies_from_upstream(world, tmp_path):
    target = tmp_path / "t"
    res = pip("install", "--index-url", world["private"].index_url(), "--target", str(target),
              "app-lib")
    assert res.returncode == 0, res.stdout + res.stderr
    # 2.0 is yanked upstream: the proxy carries the yank, so pip takes 1.0.
    assert installed(target) == ["app_lib-1.0.dist-info", "pub_dep-1.0.dist-info"]
    page = world["private"].get("/simple/app-lib/", user="reader",
                                headers={"Accept": "application/vnd.pypi.simple.v1+json"}).json()
    yanked = {f["filename"]: f.get("yanked") for f in page["files"]}
    assert all(v == "broken" for k, v in yanked.items() if "-2.0" in k), yanked
    assert all(not v for k, v in yanked.items() if "-1.0" in k), yanked
    # Files link to the proxy itself, with the upstream's hashes and sizes.
    for f in page["files"]:
        assert f["url"].startswith("../../files/app-lib/"), f
        assert len(f["hashes"]["sha256"]) == 64 and f["size"] > 0


def test_a_private_name_is_never_taken_from_upstream(world, tmp_path):
    target = tmp_path / "t"
    res = pip("install", "--index-url", world["private"].index_url(), "--target", str(target),
              "corp-secret")
    assert res.returncode == 0, res.stdout + res.stderr
    assert installed(target) == ["corp_secret-1.0.dist-info"]  # not the public 99.0
    # ... and the upstream was never asked about it.
    assert world["spy"].asked_about("corp-secret") == []


def test_a_claimed_name_serves_nothing_and_is_never_asked_about(world, tmp_path):
    res = world["private"].get("/simple/corp-claimed/", user="reader")
    assert res.status_code == 404
    res = pip("download", "--no-deps", "--index-url", world["private"].index_url(), "-d",
              str(tmp_path), "corp-claimed")
    assert res.returncode != 0
    assert world["spy"].asked_about("corp-claimed") == []


def test_mixing_is_an_admins_choice_per_project(world):
    def versions():
        page = world["private"].get(
            "/simple/corp-mixed/", user="reader",
            headers={"Accept": "application/vnd.pypi.simple.v1+json"}).json()
        return page["versions"]

    assert versions() == ["1.0"]
    storage = str(world["private"].storage)
    res = run([PYDEPOT, "project", "allow-upstream", "corp-mixed", "--storage", storage])
    assert res.returncode == 0, res.stderr
    try:
        assert versions() == ["1.0", "2.0"]
    finally:
        res = run([PYDEPOT, "project", "deny-upstream", "corp-mixed", "--storage", storage])
        assert res.returncode == 0, res.stderr
    assert versions() == ["1.0"]


def test_fetched_files_are_served_when_upstream_is_down(world, tmp_path):
    # Fetched once (by the install test, or here).
    first = tmp_path / "first"
    res = pip("download", "--no-deps", "--index-url", world["private"].index_url(), "-d",
              str(first), "pub-dep")
    assert res.returncode == 0, res.stdout + res.stderr
    world["spy"].down = True
    try:
        again = tmp_path / "again"
        res = pip("download", "--no-deps", "--index-url", world["private"].index_url(), "-d",
                  str(again), "pub-dep")
        assert res.returncode == 0, res.stdout + res.stderr
        assert sorted(p.name for p in again.iterdir()) == sorted(p.name for p in first.iterdir())
        # A project never fetched cannot be served: 503, saying why.
        res = world["private"].get("/simple/never-fetched/", user="reader")
        assert res.status_code == 503, res.text
        assert "upstream" in res.text
    finally:
        world["spy"].down = False


def test_upstream_files_are_checked_against_the_upstream_hash(world):
    storage = world["private"].storage
    page = world["private"].get("/simple/pub-dep/", user="reader",
                                headers={"Accept": "application/vnd.pypi.simple.v1+json"}).json()
    wheel = [f for f in page["files"] if f["filename"].endswith(".whl")][0]
    res = world["private"].get("/files/pub-dep/" + wheel["filename"], user="reader")
    assert res.status_code == 200
    assert hashlib.sha256(res.content).hexdigest() == wheel["hashes"]["sha256"]
    # Cached in the proxy's own store, apart from the private files.
    assert (storage / "upstream" / "files" / "pub-dep" / wheel["filename"]).is_file()
    assert not (storage / "files" / "pub-dep").exists()


def test_the_project_list_names_private_projects_only(world):
    page = world["private"].get("/simple/", user="reader",
                                headers={"Accept": "application/vnd.pypi.simple.v1+json"}).json()
    names = sorted(p["name"] for p in page["projects"])
    assert "pub-dep" not in names and "app-lib" not in names
    assert "corp-secret" in names


def test_upstream_projects_need_read_rights(world):
    assert world["private"].get("/simple/pub-dep/", user=None).status_code == 401
