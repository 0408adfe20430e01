"""The simple API as clients see it (STANDARDS §1-6), against a real server, with requests/curl."""

import hashlib
import html.parser
import re
import zipfile

import pytest

import requests

from conftest import PYDEPOT, build_package, run, twine_upload

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_V1_TYPE = "application/vnd.pypi.simple.v1+html"
PIP_ACCEPT = ("application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
              "text/html; q=0.01")


class Anchors(html.parser.HTMLParser):
    def __init__(self):
        super().__init__()
        self.anchors = []
        self.meta = {}
        self._current = None

    def handle_starttag(self, tag, attrs):
        if tag == "a":
            self._current = dict(attrs)
            self._current["_text"] = ""
            self.anchors.append(self._current)
        elif tag == "meta":
            d = dict(attrs)
            if "name" in d:
                self.meta[d["name"]] = d.get("content")

    def handle_data(self, data):
        if self._current is not None:
            self._current["_text"] += data

    def handle_endtag(self, tag):
        if tag == "a":
            self._current = None


def parse_html(text):
    p = Anchors()
    p.feed(text)
    return p


@pytest.fixture(scope="module")
def published(server, tmp_path_factory):
    """Project Simple.Api_Demo 1.0 (wheel + sdist, requires-python) and 1.1 (yanked)."""
    work = tmp_path_factory.mktemp("simple")
    files10 = build_package(work, "Simple.Api_Demo", "1.0", requires_python=">=3.8,<4")
    files11 = build_package(work, "Simple.Api_Demo", "1.1")
    res = twine_upload(server, files10 + files11)
    assert res.returncode == 0, res.stdout + res.stderr
    res = run([PYDEPOT, "yank", "simple-api-demo", "1.1", "--reason", "broken <build>",
               "--storage", str(server.storage)])
    assert res.returncode == 0, res.stderr
    return {"1.0": files10, "1.1": files11}


def test_root_lists_project_in_both_formats(server, published):
    r = server.get("/simple/")
    assert r.status_code == 200
    assert r.headers["Content-Type"] == "text/html; charset=utf-8"
    page = parse_html(r.text)
    assert page.meta["pypi:repository-version"] == "1.1"
    hrefs = {a["href"]: a["_text"] for a in page.anchors}
    assert hrefs["simple-api-demo/"] == "Simple.Api_Demo"
    r = server.get("/simple/", headers={"Accept": JSON_TYPE})
    assert r.headers["Content-Type"] == JSON_TYPE
    doc = r.json()
    assert doc["meta"]["api-version"] == "1.1"
    assert {"name": "Simple.Api_Demo"} in doc["projects"]


@pytest.mark.parametrize("accept,expected", [
    (None, "text/html"),
    ("*/*", "text/html"),
    ("text/html", "text/html"),
    (PIP_ACCEPT, JSON_TYPE),
    ("application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html;q=0.2, "
     "text/html;q=0.01", JSON_TYPE),
    (HTML_V1_TYPE, HTML_V1_TYPE),
    ("application/vnd.pypi.simple.latest+json", JSON_TYPE),
    ("application/vnd.pypi.simple.latest+html", HTML_V1_TYPE),
    ("application/vnd.pypi.simple.v1+json;q=0, text/html", "text/html"),
    ("text/html;q=0.01, application/vnd.pypi.simple.v1+json;q=0.5", JSON_TYPE),
    ("APPLICATION/VND.PYPI.SIMPLE.V1+JSON", JSON_TYPE),
    ("application/vnd.pypi.simple.v2+json", "text/html"),
    ("application/json", "text/html"),
])
def test_negotiation_vectors(server, published, accept, expected):
    headers = {} if accept is None else {"Accept": accept}
    if accept is None:
        # requests always sends Accept: */*; curl -H 'Accept:' sends none at all.
        out = run(["curl", "-s", "-o", "/dev/null", "-w", "%{content_type}", "-H", "Accept:",
                   "-u", "%s:%s" % server.auth(), server.url + "/simple/simple-api-demo/"])
        ctype = out.stdout
    else:
        r = server.get("/simple/simple-api-demo/", headers=headers)
        assert r.status_code == 200
        assert "Accept" in r.headers["Vary"]
        ctype = r.headers["Content-Type"]
    assert ctype.split(";")[0] == expected
    assert ctype in ("text/html; charset=utf-8", JSON_TYPE, HTML_V1_TYPE)


def test_project_html_anchors(server, published):
    r = server.get("/simple/simple-api-demo/")
    page = parse_html(r.text)
    assert page.meta["pypi:repository-version"] == "1.1"
    names = sorted(a["_text"] for a in page.anchors)
    expected = sorted(f.name for fs in published.values() for f in fs)
    assert names == expected
    for a in page.anchors:
        url, _, frag = a["href"].partition("#")
        assert url.rsplit("/", 1)[1] == a["_text"]
        assert re.fullmatch(r"sha256=[0-9a-f]{64}", frag)
        if "-1.1" in a["_text"]:
            assert a["data-yanked"] == "broken <build>"  # a value, never bare
        else:
            assert "data-yanked" not in a
        if a["_text"].endswith(".whl"):
            assert a["data-core-metadata"] == a["data-dist-info-metadata"]
            assert a["data-core-metadata"].startswith("sha256=")
        else:
            assert "data-core-metadata" not in a and "data-dist-info-metadata" not in a
        if "-1.0" in a["_text"]:
            assert a["data-requires-python"] == ">=3.8,<4"
    assert 'data-requires-python="&gt;=3.8,&lt;4"' in r.text


def test_files_hash_size_and_metadata(server, published):
    base = server.url + "/simple/simple-api-demo/"
    r = server.get("/simple/simple-api-demo/", headers={"Accept": JSON_TYPE})
    doc = r.json()
    assert doc["name"] == "simple-api-demo"
    assert set(doc["versions"]) == {"1.0", "1.1"}
    assert "dist-info-metadata" not in r.text
    local = {f.name: f for fs in published.values() for f in fs}
    for f in doc["files"]:
        data = local[f["filename"]].read_bytes()
        url = requests.compat.urljoin(base, f["url"])
        got = requests.get(url, auth=server.auth(), headers={"Accept-Encoding": "gzip"})
        assert got.status_code == 200
        assert "Content-Encoding" not in got.headers
        assert got.content == data
        assert f["hashes"]["sha256"] == hashlib.sha256(data).hexdigest()
        assert f["size"] == len(data) == int(got.headers["Content-Length"])
        assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d{1,6})?Z", f["upload-time"])
        assert "immutable" in got.headers["Cache-Control"]
        if "-1.1" in f["filename"]:
            assert f["yanked"] == "broken <build>"
        else:
            assert f.get("yanked", False) is False
        if f["filename"].endswith(".whl"):
            meta = requests.get(url + ".metadata", auth=server.auth())
            assert meta.status_code == 200
            with zipfile.ZipFile(local[f["filename"]]) as zf:
                name = [n for n in zf.namelist() if n.endswith(".dist-info/METADATA")][0]
                assert meta.content == zf.read(name)
            assert f["core-metadata"] == {"sha256": hashlib.sha256(meta.content).hexdigest()}
        else:
            assert "core-metadata" not in f
            assert requests.get(url + ".metadata", auth=server.auth()).status_code == 404
        if "-1.0" in f["filename"]:
            assert f["requires-python"] == ">=3.8,<4"


def test_redirects_and_404(server, published):
    r = server.get("/simple/Simple.Api_Demo/")
    assert r.status_code == 301 and r.headers["Location"] == "/simple/simple-api-demo/"
    r = server.get("/simple/simple-api-demo")
    assert r.status_code == 301 and r.headers["Location"] == "/simple/simple-api-demo/"
    r = server.get("/simple")
    assert r.status_code == 301 and r.headers["Location"] == "/simple/"
    assert server.get("/simple/does-not-exist/").status_code == 404
    assert server.get("/no/such/page").status_code == 404


def test_head_matches_get(server, published):
    for path in ("/simple/", "/simple/simple-api-demo/"):
        g = server.get(path)
        h = requests.head(server.url + path, auth=server.auth())
        assert h.status_code == g.status_code == 200
        assert h.headers["Content-Type"] == g.headers["Content-Type"]
        assert h.headers["Content-Length"] == g.headers["Content-Length"]
        assert h.content == b""


def test_etag_and_304(server, published):
    r = server.get("/simple/simple-api-demo/", headers={"Accept": JSON_TYPE})
    etag = r.headers["ETag"]
    assert "Cache-Control" in r.headers
    r2 = server.get("/simple/simple-api-demo/",
                    headers={"Accept": JSON_TYPE, "If-None-Match": etag})
    assert r2.status_code == 304
    # The HTML representation has its own ETag.
    r3 = server.get("/simple/simple-api-demo/", headers={"If-None-Match": etag})
    assert r3.status_code == 200


def test_byte_ranges(server, published):
    wheel = [f for f in published["1.0"] if f.name.endswith(".whl")][0]
    data = wheel.read_bytes()
    path = "/files/simple-api-demo/" + wheel.name
    r = server.get(path, headers={"Range": "bytes=0-99"})
    assert r.status_code == 206 and r.content == data[:100]
    assert r.headers["Content-Range"] == "bytes 0-99/%d" % len(data)
    r = server.get(path, headers={"Range": "bytes=-100"})
    assert r.status_code == 206 and r.content == data[-100:]
    r = server.get(path, headers={"Range": "bytes=%d-" % (len(data) + 10)})
    assert r.status_code == 416
    assert r.headers["Content-Range"] == "bytes */%d" % len(data)
    r = server.get(path, headers={"Range": "bytes=5-", "If-Range": '"other"'})
    assert r.status_code == 200 and r.content == data
    h = requests.head(server.url + path, auth=server.auth())
    assert h.headers["Accept-Ranges"] == "bytes"
    assert int(h.headers["Content-Length"]) == len(data)


def test_pypi_json_api(server, published):
    r = server.get("/pypi/Simple.Api_Demo/json")
    assert r.status_code == 301 and r.headers["Location"] == "/pypi/simple-api-demo/json"
    r = server.get("/pypi/simple-api-demo/json")
    assert r.status_code == 200 and r.headers["Content-Type"] == "application/json"
    doc = r.json()
    assert doc["info"]["version"] == "1.0"  # 1.1 is yanked
    assert set(doc["releases"]) == {"1.0", "1.1"}
    assert all(f["yanked"] for f in doc["releases"]["1.1"])
    r = server.get("/pypi/simple-api-demo/1.0.0/json")
    assert r.status_code == 200 and r.json()["info"]["version"] == "1.0"
    assert server.get("/pypi/simple-api-demo/9.9/json").status_code == 404


def test_human_pages(server, published):
    r = server.get("/")
    assert r.status_code == 200 and "simple-api-demo" in r.text
    r = server.get("/project/simple-api-demo/")
    assert r.status_code == 200
    assert "pip install" in r.text and "broken &lt;build&gt;" in r.text


def test_post_to_simple_is_405(server):
    r = requests.post(server.url + "/simple/", auth=server.auth(), data=b"x")
    assert r.status_code == 405
