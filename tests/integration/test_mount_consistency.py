"""What a reader sees when objects change: the version an open file is
pinned to, the page cache kept across opens of an unchanged object, and
implicit directories that go away with their last object.  Changes are
made behind the mount's back, through the server's API; nothing is timed.
"""
import errno
import os

import pytest

from mount_util import Bucket, mounts, needs_fuse, wait_for  # noqa: F401

pytestmark = needs_fuse

MiB = 1 << 20
SHORT_TTLS = ["attr_timeout=1", "negative_timeout=1", "dir_timeout=1"]


def test_open_file_keeps_its_version(server, mounts):
    """[S-OPEN-2] [S-CONSIST-2] An open file reads the version it opened
    (reads carry If-Match of its ETag): when the object is replaced
    meanwhile, bytes not fetched yet read as ESTALE instead of a mix of two
    versions; opened again after the TTL, the file reads the new version."""
    size = 32 * MiB
    v1, v2 = os.urandom(size), os.urandom(size)
    bucket = Bucket(server)
    bucket.put("v.bin", v1)
    m = mounts(server, options=SHORT_TTLS)
    path = m.mnt / "v.bin"
    fd = os.open(path, os.O_RDONLY)
    try:
        assert os.pread(fd, 4096, 0) == v1[:4096]
        bucket.put("v.bin", v2)
        with pytest.raises(OSError) as e:
            os.pread(fd, 4096, 30 * MiB)
        assert e.value.errno == errno.ESTALE
        # What was fetched before the change still reads as it was.
        assert os.pread(fd, 4096, 0) == v1[:4096]
    finally:
        os.close(fd)

    def reads_v2():
        fd = os.open(path, os.O_RDONLY)
        try:
            return os.pread(fd, 4096, 30 * MiB) == v2[30 * MiB:30 * MiB + 4096]
        except OSError:
            return False
        finally:
            os.close(fd)

    wait_for(reads_v2, "a new open to read the new version")
    with open(path, "rb") as f:
        assert f.read() == v2


def test_reopen_unchanged_file_makes_no_get(server, mounts):
    """[S-CACHE-5] Reading a file again while its object is unchanged is
    served from memory (the kernel's page cache is kept across opens while
    the ETag is the same, and fs/'s block cache): no GET."""
    data = os.urandom(3 * MiB + 5)
    Bucket(server).put("same.bin", data)
    m = mounts(server)
    assert (m.mnt / "same.bin").read_bytes() == data
    server.reset()
    for _ in range(3):
        assert (m.mnt / "same.bin").read_bytes() == data
    assert server.stats()["requests"].get("GetObject", 0) == 0


def test_implicit_directory_goes_with_its_last_object(server, mounts):
    """[S-DIR-3] A directory that exists only because keys start with its
    prefix disappears once its last object is deleted (after the TTLs);
    one with a marker stays, empty."""
    bucket = Bucket(server)
    bucket.put_many([("implicit/only", b"x"), ("marked/", b""),
                     ("marked/only", b"y")])
    m = mounts(server, options=SHORT_TTLS)
    assert sorted(os.listdir(m.mnt)) == ["implicit", "marked"]
    assert os.listdir(m.mnt / "implicit") == ["only"]
    assert os.listdir(m.mnt / "marked") == ["only"]
    bucket.delete("implicit/only")
    bucket.delete("marked/only")
    wait_for(lambda: sorted(os.listdir(m.mnt)) == ["marked"],
             "the implicit directory to go")
    wait_for(lambda: os.listdir(m.mnt / "marked") == [],
             "the marked directory to be empty")

    def implicit_gone():
        try:
            os.stat(m.mnt / "implicit")
            return False
        except FileNotFoundError:
            return True

    wait_for(implicit_gone, "a lookup of the implicit directory to fail")


def test_stale_attributes_revalidate_with_one_head(server, mounts):
    """[S-CACHE-1] Once attr_timeout has passed, the next stat of a file
    (whose directory was not listed) asks the server again: one HEAD for
    the file (and, if the kernel looks the path up again, a LIST per
    component), never a GET."""
    Bucket(server).put("d/f", b"12345")
    m = mounts(server, options=["attr_timeout=1"])
    assert os.stat(m.mnt / "d" / "f").st_size == 5

    def one_revalidation():
        server.reset()
        assert os.stat(m.mnt / "d" / "f").st_size == 5
        reqs = server.stats()["requests"]
        if not reqs:
            return False  # still within the TTL
        assert reqs.get("HeadObject") == 1, reqs
        assert set(reqs) <= {"HeadObject", "ListObjectsV2"}, reqs
        return True

    wait_for(one_revalidation, "a stat after the TTL to revalidate",
             interval_s=0.2)


def test_type_change_gets_new_inode(server, mounts):
    """[S-LOOKUP-4] A name that changes from file to directory behind the
    mount's back gets a new inode number."""
    bucket = Bucket(server)
    bucket.put("t", b"file")
    m = mounts(server, options=SHORT_TTLS)
    st = os.stat(m.mnt / "t")
    assert not os.path.isdir(m.mnt / "t")
    bucket.delete("t")
    bucket.put("t/inner", b"x")
    wait_for(lambda: os.path.isdir(m.mnt / "t"), "t to become a directory")
    assert os.stat(m.mnt / "t").st_ino != st.st_ino
