"""Native TLS (`serve --tls-cert --tls-key`, docs/deploy.md "Native TLS") with the real clients:
a CA, an intermediate and a server certificate for 127.0.0.1 made with the `openssl` CLI; twine
uploads and pip installs over https:// trusting the CA (--cert), curl checks HTTP/1.1 over TLS
and a 20 MB download's sha256; clients that do not trust the CA are refused; SIGHUP swaps the
certificate; `config check` names what is wrong."""

import hashlib
import os
import pathlib
import signal
import socket
import ssl
import subprocess
import time
import zipfile

import pytest

from conftest import (PASSWORDS, PYDEPOT, build_package, make_storage, pip, run)

# The clients' environment without CA bundle variables: requests lets REQUESTS_CA_BUNDLE (and
# CURL_CA_BUNDLE) override a session's own CA file, which would make twine ignore --cert; PIP_CERT
# is pip's --cert default.
CLIENT_ENV = {k: v for k, v in os.environ.items()
              if k not in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE", "PIP_CERT")}


def openssl(*args, cwd):
    res = run(["openssl", *args], cwd=cwd)
    assert res.returncode == 0, res.stderr
    return res


def make_leaf(d, name, common_name):
    """A server certificate for 127.0.0.1 and localhost, signed by the intermediate in `d`;
    writes NAME.key and NAME-fullchain.pem (the leaf, then the intermediate)."""
    (d / "leaf.ext").write_text(
        "basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n"
        "extendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", name + ".key", "-out", name + ".csr", "-subj", "/CN=" + common_name, cwd=d)
    openssl("x509", "-req", "-in", name + ".csr", "-CA", "inter.pem", "-CAkey", "inter.key",
            "-CAcreateserial", "-days", "2", "-sha256", "-extfile", "leaf.ext", "-out",
            name + ".pem", cwd=d)
    (d / (name + "-fullchain.pem")).write_text(
        (d / (name + ".pem")).read_text() + (d / "inter.pem").read_text())
    return d / (name + "-fullchain.pem"), d / (name + ".key")


@pytest.fixture(scope="module")
def pki(tmp_path_factory):
    """ca.pem (the only thing clients trust), an intermediate, and a server certificate."""
    d = tmp_path_factory.mktemp("pki")
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "ca.key", "-out", "ca.pem", "-days", "2", "-subj", "/CN=pydepot test CA",
            "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    (d / "inter.ext").write_text(
        "basicConstraints=critical,CA:TRUE,pathlen:0\nkeyUsage=critical,keyCertSign,cRLSign\n")
    openssl("req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "inter.key", "-out", "inter.csr", "-subj", "/CN=pydepot test intermediate",
            cwd=d)
    openssl("x509", "-req", "-in", "inter.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "2", "-sha256", "-extfile", "inter.ext", "-out",
            "inter.pem", cwd=d)
    cert, key = make_leaf(d, "server", "127.0.0.1")
    return {"dir": d, "ca": d / "ca.pem", "cert": cert, "key": key}


class TlsServer:
    """pydepot serve with TLS; `url` is https://127.0.0.1:PORT."""

    def __init__(self, storage, args=(), env=None):
        self.proc = subprocess.Popen(
            [PYDEPOT, "serve", "--storage", str(storage), "--listen", "127.0.0.1:0",
             "--cache-ttl-ms", "0", *args],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        self.first_line = self.proc.stdout.readline().strip()
        if not self.first_line.startswith("listening on https://"):
            self.proc.kill()
            raise RuntimeError("pydepot did not start: %r %s"
                               % (self.first_line, self.proc.stderr.read()))
        self.url = self.first_line[len("listening on "):]
        self.port = int(self.url.rsplit(":", 1)[1])

    def index_url(self, user="reader"):
        return "https://%s:%s@127.0.0.1:%d/simple/" % (user, PASSWORDS[user], self.port)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        out, err = self.proc.communicate()
        return out, err


@pytest.fixture(scope="module")
def tls_server(pki, tmp_path_factory):
    srv = TlsServer(make_storage(tmp_path_factory.mktemp("tls")),
                    ["--tls-cert", str(pki["cert"]), "--tls-key", str(pki["key"])])
    yield srv
    srv.stop()


def curl(pki, url, *args, user="reader"):
    """curl trusting the test CA: (http_version, status, body bytes)."""
    res = run(["curl", "-sS", "--cacert", str(pki["ca"]), "-u",
               "%s:%s" % (user, PASSWORDS[user]), "-w", "\n%{http_version} %{http_code}",
               *args, url], text=False)
    assert res.returncode == 0, res.stderr
    body, _, tail = res.stdout.rpartition(b"\n")
    version, code = tail.decode().split()
    return version, int(code), body


def big_wheel(directory, name, version, size):
    """A valid wheel of about `size` bytes (a stored member of random bytes)."""
    module = name.replace("-", "_")
    dist_info = "%s-%s.dist-info" % (module, version)
    path = directory / ("%s-%s-py3-none-any.whl" % (module, version))
    with zipfile.ZipFile(path, "w") as z:
        z.writestr(module + "/__init__.py", "")
        z.writestr(module + "/blob.bin", os.urandom(size))
        z.writestr(dist_info + "/METADATA",
                   "Metadata-Version: 2.1\nName: %s\nVersion: %s\n" % (name, version))
        z.writestr(dist_info + "/WHEEL",
                   "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
                   "Tag: py3-none-any\n")
        z.writestr(dist_info + "/RECORD", "")
    return path


def twine(srv, pki, files, user="uploader"):
    return run(["twine", "upload", "--non-interactive", "--disable-progress-bar",
                "--repository-url", srv.url + "/legacy/", "--cert", str(pki["ca"]),
                "-u", user, "-p", PASSWORDS[user], *[str(f) for f in files]], env=CLIENT_ENV)


def test_startup_line_says_https(tls_server):
    assert tls_server.first_line.startswith("listening on https://127.0.0.1:")


def test_twine_upload_and_pip_install_over_https(tls_server, pki, workdir):
    dists = build_package(workdir, "tls-demo", "1.0")
    res = twine(tls_server, pki, dists)
    assert res.returncode == 0, res.stdout + res.stderr
    target = workdir / "target"
    res = pip("install", "--index-url", tls_server.index_url(), "--cert", str(pki["ca"]),
              "--target", str(target), "tls-demo==1.0", env=CLIENT_ENV)
    assert res.returncode == 0, res.stdout + res.stderr
    assert (target / "tls_demo" / "__init__.py").exists()
    # Without the CA, pip refuses the server.
    res = pip("install", "--index-url", tls_server.index_url(), "--target",
              str(workdir / "untrusted"), "--retries", "0", "--timeout", "10", "tls-demo==1.0",
              env=CLIENT_ENV)
    assert res.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in res.stdout + res.stderr


def test_curl_speaks_http11_over_tls_and_downloads_a_big_file(tls_server, pki, workdir):
    version, code, body = curl(pki, tls_server.url + "/simple/")
    assert (version, code) == ("1.1", 200)
    # Offered h2 and http/1.1 by ALPN, the server picks http/1.1.
    version, code, _ = curl(pki, tls_server.url + "/simple/", "--http2")
    assert (version, code) == ("1.1", 200)
    # 20 MB through the TLS file path (pread and encrypted writes instead of sendfile).
    wheel = big_wheel(workdir, "tls-big", "1.0", 20 * 1000 * 1000)
    res = twine(tls_server, pki, [wheel])
    assert res.returncode == 0, res.stdout + res.stderr
    version, code, body = curl(pki, tls_server.url + "/files/tls-big/" + wheel.name)
    assert (version, code) == ("1.1", 200)
    assert len(body) == wheel.stat().st_size
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(wheel.read_bytes()).hexdigest()


def test_untrusting_clients_are_refused(tls_server, pki):
    # curl with the system's CAs only: the certificate is refused (exit 60).
    res = run(["curl", "-sS", tls_server.url + "/healthz"])
    assert res.returncode == 60, res.stderr
    # Python's ssl with the system's CAs.
    context = ssl.create_default_context()
    with socket.create_connection(("127.0.0.1", tls_server.port), timeout=10) as sock:
        with pytest.raises(ssl.SSLCertVerificationError):
            context.wrap_socket(sock, server_hostname="127.0.0.1")
    # The server is unharmed.
    assert curl(pki, tls_server.url + "/healthz", user="reader")[1] == 200


def test_plain_http_to_the_tls_port_is_told_to_use_https(tls_server):
    res = run(["curl", "-sS", "-w", "\n%{http_code}",
               "http://127.0.0.1:%d/simple/" % tls_server.port])
    assert res.returncode == 0, res.stderr
    assert res.stdout.endswith("\n400")
    assert "Use an https:// URL." in res.stdout


def test_login_cookie_is_secure_over_tls(tls_server, pki):
    res = run(["curl", "-sS", "--cacert", str(pki["ca"]), "-D", "-", "-o", os.devnull,
               "--data", "user=reader&password=%s&next=./" % PASSWORDS["reader"],
               tls_server.url + "/login"])
    assert res.returncode == 0, res.stderr
    cookies = [line for line in res.stdout.splitlines() if line.lower().startswith("set-cookie:")]
    assert cookies and all("; Secure" in line for line in cookies), res.stdout


def served_certificate(port):
    """The DER bytes of the certificate the server presents (not verified)."""
    return ssl.PEM_cert_to_DER_cert(ssl.get_server_certificate(("127.0.0.1", port), timeout=10))


def der(path):
    return ssl.PEM_cert_to_DER_cert(path.read_text())


def test_sighup_reloads_the_certificate_and_env_vars_configure_tls(pki, tmp_path):
    d = pki["dir"]
    cert, key = make_leaf(d, "reload", "127.0.0.1")
    live_cert, live_key = tmp_path / "fullchain.pem", tmp_path / "privkey.pem"
    live_cert.write_bytes(cert.read_bytes())
    live_key.write_bytes(key.read_bytes())
    env = dict(os.environ, PYDEPOT_TLS_CERT=str(live_cert), PYDEPOT_TLS_KEY=str(live_key))
    srv = TlsServer(make_storage(tmp_path), env=env)
    try:
        first = served_certificate(srv.port)
        assert first == der(d / "reload.pem")
        # A renewal: new files in place, then SIGHUP.
        cert2, key2 = make_leaf(d, "renewed", "127.0.0.1")
        live_cert.write_bytes(cert2.read_bytes())
        live_key.write_bytes(key2.read_bytes())
        srv.proc.send_signal(signal.SIGHUP)
        deadline = time.monotonic() + 10
        while served_certificate(srv.port) == first and time.monotonic() < deadline:
            time.sleep(0.1)
        assert served_certificate(srv.port) == der(d / "renewed.pem")
        assert curl(pki, srv.url + "/healthz", user="reader")[1] == 200
        # A broken renewal (the key of another certificate) is refused; the last good one stays.
        live_key.write_bytes(key.read_bytes())
        srv.proc.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert served_certificate(srv.port) == der(d / "renewed.pem")
        assert srv.proc.poll() is None
    finally:
        _, err = srv.stop()
    assert "SIGHUP: reloaded the TLS certificate" in err
    assert "SIGHUP: TLS reload failed, still using the previous certificate" in err
    assert "does not match the certificate" in err


def test_bad_files_stop_serve_and_config_check_says_why(pki, tmp_path):
    storage = tmp_path / "store"
    other_key = pki["dir"] / "other.key"
    openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", "-out",
            str(other_key), cwd=pki["dir"])
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYDEPOT_")}
    cases = [
        (["--tls-cert", str(pki["cert"])], "--tls-cert is set but --tls-key is not",
         "tls-cert: set (flag) but tls-key is not"),
        (["--tls-cert", str(tmp_path / "nope.pem"), "--tls-key", str(pki["key"])],
         "cannot read it: No such file or directory", "cannot read it: No such file or directory"),
        (["--tls-cert", str(pki["key"]), "--tls-key", str(pki["key"])], "no PEM certificate",
         "no PEM certificate"),
        (["--tls-cert", str(pki["cert"]), "--tls-key", str(other_key)],
         "does not match the certificate", "does not match the certificate"),
    ]
    for args, serve_error, check_error in cases:
        res = run([PYDEPOT, "serve", "--storage", str(storage), "--listen", "127.0.0.1:0", *args],
                  env=env, timeout=30)
        assert res.returncode == 1, (args, res.stdout, res.stderr)
        assert res.stdout == "", "listened despite bad TLS files: %s" % res.stdout
        assert serve_error in res.stderr and res.stderr.count("\n") == 1, res.stderr
        res = run([PYDEPOT, "config", "check", "--storage", str(storage), *args], env=env)
        assert res.returncode == 1, (args, res.stdout)
        assert check_error in res.stderr, res.stderr
    assert not storage.exists(), "serve opened the store before checking the TLS files"
    # And a good pair passes the check.
    res = run([PYDEPOT, "config", "check", "--storage", str(storage), "--tls-cert",
               str(pki["cert"]), "--tls-key", str(pki["key"])], env=env)
    assert res.returncode == 0, res.stderr
    assert "TLS certificate: CN=127.0.0.1 for 127.0.0.1, localhost" in res.stdout
    assert "1 intermediate(s)" in res.stdout
