"""Attributes through a real mount: where mode, owner, size and times come
from (listing, HEAD, x-oss-meta-*, defaults), inode numbers, and statfs.
"""
import email.utils
import os
import stat
import time

from mount_util import Bucket, mounts, needs_fuse, wait_for  # noqa: F401

pytestmark = needs_fuse

META = {"mode": str(0o100600), "uid": "1001", "gid": "1002",
        "mtime": "1500000000"}


def last_modified(bucket, key):
    r = bucket.client().request("HEAD", bucket.bucket, key)
    assert r.status == 200, r
    return int(email.utils.parsedate_to_datetime(
        r.header("Last-Modified")).timestamp())


def test_defaults(server, mounts):
    """[S-ATTR-1] [S-ATTR-2] [S-ATTR-4] Objects without x-oss-meta-*: files
    0644 and directories 0755 (less the umask, 022 by default), owned by
    the user who mounted; size from the object; mtime its Last-Modified;
    nlink 1 for files and 2 for directories; blocks of 512 bytes."""
    bucket = Bucket(server)
    bucket.put_many([("f.bin", b"x" * 1000), ("d/inner", b"i"),
                     ("empty", b"")])
    m = mounts(server)
    st = os.stat(m.mnt / "f.bin")
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o644
    assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
    assert st.st_size == 1000 and st.st_nlink == 1
    assert st.st_blocks == 2 and st.st_blksize == 4096
    assert int(st.st_mtime) == last_modified(bucket, "f.bin")
    assert st.st_atime == st.st_mtime == st.st_ctime
    assert os.stat(m.mnt / "empty").st_size == 0
    d = os.stat(m.mnt / "d")
    assert stat.S_ISDIR(d.st_mode) and stat.S_IMODE(d.st_mode) == 0o755
    assert (d.st_uid, d.st_gid) == (os.getuid(), os.getgid())
    assert d.st_nlink == 2 and d.st_size == 0
    root = os.stat(m.mnt)
    assert stat.S_ISDIR(root.st_mode) and stat.S_IMODE(root.st_mode) == 0o755


def test_uid_gid_umask_options(server, mounts):
    """[S-ATTR-2] uid=, gid= and umask= set the defaults."""
    Bucket(server).put_many([("f", b"f"), ("d/x", b"x")])
    m = mounts(server, options=["uid=1234", "gid=4321", "umask=027"])
    st = os.stat(m.mnt / "f")
    assert (st.st_uid, st.st_gid) == (1234, 4321)
    assert stat.S_IMODE(st.st_mode) == 0o640
    d = os.stat(m.mnt / "d")
    assert (d.st_uid, d.st_gid) == (1234, 4321)
    assert stat.S_IMODE(d.st_mode) == 0o750


def test_meta_headers_on_lookup(server, mounts):
    """[S-ATTR-3] x-oss-meta-mode/-uid/-gid/-mtime (as ossfs 1.x writes
    them) are honoured when a lookup asks the object itself; the file type
    always comes from the key, never from the mode header."""
    bucket = Bucket(server)
    bucket.put("meta.txt", b"m", meta=META)
    bucket.put("dirmode.txt", b"d", meta={"mode": str(0o040700)})
    bucket.put("octal.txt", b"o", meta={"mode": "0100640"})
    bucket.put("hex.txt", b"h", meta={"mode": "0x8120",
                                      "mtime": "1500000000.5"})
    m = mounts(server)
    st = os.stat(m.mnt / "meta.txt")
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o600
    assert (st.st_uid, st.st_gid) == (1001, 1002)
    assert int(st.st_mtime) == 1500000000
    st = os.stat(m.mnt / "dirmode.txt")
    assert stat.S_ISREG(st.st_mode) and stat.S_IMODE(st.st_mode) == 0o700
    assert stat.S_IMODE(os.stat(m.mnt / "octal.txt").st_mode) == 0o640
    st = os.stat(m.mnt / "hex.txt")
    assert stat.S_IMODE(st.st_mode) == 0o440
    assert st.st_mtime_ns == 1500000000_500000000


def test_listing_shows_defaults_until_head(server, mounts):
    """[S-ATTR-1] [S-ATTR-3] With meta_fill=off an entry known only from a
    listing (ls -l, readdirplus) shows the defaults, because listings carry
    no x-oss-meta-*; once the TTLs pass, the revalidation asks the object
    and its metadata shows."""
    bucket = Bucket(server)
    bucket.put("d/meta.txt", b"m", meta=META)
    m = mounts(server, options=["meta_fill=off"])
    assert os.listdir(m.mnt / "d") == ["meta.txt"]
    st = os.lstat(m.mnt / "d" / "meta.txt")
    assert stat.S_IMODE(st.st_mode) == 0o644
    assert st.st_uid == os.getuid()
    m2 = mounts(server, options=["attr_timeout=1", "dir_timeout=1",
                                 "meta_fill=off"])
    assert os.listdir(m2.mnt / "d") == ["meta.txt"]
    wait_for(lambda: stat.S_IMODE(os.lstat(m2.mnt / "d" / "meta.txt")
                                  .st_mode) == 0o600,
             "x-oss-meta-mode to show after the TTL")
    assert os.lstat(m2.mnt / "d" / "meta.txt").st_uid == 1001


def test_directory_mtime(server, mounts):
    """[S-ATTR-4] A directory's mtime is its marker object's Last-Modified
    once the directory has been listed; a directory without a marker (and
    one not listed yet) shows the time of the mount."""
    bucket = Bucket(server)
    bucket.put_many([("marked/", b""), ("marked/x", b"x"),
                     ("implicit/y", b"y")])
    marker_time = last_modified(bucket, "marked/")
    before = int(time.time())
    m = mounts(server, options=["attr_timeout=1", "dir_timeout=1"])
    after = int(time.time()) + 1
    assert before - 1 <= int(os.stat(m.mnt / "implicit").st_mtime) <= after
    os.listdir(m.mnt / "implicit")
    assert before - 1 <= int(os.stat(m.mnt / "implicit").st_mtime) <= after
    os.listdir(m.mnt / "marked")
    wait_for(lambda: int(os.stat(m.mnt / "marked").st_mtime) == marker_time,
             "the marker's mtime to show")


def test_inode_numbers(server, mounts):
    """[S-LOOKUP-4] Every name has its own inode number, the same on every
    stat while the mount lives; the root is inode 1."""
    Bucket(server).put_many([(f"n{i}", b"x") for i in range(50)])
    m = mounts(server)
    first = {n: os.stat(m.mnt / n).st_ino for n in os.listdir(m.mnt)}
    assert len(set(first.values())) == 50
    assert 1 not in first.values()
    assert {n: os.stat(m.mnt / n).st_ino for n in first} == first
    assert os.stat(m.mnt).st_ino == 1


def test_statfs_is_large(server, mounts):
    """[S-STATFS-1] statfs reports 1 PiB, all of it free, 4 KiB blocks and
    255-byte names, so that tools that check free space will copy."""
    m = mounts(server)
    sv = os.statvfs(m.mnt)
    assert sv.f_bsize == 4096 and sv.f_frsize == 4096
    assert sv.f_blocks * sv.f_frsize == 1 << 50
    assert sv.f_bfree == sv.f_blocks and sv.f_bavail == sv.f_blocks
    assert sv.f_files >= 1 << 32 and sv.f_ffree == sv.f_files
    assert sv.f_namemax == 255
    server.reset()
    os.statvfs(m.mnt)
    assert server.stats()["requests"] == {}
