#!/usr/bin/python3
"""HTTP/1.1 stub server for the http engine's unit tests (stdlib only).

Listens on 127.0.0.1, port 0, and prints the port on stdout as
"PORT <n>" once it accepts connections.  Keep-alive HTTP/1.1.

Endpoints:
  /bytes?n=N               N deterministic bytes: byte i = (i*131+17) % 251
  /latency?ms=M&n=N[&gate=K]
                           sleep M ms, then /bytes; with gate, first wait
                           (up to 30 s) until the peak concurrency since
                           /reset has reached K, so a concurrency test does
                           not depend on how fast the client ramps up
  /status?code=C           status C with a short text body
  /flaky?id=X&fail=K&kind=503|reset|truncate|stall&n=N
                           the first K requests for id X fail as kind,
                           later ones return N bytes (default 1000)
  /echo                    any method: the request body back, with
                           X-Echo-Method, X-Echo-Expect, X-Echo-Content-Type,
                           X-Echo-Custom (the X-Custom request header)
  /stats                   {"requests": total, "peak": peak concurrency,
                            "active": now}
  /reset                   zero the counters
"""
import json
import socket
import struct
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

LOCK = threading.Lock()
PEAK_CV = threading.Condition(LOCK)
STATE = {"requests": 0, "active": 0, "peak": 0, "flaky": {}}


def pattern(n):
    return bytes((i * 131 + 17) % 251 for i in range(n))


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, fmt, *args):  # keep the test log readable
        pass

    def handle_one_request(self):
        try:
            super().handle_one_request()
        except (ConnectionError, BrokenPipeError, socket.timeout):
            self.close_connection = True

    def do_GET(self):
        self.dispatch()

    def do_HEAD(self):
        self.dispatch()

    def do_PUT(self):
        self.dispatch()

    def do_POST(self):
        self.dispatch()

    def do_DELETE(self):
        self.dispatch()

    def dispatch(self):
        url = urlsplit(self.path)
        q = {k: v[0] for k, v in parse_qs(url.query).items()}
        with LOCK:
            STATE["requests"] += 1
            STATE["active"] += 1
            STATE["peak"] = max(STATE["peak"], STATE["active"])
            PEAK_CV.notify_all()
        try:
            body = self.read_body()
            route = {
                "/bytes": self.ep_bytes,
                "/latency": self.ep_latency,
                "/status": self.ep_status,
                "/flaky": self.ep_flaky,
                "/echo": self.ep_echo,
                "/stats": self.ep_stats,
                "/reset": self.ep_reset,
            }.get(url.path)
            if route is None:
                self.reply(404, b"no such endpoint\n")
            else:
                route(q, body)
        finally:
            with LOCK:
                STATE["active"] -= 1

    def read_body(self):
        n = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(n) if n else b""

    def reply(self, code, body, headers=()):
        self.send_response(code)
        for k, v in headers:
            self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def ep_bytes(self, q, body):
        self.reply(200, pattern(int(q.get("n", "0"))))

    def ep_latency(self, q, body):
        gate = int(q.get("gate", "0"))
        with PEAK_CV:
            PEAK_CV.wait_for(lambda: STATE["peak"] >= gate, timeout=30)
        time.sleep(int(q.get("ms", "0")) / 1000.0)
        self.ep_bytes(q, body)

    def ep_status(self, q, body):
        code = int(q.get("code", "200"))
        self.reply(code, ("status %d\n" % code).encode())

    def ep_stats(self, q, body):
        with LOCK:
            s = {k: STATE[k] for k in ("requests", "peak", "active")}
        self.reply(200, json.dumps(s).encode(),
                   [("Content-Type", "application/json")])

    def ep_reset(self, q, body):
        with LOCK:
            STATE["requests"] = 0
            STATE["peak"] = STATE["active"]
        self.reply(200, b"")

    def ep_echo(self, q, body):
        h = self.headers
        self.reply(200, body, [
            ("X-Echo-Method", self.command),
            ("X-Echo-Expect", h.get("Expect", "none")),
            ("X-Echo-Content-Type", h.get("Content-Type", "none")),
            ("X-Echo-Custom", h.get("X-Custom", "none")),
        ])

    def ep_flaky(self, q, body):
        key = q.get("id", "")
        with LOCK:
            seen = STATE["flaky"].get(key, 0)
            STATE["flaky"][key] = seen + 1
        n = int(q.get("n", "1000"))
        if seen >= int(q.get("fail", "0")):
            self.reply(200, pattern(n))
            return
        kind = q.get("kind", "503")
        if kind == "503":
            self.reply(503, b"<Error><Code>SlowDown</Code></Error>")
        else:
            self.fail_mid_body(kind, n)

    def fail_mid_body(self, kind, n):
        """Promise n bytes, send half, then break the promise."""
        self.send_response(200)
        self.send_header("Content-Length", str(n))
        self.end_headers()
        self.wfile.write(pattern(n)[: n // 2])
        self.wfile.flush()
        if kind == "stall":
            # Hold the connection silent; the client gives up first.
            time.sleep(30)
        elif kind == "reset":
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER,
                                       struct.pack("ii", 1, 0))
        self.close_connection = True


class Server(ThreadingHTTPServer):
    daemon_threads = True
    request_queue_size = 512
    allow_reuse_address = True


def main():
    srv = Server(("127.0.0.1", 0), Handler)
    sys.stdout.write("PORT %d\n" % srv.server_address[1])
    sys.stdout.flush()
    srv.serve_forever()


if __name__ == "__main__":
    main()
