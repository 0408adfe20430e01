#!/usr/bin/python3
"""A stand-in for the part of Google Cloud Storage that pydepot's gs:// backend uses.

No GCS server can be installed here, so pydepot's GCS backend is tested against this one
program (Python standard library only). It implements just the subset pydepot speaks, and it
CHECKS what it receives: every request that a real GCS would answer differently, or that shows
pydepot breaking one of its own rules (an upload without ifGenerationMatch, a misaligned
resumable chunk, a Content-Length that does not match the body, a JWT with a bad signature, a
request without a token it issued), is recorded as a violation. GET /_standin/violations returns
the list; a clean run leaves it empty.

What it serves:
  JSON API v1      GET    /storage/v1/b/B/o/OBJ                 object metadata
                   GET    /storage/v1/b/B/o/OBJ?alt=media       bytes (Range, generation=)
                   GET    /download/storage/v1/b/B/o/OBJ?alt=media   (same)
                   DELETE /storage/v1/b/B/o/OBJ                 (ifGenerationMatch=)
                   GET    /storage/v1/b/B/o?prefix=&pageToken=&maxResults=
                   POST   /upload/storage/v1/b/B/o?uploadType=media|multipart|resumable
                   PUT    <resumable session URI>               chunks (Content-Range), 308
  Signed URLs      GET    /B/OBJ?X-Goog-Algorithm=GOOG4-RSA-SHA256&...  (V4, verified)
  OAuth2 token     POST   /token          JWT bearer grant (RS256, verified against the public
                                          key of --service-account-key) or refresh_token grant
                                          (--authorized-user)
  Metadata server  GET    /computeMetadata/v1/instance/service-accounts/default/token
                                          (requires Metadata-Flavor: Google)
  Control          GET    /_standin/violations   the violations recorded so far (JSON list)
                   POST   /_standin/violations/clear
                   GET    /_standin/stats        request counters per operation, connections
                   GET    /_standin/log          the last requests (method, path, some headers)
                   POST   /_standin/faults       JSON list of faults to inject (see Fault)
                   POST   /_standin/revoke-tokens   every token issued so far becomes invalid

Start: standin.py --port 0 [--bucket NAME]... [--require-auth] [--service-account-key FILE]...
The first line printed is the base URL (http://127.0.0.1:PORT); then it serves until killed.
"""

import argparse
import base64
import datetime
import email.utils
import hashlib
import json
import os
import re
import secrets
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

CHUNK_ALIGN = 256 * 1024
UNRESERVED = set("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~")
STORAGE_SCOPES = {
    "https://www.googleapis.com/auth/devstorage.read_write",
    "https://www.googleapis.com/auth/devstorage.full_control",
    "https://www.googleapis.com/auth/cloud-platform",
}
JWT_BEARER = "urn:ietf:params:oauth:grant-type:jwt-bearer"
# DER prefix of a PKCS#1 v1.5 DigestInfo for SHA-256 (RFC 8017, 9.2 note 1).
SHA256_DIGEST_INFO = bytes.fromhex("3031300d060960864801650304020105000420")


# --- RSA public keys from PEM private keys, and RS256 verification (stdlib only) ------------

def _der_read(data, pos):
    """One DER TLV at pos: (tag, value bytes, next position)."""
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        length = int.from_bytes(data[pos:pos + count], "big")
        pos += count
    return tag, data[pos:pos + length], pos + length


def _der_sequence(data):
    tag, body, _ = _der_read(data, 0)
    if tag != 0x30:
        raise ValueError("not a DER SEQUENCE")
    items, pos = [], 0
    while pos < len(body):
        tag, value, pos = _der_read(body, pos)
        items.append((tag, value))
    return items


def rsa_public_from_pem(pem):
    """(n, e) of a PKCS#8 or PKCS#1 RSA private key in PEM. Only the public half is kept."""
    lines = [l.strip() for l in pem.strip().splitlines()]
    der = base64.b64decode("".join(l for l in lines if not l.startswith("-----")))
    items = _der_sequence(der)
    if "BEGIN PRIVATE KEY" in pem:  # PKCS#8: version, algorithm, OCTET STRING(RSAPrivateKey)
        items = _der_sequence(items[2][1])
    n = int.from_bytes(items[1][1], "big")
    e = int.from_bytes(items[2][1], "big")
    return n, e


def rs256_verify(public, message, signature):
    n, e = public
    k = (n.bit_length() + 7) // 8
    if len(signature) != k:
        return False
    em = pow(int.from_bytes(signature, "big"), e, n).to_bytes(k, "big")
    digest_info = SHA256_DIGEST_INFO + hashlib.sha256(message).digest()
    expected = b"\x00\x01" + b"\xff" * (k - 3 - len(digest_info)) + b"\x00" + digest_info
    return secrets.compare_digest(em, expected)


def b64url_decode(text):
    if "=" in text:
        raise ValueError("base64url with padding (JWTs use none)")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


# --- State -----------------------------------------------------------------------------------

def rfc3339(micros):
    dt = datetime.datetime.fromtimestamp(micros / 1e6, tz=datetime.timezone.utc)
    return dt.strftime("%Y-%m-%dT%H:%M:%S.") + "%03dZ" % (dt.microsecond // 1000)


class Obj:
    def __init__(self, bucket, name, data, generation, metadata, content_type):
        self.bucket = bucket
        self.name = name
        self.data = data
        self.generation = generation
        self.metadata = metadata or {}
        self.content_type = content_type or "application/octet-stream"
        # GCS generations are creation times in microseconds; `updated` is the same instant.
        self.updated_micros = generation
        self.md5 = base64.b64encode(hashlib.md5(data).digest()).decode()

    def resource(self, base=""):
        quoted = urllib.parse.quote(self.name, safe="")
        res = {
            "kind": "storage#object",
            "id": "%s/%s/%d" % (self.bucket, self.name, self.generation),
            "selfLink": "%s/storage/v1/b/%s/o/%s" % (base, self.bucket, quoted),
            "mediaLink": "%s/download/storage/v1/b/%s/o/%s?generation=%d&alt=media" % (
                base, self.bucket, quoted, self.generation),
            "name": self.name,
            "bucket": self.bucket,
            "generation": str(self.generation),
            "metageneration": "1",
            "contentType": self.content_type,
            "storageClass": "STANDARD",
            "size": str(len(self.data)),
            "md5Hash": self.md5,
            "timeCreated": rfc3339(self.updated_micros),
            "updated": rfc3339(self.updated_micros),
            "etag": "CK%dEAE=" % self.generation,
        }
        if self.metadata:
            res["metadata"] = dict(self.metadata)
        return res

    def last_modified(self):
        return email.utils.formatdate(self.updated_micros // 1_000_000, usegmt=True)


class Session:
    def __init__(self, bucket, name, if_generation_match, total, metadata, content_type):
        self.bucket = bucket
        self.name = name
        self.if_generation_match = if_generation_match
        self.total = total  # None until known
        self.metadata = metadata
        self.content_type = content_type
        self.data = bytearray()
        self.result = None  # (status, body dict) once finished
        self.md5 = None  # the md5Hash given at the start, checked at the end


class Fault:
    """An injected failure for the next `count` requests of operation `op`.

    op: metadata, media, list, upload (media/multipart), resumable-init, resumable-chunk,
        resumable-status, delete, token, metadata-token, any
    mode: "before"  answer `status` without doing anything
          "after"   do the operation, then answer `status` instead of the result (a lost reply)
          "close"   close the connection without an answer, doing nothing
          "close-after"  do the operation, then close without an answer
          "partial" (resumable-chunk) persist only part of the chunk and answer 308 honestly
    """

    def __init__(self, spec):
        self.op = spec["op"]
        self.mode = spec.get("mode", "before")
        self.status = int(spec.get("status", 503))
        self.count = int(spec.get("count", 1))
        self.message = spec.get("message", "injected fault")


class State:
    def __init__(self, buckets, token_lifetime):
        self.lock = threading.RLock()  # violation() may be called with it held
        self.buckets = {b: {} for b in buckets}
        self.sessions = {}
        self.last_generation = 0
        self.violations = []
        self.stats = {}
        self.log = []
        self.faults = []
        self.tokens = {}  # token -> (expiry time, principal)
        self.revoked = set()
        self.token_lifetime = token_lifetime
        self.service_accounts = {}  # client_email -> {"key_id":..., "public": (n, e)}
        self.authorized_users = {}  # refresh_token -> {"client_id", "client_secret"}
        self.require_auth = False
        self.page_size = 1000
        self.connections = 0

    def next_generation(self):
        now = int(time.time() * 1_000_000)
        self.last_generation = max(now, self.last_generation + 1)
        return self.last_generation

    def violation(self, request, problem):
        with self.lock:
            self.violations.append({"time": time.time(), "request": request, "problem": problem})
        print("VIOLATION: %s: %s" % (request, problem), file=sys.stderr, flush=True)

    def count(self, op):
        with self.lock:
            self.stats[op] = self.stats.get(op, 0) + 1

    def take_fault(self, op):
        with self.lock:
            for fault in self.faults:
                if fault.op in (op, "any") and fault.count > 0:
                    fault.count -= 1
                    return fault
        return None

    def issue_token(self, principal):
        token = "standin-" + secrets.token_urlsafe(24)
        with self.lock:
            self.tokens[token] = (time.time() + self.token_lifetime, principal)
            self.stats["tokens-issued"] = self.stats.get("tokens-issued", 0) + 1
        return {"access_token": token, "expires_in": self.token_lifetime, "token_type": "Bearer"}


STATE = None


class StandinError(Exception):
    def __init__(self, status, message, reason="invalid"):
        super().__init__(message)
        self.status = status
        self.message = message
        self.reason = reason


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "pydepot-gcs-standin"
    verbose = False

    def setup(self):
        super().setup()
        with STATE.lock:
            STATE.connections += 1

    def log_message(self, fmt, *args):
        if self.verbose:
            sys.stderr.write("standin: " + (fmt % args) + "\n")

    # --- plumbing ----------------------------------------------------------------------------

    def base(self):
        return "http://" + self.headers.get("Host", "")

    def describe(self):
        return "%s %s" % (self.command, self.path)

    def violation(self, problem):
        STATE.violation(self.describe(), problem)

    def read_body(self):
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.violation("chunked request body: pydepot always knows the size (Content-Length)")
            raise StandinError(411, "Content-Length required")
        length = self.headers.get("Content-Length")
        if length is None:
            if self.command in ("POST", "PUT"):
                self.violation("%s without Content-Length" % self.command)
                raise StandinError(411, "Content-Length required")
            return b""
        try:
            n = int(length)
        except ValueError:
            self.violation("malformed Content-Length %r" % length)
            raise StandinError(400, "bad Content-Length")
        body = self.rfile.read(n)
        if len(body) != n:
            self.violation("body shorter than Content-Length (%d < %d)" % (len(body), n))
            self.close_connection = True
            raise StandinError(400, "short body")
        return body

    def send(self, status, body=b"", content_type="application/json; charset=UTF-8",
             headers=None):
        if isinstance(body, (dict, list)):
            body = json.dumps(body).encode()
        self.send_response(status)
        if body or status not in (204, 304):
            self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def send_error_json(self, status, message, reason="invalid"):
        self.send(status, {"error": {"code": status, "message": message,
                                      "errors": [{"message": message, "domain": "global",
                                                  "reason": reason}]}})

    def split(self):
        parsed = urllib.parse.urlsplit(self.path)
        raw_query = parsed.query
        if "+" in raw_query:
            # Google decodes '+' in a query as a space: a '+' meant literally must be %2B.
            self.violation("raw '+' in the query string (decoded as a space; send %2B)")
        query = {k: v[-1] for k, v in urllib.parse.parse_qs(raw_query, keep_blank_values=True).items()}
        return parsed.path, query

    def record(self):
        entry = {"method": self.command, "path": self.path}
        for name in ("Range", "Content-Range", "Content-Length", "Authorization",
                     "Metadata-Flavor", "Content-Type"):
            if name in self.headers:
                value = self.headers[name]
                if name == "Authorization":
                    value = value.split(" ")[0] + " ..."
                entry[name] = value
        with STATE.lock:
            STATE.log.append(entry)
            del STATE.log[:-5000]

    def do_GET(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def do_HEAD(self):
        self.dispatch()

    def do_PATCH(self):
        self.dispatch()

    def dispatch(self):
        self.record()
        try:
            path, query = self.split()
            if path.startswith("/_standin/"):
                return self.control(path)
            if path == "/token":
                return self.token_endpoint()
            if path.startswith("/computeMetadata/"):
                return self.metadata_server(path)
            parts = path.split("/")
            # /storage/v1/b/B/o[/OBJ], /upload/storage/v1/b/B/o, /download/storage/v1/b/B/o/OBJ
            if path.startswith("/storage/v1/b/"):
                return self.json_api(parts[4:], query, upload=False)
            if path.startswith("/download/storage/v1/b/"):
                return self.json_api(parts[5:], query, upload=False)
            if path.startswith("/upload/storage/v1/b/"):
                return self.json_api(parts[5:], query, upload=True)
            if path.startswith("/resumable/upload/storage/v1/b/"):  # gcloud's alias
                return self.json_api(parts[6:], query, upload=True)
            if "X-Goog-Signature" in query or "x-goog-signature" in query:
                return self.signed_url(path, query)
            self.violation("unexpected path")
            raise StandinError(404, "no such endpoint in the stand-in")
        except StandinError as err:
            if self.path.startswith("/token"):
                self.send(err.status, {"error": err.reason, "error_description": err.message})
            else:
                self.send_error_json(err.status, err.message, err.reason)
        except (ConnectionError, BrokenPipeError):
            self.close_connection = True
        except Exception as err:  # a stand-in bug: answer 500 and say so
            self.violation("stand-in internal error: %r" % err)
            self.send_error_json(500, "stand-in internal error: %r" % err)

    def apply_fault(self, op):
        """Checks for an injected fault. Returns the fault to apply after the operation, or
        None; raises or closes for faults that act before."""
        fault = STATE.take_fault(op)
        if fault is None:
            return None
        if fault.mode == "close":
            self.close_connection = True
            raise ConnectionError("injected close")
        if fault.mode == "before":
            raise StandinError(fault.status, fault.message, "backendError")
        return fault

    def finish_fault(self, fault):
        if fault.mode == "close-after":
            self.close_connection = True
            raise ConnectionError("injected close after the operation")
        raise StandinError(fault.status, fault.message, "backendError")

    # --- auth --------------------------------------------------------------------------------

    def check_auth(self):
        header = self.headers.get("Authorization")
        if header is None:
            if STATE.require_auth:
                self.violation("no Authorization header (auth is required)")
                raise StandinError(401, "Anonymous caller does not have storage.objects access",
                                   "required")
            return
        if not header.startswith("Bearer "):
            self.violation("Authorization is not 'Bearer <token>': %r" % header.split(" ")[0])
            raise StandinError(401, "Invalid Credentials", "authError")
        token = header[len("Bearer "):]
        with STATE.lock:
            entry = STATE.tokens.get(token)
            revoked = token in STATE.revoked
        if entry is None:
            self.violation("a bearer token the stand-in never issued")
            raise StandinError(401, "Invalid Credentials", "authError")
        if revoked:
            raise StandinError(401, "Invalid Credentials (token revoked)", "authError")
        if time.time() > entry[0] + 1:
            self.violation("an expired token (the client must refresh before expiry)")
            raise StandinError(401, "Invalid Credentials (token expired)", "authError")

    def token_endpoint(self):
        if self.command != "POST":
            self.violation("token endpoint needs POST")
            raise StandinError(405, "POST only", "invalid_request")
        body = self.read_body()
        fault = self.apply_fault("token")
        STATE.count("token")
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("application/x-www-form-urlencoded"):
            self.violation("token request Content-Type %r" % ctype)
            raise StandinError(400, "form body required", "invalid_request")
        form = {k: v[-1] for k, v in urllib.parse.parse_qs(body.decode(), keep_blank_values=True).items()}
        grant = form.get("grant_type")
        if grant == JWT_BEARER:
            principal = self.verify_jwt(form.get("assertion", ""))
        elif grant == "refresh_token":
            user = STATE.authorized_users.get(form.get("refresh_token"))
            if user is None:
                raise StandinError(400, "unknown refresh token", "invalid_grant")
            if (form.get("client_id") != user["client_id"]
                    or form.get("client_secret") != user["client_secret"]):
                self.violation("refresh_token grant with the wrong client_id/client_secret")
                raise StandinError(401, "bad client", "invalid_client")
            principal = "user:" + user["client_id"]
        else:
            self.violation("unsupported grant_type %r" % grant)
            raise StandinError(400, "unsupported grant_type", "unsupported_grant_type")
        answer = STATE.issue_token(principal)
        if fault is not None:
            self.finish_fault(fault)
        self.send(200, answer)

    def verify_jwt(self, assertion):
        parts = assertion.split(".")
        if len(parts) != 3:
            self.violation("assertion is not a three-part JWT")
            raise StandinError(400, "malformed JWT", "invalid_grant")
        try:
            header = json.loads(b64url_decode(parts[0]))
            claims = json.loads(b64url_decode(parts[1]))
            signature = b64url_decode(parts[2])
        except ValueError as err:
            self.violation("JWT encoding: %s" % err)
            raise StandinError(400, "malformed JWT", "invalid_grant")
        if header.get("alg") != "RS256" or header.get("typ", "JWT") != "JWT":
            self.violation("JWT header %r (want alg RS256, typ JWT)" % header)
            raise StandinError(400, "bad JWT header", "invalid_grant")
        account = STATE.service_accounts.get(claims.get("iss"))
        if account is None:
            # A key the stand-in does not know: a real rejection, not a protocol error.
            raise StandinError(400, "Invalid JWT Signature (unknown issuer %r)"
                               % claims.get("iss"), "invalid_grant")
        if "kid" in header and header["kid"] != account["key_id"]:
            raise StandinError(400, "Invalid JWT Signature (unknown key id)", "invalid_grant")
        message = (parts[0] + "." + parts[1]).encode()
        if not rs256_verify(account["public"], message, signature):
            self.violation("JWT RS256 signature does not verify with %s's public key"
                           % claims.get("iss"))
            raise StandinError(400, "Invalid JWT Signature.", "invalid_grant")
        problems = []
        now = time.time()
        expected_aud = "http://%s/token" % self.headers.get("Host", "")
        if claims.get("aud") != expected_aud:
            problems.append("aud %r, want the token_uri %r" % (claims.get("aud"), expected_aud))
        scopes = set(str(claims.get("scope", "")).split())
        if not scopes & STORAGE_SCOPES:
            problems.append("scope %r grants no storage access" % claims.get("scope"))
        iat, exp = claims.get("iat"), claims.get("exp")
        if not isinstance(iat, int) or not isinstance(exp, int):
            problems.append("iat/exp must be integers (seconds)")
        else:
            if abs(iat - now) > 300:
                problems.append("iat %d is not now (%d)" % (iat, now))
            if exp <= now or exp - iat > 3600:
                problems.append("exp %d: must be after now and at most an hour after iat" % exp)
        if problems:
            for problem in problems:
                self.violation("JWT claims: " + problem)
            raise StandinError(400, "bad JWT claims: " + "; ".join(problems), "invalid_grant")
        return claims["iss"]

    def metadata_server(self, path):
        if self.headers.get("Metadata-Flavor") != "Google":
            self.violation("metadata server request without 'Metadata-Flavor: Google'")
            raise StandinError(403, "Missing Metadata-Flavor:Google header.")
        if "X-Forwarded-For" in self.headers:
            self.violation("metadata server request with X-Forwarded-For (a real one refuses)")
            raise StandinError(403, "X-Forwarded-For not allowed")
        if path != "/computeMetadata/v1/instance/service-accounts/default/token":
            self.violation("metadata path outside the subset pydepot uses: %s" % path)
            raise StandinError(404, "not found")
        if self.command != "GET":
            self.violation("metadata token needs GET")
            raise StandinError(405, "GET only")
        self.read_body()
        fault = self.apply_fault("metadata-token")
        STATE.count("metadata-token")
        answer = STATE.issue_token("serviceAccount:default")
        if fault is not None:
            self.finish_fault(fault)
        body = json.dumps(answer).encode()
        self.send(200, body, headers={"Metadata-Flavor": "Google"})

    # --- the JSON API ------------------------------------------------------------------------

    def check_name_encoding(self, raw):
        i = 0
        while i < len(raw):
            c = raw[i]
            if c == "%":
                if len(raw) < i + 3:
                    self.violation("truncated percent-escape in the object name")
                    break
                i += 3
                continue
            if c not in UNRESERVED:
                self.violation("object name character %r not percent-encoded in the path" % c)
            i += 1

    def bucket(self, name):
        objects = STATE.buckets.get(name)
        if objects is None:
            raise StandinError(404, "The specified bucket does not exist.", "notFound")
        return objects

    def json_api(self, parts, query, upload):
        # parts: [bucket, "o", object?]
        if len(parts) < 2 or parts[1] != "o" or len(parts) > 3:
            self.violation("path outside the JSON API subset")
            raise StandinError(404, "not found")
        bucket = parts[0]
        raw_name = parts[2] if len(parts) == 3 else None
        if upload:
            if self.command == "PUT" and "upload_id" in query:
                return self.resumable_put(query)
            self.check_auth()
            return self.upload(bucket, query)
        self.check_auth()
        if raw_name is None:
            if self.command != "GET":
                self.violation("%s on the object collection" % self.command)
                raise StandinError(405, "method not allowed")
            return self.list_objects(bucket, query)
        self.check_name_encoding(raw_name)
        name = urllib.parse.unquote(raw_name)
        if self.command == "GET":
            if query.get("alt") == "media":
                return self.media(bucket, name, query)
            return self.metadata(bucket, name, query)
        if self.command == "DELETE":
            return self.delete(bucket, name, query)
        self.violation("%s on an object is outside the subset" % self.command)
        raise StandinError(405, "method not allowed")

    def find(self, bucket, name, query):
        obj = self.bucket(bucket).get(name)
        if obj is None:
            raise StandinError(404, "No such object: %s/%s" % (bucket, name), "notFound")
        if "generation" in query and int(query["generation"]) != obj.generation:
            # Without object versioning a replaced generation is gone.
            raise StandinError(404, "No such object: %s/%s#%s" % (bucket, name,
                                                                   query["generation"]), "notFound")
        return obj

    def metadata(self, bucket, name, query):
        self.read_body()
        fault = self.apply_fault("metadata")
        STATE.count("metadata")
        with STATE.lock:
            obj = self.find(bucket, name, query)
            resource = obj.resource(self.base())
        if fault is not None:
            self.finish_fault(fault)
        self.send(200, resource)

    def media(self, bucket, name, query):
        self.read_body()
        fault = self.apply_fault("media")
        with STATE.lock:
            obj = self.find(bucket, name, query)
        if fault is not None:
            self.finish_fault(fault)
        data = obj.data
        headers = {
            "x-goog-generation": str(obj.generation),
            "x-goog-metageneration": "1",
            "x-goog-stored-content-length": str(len(data)),
            "x-goog-stored-content-encoding": "identity",
            "x-goog-hash": "md5=" + obj.md5,
            "Last-Modified": obj.last_modified(),
            "ETag": '"%s"' % hashlib.md5(data).hexdigest(),
            "Accept-Ranges": "bytes",
        }
        rng = self.headers.get("Range")
        if rng is None:
            STATE.count("media")
            return self.send(200, data, obj.content_type, headers)
        STATE.count("media-range")
        if not rng.startswith("bytes=") or "," in rng:
            self.violation("Range %r outside the subset (one bytes=a-b range)" % rng)
            raise StandinError(400, "bad Range")
        first, _, last = rng[len("bytes="):].partition("-")
        try:
            start = int(first)
            end = int(last) if last else len(data) - 1
        except ValueError:
            self.violation("malformed Range %r" % rng)
            raise StandinError(400, "bad Range")
        if end < start:
            self.violation("Range %r ends before it starts" % rng)
            raise StandinError(400, "bad Range")
        if start >= len(data):
            headers = {"Content-Range": "bytes */%d" % len(data)}
            return self.send(416, {"error": {"code": 416,
                                             "message": "The requested range cannot be satisfied."}},
                             headers=headers)
        end = min(end, len(data) - 1)
        headers["Content-Range"] = "bytes %d-%d/%d" % (start, end, len(data))
        self.send(206, data[start:end + 1], obj.content_type, headers)

    def delete(self, bucket, name, query):
        self.read_body()
        fault = self.apply_fault("delete")
        STATE.count("delete")
        with STATE.lock:
            objects = self.bucket(bucket)
            obj = self.find(bucket, name, {})
            self.check_precondition(obj, query, required=False)
            del objects[name]
        if fault is not None:
            self.finish_fault(fault)
        self.send(204)

    def list_objects(self, bucket, query):
        self.read_body()
        fault = self.apply_fault("list")
        STATE.count("list")
        prefix = query.get("prefix", "")
        try:
            page_size = min(int(query.get("maxResults", "1000")), 1000, STATE.page_size)
        except ValueError:
            self.violation("maxResults not a number")
            raise StandinError(400, "bad maxResults")
        if page_size <= 0:
            self.violation("maxResults must be positive")
            raise StandinError(400, "bad maxResults")
        start_after = None
        if "pageToken" in query:
            try:
                start_after = base64.urlsafe_b64decode(query["pageToken"]).decode()
            except ValueError:
                self.violation("pageToken was not one the stand-in gave")
                raise StandinError(400, "bad pageToken")
        delimiter = query.get("delimiter", "")
        with STATE.lock:
            names = sorted(n for n in self.bucket(bucket) if n.startswith(prefix))
            # With a delimiter, names that go on past it collapse into one "prefixes" entry.
            entries = []
            for n in names:
                cut = n.find(delimiter, len(prefix)) if delimiter else -1
                entry = ("prefix", n[:cut + len(delimiter)]) if cut >= 0 else ("item", n)
                if not entries or entries[-1] != entry:
                    entries.append(entry)
            if start_after is not None:
                entries = [e for e in entries if e[1] > start_after]
            page = entries[:page_size]
            items = [self.bucket(bucket)[n].resource(self.base()) for kind, n in page if kind == "item"]
        answer = {"kind": "storage#objects"}
        if items:
            answer["items"] = items
        prefixes = [n for kind, n in page if kind == "prefix"]
        if prefixes:
            answer["prefixes"] = prefixes
        if len(entries) > page_size:
            answer["nextPageToken"] = base64.urlsafe_b64encode(page[-1][1].encode()).decode()
        if fault is not None:
            self.finish_fault(fault)
        self.send(200, answer)

    # --- uploads -----------------------------------------------------------------------------

    def check_precondition(self, current, query, required=True):
        """Under STATE.lock: raises 412 unless ifGenerationMatch holds for `current`."""
        value = query.get("ifGenerationMatch")
        if value is None:
            if required:
                raise AssertionError("checked before")
            return
        wanted = int(value)
        have = current.generation if current is not None else 0
        if wanted != have:
            raise StandinError(412, "At least one of the pre-conditions you specified did not "
                                    "hold.", "conditionNotMet")

    def require_generation_match(self, query):
        value = query.get("ifGenerationMatch")
        if value is None:
            self.violation("upload without ifGenerationMatch: pydepot must never write "
                           "unconditionally")
            raise StandinError(400, "stand-in: uploads need ifGenerationMatch", "required")
        if not value.isdigit():
            self.violation("ifGenerationMatch %r is not a generation number" % value)
            raise StandinError(400, "bad ifGenerationMatch")

    def store(self, bucket, name, data, query, metadata, content_type):
        """Under STATE.lock: the precondition and the write are one atomic step."""
        objects = self.bucket(bucket)
        self.check_precondition(objects.get(name), query)
        obj = Obj(bucket, name, bytes(data), STATE.next_generation(), metadata, content_type)
        objects[name] = obj
        return obj

    def upload(self, bucket, query):
        if self.command != "POST":
            self.violation("upload with %s (POST starts uploads)" % self.command)
            raise StandinError(405, "POST only")
        kind = query.get("uploadType")
        body = self.read_body()
        if kind not in ("media", "multipart", "resumable"):
            self.violation("uploadType %r outside the subset" % kind)
            raise StandinError(400, "bad uploadType")
        self.require_generation_match(query)
        if kind == "resumable":
            return self.resumable_start(bucket, query, body)
        fault = self.apply_fault("upload")
        STATE.count("upload-" + kind)
        metadata, data, content_type = {}, body, self.headers.get("Content-Type")
        name = query.get("name")
        if kind == "multipart":
            resource, data, content_type = self.parse_multipart(body)
            if name is not None and resource.get("name") not in (None, name):
                self.violation("name in the query and in the metadata differ")
            name = name or resource.get("name")
            metadata = resource.get("metadata", {})
            if "md5Hash" in resource:
                md5 = base64.b64encode(hashlib.md5(data).digest()).decode()
                if md5 != resource["md5Hash"]:
                    self.violation("md5Hash in the metadata does not match the bytes sent")
                    raise StandinError(400, "Provided MD5 hash does not match", "invalid")
        if not name:
            self.violation("upload without an object name")
            raise StandinError(400, "Required: name", "required")
        with STATE.lock:
            obj = self.store(bucket, name, data, query, metadata, content_type)
            resource = obj.resource(self.base())
        if fault is not None:
            self.finish_fault(fault)
        self.send(200, resource)

    def parse_multipart(self, body):
        ctype = self.headers.get("Content-Type", "")
        if not ctype.startswith("multipart/related") or "boundary=" not in ctype:
            self.violation("multipart upload with Content-Type %r" % ctype)
            raise StandinError(400, "multipart/related required")
        boundary = ctype.split("boundary=", 1)[1].split(";")[0].strip().strip("\"'").encode()
        delimiter = re.escape(b"--" + boundary)
        # RFC 2046 wants CRLF; GCS also takes bare LF (gcloud's own uploads use it).
        # The closing delimiter is CRLF (or LF) "--boundary--", optionally followed by a line end;
        # the line end before it belongs to the delimiter, not to the data.
        match = re.match(delimiter + rb"\r?\n", body)
        inner = None
        if match is not None:
            for ending in (b"--\r\n", b"--\n", b"--"):
                for newline in (b"\r\n", b"\n"):
                    closing = newline + b"--" + boundary + ending
                    if inner is None and body.endswith(closing):
                        inner = body[match.end():len(body) - len(closing)]
        if inner is None:
            self.violation("multipart body is not framed by the boundary: %r" % body[:80])
            raise StandinError(400, "bad multipart body")
        parts = re.split(rb"\r?\n" + delimiter + rb"\r?\n", inner)
        if len(parts) != 2:
            self.violation("multipart upload with %d parts (want metadata and media)" % len(parts))
            raise StandinError(400, "bad multipart body")

        def headers_and_body(part):
            split = re.search(rb"\r?\n\r?\n", part)
            if split is None:
                raise StandinError(400, "bad multipart part")
            fields = {}
            for line in part[:split.start()].decode().splitlines():
                key, _, value = line.partition(":")
                fields[key.strip().lower()] = value.strip()
            return fields, part[split.end():]

        meta_headers, meta = headers_and_body(parts[0])
        media_headers, data = headers_and_body(parts[1])
        if not meta_headers.get("content-type", "").startswith("application/json"):
            self.violation("first multipart part is not application/json")
        try:
            resource = json.loads(meta)
        except ValueError:
            self.violation("metadata part is not JSON")
            raise StandinError(400, "bad metadata")
        return resource, data, media_headers.get("content-type")

    def resumable_start(self, bucket, query, body):
        fault = self.apply_fault("resumable-init")
        STATE.count("resumable-init")
        resource = {}
        if body:
            if not self.headers.get("Content-Type", "").startswith("application/json"):
                self.violation("resumable start with a body that is not application/json")
            try:
                resource = json.loads(body)
            except ValueError:
                self.violation("resumable start body is not JSON")
                raise StandinError(400, "bad metadata")
        name = query.get("name") or resource.get("name")
        if not name:
            self.violation("resumable upload without an object name")
            raise StandinError(400, "Required: name", "required")
        total = self.headers.get("X-Upload-Content-Length")
        with STATE.lock:
            self.check_precondition(self.bucket(bucket).get(name), query)
            session_id = secrets.token_urlsafe(16)
            STATE.sessions[session_id] = Session(
                bucket, name, query["ifGenerationMatch"], int(total) if total else None,
                resource.get("metadata", {}), self.headers.get("X-Upload-Content-Type"))
            STATE.sessions[session_id].md5 = resource.get("md5Hash")
        if fault is not None:
            self.finish_fault(fault)
        location = "http://%s/upload/storage/v1/b/%s/o?uploadType=resumable&upload_id=%s" % (
            self.headers.get("Host"), bucket, session_id)
        self.send(200, b"", headers={"Location": location})

    def resumable_put(self, query):
        body = self.read_body()
        with STATE.lock:
            session = STATE.sessions.get(query["upload_id"])
        if session is None:
            raise StandinError(404, "No such upload session", "notFound")
        content_range = self.headers.get("Content-Range")
        if content_range is None or not content_range.startswith("bytes "):
            self.violation("resumable PUT without 'Content-Range: bytes ...'")
            raise StandinError(400, "Content-Range required")
        spec = content_range[len("bytes "):]
        span, _, total_text = spec.partition("/")
        total = None if total_text == "*" else int(total_text)
        if total is not None and session.total is not None and total != session.total:
            self.violation("total %d differs from the session's %d" % (total, session.total))
        if span == "*":
            op = "resumable-status"
            if body:
                self.violation("status query 'bytes */N' with a body")
            start, end = None, None
        else:
            op = "resumable-chunk"
            first, _, last = span.partition("-")
            start, end = int(first), int(last)
            if end - start + 1 != len(body):
                self.violation("Content-Range %s covers %d bytes but the body has %d"
                               % (content_range, end - start + 1, len(body)))
                raise StandinError(400, "Content-Range does not match the body")
        fault = self.apply_fault(op)
        STATE.count(op)
        with STATE.lock:
            if session.result is not None:
                status, answer = session.result
                return self.send(status, answer)
            if total is not None and session.total is None:
                session.total = total
            if start is not None:
                persisted = len(session.data)
                if start > persisted:
                    self.violation("chunk starts at %d but only %d bytes are persisted"
                                   % (start, persisted))
                    raise StandinError(400, "gap in the upload")
                if start < persisted:
                    self.violation("chunk resends bytes from %d, %d are persisted (ask first)"
                                   % (start, persisted))
                    raise StandinError(400, "overlap in the upload")
                is_last = session.total is not None and end + 1 == session.total
                if not is_last and len(body) % CHUNK_ALIGN != 0:
                    self.violation("chunk of %d bytes is not a multiple of 256 KiB and not the "
                                   "last" % len(body))
                    raise StandinError(400, "chunk size must be a multiple of 262144")
                if session.total is not None and end + 1 > session.total:
                    self.violation("chunk ends past the declared total")
                    raise StandinError(400, "chunk past the end")
                keep = len(body)
                if fault is not None and fault.mode == "partial":
                    keep = (len(body) // 2) // CHUNK_ALIGN * CHUNK_ALIGN
                    fault = None
                session.data += body[:keep]
            done = session.total is not None and len(session.data) == session.total
            if done and session.md5 is not None and session.md5 != base64.b64encode(
                    hashlib.md5(session.data).digest()).decode():
                self.violation("resumable upload: md5Hash given at the start does not match "
                               "the bytes")
                session.result = (400, {"error": {"code": 400,
                                                  "message": "Provided MD5 hash does not match"}})
                session.data = bytearray()
                result = session.result
            elif done:
                try:
                    obj = self.store(session.bucket, session.name, session.data,
                                     {"ifGenerationMatch": session.if_generation_match},
                                     session.metadata, session.content_type)
                    session.result = (200, obj.resource(self.base()))
                except StandinError as err:
                    session.result = (err.status, {"error": {"code": err.status,
                                                             "message": err.message}})
                session.data = bytearray()
                result = session.result
            else:
                persisted = len(session.data)
        if fault is not None:
            self.finish_fault(fault)
        if done:
            return self.send(result[0], result[1])
        headers = {"Range": "bytes=0-%d" % (persisted - 1)} if persisted else {}
        self.send(308, b"", headers=headers)

    # --- V4 signed URLs ----------------------------------------------------------------------

    def signed_url(self, path, query):
        if self.command != "GET":
            self.violation("signed URL used with %s" % self.command)
            raise StandinError(405, "GET only")
        self.read_body()
        STATE.count("signed-get")
        raw_query = urllib.parse.urlsplit(self.path).query
        pairs = [p.split("=", 1) for p in raw_query.split("&") if p]
        signature = None
        canonical = []
        for key, value in pairs:
            if key.lower() == "x-goog-signature":
                signature = value
            else:
                canonical.append((key, value))
        canonical.sort()
        if query.get("X-Goog-Algorithm") != "GOOG4-RSA-SHA256":
            raise StandinError(400, "X-Goog-Algorithm must be GOOG4-RSA-SHA256")
        credential = query.get("X-Goog-Credential", "")
        email, _, scope = credential.partition("/")
        account = STATE.service_accounts.get(email)
        if account is None:
            raise StandinError(403, "unknown signer %r" % email, "SignatureDoesNotMatch")
        signed_headers = query.get("X-Goog-SignedHeaders", "")
        if signed_headers != "host":
            self.violation("signed headers %r (pydepot signs only host)" % signed_headers)
        date = query.get("X-Goog-Date", "")
        try:
            when = datetime.datetime.strptime(date, "%Y%m%dT%H%M%SZ").replace(
                tzinfo=datetime.timezone.utc).timestamp()
            expires = int(query.get("X-Goog-Expires", ""))
        except ValueError:
            self.violation("bad X-Goog-Date or X-Goog-Expires")
            raise StandinError(400, "bad signed URL")
        if not 1 <= expires <= 604800:
            self.violation("X-Goog-Expires %d outside 1..604800" % expires)
        if scope != date[:8] + "/auto/storage/goog4_request":
            self.violation("credential scope %r" % scope)
        canonical_request = "\n".join([
            "GET", path, "&".join("%s=%s" % kv for kv in canonical),
            "host:%s" % self.headers.get("Host", ""), "", "host", "UNSIGNED-PAYLOAD"])
        string_to_sign = "\n".join([
            "GOOG4-RSA-SHA256", date, scope,
            hashlib.sha256(canonical_request.encode()).hexdigest()])
        try:
            signature_bytes = bytes.fromhex(signature or "")
        except ValueError:
            signature_bytes = b""
        if not rs256_verify(account["public"], string_to_sign.encode(), signature_bytes):
            raise StandinError(403, "The request signature we calculated does not match the "
                                    "signature you provided.", "SignatureDoesNotMatch")
        if time.time() > when + expires:
            raise StandinError(400, "Request has expired", "ExpiredToken")
        if time.time() < when - 60:
            raise StandinError(400, "Request is not yet valid", "RequestNotValidYet")
        bucket, _, name = path[1:].partition("/")
        self.check_name_encoding(name.replace("/", ""))
        with STATE.lock:
            obj = self.find(bucket, urllib.parse.unquote(name), {})
        self.send(200, obj.data, obj.content_type,
                  {"x-goog-generation": str(obj.generation)})

    # --- control -----------------------------------------------------------------------------

    def control(self, path):
        body = self.read_body()
        if path == "/_standin/violations" and self.command == "GET":
            with STATE.lock:
                return self.send(200, list(STATE.violations))
        if path == "/_standin/violations/clear" and self.command == "POST":
            with STATE.lock:
                STATE.violations.clear()
            return self.send(200, [])
        if path == "/_standin/stats" and self.command == "GET":
            with STATE.lock:
                stats = dict(STATE.stats)
                stats["connections"] = STATE.connections
                stats["sessions"] = len(STATE.sessions)
            return self.send(200, stats)
        if path == "/_standin/log" and self.command == "GET":
            with STATE.lock:
                return self.send(200, list(STATE.log))
        if path == "/_standin/faults" and self.command == "POST":
            specs = json.loads(body or b"[]")
            with STATE.lock:
                STATE.faults = [f for f in STATE.faults if f.count > 0]
                STATE.faults.extend(Fault(spec) for spec in specs)
            return self.send(200, {"queued": len(specs)})
        if path == "/_standin/revoke-tokens" and self.command == "POST":
            with STATE.lock:
                STATE.revoked.update(STATE.tokens)
            return self.send(200, {})
        raise StandinError(404, "no such control endpoint")


def main():
    global STATE
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--bucket", action="append", default=[],
                        help="a bucket that exists (repeatable; default pydepot-test)")
    parser.add_argument("--require-auth", action="store_true",
                        help="storage requests need a bearer token issued here")
    parser.add_argument("--service-account-key", action="append", default=[],
                        help="a service-account JSON key whose public key verifies JWTs and "
                             "signed URLs (repeatable)")
    parser.add_argument("--authorized-user", action="append", default=[],
                        help="an authorized_user JSON file whose refresh token is accepted")
    parser.add_argument("--token-lifetime", type=int, default=3600,
                        help="expires_in of issued tokens, seconds")
    parser.add_argument("--page-size", type=int, default=1000,
                        help="most items per list page (GCS may return fewer than maxResults)")
    parser.add_argument("--exit-with-stdin", action="store_true",
                        help="exit when stdin reaches EOF (a test holds it, so the server dies "
                             "with the test even if the test crashes)")
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()

    STATE = State(args.bucket or ["pydepot-test"], args.token_lifetime)
    STATE.require_auth = args.require_auth
    STATE.page_size = args.page_size
    for path in args.service_account_key:
        with open(path) as f:
            key = json.load(f)
        STATE.service_accounts[key["client_email"]] = {
            "key_id": key.get("private_key_id"), "public": rsa_public_from_pem(key["private_key"])}
    for path in args.authorized_user:
        with open(path) as f:
            user = json.load(f)
        STATE.authorized_users[user["refresh_token"]] = user
    Handler.verbose = args.verbose

    ThreadingHTTPServer.daemon_threads = True
    ThreadingHTTPServer.request_queue_size = 128
    server = ThreadingHTTPServer((args.host, args.port), Handler)
    print("http://%s:%d" % (args.host, server.server_address[1]), flush=True)
    if args.exit_with_stdin:
        def watch_stdin():
            while sys.stdin.buffer.read(4096):
                pass
            os._exit(0)
        threading.Thread(target=watch_stdin, daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass


if __name__ == "__main__":
    main()
