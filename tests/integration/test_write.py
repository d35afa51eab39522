"""The write path through a real mount of the bundled server: staging,
uploads, metadata, names, and the errno of every error path.

Nothing here waits for a fixed time: a test that needs an upload to have
happened calls fsync (which returns once the object is stored) or
unmounts (which waits for every pending upload), or polls the server with
a deadline.  Request counts are the server's own.
"""
import ctypes
import errno
import os
import stat
import threading

import pytest

from mount_util import Bucket, mounts, needs_fuse, wait_for  # noqa: F401

pytestmark = needs_fuse
MiB = 1 << 20
MUTATING = ("PutObject", "CopyObject", "DeleteObject", "PutSymlink",
            "InitiateMultipartUpload", "UploadPart", "UploadPartCopy",
            "CompleteMultipartUpload", "DeleteMultipleObjects")


def reqs(server):
    return dict(server.stats()["requests"])


def mutating(server):
    r = reqs(server)
    return {k: v for k, v in r.items() if k in MUTATING}


def write_file(path, data, mode=0o644, fsync=False):
    fd = os.open(path, os.O_CREAT | os.O_WRONLY | os.O_TRUNC, mode)
    try:
        os.write(fd, data)
        if fsync:
            os.fsync(fd)
    finally:
        os.close(fd)


def expect_errno(code, fn, *args):
    with pytest.raises(OSError) as e:
        fn(*args)
    assert e.value.errno == code, (fn, args, e.value)


# ---- files ---------------------------------------------------------------

def test_create_write_fsync(server, mounts):
    """[S-WRITE-1] [S-WRITE-6] [S-META-3] A new file reads back what was
    written at once, before any upload; fsync returns once the object is
    stored, with its bytes, its mode and the mtime of the last write."""
    m = mounts(server, options=["upload_delay=3600"])
    b = Bucket(server)
    data = os.urandom(300000)
    fd = os.open(m.mnt / "new.bin", os.O_CREAT | os.O_RDWR, 0o640)
    try:
        os.write(fd, data)
        assert os.pread(fd, 10, 1000) == data[1000:1010]
        assert (m.mnt / "new.bin").read_bytes() == data
        assert b.head("new.bin") is None  # staged, not stored
        os.fsync(fd)
        st = os.fstat(fd)
    finally:
        os.close(fd)
    assert b.get("new.bin") == data
    meta = b.meta("new.bin")
    assert int(meta["mode"]) == stat.S_IFREG | 0o640
    sec, _, ns = meta["mtime"].partition(".")
    assert (int(sec), int(ns or 0)) == (st.st_mtime_ns // 10**9,
                                         st.st_mtime_ns % 10**9)
    assert "uid" not in meta and "gid" not in meta


def test_close_uploads_once(server, mounts):
    """[S-WRITE-4] A closed file is uploaded once, with one PutObject that
    carries its metadata, after the quiet period."""
    m = mounts(server)
    b = Bucket(server)
    server.reset()
    write_file(m.mnt / "a.txt", b"hello\n")
    wait_for(lambda: b.head("a.txt"), "the upload of a.txt")
    assert b.get("a.txt") == b"hello\n"
    assert mutating(server) == {"PutObject": 1}
    assert int(b.meta("a.txt")["mode"]) == stat.S_IFREG | 0o644


def test_multipart_upload(server, mounts):
    """[S-WRITE-4] A file at or above multipart_threshold goes up as a
    multipart upload of part_size parts (the last one shorter), bytes
    intact; written in order, its parts are sent while it is written,
    and it stores no mtime header (its Last-Modified is its mtime) unless
    one was set; a name starting with '.' goes up whole at close."""
    part = 102400
    m = mounts(server, options=["multipart_threshold=300K",
                                f"part_size={part}", "upload_delay=3600"])
    b = Bucket(server)
    data = os.urandom(5 * part + 777)
    server.reset()
    fd = os.open(m.mnt / "big.bin", os.O_CREAT | os.O_WRONLY, 0o644)
    try:
        for off in range(0, len(data), 65536):
            os.write(fd, data[off:off + 65536])
        # Streamed already: every full part is sent before fsync.
        wait_for(lambda: reqs(server).get("UploadPart", 0) >= 5,
                 "the parts written so far to be sent")
        os.fsync(fd)
    finally:
        os.close(fd)
    r = mutating(server)
    assert r == {"InitiateMultipartUpload": 1, "UploadPart": 6,
                 "CompleteMultipartUpload": 1}, r
    assert b.get("big.bin") == data
    meta = b.meta("big.bin")
    assert int(meta["mode"]) == stat.S_IFREG | 0o644
    assert "mtime" not in meta
    # A dot name (rsync's temporary files) is not streamed.
    server.reset()
    fd = os.open(m.mnt / ".tmp.bin", os.O_CREAT | os.O_WRONLY, 0o600)
    os.write(fd, data)
    assert reqs(server).get("InitiateMultipartUpload", 0) == 0
    os.utime(fd, ns=(1, 1_000_000_000_000_000_001))
    os.fsync(fd)
    os.close(fd)
    r = mutating(server)
    assert r == {"InitiateMultipartUpload": 1, "UploadPart": 6,
                 "CompleteMultipartUpload": 1}, r
    assert b.meta(".tmp.bin")["mtime"] == "1000000000.000000001"
    # Just below the threshold: one PutObject.
    server.reset()
    write_file(m.mnt / "small.bin", data[:300 * 1024 - 1], fsync=True)
    assert mutating(server) == {"PutObject": 1}


def test_stream_then_times_set(server, mounts):
    """[S-WRITE-4] [S-META-1] A streamed file whose times are set before it
    is closed (cp -a) gets them with one CopyObject onto itself."""
    m = mounts(server, options=["multipart_threshold=300K",
                                "part_size=102400"])
    b = Bucket(server)
    data = os.urandom(400000)
    server.reset()
    fd = os.open(m.mnt / "cpa.bin", os.O_CREAT | os.O_WRONLY, 0o640)
    os.write(fd, data)
    wait_for(lambda: reqs(server).get("InitiateMultipartUpload", 0),
             "the stream to start")
    os.utime(fd, ns=(1, 1_200_000_000_000_000_000))
    os.fsync(fd)
    os.close(fd)
    r = mutating(server)
    assert r.get("CopyObject") == 1 and r.get("PutObject", 0) == 0, r
    assert b.get("cpa.bin") == data
    meta = b.meta("cpa.bin")
    assert meta["mtime"] == "1200000000"
    assert int(meta["mode"]) == stat.S_IFREG | 0o640


def test_modify_existing_object(server, mounts):
    """[S-WRITE-3] Opening an existing object for writing without O_TRUNC
    brings it into staging first; writes at any offset, appends and
    truncation then work, and reads see them."""
    b = Bucket(server)
    orig = os.urandom(3 * MiB + 5)
    b.put("obj", orig)
    m = mounts(server)
    want = bytearray(orig)
    with open(m.mnt / "obj", "r+b") as f:
        f.seek(MiB + 3)
        f.write(b"XYZ")
        want[MiB + 3:MiB + 6] = b"XYZ"
        f.seek(0)
        assert f.read(10) == bytes(want[:10])
        f.flush()
        os.fsync(f.fileno())
    assert b.get("obj") == bytes(want)
    with open(m.mnt / "obj", "ab") as f:
        f.write(b"tail")
        want += b"tail"
    os.truncate(m.mnt / "obj", len(want) - 2)
    del want[-2:]
    assert (m.mnt / "obj").read_bytes() == bytes(want)
    assert os.stat(m.mnt / "obj").st_size == len(want)
    m.unmount()
    assert b.get("obj") == bytes(want)


def test_truncate_to_zero_fetches_nothing(server, mounts):
    """[S-WRITE-3] O_TRUNC and truncate to 0 start from an empty file: the
    old content is never downloaded."""
    b = Bucket(server)
    b.put("t1", os.urandom(MiB))
    b.put("t2", os.urandom(MiB))
    m = mounts(server)
    os.stat(m.mnt / "t1")
    os.stat(m.mnt / "t2")
    server.reset()
    with open(m.mnt / "t1", "wb") as f:
        f.write(b"new")
    os.truncate(m.mnt / "t2", 0)
    assert (m.mnt / "t1").read_bytes() == b"new"
    assert os.stat(m.mnt / "t2").st_size == 0
    assert reqs(server).get("GetObject", 0) == 0
    m.unmount()
    assert b.get("t1") == b"new"
    assert b.get("t2") == b""


def test_concurrent_writers_never_mix(server, mounts):
    """[S-WRITE-9] Writers of different files, at once and in any order,
    each get exactly their own bytes stored."""
    m = mounts(server, options=["multipart_threshold=1M", "part_size=256K"])
    b = Bucket(server)
    datas = {f"w{i}": os.urandom(200000 + i * 150000) for i in range(8)}
    errors = []

    def worker(name):
        try:
            data = datas[name]
            fd = os.open(m.mnt / name, os.O_CREAT | os.O_WRONLY, 0o600)
            # Back to front, 64 KiB at a time.
            chunks = list(range(0, len(data), 65536))
            for off in reversed(chunks):
                os.pwrite(fd, data[off:off + 65536], off)
            os.close(fd)
        except OSError as e:
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(n,)) for n in datas]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    for name, data in datas.items():
        assert (m.mnt / name).read_bytes() == data
    m.unmount()
    for name, data in datas.items():
        assert b.get(name) == data


def test_two_opens_share_one_file(server, mounts):
    """[S-WRITE-9] Two opens of the same file in one mount see one file:
    what one descriptor writes the other reads, and both writes land."""
    m = mounts(server)
    b = Bucket(server)
    fd1 = os.open(m.mnt / "shared", os.O_CREAT | os.O_RDWR, 0o644)
    fd2 = os.open(m.mnt / "shared", os.O_RDWR)
    try:
        os.pwrite(fd1, b"A" * 10, 0)
        assert os.pread(fd2, 10, 0) == b"A" * 10
        os.pwrite(fd2, b"B" * 5, 10)
        assert os.pread(fd1, 15, 0) == b"A" * 10 + b"B" * 5
    finally:
        os.close(fd1)
        os.close(fd2)
    m.unmount()
    assert b.get("shared") == b"A" * 10 + b"B" * 5


# ---- metadata --------------------------------------------------------------

def test_metadata_of_stored_objects(server, mounts):
    """[S-META-1] chmod, chown and utimes of stored things are kept in
    x-oss-meta-mode/-uid/-gid/-mtime (mode in decimal with its type bits,
    mtime as sec.nnnnnnnnn): a file by CopyObject onto itself, a directory
    by rewriting its marker, a symlink by PutSymlink."""
    b = Bucket(server)
    b.put("f", b"data")
    b.put("d/", b"")
    b.symlink("l", "f")
    m = mounts(server)
    server.reset()
    os.chmod(m.mnt / "f", 0o600)
    assert mutating(server) == {"CopyObject": 1}
    assert b.get("f") == b"data"
    assert int(b.meta("f")["mode"]) == stat.S_IFREG | 0o600
    os.chown(m.mnt / "f", 1234, 5678)
    meta = b.meta("f")
    assert (meta["uid"], meta["gid"]) == ("1234", "5678")
    os.utime(m.mnt / "f", ns=(1, 1_500_000_000_123_456_789))
    assert b.meta("f")["mtime"] == "1500000000.123456789"
    assert int(b.meta("f")["mode"]) == stat.S_IFREG | 0o600
    server.reset()
    os.chmod(m.mnt / "d", 0o700)
    os.utime(m.mnt / "d", ns=(1, 1_400_000_000_000_000_000))
    assert mutating(server) == {"PutObject": 2}
    meta = b.meta("d/")
    assert int(meta["mode"]) == stat.S_IFDIR | 0o700
    assert meta["mtime"] == "1400000000"
    server.reset()
    os.utime(m.mnt / "l", ns=(1, 1_300_000_000_000_000_000),
             follow_symlinks=False)
    assert mutating(server) == {"PutSymlink": 1}
    assert b.read_symlink("l") == "f"
    assert b.symlink_meta("l")["mtime"] == "1300000000"


def test_attributes_shown_after_changes(server, mounts):
    """[S-META-2] What chmod, chown and utimes set is what stat shows
    afterwards, also for entries listed by readdirplus, and on a fresh
    mount for a file looked up by name (and a symlink shows its target)."""
    m = mounts(server)
    write_file(m.mnt / "f", b"x")
    os.chmod(m.mnt / "f", 0o751)
    os.chown(m.mnt / "f", 42, 43)
    os.utime(m.mnt / "f", ns=(5, 1_234_567_890_987_654_321))
    os.symlink("f", m.mnt / "l")
    os.utime(m.mnt / "l", ns=(5, 1_111_111_111_000_000_001),
             follow_symlinks=False)

    def check(mnt):
        st = os.stat(mnt / "f")
        assert stat.S_IMODE(st.st_mode) == 0o751
        assert (st.st_uid, st.st_gid) == (42, 43)
        assert st.st_mtime_ns == 1_234_567_890_987_654_321
        lst = os.lstat(mnt / "l")
        assert stat.S_ISLNK(lst.st_mode)
        assert os.readlink(mnt / "l") == "f"
        return lst

    # A link's own mtime shows in the mount that set it; a fresh mount
    # knows links from listings only, which carry no metadata.
    assert check(m.mnt).st_mtime_ns == 1_111_111_111_000_000_001
    with os.scandir(m.mnt) as it:
        ents = {e.name: e.stat(follow_symlinks=False) for e in it}
    assert stat.S_IMODE(ents["f"].st_mode) == 0o751
    assert ents["f"].st_mtime_ns == 1_234_567_890_987_654_321
    m.unmount()
    check(mounts(server).mnt)


def test_rsync_pattern_costs_one_put(server, mounts):
    """[S-WRITE-5] rsync's sequence on a new file (write a temporary name,
    close, utimes, chmod, rename) costs one PutObject under the final
    name, with the final metadata: no copy, no delete."""
    m = mounts(server)
    b = Bucket(server)
    server.reset()
    tmp, final = m.mnt / ".f.XXXXXX", m.mnt / "f"
    write_file(tmp, b"payload", mode=0o600)
    os.utime(tmp, ns=(1, 1_000_000_000_000_000_007))
    os.chmod(tmp, 0o644)
    os.rename(tmp, final)
    m.unmount()
    assert mutating(server) == {"PutObject": 1}
    assert b.get("f") == b"payload"
    meta = b.meta("f")
    assert int(meta["mode"]) == stat.S_IFREG | 0o644
    assert meta["mtime"] == "1000000000.000000007"
    assert b.head(".f.XXXXXX") is None


# ---- names -------------------------------------------------------------------

def test_mkdir_and_rmdir(server, mounts):
    """[S-MKDIR-1] [S-RMDIR-1] mkdir writes a zero-byte marker "dir/" with
    the directory's mode and mtime; rmdir deletes it, and fails with
    ENOTEMPTY while anything is stored or staged under the prefix."""
    m = mounts(server, options=["upload_delay=3600"])
    b = Bucket(server)
    server.reset()
    os.mkdir(m.mnt / "d", 0o750)
    assert mutating(server) == {"PutObject": 1}
    assert b.get("d/") == b""
    assert int(b.meta("d/")["mode"]) == stat.S_IFDIR | 0o750
    assert stat.S_IMODE(os.stat(m.mnt / "d").st_mode) == 0o750
    assert os.listdir(m.mnt / "d") == []
    write_file(m.mnt / "d" / "staged", b"s")  # not uploaded yet
    expect_errno(errno.ENOTEMPTY, os.rmdir, m.mnt / "d")
    os.unlink(m.mnt / "d" / "staged")
    b.put("d/sub/deep", b"x")  # behind the mount's back
    expect_errno(errno.ENOTEMPTY, os.rmdir, m.mnt / "d")
    b.delete("d/sub/deep")
    os.rmdir(m.mnt / "d")
    assert b.head("d/") is None
    assert "d" not in os.listdir(m.mnt)


def test_unlink(server, mounts):
    """[S-UNLINK-1] unlink deletes the object; a file that was never
    uploaded costs no request at all; a descriptor still open on an
    unlinked file keeps working and nothing is uploaded from it."""
    m = mounts(server, options=["upload_delay=3600"])
    b = Bucket(server)
    b.put("stored", b"s")
    os.stat(m.mnt / "stored")
    server.reset()
    os.unlink(m.mnt / "stored")
    assert mutating(server) == {"DeleteObject": 1}
    assert b.head("stored") is None
    write_file(m.mnt / "fresh", b"f")
    fd = os.open(m.mnt / "fresh", os.O_RDWR)
    server.reset()
    os.unlink(m.mnt / "fresh")
    os.pwrite(fd, b"more", 1)
    assert os.pread(fd, 5, 0) == b"fmore"
    os.close(fd)
    m.unmount()
    assert mutating(server) == {}
    assert b.head("fresh") is None


def test_rename_file(server, mounts):
    """[S-RENAME-1] A stored file is renamed by CopyObject and DeleteObject,
    keeping its bytes and metadata; renaming onto an existing file
    replaces it; a staged file only changes the key of its upload."""
    b = Bucket(server)
    b.put("a", b"AAA", meta={"mode": 0o100600, "mtime": "1000000000"})
    b.put("victim", b"old")
    m = mounts(server)
    os.stat(m.mnt / "a")
    server.reset()
    os.rename(m.mnt / "a", m.mnt / "b")
    assert mutating(server) == {"CopyObject": 1, "DeleteObject": 1}
    assert b.head("a") is None and b.get("b") == b"AAA"
    assert b.meta("b") == {"mode": str(0o100600), "mtime": "1000000000"}
    assert stat.S_IMODE(os.stat(m.mnt / "b").st_mode) == 0o600
    os.rename(m.mnt / "b", m.mnt / "victim")
    assert b.get("victim") == b"AAA" and b.head("b") is None
    assert (m.mnt / "victim").read_bytes() == b"AAA"
    assert sorted(os.listdir(m.mnt)) == ["victim"]
    server.reset()
    write_file(m.mnt / "s1", b"staged")
    os.rename(m.mnt / "s1", m.mnt / "s2")
    m.unmount()
    assert mutating(server) == {"PutObject": 1}
    assert b.get("s2") == b"staged" and b.head("s1") is None


def test_rename_large_file_uses_part_copy(server, mounts):
    """[S-RENAME-1] From copy_part_threshold up, a rename copies with
    parallel UploadPartCopy requests."""
    b = Bucket(server)
    data = os.urandom(1 * MiB + 100)
    b.put("big", data)
    m = mounts(server, options=["copy_part_threshold=300K",
                                "part_size=256K"])
    os.stat(m.mnt / "big")
    server.reset()
    os.rename(m.mnt / "big", m.mnt / "big2")
    r = mutating(server)
    assert r == {"InitiateMultipartUpload": 1, "UploadPartCopy": 5,
                 "CompleteMultipartUpload": 1, "DeleteObject": 1}, r
    assert b.get("big2") == data and b.head("big") is None


def test_rename_directory(server, mounts):
    """[S-RENAME-2] Renaming a directory moves every key under it (files,
    markers, symlinks, staged files), then deletes the old keys in
    batches; the inodes keep their numbers."""
    b = Bucket(server)
    keys = {f"old/f{i}": os.urandom(i * 100) for i in range(30)}
    keys.update({"old/": b"", "old/sub/": b"", "old/sub/x": b"x",
                 "old/sub/deeper/y": b"yy"})
    b.put_many(keys.items())
    b.symlink("old/ln", "f1")
    m = mounts(server, options=["upload_delay=3600"])
    ino = os.stat(m.mnt / "old" / "sub").st_ino
    write_file(m.mnt / "old" / "staged", b"st")
    os.rename(m.mnt / "old", m.mnt / "new")
    assert os.stat(m.mnt / "new" / "sub").st_ino == ino
    assert (m.mnt / "new" / "staged").read_bytes() == b"st"
    assert os.readlink(m.mnt / "new" / "ln") == "f1"
    assert not (m.mnt / "old").exists()
    m.unmount()
    stored = b.listing()
    want = {"new/" + k[4:] for k in keys} | {"new/ln", "new/staged"}
    assert set(stored) == want
    for k, v in keys.items():
        assert b.get("new/" + k[4:]) == v
    assert b.read_symlink("new/ln") == "f1"


def test_rename_directory_while_its_files_move(server, mounts):
    """[S-RENAME-2] [S-CONSIST-3] A directory renamed while files in it
    are renamed out of it, in parallel: every file ends up in exactly one
    place with its bytes, in the mount and, after unmount, in the bucket.
    Renames of a directory exclude the other renames, so a staged file
    never takes a key built from both."""
    m = mounts(server, options=["upload_delay=3600"])
    (m.mnt / "d").mkdir()
    data = {f"f{i:02d}": os.urandom(100 + i) for i in range(24)}
    for name, v in data.items():
        write_file(m.mnt / "d" / name, v)
    errors = []

    def move_file(name):
        try:
            os.rename(m.mnt / "d" / name, m.mnt / ("out-" + name))
        except FileNotFoundError:
            pass  # the directory moved first: the file went with it
        except OSError as e:  # pragma: no cover - reported below
            errors.append(e)

    threads = [threading.Thread(target=move_file, args=(n,)) for n in data]
    for t in threads[:12]:
        t.start()
    os.rename(m.mnt / "d", m.mnt / "e")
    for t in threads[12:]:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    where = {}
    for name, v in data.items():
        places = [p for p in (m.mnt / "e" / name, m.mnt / ("out-" + name))
                  if p.exists()]
        assert len(places) == 1, (name, places)
        assert places[0].read_bytes() == v
        where[name] = places[0].relative_to(m.mnt).as_posix()
    m.unmount()
    b = Bucket(server)
    assert set(b.listing()) == set(where.values()) | {"e/"}
    for name, key in where.items():
        assert b.get(key) == data[name]


def test_rename_errors(server, mounts):
    """[S-RENAME-1] [S-RENAME-2] A directory cannot replace a file
    (ENOTDIR) nor a non-empty directory (ENOTEMPTY); a file cannot replace
    a directory (EISDIR); a missing source is ENOENT; RENAME_NOREPLACE
    onto a name is EEXIST and RENAME_EXCHANGE is EINVAL."""
    b = Bucket(server)
    b.put_many([("f", b"f"), ("d/x", b"x"), ("e/", b""), ("g/y", b"y")])
    m = mounts(server)
    expect_errno(errno.ENOTDIR, os.rename, m.mnt / "d", m.mnt / "f")
    expect_errno(errno.EISDIR, os.rename, m.mnt / "f", m.mnt / "e")
    expect_errno(errno.ENOTEMPTY, os.rename, m.mnt / "d", m.mnt / "g")
    expect_errno(errno.ENOENT, os.rename, m.mnt / "nope", m.mnt / "z")
    os.rename(m.mnt / "d", m.mnt / "e")  # onto an empty directory
    assert os.listdir(m.mnt / "e") == ["x"]
    libc = ctypes.CDLL(None, use_errno=True)
    at_fdcwd, noreplace, exchange = -100, 1, 2

    def renameat2(a, b, flags):
        if libc.renameat2(at_fdcwd, bytes(a), at_fdcwd, bytes(b), flags):
            e = ctypes.get_errno()
            raise OSError(e, os.strerror(e))

    expect_errno(errno.EEXIST, renameat2, m.mnt / "f", m.mnt / "e" / "x",
                 noreplace)
    expect_errno(errno.EINVAL, renameat2, m.mnt / "f", m.mnt / "e" / "x",
                 exchange)
    renameat2(m.mnt / "f", m.mnt / "f2", noreplace)
    assert (m.mnt / "f2").read_bytes() == b"f"


def test_symlink_creates_oss_symlink(server, mounts):
    """[S-SYMLINK-4] symlink creates an OSS Symlink object holding the
    target verbatim, with mode S_IFLNK|0777 and its mtime."""
    m = mounts(server)
    b = Bucket(server)
    server.reset()
    os.symlink("../some dir/t%20x", m.mnt / "ln")
    assert mutating(server) == {"PutSymlink": 1}
    assert b.read_symlink("ln") == "../some dir/t%20x"
    assert int(b.symlink_meta("ln")["mode"]) == stat.S_IFLNK | 0o777
    assert os.readlink(m.mnt / "ln") == "../some dir/t%20x"
    assert stat.S_ISLNK(os.lstat(m.mnt / "ln").st_mode)


def test_link_and_special_files(server, mounts):
    """[S-LINK-1] Hard links and special files (FIFOs, sockets, devices)
    fail with EPERM; mknod of a regular file makes an empty file."""
    Bucket(server).put("f", b"f")
    m = mounts(server)
    expect_errno(errno.EPERM, os.link, m.mnt / "f", m.mnt / "h")
    expect_errno(errno.EPERM, os.mkfifo, m.mnt / "fifo")
    os.mknod(m.mnt / "plain", 0o600 | stat.S_IFREG)
    assert os.stat(m.mnt / "plain").st_size == 0
    m.unmount()
    assert Bucket(server).get("plain") == b""


def test_error_paths(server, mounts):
    """[S-ERRW-1] EEXIST, ENOENT, ENOTDIR, EISDIR and ENOTEMPTY where POSIX
    says."""
    b = Bucket(server)
    b.put_many([("f", b"f"), ("d/x", b"x")])
    m = mounts(server)
    mnt = m.mnt
    expect_errno(errno.EEXIST, os.mkdir, mnt / "d")
    expect_errno(errno.EEXIST, os.mkdir, mnt / "f")
    expect_errno(errno.EEXIST, os.symlink, "t", mnt / "f")
    expect_errno(errno.EEXIST, os.open, mnt / "f",
                 os.O_CREAT | os.O_EXCL | os.O_WRONLY)
    expect_errno(errno.ENOENT, os.unlink, mnt / "missing")
    expect_errno(errno.ENOENT, os.rmdir, mnt / "missing")
    expect_errno(errno.ENOENT, os.chmod, mnt / "missing", 0o600)
    expect_errno(errno.ENOTDIR, os.rmdir, mnt / "f")
    expect_errno(errno.ENOTDIR, os.mkdir, mnt / "f" / "sub")
    expect_errno(errno.ENOTDIR, os.open, mnt / "f" / "x",
                 os.O_CREAT | os.O_WRONLY)
    expect_errno(errno.EISDIR, os.unlink, mnt / "d")
    expect_errno(errno.EISDIR, os.open, mnt / "d", os.O_WRONLY)
    expect_errno(errno.ENOTEMPTY, os.rmdir, mnt / "d")
