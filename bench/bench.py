#!/usr/bin/python3
"""The benchmark suite behind bench/run.sh: pydepot against nginx serving identical bytes.

Standard library only (Debian's /usr/bin/python3). What it does, in order:

  1. makes (or reuses from bench/.cache) the generated repositories (bench/gen_repo.cc);
  2. for each group of scenarios starts pydepot on a repository, fetches from it the exact bytes
     of every URL the load uses into an nginx document root (project pages as HTML and as PEP 691
     JSON, the root /simple/ plain and gzip-compressed, hard links of the big files), starts
     nginx (Debian's, in the foreground, generated config) on that root, checks that both
     answer the same bytes, and loads both with wrk (bench/rotate.lua), alternating the servers
     round by round (p,n then n,p ...) and keeping the median;
  3. measures what wrk cannot: a 1 GiB upload through twine (server RSS sampled every 20 ms),
     cold start (exec to the first 200), idle memory, and memory after every project page of the
     100k repository was served once;
  4. writes REPORT.md, report.svg and results.json into --out.

Timings are never asserted here; only --smoke's structural checks (every scenario ran, the
numbers parsed, both servers answered identical bytes) fail the run. See bench/README.md.
"""

import argparse
import base64
import datetime
import gzip
import hashlib
import http.client
import json
import os
import platform
import random
import shlex
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import zipfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
MIB = 1 << 20

HTML_ACCEPT = "text/html"
# What pip sends (PEP 691 negotiation): JSON first, HTML as a fallback.
JSON_ACCEPT = ("application/vnd.pypi.simple.v1+json, application/vnd.pypi.simple.v1+html; q=0.1, "
               "text/html; q=0.01")
ACCEPT_ENCODING = "gzip, deflate"  # what pip (requests) sends
READER = ("bench-reader", "bench-reader-password-4f1c9a")
UPLOADER = ("bench-uploader", "bench-uploader-password-77e2d0")
BIG_PROJECT = "bench-big-files"

# The two profiles. Repositories: "pages" serves the project-page, auth and download
# scenarios; "roots" the /simple/ scenarios; "large" cold start and memory.
FULL = {
    "pages": ("1k", 1000, [MIB, 100 * MIB]),
    "roots": [("10k", 10000, []), ("100k", 100000, [])],
    "large": "100k",
    "urls": 1000,
    "duration": 3,
    "rounds": 5,
    "warmup": 1,
    "upload_bytes": 1 << 30,
    "cold_starts": 5,
}
SMOKE = {
    "pages": ("smoke", 50, [MIB, 8 * MIB]),
    "roots": [("smoke", 50, [MIB, 8 * MIB])],
    "large": "smoke",
    "urls": 50,
    "duration": 1,
    "rounds": 1,
    "warmup": 0,
    "upload_bytes": 16 * MIB,
    "cold_starts": 2,
}

# Targets of issue 5. Ratios are pydepot/nginx (higher is better); limits are upper bounds.
TARGETS = {
    "page_html": 0.8,
    "page_json": 0.8,
    "page_html_auth": 0.7,
    "page_json_auth": 0.7,
    "root_10k": 0.8,
    "root_100k": 0.8,
    "download_1m": 0.9,
    "download_100m": 0.9,
}

PROCESSES = []  # everything started here, stopped by stop_all()
# --ignore-sigpipe: pydepot inherits Python's ignored SIGPIPE (restore_signals=False), so a
# server that forgets to ignore it survives clients closing connections mid-answer.
IGNORE_SIGPIPE = False
SERVERS = {}  # port -> (description, Popen, log path): what to blame when a port stops answering


def log(message):
    print(f"[bench {time.strftime('%H:%M:%S')}] {message}", flush=True)


class BenchError(Exception):
    pass


# ---------------------------------------------------------------------------------------------
# Processes


def stop_process(proc, timeout=10):
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    if proc in PROCESSES:
        PROCESSES.remove(proc)


def stop_all():
    for proc in list(PROCESSES):
        stop_process(proc)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_for_port(port, proc, timeout=30):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            return False
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return True
        except OSError:
            time.sleep(0.005)
    return False


def rss_kib(pid):
    """VmRSS of `pid` in KiB (0 when it is gone)."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def io_bytes(pid):
    """(rchar, wchar) of /proc/PID/io: bytes the process passed to read(2)/write(2) and
    friends so far (file I/O such as an upload's spool file; not recv/send on sockets)."""
    counts = {}
    try:
        with open(f"/proc/{pid}/io") as f:
            for line in f:
                key, _, value = line.partition(":")
                counts[key] = int(value)
    except (OSError, ValueError):
        pass
    return counts.get("rchar", 0), counts.get("wchar", 0)


class Pydepot:
    """A running `pydepot serve` on a free loopback port; its output goes to a log file."""

    count = 0

    def __init__(self, binary, storage, workdir, args=()):
        Pydepot.count += 1
        self.log_path = Path(workdir) / f"pydepot-{Pydepot.count}.log"
        self.log = open(self.log_path, "w+")
        cmd = [str(binary), "serve", "--storage", str(storage), "--listen", "127.0.0.1:0", *args]
        self.cmd = cmd
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, restore_signals=not IGNORE_SIGPIPE)
        PROCESSES.append(self.proc)
        deadline = time.monotonic() + 120
        first = ""
        while time.monotonic() < deadline:
            with open(self.log_path) as f:
                first = f.readline()
            if first.endswith("\n") or self.proc.poll() is not None:
                break
            time.sleep(0.002)
        if not first.startswith("listening on http://"):
            stop_process(self.proc)
            raise BenchError(f"pydepot did not start: {first!r}; log {self.log_path}")
        self.url = first.split()[2]
        self.port = int(self.url.rsplit(":", 1)[1])
        SERVERS[self.port] = ("pydepot " + shlex.join(cmd[1:]), self.proc, self.log_path)

    @property
    def pid(self):
        return self.proc.pid

    def stop(self):
        stop_process(self.proc)
        self.log.close()


class Sampler:
    """Samples a process's VmRSS (KiB) and file I/O every `interval` seconds in a thread, while
    the `with` block runs: samples are (seconds since the start, rss, (rchar, wchar))."""

    def __init__(self, pid, interval):
        self.pid, self.interval = pid, interval
        self.samples = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.started = 0.0

    def run(self):
        while not self.stop.is_set():
            self.samples.append((time.perf_counter() - self.started, rss_kib(self.pid),
                                 io_bytes(self.pid)))
            self.stop.wait(self.interval)

    def __enter__(self):
        self.started = time.perf_counter()
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


def run_cli(binary, args, stdin=None):
    return subprocess.run([str(binary), *args], input=stdin, capture_output=True, text=True,
                          timeout=120)


def ensure_user(binary, storage, user, role):
    """Creates `user` with its fixed password, or resets the password if it exists."""
    name, password = user
    res = run_cli(binary, ["user", "add", name, "--role", role, "--storage", str(storage)],
                  password + "\n")
    if res.returncode != 0:
        if "already exists" not in res.stderr:
            raise BenchError(f"pydepot user add {name}: {res.stderr.strip()}")
        res = run_cli(binary, ["user", "passwd", name, "--storage", str(storage)], password + "\n")
        if res.returncode != 0:
            raise BenchError(f"pydepot user passwd {name}: {res.stderr.strip()}")
        res = run_cli(binary, ["user", "role", name, "--role", role, "--storage", str(storage)])
        if res.returncode != 0:
            raise BenchError(f"pydepot user role {name}: {res.stderr.strip()}")


def basic_auth(user):
    return "Basic " + base64.b64encode(f"{user[0]}:{user[1]}".encode()).decode()


class Nginx:
    """Debian's nginx in the foreground with a generated config: one loopback server per entry
    of `sites` ({"root": dir, "auth": htpasswd path or None}); `ports` lists their ports."""

    def __init__(self, workdir, sites, workers):
        self.dir = Path(tempfile.mkdtemp(prefix="nginx-", dir=workdir))
        self.ports = [free_port() for _ in sites]
        binary = shutil.which("nginx") or "/usr/sbin/nginx"
        servers = []
        for site, port in zip(sites, self.ports):
            auth = ""
            if site.get("auth"):
                auth = (f'        auth_basic "pydepot";\n'
                        f"        auth_basic_user_file {site['auth']};\n")
            servers.append(f"""    server {{
        listen 127.0.0.1:{port} backlog=4096;
        root {site['root']};
{auth}        location / {{
            index $simple_index;
        }}
    }}
""")
        temp_paths = "".join(f"    {kind}_temp_path {self.dir}/{kind};\n"
                             for kind in ("client_body", "proxy", "fastcgi", "uwsgi", "scgi"))
        # Workers run as root when we are root, so they read the document root wherever it is.
        user = "user root;\n" if os.geteuid() == 0 else ""
        self.config = f"""# Generated by bench/bench.py: static files, tuned as for a static server.
{user}worker_processes {workers};
daemon off;
pid {self.dir}/nginx.pid;
error_log {self.dir}/error.log warn;
events {{
    worker_connections 8192;
}}
http {{
    access_log off;
    server_tokens off;
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    keepalive_timeout 75s;
    keepalive_requests 1000000;
    open_file_cache max=20000 inactive=120s;
    open_file_cache_valid 120s;
    gzip off;
    gzip_static on;
    charset utf-8;
    types {{
        text/html html;
        application/vnd.pypi.simple.v1+json json;
        application/octet-stream whl gz metadata;
    }}
    default_type application/octet-stream;
{temp_paths}    # PEP 691: the JSON page for the Accept header the load sends, else HTML.
    map_hash_bucket_size 256;
    map $http_accept $simple_index {{
        default index.html;
        "{JSON_ACCEPT}" index.json;
    }}
{''.join(servers)}}}
"""
        conf = self.dir / "nginx.conf"
        conf.write_text(self.config)
        self.log = open(self.dir / "stderr.log", "w+")
        self.proc = subprocess.Popen(
            [binary, "-p", str(self.dir), "-c", str(conf), "-e", str(self.dir / "error.log")],
            stdout=self.log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        PROCESSES.append(self.proc)
        for port in self.ports:
            SERVERS[port] = ("nginx", self.proc, self.dir / "error.log")
            if not wait_for_port(port, self.proc):
                stop_process(self.proc)
                raise BenchError("nginx did not start: " +
                                 (self.dir / "stderr.log").read_text() +
                                 (self.dir / "error.log").read_text())

    def stop(self):
        stop_process(self.proc)
        self.log.close()


def ssha_htpasswd(path, user):
    """An htpasswd line with a {SSHA} (salted SHA-1) password, which nginx's auth_basic reads."""
    salt = os.urandom(8)
    digest = hashlib.sha1(user[1].encode() + salt).digest()
    encoded = base64.b64encode(digest + salt).decode()
    Path(path).write_text(f"{user[0]}:{{SSHA}}{encoded}\n")


# ---------------------------------------------------------------------------------------------
# HTTP helpers


class Client:
    """One keep-alive HTTP/1.1 connection to a loopback port."""

    def __init__(self, port):
        self.port = port
        self.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)

    def get(self, path, headers):
        self.conn.request("GET", path, headers=headers)
        res = self.conn.getresponse()
        body = res.read()
        return res.status, {k.lower(): v for k, v in res.getheaders()}, body

    def close(self):
        self.conn.close()


def fetch_ok(client, path, headers):
    status, res_headers, body = client.get(path, headers)
    if status != 200:
        raise BenchError(f"GET {path} {headers}: HTTP {status} {body[:200]!r}")
    return res_headers, body


# ---------------------------------------------------------------------------------------------
# Repositories


def ensure_repo(args, label, projects, big_sizes):
    """The cached repository `label` (generated on first use). Returns (dir, manifest)."""
    version = subprocess.run([str(args.gen), "--version"], capture_output=True, text=True,
                             check=True).stdout.strip()
    final = args.cache / f"{label}-v{version}"
    manifest_path = final / "manifest.json"
    if manifest_path.exists():
        return final, json.loads(manifest_path.read_text())
    args.cache.mkdir(parents=True, exist_ok=True)
    partial = args.cache / f"{label}-v{version}.partial"
    log(f"generating the {label} repository ({projects} projects) into {final}")
    started = time.monotonic()
    cmd = [str(args.gen), "--out", str(partial), "--projects", str(projects), "--force",
           "--threads", "2", "--big-file-sizes", ",".join(str(s) for s in big_sizes)]
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL)
    partial.rename(final)
    manifest = json.loads(manifest_path.read_text())
    args.generated.append((label, time.monotonic() - started))
    return final, manifest


def project_names(storage):
    data = json.loads((Path(storage) / "index" / "projects.json").read_text())
    return [p["name"] for p in data["projects"]]


# ---------------------------------------------------------------------------------------------
# wrk


def wrk(args, port, paths_file, headers, connections, duration, script="rotate.lua"):
    threads = min(args.wrk_threads, connections)
    cmd = ["wrk", f"-t{threads}", f"-c{connections}", f"-d{duration}s", "--timeout", "10s",
           "-s", str(HERE / script)]
    for header in headers:
        cmd += ["-H", header]
    cmd += [f"http://127.0.0.1:{port}/", "--", str(paths_file)]
    res = subprocess.run(cmd, capture_output=True, text=True, timeout=duration + 120)
    for line in res.stdout.splitlines():
        if line.startswith("BENCH_JSON "):
            return json.loads(line[len("BENCH_JSON "):])
    blame = ""
    if port in SERVERS:
        what, proc, log_path = SERVERS[port]
        if proc.poll() is not None:
            tail = Path(log_path).read_text(errors="replace")[-1500:]
            blame = f"\nthe server exited with status {proc.returncode}: {what}\n{tail}"
            if proc.returncode == -signal.SIGPIPE:
                blame += ("\nstatus -13 is SIGPIPE: the server wrote (sendfile?) to a connection "
                          "the client had closed, and SIGPIPE killed it. A server must ignore "
                          "SIGPIPE. (--ignore-sigpipe starts pydepot with it ignored, to measure "
                          "anyway.)")
    raise BenchError(f"wrk printed no result: {shlex.join(cmd)}\n{res.stdout}\n{res.stderr}"
                     f"{blame}")


def summarize_run(raw):
    seconds = raw["duration_us"] / 1e6
    return {
        "rps": raw["requests"] / seconds if seconds else 0.0,
        "mibps": raw["bytes"] / seconds / MIB if seconds else 0.0,
        "p50_ms": raw["p50_us"] / 1000,
        "p90_ms": raw["p90_us"] / 1000,
        "p99_ms": raw["p99_us"] / 1000,
        "requests": raw["requests"],
        "errors": raw["connect_errors"] + raw["read_errors"] + raw["write_errors"] +
        raw["timeouts"],
        "status_errors": raw["status_errors"],
    }


def run_scenario(args, results, key, title, description, unit, paths_file, headers, connections,
                 servers, target_key=None, note=""):
    """Loads every server of `servers` ([(label, port)], pydepot first, plain nginx second) with
    the same paths and headers, alternating their order each round; keeps the median."""
    log(f"scenario {key}: {title}")
    if args.profile["warmup"]:
        for _, port in servers:
            wrk(args, port, paths_file, headers, connections, args.profile["warmup"])
    runs = {label: [] for label, _ in servers}
    for round_index in range(args.profile["rounds"]):
        order = servers if round_index % 2 == 0 else list(reversed(servers))
        for label, port in order:
            raw = wrk(args, port, paths_file, headers, connections, args.profile["duration"])
            run = summarize_run(raw)
            if run["status_errors"] or run["requests"] == 0:
                raise BenchError(f"{key} on {label}: {run['status_errors']} non-2xx/3xx answers "
                                 f"of {run['requests']}")
            runs[label].append(run)
    metric = "mibps" if unit == "MiB/s" else "rps"
    table = {}
    for label, _ in servers:
        rs = runs[label]
        table[label] = {
            "value": statistics.median(r[metric] for r in rs),
            "p50_ms": statistics.median(r["p50_ms"] for r in rs),
            "p99_ms": statistics.median(r["p99_ms"] for r in rs),
            "rounds": [round(r[metric], 1) for r in rs],
            "errors": sum(r["errors"] for r in rs),
        }
    # The ratio is the median of the rounds' ratios: each round measures both servers back to
    # back, so a slow spell of the machine hits both sides of one ratio.
    pydepot, nginx = servers[0][0], servers[1][0]
    round_ratios = [p[metric] / n[metric] if n[metric] else 0.0
                    for p, n in zip(runs[pydepot], runs[nginx])]
    ratio = statistics.median(round_ratios)
    entry = {
        "key": key, "title": title, "description": description, "unit": unit,
        "connections": connections, "headers": headers, "servers": table, "ratio": ratio,
        "round_ratios": [round(r, 3) for r in round_ratios],
        "ratio_of_medians": table[pydepot]["value"] / table[nginx]["value"]
        if table[nginx]["value"] else 0.0,
        "target": TARGETS.get(target_key or key), "note": note,
    }
    results["scenarios"].append(entry)
    log(f"  {key}: " + ", ".join(f"{label} {t['value']:.0f} {unit}" for label, t in table.items())
        + f", ratio {ratio:.2f}")
    return entry


def check_identical(key, pydepot_port, nginx_port, paths, headers_list):
    """Both servers answer every sampled path with the same status, type and bytes."""
    p, n = Client(pydepot_port), Client(nginx_port)
    try:
        for path in paths:
            for headers in headers_list:
                ps, ph, pb = p.get(path, headers)
                ns, nh, nb = n.get(path, headers)
                same_type = ph.get("content-type", "").replace(" ", "").lower() == \
                    nh.get("content-type", "").replace(" ", "").lower()
                if ps != 200 or ns != 200 or pb != nb or not same_type:
                    raise BenchError(
                        f"{key}: pydepot and nginx differ on {path} {headers}: "
                        f"{ps}/{ns} {ph.get('content-type')}/{nh.get('content-type')} "
                        f"{len(pb)}/{len(nb)} bytes")
    finally:
        p.close()
        n.close()


# ---------------------------------------------------------------------------------------------
# Scenario groups


def write_paths(path, paths):
    Path(path).write_text("".join(p + "\n" for p in paths))
    return path


def link_or_copy(src, dst):
    dst.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(src, dst)
    except OSError:
        shutil.copyfile(src, dst)


def pages_group(args, results, work):
    label, projects, big_sizes = args.profile["pages"]
    repo, manifest = ensure_repo(args, label, projects, big_sizes)
    storage = repo / "storage"
    ensure_user(args.binary, storage, READER, "read")
    names = [n for n in project_names(storage) if n != BIG_PROJECT]
    random.Random(5).shuffle(names)
    names = names[:args.profile["urls"]]
    paths = [f"/simple/{n}/" for n in names]
    paths_file = write_paths(work / "pages.txt", paths)

    public = Pydepot(args.binary, storage, work, ["--public-read", *args.pydepot_args])
    private = Pydepot(args.binary, storage, work, args.pydepot_args)
    results["pydepot_command"] = shlex.join(public.cmd)

    # nginx's document root: the exact bytes pydepot serves for every URL of the load.
    docroot = work / "docroot-pages"
    client = Client(public.port)
    for path in paths:
        target = docroot / path.strip("/")
        target.mkdir(parents=True, exist_ok=True)
        for accept, name in ((HTML_ACCEPT, "index.html"), (JSON_ACCEPT, "index.json")):
            _, body = fetch_ok(client, path, {"Accept": accept})
            (target / name).write_bytes(body)
    client.close()
    for big in manifest["big_files"]:
        link_or_copy(storage / big["url"].lstrip("/"), docroot / big["url"].lstrip("/"))
    htpasswd = work / "htpasswd"
    ssha_htpasswd(htpasswd, READER)
    nginx = Nginx(work, [{"root": docroot}, {"root": docroot, "auth": htpasswd}], args.workers)
    plain, with_auth = nginx.ports
    results["nginx_config"] = nginx.config
    sample = paths[:: max(1, len(paths) // 20)]
    check_identical("pages", public.port, plain, sample,
                    [{"Accept": HTML_ACCEPT}, {"Accept": JSON_ACCEPT}])
    auth = {"Authorization": basic_auth(READER)}
    check_identical("pages with auth", private.port, with_auth, sample[:5],
                    [{"Accept": HTML_ACCEPT, **auth}])
    big_urls = [b["url"] for b in manifest["big_files"]]
    check_identical("downloads", public.port, plain, big_urls[:1], [{}])

    c = args.connections
    url_note = f"{len(paths)} distinct project URLs of a {manifest['projects']}-project repository"
    run_scenario(args, results, "page_html", "Project page, warm, HTML",
                 f"{url_note}, `Accept: {HTML_ACCEPT}`, anonymous (`--public-read`)", "req/s",
                 paths_file, [f"Accept: {HTML_ACCEPT}"], c,
                 [("pydepot", public.port), ("nginx", plain)])
    run_scenario(args, results, "page_json", "Project page, warm, PEP 691 JSON",
                 f"{url_note}, pip's `Accept` header (JSON preferred), anonymous", "req/s",
                 paths_file, [f"Accept: {JSON_ACCEPT}"], c,
                 [("pydepot", public.port), ("nginx", plain)])
    auth_header = f"Authorization: {auth['Authorization']}"
    auth_servers = [("pydepot (auth)", private.port), ("nginx", plain),
                    ("nginx auth_basic {SSHA}", with_auth)]
    auth_note = ("pydepot without `--public-read`, a `read` user's basic auth on every request; "
                 "the ratio is against plain nginx (same headers, no auth check), nginx with "
                 "`auth_basic` and a {SSHA} htpasswd is a second reference")
    run_scenario(args, results, "page_html_auth", "Project page, warm, HTML, basic auth",
                 f"{url_note}, `Accept: {HTML_ACCEPT}`; {auth_note}", "req/s", paths_file,
                 [f"Accept: {HTML_ACCEPT}", auth_header], c, auth_servers)
    run_scenario(args, results, "page_json_auth", "Project page, warm, JSON, basic auth",
                 f"{url_note}, pip's `Accept` header; {auth_note}", "req/s", paths_file,
                 [f"Accept: {JSON_ACCEPT}", auth_header], c, auth_servers)
    run_scenario(args, results, "page_p99_256", "Project page, HTML, 256 connections",
                 f"{url_note}, `Accept: {HTML_ACCEPT}`, 256 concurrent connections; the target "
                 "is pydepot's p99 latency", "req/s", paths_file, [f"Accept: {HTML_ACCEPT}"], 256,
                 [("pydepot", public.port), ("nginx", plain)])
    for big, key in zip(manifest["big_files"], ("download_1m", "download_100m")):
        size = big["size"]
        name = f"{size / MIB:g} MiB"
        file_list = write_paths(work / f"{key}.txt", [big["url"]])
        connections = 8 if size <= 8 * MIB else 4
        run_scenario(args, results, key, f"Download, {name} file",
                     f"`{big['url']}` ({size} bytes) from local storage, {connections} "
                     "connections, throughput from wrk's bytes", "MiB/s", file_list, [],
                     connections, [("pydepot", public.port), ("nginx", plain)])
    nginx.stop()
    public.stop()
    private.stop()


def root_group(args, results, work, label, projects, big_sizes):
    repo, manifest = ensure_repo(args, label, projects, big_sizes)
    storage = repo / "storage"
    server = Pydepot(args.binary, storage, work, ["--public-read", *args.pydepot_args])
    docroot = work / f"docroot-root-{label}"
    (docroot / "simple").mkdir(parents=True, exist_ok=True)
    client = Client(server.port)
    _, plain = fetch_ok(client, "/simple/", {"Accept": HTML_ACCEPT})
    headers, compressed = fetch_ok(client, "/simple/",
                                   {"Accept": HTML_ACCEPT, "Accept-Encoding": ACCEPT_ENCODING})
    client.close()
    pydepot_gzip = headers.get("content-encoding", "").lower() == "gzip"
    if pydepot_gzip:
        if gzip.decompress(compressed) != plain:
            raise BenchError(f"root {label}: pydepot's gzip body does not decompress to its page")
    else:
        compressed = gzip.compress(plain, 6, mtime=0)
    (docroot / "simple" / "index.html").write_bytes(plain)
    (docroot / "simple" / "index.html.gz").write_bytes(compressed)
    nginx = Nginx(work, [{"root": docroot}], args.workers)
    gz_headers = {"Accept": HTML_ACCEPT, "Accept-Encoding": ACCEPT_ENCODING}
    if pydepot_gzip:
        check_identical(f"root {label}", server.port, nginx.ports[0], ["/simple/"],
                        [{"Accept": HTML_ACCEPT}, gz_headers])
    else:
        check_identical(f"root {label}", server.port, nginx.ports[0], ["/simple/"],
                        [{"Accept": HTML_ACCEPT}])
    paths_file = write_paths(work / f"root-{label}.txt", ["/simple/"])
    note = (f"pydepot sent gzip ({len(compressed)} bytes, identical bytes saved for nginx's "
            "gzip_static)" if pydepot_gzip else
            f"pydepot sent NO Content-Encoding (its {len(plain)} bytes plain); nginx serves "
            f"the page precompressed by Python's gzip ({len(compressed)} bytes)")
    key = f"root_{label}"
    run_scenario(args, results, key, f"Root /simple/, {manifest['projects']} projects, gzip",
                 f"`GET /simple/` with `Accept-Encoding: {ACCEPT_ENCODING}`; page "
                 f"{len(plain)} bytes, gzip {len(compressed)} bytes", "req/s", paths_file,
                 [f"Accept: {HTML_ACCEPT}", f"Accept-Encoding: {ACCEPT_ENCODING}"],
                 args.connections, [("pydepot", server.port), ("nginx", nginx.ports[0])],
                 target_key=key if key in TARGETS else "root_10k", note=note)
    results["root_gzip"][label] = {"pydepot_gzip": pydepot_gzip, "plain_bytes": len(plain),
                                   "gzip_bytes": len(compressed)}
    nginx.stop()
    server.stop()


def cold_start_once(args, storage, path, headers, public):
    """Milliseconds from exec to the first 200 on `path` (polled with raw sockets)."""
    port = free_port()
    cmd = [str(args.binary), "serve", "--storage", str(storage), "--listen", f"127.0.0.1:{port}",
           *(["--public-read"] if public else []), *args.pydepot_args]
    request = (f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n" +
               "".join(f"{k}: {v}\r\n" for k, v in headers.items()) +
               "Connection: close\r\n\r\n").encode()
    started = time.perf_counter()
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                            stdin=subprocess.DEVNULL, restore_signals=not IGNORE_SIGPIPE)
    PROCESSES.append(proc)
    elapsed = None
    status = b""
    try:
        while time.perf_counter() - started < 30 and proc.poll() is None:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=5) as s:
                    s.sendall(request)
                    status = s.recv(64)
            except OSError:
                time.sleep(0.0005)
                continue
            if status.startswith(b"HTTP/1.1 200"):
                elapsed = (time.perf_counter() - started) * 1000
                break
    finally:
        stop_process(proc)
    if elapsed is None:
        raise BenchError(f"cold start: no 200 from {shlex.join(cmd)} (last answer {status!r})")
    return elapsed


def idle_rss(args, storage, work, settle=0.5):
    server = Pydepot(args.binary, storage, work, ["--public-read", *args.pydepot_args])
    time.sleep(settle)
    rss = rss_kib(server.pid)
    server.stop()
    return rss


def memory_group(args, results, work):
    label = args.profile["large"]
    repo, manifest = ensure_repo(args, label, *project_spec(args, label))
    storage = repo / "storage"
    ensure_user(args.binary, storage, READER, "read")
    names = project_names(storage)
    path = f"/simple/{names[len(names) // 2]}/"
    auth = {"Authorization": basic_auth(READER)}
    # What CI should use: an API token (checked with SHA-256, not argon2id).
    res = run_cli(args.binary, ["token", "create", "--user", READER[0], "--scope", "read",
                                "--name", "bench", "--storage", str(storage)])
    if res.returncode != 0:
        raise BenchError(f"pydepot token create: {res.stderr.strip()}")
    token_auth = {"Authorization": basic_auth(("__token__", res.stdout.strip()))}
    log(f"cold start ({manifest['projects']} projects), {args.profile['cold_starts']} times each")
    cold = {
        "anonymous": [cold_start_once(args, storage, path, {}, True)
                      for _ in range(args.profile["cold_starts"])],
        "api_token": [cold_start_once(args, storage, path, token_auth, False)
                      for _ in range(args.profile["cold_starts"])],
        "basic_auth": [cold_start_once(args, storage, path, auth, False)
                       for _ in range(args.profile["cold_starts"])],
    }
    results["cold_start"] = {
        "projects": manifest["projects"], "path": path,
        "runs_ms": {k: [round(v, 1) for v in vs] for k, vs in cold.items()},
        "median_ms": {k: statistics.median(vs) for k, vs in cold.items()},
    }

    empty = work / "empty-storage"
    ensure_user(args.binary, empty, READER, "read")  # so serve creates no admin (no argon2id)
    results["idle_rss_kib"] = {"empty": idle_rss(args, empty, work),
                               "large": idle_rss(args, storage, work)}
    results["idle_projects"] = manifest["projects"]

    log(f"memory: serving /simple/ and all {len(names)} project pages once")
    server = Pydepot(args.binary, storage, work, ["--public-read", *args.pydepot_args])
    client = Client(server.port)
    fetch_ok(client, "/simple/", {"Accept": HTML_ACCEPT})
    client.close()
    walk = walk_pages(server.port, [f"/simple/{n}/" for n in names], {"Accept": HTML_ACCEPT})
    if walk["answered"] < len(names) or walk["not_ok"]:
        raise BenchError(f"walk: {walk['answered']} answers of {len(names)}, "
                         f"{walk['not_ok']} not 200")
    time.sleep(0.2)
    results["memory_all_pages"] = {
        "projects": len(names), "rss_kib": rss_kib(server.pid),
        "seconds": walk["seconds"],
        "pages_per_second": walk["answered"] / walk["seconds"],
    }
    server.stop()


def walk_pages(port, paths, headers, threads=4):
    """GETs every path once over `threads` keep-alive connections (wrk cannot stop after N
    requests). Returns the number of answers, of non-200 answers, and the time taken."""
    lock = threading.Lock()
    todo = iter(paths)
    counts = {"answered": 0, "not_ok": 0}

    def worker():
        client = Client(port)
        try:
            while True:
                with lock:
                    path = next(todo, None)
                if path is None:
                    return
                status, _, _ = client.get(path, headers)
                with lock:
                    counts["answered"] += 1
                    counts["not_ok"] += status != 200
        finally:
            client.close()

    started = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    counts["seconds"] = time.perf_counter() - started
    return counts


def project_spec(args, label):
    if args.profile["pages"][0] == label:
        return args.profile["pages"][1:]
    for root_label, projects, big in args.profile["roots"]:
        if root_label == label:
            return projects, big
    raise BenchError(f"unknown repository {label}")


def make_wheel(path, total_size):
    """A valid wheel of exactly `total_size` bytes (when possible): METADATA, WHEEL, RECORD and
    one stored (uncompressed) member of incompressible pseudo-random bytes."""
    name, version = "benchupload", "1.0"
    info = f"{name}-{version}.dist-info"
    files = {
        f"{name}/__init__.py": b'"""Benchmark upload."""\n',
        f"{info}/METADATA": (f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
                             "Summary: A large wheel for the upload benchmark.\n"
                             "Requires-Python: >=3.8\n").encode(),
        f"{info}/WHEEL": (b"Wheel-Version: 1.0\nGenerator: pydepot-bench\n"
                          b"Root-Is-Purelib: true\nTag: py3-none-any\n"),
    }
    block = os.urandom(32 * MIB)

    def write(target, blob_size):
        records = []
        with zipfile.ZipFile(target, "w", zipfile.ZIP_STORED, allowZip64=True) as zf:
            for arcname, data in files.items():
                zf.writestr(arcname, data)
                digest = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
                records.append(f"{arcname},sha256={digest.decode()},{len(data)}")
            h = hashlib.sha256()
            with zf.open(f"{name}/blob.bin", "w", force_zip64=True) as out:
                left, shift = blob_size, 0
                while left > 0:
                    # The block at a moving offset: never a run the server could shortcut.
                    chunk = block[shift:] + block[:shift]
                    chunk = chunk[:min(left, len(chunk))]
                    h.update(chunk)
                    out.write(chunk)
                    left -= len(chunk)
                    shift = (shift + 4099) % len(block)
            digest = base64.urlsafe_b64encode(h.digest()).rstrip(b"=")
            records.append(f"{name}/blob.bin,sha256={digest.decode()},{blob_size}")
            records.append(f"{info}/RECORD,,")
            zf.writestr(f"{info}/RECORD", "\n".join(records) + "\n")
        return target.stat().st_size

    # The framing does not depend on the member's size (force_zip64), but RECORD spells the
    # size out: account for its digits.
    framing = write(path, 1) - 1 - len("1")
    blob = total_size - framing
    for digits in range(1, 16):
        if len(str(total_size - framing - digits)) == digits:
            blob = total_size - framing - digits
            break
    return write(path, blob)


def upload_group(args, results, work):
    size_wanted = args.profile["upload_bytes"]
    wheel = work / "benchupload-1.0-py3-none-any.whl"
    log(f"upload: building a {size_wanted / MIB:g} MiB wheel")
    size = make_wheel(wheel, size_wanted)
    storage = work / "upload-storage"
    ensure_user(args.binary, storage, UPLOADER, "upload")
    spool = work / "upload-spool"
    spool.mkdir()
    server = Pydepot(args.binary, storage, work, ["--temp-dir", str(spool), *args.pydepot_args])
    time.sleep(0.3)
    # The first request with a password pays one argon2id check (19 MiB of memory by design):
    # make it before the upload, so the growth measured below is the upload's own.
    fresh = rss_kib(server.pid)
    with Sampler(server.pid, 0.005) as auth_sampler:
        client = Client(server.port)
        client.get("/simple/", {"Authorization": basic_auth(UPLOADER)})
        client.close()
    time.sleep(0.1)
    baseline = rss_kib(server.pid)
    first_auth_peak = max([fresh, baseline] + [rss for _, rss, _ in auth_sampler.samples])
    env = {k: v for k, v in os.environ.items() if not k.startswith("TWINE_")}
    cmd = ["twine", "upload", "--repository-url", f"{server.url}/legacy/", "-u", UPLOADER[0],
           "-p", UPLOADER[1], "--non-interactive", "--disable-progress-bar", str(wheel)]
    log(f"upload: {shlex.join(cmd[:4])} ... ({size} bytes)")
    io0 = io_bytes(server.pid)
    with Sampler(server.pid, 0.02) as sampler:
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        total = time.perf_counter() - sampler.started
    io1 = io_bytes(server.pid)
    samples = sampler.samples
    peak = max([baseline] + [s[1] for s in samples])
    # The server's part: from when the body started to arrive (the server spools it to a file:
    # its file I/O grows; twine hashes the whole file before it sends a byte) until twine had
    # its answer. Conservative: the start is the last sample before the growth showed.
    first = None
    for i, (_, _, (rchar, wchar)) in enumerate(samples):
        if rchar + wchar - io0[0] - io0[1] > MIB:
            first = samples[i - 1][0] if i > 0 else 0.0
            break
    server_seconds = (total - first) if first is not None else None
    listed = False
    if res.returncode == 0:
        client = Client(server.port)
        status, _, body = client.get("/simple/benchupload/",
                                     {"Authorization": basic_auth(UPLOADER)})
        client.close()
        listed = status == 200 and wheel.name.encode() in body
    results["upload"] = {
        "bytes": size, "twine_rc": res.returncode,
        "twine_output": (res.stdout + res.stderr)[-2000:],
        "listed": listed, "twine_seconds": total, "server_seconds": server_seconds,
        "rss_baseline_kib": baseline, "rss_peak_kib": peak,
        "rss_growth_kib": peak - baseline, "samples": len(samples),
        "rss_fresh_kib": fresh, "rss_first_auth_peak_kib": first_auth_peak,
        "server_read_bytes": io1[0] - io0[0], "server_written_bytes": io1[1] - io0[1],
    }
    server.stop()
    shutil.rmtree(storage, ignore_errors=True)
    if res.returncode != 0 or not listed:
        raise BenchError(f"twine upload failed (rc {res.returncode}): {res.stdout}{res.stderr}")

    for kind in ("null", "store"):
        log(f"upload: twine into the {kind} sink (reference)")
        results["upload"].setdefault("sink", {})[kind] = twine_into_sink(wheel, kind, env, work)

    # The same file again, to a fresh storage, from a client that costs next to nothing
    # (sendfile from the page cache): what the server takes when the client is not the limit.
    ensure_user(args.binary, storage, UPLOADER, "upload")
    server = Pydepot(args.binary, storage, work, ["--temp-dir", str(spool), *args.pydepot_args])
    client = Client(server.port)
    client.get("/simple/", {"Authorization": basic_auth(UPLOADER)})  # the argon2id check
    client.close()
    time.sleep(0.1)
    baseline = rss_kib(server.pid)
    with Sampler(server.pid, 0.02) as sampler:
        status, seconds, answer = raw_upload(server.port, wheel, UPLOADER)
    results["upload"]["raw"] = {
        "status": status, "seconds": seconds, "rss_baseline_kib": baseline,
        "rss_growth_kib": max([baseline] + [s[1] for s in sampler.samples]) - baseline,
    }
    server.stop()
    shutil.rmtree(storage, ignore_errors=True)
    wheel.unlink()
    if status != 200:
        raise BenchError(f"raw upload: {answer!r}")


# The references for the upload: a receiver that does nothing but read the body (what twine
# can send here at all), and one that does the least an index must: compute the three digests
# twine sends (UP-05: every digest sent must match) and keep the bytes (written to a file,
# fsynced before the answer). Both are one Python thread: recv_into a 1 MiB buffer, hashlib
# (OpenSSL) and write(2) on each piece. They time themselves from the request head to the
# answer sent, and print one JSON line.
SINK_SCRIPT = r"""
import hashlib, json, socket, sys, time
import os
keep = sys.argv[1] == "store"
hashes = [hashlib.sha256(), hashlib.md5(), hashlib.blake2b(digest_size=32)] if keep else []
out = os.open(sys.argv[2], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600) if keep else -1
listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)
conn, _ = listener.accept()
head = b""
while b"\r\n\r\n" not in head:
    piece = conn.recv(65536)
    if not piece:
        sys.exit("sink: the connection ended in the request head")
    head += piece
started = time.perf_counter()
fields, _, body = head.partition(b"\r\n\r\n")
length = next(int(line.split(b":", 1)[1]) for line in fields.split(b"\r\n")[1:]
              if line.lower().startswith(b"content-length:"))
buf = bytearray(1 << 20)
view = memoryview(buf)
got = len(body)
for h in hashes:
    h.update(body)
if keep:
    os.write(out, body)
while got < length:
    n = conn.recv_into(view, min(len(buf), length - got))
    if not n:
        break
    for h in hashes:
        h.update(view[:n])
    if keep:
        os.write(out, view[:n])
    got += n
digests = [h.hexdigest() for h in hashes]
if keep:
    os.fsync(out)
    os.close(out)
    os.unlink(sys.argv[2])
conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nConnection: close\r\n\r\nOK")
print(json.dumps({"bytes": got, "seconds": time.perf_counter() - started}), flush=True)
"""


def twine_into_sink(wheel, kind, env, work):
    """twine upload of `wheel` into a reference receiver (kind "null" or "store"); returns the
    receiver's own {"bytes", "seconds"}."""
    sink = subprocess.Popen([sys.executable, "-c", SINK_SCRIPT, kind, str(work / "sink.part")],
                            stdout=subprocess.PIPE, text=True)
    try:
        port = int(sink.stdout.readline())
        cmd = ["twine", "upload", "--repository-url", f"http://127.0.0.1:{port}/legacy/", "-u",
               "sink", "-p", "sink", "--non-interactive", "--disable-progress-bar", str(wheel)]
        res = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=900)
        line = sink.stdout.readline()
        sink.wait(timeout=30)
    finally:
        if sink.poll() is None:
            sink.kill()
            sink.wait()
    if res.returncode != 0 or not line:
        raise BenchError(f"twine into the {kind} sink failed (rc {res.returncode}): "
                         f"{res.stdout}{res.stderr}")
    return json.loads(line)


def raw_upload(port, wheel, user):
    """POSTs `wheel` to /legacy/ as twine would (multipart/form-data), the file part sent with
    sendfile(2). Returns (HTTP status, seconds from the first byte sent to the answer, the
    answer's first line)."""
    name, version = wheel.name.split("-")[:2]
    boundary = "pydepot-bench-" + os.urandom(8).hex()
    digest = hashlib.sha256()
    with open(wheel, "rb") as f:
        while chunk := f.read(8 * MIB):
            digest.update(chunk)
    fields = {":action": "file_upload", "protocol_version": "1", "name": name,
              "version": version, "filetype": "bdist_wheel", "pyversion": "py3",
              "metadata_version": "2.1", "sha256_digest": digest.hexdigest()}
    head = "".join(f'--{boundary}\r\nContent-Disposition: form-data; name="{k}"\r\n\r\n{v}\r\n'
                   for k, v in fields.items())
    head += (f'--{boundary}\r\nContent-Disposition: form-data; name="content"; '
             f'filename="{wheel.name}"\r\nContent-Type: application/octet-stream\r\n\r\n')
    tail = f"\r\n--{boundary}--\r\n".encode()
    size = wheel.stat().st_size
    length = len(head.encode()) + size + len(tail)
    request = (f"POST /legacy/ HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
               f"Authorization: {basic_auth(user)}\r\n"
               f"Content-Type: multipart/form-data; boundary={boundary}\r\n"
               f"Content-Length: {length}\r\nConnection: close\r\n\r\n{head}").encode()
    with socket.create_connection(("127.0.0.1", port), timeout=600) as sock, \
            open(wheel, "rb") as f:
        started = time.perf_counter()
        sock.sendall(request)
        sock.sendfile(f)
        sock.sendall(tail)
        answer = b""
        while b"\r\n" not in answer:
            chunk = sock.recv(4096)
            if not chunk:
                break
            answer += chunk
        seconds = time.perf_counter() - started
    try:
        status = int(answer.split(b" ", 2)[1])
    except (IndexError, ValueError):
        status = 0
    return status, seconds, answer.split(b"\r\n", 1)[0].decode(errors="replace")


# ---------------------------------------------------------------------------------------------
# Report


def machine_info(args):
    def cmd(*argv):
        try:
            res = subprocess.run(argv, capture_output=True, text=True, timeout=10)
            return (res.stdout + res.stderr).strip()
        except OSError:
            return ""

    cpu = ""
    for line in cmd("lscpu").splitlines():
        if line.startswith("Model name:"):
            cpu = line.split(":", 1)[1].strip()
    mem_kib = 0
    with open("/proc/meminfo") as f:
        for line in f:
            if line.startswith("MemTotal:"):
                mem_kib = int(line.split()[1])
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    return {
        "cpu": cpu or platform.processor(),
        "cores": os.cpu_count(),
        "ram_gib": round(mem_kib / (1 << 20), 1),
        "kernel": platform.release(),
        "os": cmd("sh", "-c", ". /etc/os-release && echo $PRETTY_NAME"),
        "nginx": cmd(nginx, "-v").replace("nginx version: ", ""),
        "wrk": cmd("wrk", "--version").splitlines()[0].split(" [")[0] if shutil.which("wrk")
        else "",
        "twine": cmd("twine", "--version").split("(")[0].strip(),
        "pydepot": cmd(str(args.binary), "version"),
        "commit": git_commit(),
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "loadavg_start": load_average(),
    }


def load_average():
    """The 1, 5 and 15 minute load averages: how busy the machine was besides the benchmark."""
    try:
        return " ".join(Path("/proc/loadavg").read_text().split()[:3])
    except OSError:
        return "?"


def git_commit():
    """The checked-out commit, read from .git without running git."""
    git = ROOT / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head[:12]
        ref = head[5:]
        ref_file = git / ref
        if ref_file.exists():
            return ref_file.read_text().strip()[:12] + f" ({ref.rsplit('/', 1)[-1]})"
        packed = git / "packed-refs"
        if packed.exists():
            for line in packed.read_text().splitlines():
                if line.endswith(" " + ref):
                    return line.split()[0][:12] + f" ({ref.rsplit('/', 1)[-1]})"
    except OSError:
        pass
    return "unknown"


def verdict(ok):
    return "PASS" if ok else "FAIL"


def summary_rows(results):
    """(label, measured text, target text, ok, fraction for the chart, higher_is_better)."""
    rows = []
    for s in results["scenarios"]:
        if s["target"] is not None:
            rows.append((s["title"], f"{s['ratio']:.2f} of nginx", f">= {s['target']}",
                         s["ratio"] >= s["target"], s["ratio"], s["target"], "ratio"))
    p99 = next((s for s in results["scenarios"] if s["key"] == "page_p99_256"), None)
    if p99:
        v = p99["servers"]["pydepot"]["p99_ms"]
        ref = p99["servers"]["nginx"]["p99_ms"]
        rows.append(("p99, 256 connections (ms)", f"{v:.2f} ms (nginx {ref:.2f} ms)",
                     "<= 10 ms", v <= 10, v, 10, "limit"))
    if "upload" in results:
        u = results["upload"]
        growth = u["rss_growth_kib"] / 1024
        rows.append(("Upload: RSS growth (MiB)", f"{growth:.1f} MiB", "<= 64 MiB", growth <= 64,
                     growth, 64, "limit"))
        if u["server_seconds"]:
            mibps = u["bytes"] / MIB / u["server_seconds"]
            rows.append(("Upload via twine, server side, / 300 MiB/s", f"{mibps:.0f} MiB/s",
                         ">= 300 MiB/s", mibps >= 300, mibps / 300, 1.0, "ratio"))
        if "raw" in u:
            mibps = u["bytes"] / MIB / u["raw"]["seconds"]
            rows.append(("Upload, raw sendfile client, / 300 MiB/s", f"{mibps:.0f} MiB/s",
                         ">= 300 MiB/s", mibps >= 300, mibps / 300, 1.0, "ratio"))
    if "cold_start" in results:
        for kind, label in (("anonymous", "Cold start, anonymous (ms)"),
                            ("api_token", "Cold start, API token (ms)"),
                            ("basic_auth", "Cold start, password (ms)")):
            if kind not in results["cold_start"]["median_ms"]:
                continue
            v = results["cold_start"]["median_ms"][kind]
            rows.append((label, f"{v:.1f} ms", "<= 50 ms", v <= 50, v, 50, "limit"))
    if "idle_rss_kib" in results:
        v = results["idle_rss_kib"]["large"] / 1024
        rows.append(("Idle memory (MiB)", f"{v:.1f} MiB", "<= 20 MiB", v <= 20, v, 20, "limit"))
    if "memory_all_pages" in results:
        v = results["memory_all_pages"]["rss_kib"] / 1024
        rows.append((f"Memory, {results['memory_all_pages']['projects']} projects served (MiB)",
                     f"{v:.0f} MiB", "<= 300 MiB", v <= 300, v, 300, "limit"))
    return rows


def svg_escape(text):
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def write_svg(path, results):
    """Two panels of horizontal bars: pydepot/nginx ratios with each target as a line (higher
    is better), and measured/limit for the absolute targets (lower is better, line at 1)."""
    rows = summary_rows(results)
    ratios = [r for r in rows if r[6] == "ratio"]
    limits = [r for r in rows if r[6] == "limit"]
    width, label_w, bar_w, row_h = 1080, 300, 440, 26
    height = 40 + (34 + row_h * len(ratios) if ratios else 0) + \
        (34 + row_h * len(limits) if limits else 0) + 24
    out = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" font-family="sans-serif" font-size="12">',
           f'<rect width="{width}" height="{height}" fill="white"/>',
           f'<text x="10" y="22" font-size="15" font-weight="bold">pydepot benchmark, '
           f'{svg_escape(results["profile"])} run, {svg_escape(results["machine"]["date"])}, '
           f'commit {svg_escape(results["machine"]["commit"])}</text>']
    y = 48

    def panel(title, items, scale_max, fraction, target_at, reference=None):
        nonlocal y
        out.append(f'<text x="10" y="{y}" font-weight="bold">{svg_escape(title)}</text>')
        top = y + 8
        y += 10
        for label, measured, goal, ok, value, target, _ in items:
            frac = max(0.0, min(fraction(value, target) / scale_max, 1.0))
            color = "#3a8f3a" if ok else "#c0392b"
            out.append(f'<text x="10" y="{y + 16}">{svg_escape(label)}</text>')
            out.append(f'<rect x="{label_w}" y="{y + 4}" width="{bar_w}" height="16" '
                       f'fill="#eeeeee"/>')
            out.append(f'<rect x="{label_w}" y="{y + 4}" width="{frac * bar_w:.1f}" height="16" '
                       f'fill="{color}"/>')
            tx = label_w + min(target_at(target) / scale_max, 1.0) * bar_w
            out.append(f'<line x1="{tx:.1f}" y1="{y + 1}" x2="{tx:.1f}" y2="{y + 23}" '
                       f'stroke="black" stroke-width="2"/>')
            out.append(f'<text x="{label_w + bar_w + 10}" y="{y + 16}">'
                       f'{svg_escape(measured)} ({svg_escape(goal)}) {verdict(ok)}</text>')
            y += row_h
        if reference is not None:
            rx = label_w + reference / scale_max * bar_w
            out.append(f'<line x1="{rx:.1f}" y1="{top}" x2="{rx:.1f}" y2="{y + 2}" '
                       f'stroke="#888888" stroke-dasharray="3,3"/>')
            out.append(f'<text x="{rx:.1f}" y="{y + 14}" text-anchor="middle" fill="#555555">'
                       f'{reference:g}</text>')
        y += 24

    if ratios:
        top = max([1.5] + [r[4] / r[5] * 1.05 if r[5] == 1.0 else r[4] * 1.05 for r in ratios])
        panel("pydepot / nginx (bar) and target (black line), higher is better; dashed: equal",
              ratios, top, lambda v, t: v, lambda t: t, reference=1.0)
    if limits:
        panel("measured / limit (bar), limit (black line), lower is better", limits, 2.0,
              lambda v, t: v / t, lambda t: 1.0)
    out.append("</svg>")
    Path(path).write_text("\n".join(out) + "\n")


def fmt(value, unit):
    return f"{value:,.0f}" if unit == "req/s" or value >= 100 else f"{value:,.1f}"


def write_report(path, results, svg_name):
    m = results["machine"]
    warmup = (f"after a {results['settings']['warmup']} s warm-up"
              if results["settings"]["warmup"] else "no warm-up")
    lines = [
        "# pydepot benchmark report",
        "",
        f"Written by `bench/run.sh` ({results['profile']} profile) on {m['date']}. "
        "Numbers are from one run on one machine: compare ratios, not absolute values, across "
        "machines. How it is measured: [bench/README.md](README.md).",
        "",
        "## Machine",
        "",
        "| | |",
        "|---|---|",
        f"| CPU | {m['cpu']}, {m['cores']} cores (shared by wrk, the server under test and "
        "anything else running) |",
        f"| RAM | {m['ram_gib']} GiB |",
        f"| OS / kernel | {m['os']} / {m['kernel']} |",
        f"| nginx | {m['nginx']} |",
        f"| wrk | {m['wrk']} |",
        f"| twine | {m['twine']} |",
        f"| pydepot | {m['pydepot']}, commit {m['commit']} (HEAD of the checkout; uncommitted "
        "changes in the working tree are not visible here) |",
        f"| load average (1/5/15 min) | {m['loadavg_start']} at the start, "
        f"{m.get('loadavg_end', '?')} at the end (the benchmark itself adds about 2) |",
        "",
        "## Command",
        "",
        f"    {results['command']}",
        "",
        f"- wrk: `-t{results['settings']['wrk_threads']}`, {results['settings']['connections']} "
        f"connections unless a scenario says otherwise, {results['settings']['rounds']} rounds "
        f"of {results['settings']['duration']} s per server ("
        f"{warmup}), servers alternated p,n / n,p; the tables show the median round "
        "(latencies: the median of the rounds' percentiles) and the ratio is the median of the "
        "rounds' ratios.",
        f"- pydepot: `{results.get('pydepot_command', '')}` "
        f"({results['settings']['pydepot_threads']}).",
        *(["- **pydepot ran with SIGPIPE ignored (`--ignore-sigpipe`)**: without it, it dies "
           "when a client closes a connection during a download (wrk does at the end of "
           "every run)."] if results["settings"].get("ignore_sigpipe") else []),
        f"- nginx: `worker_processes {results['settings']['workers']}`, sendfile, keepalive, "
        "`open_file_cache`, `gzip_static on`, access_log off (the generated config is in "
        "results.json).",
    ]
    if results["generated"]:
        gen = ", ".join(f"{label} in {secs:.0f} s" for label, secs in results["generated"])
        lines.append(f"- repositories generated in this run (cached for the next): {gen}.")
    lines.append(f"- total time: {results['seconds']:.0f} s.")
    lines += ["", "## Summary", "", "| target | measured | goal | result |", "|---|---|---|---|"]
    for label, measured, goal, ok, *_ in summary_rows(results):
        lines.append(f"| {label} | {measured} | {goal} | {verdict(ok)} |")
    lines += ["", f"![pydepot / nginx ratios and limits]({svg_name})", "", "## Scenarios", ""]
    for s in results["scenarios"]:
        unit = s["unit"]
        lines += [f"### {s['title']}", "", s["description"] + ".", ""]
        if s["note"]:
            lines += [s["note"] + ".", ""]
        lines += [f"| server | {unit} | p50 ms | p99 ms | rounds ({unit}) | socket errors |",
                  "|---|---:|---:|---:|---|---:|"]
        for label, t in s["servers"].items():
            rounds = ", ".join(fmt(v, unit) for v in t["rounds"])
            lines.append(f"| {label} | {fmt(t['value'], unit)} | {t['p50_ms']:.2f} | "
                         f"{t['p99_ms']:.2f} | {rounds} | {t['errors']} |")
        lines.append("")
        ratios = ", ".join(f"{r:.2f}" for r in s["round_ratios"])
        if s["target"] is not None:
            lines.append(f"Ratio pydepot/nginx: **{s['ratio']:.2f}** (target >= {s['target']}): "
                         f"**{verdict(s['ratio'] >= s['target'])}**. Rounds: {ratios}.")
        elif s["key"] == "page_p99_256":
            p99 = s["servers"]["pydepot"]["p99_ms"]
            lines.append(f"Ratio pydepot/nginx (req/s): {s['ratio']:.2f} (rounds: {ratios}). "
                         "pydepot p99: "
                         f"**{p99:.2f} ms** (target <= 10 ms): **{verdict(p99 <= 10)}**.")
        if "nginx auth_basic {SSHA}" in s["servers"]:
            ref = s["servers"]["nginx auth_basic {SSHA}"]["value"]
            mine = s["servers"]["pydepot (auth)"]["value"]
            lines.append(f"Against nginx with auth_basic: {mine / ref:.2f}." if ref else "")
        lines.append("")
    if "upload" in results:
        u = results["upload"]
        mib = u["bytes"] / MIB
        lines += ["### Upload through twine", "",
                  f"One wheel of {u['bytes']} bytes ({mib:.0f} MiB: METADATA, WHEEL, RECORD and "
                  "one stored member of incompressible bytes) uploaded with `twine upload` to a "
                  "fresh storage; the server's VmRSS sampled every 20 ms "
                  f"({u['samples']} samples).", "",
                  "| | |", "|---|---|",
                  f"| twine, end to end (includes twine hashing the file before sending) | "
                  f"{u['twine_seconds']:.2f} s, {mib / u['twine_seconds']:.0f} MiB/s |"]
        if u["server_seconds"]:
            lines.append(f"| server side (body starts arriving to answer received) | "
                         f"{u['server_seconds']:.2f} s, {mib / u['server_seconds']:.0f} MiB/s |")
        else:
            lines.append("| server side | not measured: the server's file I/O never grew "
                         "(does it spool the body to a file?) |")
        lines.append(f"| server file I/O during the upload (read(2) / write(2) calls) | "
                     f"{u['server_read_bytes'] / MIB:.0f} MiB read, "
                     f"{u['server_written_bytes'] / MIB:.0f} MiB written |")
        lines += [f"| server RSS before / peak / growth | {u['rss_baseline_kib'] / 1024:.1f} / "
                  f"{u['rss_peak_kib'] / 1024:.1f} / **{u['rss_growth_kib'] / 1024:.1f} MiB** |"]
        for kind, what in (("null", "reads the body and drops it"),
                           ("store", "also computes sha256, md5 and blake2b-256 (the three "
                            "digests twine sends, which UP-05 requires to match) and writes the "
                            "body to a file, fsynced before the answer")):
            if kind in u.get("sink", {}):
                k = u["sink"][kind]
                lines.append(f"| reference: twine into a one-thread Python receiver that {what} "
                             f"(its own time, head to answer) | {k['seconds']:.2f} s, "
                             f"{mib / k['seconds']:.0f} MiB/s |")
        if "raw" in u:
            r = u["raw"]
            lines.append(f"| the same file from a raw client (multipart head, then the file "
                         f"with sendfile), to a fresh storage | {r['seconds']:.2f} s, "
                         f"{mib / r['seconds']:.0f} MiB/s, RSS growth "
                         f"{r['rss_growth_kib'] / 1024:.1f} MiB |")
        if u["server_seconds"] and "sink" in u:
            sink = u["sink"]
            lines.append(f"| pydepot's server side against the two references | "
                         f"{sink['null']['seconds'] / u['server_seconds']:.2f} of the null "
                         f"receiver's speed, {sink['store']['seconds'] / u['server_seconds']:.2f} "
                         "of the verifying and storing one's |")
        lines += [
                  f"| before that, the first request with a password (one argon2id check): "
                  f"RSS {u['rss_fresh_kib'] / 1024:.1f} MiB, peak "
                  f"{u['rss_first_auth_peak_kib'] / 1024:.1f} MiB | (not counted) |",
                  "", "The throughput target is judged on the server-side time of the twine "
                  "upload (twine's own sending speed included) and, separately, on the raw "
                  "client's; the memory target on the growth during the twine upload, after one "
                  "authenticated request warmed the credential cache.", ""]
    if "cold_start" in results:
        c = results["cold_start"]
        lines += ["### Cold start", "",
                  f"From exec of `pydepot serve` to the first 200 on `{c['path']}` with "
                  f"{c['projects']} projects stored (a raw-socket GET retried in a tight loop; "
                  "the page cache of the OS is warm). Median of "
                  f"{len(c['runs_ms']['anonymous'])} starts.", "",
                  "| | median ms | runs ms |", "|---|---:|---|"]
        for kind, label in (("anonymous", "anonymous, `--public-read`"),
                            ("api_token", "API token (SHA-256 check on the first request)"),
                            ("basic_auth", "password (argon2id check on the first request)")):
            if kind not in c["runs_ms"]:
                continue
            runs = ", ".join(f"{v:.1f}" for v in c["runs_ms"][kind])
            lines.append(f"| {label} | {c['median_ms'][kind]:.1f} | {runs} |")
        lines.append("")
    if "idle_rss_kib" in results:
        i = results["idle_rss_kib"]
        lines += ["### Memory", "", "| | VmRSS |", "|---|---:|",
                  f"| fresh server, empty storage | {i['empty'] / 1024:.1f} MiB |",
                  f"| fresh server, {results['idle_projects']} projects stored, no request yet "
                  f"(the idle figure) | {i['large'] / 1024:.1f} MiB |"]
        if "memory_all_pages" in results:
            a = results["memory_all_pages"]
            lines.append(f"| after `/simple/` and all {a['projects']} project pages once | "
                         f"{a['rss_kib'] / 1024:.1f} MiB |")
            lines += ["", f"Serving every project page once (first renders) took "
                      f"{a['seconds']:.1f} s ({a['pages_per_second']:.0f} pages/s, one Python "
                      "client, 4 connections)."]
        lines.append("")
    lines += ["MiB and MiB/s throughout (the issue's MB are read as MiB).", ""]
    Path(path).write_text("\n".join(lines))


# ---------------------------------------------------------------------------------------------


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--build", default="build", help="CMake build directory (Release)")
    parser.add_argument("--smoke", action="store_true", help="short end-to-end check")
    parser.add_argument("--out", help="where REPORT.md, report.svg and results.json go "
                        "(default: bench/ for the full run, a temp dir for --smoke)")
    parser.add_argument("--cache", default=str(HERE / ".cache"), help="generated repositories")
    parser.add_argument("--threads", type=int, default=0,
                        help="pydepot --threads (default: pydepot's own default)")
    parser.add_argument("--wrk-threads", type=int, default=2)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--duration", type=int, help="seconds per wrk run")
    parser.add_argument("--rounds", type=int, help="rounds per scenario")
    parser.add_argument("--only", default="pages,roots,memory,upload",
                        help="comma-separated groups to run: pages, roots, memory, upload")
    parser.add_argument("--keep", action="store_true", help="keep the work directory")
    parser.add_argument("--render", metavar="RESULTS_JSON",
                        help="only rewrite REPORT.md and report.svg from a results.json (into "
                        "--out, default: the directory of RESULTS_JSON)")
    parser.add_argument("--ignore-sigpipe", action="store_true",
                        help="start pydepot with SIGPIPE ignored (a workaround for a server that "
                        "dies when a client closes a connection mid-answer; said in the report)")
    args = parser.parse_args()

    if args.render:
        source = Path(args.render)
        out = Path(args.out) if args.out else source.parent
        results = json.loads(source.read_text())
        write_svg(out / "report.svg", results)
        write_report(out / "REPORT.md", results, "report.svg")
        return
    args.build = Path(args.build).resolve()
    args.binary = args.build / "pydepot"
    args.gen = args.build / "bench" / "pydepot_bench_gen"
    for tool in (args.binary, args.gen):
        if not tool.exists():
            sys.exit(f"bench: {tool} is missing; build first (bench/run.sh does)")
    for tool in ("wrk", "twine"):
        if not shutil.which(tool):
            sys.exit(f"bench: {tool} is missing; run scripts/deps.sh bench")
    if not (shutil.which("nginx") or Path("/usr/sbin/nginx").exists()):
        sys.exit("bench: nginx is missing; run scripts/deps.sh bench")
    args.cache = Path(args.cache).resolve()
    global IGNORE_SIGPIPE
    IGNORE_SIGPIPE = args.ignore_sigpipe
    args.profile = dict(SMOKE if args.smoke else FULL)
    if args.duration:
        args.profile["duration"] = args.duration
    if args.rounds:
        args.profile["rounds"] = args.rounds
    args.workers = os.cpu_count() or 1
    args.pydepot_args = ["--threads", str(args.threads)] if args.threads else []
    args.generated = []
    groups = set(args.only.split(","))

    work = Path(tempfile.mkdtemp(prefix="pydepot-bench-"))
    out = Path(args.out) if args.out else (work / "report" if args.smoke else HERE)
    out.mkdir(parents=True, exist_ok=True)
    results = {
        "profile": "smoke" if args.smoke else "full",
        "command": shlex.join(["bench/run.sh", *sys.argv[1:]]),
        "settings": {
            "wrk_threads": args.wrk_threads, "connections": args.connections,
            "rounds": args.profile["rounds"], "duration": args.profile["duration"],
            "warmup": args.profile["warmup"], "workers": args.workers,
            "pydepot_threads": f"--threads {args.threads}" if args.threads else
            "pydepot's default threads",
            "ignore_sigpipe": args.ignore_sigpipe,
        },
        "scenarios": [], "root_gzip": {}, "generated": args.generated,
    }
    if os.environ.get("BENCH_COMMAND"):
        results["command"] = os.environ["BENCH_COMMAND"]

    def on_signal(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, on_signal)
    started = time.monotonic()
    failed = None
    try:
        results["machine"] = machine_info(args)
        if results["machine"]["loadavg_start"].split()[0].replace(".", "", 1).isdigit() and \
                float(results["machine"]["loadavg_start"].split()[0]) > 1.0:
            log(f"warning: load average {results['machine']['loadavg_start']}: other work "
                "shares the cores, expect noisy numbers")
        if "pages" in groups:
            pages_group(args, results, work)
        if "roots" in groups:
            for label, projects, big in args.profile["roots"]:
                root_group(args, results, work, label, projects, big)
        if "memory" in groups:
            memory_group(args, results, work)
        if "upload" in groups:
            upload_group(args, results, work)
    except (BenchError, subprocess.SubprocessError, OSError, KeyboardInterrupt) as e:
        failed = e
    finally:
        stop_all()
    results["seconds"] = time.monotonic() - started
    if "machine" in results:
        results["machine"]["loadavg_end"] = load_average()
    if failed is not None:
        print(f"bench: FAILED: {failed}", file=sys.stderr)
        print(f"bench: work directory kept: {work}", file=sys.stderr)
        sys.exit(1)

    (out / "results.json").write_text(json.dumps(results, indent=1, default=str) + "\n")
    write_svg(out / "report.svg", results)
    write_report(out / "REPORT.md", results, "report.svg")
    if args.smoke:
        check_smoke(out, results)
    if args.keep:
        log(f"work directory kept: {work}")
    else:
        shutil.rmtree(work, ignore_errors=True)
    if out.is_relative_to(work) and not args.keep:
        log(f"done in {results['seconds']:.0f} s; the smoke report was checked and removed "
            "(--out DIR keeps it)")
    else:
        log(f"done in {results['seconds']:.0f} s: {out / 'REPORT.md'}")
    for label, measured, goal, ok, *_ in summary_rows(results):
        print(f"  {verdict(ok)}  {label}: {measured} ({goal})")


def check_smoke(out, results):
    """The smoke run's structural checks: every scenario ran and gave numbers, the files exist."""
    wanted = {"page_html", "page_json", "page_html_auth", "page_json_auth", "page_p99_256",
              "download_1m", "download_100m", "root_smoke"}
    got = {s["key"] for s in results["scenarios"]}
    problems = [f"scenario {k} missing" for k in sorted(wanted - got)]
    for s in results["scenarios"]:
        for label, t in s["servers"].items():
            if not (t["value"] > 0 and t["p50_ms"] > 0 and t["p99_ms"] >= t["p50_ms"]):
                problems.append(f"{s['key']} {label}: implausible numbers {t}")
    for key in ("upload", "cold_start", "idle_rss_kib", "memory_all_pages"):
        if key not in results:
            problems.append(f"{key} missing")
    report = (out / "REPORT.md").read_text()
    svg = (out / "report.svg").read_text()
    if "## Summary" not in report or "report.svg" not in report:
        problems.append("REPORT.md incomplete")
    if not svg.startswith("<svg") or "</svg>" not in svg:
        problems.append("report.svg malformed")
    if problems:
        print("bench smoke: " + "; ".join(problems), file=sys.stderr)
        sys.exit(1)
    log("smoke checks passed (structure only; timings are not tests)")


if __name__ == "__main__":
    main()
