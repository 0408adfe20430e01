"""pip against a real pydepot: credentials in the URL and in netrc, hashes, metadata files, yanks,
Requires-Python, sdists, dependency chains, awkward names."""

import hashlib
import os

import pytest

from conftest import PASSWORDS, PYDEPOT, build_package, pip, run, twine_upload


def debian_pip(*args):
    """Debian's pip 23.0.1 (/usr/bin/python3): an older pip than the image's, with flit_core
    installed beside it for builds without isolation."""
    return run(["/usr/bin/python3", "-m", "pip", *args, "--no-cache-dir"])


def wheel_of(repo, project, version):
    prefix = "%s-%s-" % (project.replace("-", "_"), version)
    return [f for name, f in repo.items() if name.startswith(prefix) and name.endswith(".whl")][0]


@pytest.fixture(scope="module")
def repo(server, tmp_path_factory):
    """chain-a -> chain-b -> chain-c; yank-me 1.0 / 2.0 (2.0 yanked); needs-future-python 1.0
    (any Python) and 2.0 (Requires-Python >=3.99); odd names."""
    work = tmp_path_factory.mktemp("pip")
    files = []
    files += build_package(work, "chain-c", "1.0")
    files += build_package(work, "chain-b", "1.0", deps=["chain-c>=1.0"])
    files += build_package(work, "chain-a", "1.0", deps=["chain-b"])
    files += build_package(work, "yank-me", "1.0")
    files += build_package(work, "yank-me", "2.0")
    files += build_package(work, "needs-future-python", "1.0")
    files += build_package(work, "needs-future-python", "2.0", requires_python=">=3.99")
    files += build_package(work, "Odd_Name.With-Mixed", "0.1", module="odd_name_mixed")
    res = twine_upload(server, files)
    assert res.returncode == 0, res.stdout + res.stderr
    res = run([PYDEPOT, "yank", "yank-me", "2.0", "--reason", "do not use", "--storage",
               str(server.storage)])
    assert res.returncode == 0, res.stderr
    return {f.name: f for f in files}


def installed(target):
    return sorted(p.name for p in target.iterdir() if p.name.endswith(".dist-info"))


def test_install_chain_with_credentials_in_url(server, repo, tmp_path):
    target = tmp_path / "t"
    res = pip("install", "-v", "--index-url", server.index_url(), "--target", str(target),
              "chain-a")
    assert res.returncode == 0, res.stdout + res.stderr
    assert installed(target) == ["chain_a-1.0.dist-info", "chain_b-1.0.dist-info",
                                 "chain_c-1.0.dist-info"]
    log = res.stdout + res.stderr
    # pip resolved from the .metadata files (PEP 658) instead of downloading wheels for it.
    for project in ("chain-a", "chain-b", "chain-c"):
        assert "Obtaining dependency information for %s" % project in log, log
    assert ".whl.metadata" in log


def test_metadata_avoids_downloading_unused_wheels(server, repo, tmp_path):
    # Resolving yank-me considers 1.0 and (yanked) 2.0; with metadata, pip never downloads a
    # wheel it does not install.
    res = pip("download", "-v", "--no-deps", "--index-url", server.index_url(), "-d",
              str(tmp_path / "d"), "chain-b==1.0")
    assert res.returncode == 0, res.stdout + res.stderr
    assert sorted(os.listdir(tmp_path / "d")) == [wheel_of(repo, "chain-b", "1.0").name]


def test_install_with_netrc(server, repo, tmp_path):
    netrc = tmp_path / ".netrc"
    host, port = server.netloc.split(":")
    netrc.write_text("machine %s login reader password %s\n" % (host, PASSWORDS["reader"]))
    netrc.chmod(0o600)
    env = dict(os.environ, HOME=str(tmp_path), NETRC=str(netrc))
    res = pip("install", "--index-url", server.url + "/simple/", "--target",
              str(tmp_path / "t"), "chain-c", env=env)
    assert res.returncode == 0, res.stdout + res.stderr
    assert installed(tmp_path / "t") == ["chain_c-1.0.dist-info"]


def test_require_hashes(server, repo, tmp_path):
    wheel = wheel_of(repo, "chain-c", "1.0")
    digest = hashlib.sha256(wheel.read_bytes()).hexdigest()
    req = tmp_path / "req.txt"
    req.write_text("chain-c==1.0 --hash=sha256:%s\n" % digest)
    res = pip("install", "--require-hashes", "--index-url", server.index_url(), "--target",
              str(tmp_path / "t"), "-r", str(req))
    assert res.returncode == 0, res.stdout + res.stderr
    req.write_text("chain-c==1.0 --hash=sha256:%s\n" % ("0" * 64))
    res = pip("install", "--require-hashes", "--index-url", server.index_url(), "--target",
              str(tmp_path / "t2"), "-r", str(req))
    assert res.returncode != 0


def test_yanked_release_is_skipped_unless_pinned(server, repo, tmp_path):
    res = pip("install", "--index-url", server.index_url(), "--target", str(tmp_path / "a"),
              "yank-me")
    assert res.returncode == 0, res.stdout + res.stderr
    assert installed(tmp_path / "a") == ["yank_me-1.0.dist-info"]
    res = pip("install", "--index-url", server.index_url(), "--target", str(tmp_path / "b"),
              "yank-me==2.0")
    assert res.returncode == 0, res.stdout + res.stderr
    assert installed(tmp_path / "b") == ["yank_me-2.0.dist-info"]
    assert "yanked" in (res.stdout + res.stderr).lower()


def test_requires_python_excludes_newer_release(server, repo, tmp_path):
    res = pip("install", "--index-url", server.index_url(), "--target", str(tmp_path / "t"),
              "needs-future-python")
    assert res.returncode == 0, res.stdout + res.stderr
    assert installed(tmp_path / "t") == ["needs_future_python-1.0.dist-info"]


def test_download_sdist(server, repo, tmp_path):
    # Getting an sdist's metadata runs its build backend; Debian's pip has flit_core beside it.
    res = debian_pip("download", "--no-deps", "--no-binary", ":all:", "--no-build-isolation",
                     "--index-url", server.index_url(), "-d", str(tmp_path / "d"), "chain-c")
    assert res.returncode == 0, res.stdout + res.stderr
    sdist = [f for name, f in repo.items() if name.startswith("chain") and "c-1.0.tar" in name][0]
    got = sorted(os.listdir(tmp_path / "d"))
    assert got == [sdist.name]
    assert (tmp_path / "d" / got[0]).read_bytes() == sdist.read_bytes()


def test_odd_names(server, repo, tmp_path):
    for spelling in ("Odd_Name.With-Mixed", "odd-name-with-mixed", "ODD.NAME_WITH.MIXED"):
        target = tmp_path / spelling
        res = pip("install", "--index-url", server.index_url(), "--target", str(target),
                  spelling)
        assert res.returncode == 0, res.stdout + res.stderr
        assert len(installed(target)) == 1


def test_pip_index_versions(server, repo):
    res = pip("index", "versions", "--index-url", server.index_url(), "yank-me")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "yank-me (1.0)" in res.stdout
    res = pip("index", "versions", "--index-url", server.index_url(), "needs-future-python")
    assert "needs-future-python (1.0)" in res.stdout


def test_missing_credentials_are_refused(server, repo, tmp_path):
    res = pip("install", "--index-url", server.url + "/simple/", "--target", str(tmp_path / "t"),
              "chain-c")
    assert res.returncode != 0
    assert not (tmp_path / "t").exists() or installed(tmp_path / "t") == []


def test_older_pip_with_json_api(server, repo, tmp_path):
    # pip 22.3-23.1 crash on a JSON "dist-info-metadata" key (PEP 714); Debian's 23.0.1 is one.
    res = debian_pip("install", "--index-url", server.index_url(), "--target",
                     str(tmp_path / "t"), "chain-a")
    assert res.returncode == 0, res.stdout + res.stderr
    assert installed(tmp_path / "t") == ["chain_a-1.0.dist-info", "chain_b-1.0.dist-info",
                                         "chain_c-1.0.dist-info"]


def test_public_read(tmp_path, repo):
    from conftest import Server, make_storage
    srv = Server(make_storage(tmp_path), extra_args=["--public-read"])
    try:
        res = twine_upload(srv, [wheel_of(repo, "chain-c", "1.0")])
        assert res.returncode == 0, res.stdout + res.stderr
        res = pip("install", "--index-url", srv.url + "/simple/", "--target",
                  str(tmp_path / "t"), "chain-c")
        assert res.returncode == 0, res.stdout + res.stderr
        # Uploads still need credentials.
        import requests
        r = requests.post(srv.url + "/legacy/", data={":action": "file_upload"}, timeout=30)
        assert r.status_code == 401
    finally:
        srv.stop()


def test_backtracking_uses_metadata_not_wheels(server, tmp_path):
    # bt-top 2.0 needs a project that does not exist, so pip must fall back to bt-top 1.0. With
    # PEP 658 metadata it learns that from 2.0's .metadata and never downloads 2.0's wheel.
    files = build_package(tmp_path, "bt-top", "1.0", sdist=False)
    files += build_package(tmp_path, "bt-top", "2.0", deps=["bt-missing-dependency"], sdist=False)
    res = twine_upload(server, files)
    assert res.returncode == 0, res.stdout + res.stderr
    res = pip("install", "-v", "--index-url", server.index_url(), "--target",
              str(tmp_path / "t"), "bt-top")
    assert res.returncode == 0, res.stdout + res.stderr
    assert installed(tmp_path / "t") == ["bt_top-1.0.dist-info"]
    log = res.stdout + res.stderr
    wheel20 = [f.name for f in files if "-2.0-" in f.name][0]
    assert "%s.metadata" % wheel20 in log
    downloads = [line for line in log.splitlines() if "Downloading" in line]
    assert not any(wheel20 in line and ".metadata" not in line for line in downloads), downloads
