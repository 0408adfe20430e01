"""`pydepot import`: moving in from a pypiserver directory, a GAEPyPI directory layout and a bucket
(file://, and s3:// when PYDEPOT_TEST_S3_URL names a server). Each import is run twice (the second
run finds everything present), then a real server on the store lists every file with its sha256
and upload time, and pip installs from it."""

import datetime
import hashlib
import os
import re
import shutil
import subprocess
import tarfile
import urllib.parse
import uuid
import zipfile

import pytest
import requests

from conftest import PYDEPOT, Server, build_package, make_storage, pip, run

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
# 2015-06-01T12:00:00Z, the time the files were "published" in the old index.
OLD_TIME = 1433160000
SUMMARY = re.compile(r"imported (\d+)(?: \((\d+) without metadata\))?, already present (\d+), "
                     r"skipped (\d+) \(not distributions\), failed (\d+)")


def summary(res):
    m = SUMMARY.search(res.stdout)
    assert m, res.stdout + res.stderr
    return {"imported": int(m.group(1)), "without_metadata": int(m.group(2) or 0),
            "present": int(m.group(3)), "skipped": int(m.group(4)), "failed": int(m.group(5))}


def pydepot_import(source, storage, *extra, env=None):
    return run([PYDEPOT, "import", str(source), "--storage", str(storage), *extra], env=env)


def repack_sdist(sdist, new_name):
    """The sdist `sdist` renamed to `new_name` (a legacy name such as Foo.Bar-1.0-1.tar.gz), its
    top directory renamed to match, as old setuptools wrote them."""
    top = new_name[:-len(".tar.gz")]
    out = sdist.parent / new_name
    with tarfile.open(sdist) as src, tarfile.open(out, "w:gz") as dst:
        for member in src.getmembers():
            data = src.extractfile(member) if member.isfile() else None
            member.name = top + "/" + member.name.split("/", 1)[1] if "/" in member.name else top
            dst.addfile(member, data)
    return out


def make_egg(path, name, version):
    """An egg as setuptools' bdist_egg wrote it: a zip with EGG-INFO/PKG-INFO."""
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("EGG-INFO/PKG-INFO", "Metadata-Version: 1.0\nName: %s\nVersion: %s\n"
                                         "Summary: an old egg\n" % (name, version))
        zf.writestr("%s/__init__.py" % name, "")
    return path


@pytest.fixture(scope="module")
def dists(tmp_path_factory):
    """Real distributions: {"alpha": [sdist, wheel], "beta": [...], "legacy": sdist, "egg": egg}.
    beta depends on alpha; the legacy sdist is Foo.Bar 1.0.post1 named Foo.Bar-1.0-1.tar.gz."""
    work = tmp_path_factory.mktemp("import-dists")
    files = {
        "alpha": build_package(work, "alpha-imp", "1.0"),
        "beta": build_package(work, "beta-imp", "2.0", deps=["alpha-imp>=1.0"],
                              requires_python=">=3.7"),
    }
    (sdist,) = build_package(work, "Foo.Bar", "1.0.post1", module="foo_bar_imp", wheel=False)
    files["legacy"] = repack_sdist(sdist, "Foo.Bar-1.0-1.tar.gz")
    files["egg"] = make_egg(work / "eggy_imp-0.5-py2.7.egg", "eggy_imp", "0.5")
    return files


def place(dest, src):
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    os.utime(dest, (OLD_TIME, OLD_TIME))
    return dest


def all_files(dists):
    return dists["alpha"] + dists["beta"] + [dists["legacy"], dists["egg"]]


def check_served(storage, dists):
    """Starts a server on `storage`; every distribution is listed with its sha256 and old upload
    time, wheels have their .metadata, and pip installs beta-imp (and alpha-imp) from it."""
    expected = {f.name: hashlib.sha256(f.read_bytes()).hexdigest() for f in all_files(dists)}
    srv = Server(storage)
    try:
        root = srv.get("/simple/", headers={"Accept": JSON_TYPE}).json()
        names = {re.sub(r"[-_.]+", "-", p["name"]).lower() for p in root["projects"]}
        assert {"alpha-imp", "beta-imp", "foo-bar", "eggy-imp"} <= names, names
        listed = {}
        for project in ("alpha-imp", "beta-imp", "foo-bar", "eggy-imp"):
            r = srv.get("/simple/%s/" % project, headers={"Accept": JSON_TYPE})
            assert r.status_code == 200, r.text
            for f in r.json()["files"]:
                listed[f["filename"]] = f
                url = urllib.parse.urljoin(srv.url + "/simple/%s/" % project, f["url"])
                got = requests.get(url, auth=srv.auth(), timeout=30)
                assert hashlib.sha256(got.content).hexdigest() == f["hashes"]["sha256"]
                assert f["upload-time"].startswith("2015-06-01T12:00:00"), f
                if f["filename"].endswith(".whl"):
                    assert "core-metadata" in f, f
        assert {name: f["hashes"]["sha256"] for name, f in listed.items()} == expected
        assert listed["beta_imp-2.0-py3-none-any.whl"]["requires-python"] == ">=3.7"
        # The legacy name is split as pip does: Foo.Bar, version 1.0-1 (1.0.post1).
        r = srv.get("/simple/foo-bar/", headers={"Accept": JSON_TYPE})
        assert r.json()["versions"] == ["1.0.post1"]
        assert srv.get("/pypi/foo-bar/json").json()["info"]["summary"] == "Test package Foo.Bar"
        eggs = srv.get("/pypi/eggy-imp/json").json()
        assert eggs["urls"][0]["packagetype"] == "bdist_egg"

        target = storage.parent / ("installed-%s" % uuid.uuid4().hex[:8])
        res = pip("install", "--index-url", srv.index_url(), "--target", str(target), "beta-imp")
        assert res.returncode == 0, res.stdout + res.stderr
        assert "Successfully installed alpha-imp-1.0 beta-imp-2.0" in res.stdout, res.stdout
        # pip finds the legacy-named sdist and builds it (Debian's pip, beside its flit_core).
        res = run(["/usr/bin/python3", "-m", "pip", "install", "--no-cache-dir",
                   "--no-build-isolation", "--no-deps", "--index-url", srv.index_url(),
                   "--target", str(target), "foo-bar==1.0.post1"])
        assert res.returncode == 0, res.stdout + res.stderr
        assert "Successfully installed foo-bar-1.0.post1" in res.stdout, res.stdout
    finally:
        srv.stop()


def test_pypiserver_directory(dists, tmp_path):
    src = tmp_path / "pypiserver"
    for f in dists["alpha"]:
        place(src / f.name, f)  # files right in the root
    for f in dists["beta"]:
        place(src / "beta-imp" / f.name, f)  # or in per-project subdirectories
    place(src / "foo.bar" / dists["legacy"].name, dists["legacy"])
    place(src / dists["egg"].name, dists["egg"])
    (src / "README.txt").write_text("my old index\n")
    (src / "beta-imp" / (dists["beta"][0].name + ".asc")).write_text("-----BEGIN PGP")
    storage = make_storage(tmp_path)

    res = pydepot_import(src, storage, "--verbose")
    assert res.returncode == 0, res.stdout + res.stderr
    assert summary(res) == {"imported": 6, "without_metadata": 1, "present": 0, "skipped": 2,
                            "failed": 0}, res.stdout
    assert "flat layout" in res.stderr
    assert "skipped README.txt (not a distribution)" in res.stderr
    assert re.search(r"imported eggy_imp-0.5-py2.7.egg \(eggy-imp\) without metadata", res.stderr)
    assert "imported foo.bar/Foo.Bar-1.0-1.tar.gz (foo-bar)" in res.stderr

    again = pydepot_import(src, storage)
    assert again.returncode == 0, again.stdout + again.stderr
    assert summary(again) == {"imported": 0, "without_metadata": 0, "present": 6, "skipped": 2,
                              "failed": 0}
    assert "present" not in again.stderr  # per-file lines only with --verbose
    check_served(storage, dists)


def test_legacy_sdist_without_a_project_directory_uses_its_metadata(dists, tmp_path):
    src = tmp_path / "flat"
    place(src / dists["legacy"].name, dists["legacy"])
    storage = make_storage(tmp_path)
    res = pydepot_import(src, storage, "-v")
    assert res.returncode == 0, res.stdout + res.stderr
    assert "imported Foo.Bar-1.0-1.tar.gz (foo-bar)" in res.stderr


def test_conflicting_bytes_are_reported_and_the_rest_imported(dists, tmp_path):
    storage = make_storage(tmp_path)
    first = tmp_path / "first"
    wheel = [f for f in dists["alpha"] if f.name.endswith(".whl")][0]
    place(first / wheel.name, wheel)
    assert pydepot_import(first, storage).returncode == 0

    second = tmp_path / "second"
    other = place(second / wheel.name, wheel)
    with zipfile.ZipFile(other, "a") as zf:
        zf.writestr("alpha_imp/extra.py", "# other bytes\n")
    for f in dists["beta"]:
        place(second / f.name, f)
    res = pydepot_import(second, storage)
    assert res.returncode == 1, res.stdout + res.stderr
    assert summary(res) == {"imported": 2, "without_metadata": 0, "present": 0, "skipped": 0,
                            "failed": 1}
    assert re.search(r"failed:\n  %s: File already exists" % re.escape(wheel.name), res.stdout)


def gaepypi_tree(root, dists):
    """packages/<name>/<version>/<file>, as GAEPyPI stores them (names as uploaded)."""
    for key, name, version in (("alpha", "alpha-imp", "1.0"), ("beta", "beta-imp", "2.0")):
        for f in dists[key]:
            place(root / "packages" / name / version / f.name, f)
    place(root / "packages" / "Foo.Bar" / "1.0-1" / dists["legacy"].name, dists["legacy"])
    place(root / "packages" / "eggy_imp" / "0.5" / dists["egg"].name, dists["egg"])
    (root / "packages" / "alpha-imp" / "1.0" / "index.html").write_text("<html></html>")
    return root


def test_gaepypi_directory(dists, tmp_path):
    src = gaepypi_tree(tmp_path / "gaepypi", dists)
    storage = make_storage(tmp_path)
    res = pydepot_import(src, storage)
    assert res.returncode == 0, res.stdout + res.stderr
    assert "gaepypi layout" in res.stderr
    assert summary(res) == {"imported": 6, "without_metadata": 1, "present": 0, "skipped": 1,
                            "failed": 0}
    again = pydepot_import(src, storage)
    assert summary(again)["present"] == 6 and summary(again)["imported"] == 0
    check_served(storage, dists)


def test_gaepypi_misplaced_files_fail(dists, tmp_path):
    src = tmp_path / "gaepypi"
    wheel = [f for f in dists["alpha"] if f.name.endswith(".whl")][0]
    place(src / "packages" / "alpha-imp" / "2.0" / wheel.name, wheel)  # wrong version directory
    place(src / "packages" / "beta-imp" / "1.0" / wheel.name, wheel)  # wrong project directory
    place(src / "packages" / "alpha-imp" / wheel.name, wheel)  # no version directory
    place(src / "packages" / "alpha-imp" / "1.0" / wheel.name, wheel)  # the right place
    storage = make_storage(tmp_path)
    res = pydepot_import(src, storage, "--layout", "gaepypi")
    assert res.returncode == 1
    assert summary(res)["imported"] == 1 and summary(res)["failed"] == 3, res.stdout
    assert "packages/alpha-imp/2.0/%s: in the version directory '2.0'" % wheel.name in res.stdout
    assert "packages/alpha-imp/%s: not at packages/<name>/<version>/<file>" % wheel.name \
        in res.stdout
    # --layout flat takes the same tree as a plain directory: one file, three identical copies.
    flat = pydepot_import(src, storage, "--layout", "flat")
    assert flat.returncode == 0, flat.stdout
    assert summary(flat)["present"] == 4


def test_file_bucket_in_gaepypi_layout(dists, tmp_path):
    src = gaepypi_tree(tmp_path / "bucket", dists)
    storage = make_storage(tmp_path)
    res = pydepot_import("file://%s" % src, storage)
    assert res.returncode == 0, res.stdout + res.stderr
    assert summary(res) == {"imported": 6, "without_metadata": 1, "present": 0, "skipped": 1,
                            "failed": 0}
    again = pydepot_import("file://%s" % src, storage)
    assert summary(again)["present"] == 6 and summary(again)["imported"] == 0
    check_served(storage, dists)


def test_bad_source_and_layout(tmp_path):
    storage = make_storage(tmp_path)
    res = pydepot_import(tmp_path / "missing", storage)
    assert res.returncode == 1 and "not a directory" in res.stderr
    res = pydepot_import(tmp_path, storage, "--layout", "pypi")
    assert res.returncode != 0


def test_progress_bar_on_a_terminal(dists, tmp_path):
    src = tmp_path / "src"
    for f in dists["alpha"]:
        place(src / f.name, f)
    storage = make_storage(tmp_path)
    # script(1) gives the command a terminal.
    if shutil.which("script") is None:
        pytest.skip("no script(1)")
    cmd = "%s import %s --storage %s" % (PYDEPOT, src, storage)
    res = run(["script", "-qec", cmd, "/dev/null"], env=dict(os.environ, COLUMNS="100"))
    assert res.returncode == 0, res.stdout + res.stderr
    assert re.search(r"importing \[> *\] 1/2 alpha", res.stdout), res.stdout
    assert re.search(r"importing \[=+> *\] 2/2 alpha", res.stdout), res.stdout
    assert "imported 2, already present 0" in res.stdout


S3_URL = os.environ.get("PYDEPOT_TEST_S3_URL", "")


def s3_put(url, key, data):
    """PUTs one object with curl's SigV4 signing (AWS_* variables, path-style endpoint)."""
    parsed = urllib.parse.urlparse(url)
    prefix = parsed.path.strip("/")
    path = "/".join(p for p in (parsed.netloc, prefix, key) if p)
    endpoint = os.environ["AWS_ENDPOINT_URL"].rstrip("/")
    region = os.environ.get("AWS_REGION", "us-east-1")
    res = subprocess.run(
        ["curl", "-sS", "-f", "--aws-sigv4", "aws:amz:%s:s3" % region, "-u",
         "%s:%s" % (os.environ["AWS_ACCESS_KEY_ID"], os.environ["AWS_SECRET_ACCESS_KEY"]),
         "-H", "x-amz-content-sha256: %s" % hashlib.sha256(data).hexdigest(),
         "-X", "PUT", "--data-binary", "@-", "%s/%s" % (endpoint, urllib.parse.quote(path))],
        input=data, capture_output=True, timeout=60)
    assert res.returncode == 0, res.stderr


@pytest.mark.skipif(not S3_URL, reason="no S3 server configured (PYDEPOT_TEST_S3_URL)")
def test_s3_bucket_in_gaepypi_layout(dists, tmp_path):
    url = "%s/import-%s" % (S3_URL.rstrip("/"), uuid.uuid4().hex[:12])
    local = gaepypi_tree(tmp_path / "local", dists)
    for path in sorted(local.rglob("*")):
        if path.is_file():
            s3_put(url, path.relative_to(local).as_posix(), path.read_bytes())
    storage = make_storage(tmp_path)
    res = pydepot_import(url, storage)
    assert res.returncode == 0, res.stdout + res.stderr
    assert summary(res) == {"imported": 6, "without_metadata": 1, "present": 0, "skipped": 1,
                            "failed": 0}
    assert "gaepypi layout" in res.stderr
    again = pydepot_import(url, storage)
    assert summary(again)["present"] == 6
    # Object times are upload times: the files were PUT just now.
    srv = Server(storage)
    try:
        r = srv.get("/simple/alpha-imp/", headers={"Accept": JSON_TYPE})
        year = datetime.datetime.now(datetime.timezone.utc).year
        for f in r.json()["files"]:
            assert f["upload-time"].startswith(str(year)), f
    finally:
        srv.stop()
