"""End-to-end fixtures: a real `pydepot serve` on a free loopback port, users made with the real
CLI, and small packages built with the real build tools. Run with Debian's python3:

    PYDEPOT_BIN=build/pydepot /usr/bin/python3 -m pytest tests/e2e
"""

import base64
import os
import pathlib
import shutil
import subprocess
import textwrap
import time

import pytest
import requests

ROOT = pathlib.Path(__file__).resolve().parents[2]
PYDEPOT = os.environ.get("PYDEPOT_BIN", str(ROOT / "build" / "pydepot"))

# pip must see pydepot alone: no local wheel directory, no user configuration.
for var in ("PIP_FIND_LINKS", "PIP_INDEX_URL", "PIP_EXTRA_INDEX_URL"):
    os.environ.pop(var, None)
os.environ["PIP_CONFIG_FILE"] = os.devnull
os.environ["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
os.environ["PIP_NO_INPUT"] = "1"

PASSWORDS = {
    "admin": "admin-secret-pw",
    "uploader": "upload-secret-pw",
    "reader": "reader-secret-pw",
}
ROLES = {"admin": "admin", "uploader": "upload", "reader": "read"}


def run(cmd, **kwargs):
    """Runs a command, returning CompletedProcess; output captured as text."""
    kwargs.setdefault("capture_output", True)
    kwargs.setdefault("text", True)
    kwargs.setdefault("timeout", 300)
    return subprocess.run(cmd, **kwargs)


def add_user(storage, name, role, password):
    res = run([PYDEPOT, "user", "add", name, "--role", role, "--storage", str(storage)],
              input=password + "\n")
    assert res.returncode == 0, res.stderr


class Server:
    """A running pydepot; `url` is http://127.0.0.1:PORT."""

    def __init__(self, storage, extra_args=(), env=None, log_path=None):
        # A directory, or a storage URL (s3://..., gs://...) kept as it is. With log_path, the
        # server's stderr goes to that file (read it with log()); else to a pipe the test reads.
        is_url = isinstance(storage, str) and "://" in storage
        self.storage = storage if is_url else pathlib.Path(storage)
        args = [PYDEPOT, "serve", "--storage", str(self.storage), "--listen", "127.0.0.1:0",
                *extra_args]
        if "--cache-ttl-ms" not in extra_args:
            # Tests change the store behind the server's back (the CLI yanks): see it at once.
            args += ["--cache-ttl-ms", "0"]
        self.log_path = log_path
        self._log_file = open(log_path, "w") if log_path else None
        self.proc = subprocess.Popen(args, stdout=subprocess.PIPE,
                                     stderr=self._log_file or subprocess.PIPE, text=True, env=env)
        line = self.proc.stdout.readline().strip()
        if not line.startswith("listening on http://"):
            self.proc.kill()
            err = self.log() if log_path else self.proc.stderr.read()
            self.stop()
            raise RuntimeError("pydepot did not start: %r %s" % (line, err))
        self.first_line = line
        self.url = line[len("listening on "):]
        self.netloc = self.url[len("http://"):]

    def auth(self, user="admin"):
        return (user, PASSWORDS[user])

    def auth_header(self, user="admin"):
        token = base64.b64encode(("%s:%s" % self.auth(user)).encode()).decode()
        return {"Authorization": "Basic " + token}

    def index_url(self, user="reader"):
        return "http://%s:%s@%s/simple/" % (user, PASSWORDS[user], self.netloc)

    def get(self, path, user="admin", **kwargs):
        if user:
            kwargs.setdefault("auth", self.auth(user))
        kwargs.setdefault("allow_redirects", False)
        return requests.get(self.url + path, timeout=30, **kwargs)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        for stream in (self.proc.stdout, self.proc.stderr, self._log_file):
            if stream:
                stream.close()

    def log(self):
        """What the server wrote to stderr so far (only with log_path), and whether it exited."""
        text = pathlib.Path(self.log_path).read_text() if self.log_path else ""
        code = self.proc.poll()
        return text + ("" if code is None else "[pydepot exited with %d]\n" % code)


def make_storage(tmp_path):
    storage = tmp_path / "storage"
    storage.mkdir()
    for name, password in PASSWORDS.items():
        add_user(storage, name, ROLES[name], password)
    return storage


@pytest.fixture(scope="session")
def server(tmp_path_factory):
    """One server for the whole session, with admin, uploader and reader users."""
    storage = make_storage(tmp_path_factory.mktemp("shared"))
    srv = Server(storage)
    yield srv
    srv.stop()


@pytest.fixture
def fresh_server(tmp_path):
    """A server of its own, for tests that need an empty index."""
    srv = Server(make_storage(tmp_path))
    yield srv
    srv.stop()


def build_package(workdir, name, version, deps=(), requires_python=None, module=None,
                  sdist=True, wheel=True, extra_text=""):
    """Builds `name`==`version` with flit_core (offline, Debian's), returning the dist paths.

    The import name is derived from the project name; `extra_text` changes the bytes without
    changing name or version."""
    module = module or name.lower().replace("-", "_").replace(".", "_")
    src = pathlib.Path(workdir) / ("src-%s-%s-%d" % (module, version, time.monotonic_ns()))
    (src / module).mkdir(parents=True)
    (src / module / "__init__.py").write_text(
        '"""%s: a test package."""\n__version__ = "%s"\n# %s\n' % (name, version, extra_text))
    deps_toml = ", ".join('"%s"' % d for d in deps)
    rp = 'requires-python = "%s"\n' % requires_python if requires_python else ""
    (src / "pyproject.toml").write_text(textwrap.dedent("""\
        [build-system]
        requires = ["flit_core >=3.2,<4"]
        build-backend = "flit_core.buildapi"

        [project]
        name = "%s"
        version = "%s"
        description = "Test package %s"
        dependencies = [%s]
        %s
        [tool.flit.module]
        name = "%s"
        """) % (name, version, name, deps_toml, rp, module))
    (src / "README.md").write_text("# %s\n\nA package for pydepot's tests.\n" % name)
    out = src / "dist"
    kinds = (["--sdist"] if sdist else []) + (["--wheel"] if wheel else [])
    res = run(["/usr/bin/python3", "-m", "build", "--no-isolation", *kinds, "--outdir", str(out),
               str(src)])
    assert res.returncode == 0, res.stdout + res.stderr
    return sorted(out.iterdir())


@pytest.fixture
def workdir(tmp_path):
    return tmp_path


def twine_upload(srv, files, user="uploader", extra=()):
    return run(["twine", "upload", "--non-interactive", "--disable-progress-bar",
                "--repository-url", srv.url + "/legacy/", "-u", user, "-p", PASSWORDS[user],
                *extra, *[str(f) for f in files]])


# The interpreter whose pip the tests drive: the python3 on PATH (the image's pyenv 3.11 with
# pip 23.2), else Debian's.
PIP_PYTHON = shutil.which("python3") or "/usr/bin/python3"


def pip(*args, env=None):
    """Runs pip with no cache, so every run talks to the index."""
    return run([PIP_PYTHON, "-m", "pip", *args, "--no-cache-dir"], env=env)
