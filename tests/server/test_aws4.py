"""The server's S3 V4 verifier against `aws4`, an independent npm signer."""

import os
import subprocess

import pytest

from conftest import OssServer
from nodeutil import NODE_DIR, require_node_modules


@pytest.fixture(scope="module")
def node():
    return require_node_modules()


def test_aws4_signed_requests_accepted(node, tmp_path):
    server = OssServer(tmp_path / "root", buckets=("aws4-bucket",))
    try:
        cmd = [node, os.path.join(NODE_DIR, "aws4_roundtrip.js"), "--endpoint",
               "http://127.0.0.1:%d" % server.port, "--bucket", "aws4-bucket"]
        done = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        print(done.stdout, done.stderr)
        assert done.returncode == 0, done.stdout + done.stderr
        stats = server.stats()
        assert stats["auth_schemes"] == {"s3v4": 6, "presign-s3": 1}
        assert stats["errors"] == {"SignatureDoesNotMatch": 1}
    finally:
        server.stop()
