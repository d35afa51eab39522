"""osssign.py's S3 V4 signing against s3rver, a server written elsewhere.

This checks that tests/node/s3rver_start.js works (the C client's S3 mode is
tested against it) and that requests built by osssign.py's S3 path-style
client are understood by a server written elsewhere.  s3rver does not verify
V4 signatures; test_aws4.py does that with an independent signer.
"""

import hashlib
import os
import signal
import subprocess

import pytest

import osssign
from nodeutil import NODE_DIR, require_node_modules


@pytest.fixture(scope="module")
def s3rver(tmp_path_factory):
    node = require_node_modules()
    directory = tmp_path_factory.mktemp("s3rver")
    proc = subprocess.Popen([node, os.path.join(NODE_DIR, "s3rver_start.js"), "0",
                             str(directory), "s3-bucket"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = proc.stdout.readline()
        assert line.startswith("listening on "), line + proc.stderr.read()
        yield int(line.split()[-1])
    finally:
        os.kill(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.kill(proc.pid, signal.SIGKILL)
            proc.wait()


def test_signed_put_get_against_s3rver(s3rver):
    c = osssign.Client(s3rver, ak="S3RVER", sk="S3RVER", sig="s3", style="path")
    body = os.urandom(100000)
    key = "dir/s3 key+ü.bin"
    r = c.request("PUT", "s3-bucket", key, body=body, headers=[("x-amz-meta-mode", "33188")])
    assert r.status == 200, r
    assert r.header("ETag") == '"%s"' % hashlib.md5(body).hexdigest()
    r = c.request("GET", "s3-bucket", key)
    assert (r.status, r.body) == (200, body)
    assert r.header("x-amz-meta-mode") == "33188"
    r = c.request("GET", "s3-bucket", "", query=[("list-type", "2"), ("prefix", "dir/")])
    assert r.status == 200 and b"s3 key" in r.body


def test_s3rver_refuses_unknown_access_key(s3rver):
    # s3rver 3.7.1 checks the access key id but does not recompute V4
    # signatures (its authentication middleware says so), so a wrong secret
    # would pass; an unknown key id is what it can refuse.
    c = osssign.Client(s3rver, ak="NOBODY", sk="S3RVER", sig="s3", style="path")
    r = c.request("GET", "s3-bucket", "dir/anything")
    assert r.status == 403 and b"InvalidAccessKeyId" in r.body
