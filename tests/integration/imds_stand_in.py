"""A stand-in for the ECS instance metadata service (100.100.100.200), for
testing RAM-role credentials on 127.0.0.1.  Standard library only.

  PUT /latest/api/token                          -> a session token
      (needs X-aliyun-ecs-metadata-token-ttl-seconds)
  GET /latest/meta-data/ram/security-credentials/      -> the role name
  GET /latest/meta-data/ram/security-credentials/NAME  -> credential JSON
      {Code, AccessKeyId, AccessKeySecret, SecurityToken, Expiration,
       LastUpdated}

When a client asked for a session token, its GETs must carry it in
X-aliyun-ecs-metadata-token (hardened mode); a wrong one gets 401.

The credentials handed out are `current`; `rotate(...)` sets the ones the
next fetches get, so a test decides when a refresh starts to see new keys.
Counters record every request by kind.
"""
import http.server
import json
import threading
import time

CREDS_PATH = "/latest/meta-data/ram/security-credentials/"
TOKEN_PATH = "/latest/api/token"


def iso8601(ts):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(ts))


class Creds:
    def __init__(self, ak, sk, token, valid_s):
        self.ak, self.sk, self.token = ak, sk, token
        self.valid_s = valid_s

    def document(self):
        now = time.time()
        return {"Code": "Success", "AccessKeyId": self.ak,
                "AccessKeySecret": self.sk, "SecurityToken": self.token,
                "Expiration": iso8601(now + self.valid_s),
                "LastUpdated": iso8601(now)}


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep test output quiet
        pass

    def _send(self, status, body, ctype="text/plain"):
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        imds = self.server.imds
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path != TOKEN_PATH:
            return self._send(404, "not found")
        ttl = self.headers.get("X-aliyun-ecs-metadata-token-ttl-seconds")
        if not ttl or not ttl.isdigit():
            return self._send(400, "missing token ttl")
        with imds.lock:
            imds.counts["token"] += 1
            imds.session_tokens.add(f"imds-session-{imds.counts['token']}")
            token = f"imds-session-{imds.counts['token']}"
        self._send(200, token)

    def do_GET(self):
        imds = self.server.imds
        sent = self.headers.get("X-aliyun-ecs-metadata-token")
        with imds.lock:
            if sent is not None and sent not in imds.session_tokens:
                imds.counts["bad_token"] += 1
                return self._send(401, "bad metadata token")
            if sent is None and imds.require_token:
                imds.counts["bad_token"] += 1
                return self._send(401, "metadata token required")
            if self.path == CREDS_PATH:
                imds.counts["role"] += 1
                return self._send(200, imds.role)
            if self.path == CREDS_PATH + imds.role:
                imds.counts["creds"] += 1
                imds.counts["creds_with_token"] += sent is not None
                imds.handed_out.append(imds.current.ak)
                doc = json.dumps(imds.current.document())
                return self._send(200, doc, "application/json")
            imds.counts["other"] += 1
        self._send(404, "not found")


class ImdsStandIn:
    """Serve on 127.0.0.1 (a free port) from a thread until stop()."""

    def __init__(self, role, creds, require_token=False):
        self.role = role
        self.current = creds
        self.require_token = require_token
        self.lock = threading.Lock()
        self.counts = {"token": 0, "role": 0, "creds": 0,
                       "creds_with_token": 0, "bad_token": 0, "other": 0}
        self.session_tokens = set()
        self.handed_out = []
        self.httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0),
                                                     _Handler)
        self.httpd.daemon_threads = True
        self.httpd.imds = self
        self.port = self.httpd.server_address[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.thread = threading.Thread(target=self.httpd.serve_forever,
                                       kwargs={"poll_interval": 0.1},
                                       daemon=True)
        self.thread.start()

    def rotate(self, creds):
        with self.lock:
            self.current = creds

    def count(self, what):
        with self.lock:
            return self.counts[what]

    def stop(self):
        self.httpd.shutdown()
        self.httpd.server_close()
        self.thread.join(10)
