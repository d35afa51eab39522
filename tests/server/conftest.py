"""Fixtures that run ossserver.py as a subprocess on a free port."""

import os
import signal
import subprocess
import sys
import time

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import osssign  # noqa: E402

SERVER = os.path.join(HERE, "ossserver.py")
DEFAULT_BUCKETS = ("bucket-a", "bucket-b")
DEFAULT_CREDS = ("testak:testsk", "stsak:stssk:token-1")


class OssServer:
    """One ossserver.py process; always stop() it (by PID)."""

    def __init__(self, root, buckets=DEFAULT_BUCKETS, creds=DEFAULT_CREDS, extra=()):
        self.root = str(root)
        os.makedirs(self.root, exist_ok=True)
        port_file = os.path.join(self.root, "..", os.path.basename(self.root) + ".port")
        self.port_file = os.path.abspath(port_file)
        if os.path.exists(self.port_file):
            os.unlink(self.port_file)
        cmd = [sys.executable, SERVER, "--root", self.root, "--port", "0",
               "--port-file", self.port_file]
        for b in buckets:
            cmd += ["--bucket", b]
        for c in creds:
            cmd += ["--creds", c]
        cmd += list(extra)
        self.log_path = self.root + ".log"
        self.log = open(self.log_path, "wb")
        self.proc = subprocess.Popen(cmd, stdout=self.log, stderr=subprocess.STDOUT)
        self.port = self._wait_for_port()

    def _wait_for_port(self):
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: %s" % open(self.log_path).read())
            if os.path.exists(self.port_file):
                return int(open(self.port_file).read())
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("server did not start")

    def client(self, **kw):
        return osssign.Client(self.port, **kw)

    def admin(self, path, payload=None):
        return osssign.admin(self.port, path, payload)

    def stats(self):
        return self.admin("/_admin/stats")

    def reset_knobs(self):
        self.admin("/_admin/faults", {"rules": [], "rate": 0, "kinds": [], "ops": None})
        self.admin("/_admin/config", {"latency_ms": 0, "bandwidth_bps": 0, "stall_s": 60,
                                      "min_part_size": 102400, "clock_offset_s": 0,
                                      "allow_anonymous": False})
        self.admin("/_admin/creds", {"creds": list(DEFAULT_CREDS)})

    def stop(self):
        if self.proc.poll() is None:
            os.kill(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.kill(self.proc.pid, signal.SIGKILL)
                self.proc.wait()
        self.log.close()


@pytest.fixture(scope="module")
def oss_server(tmp_path_factory):
    server = OssServer(tmp_path_factory.mktemp("oss") / "root")
    yield server
    server.stop()


@pytest.fixture
def srv(oss_server):
    """The module's server with knobs, faults and credentials reset after the test."""
    yield oss_server
    oss_server.reset_knobs()


@pytest.fixture
def client(srv):
    c = srv.client()
    yield c
    c.close()
