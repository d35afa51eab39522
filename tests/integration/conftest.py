"""Fixtures shared by the integration tests: the bundled OSS server, the
built binaries, and a helper to read the server's request counters.

Every process started here is stopped by PID in teardown, also when the
test fails.
"""
import json
import os
import pathlib
import signal
import subprocess
import sys
import time
import urllib.request

import pytest

TOP = pathlib.Path(__file__).resolve().parents[2]
SERVER = TOP / "tests" / "server" / "ossserver.py"
PY = "/usr/bin/python3"
AK, SK = "testak", "testsk"
BUCKET = "test"


def build_dir():
    d = os.environ.get("OSSFS_BUILD_DIR")
    if d:
        return pathlib.Path(d)
    for name in ("build-test", "build"):
        if (TOP / name / "build.ninja").exists():
            return TOP / name
    pytest.fail("no build directory: set OSSFS_BUILD_DIR")


def binary(rel):
    path = build_dir() / rel
    if not path.exists():
        pytest.fail(f"{path} was not built")
    return str(path)


class Server:
    """A running ossserver.py on 127.0.0.1."""

    def __init__(self, root, extra_args=(), buckets=(BUCKET,), creds=None):
        self.root = pathlib.Path(root)
        port_file = self.root / "port"
        args = [PY, str(SERVER), "--root", str(self.root / "data"),
                "--port", "0", "--host", "127.0.0.1",
                "--port-file", str(port_file)]
        for b in buckets:
            args += ["--bucket", b]
        for c in creds or [f"{AK}:{SK}"]:
            args += ["--creds", c]
        args += list(extra_args)
        self.log = open(self.root / "server.log", "w")
        self.proc = subprocess.Popen(args, stdout=self.log,
                                     stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            if port_file.exists() and port_file.read_text().strip():
                self.port = int(port_file.read_text().strip())
                break
            if self.proc.poll() is not None:
                raise RuntimeError("server exited: " +
                                   (self.root / "server.log").read_text())
            time.sleep(0.05)
        else:
            self.stop()
            raise RuntimeError("server did not start")
        self.url = f"http://127.0.0.1:{self.port}"

    def admin(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(self.url + "/_admin/" + path, data=data,
                                     method="GET" if data is None else "POST")
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read().decode()
        try:
            return json.loads(text)
        except ValueError:
            return text

    def stats(self):
        return self.admin("stats")

    def reset(self):
        self.admin("reset", {})

    def requests(self, op):
        return self.stats()["requests"].get(op, 0)

    def stop(self):
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        self.log.close()


@pytest.fixture
def server(tmp_path):
    s = Server(tmp_path)
    yield s
    s.stop()


@pytest.fixture
def server_factory(tmp_path):
    started = []

    def make(*extra, **kw):
        d = tmp_path / f"srv{len(started)}"
        d.mkdir()
        s = Server(d, extra, **kw)
        started.append(s)
        return s

    yield make
    for s in started:
        s.stop()


def tool_env(ak=AK, sk=SK, token=None):
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OSS_", "ALIBABA_CLOUD_"))}
    if ak is not None:
        env["OSS_ACCESS_KEY_ID"] = ak
        env["OSS_ACCESS_KEY_SECRET"] = sk
    if token:
        env["OSS_SESSION_TOKEN"] = token
    return env


def run_tool(server_url, *args, sig="v4", env=None, check=True,
             input_bytes=None, extra=(), bucket=BUCKET):
    cmd = [binary("tests/tools/osstool"), "--url", server_url,
           "--bucket", bucket, "--sig", sig, "--region", "cn-hangzhou",
           *extra, *args]
    p = subprocess.run(cmd, env=env or tool_env(), input=input_bytes,
                       capture_output=True, timeout=300)
    if check and p.returncode != 0:
        raise AssertionError(f"{cmd} failed ({p.returncode}): "
                             f"{p.stdout[-2000:]!r} {p.stderr[-2000:]!r}")
    return p
