"""Crash safety: pydepot is killed with SIGKILL in the middle of many parallel uploads, started
again on the same store, and must show that

- every upload that got its 200 is listed, downloads byte for byte, with the listed sha256 (and
  a wheel's .metadata with its listed hash);
- nothing half-written is listed: every listed file is one of the uploaded files, whole;
- an upload that got no answer converges when it is sent again (200, listed once);
- `pydepot fsck` then finds no listed file missing or damaged, only what a crash may leave
  (orphans, temp files, a project missing from the project list), `fsck --repair` fixes all of
  it, and a second `fsck` finds the store clean; nothing accepted was touched.

The kill comes at a random moment of each of several rounds, so that it hits different steps of
an upload (spooling, storing the file, its .metadata, the project document, the project list).
Runs on a local directory and on S3 (the radosgw scripts/test.sh starts: PYDEPOT_TEST_S3_URL and
the AWS_* variables; PYDEPOT_REQUIRE_CLOUD_BACKENDS=1 makes their absence a failure).
"""

import concurrent.futures
import hashlib
import io
import json
import os
import random
import tarfile
import threading
import time
import uuid
import zipfile

import pytest
import requests

from conftest import PASSWORDS, PYDEPOT, ROLES, Server, add_user, make_storage, run

S3_URL = os.environ.get("PYDEPOT_TEST_S3_URL", "")
REQUIRE_CLOUD = os.environ.get("PYDEPOT_REQUIRE_CLOUD_BACKENDS") == "1"

THREADS = 16
ROUNDS = 3
PROJECTS = ["crash-%d" % i for i in range(6)]
# What a crash may leave, and `fsck --repair` fixes. Anything else (a listed file missing or
# damaged, a bad document) would mean pydepot lost or corrupted something it accepted.
CRASH_LEFTOVERS = {"orphan-file", "orphan-metadata", "temp-file", "unlisted-project"}


def make_wheel(name, version, payload):
    dist = name.replace("-", "_")
    info = "%s-%s.dist-info" % (dist, version)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as zf:
        zf.writestr("%s/__init__.py" % dist, "VERSION = %r\n" % version)
        zf.writestr("%s/blob.bin" % dist, payload)
        zf.writestr(info + "/METADATA",
                    "Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: crash test\n"
                    % (name, version))
        zf.writestr(info + "/WHEEL", "Wheel-Version: 1.0\nGenerator: pydepot-test\n"
                                     "Root-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(info + "/RECORD", "")
    return "%s-%s-py3-none-any.whl" % (dist, version), buf.getvalue()


def make_sdist(name, version, payload):
    dist = name.replace("-", "_")
    top = "%s-%s" % (dist, version)
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w:gz", compresslevel=1) as tf:
        for member, data in (("PKG-INFO", ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
                                           % (name, version)).encode()),
                             ("pyproject.toml", b"[project]\n"),
                             ("blob.bin", payload)):
            info = tarfile.TarInfo("%s/%s" % (top, member))
            info.size = len(data)
            info.mtime = 1700000000
            tf.addfile(info, io.BytesIO(data))
    return "%s.tar.gz" % top, buf.getvalue()


class Dist:
    def __init__(self, project, version, wheel, rng):
        payload = rng.randbytes(rng.randrange(16 << 10, 256 << 10))
        make = make_wheel if wheel else make_sdist
        self.project, self.version = project, version
        self.filetype = "bdist_wheel" if wheel else "sdist"
        self.filename, self.data = make(project, version, payload)
        self.sha256 = hashlib.sha256(self.data).hexdigest()


def post(url, dist):
    """One upload, no retry: the HTTP status, or None when no answer came (the server died)."""
    fields = {":action": "file_upload", "protocol_version": "1", "metadata_version": "2.1",
              "name": dist.project, "version": dist.version, "filetype": dist.filetype,
              "pyversion": "py3" if dist.filetype == "bdist_wheel" else "source",
              "sha256_digest": dist.sha256}
    try:
        r = requests.post(url + "/legacy/", data=fields,
                          files={"content": (dist.filename, dist.data, "application/octet-stream")},
                          auth=("uploader", PASSWORDS["uploader"]), timeout=60)
    except requests.RequestException:
        return None, ""
    return r.status_code, r.text


def upload_until_killed(srv, round_no, rng):
    """THREADS uploaders send new files until the server is killed, at a random moment after a
    random number of uploads were answered. Returns [(dist, status)] for every file sent
    (status None: no answer)."""
    results = []
    answered = threading.Semaphore(0)
    lock = threading.Lock()
    seeds = [rng.random() for _ in range(THREADS)]
    # Verified credentials are cached: pay for the password hash before the clock starts.
    assert srv.get("/simple/", user="uploader").status_code == 200

    def worker(t):
        wrng = random.Random(seeds[t])
        n = 0
        while True:
            dist = Dist(PROJECTS[(t + n) % len(PROJECTS)], "%d.%d.%d" % (round_no, t, n),
                        n % 3 != 2, wrng)
            status, text = post(srv.url, dist)
            with lock:
                results.append((dist, status))
            if status is None:
                return
            # 503 (the store was slow or contended) is no acceptance: it is retried later.
            assert status == 200 or status >= 500, (dist.filename, status, text)
            answered.release()
            n += 1

    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        futures = [pool.submit(worker, t) for t in range(THREADS)]
        deadline = time.monotonic() + 60
        for _ in range(rng.randrange(THREADS, 6 * THREADS)):
            while not answered.acquire(timeout=0.2):
                if all(f.done() for f in futures) or time.monotonic() > deadline:
                    srv.proc.kill()
                    for f in futures:
                        f.result()  # raises what stopped the uploaders
                    raise AssertionError("the uploads stalled")
        time.sleep(rng.uniform(0, 0.05))
        srv.proc.kill()  # SIGKILL: no cleanup of any kind
        srv.proc.wait()
        for f in futures:
            f.result()
    return results


def listing(srv, project):
    r = srv.get("/simple/%s/" % project, user="reader",
                headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    if r.status_code == 404:
        return []
    assert r.status_code == 200, r.text
    return r.json()["files"]


def check_listed_file(srv, project, f, sent):
    """A listed file is one that was sent, whole: its listed hash and size, and its bytes (and a
    wheel's .metadata) as downloaded, are those of the bytes sent."""
    filename = f["filename"]
    assert filename in sent, ("listed file never sent", filename)
    dist = sent[filename]
    assert f["hashes"]["sha256"] == dist.sha256, filename
    assert f["size"] == len(dist.data), filename
    body = srv.get("/files/%s/%s" % (project, filename), user="reader")
    assert body.status_code == 200, (filename, body.status_code)
    assert hashlib.sha256(body.content).hexdigest() == dist.sha256, filename
    if filename.endswith(".whl"):
        meta_hash = f.get("core-metadata") or f.get("data-dist-info-metadata")
        assert isinstance(meta_hash, dict), (filename, f)
        meta = srv.get("/files/%s/%s.metadata" % (project, filename), user="reader")
        assert meta.status_code == 200, (filename, meta.status_code)
        assert hashlib.sha256(meta.content).hexdigest() == meta_hash["sha256"], filename


def verify(srv, sent, accepted, downloaded=None):
    """Every accepted upload is listed and intact; every listed file is a whole uploaded file.
    Files named in the set `downloaded` were downloaded by an earlier call (stored files are
    never rewritten) and only their listing is checked; the others are added to it. Returns the
    projects the project list names."""
    checks = []
    for project in PROJECTS:
        files = listing(srv, project)
        names = [f["filename"] for f in files]
        assert len(names) == len(set(names)), (project, names)
        for filename, dist in accepted.items():
            if dist.project == project:
                assert filename in names, ("accepted upload not listed", filename)
        for f in files:
            assert f["filename"] in sent, ("listed file never sent", f["filename"])
            assert f["hashes"]["sha256"] == sent[f["filename"]].sha256, f["filename"]
            if downloaded is None or f["filename"] not in downloaded:
                checks.append((project, f))
    if downloaded is not None:
        downloaded.update(f["filename"] for _, f in checks)
    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        for done in pool.map(lambda c: check_listed_file(srv, c[0], c[1], sent), checks):
            assert done is None
    root = srv.get("/simple/", user="reader",
                   headers={"Accept": "application/vnd.pypi.simple.v1+json"})
    assert root.status_code == 200
    return {p["name"] for p in root.json()["projects"]}


def retry_all(srv, dists, context):
    """Sends `dists` again, as a client retries an upload that got no answer: each must converge
    to a 200."""
    def send(dist):
        for attempt in range(5):
            status, text = post(srv.url, dist)
            if status is not None and status < 500:
                break
            time.sleep(0.2 * (attempt + 1))  # twine, too, retries a 5xx
        return status, text

    with concurrent.futures.ThreadPoolExecutor(THREADS) as pool:
        for dist, (status, text) in zip(dists, pool.map(send, dists)):
            assert status == 200, (context, "retry", dist.filename, status, text)


def fsck(storage, *args):
    res = run([PYDEPOT, "fsck", "--storage", str(storage), "--json", "--jobs", "16", *args],
              timeout=120)
    assert res.returncode in (0, 1), (res.returncode, res.stdout, res.stderr)
    report = json.loads(res.stdout)
    return res.returncode, report


@pytest.fixture(params=["local", "s3"])
def store(request, tmp_path):
    if request.param == "local":
        return make_storage(tmp_path)
    if not S3_URL:
        if REQUIRE_CLOUD:
            pytest.fail("PYDEPOT_TEST_S3_URL is not set but cloud backends are required")
        pytest.skip("no S3 server configured (PYDEPOT_TEST_S3_URL)")
    url = "%s/crash-%s" % (S3_URL.rstrip("/"), uuid.uuid4().hex[:12])
    for name, password in PASSWORDS.items():
        add_user(url, name, ROLES[name], password)
    return url


def test_sigkill_during_parallel_uploads_loses_nothing_accepted(store):
    seed = int(os.environ.get("PYDEPOT_CRASH_SEED", str(time.time_ns())))
    rng = random.Random(seed)
    context = "seed %d (PYDEPOT_CRASH_SEED)" % seed
    sent = {}      # filename -> Dist, every file ever sent
    accepted = {}  # filename -> Dist, every file that got a 200
    unanswered = []
    downloaded = set()
    for round_no in range(1, ROUNDS + 1):
        srv = Server(store)
        try:
            # Retries of the previous round's unanswered uploads, as twine would send them:
            # each converges to a 200, whatever step the crash interrupted.
            retry_all(srv, unanswered, context)
            accepted.update((d.filename, d) for d in unanswered)
            results = upload_until_killed(srv, round_no, rng)
        finally:
            srv.stop()
        unanswered = []
        for dist, status in results:
            sent[dist.filename] = dist
            if status == 200:
                accepted[dist.filename] = dist
            else:
                unanswered.append(dist)
        assert unanswered, (context, "the kill came after every upload was answered")
        assert len(results) > len(unanswered), (context, "no upload finished before the kill")

        srv = Server(store)
        try:
            projects = verify(srv, sent, accepted, downloaded)
        finally:
            srv.stop()
        # A 200 comes after the project list names the project.
        assert {d.project for d in accepted.values()} <= projects, (context, projects)

    # The last round's unanswered uploads are not retried: what they left is for fsck.
    rc, report = fsck(store)
    kinds = {p["kind"] for p in report["problems"]}
    assert kinds <= CRASH_LEFTOVERS, (context, report["problems"])
    assert report["files"] >= len(accepted), (context, report["files"], len(accepted))
    for problem in report["problems"]:
        if problem["kind"] in ("orphan-file", "orphan-metadata"):
            # An orphan is a file whose upload was never answered 200.
            name = problem["key"].rsplit("/", 1)[1]
            name = name[:-len(".metadata")] if problem["kind"] == "orphan-metadata" else name
            assert name in sent and name not in accepted, (context, problem)
    assert rc == (1 if report["problems"] else 0), (context, rc, report)

    rc, report = fsck(store, "--repair", "--orphan-age", "0")
    assert rc == 0, (context, report)
    assert all(p["outcome"] == "repaired" for p in report["problems"]), (context, report)
    rc, report = fsck(store)
    assert rc == 0 and report["problems"] == [] and report["clean"], (context, report)

    srv = Server(store)
    try:
        # Repairs touched nothing accepted, and the project list names every project.
        projects = verify(srv, sent, accepted)
        assert {d.project for d in accepted.values()} <= projects, context
        # The unanswered uploads still converge after the repair.
        retry_all(srv, unanswered, context + " after repair")
        accepted.update((d.filename, d) for d in unanswered)
        verify(srv, sent, accepted, downloaded)
    finally:
        srv.stop()
    rc, report = fsck(store)
    assert rc == 0, (context, report)


def test_fsck_of_a_missing_store_is_an_error(tmp_path):
    missing = tmp_path / "no-such-store"
    res = run([PYDEPOT, "fsck", "--storage", str(missing)])
    assert res.returncode == 2, (res.returncode, res.stdout, res.stderr)
    assert "no such directory" in res.stderr
    assert not missing.exists()  # a mistyped path is not created and passed as a clean store
    res = run([PYDEPOT, "fsck", "--storage", "file://" + str(missing), "--json"])
    assert res.returncode == 2 and res.stdout == "", (res.returncode, res.stdout)
