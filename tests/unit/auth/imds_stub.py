#!/usr/bin/env python3
"""A stand-in for the ECS instance metadata service, for test_auth_provider.

Usage: imds_stub.py CONTROL_DIR

Listens on 127.0.0.1 on a free port and writes the port number to
CONTROL_DIR/port (atomically).  Python standard library only.

It serves the three calls of the RAM-role flow:
  PUT /latest/api/token                    -> a session token (IMDSv2)
  GET /latest/meta-data/ram/security-credentials/           -> "stub-role"
  GET /latest/meta-data/ram/security-credentials/stub-role  -> credential JSON

Each credential answer carries a new serial n: AccessKeyId "STS.id-n",
AccessKeySecret "stub-secret-n", SecurityToken "stub-token-n", valid for an
hour.  The test steers it with files in CONTROL_DIR, read on every request:
  no-token   the token call answers 404 (a service without IMDSv2)
  fail       credential calls answer 500
  bad-code   the credential JSON says Code "Failed"
  ttl        the next credential answer expires in this many seconds
             (the file is consumed by that answer)
Every request is appended to CONTROL_DIR/log as
  "METHOD PATH STATUS token|notoken"
so the test can count calls without depending on timing.

It exits on SIGTERM, when its parent goes away, or after ten minutes.
"""

import datetime
import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

TOKEN = "stub-imds-token"
ROLE = "stub-role"
CREDS_PATH = "/latest/meta-data/ram/security-credentials/"
LIFETIME_S = 600


class State:
    def __init__(self, ctl):
        self.ctl = ctl
        self.lock = threading.Lock()
        self.serial = 0

    def flag(self, name):
        return os.path.exists(os.path.join(self.ctl, name))

    def take_ttl(self):
        path = os.path.join(self.ctl, "ttl")
        try:
            with open(path) as f:
                ttl = int(f.read().strip())
            os.unlink(path)
            return ttl
        except (OSError, ValueError):
            return 3600

    def log(self, line):
        with self.lock, open(os.path.join(self.ctl, "log"), "a") as f:
            f.write(line + "\n")


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # quiet: the log file is the record
        pass

    def reply(self, status, body, ctype="text/plain"):
        # Logged before answering, so the client never sees an answer the
        # log does not show yet.
        token = self.headers.get("X-aliyun-ecs-metadata-token")
        mark = "token" if token == TOKEN else "notoken"
        self.server.state.log(f"{self.command} {self.path} {status} {mark}")
        data = body.encode()
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_PUT(self):
        st = self.server.state
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        if self.path != "/latest/api/token" or st.flag("no-token"):
            return self.reply(404, "not found")
        ttl = self.headers.get("X-aliyun-ecs-metadata-token-ttl-seconds", "")
        if not ttl.isdigit() or not 1 <= int(ttl) <= 21600:
            return self.reply(400, "bad ttl")
        return self.reply(200, TOKEN)

    def do_GET(self):
        st = self.server.state
        token = self.headers.get("X-aliyun-ecs-metadata-token")
        if token is not None and token != TOKEN:
            return self.reply(401, "bad token")
        if self.path == CREDS_PATH:
            return self.reply(200, ROLE)
        if self.path != CREDS_PATH + ROLE:
            return self.reply(404, "not found")
        if st.flag("fail"):
            return self.reply(500, "internal error")
        with st.lock:
            st.serial += 1
            n = st.serial
        expires = datetime.datetime.now(datetime.timezone.utc) + \
            datetime.timedelta(seconds=st.take_ttl())
        body = {
            "AccessKeyId": f"STS.id-{n}",
            "AccessKeySecret": f"stub-secret-{n}",
            "SecurityToken": f"stub-token-{n}",
            "Expiration": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "LastUpdated": "2024-01-01T00:00:00Z",
            "Code": "Failed" if st.flag("bad-code") else "Success",
        }
        return self.reply(200, json.dumps(body), "application/json")


def watchdog(parent):
    deadline = time.monotonic() + LIFETIME_S
    while time.monotonic() < deadline and os.getppid() == parent:
        time.sleep(0.5)
    os._exit(0)


def main():
    ctl = sys.argv[1]
    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    server.state = State(ctl)
    tmp = os.path.join(ctl, "port.tmp")
    with open(tmp, "w") as f:
        f.write(str(server.server_address[1]))
    os.replace(tmp, os.path.join(ctl, "port"))
    threading.Thread(target=watchdog, args=(os.getppid(),),
                     daemon=True).start()
    server.serve_forever()


if __name__ == "__main__":
    main()
