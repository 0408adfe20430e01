"""Deployment: the Dockerfile's runtime stage against what the binary links, PORT, the
configuration layers (TOML file < environment < flags) on a running server, `pydepot config
check`, and the files under deploy/ (docs/deploy.md).

Docker is not needed: the runtime stage is checked by reading the Dockerfile and asking dpkg
and apt-cache about this machine's libraries (Debian 12, like the image)."""

import json
import os
import pathlib
import re
import shutil
import socket
import subprocess
import tomllib

import pytest
import requests

from conftest import PYDEPOT, ROOT, run

DOCKERFILE = ROOT / "Dockerfile"
DEPLOY = ROOT / "deploy"

# Part of every Debian image (libc6, libgcc-s1, libstdc++6) or the sanitizers' runtimes.
BASE_LIBS = ("linux-vdso", "ld-linux", "libc.so", "libm.so", "libstdc++.so", "libgcc_s.so",
             "libpthread.so", "libdl.so", "librt.so", "libasan.so", "libubsan.so", "libtsan.so")


def clean_env(**extra):
    """The environment without any setting of serve's (PYDEPOT_*) or PORT."""
    env = {k: v for k, v in os.environ.items()
           if k != "PORT" and not (k.startswith("PYDEPOT_") and k != "PYDEPOT_BIN")}
    env.update(extra)
    return env


def free_port(host="127.0.0.1"):
    with socket.socket() as s:
        s.bind((host, 0))
        return s.getsockname()[1]


# ---- the Dockerfile ----

def dockerfile_stages():
    """[(FROM line, [instructions])], continuation lines joined, comments dropped."""
    lines, current = [], ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if not current and (not stripped or stripped.startswith("#")):
            continue
        if stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            current += stripped[:-1] + " "
            continue
        lines.append(current + stripped)
        current = ""
    stages = []
    for line in lines:
        if line.upper().startswith("FROM "):
            stages.append((line, []))
        elif stages:
            stages[-1][1].append(line)
    return stages


def runtime_packages(instructions):
    """The packages `apt-get install` names in the stage's RUN instructions."""
    packages = []
    for line in instructions:
        if not line.upper().startswith("RUN "):
            continue
        for command in re.split(r"&&|;", line):
            words = command.split()
            if "apt-get" in words and "install" in words:
                for word in words[words.index("install") + 1:]:
                    if not word.startswith("-"):
                        packages.append(word)
    return packages


def owner_package(path):
    """The Debian package that installed `path` (usrmerge: /lib and /usr/lib alike)."""
    real = os.path.realpath(path)
    candidates = []
    for p in (path, real):
        candidates.append(p)
        candidates.append(p[4:] if p.startswith("/usr/") else "/usr" + p)
    for candidate in candidates:
        res = run(["dpkg", "-S", candidate])
        if res.returncode == 0:
            return res.stdout.split(":", 1)[0].split(",")[0].strip()
    return None


def linked_libraries(binary):
    """{soname: resolved path} of every library ldd resolves (not the base ones)."""
    res = run(["ldd", binary])
    assert res.returncode == 0, res.stderr
    libs = {}
    for line in res.stdout.splitlines():
        line = line.strip()
        m = re.match(r"(\S+) => (\S+) \(", line) or re.match(r"(/\S+) \(", line)
        if not m:
            assert "not found" not in line, "ldd: " + line
            continue
        name = m.group(1)
        path = m.group(2) if m.lastindex == 2 else m.group(1)
        if any(os.path.basename(name).startswith(base) for base in BASE_LIBS):
            continue
        libs[name] = path
    return libs


def test_runtime_stage_has_every_library_the_binary_needs():
    if not all(shutil.which(tool) for tool in ("ldd", "dpkg", "apt-cache")):
        pytest.skip("needs ldd, dpkg and apt-cache (Debian)")
    stages = dockerfile_stages()
    assert len(stages) >= 2, "a multi-stage Dockerfile"
    runtime_from, runtime = stages[-1]
    assert runtime_from.split()[1] == "debian:12-slim", runtime_from
    packages = runtime_packages(runtime)
    assert packages, "the runtime stage installs its libraries with apt-get install"
    assert "ca-certificates" in packages, "TLS to S3, GCS and upstreams needs the CA bundle"
    closure = set()
    res = run(["apt-cache", "depends", "--recurse", "--installed", "--no-recommends",
               "--no-suggests", "--no-conflicts", "--no-breaks", "--no-replaces",
               "--no-enhances", *packages])
    assert res.returncode == 0, res.stderr
    for line in res.stdout.splitlines():
        if line and not line[0].isspace():
            closure.add(line.strip().split(":")[0])
    missing = []
    for name, path in linked_libraries(PYDEPOT).items():
        owner = owner_package(path)
        if owner is None:
            missing.append("%s (%s) is not from a Debian package" % (name, path))
        elif owner.split(":")[0] not in closure:
            missing.append("%s (%s) is in %s, which the runtime stage does not install"
                           % (name, path, owner))
    assert not missing, "\n".join(missing)


def test_runtime_stage_runs_as_non_root_with_port():
    stages = dockerfile_stages()
    build = " ".join(stages[0][1])
    assert "-DPYDEPOT_BUILD_TESTS=OFF" in build and "--target pydepot" in build
    runtime = stages[-1][1]
    users = [line.split(None, 1)[1].strip() for line in runtime if line.upper().startswith("USER ")]
    assert users, "the runtime stage sets USER"
    user = users[-1].split(":")[0]
    assert user not in ("root", "0"), users
    assert "ENV PORT=8080" in runtime
    assert "EXPOSE 8080" in runtime
    assert 'ENTRYPOINT ["/usr/local/bin/pydepot", "serve"]' in runtime
    packages = runtime_packages(runtime)
    if not {"curl", "wget"} & set(packages):
        assert not any(line.upper().startswith("HEALTHCHECK") for line in runtime), (
            "a HEALTHCHECK needs curl or wget in the image")
    ignore = (ROOT / ".dockerignore").read_text().split()
    for entry in (".git", "build", "bench/.cache", "tests/browser/artifacts"):
        assert entry in ignore, entry


# ---- PORT and the configuration layers on a running server ----

class Serve:
    """`pydepot serve ARGS` with the environment given; `first_line` is its first line."""

    def __init__(self, args, env):
        self.proc = subprocess.Popen([PYDEPOT, "serve", *args], stdout=subprocess.PIPE,
                                     stderr=subprocess.PIPE, text=True, env=env)
        self.first_line = self.proc.stdout.readline().strip()
        if not self.first_line.startswith("listening on http://"):
            self.stop()
            raise AssertionError("pydepot did not start: %r %s"
                                 % (self.first_line, self.proc.stderr.read()))
        self.port = int(self.first_line.rsplit(":", 1)[1])

    def stop(self):
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.proc.stdout.close()
        self.proc.stderr.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.stop()


def anonymous_status(port):
    return requests.get("http://127.0.0.1:%d/simple/" % port, timeout=30,
                        allow_redirects=False).status_code


def test_port_gives_the_listen_address(tmp_path):
    port = free_port("0.0.0.0")
    with Serve(["--storage", str(tmp_path / "store")], clean_env(PORT=str(port))) as srv:
        assert srv.first_line == "listening on http://0.0.0.0:%d" % port
        assert anonymous_status(port) == 401  # it answers (and wants credentials)


def test_file_then_environment_then_flags(tmp_path):
    store = tmp_path / "store"
    file_port = free_port()
    config = tmp_path / "pydepot.toml"
    config.write_text('storage = "%s"\nlisten = "127.0.0.1:%d"\npublic-read = true\n'
                      % (store, file_port))
    # The file alone (named by PYDEPOT_CONFIG; PORT loses to a listen address given anywhere).
    env = clean_env(PYDEPOT_CONFIG=str(config), PORT=str(free_port()))
    with Serve([], env) as srv:
        assert srv.port == file_port
        assert anonymous_status(srv.port) == 200
    # The environment over the file.
    env.update(PYDEPOT_LISTEN="127.0.0.1:0", PYDEPOT_PUBLIC_READ="false")
    with Serve(["--config", str(config)], env) as srv:
        assert srv.port != file_port
        assert anonymous_status(srv.port) == 401
    # Flags over both.
    flag_port = free_port()
    with Serve(["--listen", "127.0.0.1:%d" % flag_port, "--public-read"], env) as srv:
        assert srv.port == flag_port
        assert anonymous_status(srv.port) == 200


def test_serve_refuses_an_unknown_key(tmp_path):
    config = tmp_path / "bad.toml"
    config.write_text('storage = "%s"\npublic_read = true\n' % (tmp_path / "store"))
    res = run([PYDEPOT, "serve", "--config", str(config)], env=clean_env(), timeout=30)
    assert res.returncode == 2
    assert "config file %s, line 2: public_read: unknown key" % config in res.stderr


# ---- pydepot config check ----

def test_config_check_good(tmp_path):
    config = tmp_path / "pydepot.toml"
    config.write_text('[serve]\nstorage = "%s"\nlisten = "127.0.0.1:8080"\n'
                      'trusted-proxy = ["10.0.0.1", "10.0.0.2"]\n' % (tmp_path / "store"))
    env = clean_env(PYDEPOT_PUBLIC_READ="true", PYDEPOT_UPSTREAM="https://pypi.org/simple/",
                    PYDEPOT_UPSTREAM_USER="mirror", PYDEPOT_UPSTREAM_PASSWORD="s3cr3t-pw")
    res = run([PYDEPOT, "config", "check", "--config", str(config), "--cache-ttl-ms", "500"],
              env=env, timeout=60)
    assert res.returncode == 0, res.stdout + res.stderr
    out = res.stdout
    assert re.search(r"storage\s+= \S+/store  \(file\)", out), out
    assert re.search(r"trusted-proxy\s+= 10.0.0.1, 10.0.0.2  \(file\)", out), out
    assert re.search(r"public-read\s+= true  \(env PYDEPOT_PUBLIC_READ\)", out), out
    assert re.search(r"cache-ttl-ms\s+= 500  \(flag\)", out), out
    assert re.search(r"body-timeout\s+= 120  \(default\)", out), out
    assert "PYDEPOT_UPSTREAM_PASSWORD = (set)" in out
    assert "s3cr3t" not in out + res.stderr
    assert out.rstrip().endswith("configuration ok")
    assert res.stderr == ""


def test_config_check_bad(tmp_path):
    not_a_dir = tmp_path / "file"
    not_a_dir.write_text("x")
    config = tmp_path / "pydepot.toml"
    config.write_text('storage = "%s"\nlisten = "0.0.0.0"\nupstream = "ftp://example.com/"\n'
                      'temp-dir = "%s"\nidle-timeout = 0\nlisten-address = "x"\n'
                      % (tmp_path / "store", not_a_dir))
    res = run([PYDEPOT, "config", "check", "--config", str(config)], env=clean_env(), timeout=60)
    assert res.returncode == 1, res.stdout + res.stderr
    problems = res.stderr.splitlines()
    expected = ["listen-address: unknown key",
                "idle-timeout: '0' (file) is not valid",
                "listen: '0.0.0.0' (file) is not HOST:PORT",
                "temp-dir: %s is not a directory" % not_a_dir,
                "upstream: 'ftp://example.com/' (file) is not an http:// or https:// URL"]
    for phrase in expected:
        assert any(phrase in p for p in problems), (phrase, problems)
    assert len(problems) == len(expected), problems
    assert "%d problems" % len(expected) in res.stdout

    # A store that cannot be reached: an S3 endpoint where nothing listens.
    env = clean_env(AWS_ENDPOINT_URL="http://127.0.0.1:%d" % free_port(),
                    AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
                    AWS_REGION="us-east-1", AWS_MAX_ATTEMPTS="1")
    res = run([PYDEPOT, "config", "check", "--storage", "s3://bucket/prefix"], env=env,
              timeout=120)
    assert res.returncode == 1, res.stdout + res.stderr
    assert res.stderr.startswith("storage: cannot reach s3://bucket/prefix: "), res.stderr

    # Usage errors.
    res = run([PYDEPOT, "config", "check", "--no-such-flag"], env=clean_env())
    assert res.returncode == 2


# ---- deploy/ ----

def test_example_config_has_every_key_and_check_accepts_it(tmp_path):
    example = (DEPLOY / "pydepot.example.toml").read_text()
    # Every commented-out setting, uncommented, is a valid file.
    lines = [re.sub(r"^#\s?(?=[a-z-]+ = )", "", line) for line in example.splitlines()]
    text = "\n".join(lines)
    settings = tomllib.loads(text)
    help_text = run([PYDEPOT, "serve", "--help"]).stdout
    flags = set(re.findall(r"^\s+--([a-z][a-z0-9-]*)", help_text, re.M)) - {"help", "config"}
    keys = set(settings) | set(settings.get("serve", {}))
    assert flags <= keys, "not in deploy/pydepot.example.toml: %s" % sorted(flags - keys)
    # Local paths of the example replaced by this test's.
    text = text.replace("/var/lib/pydepot/data", str(tmp_path / "store"))
    text = text.replace("/var/lib/pydepot/tmp", str(tmp_path / "tmp"))
    (tmp_path / "all.toml").write_text(text)
    res = run([PYDEPOT, "config", "check", "--config", str(tmp_path / "all.toml")],
              env=clean_env())
    assert "unknown key" not in res.stderr, res.stderr
    assert "is not valid" not in res.stderr, res.stderr


def test_deploy_files_parse():
    yaml = pytest.importorskip("yaml")
    service = yaml.safe_load((DEPLOY / "cloudrun" / "service.yaml").read_text())
    container = service["spec"]["template"]["spec"]["containers"][0]
    env = {e["name"]: e.get("value") for e in container["env"]}
    assert env["PYDEPOT_STORAGE"].startswith("gs://")
    assert service["spec"]["template"]["spec"]["serviceAccountName"]
    app = yaml.safe_load((DEPLOY / "appengine" / "app.yaml").read_text())
    assert app["runtime"] == "custom" and app["env"] == "flex"
    assert app["env_variables"]["PYDEPOT_STORAGE"].startswith("gs://")
    assert app["service_account"]
    apprunner = json.loads((DEPLOY / "aws" / "apprunner-service.json").read_text())
    image = apprunner["SourceConfiguration"]["ImageRepository"]["ImageConfiguration"]
    assert image["RuntimeEnvironmentVariables"]["PYDEPOT_STORAGE"].startswith("s3://")
    assert apprunner["InstanceConfiguration"]["InstanceRoleArn"]
    task = json.loads((DEPLOY / "aws" / "ecs-task-definition.json").read_text())
    assert task["taskRoleArn"]
    task_env = {e["name"]: e["value"] for e in task["containerDefinitions"][0]["environment"]}
    assert task_env["PYDEPOT_STORAGE"].startswith("s3://")
    policy = json.loads((DEPLOY / "aws" / "iam-policy.json").read_text())
    actions = set()
    for statement in policy["Statement"]:
        acts = statement["Action"]
        actions |= set([acts] if isinstance(acts, str) else acts)
    assert actions == {"s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                       "s3:AbortMultipartUpload", "s3:ListBucket"}, actions
    unit = (DEPLOY / "systemd" / "pydepot.service").read_text()
    for line in ("User=pydepot", "NoNewPrivileges=yes", "ProtectSystem=strict", "PrivateTmp=yes",
                 "EnvironmentFile=-/etc/pydepot/env",
                 "ExecStart=/usr/local/bin/pydepot serve --config /etc/pydepot/pydepot.toml"):
        assert line in unit.splitlines(), line
