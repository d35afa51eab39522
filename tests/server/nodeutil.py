"""Helpers for the tests that run Node programs from tests/node."""

import os
import shutil
import subprocess

import pytest

NODE_DIR = os.path.abspath(os.path.join(os.path.dirname(__file__), "..", "node"))


def require_node_modules():
    """Skip only when node/npm are absent; otherwise install the pinned packages."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if not node or not npm:
        pytest.skip("node and npm are not installed")
    modules = os.path.join(NODE_DIR, "node_modules")
    if not all(os.path.isdir(os.path.join(modules, m)) for m in ("ali-oss", "s3rver", "aws4")):
        done = subprocess.run([npm, "ci", "--no-audit", "--no-fund"], cwd=NODE_DIR,
                              capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, "npm ci failed:\n" + done.stdout + done.stderr
    return node
