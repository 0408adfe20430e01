#!/usr/bin/python3
"""Load test: 60 s of mixed traffic at 256 connections against a real pydepot.

    /usr/bin/python3 tests/load/load_test.py --pydepot build/pydepot

1. Starts `pydepot serve` on a fresh local store and a free loopback port, with two users
   (basic auth for every request), and fills it through the server: 200 projects, each with
   two wheels and an sdist (1 KiB to 256 KiB, random bytes, so gzip cannot shrink them).
2. For DURATION seconds, at the same time:
   - wrk (Debian's) at CONNECTIONS connections, rotating through project pages as HTML and as
     PEP 691 JSON (gzip, as pip asks), the PyPI JSON API, .metadata files, wheel and sdist
     downloads, and conditional page requests (If-None-Match, answered 304); every response
     status is counted (tests/load/mixed.lua);
   - a thread pool posting valid uploads (new releases of 20 of the projects, UPLOAD_RATE per
     second), the way twine does;
   - the server's RSS, sampled every second from /proc.
3. Passes when wrk saw no socket error (connect, read, write, timeout) and no status other than
   2xx and 304; every upload got 200 and is listed afterwards with its sha256; the server is
   still up; and its RSS grew by less than RSS_GROWTH_MB from the 10th second to the end.

Prints the RSS curve and one summary line (requests, req/s, p99, RSS start/max/end).
"""

import argparse
import base64
import concurrent.futures
import hashlib
import io
import json
import os
import pathlib
import random
import shutil
import signal
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
import zipfile

import requests

HERE = pathlib.Path(__file__).resolve().parent
READER = ("reader", "load-reader-password")
UPLOADER = ("loader", "load-uploader-password")
PIP_ACCEPT = ("application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
              "text/html; q=0.01")
HOT_PROJECTS = 20  # the projects that get new releases during the run


def project_name(i):
    return "load-project-%03d" % i


def wheel_bytes(name, version, payload):
    module = name.replace("-", "_")
    dist_info = "%s-%s.dist-info" % (module, version)
    files = {
        module + "/__init__.py": b"VERSION = %r\n" % version.encode(),
        module + "/data.bin": payload,
        dist_info + "/METADATA": ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n"
                                  "Requires-Python: >=3.8\nSummary: load test package\n\n"
                                  "A package of the load test.\n" % (name, version)).encode(),
        dist_info + "/WHEEL": b"Wheel-Version: 1.0\nRoot-Is-Purelib: true\nTag: py3-none-any\n",
        dist_info + "/RECORD": b"",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as zf:
        for path, data in files.items():
            zf.writestr(zipfile.ZipInfo(path, date_time=(2024, 1, 1, 0, 0, 0)), data)
    return "%s-%s-py3-none-any.whl" % (module, version), buffer.getvalue()


def sdist_bytes(name, version, payload):
    module = name.replace("-", "_")
    top = "%s-%s" % (module, version)
    files = {
        top + "/PKG-INFO": ("Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version)
                            ).encode(),
        top + "/pyproject.toml": b"[project]\n",
        top + "/data.bin": payload,
    }
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w:gz", format=tarfile.PAX_FORMAT) as tf:
        for path, data in files.items():
            info = tarfile.TarInfo(path)
            info.size = len(data)
            info.mtime = 1700000000
            tf.addfile(info, io.BytesIO(data))
    return top + ".tar.gz", raw.getvalue()


class Upload:
    """One file to post: its form fields and bytes."""

    def __init__(self, name, version, filename, data):
        self.name, self.version, self.filename, self.data = name, version, filename, data
        self.sha256 = hashlib.sha256(data).hexdigest()
        self.status = None
        self.detail = ""

    def post(self, session, url):
        wheel = self.filename.endswith(".whl")
        fields = {
            ":action": "file_upload", "protocol_version": "1", "metadata_version": "2.1",
            "name": self.name, "version": self.version,
            "filetype": "bdist_wheel" if wheel else "sdist", "pyversion": "py3" if wheel else "source",
            "sha256_digest": self.sha256, "md5_digest": hashlib.md5(self.data).hexdigest(),
        }
        try:
            res = session.post(url + "/legacy/", data=fields, auth=UPLOADER, timeout=60,
                               files={"content": (self.filename, self.data,
                                                  "application/octet-stream")})
            self.status, self.detail = res.status_code, res.reason
        except requests.RequestException as exc:
            self.status, self.detail = -1, str(exc)
        return self


def thread_session():
    local = thread_session.local
    if not hasattr(local, "session"):
        local.session = requests.Session()
    return local.session


thread_session.local = threading.local()


def start_server(pydepot, store, log_path):
    for user, role in ((READER, "read"), (UPLOADER, "upload")):
        res = subprocess.run([pydepot, "user", "add", user[0], "--role", role, "--storage", store],
                             input=user[1] + "\n", capture_output=True, text=True, timeout=120)
        if res.returncode != 0:
            sys.exit("load: cannot add user %s: %s" % (user[0], res.stderr))
    log = open(log_path, "w")
    proc = subprocess.Popen([pydepot, "serve", "--storage", store, "--listen", "127.0.0.1:0"],
                            stdout=log, stderr=subprocess.STDOUT)
    deadline = time.time() + 30
    while time.time() < deadline:
        for line in pathlib.Path(log_path).read_text().splitlines():
            if line.startswith("listening on http://"):
                return proc, line[len("listening on "):].strip()
        if proc.poll() is not None:
            break
        time.sleep(0.1)
    proc.kill()
    sys.exit("load: pydepot did not start:\n" + pathlib.Path(log_path).read_text())


def rss_kib(pid):
    with open("/proc/%d/status" % pid) as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def lua_string(text):
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def write_wrk_script(path, entries, auth):
    """The rotating request list as a Lua table in front of mixed.lua."""
    rows = []
    for target, accept, etag, encoding in entries:
        rows.append("{%s,%s,%s,%s}" % (lua_string(target), lua_string(accept),
                                        lua_string(etag) if etag else "nil",
                                        lua_string(encoding) if encoding else "nil"))
    prologue = "entries = {\n%s\n}\nauthorization = %s\n" % (",\n".join(rows), lua_string(auth))
    path.write_text(prologue + (HERE / "mixed.lua").read_text())


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--pydepot", required=True, help="the Release pydepot binary")
    parser.add_argument("--duration", type=int, default=60, help="seconds of traffic")
    parser.add_argument("--connections", type=int, default=256)
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--projects", type=int, default=200)
    parser.add_argument("--upload-rate", type=float, default=4.0, help="uploads per second")
    parser.add_argument("--rss-growth-mb", type=float, default=50.0)
    parser.add_argument("--keep", action="store_true", help="keep the store and logs")
    args = parser.parse_args()

    wrk = shutil.which("wrk")
    if not wrk:
        sys.exit("load: wrk is not installed (apt-get install wrk; scripts/deps.sh test does)")
    pydepot = str(pathlib.Path(args.pydepot).resolve())
    work = pathlib.Path(tempfile.mkdtemp(prefix="pydepot-load-"))
    store = str(work / "store")
    proc, url = start_server(pydepot, store, str(work / "server.log"))
    failures = []
    try:
        failures = run(args, wrk, proc, url, work)
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
        if failures:
            log = (work / "server.log").read_text()
            print("server log (last 40 lines):\n" + "\n".join(log.splitlines()[-40:]))
        if args.keep:
            print("load: kept " + str(work))
        else:
            shutil.rmtree(work, ignore_errors=True)
    if failures:
        print("load: FAILED: " + "; ".join(failures))
        sys.exit(1)


def run(args, wrk, proc, url, work):
    rng = random.Random(20240601)
    sizes = [1 << 10, 8 << 10, 32 << 10, 64 << 10, 256 << 10]

    # 1. The store, filled through the server.
    started = time.time()
    uploads = []
    for i in range(args.projects):
        name = project_name(i)
        payload = rng.randbytes(rng.choice(sizes))
        uploads.append(Upload(name, "1.0", *wheel_bytes(name, "1.0", payload)))
        uploads.append(Upload(name, "1.1", *wheel_bytes(name, "1.1", payload + b"1.1")))
        uploads.append(Upload(name, "1.1", *sdist_bytes(name, "1.1", payload)))
    with concurrent.futures.ThreadPoolExecutor(8) as pool:
        done = list(pool.map(lambda u: u.post(thread_session(), url), uploads))
    bad = [u for u in done if u.status != 200]
    if bad:
        return ["filling the store: %d uploads failed, first: %s %s %s" % (
            len(bad), bad[0].filename, bad[0].status, bad[0].detail)]
    print("load: store filled with %d projects, %d files, %.1f MB, in %.1f s" % (
        args.projects, len(done), sum(len(u.data) for u in done) / 1e6, time.time() - started))

    # 2. The request mix. Conditional requests use the identity ETag of projects that get no
    #    uploads during the run (their pages do not change).
    session = requests.Session()
    entries = []
    for i in range(args.projects):
        name = project_name(i)
        files = [u for u in uploads if u.name == name]
        wheel = files[0].filename
        entries += [
            ("/simple/%s/" % name, "text/html", None, None),
            ("/simple/%s/" % name, PIP_ACCEPT, None, "gzip"),
            ("/simple/%s/" % name, PIP_ACCEPT, None, None),
            ("/pypi/%s/json" % name, "application/json", None, None),
            ("/files/%s/%s.metadata" % (name, wheel), "*/*", None, None),
            ("/files/%s/%s" % (name, wheel), "*/*", None, None),
            ("/files/%s/%s" % (name, files[2].filename), "*/*", None, None),
        ]
        if i >= HOT_PROJECTS:
            res = session.get(url + "/simple/%s/" % name, auth=READER,
                              headers={"Accept": PIP_ACCEPT, "Accept-Encoding": "identity"})
            if res.status_code != 200 or not res.headers.get("ETag"):
                return ["GET /simple/%s/ before the run: %s" % (name, res.status_code)]
            entries.append(("/simple/%s/" % name, PIP_ACCEPT, res.headers["ETag"], None))
    rng.shuffle(entries)
    entries.append(("/simple/", "text/html", None, None))
    script = work / "load.lua"
    write_wrk_script(script, entries,
                     "Basic " + base64.b64encode(("%s:%s" % READER).encode()).decode())

    # 3. Traffic, uploads and RSS samples, all at once.
    rss = []
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            try:
                rss.append(rss_kib(proc.pid))
            except OSError:
                return
            stop.wait(1.0)

    live_uploads = []

    def upload_loop(pool):
        interval = 1.0 / args.upload_rate
        deadline = time.time() + args.duration
        n = 0
        futures = []
        while time.time() < deadline and not stop.is_set():
            name = project_name(n % HOT_PROJECTS)
            version = "2.%d" % n
            upload = Upload(name, version, *wheel_bytes(name, version, rng.randbytes(16 << 10)))
            live_uploads.append(upload)
            futures.append(pool.submit(upload.post, thread_session(), url))
            n += 1
            time.sleep(interval)
        concurrent.futures.wait(futures)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    with concurrent.futures.ThreadPoolExecutor(4) as pool:
        uploader = threading.Thread(target=upload_loop, args=(pool,))
        uploader.start()
        wrk_run = subprocess.run(
            [wrk, "-t%d" % args.wrk_threads, "-c%d" % args.connections, "-d%ds" % args.duration,
             "--timeout", "10s", "-s", str(script), url],
            capture_output=True, text=True, timeout=args.duration + 120)
        uploader.join()
    stop.set()
    sampler.join()

    failures = []
    result = None
    for line in wrk_run.stdout.splitlines():
        if line.startswith("WRK_JSON "):
            result = json.loads(line[len("WRK_JSON "):])
    if wrk_run.returncode != 0 or result is None:
        return ["wrk failed (exit %d): %s %s" % (wrk_run.returncode, wrk_run.stdout[-2000:],
                                                 wrk_run.stderr[-2000:])]
    socket_errors = sum(result["errors"][k] for k in ("connect", "read", "write", "timeout"))
    statuses = {int(k): v for k, v in result["statuses"].items()}
    wrong = {k: v for k, v in statuses.items() if not (200 <= k < 300 or k == 304)}
    if socket_errors:
        failures.append("socket errors: %s" % result["errors"])
    if wrong:
        failures.append("responses other than 2xx/304: %s" % wrong)
    if sum(statuses.values()) != result["requests"]:
        failures.append("wrk counted %d requests but %d statuses" % (
            result["requests"], sum(statuses.values())))

    # 4. Every upload answered 200 and is listed with its hash.
    bad = [u for u in live_uploads if u.status != 200]
    if bad:
        failures.append("%d of %d uploads during the run failed, first: %s %s %s" % (
            len(bad), len(live_uploads), bad[0].filename, bad[0].status, bad[0].detail))
    listed = {}
    for i in range(HOT_PROJECTS):
        res = session.get(url + "/simple/%s/" % project_name(i), auth=READER,
                          headers={"Accept": "application/vnd.pypi.simple.v1+json"})
        if res.status_code != 200:
            failures.append("GET /simple/%s/ after the run: %d" % (project_name(i),
                                                                   res.status_code))
            continue
        for f in res.json()["files"]:
            listed[f["filename"]] = f["hashes"]["sha256"]
    missing = [u.filename for u in live_uploads
               if u.status == 200 and listed.get(u.filename) != u.sha256]
    if missing:
        failures.append("%d accepted uploads are not listed with their hash, first: %s" % (
            len(missing), missing[0]))
    if proc.poll() is not None:
        failures.append("pydepot exited with %s" % proc.returncode)

    # 5. Memory: bounded from the 10th second on.
    mb = [kib / 1024 for kib in rss]
    if len(mb) < 11:
        failures.append("only %d RSS samples" % len(mb))
    else:
        growth = mb[-1] - mb[9]
        if growth >= args.rss_growth_mb:
            failures.append("RSS grew %.1f MB from the 10th second to the end" % growth)
    print("load: RSS MB each second: " + " ".join("%.0f" % m for m in mb))
    print("load: statuses %s; socket errors %s; uploads during the run %d (%d ok)" % (
        dict(sorted(statuses.items())), result["errors"], len(live_uploads),
        sum(1 for u in live_uploads if u.status == 200)))
    seconds = result["duration_us"] / 1e6
    print("load: %d requests in %.1f s, %.0f req/s, p50 %.1f ms, p99 %.1f ms, max %.1f ms, "
          "%d uploads; RSS start %.0f MB, max %.0f MB, end %.0f MB" % (
              result["requests"], seconds, result["requests"] / seconds, result["p50_us"] / 1e3,
              result["p99_us"] / 1e3, result["max_us"] / 1e3, len(live_uploads),
              mb[0] if mb else 0, max(mb) if mb else 0, mb[-1] if mb else 0))
    return failures


if __name__ == "__main__":
    main()
