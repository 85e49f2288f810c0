"""A local webhook receiver for the end-to-end tests: verifies every request with the stock
Standard Webhooks library from PyPI (`standardwebhooks`), can fail on purpose (the first N
attempts of chosen event types, or always, or slowly), and records what it got and answered."""

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from standardwebhooks.webhooks import Webhook, WebhookVerificationError


class Receiver:
    def __init__(self):
        self.secrets = {}  # path -> whsec_ secret
        self.fail_first = {}  # (path, event type) -> attempts to refuse with 500
        self.always_fail = set()  # paths that always answer 503
        self.delay = {}  # path -> seconds to wait before answering
        self.attempts = []  # every request: path, id, type, status, verified, at
        self.delivered = []  # accepted (2xx) and verified: path, id, type, data, at
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.handle(self, body)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()

    def handle(self, h, body):
        path = h.path
        headers = {k: v for k, v in h.headers.items()}
        secret = self.secrets.get(path)
        payload, verified = None, False
        if secret:
            try:
                payload = Webhook(secret).verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
        else:
            try:
                payload = json.loads(body)
            except ValueError:
                payload = None
        etype = (payload or {}).get("type") if isinstance(payload, dict) else None
        with self.lock:
            key = (path, etype)
            if secret and not verified:
                status = 400
            elif path in self.always_fail:
                status = 503
            elif self.fail_first.get(key, 0) > 0:
                self.fail_first[key] -= 1
                status = 500
            else:
                status = 200
            received_at = time.time()
        if self.delay.get(path):
            time.sleep(self.delay[path])
        with self.lock:
            self.attempts.append({"path": path, "id": headers.get("webhook-id"), "type": etype, "status": status, "verified": verified,
                                  "at": received_at, "answered_at": time.time()})
            if status == 200:
                self.delivered.append({"path": path, "id": headers.get("webhook-id"), "type": etype, "data": (payload or {}).get("data") if isinstance(payload, dict) else None,
                                       "body": payload, "at": received_at})
        h.send_response(status)
        h.send_header("content-length", "2")
        h.end_headers()
        h.wfile.write(b"ok")

    def got(self, path, etype=None):
        with self.lock:
            return [d for d in self.delivered if d["path"] == path and (etype is None or d["type"] == etype)]

    def tries(self, path):
        with self.lock:
            return [a for a in self.attempts if a["path"] == path]
