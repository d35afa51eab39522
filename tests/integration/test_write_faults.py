"""Nothing written is lost: uploads through injected faults (503s,
connection resets), a server that goes away for a while, unmounting with
uploads pending, and a daemon killed with kill -9.

No test waits a fixed time: each waits for a condition (an object at the
server, the daemon's exit) with a generous deadline.
"""
import errno
import os
import signal
import stat
import subprocess
import time

import pytest

from conftest import AK, BUCKET, PY, SERVER, SK
from mount_util import Bucket, mounts, needs_fuse, wait_for  # noqa: F401

pytestmark = needs_fuse
UPLOAD_FAILED = [r"upload of .* failed", r"could not be uploaded"]


def faults(server, rules):
    server.admin("faults", {"rules": rules, "rate": 0})


def staged_files(staging):
    return sorted(p.name for p in staging.rglob("*.data"))


def test_unmount_waits_for_pending_uploads(server, mounts):
    """[S-WRITE-6] Unmounting waits for every pending upload, however long
    the quiet period, and logs that it is waiting."""
    m = mounts(server, options=["upload_delay=3600"])
    b = Bucket(server)
    files = {f"f{i}": os.urandom(1000 + i) for i in range(5)}
    for name, data in files.items():
        (m.mnt / name).write_bytes(data)
    assert all(b.head(n) is None for n in files)
    assert m.unmount() == []
    for name, data in files.items():
        assert b.get(name) == data
    assert "waiting for 5 pending upload(s)" in m.output()
    assert staged_files(m.workdir / "staging") == []


def test_sigterm_waits_for_pending_uploads(server, mounts):
    """[S-WRITE-6] SIGTERM to the daemon unmounts and also waits for the
    pending uploads before it exits with status 0."""
    m = mounts(server, options=["upload_delay=3600"])
    b = Bucket(server)
    (m.mnt / "t").write_bytes(b"term")
    m.proc.send_signal(signal.SIGTERM)
    assert m.proc.wait(60) == 0
    assert b.get("t") == b"term"


def test_retries_through_503(server, mounts):
    """[S-WRITE-7] [S-WRITE-6] An upload the server refuses with 503 fails
    fsync with EIO, is logged with the file's key, keeps reading back,
    and is retried until it is stored."""
    m = mounts(server, options=["retries=0"], allow=UPLOAD_FAILED)
    b = Bucket(server)
    faults(server, [{"op": "PutObject", "kind": "503", "count": 2}])
    fd = os.open(m.mnt / "retried", os.O_CREAT | os.O_RDWR, 0o644)
    try:
        os.write(fd, b"precious")
        with pytest.raises(OSError) as e:
            os.fsync(fd)
        assert e.value.errno == errno.EIO
        assert os.pread(fd, 8, 0) == b"precious"
        for _ in range(10):  # until an attempt gets through
            try:
                os.fsync(fd)
                break
            except OSError as again:
                assert again.errno == errno.EIO
    finally:
        os.close(fd)
    assert b.get("retried") == b"precious"
    assert 'upload of "retried" failed' in m.output()


def test_resets_during_multipart(server, mounts):
    """[S-WRITE-7] Connections reset in the middle of parts are retried:
    the object is stored intact."""
    m = mounts(server, options=["multipart_threshold=300K",
                                "part_size=102400"])
    b = Bucket(server)
    faults(server, [{"op": "UploadPart", "kind": "reset", "count": 3},
                    {"op": "PutObject", "kind": "reset", "count": 1}])
    big, small = os.urandom(700000), os.urandom(5000)
    for name, data in (("big", big), ("small", small)):
        fd = os.open(m.mnt / name, os.O_CREAT | os.O_WRONLY, 0o644)
        os.write(fd, data)
        os.fsync(fd)
        os.close(fd)
    assert b.get("big") == big and b.get("small") == small
    assert server.stats()["faults_injected"] >= 4


def restart_server(server):
    """Start the server again on the same port and data."""
    args = [PY, str(SERVER), "--root", str(server.root / "data"),
            "--port", str(server.port), "--host", "127.0.0.1",
            "--bucket", BUCKET, "--creds", f"{AK}:{SK}"]
    server.log = open(server.root / "server2.log", "w")
    server.proc = subprocess.Popen(args, stdout=server.log,
                                   stderr=subprocess.STDOUT)

    def up():
        try:
            return server.admin("health") == "ok"
        except OSError:
            return False
    wait_for(up, "the server to come back")


def test_server_down_for_a_while(server, mounts):
    """[S-WRITE-7] [S-WRITE-6] With the server gone, fsync fails with EIO
    and the file stays readable; once the server is back the retries
    store it, without anyone touching the file again."""
    m = mounts(server, options=["retries=1"], allow=UPLOAD_FAILED)
    b = Bucket(server)
    os.listdir(m.mnt)
    server.stop()
    fd = os.open(m.mnt / "while-down", os.O_CREAT | os.O_WRONLY, 0o600)
    os.write(fd, b"kept")
    with pytest.raises(OSError) as e:
        os.fsync(fd)
    assert e.value.errno == errno.EIO
    os.close(fd)
    assert (m.mnt / "while-down").read_bytes() == b"kept"
    restart_server(server)
    wait_for(lambda: b.head("while-down"), "the upload after the outage")
    assert b.get("while-down") == b"kept"
    assert int(b.meta("while-down")["mode"]) == stat.S_IFREG | 0o600


def test_kill_9_then_next_mount_uploads(server, mounts):
    """[S-WRITE-8] A daemon killed with kill -9 before uploading leaves its
    staged files and their journal; the next mount of the same bucket
    uploads them with the names and metadata they had."""
    m = mounts(server, options=["upload_delay=3600",
                                "multipart_threshold=300K",
                                "part_size=102400"])
    b = Bucket(server)
    staging = m.workdir / "staging"
    big = os.urandom(500000)
    (m.mnt / "plain").write_bytes(b"plain")
    # Written out of order: a file written in order past the threshold
    # streams its parts and is stored at close whatever upload_delay says,
    # so whether it was still staged when counted below was a race (lost
    # under valgrind).
    fd = os.open(m.mnt / "big", os.O_WRONLY | os.O_CREAT, 0o644)
    os.pwrite(fd, big[250000:], 250000)
    os.pwrite(fd, big[:250000], 0)
    os.close(fd)
    (m.mnt / ".tmp").write_bytes(b"renamed")
    os.chmod(m.mnt / ".tmp", 0o600)
    os.utime(m.mnt / ".tmp", ns=(1, 1_600_000_000_000_000_042))
    os.rename(m.mnt / ".tmp", m.mnt / "final")
    os.mkdir(m.mnt / "d")
    (m.mnt / "d" / "inner").write_bytes(b"in")
    assert len(staged_files(staging)) == 4
    m.proc.send_signal(signal.SIGKILL)
    m.proc.wait(60)
    m.unmounted = True  # nothing left to do but the mount point
    subprocess.run(["fusermount3", "-u", "-z", str(m.mnt)],
                   capture_output=True)
    assert b.head("plain") is None and b.head("final") is None
    m2 = mounts(server, options=[f"staging_dir={staging}"])
    want = {"plain": b"plain", "big": big, "final": b"renamed",
            "d/inner": b"in"}
    for key in want:
        wait_for(lambda key=key: b.head(key), f"the recovered {key}")
    for key, data in want.items():
        assert b.get(key) == data
    meta = b.meta("final")
    assert int(meta["mode"]) == stat.S_IFREG | 0o600
    assert meta["mtime"] == "1600000000.000000042"
    assert b.head(".tmp") is None
    assert "recovered \"final\"" in m2.output()
    wait_for(lambda: staged_files(staging) == [], "staging to empty")
    assert (m2.mnt / "d" / "inner").read_bytes() == b"in"


def test_unmount_gives_up_and_next_mount_uploads(server, mounts):
    """[S-WRITE-6] [S-WRITE-8] A file that cannot be stored does not keep
    unmounting waiting for ever: after three failed attempts the daemon
    exits, naming the staging directory, and the file is uploaded by the
    next mount."""
    m = mounts(server, options=["retries=0", "upload_delay=3600"],
               allow=UPLOAD_FAILED)
    b = Bucket(server)
    staging = m.workdir / "staging"
    (m.mnt / "stuck").write_bytes(b"later")
    faults(server, [{"op": "PutObject", "kind": "503", "count": 1000}])
    assert m.unmount() == []
    assert "could not be uploaded" in m.output()
    assert b.head("stuck") is None
    assert len(staged_files(staging)) == 1
    faults(server, [])
    mounts(server, options=[f"staging_dir={staging}"])
    wait_for(lambda: b.head("stuck"), "the upload by the next mount")
    assert b.get("stuck") == b"later"


def test_kill_9_mid_multipart_next_mount_aborts_it(server, mounts):
    """[S-WRITE-8] A daemon killed with kill -9 while a large file was
    going up in parts leaves a journal naming its multipart upload; the
    next mount aborts that upload (no parts stay stored on the server)
    and uploads the staged file again."""
    m = mounts(server, options=["upload_delay=3600",
                                "multipart_threshold=300K",
                                "part_size=102400"])
    b = Bucket(server)
    staging = m.workdir / "staging"
    uploads = server.root / "data" / BUCKET / "uploads"
    data = os.urandom(400000)
    fd = os.open(m.mnt / "big", os.O_WRONLY | os.O_CREAT, 0o644)
    try:
        os.write(fd, data)
        wait_for(lambda: server.requests("UploadPart") >= 1,
                 "a part to go up while the file is open")
        m.proc.send_signal(signal.SIGKILL)
        m.proc.wait(60)
    finally:
        try:
            os.close(fd)
        except OSError:
            pass  # the daemon is gone
    m.unmounted = True
    subprocess.run(["fusermount3", "-u", "-z", str(m.mnt)],
                   capture_output=True)
    assert len(list(uploads.iterdir())) == 1
    assert b.head("big") is None
    m2 = mounts(server, options=[f"staging_dir={staging}"])
    wait_for(lambda: b.head("big"), "the recovered file")
    assert b.get("big") == data
    assert server.requests("AbortMultipartUpload") == 1
    assert list(uploads.iterdir()) == []
    assert "aborted the unfinished multipart upload" in m2.output()
