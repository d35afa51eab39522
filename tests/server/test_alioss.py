"""Alibaba's own Node client (ali-oss) against the test server, V4 and V1."""

import os
import subprocess

import pytest

from conftest import OssServer
from nodeutil import NODE_DIR, require_node_modules

EXPECTED_OPS = {"PutObject", "GetObject", "HeadObject", "ListObjectsV2", "CopyObject",
                "DeleteObject", "DeleteMultipleObjects", "InitiateMultipartUpload",
                "UploadPart", "CompleteMultipartUpload", "PutSymlink", "GetSymlink"}


@pytest.fixture(scope="module")
def node():
    return require_node_modules()


@pytest.fixture(scope="module")
def ali_server(tmp_path_factory):
    server = OssServer(tmp_path_factory.mktemp("alioss") / "root", buckets=("ali-bucket",))
    yield server
    server.stop()


@pytest.mark.parametrize("sig,scheme", [("v4", "v4"), ("v1", "v1")])
def test_alioss_roundtrip(node, ali_server, sig, scheme):
    ali_server.admin("/_admin/reset", {})
    cmd = [node, os.path.join(NODE_DIR, "alioss_roundtrip.js"),
           "--endpoint", "http://127.0.0.1:%d" % ali_server.port, "--bucket", "ali-bucket",
           "--ak", "testak", "--sk", "testsk", "--region", "cn-hangzhou", "--sig", sig]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=300)
    print(done.stdout, done.stderr)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "all checks passed" in done.stdout
    stats = ali_server.stats()
    assert EXPECTED_OPS <= set(stats["requests"]), stats["requests"]
    assert stats["requests"]["UploadPart"] == 4          # 350 KiB in 100 KiB parts
    # every request but the deliberate wrong-secret one used the expected scheme
    assert stats["auth_schemes"] == {scheme: stats["total"] - 1}
    assert stats["errors"].get("SignatureDoesNotMatch") == 1
