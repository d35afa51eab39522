"""Failures: a mount that cannot start says why and leaves nothing
mounted; a server that goes away mid-read gives the reader EIO (never a
hang) and the mount still unmounts; objects changed or deleted behind the
mount's back are seen once the TTLs have passed.

Nothing here is timed: hangs are caught by generous deadlines, changes by
polling until they show.
"""
import errno
import os
import subprocess
import threading

import pytest

from conftest import AK, SK
from mount_util import (DEADLINE_S, Bucket, Mount, clean_env, is_mounted,
                        key_env, mounts, needs_fuse, ossfs_bin,  # noqa: F401
                        wait_for)

pytestmark = needs_fuse

EXIT_CREDS, EXIT_REJECTED, EXIT_NETWORK = 3, 4, 5
SHORT_TTLS = ["attr_timeout=1", "negative_timeout=1", "dir_timeout=1"]


def start_fails(url, mnt, env, bucket="test", extra=()):
    """Run ossfs (in the background, as users do) and return its result;
    it must not leave anything mounted."""
    mnt.mkdir(exist_ok=True)
    opts = ",".join([f"url={url}", "region=cn-hangzhou", "retries=1"]
                    + list(extra))
    r = subprocess.run([ossfs_bin(), bucket, str(mnt), "-o", opts], env=env,
                       capture_output=True, text=True, timeout=DEADLINE_S)
    assert not is_mounted(mnt), "a failed start left a mount behind"
    assert str(mnt) not in open("/proc/mounts").read()
    assert r.stdout == ""
    assert SK not in r.stderr and "wrongsecret" not in r.stderr
    return r


def test_wrong_secret(server, tmp_path):
    """[S-START-1] A wrong access key secret is refused at start with a
    one-line reason and exit status 4."""
    r = start_fails(server.url, tmp_path / "mnt",
                    key_env(tmp_path, sk="wrongsecret"))
    assert r.returncode == EXIT_REJECTED, r.stderr
    assert "check the access key secret" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_wrong_key_id(server, tmp_path):
    """[S-START-1] An unknown access key id: exit status 4."""
    r = start_fails(server.url, tmp_path / "mnt",
                    key_env(tmp_path, ak="nosuchkey"))
    assert r.returncode == EXIT_REJECTED, r.stderr
    assert "check the access key id" in r.stderr


def test_missing_bucket(server, tmp_path):
    """[S-START-1] A bucket that does not exist: exit status 4."""
    r = start_fails(server.url, tmp_path / "mnt", key_env(tmp_path),
                    bucket="no-such-bucket")
    assert r.returncode == EXIT_REJECTED, r.stderr
    assert "bucket 'no-such-bucket' does not exist" in r.stderr


def test_unreachable_endpoint(tmp_path):
    """[S-START-1] Nothing listens at the endpoint: exit status 5, with
    the URL in the message."""
    r = start_fails("http://127.0.0.1:9", tmp_path / "mnt",
                    key_env(tmp_path))
    assert r.returncode == EXIT_NETWORK, r.stderr
    assert "connection refused by http://127.0.0.1:9" in r.stderr


def test_world_readable_passwd_file(server, tmp_path):
    """[S-START-1] [S-CRED-2] A passwd file others can read is refused
    (exit status 3) with the chmod that fixes it; its secret is never
    printed."""
    pw = tmp_path / "passwd"
    pw.write_text(f"test:{AK}:{SK}\n")
    pw.chmod(0o644)
    r = start_fails(server.url, tmp_path / "mnt", clean_env(tmp_path),
                    extra=[f"passwd_file={pw}"])
    assert r.returncode == EXIT_CREDS, r.stderr
    assert f"passwd file {pw} is readable by others" in r.stderr
    assert f"chmod 600 {pw}" in r.stderr


def test_server_stops_mid_read(server, mounts):
    """[S-READ-5] [S-ERR-1] The server dies while a read is waiting for
    its bytes: the reader gets EIO (not a hang) and the mount still
    unmounts cleanly."""
    size = 8 << 20
    data = os.urandom(size)
    Bucket(server).put("big.bin", data)
    m = mounts(server, options=["retries=1", "connect_timeout=5"],
               allow=[])
    path = m.mnt / "big.bin"
    assert os.stat(path).st_size == size
    # Every GET from now on sends part of its body and stalls (the read
    # and any read-ahead alike, whichever reaches the server first); then
    # the server goes.
    server.admin("config", {"stall_s": 3600})
    server.admin("faults", {"rules": [{"op": "GetObject", "kind": "stall",
                                       "count": 100000}]})
    server.reset()
    outcome = {}

    def reader():
        try:
            fd = os.open(path, os.O_RDONLY)
            try:
                outcome["data"] = os.pread(fd, 1 << 20, 0)
            finally:
                os.close(fd)
        except OSError as e:
            outcome["errno"] = e.errno

    t = threading.Thread(target=reader, daemon=True)
    t.start()
    wait_for(lambda: server.stats()["faults_injected"] >= 1,
             "the stalled GET to reach the server")
    server.stop()
    t.join(DEADLINE_S)
    assert not t.is_alive(), "the read hung after the server stopped"
    assert outcome.get("errno") == errno.EIO, outcome.keys()
    # The mount itself is alive and answers from its caches...
    assert os.stat(path).st_size == size
    # ...and unmounts (the fixture checks it, and the daemon's exit 0).
    assert m.unmount() == []


def test_server_down_metadata_gives_eio(server, mounts):
    """[S-ERR-1] With the server gone, a lookup or listing that needs it
    fails with EIO after the retries (not a hang, not a transport errno
    such as ECONNREFUSED), while what the caches hold still answers."""
    Bucket(server).put_many([("seen", b"s"), ("d/unseen", b"u")])
    m = mounts(server, options=["retries=1", "connect_timeout=5"])
    assert (m.mnt / "seen").read_bytes() == b"s"
    server.stop()
    for op in (lambda: os.stat(m.mnt / "never-looked-up"),
               lambda: os.listdir(m.mnt / "d")):
        with pytest.raises(OSError) as e:
            op()
        assert e.value.errno == errno.EIO, e.value
    assert os.stat(m.mnt / "seen").st_size == 1
    assert m.unmount() == []


@pytest.mark.parametrize("kind", ["500", "503"])
def test_failing_server_gives_eio(server, mounts, kind):
    """[S-ERR-1] A server that keeps answering 500 (InternalError) or 503
    (ServiceUnavailable, throttling) past the retries: reads and lookups
    fail with EIO.  Never EAGAIN: read(2) and stat(2) on a file system
    do not mean "try again" by it, and Python's read() would take it for
    "no data yet" and return None."""
    Bucket(server).put_many([("a", b"aaa"), ("b", b"bbb")])
    m = mounts(server, options=["retries=1"])
    assert os.stat(m.mnt / "a").st_size == 3
    server.admin("faults", {"rules": [
        {"op": op, "kind": kind, "count": 1000}
        for op in ("GetObject", "ListObjectsV2", "HeadObject")]})
    fd = os.open(m.mnt / "a", os.O_RDONLY)
    try:
        with pytest.raises(OSError) as e:
            os.pread(fd, 3, 0)
        assert e.value.errno == errno.EIO, e.value
    finally:
        os.close(fd)
    with pytest.raises(OSError) as e:
        os.stat(m.mnt / "b")
    assert e.value.errno == errno.EIO, e.value
    server.admin("faults", {"rules": []})
    assert (m.mnt / "b").read_bytes() == b"bbb"


def test_refused_credentials_give_eacces(server, mounts):
    """[S-ERR-2] When the server stops accepting the mount's keys, lookups
    and reads that need it fail with EACCES."""
    Bucket(server).put_many([("a", b"aaa"), ("b", b"bbb")])
    m = mounts(server)
    assert os.stat(m.mnt / "a").st_size == 3
    server.admin("creds", {"creds": ["someoneelse:theirsecret"]})
    with pytest.raises(PermissionError):
        os.stat(m.mnt / "b")
    with pytest.raises(PermissionError):
        (m.mnt / "a").read_bytes()


@pytest.mark.parametrize("kind,code", [("archived", "InvalidObjectState"),
                                       ("403", "AccessDenied")])
def test_refused_read_is_logged(server, mounts, kind, code):
    """[S-ERR-3] A GET the server refuses with 403 (an archived object not
    restored, or no permission) fails the read with EACCES; the log names
    the object and the server's answer, with a hint for archived objects,
    and no secret.  The other files of the directory still read."""
    Bucket(server).put_many([("cold/a", b"aaa"), ("cold/b", b"bbb")])
    m = mounts(server)
    server.admin("faults", {"rules": [{"op": "GetObject", "kind": kind,
                                       "count": 1000, "key_prefix": "cold/a"}]})
    try:
        with pytest.raises(PermissionError):
            (m.mnt / "cold" / "a").read_bytes()
        assert (m.mnt / "cold" / "b").read_bytes() == b"bbb"
    finally:
        server.admin("faults", {"rules": []})
    lines = [line for line in m.output().splitlines()
             if 'read of "cold/a" failed: ' in line]
    assert lines, m.output()
    assert " warn: " in lines[0]
    assert f"failed: {code}: " in lines[0] and "HTTP 403" in lines[0]
    assert "request id " in lines[0]
    assert ("the object is archived: restore it" in lines[0]) == (
        kind == "archived")
    assert SK not in m.output()
    assert m.finish() == []


def test_deleted_object_gives_enoent_after_ttl(server, mounts):
    """[S-CACHE-4] [S-CONSIST-1] An object deleted behind the mount's back
    is ENOENT (stat, open, and gone from its directory) once the TTLs
    have passed."""
    bucket = Bucket(server)
    bucket.put_many([("d/doomed.txt", b"bye"), ("d/stays.txt", b"hi")])
    m = mounts(server, options=SHORT_TTLS)
    path = m.mnt / "d" / "doomed.txt"
    assert path.read_bytes() == b"bye"
    assert sorted(os.listdir(m.mnt / "d")) == ["doomed.txt", "stays.txt"]
    bucket.delete("d/doomed.txt")

    def gone():
        try:
            os.stat(path)
            return False
        except FileNotFoundError:
            return True

    wait_for(gone, "the deleted object to disappear from the mount")
    with pytest.raises(FileNotFoundError):
        open(path, "rb")
    wait_for(lambda: os.listdir(m.mnt / "d") == ["stays.txt"],
             "the directory listing to drop the deleted object")


def test_changed_object_seen_after_ttl(server, mounts):
    """[S-CACHE-4] [S-CONSIST-1] [S-CONSIST-2] An object overwritten behind
    the mount's back shows its new size and bytes once the attribute TTL
    has passed, including to a file opened again (the kernel page cache is
    dropped when the ETag changed)."""
    bucket = Bucket(server)
    bucket.put("f.txt", b"version one")
    m = mounts(server, options=SHORT_TTLS)
    path = m.mnt / "f.txt"
    assert path.read_bytes() == b"version one"
    assert path.read_bytes() == b"version one"  # kept page cache
    new = b"the second version, longer"
    bucket.put("f.txt", new)
    wait_for(lambda: os.stat(path).st_size == len(new),
             "the new size to show")
    wait_for(lambda: path.read_bytes() == new, "the new bytes to show")


def test_new_object_seen_after_dir_ttl(server, mounts):
    """[S-CACHE-3] [S-CONSIST-1] An object created behind the mount's back
    appears in its directory once the listing TTL has passed, and a name
    that was missing is found once the negative TTL has passed."""
    bucket = Bucket(server)
    bucket.put("d/old", b"o")
    m = mounts(server, options=SHORT_TTLS)
    assert os.listdir(m.mnt / "d") == ["old"]
    with pytest.raises(FileNotFoundError):
        os.stat(m.mnt / "late")
    bucket.put_many([("d/new", b"n"), ("late", b"l")])
    wait_for(lambda: sorted(os.listdir(m.mnt / "d")) == ["new", "old"],
             "the new object to be listed")
    wait_for(lambda: os.path.exists(m.mnt / "late"),
             "the once-missing name to be found")


def test_background_daemon_serves_and_unmounts(server, mounts):
    """[S-START-2] Without -f the command returns once the mount is usable,
    the daemon serves from the background, and `fusermount3 -u` ends it."""
    Bucket(server).put("bg.txt", b"background")
    m = mounts(server, foreground=False)
    assert m.pids, "no daemon found for the mount"
    assert (m.mnt / "bg.txt").read_bytes() == b"background"
    assert m.unmount() == []
    assert not is_mounted(m.mnt)


def test_sigterm_unmounts(server, tmp_path):
    """[S-START-2] SIGTERM to the daemon unmounts and ends it with status
    0, leaving no dead mount behind."""
    work = tmp_path / "w"
    work.mkdir()
    m = Mount(server.url, work / "mnt", work, env=key_env(work))
    m.start()
    try:
        assert os.path.isdir(m.mnt)
        for pid in m.pids:
            os.kill(pid, 15)
        wait_for(lambda: not is_mounted(m.mnt), "SIGTERM to unmount")
    finally:
        problems = m.finish()
    assert problems == []
