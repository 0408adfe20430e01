"""The upstream proxy (docs/upstream.md) with a second pydepot on loopback playing the public
index, behind a small recording proxy ("spy") so the tests see every request that reaches the
public side, and can take it down.

    pip -> pydepot (private, --upstream) -> spy -> pydepot (public, --public-read)
"""

import base64
import collections
import hashlib
import html.parser
import http.client
import http.server
import io
import os
import socketserver
import threading
import time
import urllib.parse
import zipfile

import pytest

from conftest import PASSWORDS, PYDEPOT, Server, build_package, make_storage, pip, run, twine_upload

JSON_TYPE = "application/vnd.pypi.simple.v1+json"

# One request that reached the spy: its path, its headers as the proxy sent them (names
# lower-cased), the headers forwarded to the public index, and the public index's status and
# headers (names lower-cased).
Exchange = collections.namedtuple("Exchange", "path request forwarded status response")


class Spy:
    """A recording reverse proxy in front of the public index; `down` makes it answer 502.

    With `html_only` the public index looks like a PEP 503 index that has no PEP 691 JSON:
    whatever a page request accepts, the spy asks the public index for text/html."""

    def __init__(self, target_netloc, html_only=False):
        self.paths = []
        self.exchanges = []
        self.down = False
        spy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                spy.paths.append(self.path)
                request = {k.lower(): v for k, v in self.headers.items()}
                if spy.down:
                    spy.exchanges.append(Exchange(self.path, request, {}, 502, {}))
                    self.send_error(502, "upstream down")
                    return
                conn = http.client.HTTPConnection(target_netloc, timeout=30)
                headers = {k: v for k, v in request.items()
                           if k in ("accept", "if-none-match", "authorization")}
                if html_only and self.path.startswith("/simple/"):
                    headers["accept"] = "text/html"
                conn.request("GET", self.path, headers=headers)
                res = conn.getresponse()
                body = res.read()
                spy.exchanges.append(Exchange(self.path, request, headers, res.status,
                                              {k.lower(): v for k, v in res.getheaders()}))
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

    def page_requests(self, name, since=0):
        """The requests for the simple page of `name` among exchanges[since:]."""
        return [e for e in self.exchanges[since:] if e.path == "/simple/%s/" % name]

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


# ---- Pages in both formats, revalidation, late yanks, PEP 700 and PEP 658 through the proxy.

UPSTREAM_TTL = 2  # --upstream-ttl (seconds) of the proxies that must cache, then revalidate


@pytest.fixture
def ttl_proxy(world, tmp_path):
    """A proxying pydepot of its own in front of the world's spy, trusting a fetched upstream
    page for UPSTREAM_TTL seconds (the world's proxy revalidates on every request)."""
    srv = Server(make_storage(_mkdir(tmp_path, "ttl-proxy")),
                 ["--upstream", world["spy"].url + "/simple/",
                  "--upstream-ttl", str(UPSTREAM_TTL)])
    yield srv
    srv.stop()


@pytest.fixture
def html_upstream(world, tmp_path):
    """The world's public index as a PEP 503 HTML-only index (a spy that asks it for HTML
    alone), with a proxying pydepot of its own in front."""
    spy = Spy(world["public"].netloc, html_only=True)
    srv = Server(make_storage(_mkdir(tmp_path, "html-proxy")),
                 ["--upstream", spy.url + "/simple/", "--upstream-ttl", "0"])
    yield {"private": srv, "spy": spy}
    srv.stop()
    spy.stop()


def json_page(srv, name, user="reader"):
    """The PEP 691 JSON page of `name` on `srv` (user None: without credentials)."""
    res = srv.get("/simple/%s/" % name, user=user, headers={"Accept": JSON_TYPE})
    assert res.status_code == 200, res.text
    assert res.headers["Content-Type"].startswith(JSON_TYPE), res.headers
    return res.json()


def by_filename(page):
    return {f["filename"]: f for f in page["files"]}


def yanks(page):
    return {f["filename"]: f["yanked"] for f in page["files"]}


class _Anchors(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.anchors = {}

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "a" and "href" in attrs:
            path = urllib.parse.urlsplit(attrs["href"]).path
            self.anchors[urllib.parse.unquote(path.rsplit("/", 1)[-1])] = attrs


def html_anchors(srv, name, user="reader"):
    """The PEP 503 HTML page of `name` on `srv`: {filename: the anchor's attributes}."""
    res = srv.get("/simple/%s/" % name, user=user, headers={"Accept": "text/html"})
    assert res.status_code == 200, res.text
    assert res.headers["Content-Type"].startswith("text/html"), res.headers
    parser = _Anchors()
    parser.feed(res.text)
    return parser.anchors


def file_path(page_path, url):
    """The path of a file link of the page at `page_path` (links are relative)."""
    return urllib.parse.urlsplit(urllib.parse.urljoin(page_path, url)).path


def sleep_past_ttl(fetched):
    """Sleeps until a page fetched by monotonic time `fetched` is past UPSTREAM_TTL."""
    time.sleep(max(0.0, fetched + UPSTREAM_TTL + 0.3 - time.monotonic()))


def test_install_through_the_proxy_from_an_html_only_upstream(world, html_upstream, tmp_path):
    """An upstream with PEP 503 HTML pages and no PEP 691 JSON: the proxy asks for JSON, gets
    HTML, reads it (sha256 from the URL fragments, data-yanked, data-core-metadata), and pip
    installs through it, skipping the yanked release; the proxy's own JSON page carries the
    upstream's hashes, yanks and metadata hashes."""
    proxy, spy = html_upstream["private"], html_upstream["spy"]
    target = tmp_path / "t"
    res = pip("install", "--index-url", proxy.index_url(), "--target", str(target), "app-lib")
    assert res.returncode == 0, res.stdout + res.stderr
    # app-lib 2.0's yank ("broken") came as data-yanked in HTML: pip takes 1.0, and pub-dep.
    assert installed(target) == ["app_lib-1.0.dist-info", "pub_dep-1.0.dist-info"]
    # The proxy asked for JSON first; the upstream only ever answered with HTML pages.
    pages = [e for e in spy.exchanges if e.path.startswith("/simple/")]
    assert {e.path for e in pages} == {"/simple/app-lib/", "/simple/pub-dep/"}
    for e in pages:
        assert JSON_TYPE in e.request["accept"], e
        assert e.forwarded["accept"] == "text/html", e
        assert e.status in (200, 304), e
    assert {e.path for e in pages if e.status == 200} == {"/simple/app-lib/", "/simple/pub-dep/"}
    assert all(e.response["content-type"].startswith("text/html")
               for e in pages if e.status == 200)
    # The files pip installed were fetched from upstream through the proxy.
    fetched = {e.path for e in spy.exchanges if e.status == 200}
    assert "/files/app-lib/app_lib-1.0-py2.py3-none-any.whl" in fetched
    assert "/files/pub-dep/pub_dep-1.0-py2.py3-none-any.whl" in fetched
    # What the proxy serves: the upstream's files, sha256 hashes, metadata hashes and yanks.
    upstream = by_filename(json_page(world["public"], "app-lib", user=None))
    page = by_filename(json_page(proxy, "app-lib"))
    assert sorted(page) == sorted(upstream)
    for name, f in page.items():
        assert f["hashes"] == upstream[name]["hashes"], name
        assert f["yanked"] == upstream[name]["yanked"], name
        assert f.get("core-metadata") == upstream[name].get("core-metadata"), name
        assert file_path("/simple/app-lib/", f["url"]) == "/files/app-lib/" + name
        # An HTML page states no size: PEP 700's size is left out rather than given as 0.
        assert "size" not in f, f
    # The PyPI JSON API likewise says null for what the HTML page did not state.
    res = proxy.get("/pypi/app-lib/json", user="reader")
    assert res.status_code == 200, res.text
    for f in res.json()["urls"]:
        assert f["size"] is None and f["upload_time"] is None, f
        assert f["digests"]["md5"] is None and len(f["digests"]["sha256"]) == 64, f


def test_a_page_past_its_ttl_is_revalidated_with_its_etag(world, ttl_proxy):
    """Within --upstream-ttl the cached page is served without asking the upstream; past it
    the proxy sends If-None-Match with the page's ETag, the upstream answers 304, and the
    page served is unchanged (the upstream's files, in JSON and HTML)."""
    spy = world["spy"]
    mark = len(spy.exchanges)
    start = time.monotonic()
    first = json_page(ttl_proxy, "pub-dep")
    fetched = time.monotonic()
    [fetch] = spy.page_requests("pub-dep", mark)
    assert fetch.status == 200 and "if-none-match" not in fetch.request, fetch
    etag = fetch.response["etag"]
    assert etag.startswith('"'), fetch
    # Within the TTL the cached page is served without asking the upstream.
    assert json_page(ttl_proxy, "pub-dep") == first
    if time.monotonic() - start < UPSTREAM_TTL:
        assert len(spy.page_requests("pub-dep", mark)) == 1
    # Past it, the proxy revalidates with the page's ETag; the upstream answers 304.
    sleep_past_ttl(fetched)
    mark = len(spy.exchanges)
    again = json_page(ttl_proxy, "pub-dep")
    [revalidation] = spy.page_requests("pub-dep", mark)
    assert revalidation.request.get("if-none-match") == etag, revalidation
    assert revalidation.forwarded["if-none-match"] == etag, revalidation
    assert revalidation.status == 304, revalidation
    # ... and the page served is the same, still the upstream's files.
    assert again == first
    upstream = by_filename(json_page(world["public"], "pub-dep", user=None))
    assert {n: f["hashes"] for n, f in by_filename(again).items()} == \
        {n: f["hashes"] for n, f in upstream.items()}
    assert sorted(html_anchors(ttl_proxy, "pub-dep")) == sorted(upstream)


def test_a_yank_made_upstream_after_caching_reaches_the_proxy_past_its_ttl(world, ttl_proxy,
                                                                           tmp_path):
    """A release yanked upstream after the proxy cached its page: once the TTL passes, the
    proxy's JSON ("yanked": reason) and HTML (data-yanked) show it (PEP 592), and pip skips
    it unless it is pinned."""
    files = (build_package(tmp_path, "late-yank", "1.0", sdist=False)
             + build_package(tmp_path, "late-yank", "2.0", sdist=False))
    res = twine_upload(world["public"], files)
    assert res.returncode == 0, res.stdout + res.stderr
    old, new = "late_yank-1.0-py2.py3-none-any.whl", "late_yank-2.0-py2.py3-none-any.whl"

    start = time.monotonic()
    page = json_page(ttl_proxy, "late-yank")
    fetched = time.monotonic()
    assert page["versions"] == ["1.0", "2.0"]
    assert yanks(page) == {old: False, new: False}
    res = run([PYDEPOT, "yank", "late-yank", "2.0", "--reason", "found late", "--storage",
               str(world["public"].storage)])
    assert res.returncode == 0, res.stderr
    assert yanks(json_page(world["public"], "late-yank", user=None)) == \
        {old: False, new: "found late"}
    # The proxy's cached page is trusted until the TTL passes ...
    cached = json_page(ttl_proxy, "late-yank")
    if time.monotonic() - start < UPSTREAM_TTL:
        assert yanks(cached) == {old: False, new: False}

    # ... then the yank shows in both formats (PEP 592).
    sleep_past_ttl(fetched)
    assert yanks(json_page(ttl_proxy, "late-yank")) == {old: False, new: "found late"}
    anchors = html_anchors(ttl_proxy, "late-yank")
    assert anchors[new].get("data-yanked") == "found late"
    assert "data-yanked" not in anchors[old]

    # pip skips the yanked version, unless it is pinned.
    target = tmp_path / "latest"
    res = pip("install", "--index-url", ttl_proxy.index_url(), "--target", str(target),
              "late-yank")
    assert res.returncode == 0, res.stdout + res.stderr
    assert installed(target) == ["late_yank-1.0.dist-info"]
    target = tmp_path / "pinned"
    res = pip("install", "--index-url", ttl_proxy.index_url(), "--target", str(target),
              "late-yank==2.0")
    assert res.returncode == 0, res.stdout + res.stderr
    assert installed(target) == ["late_yank-2.0.dist-info"]
    assert "found late" in res.stdout + res.stderr  # pip's warning names the reason


def test_upload_time_and_size_are_the_upstreams(world):
    """PEP 700: the proxy's JSON page gives each file the upstream's upload-time and size (the
    size of the bytes it then serves)."""
    upstream = by_filename(json_page(world["public"], "pub-dep", user=None))
    page = json_page(world["private"], "pub-dep")
    # PEP 700 fields need api-version 1.1 or later.
    assert tuple(map(int, page["meta"]["api-version"].split("."))) >= (1, 1)
    files = by_filename(page)
    assert sorted(files) == sorted(upstream) and len(files) == 2
    for name, f in files.items():
        assert f["upload-time"] == upstream[name]["upload-time"], name
        assert f["size"] == upstream[name]["size"], name
        # ... which is the size of the bytes the proxy serves.
        res = world["private"].get(file_path("/simple/pub-dep/", f["url"]), user="reader")
        assert res.status_code == 200
        assert len(res.content) == f["size"], name


def test_metadata_files_come_through_the_proxy(world):
    """PEP 658: the proxy offers the wheel's core-metadata with the upstream's sha256 (JSON and
    HTML), and <file>.metadata through it is the upstream's bytes, the wheel's own METADATA,
    with that sha256; the sdist, without metadata upstream, has none here either."""
    upstream = by_filename(json_page(world["public"], "pub-dep", user=None))
    files = by_filename(json_page(world["private"], "pub-dep"))
    wheel = files["pub_dep-1.0-py2.py3-none-any.whl"]
    [sdist] = [f for f in files.values() if f["filename"].endswith(".tar.gz")]
    sha = wheel["core-metadata"]["sha256"]
    assert wheel["core-metadata"] == upstream[wheel["filename"]]["core-metadata"]
    assert "core-metadata" not in sdist  # the upstream offers none for it
    anchors = html_anchors(world["private"], "pub-dep")
    assert anchors[wheel["filename"]]["data-core-metadata"] == "sha256=" + sha

    path = file_path("/simple/pub-dep/", wheel["url"])
    res = world["private"].get(path + ".metadata", user="reader")
    assert res.status_code == 200, res.text
    assert hashlib.sha256(res.content).hexdigest() == sha
    # The upstream's bytes, which are the wheel's own METADATA.
    theirs = world["public"].get(path + ".metadata", user=None)
    assert theirs.status_code == 200
    assert res.content == theirs.content
    whl = world["private"].get(path, user="reader")
    assert whl.status_code == 200
    with zipfile.ZipFile(io.BytesIO(whl.content)) as archive:
        assert archive.read("pub_dep-1.0.dist-info/METADATA") == res.content
    assert any(e.path == path + ".metadata" and e.status == 200
               for e in world["spy"].exchanges)
    # The sdist has no metadata file, here as upstream.
    assert world["private"].get(file_path("/simple/pub-dep/", sdist["url"]) + ".metadata",
                                user="reader").status_code == 404


def test_credentials_for_an_upstream_that_is_private(world, tmp_path):
    """An upstream that wants basic auth (the world's public store served without
    --public-read): a proxy with --upstream-user and PYDEPOT_UPSTREAM_PASSWORD installs through
    it and sends the credentials; a proxy without them, or with a wrong password, installs
    nothing and says that the upstream refused, without ever showing the password."""
    guarded = Server(world["public"].storage)
    spy = Spy(guarded.netloc)
    proxies = []
    try:
        def proxy(name, user=None, password=None):
            env = dict(os.environ)
            env.pop("PYDEPOT_UPSTREAM_PASSWORD", None)
            args = ["--upstream", spy.url + "/simple/", "--upstream-ttl", "0"]
            if user:
                args += ["--upstream-user", user]
                env["PYDEPOT_UPSTREAM_PASSWORD"] = password
            srv = Server(make_storage(_mkdir(tmp_path, name)), args, env=env)
            proxies.append(srv)
            return srv

        good = proxy("good", "reader", PASSWORDS["reader"])
        target = tmp_path / "t"
        res = pip("install", "--index-url", good.index_url(), "--target", str(target), "pub-dep")
        assert res.returncode == 0, res.stdout + res.stderr
        assert installed(target) == ["pub_dep-1.0.dist-info"]
        auth = "Basic " + base64.b64encode(b"reader:" + PASSWORDS["reader"].encode()).decode()
        asked = [e for e in spy.exchanges if e.path.startswith("/simple/pub-dep/")]
        assert asked and all(e.request.get("authorization") == auth for e in asked), asked
        # 200, then 304 when the proxy revalidates with the ETag (--upstream-ttl 0).
        assert asked[0].status == 200 and all(e.status in (200, 304) for e in asked), asked
        # The file came from the upstream with the same credentials.
        fetched = [e for e in spy.exchanges if e.path.startswith("/files/pub-dep/")]
        assert fetched and all(e.request.get("authorization") == auth for e in fetched)

        for srv in (proxy("none"), proxy("wrong", "reader", "not-the-password")):
            since = len(spy.exchanges)
            res = srv.get("/simple/pub-dep/", user="reader", headers={"Accept": JSON_TYPE})
            assert res.status_code == 503, (res.status_code, res.text)
            assert "401" in res.text, res.text
            assert "not-the-password" not in res.text
            assert [e.status for e in spy.page_requests("pub-dep", since)] == [401]
            target = tmp_path / ("t-" + srv.netloc.replace(":", "-"))
            res = pip("install", "--index-url", srv.index_url(), "--target", str(target),
                      "pub-dep")
            assert res.returncode != 0, res.stdout
    finally:
        for srv in proxies:
            srv.stop()
        spy.stop()
        guarded.stop()
