"""The other real clients against a real pydepot (STANDARDS §11 UP-06/UP-10/UP-15, §14 E2E-07,
E2E-08, E2E-13): poetry publish / lock / install, pdm publish, flit publish, and twine
--skip-existing. Debian's clients, all offline: nothing may reach PyPI.

Each client runs with a temporary HOME (and XDG/poetry directories under it) so no user
configuration leaks in, and with the null keyring so nothing prompts or stores passwords.

Offline notes (what each client needs and how it is given it here):
- `poetry build` runs poetry-core in-process (no isolated build env, so no download).
- `poetry install` creates its in-project venv with Debian's virtualenv, which seeds pip,
  setuptools and wheel from Debian's bundled wheels (/usr/share/python-wheels): no network and
  no special option. poetry 1.3 then installs every package with the venv's pip from the file it
  downloaded from pydepot (`--no-deps`), and the root project with its own editable builder.
- `pdm build` cannot work offline here: pdm 2.2.1 checks the build requirements against the
  project environment (not the system site-packages), even with --no-isolation, and tries to
  fetch pdm-pep517 from https://pypi.org/simple/pdm-pep517/ (ConnectionError). So the pdm
  project is built with `python3 -m build --no-isolation` using the same backend (Debian's
  pdm-pep517) and published with `pdm publish --no-build`; the upload is pdm's own code.
- `flit publish` builds in-process with flit_core.
"""

import hashlib
import http.client
import http.server
import os
import pathlib
import textwrap
import threading
import tomllib
import urllib.parse

import pytest

from conftest import PASSWORDS, build_package, run, twine_upload

ALREADY_EXISTS = "File already exists"


def sha(path):
    return hashlib.sha256(pathlib.Path(path).read_bytes()).hexdigest()


def hashes(files):
    return {f.name: sha(f) for f in files}


def listed(server, project):
    """{filename: sha256} as the JSON simple page lists them; {} for an unknown project."""
    r = server.get("/simple/%s/" % project, user="reader",
                   headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    if r.status_code == 404:
        return {}
    assert r.status_code == 200, r.text
    return {f["filename"]: f["hashes"]["sha256"] for f in r.json()["files"]}


def client_env(home, **extra):
    """The environment for one client run: a private HOME, no inherited client settings."""
    home = pathlib.Path(home)
    (home / "tmp").mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("POETRY_", "PDM_", "FLIT_", "TWINE_", "VIRTUAL_ENV",
                                "PYTHONPATH", "CONDA_"))}
    env.update(
        HOME=str(home),
        TMPDIR=str(home / "tmp"),  # pdm leaves a log file there on every failure
        XDG_CONFIG_HOME=str(home / ".config"),
        XDG_CACHE_HOME=str(home / ".cache"),
        XDG_DATA_HOME=str(home / ".local" / "share"),
        POETRY_CONFIG_DIR=str(home / ".config" / "pypoetry"),
        POETRY_CACHE_DIR=str(home / ".cache" / "pypoetry"),
        PYTHON_KEYRING_BACKEND="keyring.backends.null.Keyring",
        PDM_CHECK_UPDATE="false",
        NO_COLOR="1",
        TERM="dumb",
        COLUMNS="250",
    )
    env.update({k: str(v) for k, v in extra.items()})
    return env


def output(res):
    return res.stdout + res.stderr


# --- poetry publish (E2E-07) ----------------------------------------------------------------

POETRY_PYPROJECT = """\
[tool.poetry]
name = "%(name)s"
version = "%(version)s"
description = "A poetry-built package for pydepot's tests"
authors = ["Test <test@example.com>"]
readme = "README.md"
packages = [{include = "%(module)s"}]

[tool.poetry.dependencies]
python = ">=3.7"

[build-system]
requires = ["poetry-core>=1.0.0"]
build-backend = "poetry.core.masonry.api"
"""


def poetry_project(root, name, version, module, extra=""):
    (root / module).mkdir(parents=True, exist_ok=True)
    (root / module / "__init__.py").write_text('__version__ = "%s"\n# %s\n' % (version, extra))
    (root / "README.md").write_text("# %s\n" % name)
    (root / "pyproject.toml").write_text(
        POETRY_PYPROJECT % {"name": name, "version": version, "module": module})
    return root


def poetry(args, cwd, env):
    return run(["poetry", "-n", "--no-ansi", *args], cwd=cwd, env=env)


def test_poetry_publish_reupload_and_skip_existing(server, tmp_path):
    project = "cl-poetry-pub"
    proj = poetry_project(tmp_path / "proj", project, "1.0", "cl_poetry_pub")
    env = client_env(
        tmp_path / "home",
        POETRY_REPOSITORIES_PRIVATE_URL=server.url + "/legacy/",
        POETRY_HTTP_BASIC_PRIVATE_USERNAME="uploader",
        POETRY_HTTP_BASIC_PRIVATE_PASSWORD=PASSWORDS["uploader"],
        # build and publish only read the project: no venv needed.
        POETRY_VIRTUALENVS_CREATE="false",
    )
    res = poetry(["build"], proj, env)
    assert res.returncode == 0, output(res)
    dist = sorted((proj / "dist").iterdir())
    assert [f.name for f in dist] == ["cl_poetry_pub-1.0-py3-none-any.whl",
                                      "cl_poetry_pub-1.0.tar.gz"]
    original = hashes(dist)

    res = poetry(["publish", "-r", "private"], proj, env)
    assert res.returncode == 0, output(res)
    assert listed(server, project) == original

    # The same files again: pydepot answers 200 for identical bytes, poetry exits 0.
    res = poetry(["publish", "-r", "private"], proj, env)
    assert res.returncode == 0, output(res)
    assert "Skipping" not in output(res)
    assert listed(server, project) == original

    # Different bytes under the same names.
    poetry_project(proj, project, "1.0", "cl_poetry_pub", extra="different bytes")
    res = poetry(["build"], proj, env)
    assert res.returncode == 0, output(res)
    changed = hashes(dist)
    assert set(changed) == set(original)
    assert all(changed[n] != original[n] for n in changed)

    # Without --skip-existing poetry shows pydepot's error and fails.
    res = poetry(["publish", "-r", "private"], proj, env)
    assert res.returncode != 0, output(res)
    assert "HTTP Error 400: " + ALREADY_EXISTS in output(res), output(res)
    assert listed(server, project) == original

    # With --skip-existing: "File exists. Skipping" for each file, exit 0, index unchanged.
    res = poetry(["publish", "-r", "private", "--skip-existing"], proj, env)
    assert res.returncode == 0, output(res)
    assert output(res).count("File exists. Skipping") == 2, output(res)
    assert listed(server, project) == original


# --- poetry lock / install against the index (E2E-13) -----------------------------------------

class RecordingProxy:
    """A plain HTTP pass-through in front of pydepot that records each request's method and
    path, to see which files a client downloads."""

    def __init__(self, upstream):
        self.requests = []
        target = urllib.parse.urlsplit(upstream)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                proxy.forward(self, target.hostname, target.port)

            do_HEAD = do_GET

            def log_message(self, *args):
                pass

        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = "http://127.0.0.1:%d" % self.httpd.server_port
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def forward(self, handler, host, port):
        self.requests.append((handler.command, urllib.parse.unquote(handler.path)))
        headers = {k: v for k, v in handler.headers.items()
                   if k.lower() not in ("host", "connection")}
        conn = http.client.HTTPConnection(host, port, timeout=60)
        try:
            conn.request(handler.command, handler.path, headers=headers)
            resp = conn.getresponse()
            body = resp.read()
            handler.send_response(resp.status, resp.reason)
            for k, v in resp.getheaders():
                if k.lower() not in ("connection", "transfer-encoding", "content-length"):
                    handler.send_header(k, v)
            length = resp.getheader("Content-Length") if handler.command == "HEAD" else None
            handler.send_header("Content-Length", length or str(len(body)))
            handler.end_headers()
            if handler.command != "HEAD":
                handler.wfile.write(body)
        finally:
            conn.close()

    def downloads(self):
        """Names of the files fetched (GET under /files/)."""
        return [p.rsplit("/", 1)[-1] for m, p in self.requests
                if m == "GET" and p.startswith("/files/")]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture(scope="module")
def dep_chain(server, tmp_path_factory):
    """cl-dep-a -> cl-dep-b -> cl-dep-c (wheel and sdist each), uploaded with twine."""
    work = tmp_path_factory.mktemp("clients-deps")
    files = {
        "cl-dep-c": build_package(work, "cl-dep-c", "1.0"),
        "cl-dep-b": build_package(work, "cl-dep-b", "1.0", deps=["cl-dep-c>=1.0"]),
        "cl-dep-a": build_package(work, "cl-dep-a", "1.0", deps=["cl-dep-b"]),
    }
    res = twine_upload(server, [f for fs in files.values() for f in fs])
    assert res.returncode == 0, output(res)
    for project, fs in files.items():
        assert listed(server, project) == hashes(fs)
    return files


def test_poetry_lock_and_install_from_index(server, dep_chain, tmp_path):
    proxy = RecordingProxy(server.url)
    try:
        proj = tmp_path / "consumer"
        (proj / "cl_consumer").mkdir(parents=True)
        (proj / "cl_consumer" / "__init__.py").write_text("import cl_dep_a\n")
        (proj / "pyproject.toml").write_text(textwrap.dedent("""\
            [tool.poetry]
            name = "cl-consumer"
            version = "0.1.0"
            description = "Depends on packages only pydepot has"
            authors = ["Test <test@example.com>"]
            packages = [{include = "cl_consumer"}]

            [tool.poetry.dependencies]
            python = "^3.9"
            cl-dep-a = "^1.0"

            [[tool.poetry.source]]
            name = "private"
            url = "%s/simple/"
            default = true

            [build-system]
            requires = ["poetry-core>=1.0.0"]
            build-backend = "poetry.core.masonry.api"
            """) % proxy.url)
        env = client_env(
            tmp_path / "home",
            POETRY_HTTP_BASIC_PRIVATE_USERNAME="reader",
            POETRY_HTTP_BASIC_PRIVATE_PASSWORD=PASSWORDS["reader"],
            POETRY_VIRTUALENVS_IN_PROJECT="true",
        )

        res = poetry(["lock"], proj, env)
        assert res.returncode == 0, output(res)
        lock = tomllib.loads((proj / "poetry.lock").read_text())
        packages = {p["name"]: p for p in lock["package"]}
        assert sorted(packages) == ["cl-dep-a", "cl-dep-b", "cl-dep-c"]
        for name, package in packages.items():
            assert package["version"] == "1.0"
            assert package["source"]["reference"] == "private"
            assert package["source"]["url"].rstrip("/") == proxy.url + "/simple"
            locked = {f["file"]: f["hash"] for f in package["files"]}
            assert locked == {n: "sha256:" + h for n, h in hashes(dep_chain[name]).items()}
        assert packages["cl-dep-a"]["dependencies"] == {"cl-dep-b": "*"}
        assert packages["cl-dep-b"]["dependencies"] == {"cl-dep-c": ">=1.0"}
        # The sdists were never downloaded, so their locked hashes came from the #sha256=
        # fragments. (poetry 1.3 has no PEP 658 support: it downloads one wheel per release to
        # read its dependencies.)
        fetched = proxy.downloads()
        assert not [f for f in fetched if f.endswith(".tar.gz")], proxy.requests
        assert all(f.endswith(".whl") for f in fetched), proxy.requests
        assert ("GET", "/simple/cl-dep-a/") in proxy.requests

        # Install into an in-project venv; poetry checks each download against the lock.
        res = poetry(["install"], proj, env)
        assert res.returncode == 0, output(res)
        for name in ("cl-dep-a", "cl-dep-b", "cl-dep-c"):
            assert "Installing %s (1.0)" % name in output(res), output(res)
        venv_python = proj / ".venv" / "bin" / "python"
        assert venv_python.exists()
        res = run([str(venv_python), "-c",
                   "import cl_consumer, cl_dep_a, cl_dep_b, cl_dep_c\n"
                   "for m in (cl_dep_a, cl_dep_b, cl_dep_c): print(m.__version__, m.__file__)\n"
                   "print(cl_consumer.__file__)"], cwd=tmp_path, env=env)
        assert res.returncode == 0, output(res)
        lines = res.stdout.splitlines()
        site = str(proj / ".venv" / "lib")
        assert len(lines) == 4 and all(line.startswith("1.0 " + site) for line in lines[:3]), lines
        assert lines[3] == str(proj / "cl_consumer" / "__init__.py")
        # Every file poetry installed came from pydepot, and no sdist was ever fetched.
        assert not [f for f in proxy.downloads() if f.endswith(".tar.gz")], proxy.requests
    finally:
        proxy.stop()


# --- pdm publish -------------------------------------------------------------------------------

def pdm_project(root, name, version, module, extra=""):
    (root / "src" / module).mkdir(parents=True, exist_ok=True)
    (root / "src" / module / "__init__.py").write_text(
        '__version__ = "%s"\n# %s\n' % (version, extra))
    (root / "pyproject.toml").write_text(textwrap.dedent("""\
        [project]
        name = "%s"
        version = "%s"
        description = "A pdm-built package for pydepot's tests"
        authors = [{name = "Test", email = "test@example.com"}]
        requires-python = ">=3.7"
        dependencies = []

        [build-system]
        requires = ["pdm-pep517>=1.0.0"]
        build-backend = "pdm.pep517.api"
        """) % (name, version))
    dist = root / "dist"
    for old in dist.glob("*") if dist.exists() else ():
        old.unlink()
    res = run(["/usr/bin/python3", "-m", "build", "--no-isolation", "--outdir", str(dist),
               str(root)])
    assert res.returncode == 0, output(res)
    return sorted(dist.iterdir())


def test_pdm_publish(server, tmp_path):
    project = "cl-pdm-pub"
    proj = tmp_path / "proj"
    dist = pdm_project(proj, project, "1.0", "cl_pdm_pub")
    assert [f.name for f in dist] == ["cl-pdm-pub-1.0.tar.gz",
                                      "cl_pdm_pub-1.0-py3-none-any.whl"]
    original = hashes(dist)
    env = client_env(tmp_path / "home", PDM_PYTHON="/usr/bin/python3", PDM_USE_VENV="false")

    # Repository URL and credentials on the command line.
    res = run(["pdm", "publish", "--no-build", "--repository", server.url + "/legacy/",
               "--username", "uploader", "--password", PASSWORDS["uploader"]], cwd=proj, env=env)
    assert res.returncode == 0, output(res)
    assert listed(server, project) == original

    # A named repository from pdm's global config, credentials from the environment; the same
    # bytes again, so pydepot answers 200 and pdm exits 0.
    config = pathlib.Path(env["XDG_CONFIG_HOME"]) / "pdm" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text('[repository.private]\nurl = "%s/legacy/"\n' % server.url)
    named_env = dict(env, PDM_PUBLISH_USERNAME="uploader",
                     PDM_PUBLISH_PASSWORD=PASSWORDS["uploader"])
    res = run(["pdm", "publish", "--no-build", "-r", "private"], cwd=proj, env=named_env)
    assert res.returncode == 0, output(res)
    assert listed(server, project) == original

    # Different bytes: pdm 2.2.1 has no --skip-existing, so it must fail and show why.
    dist = pdm_project(proj, project, "1.0", "cl_pdm_pub", extra="different bytes")
    assert all(hashes(dist)[n] != original[n] for n in original)
    res = run(["pdm", "publish", "--no-build", "-r", "private"], cwd=proj, env=named_env)
    assert res.returncode != 0, output(res)
    assert "400 Client Error: " + ALREADY_EXISTS in output(res), output(res)
    assert listed(server, project) == original

    # A wrong password fails loudly too.
    res = run(["pdm", "publish", "--no-build", "-r", "private", "-P", "wrong"], cwd=proj,
              env=named_env)
    assert res.returncode != 0 and "401" in output(res), output(res)


# --- flit publish (E2E-08) ---------------------------------------------------------------------

def flit_project(root, name, version, module):
    (root / module).mkdir(parents=True, exist_ok=True)
    (root / module / "__init__.py").write_text('"""A flit test package."""\n__version__ = "%s"\n'
                                               % version)
    (root / "pyproject.toml").write_text(textwrap.dedent("""\
        [build-system]
        requires = ["flit_core >=3.2,<4"]
        build-backend = "flit_core.buildapi"

        [project]
        name = "%s"
        version = "%s"
        description = "A flit-published package for pydepot's tests"
        requires-python = ">=3.7"
        """) % (name, version))
    return root


def flit_dist(proj, version):
    return sorted(f for f in (proj / "dist").iterdir() if "-%s" % version in f.name)


def test_flit_publish(server, tmp_path):
    project = "cl-flit-pub"
    home = tmp_path / "home"
    env = client_env(home)
    (home / ".pypirc").write_text(textwrap.dedent("""\
        [distutils]
        index-servers =
            private
            wrongurl

        [private]
        repository = %(url)s/legacy/
        username = uploader
        password = %(pw)s

        [wrongurl]
        repository = %(url)s/simple/
        username = uploader
        password = %(pw)s
        """) % {"url": server.url, "pw": PASSWORDS["uploader"]})

    # E2E-08: the repository from ~/.pypirc.
    proj = flit_project(tmp_path / "proj", project, "1.0", "cl_flit_pub")
    res = run(["flit", "publish", "--repository", "private"], cwd=proj, env=env)
    assert res.returncode == 0, output(res)
    dist = flit_dist(proj, "1.0")
    assert [f.name for f in dist] == ["cl-flit-pub-1.0.tar.gz",
                                      "cl_flit_pub-1.0-py3-none-any.whl"]
    expected = hashes(dist)
    assert listed(server, project) == expected

    # E2E-08, slash-less URL (FLIT_INDEX_URL and FLIT_USERNAME/FLIT_PASSWORD this time): flit
    # follows redirects as GETs and trusts any status < 400, so it must either store the files
    # for real or fail; never exit 0 without them. pydepot takes POST /legacy directly.
    flit_project(proj, project, "2.0", "cl_flit_pub")
    res = run(["flit", "publish"], cwd=proj,
              env=dict(env, FLIT_INDEX_URL=server.url + "/legacy", FLIT_USERNAME="uploader",
                       FLIT_PASSWORD=PASSWORDS["uploader"]))
    dist2 = flit_dist(proj, "2.0")
    assert len(dist2) == 2
    now = listed(server, project)
    if res.returncode == 0:
        assert now == dict(expected, **hashes(dist2)), output(res)
    else:
        assert now == expected
        assert "Error" in output(res), output(res)
    # pydepot handles /legacy itself, so here it is a real success.
    assert res.returncode == 0, output(res)
    expected = now

    # A wrong upload URL (the simple index answers POST with 405) must fail loudly.
    flit_project(proj, project, "3.0", "cl_flit_pub")
    res = run(["flit", "publish", "--repository", "wrongurl"], cwd=proj, env=env)
    assert res.returncode != 0, output(res)
    assert "405" in output(res), output(res)
    assert listed(server, project) == expected


# --- twine --skip-existing (UP-15, twine 3.5-6.1) ----------------------------------------------

def test_twine_skip_existing_on_different_bytes(server, tmp_path):
    project = "cl-twine-skip"
    wheel = build_package(tmp_path, project, "1.0", sdist=False)
    res = twine_upload(server, wheel)
    assert res.returncode == 0, output(res)
    original = hashes(wheel)
    assert listed(server, project) == original

    # The wheel again with other bytes, plus an sdist not uploaded yet.
    other = build_package(tmp_path, project, "1.0", extra_text="different bytes")
    other_wheel = [f for f in other if f.name.endswith(".whl")]
    sdist = [f for f in other if f.name.endswith(".tar.gz")]
    assert [f.name for f in other_wheel] == [f.name for f in wheel]
    assert sha(other_wheel[0]) != sha(wheel[0])

    res = twine_upload(server, other, extra=["--skip-existing"])
    assert res.returncode == 0, output(res)
    assert ("Skipping %s because it appears to already exist" % wheel[0].name
            in " ".join(output(res).split())), output(res)
    assert listed(server, project) == dict(original, **hashes(sdist))

    # Without --skip-existing the same conflict is an error.
    res = twine_upload(server, other_wheel)
    assert res.returncode != 0 and ALREADY_EXISTS in output(res), output(res)
    assert listed(server, project) == dict(original, **hashes(sdist))
