#!/usr/bin/python3
"""Captures upload requests for the multipart parser tests.

Usage: capture_server.py OUTDIR
Listens on 127.0.0.1 (a free port, written to OUTDIR/port), and for each POST writes the raw
body to OUTDIR/<n>.body and the Content-Type header to OUTDIR/<n>.content_type, then answers
200 "OK". Nothing is parsed: the bytes are exactly what the client sent.
"""
import http.server
import os
import sys

OUTDIR = sys.argv[1]


class Handler(http.server.BaseHTTPRequestHandler):
    count = 0

    def do_POST(self):
        length = self.headers.get("Content-Length")
        if length is not None:
            body = self.rfile.read(int(length))
        else:  # chunked
            body = b""
            while True:
                size = int(self.rfile.readline().split(b";")[0], 16)
                chunk = self.rfile.read(size + 2)[:size]
                if size == 0:
                    break
                body += chunk
        Handler.count += 1
        base = os.path.join(OUTDIR, str(Handler.count))
        with open(base + ".body", "wb") as f:
            f.write(body)
        with open(base + ".content_type", "w") as f:
            f.write(self.headers.get("Content-Type", "") + "\n")
        with open(base + ".request", "w") as f:
            f.write(self.requestline + "\n" + str(self.headers))
        reply = b"OK\n"
        self.send_response(200)
        self.send_header("Content-Type", "text/plain")
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)

    def do_GET(self):
        self.send_error(404)


server = http.server.HTTPServer(("127.0.0.1", 0), Handler)
with open(os.path.join(OUTDIR, "port"), "w") as f:
    f.write(str(server.server_address[1]))
server.serve_forever()
