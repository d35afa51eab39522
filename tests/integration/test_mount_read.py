"""Reading through a real mount: random ranges of objects from 0 bytes to
64 MiB, concurrent readers of one file, end of file, and OSS Symlink
objects.  Bytes are compared with what was written to the server; request
counts come from the server's /_admin/stats.
"""
import concurrent.futures
import errno
import fcntl
import hashlib
import mmap
import os
import random
import stat

import pytest

from mount_util import Bucket, mounts, needs_fuse  # noqa: F401 (fixture)

pytestmark = needs_fuse

MiB = 1 << 20
BLOCK = MiB  # fs/'s read block (FS_DEFAULT_BLOCK_BYTES)
SIZES = [0, 1, 4095, 4096, 4097, MiB - 1, MiB, MiB + 1, 3 * MiB + 12345,
         64 * MiB]


def data_for(rng, n):
    return rng.randbytes(n)


def pread_all(fd, size, off):
    """pread until size bytes or EOF (FUSE may return short reads only at
    EOF, but be exact about it)."""
    out = bytearray()
    while len(out) < size:
        chunk = os.pread(fd, size - len(out), off + len(out))
        if not chunk:
            break
        out += chunk
    return bytes(out)


def random_ranges(rng, size, count):
    spans = [(0, size + 10), (max(size - 1, 0), 10), (size, 10),
             (size + 4096, 10)]
    for _ in range(count):
        off = rng.randrange(size + 1) if size else 0
        length = rng.choice([1, 7, 4096, 65536, 131072, MiB + 3,
                             rng.randrange(1, 3 * MiB)])
        spans.append((off, length))
    return spans


def test_random_ranges(server, mounts):
    """[S-READ-1] [S-READ-2] Objects of 0 bytes to 64 MiB: random ranges
    (within, across block edges, at and past the end) read exactly the
    server's bytes, and reading at or past the end gives 0 bytes."""
    rng = random.Random(7)
    objects = {f"r/size-{n}": data_for(rng, n) for n in SIZES}
    bucket = Bucket(server)
    bucket.put_many(objects.items(), threads=4)
    m = mounts(server)
    for key, want in objects.items():
        path = m.mnt / key
        assert os.stat(path).st_size == len(want)
        fd = os.open(path, os.O_RDONLY)
        try:
            for off, length in random_ranges(rng, len(want), 40):
                got = pread_all(fd, length, off)
                assert got == want[off:off + length], (key, off, length)
        finally:
            os.close(fd)
        if len(want) <= 4 * MiB:
            assert path.read_bytes() == want
    # The whole 64 MiB file, front to back.
    h = hashlib.sha256()
    with open(m.mnt / "r" / f"size-{64 * MiB}", "rb") as f:
        while True:
            chunk = f.read(MiB)
            if not chunk:
                break
            h.update(chunk)
    assert h.digest() == hashlib.sha256(objects[f"r/size-{64 * MiB}"]).digest()


def test_small_read_fetches_little(server, mounts):
    """[S-READ-3] A small read in the middle of a large object fetches a
    bounded amount around it (whole blocks plus the kernel's readahead),
    not the object."""
    rng = random.Random(3)
    data = data_for(rng, 64 * MiB)
    Bucket(server).put("big", data)
    m = mounts(server)
    os.stat(m.mnt / "big")
    server.reset()
    fd = os.open(m.mnt / "big", os.O_RDONLY)
    try:
        assert os.pread(fd, 100, 40 * MiB + 5) == data[40 * MiB + 5:
                                                       40 * MiB + 105]
    finally:
        os.close(fd)
    st = server.stats()
    assert st["requests"].get("GetObject", 0) >= 1
    # One block (1 MiB) plus the kernel's readahead window (at most a few
    # MiB) - not 64 MiB.
    assert st["bytes_out"] <= 8 * MiB, st


def test_concurrent_readers_of_one_file(server, mounts):
    """[S-READ-1] [S-READ-4] Sixteen threads read random ranges of one
    16 MiB file at once, through their own descriptors and through a
    shared one: every byte is right, and no block is fetched twice (the
    data cache holds all 16 blocks)."""
    rng = random.Random(11)
    size = 16 * MiB
    data = data_for(rng, size)
    Bucket(server).put("shared.bin", data)
    m = mounts(server)
    path = m.mnt / "shared.bin"
    assert os.stat(path).st_size == size
    server.reset()
    shared = os.open(path, os.O_RDONLY)

    def reader(seed):
        r = random.Random(seed)
        fd = shared if seed % 2 else os.open(path, os.O_RDONLY)
        try:
            for _ in range(60):
                off = r.randrange(size)
                length = r.choice([1, 4096, 100000, MiB, 2 * MiB + 17])
                got = pread_all(fd, length, off)
                assert got == data[off:off + length], (seed, off, length)
        finally:
            if fd != shared:
                os.close(fd)
        return seed

    try:
        with concurrent.futures.ThreadPoolExecutor(16) as pool:
            done = list(pool.map(reader, range(16)))
    finally:
        os.close(shared)
    assert done == list(range(16))
    gets = server.stats()["requests"].get("GetObject", 0)
    assert 1 <= gets <= size // BLOCK, gets


def test_symlink_followed_and_readlink(server, mounts):
    """[S-SYMLINK-1] [S-SYMLINK-2] [S-SYMLINK-3] [S-ATTR-4] [S-ATTR-5]
    [S-READDIR-2] An OSS Symlink
    object is a symlink: lstat says S_IFLNK 0777, readlink gives the
    stored target verbatim, opening it reads the target's bytes (the
    kernel resolves the target relative to the link's directory); a
    dangling link reads as ENOENT."""
    bucket = Bucket(server)
    bucket.put("dir/target.txt", b"the target")
    bucket.put("top.txt", b"top")
    bucket.symlink("link", "dir/target.txt")
    bucket.symlink("dir/sibling", "target.txt")
    bucket.symlink("dir/up", "../top.txt")
    bucket.symlink("dangling", "no/such/key")
    m = mounts(server)
    st = os.lstat(m.mnt / "link")
    assert stat.S_ISLNK(st.st_mode)
    assert stat.S_IMODE(st.st_mode) == 0o777
    assert st.st_nlink == 1
    assert (st.st_uid, st.st_gid) == (os.getuid(), os.getgid())
    assert os.readlink(m.mnt / "link") == "dir/target.txt"
    assert (m.mnt / "link").read_bytes() == b"the target"
    assert os.readlink(m.mnt / "dir" / "sibling") == "target.txt"
    assert (m.mnt / "dir" / "sibling").read_bytes() == b"the target"
    assert (m.mnt / "dir" / "up").read_bytes() == b"top"
    assert os.readlink(m.mnt / "dangling") == "no/such/key"
    with pytest.raises(FileNotFoundError):
        (m.mnt / "dangling").read_bytes()
    # Listed as links too (readdirplus), not as files.
    kinds = {e.name: e.is_symlink() for e in os.scandir(m.mnt)}
    assert kinds == {"dir": False, "top.txt": False, "link": True,
                     "dangling": True}
    # A second readlink within the TTL asks nothing (once the root
    # listing's background metadata fill is done, S-META-7).
    m.settle()
    server.reset()
    assert os.readlink(m.mnt / "link") == "dir/target.txt"
    assert server.stats()["requests"].get("GetSymlink", 0) == 0


def test_directory_and_file_misuse(server, mounts):
    """[S-OPEN-1] [S-READDIR-3] Opening a directory for reading data, or
    listing a file, fails the POSIX way."""
    Bucket(server).put("d/f", b"f")
    m = mounts(server)
    with pytest.raises(IsADirectoryError):
        (m.mnt / "d").read_bytes()
    with pytest.raises(NotADirectoryError):
        os.listdir(m.mnt / "d" / "f")


def test_mmap_reads(server, mounts):
    """[S-READ-6] A file can be mapped read-only and the mapping shows its
    bytes; a writable shared mapping is refused (no write access)."""
    data = os.urandom(3 * MiB + 99)
    Bucket(server).put("m.bin", data)
    m = mounts(server)
    with open(m.mnt / "m.bin", "rb") as f:
        mm = mmap.mmap(f.fileno(), 0, prot=mmap.PROT_READ)
        try:
            assert mm[:] == data
            assert mm[2 * MiB:2 * MiB + 10] == data[2 * MiB:2 * MiB + 10]
        finally:
            mm.close()
        with pytest.raises(OSError):
            mmap.mmap(f.fileno(), 0, flags=mmap.MAP_SHARED,
                      prot=mmap.PROT_READ | mmap.PROT_WRITE)


def test_xattrs_not_supported(server, mounts):
    """[S-XATTR-1] Extended attributes are not supported: getting,
    listing and setting them fail with EOPNOTSUPP, and ask nothing of the
    server (x-oss-meta-* are not exposed as xattrs)."""
    Bucket(server).put("x", b"x", meta={"color": "blue"})
    m = mounts(server)
    os.stat(m.mnt / "x")
    server.reset()
    for fn in (lambda: os.getxattr(m.mnt / "x", "user.color"),
               lambda: os.listxattr(m.mnt / "x"),
               lambda: os.setxattr(m.mnt / "x", "user.color", b"red")):
        with pytest.raises(OSError) as e:
            fn()
        assert e.value.errno == errno.EOPNOTSUPP, e.value
    assert server.stats()["requests"] == {}


def test_locks_are_local(server, mounts):
    """[S-LOCK-1] flock and POSIX locks work between processes of this
    machine (the kernel keeps them); they are not seen by other mounts of
    the bucket."""
    Bucket(server).put("l", b"l")
    m = mounts(server)
    with open(m.mnt / "l", "rb") as a, open(m.mnt / "l", "rb") as b:
        fcntl.flock(a, fcntl.LOCK_EX)
        with pytest.raises(BlockingIOError):
            fcntl.flock(b, fcntl.LOCK_EX | fcntl.LOCK_NB)
        fcntl.flock(a, fcntl.LOCK_UN)
        fcntl.flock(b, fcntl.LOCK_EX | fcntl.LOCK_NB)
    m2 = mounts(server)
    with open(m.mnt / "l", "rb") as a, open(m2.mnt / "l", "rb") as b:
        fcntl.flock(a, fcntl.LOCK_EX)
        fcntl.flock(b, fcntl.LOCK_EX | fcntl.LOCK_NB)  # another mount
