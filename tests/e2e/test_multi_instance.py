"""Three pydepot instances on one S3 bucket (a real radosgw started by scripts/test.sh): hundreds
of parallel uploads spread over them, identical re-uploads and different bytes raced under one
filename. Afterwards every accepted upload is listed with the right hash by every instance, no
filename was accepted with two different contents, and pip installs through each instance.

Needs PYDEPOT_TEST_S3_URL (s3://bucket/prefix) and the AWS_* variables naming the server;
CI sets them, and PYDEPOT_REQUIRE_CLOUD_BACKENDS=1 makes their absence a failure."""

import concurrent.futures
import hashlib
import io
import os
import random
import time
import uuid
import zipfile

import pytest
import requests

from conftest import PASSWORDS, ROLES, Server, add_user, pip

S3_URL = os.environ.get("PYDEPOT_TEST_S3_URL", "")
if not S3_URL:
    if os.environ.get("PYDEPOT_REQUIRE_CLOUD_BACKENDS") == "1":
        raise RuntimeError("PYDEPOT_TEST_S3_URL is not set but cloud backends are required")
    pytest.skip("no S3 server configured (PYDEPOT_TEST_S3_URL)", allow_module_level=True)

INSTANCES = 3
TTL_MS = 1000
HOT = "hot-project"


def make_wheel(name, version, salt=""):
    """A small valid wheel, built in memory: (filename, bytes)."""
    dist = name.replace("-", "_")
    info = "%s-%s.dist-info" % (dist, version)
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("%s/__init__.py" % dist, "VERSION = %r\nSALT = %r\n" % (version, salt))
        zf.writestr(info + "/METADATA",
                    "Metadata-Version: 2.1\nName: %s\nVersion: %s\nSummary: multi %s\n"
                    % (name, version, salt))
        zf.writestr(info + "/WHEEL", "Wheel-Version: 1.0\nGenerator: pydepot-test\n"
                                     "Root-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(info + "/RECORD", "")
    return "%s-%s-py3-none-any.whl" % (dist, version), buf.getvalue()


def upload(url, name, version, filename, data):
    fields = {":action": "file_upload", "protocol_version": "1", "metadata_version": "2.1",
              "name": name, "version": version, "filetype": "bdist_wheel", "pyversion": "py3",
              "sha256_digest": hashlib.sha256(data).hexdigest()}
    outcome = None
    for attempt in range(5):
        try:
            r = requests.post(url + "/legacy/", data=fields,
                              files={"content": (filename, data, "application/octet-stream")},
                              auth=("uploader", PASSWORDS["uploader"]), timeout=120)
        except requests.ConnectionError as e:
            # Told apart from any status: the test fails on it, naming the error.
            outcome = ("connection error", repr(e))
            time.sleep(0.2 * (attempt + 1))
            continue
        outcome = (r.status_code, r.text)
        if r.status_code < 500:
            break
        time.sleep(0.2 * (attempt + 1))  # twine also retries 5xx
    return outcome


@pytest.fixture(scope="module")
def instances(tmp_path_factory):
    url = "%s/multi-%s" % (S3_URL.rstrip("/"), uuid.uuid4().hex[:12])
    for name, password in PASSWORDS.items():
        add_user(url, name, ROLES[name], password)
    logs = tmp_path_factory.mktemp("multi-logs")
    servers = [Server(url, extra_args=["--cache-ttl-ms", str(TTL_MS)],
                      log_path=logs / ("instance-%d.log" % i)) for i in range(INSTANCES)]
    yield servers
    for srv in servers:
        srv.stop()


def server_logs(servers):
    """Each instance's stderr, for a failure message."""
    return "\n".join("--- instance %d (%s):\n%s" % (i, srv.url, srv.log()[-4000:])
                     for i, srv in enumerate(servers))


def listing(srv, project):
    r = requests.get(srv.url + "/simple/%s/" % project, auth=("reader", PASSWORDS["reader"]),
                     headers={"Accept": "application/vnd.pypi.simple.v1+json"}, timeout=30)
    if r.status_code == 404:
        return {}
    assert r.status_code == 200, r.text
    return {f["filename"]: f["hashes"]["sha256"] for f in r.json()["files"]}


def test_parallel_uploads_over_three_instances(instances, tmp_path):
    rng = random.Random(4)
    jobs = []  # (instance index, name, version, filename, bytes, kind)
    # 110 distinct files into one project, 120 spread over 40 projects.
    for i in range(110):
        fn, data = make_wheel(HOT, "1.%d" % i)
        jobs.append((i % INSTANCES, HOT, "1.%d" % i, fn, data, "unique"))
    for i in range(120):
        name = "proj-%02d" % (i % 40)
        fn, data = make_wheel(name, "0.%d" % i)
        jobs.append((rng.randrange(INSTANCES), name, "0.%d" % i, fn, data, "unique"))
    # 30 identical re-uploads, each to a different instance than the first.
    for i in range(0, 90, 3):
        inst, name, version, fn, data, _ = jobs[i]
        jobs.append(((inst + 1) % INSTANCES, name, version, fn, data, "identical"))
    # 15 raced filenames, 3 different contents each, one per instance, at the same time.
    raced = {}
    for i in range(15):
        version = "9.%d" % i
        variants = [make_wheel(HOT, version, salt="variant-%d" % v) for v in range(INSTANCES)]
        raced[variants[0][0]] = {hashlib.sha256(d).hexdigest() for _, d in variants}
        for v, (fn, data) in enumerate(variants):
            jobs.append((v, HOT, version, fn, data, "raced"))
    assert len(jobs) >= 300
    rng.shuffle(jobs)

    with concurrent.futures.ThreadPoolExecutor(max_workers=24) as pool:
        results = list(pool.map(
            lambda j: (j, upload(instances[j[0]].url, j[1], j[2], j[3], j[4])), jobs))

    failed = [(j[0], j[3], outcome) for j, outcome in results
              if outcome[0] == "connection error"]
    assert not failed, "%d uploads found no server: %r\n%s" % (
        len(failed), failed[:5], server_logs(instances))

    accepted = {}  # filename -> sha256 of the bytes that got a 200
    raced_wins = {fn: [] for fn in raced}
    for (inst, name, version, fn, data, kind), (status, text) in results:
        digest = hashlib.sha256(data).hexdigest()
        if kind == "raced":
            assert status in (200, 400), (fn, status, text)
            if status == 200:
                raced_wins[fn].append(digest)
            else:
                assert text.startswith("File already exists"), text
        else:
            assert status == 200, (kind, fn, status, text)
        if status == 200:
            # No filename may be accepted with two different contents.
            assert accepted.setdefault((name, fn), digest) == digest, fn
    for fn, wins in raced_wins.items():
        # Identical bytes may not be raced here, so exactly one variant wins each filename.
        assert len(set(wins)) == 1 and len(wins) == 1, (fn, wins)

    time.sleep(TTL_MS / 1000 * 2)  # the documented bound, with margin
    by_project = {}
    for (name, fn), digest in accepted.items():
        by_project.setdefault(name, {})[fn] = digest
    for srv in instances:
        for name, files in by_project.items():
            assert listing(srv, name) == files, (srv.url, name)
    # The stored bytes are the accepted ones, whichever instance serves them.
    for fn in list(raced)[:5]:
        for srv in instances:
            body = requests.get(srv.url + "/files/%s/%s" % (HOT, fn),
                                auth=("reader", PASSWORDS["reader"]), timeout=30).content
            assert hashlib.sha256(body).hexdigest() == by_project[HOT][fn]


def test_pip_installs_through_each_instance(instances, tmp_path):
    for i, srv in enumerate(instances):
        target = tmp_path / ("t%d" % i)
        res = pip("install", "--index-url", srv.index_url(), "--target", str(target),
                  "%s==1.%d" % (HOT, i))
        assert res.returncode == 0, res.stdout + res.stderr + server_logs(instances)
        assert (target / ("hot_project-1.%d.dist-info" % i)).is_dir()


def test_downloads_redirect_to_presigned_urls(tmp_path):
    url = "%s/redirect-%s" % (S3_URL.rstrip("/"), uuid.uuid4().hex[:12])
    for name, password in PASSWORDS.items():
        add_user(url, name, ROLES[name], password)
    srv = Server(url, extra_args=["--redirect-downloads", "120"])
    try:
        fn, data = make_wheel("redirected", "1.0")
        assert upload(srv.url, "redirected", "1.0", fn, data)[0] == 200
        auth = ("reader", PASSWORDS["reader"])
        r = requests.get(srv.url + "/files/redirected/" + fn, auth=auth, allow_redirects=False,
                         timeout=30)
        assert r.status_code == 307
        location = r.headers["Location"]
        assert location.startswith(os.environ["AWS_ENDPOINT_URL"])
        assert "X-Amz-Signature=" in location
        # The presigned URL needs no credentials, and gives the exact bytes.
        assert requests.get(location, timeout=30).content == data
        # .metadata is still served by pydepot itself (its URL must stay query-free).
        meta = requests.get(srv.url + "/files/redirected/%s.metadata" % fn, auth=auth,
                            allow_redirects=False, timeout=30)
        assert meta.status_code == 200 and meta.content.startswith(b"Metadata-Version")
        # pip follows the redirect.
        res = pip("install", "--index-url", srv.index_url(), "--target", str(tmp_path / "t"),
                  "redirected")
        assert res.returncode == 0, res.stdout + res.stderr
    finally:
        srv.stop()
