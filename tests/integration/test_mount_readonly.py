"""A read-only mount (-o ro): every operation that would change the
bucket fails with EROFS, from the kernel, and nothing reaches the server.

The write path itself is tested in test_write*.py; these tests used to
check the EROFS of the read-only days and now check `ro`.
"""
import errno
import os
import pathlib

import pytest

from mount_util import (Bucket, mount_entry, mounts,  # noqa: F401
                        needs_fuse)

pytestmark = [needs_fuse]


@pytest.fixture
def rmount(server, mounts):
    Bucket(server).put_many([("f.txt", b"data"), ("d/x", b"x"),
                             ("empty/", b"")])
    m = mounts(server, options=["ro"])
    server.reset()
    return m


def expect_erofs(fn):
    with pytest.raises(OSError) as e:
        fn()
    assert e.value.errno == errno.EROFS, e.value


def mutating_ops(mnt):
    f, d = mnt / "f.txt", mnt / "d"
    return {
        "create": lambda: os.open(mnt / "new.txt", os.O_CREAT | os.O_WRONLY,
                                  0o644),
        "open-write": lambda: os.open(f, os.O_WRONLY),
        "open-rdwr": lambda: os.open(f, os.O_RDWR),
        "open-trunc": lambda: os.open(f, os.O_RDONLY | os.O_TRUNC),
        "truncate": lambda: os.truncate(f, 0),
        "mkdir": lambda: os.mkdir(mnt / "newdir"),
        "rmdir": lambda: os.rmdir(mnt / "empty"),
        "unlink": lambda: os.unlink(f),
        "rename": lambda: os.rename(f, mnt / "g.txt"),
        "symlink": lambda: os.symlink("f.txt", mnt / "ln"),
        "link": lambda: os.link(f, mnt / "hard"),
        "mknod": lambda: os.mkfifo(mnt / "fifo"),
        "chmod": lambda: os.chmod(f, 0o600),
        "chown": lambda: os.chown(f, 1, 1),
        "utime": lambda: os.utime(f, (1, 1)),
        "dir-chmod": lambda: os.chmod(d, 0o700),
    }


OPS = ["create", "open-write", "open-rdwr", "open-trunc", "truncate",
       "mkdir", "rmdir", "unlink", "rename", "symlink", "link", "mknod",
       "chmod", "chown", "utime", "dir-chmod"]


def test_every_op_is_listed():
    assert sorted(OPS) == sorted(mutating_ops(pathlib.Path("/")))


@pytest.mark.parametrize("op", OPS)
def test_mutating_op_is_erofs(rmount, server, op):
    """[S-WRITE-2] On a read-only mount every operation that would change
    the bucket fails with EROFS and sends nothing to the server."""
    expect_erofs(mutating_ops(rmount.mnt)[op])
    reqs = server.stats()["requests"]
    for write_op in ("PutObject", "DeleteObject", "CopyObject",
                     "PutSymlink", "InitiateMultipartUpload",
                     "DeleteMultipleObjects"):
        assert reqs.get(write_op, 0) == 0, reqs


def test_bucket_unchanged_after_attempts(rmount, server):
    """[S-WRITE-2] After every attempt on a read-only mount the bucket and
    the mount are as they were."""
    for fn in mutating_ops(rmount.mnt).values():
        try:
            fd = fn()
            if isinstance(fd, int):
                os.close(fd)
        except OSError:
            pass
    assert sorted(os.listdir(rmount.mnt)) == ["d", "empty", "f.txt"]
    assert (rmount.mnt / "f.txt").read_bytes() == b"data"
    assert Bucket(server).get("f.txt") == b"data"


def test_ro_option(server, mounts):
    """[S-WRITE-2] With -o ro the kernel refuses writes itself (the mount
    is flagged ro in /proc/mounts) and reads work."""
    Bucket(server).put("f.txt", b"data")
    m = mounts(server, options=["ro"])
    assert "ro" in mount_entry(m.mnt)[3].split(",")
    expect_erofs(lambda: os.open(m.mnt / "f.txt", os.O_WRONLY))
    expect_erofs(lambda: os.mkdir(m.mnt / "x"))
    assert (m.mnt / "f.txt").read_bytes() == b"data"


def test_close_flush_fsync_of_reader_succeed(rmount, server):
    """[S-WRITE-1] close, flush and fsync of a file opened for reading
    succeed and send nothing."""
    fd = os.open(rmount.mnt / "f.txt", os.O_RDONLY)
    try:
        assert os.read(fd, 10) == b"data"
        os.fsync(fd)
        os.fdatasync(fd)
    finally:
        os.close(fd)
    reqs = server.stats()["requests"]
    assert set(reqs) <= {"GetObject", "ListObjectsV2", "HeadObject"}, reqs
