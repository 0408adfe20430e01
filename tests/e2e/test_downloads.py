"""Downloads served with sendfile(2): a client that hangs up mid-file must cost only its own
connection (sendfile has no MSG_NOSIGNAL: without SIGPIPE ignored the server would die)."""

import hashlib
import os
import socket
import zipfile

from conftest import twine_upload


def make_wheel(path, name, megabytes):
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        with zf.open(f"{name}/blob.bin", "w") as blob:
            for _ in range(megabytes):
                blob.write(os.urandom(1 << 20))
        zf.writestr(f"{name}-1.0.dist-info/METADATA",
                    f"Metadata-Version: 2.1\nName: {name}\nVersion: 1.0\n")
        zf.writestr(f"{name}-1.0.dist-info/WHEEL",
                    "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\nTag: py3-none-any\n")
        zf.writestr(f"{name}-1.0.dist-info/RECORD", "")


def test_client_hanging_up_mid_download_does_not_hurt_the_server(fresh_server, tmp_path):
    wheel = tmp_path / "hangup-1.0-py3-none-any.whl"
    make_wheel(wheel, "hangup", 24)  # far more than the socket buffers hold
    res = twine_upload(fresh_server, [wheel])
    assert res.returncode == 0, res.stdout + res.stderr
    path = f"/files/hangup/{wheel.name}"
    port = int(fresh_server.url.rsplit(":", 1)[1])
    request = (f"GET {path} HTTP/1.1\r\nHost: x\r\n"
               f"Authorization: {fresh_server.auth_header('reader')['Authorization']}\r\n\r\n").encode()
    for _ in range(10):
        with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
            sock.sendall(request)
            got = sock.recv(65536)
            assert got.startswith(b"HTTP/1.1 200"), got[:100]
            # Hang up with most of the file unsent; SO_LINGER 0 makes it a reset.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
    assert fresh_server.proc.poll() is None, "the server died"
    whole = fresh_server.get(path, user="reader")
    assert whole.status_code == 200
    assert hashlib.sha256(whole.content).digest() == hashlib.sha256(wheel.read_bytes()).digest()
