"""Stand-ins for the two Google services the worker reaches in production and this machine cannot:
the OAuth 2.0 token endpoint (https://oauth2.googleapis.com/token) and the front of the Firestore
REST API that checks access tokens. Both are local servers written here that speak the documented
contract; behind the front is the official Firestore emulator.

- `TokenServer`: the JWT bearer grant (RFC 7523) as Google documents it for service accounts. It
  verifies the RS256 assertion with PyJWT against the service account's public key, checks `aud`
  (this endpoint), `iss`, `scope` and the expiry (`exp` at most an hour after `iat`), and issues
  opaque access tokens that live `lifetime` seconds. `mode` makes it refuse (400 invalid_grant)
  or hang; `stop()` closes its port (unreachable) and `start()` opens the same port again.
- `AuthFront`: answers 401 UNAUTHENTICATED, as Firestore does, to a request whose bearer token this
  token server did not issue, has expired or was revoked (the emulator's `Bearer owner` shortcut
  included), and forwards the others to the emulator as its owner. It records which token each
  request carried."""

import http.client
import json
import secrets
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

SCOPE = "https://www.googleapis.com/auth/datastore"
GRANT = "urn:ietf:params:oauth:grant-type:jwt-bearer"


def service_account(token_uri, project="otp-sms-test"):
    """A fresh RSA key and the service-account JSON Google would hand out for it (PKCS#8 PEM)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()).decode()
    public_pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo).decode()
    email = f"otp-sms-worker@{project}.iam.gserviceaccount.com"
    sa = {"type": "service_account", "project_id": project, "private_key_id": "k1", "private_key": private_pem,
          "client_email": email, "client_id": "1", "token_uri": token_uri}
    return sa, public_pem


def read_body(handler):
    """The request body, sent with a length or chunked (workerd's fetch may do either)."""
    if "chunked" in handler.headers.get("transfer-encoding", "").lower():
        out = b""
        while True:
            size = int(handler.rfile.readline().split(b";")[0].strip() or b"0", 16)
            if size == 0:
                while handler.rfile.readline() not in (b"\r\n", b"\n", b""):
                    pass
                return out
            out += handler.rfile.read(size)
            handler.rfile.readline()
    return handler.rfile.read(int(handler.headers.get("content-length") or 0))


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True


class TokenServer:
    def __init__(self, port):
        self.port = port
        self.uri = f"http://127.0.0.1:{port}/token"
        self.public_pem = None
        self.client_email = None
        self.lifetime = 3600
        self.mode = "ok"  # "refuse" | "hang"
        self.issued = {}  # token -> {"issued_at", "expires_at", "claims"}
        self.exchanges = []  # (time, outcome) for every POST
        self._release = threading.Event()
        self._lock = threading.Lock()
        self._httpd = None

    def trust(self, public_pem, client_email):
        self.public_pem, self.client_email = public_pem, client_email

    def start(self):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def do_POST(self):
                body = read_body(self).decode()
                if owner.mode == "hang":
                    owner._note("hang")
                    owner._release.wait(60)
                    return
                status, reply = owner._exchange(urllib.parse.parse_qs(body))
                data = json.dumps(reply).encode()
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self._release.clear()
        self._httpd = _Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def stop(self):
        self._release.set()
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def _note(self, outcome):
        with self._lock:
            self.exchanges.append((time.time(), outcome))

    def _exchange(self, form):
        def refuse(why):
            self._note("refused: " + why)
            return 400, {"error": "invalid_grant", "error_description": why}

        if self.mode == "refuse":
            return refuse("Invalid JWT Signature.")
        if form.get("grant_type") != [GRANT] or len(form.get("assertion", [])) != 1:
            return refuse("grant_type must be the JWT bearer grant, with one assertion")
        try:
            claims = jwt.decode(form["assertion"][0], self.public_pem, algorithms=["RS256"], audience=self.uri,
                                issuer=self.client_email, options={"require": ["exp", "iat", "iss", "aud"]})
        except jwt.InvalidTokenError as e:
            return refuse(f"Invalid JWT: {e}")
        now = time.time()
        if claims.get("scope") != SCOPE:
            return refuse(f"scope {claims.get('scope')!r} is not the datastore scope")
        if claims["exp"] - claims["iat"] > 3600 or claims["iat"] > now + 60:
            return refuse("Invalid JWT: Token must be a short-lived token (60 minutes) and in a reasonable timeframe.")
        token = "ya29.test-" + secrets.token_urlsafe(24)
        with self._lock:
            self.issued[token] = {"issued_at": now, "expires_at": now + self.lifetime, "claims": claims}
        self._note("issued")
        return 200, {"access_token": token, "expires_in": self.lifetime, "token_type": "Bearer"}

    def issued_after(self, t):
        with self._lock:
            return {k: v for k, v in self.issued.items() if v["issued_at"] >= t}


class AuthFront:
    def __init__(self, port, tokens, target):
        """`target()` gives the emulator's host:port (read per request: the emulator starts later)."""
        self.port = port
        self.url = f"http://127.0.0.1:{port}"
        self.tokens = tokens
        self.target = target
        self.revoked = set()
        self.seen = []  # (time, token, method, path, status)
        self.counter_commits = set()  # indexes into `seen` of commits that write analytics counters only
        self._lock = threading.Lock()
        self._httpd = None

    def start(self):
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _handle(self):
                body = read_body(self)
                auth = self.headers.get("authorization", "")
                token = auth[len("Bearer "):] if auth.startswith("Bearer ") else None
                info = owner.tokens.issued.get(token)
                ok = info is not None and token not in owner.revoked and info["expires_at"] > time.time()
                if ok:
                    status, data = owner._forward(self.command, self.path, body)
                else:
                    status = 401
                    data = json.dumps({"error": {"code": 401, "status": "UNAUTHENTICATED",
                                                 "message": "Request had invalid authentication credentials. Expected OAuth 2 access token."}}).encode()
                with owner._lock:
                    if _writes_counters_only(self.path, body):
                        owner.counter_commits.add(len(owner.seen))
                    owner.seen.append((time.time(), token, self.command, self.path, status))
                self.send_response(status)
                self.send_header("content-type", "application/json")
                self.send_header("content-length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = do_PATCH = do_DELETE = _handle

        self._httpd = _Server(("127.0.0.1", self.port), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        return self

    def _forward(self, method, path, body):
        headers = {"authorization": "Bearer owner", "content-type": "application/json"}
        # The emulator drops a connection unanswered now and then just after it starts (its log
        # says it took it for HTTP/2): such a request was never handled, so it is sent again.
        for attempt in range(3):
            conn = http.client.HTTPConnection(self.target(), timeout=30)
            try:
                conn.request(method, path, body=body or None, headers=headers)
                resp = conn.getresponse()
                return resp.status, resp.read()
            except ConnectionError:
                if attempt == 2:
                    raise
            finally:
                conn.close()

    def stop(self):
        if self._httpd:
            self._httpd.shutdown()
            self._httpd.server_close()

    def seen_after(self, t):
        with self._lock:
            return [s for s in self.seen if s[0] >= t]

    def worker_tokens(self, after):
        """The tokens presented since `after` on anything but analytics counter commits: those of
        the worker's isolate and its Gate objects, not the tally objects'."""
        with self._lock:
            return {s[1] for i, s in enumerate(self.seen) if s[0] >= after and i not in self.counter_commits}

    def counter_tokens(self):
        """The tokens used only for commits of analytics counters: those of the `tally-N` Durable
        Objects, each an object with its own memory (so its own token)."""
        with self._lock:
            other = {s[1] for i, s in enumerate(self.seen) if i not in self.counter_commits}
            return {self.seen[i][1] for i in self.counter_commits} - other

    def revoke_all(self):
        self.revoked |= set(self.tokens.issued)


def _writes_counters_only(path, body):
    if not path.endswith(":commit"):
        return False
    try:
        writes = json.loads(body or b"{}").get("writes", [])
    except ValueError:
        return False
    names = [w.get("update", {}).get("name") or w.get("transform", {}).get("document") for w in writes]
    return bool(names) and all(n and "/documents/counters/" in n for n in names)
