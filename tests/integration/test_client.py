"""The C client (oss/ over http/ and auth/) against the bundled server and
against s3rver, driven through tests/tools/osstool.

Assertions are on bytes and on the server's request counters, never on
elapsed time.
"""
import errno
import os
import pathlib
import shutil
import signal
import subprocess
import time

import pytest

from conftest import AK, SK, TOP, run_tool, tool_env

TRICKY = [
    "plain.txt",
    "dir/with space.txt",
    "dir/unicodé-文件.bin",
    "dir/pct%20and+plus#hash?q&amp.txt",
    "dir/sub/deep.txt",
    "x" * 200 + "/" + "y" * 250,
]


def put_bytes(url, key, data, tmp_path, sig="v4", **kw):
    src = tmp_path / "upload.bin"
    src.write_bytes(data)
    run_tool(url, "put", key, str(src), sig=sig, **kw)


@pytest.mark.parametrize("sig", ["v4", "v1", "s3"])
def test_roundtrip(server_factory, tmp_path, sig):
    srv = server_factory("--min-part-size", "1024")
    url = srv.url
    payload = os.urandom(300_000)
    for key in TRICKY:
        put_bytes(url, key, payload[:1000] + key.encode(), tmp_path, sig=sig)
    for key in TRICKY:
        got = run_tool(url, "get", key, sig=sig).stdout
        assert got == payload[:1000] + key.encode()

    put_bytes(url, "big.bin", payload, tmp_path, sig=sig)
    head = run_tool(url, "head", "big.bin", sig=sig).stdout.decode()
    assert "size 300000" in head
    part = run_tool(url, "get", "big.bin", "1000", "5000", sig=sig).stdout
    assert part == payload[1000:6000]
    # A range that starts past the end reads as empty, not as an error.
    assert run_tool(url, "get", "big.bin", "400000", "10", sig=sig).stdout == b""

    listing = run_tool(url, "ls", "dir/", "/", sig=sig).stdout.decode()
    lines = sorted(l.split("\t")[2] for l in listing.splitlines())
    assert lines == sorted(["dir/with space.txt", "dir/unicodé-文件.bin",
                            "dir/pct%20and+plus#hash?q&amp.txt", "dir/sub/"])

    run_tool(url, "cp", "big.bin", "copy/of big.bin", sig=sig)
    assert run_tool(url, "get", "copy/of big.bin", sig=sig).stdout == payload

    src = tmp_path / "mp.bin"
    src.write_bytes(payload)
    out = run_tool(url, "mpu", "multi part.bin", str(src), "65536",
                   sig=sig).stdout.decode()
    assert "parts 5" in out
    assert run_tool(url, "get", "multi part.bin", sig=sig).stdout == payload

    run_tool(url, "symlink", "link to plain", "plain.txt", sig=sig)
    target = run_tool(url, "readlink", "link to plain", sig=sig).stdout
    assert target.decode().strip() == "plain.txt"

    run_tool(url, "rm", "copy/of big.bin", sig=sig)
    run_tool(url, "rm", "plain.txt", "multi part.bin", sig=sig)
    missing = run_tool(url, "head", "plain.txt", sig=sig, check=False)
    assert missing.returncode == 1
    assert f"errno={errno.ENOENT}" in missing.stdout.decode()
    assert "NoSuchKey" in missing.stdout.decode()
    run_tool(url, "probe", sig=sig)


def test_paged_listing(server, tmp_path):
    run_tool(server.url, "putmany", "flat/k", "2500")
    server.reset()
    out = run_tool(server.url, "ls", "flat/", "/")
    keys = [l.split("\t")[2] for l in out.stdout.decode().splitlines()]
    assert keys == [f"flat/k{i:05d}" for i in range(2500)]
    # 2,500 keys are 3 pages of at most 1,000.
    assert server.stats()["total"] == 3


def test_500_gets_run_concurrently(server, tmp_path):
    data = os.urandom(64 * 1024)
    put_bytes(server.url, "obj", data, tmp_path)
    (tmp_path / "expect").write_bytes(data)
    server.admin("config", {"latency_ms": 50})
    server.reset()
    out = run_tool(server.url, "getmany", "obj", "500",
                   str(tmp_path / "expect")).stdout.decode()
    assert "ok 500" in out and "bad 0" in out
    stats = server.stats()
    assert stats["requests"]["GetObject"] == 500
    print("peak concurrent requests at the server:", stats["peak_concurrent"])
    assert stats["peak_concurrent"] >= 48


def test_500_gets_survive_503_and_resets(server, tmp_path):
    data = os.urandom(256 * 1024)
    put_bytes(server.url, "obj", data, tmp_path)
    (tmp_path / "expect").write_bytes(data)
    server.admin("faults", {"rate": 0.3, "kinds": ["503", "reset"],
                            "ops": ["GetObject"], "seed": 7})
    server.reset()
    out = run_tool(server.url, "getmany", "obj", "500",
                   str(tmp_path / "expect"),
                   extra=("--attempts", "10")).stdout.decode()
    assert "ok 500" in out and "bad 0" in out
    stats = server.stats()
    print("faults injected:", stats["faults_injected"],
          "GETs:", stats["requests"]["GetObject"])
    assert stats["faults_injected"] >= 50
    assert stats["requests"]["GetObject"] == 500 + stats["faults_injected"]


def test_403_is_eacces_after_one_attempt(server, tmp_path):
    put_bytes(server.url, "obj", b"x", tmp_path)
    server.reset()
    p = run_tool(server.url, "head", "obj", env=tool_env(AK, "wrong-secret"),
                 check=False)
    assert p.returncode == 1
    text = p.stdout.decode()
    assert f"errno={errno.EACCES}" in text
    assert "wrong-secret" not in text + p.stderr.decode()
    assert server.stats()["total"] == 1


def test_missing_bucket(server):
    p = run_tool(server.url, "probe", bucket="nosuchbucket", check=False)
    assert p.returncode == 1
    assert "NoSuchBucket" in p.stdout.decode()


def test_unreachable_endpoint():
    # Port 9 on loopback: nothing listens; connection refused, retried,
    # then reported.
    p = run_tool("http://127.0.0.1:9", "probe", check=False,
                 extra=("--attempts", "2"))
    assert p.returncode == 1
    assert f"errno={errno.ECONNREFUSED}" in p.stdout.decode()


@pytest.fixture
def s3rver(tmp_path):
    node = shutil.which("node")
    script = TOP / "tests" / "node" / "s3rver_start.js"
    if not (TOP / "tests" / "node" / "node_modules" / "s3rver").exists():
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"],
                       cwd=TOP / "tests" / "node", check=True)
    proc = subprocess.Popen([node, str(script), "0", str(tmp_path / "s3data"),
                             "test"], stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening on "), line
        yield f"http://127.0.0.1:{line.split()[-1]}"
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_s3_mode_against_s3rver(s3rver, tmp_path):
    env = tool_env("S3RVER", "S3RVER")
    extra = ("--region", "us-east-1")

    def tool(*a, **kw):
        return run_tool(s3rver, *a, sig="s3", env=env, extra=extra, **kw)

    payload = os.urandom(12 * 1024 * 1024)
    for key in TRICKY[:5]:
        put_bytes(s3rver, key, key.encode() * 3, tmp_path, sig="s3", env=env,
                  extra=extra)
        assert tool("get", key).stdout == key.encode() * 3
    put_bytes(s3rver, "big.bin", payload, tmp_path, sig="s3", env=env,
              extra=extra)
    assert "size %d" % len(payload) in tool("head", "big.bin").stdout.decode()
    assert tool("get", "big.bin", "100", "1000").stdout == payload[100:1100]
    listing = tool("ls", "dir/", "/").stdout.decode()
    assert "dir/sub/" in listing and "dir/with space.txt" in listing
    tool("cp", "big.bin", "copy.bin")
    assert tool("get", "copy.bin").stdout == payload
    src = tmp_path / "mp.bin"
    src.write_bytes(payload)
    assert "parts 3" in tool("mpu", "mp.bin", str(src),
                             str(5 * 1024 * 1024)).stdout.decode()
    assert tool("get", "mp.bin").stdout == payload
    tool("rm", "copy.bin", "mp.bin")
    assert tool("head", "copy.bin", check=False).returncode == 1
    # s3rver checks the access key id but not V4 signatures (its source
    # says so); our own server checks those in test_roundtrip[s3].
    bad = run_tool(s3rver, "head", "big.bin", sig="s3",
                   env=tool_env("NOSUCHKEY", "S3RVER"), extra=extra,
                   check=False)
    assert f"errno={errno.EACCES}" in bad.stdout.decode()
