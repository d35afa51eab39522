"""FUSE-level tests of bridge/ + fs/ over the in-memory fake bucket.

mount_fake (built by meson, path in $MOUNT_FAKE) serves the tree listed in
its make_tree(); every test mounts in a fresh temporary directory and
always unmounts, killing the daemon by PID if it will not go.
"""
import errno
import os
import random
import signal
import stat
import subprocess
import tempfile
import threading
import time

import pytest

MOUNT_FAKE = os.environ.get("MOUNT_FAKE", "")
BIG_LEN = (3 << 20) + 123


def _why_skip():
    if not MOUNT_FAKE or not os.path.exists(MOUNT_FAKE):
        return "MOUNT_FAKE not built"
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse"
    if os.geteuid() != 0:
        return "needs root to mount"
    if subprocess.run(["which", "fusermount3"], capture_output=True).returncode:
        return "no fusermount3"
    return None


pytestmark = pytest.mark.skipif(_why_skip() is not None,
                                reason=_why_skip() or "")


def big_pattern():
    return bytes(((i * 131 + 5 + i // 4096) & 0xFF) for i in range(BIG_LEN))


def default_signals():
    """Give the daemon default dispositions: a test run from a background
    job inherits SIGINT ignored, and libfuse (like any daemon started with
    nohup) leaves an ignored signal ignored."""
    for sig in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(sig, signal.SIG_DFL)


class Mount:
    def __init__(self, args=(), many=10000):
        self.tmp = tempfile.mkdtemp(prefix="ossfs-fake-")
        self.mnt = os.path.join(self.tmp, "mnt")
        os.mkdir(self.mnt)
        self.counts_path = os.path.join(self.tmp, "counts")
        self.err_path = os.path.join(self.tmp, "stderr")
        self.args = list(args) + ["--many", str(many)]
        self.proc = None
        self.rc = None
        self.seq = 0

    def start(self):
        with open(self.err_path, "w") as err:
            self.proc = subprocess.Popen(
                [MOUNT_FAKE, "--counts", self.counts_path] + self.args
                + [self.mnt],
                stdout=subprocess.DEVNULL, stderr=err,
                preexec_fn=default_signals)
        deadline = time.monotonic() + 30
        while not os.path.ismount(self.mnt):
            if self.proc.poll() is not None:
                raise AssertionError("mount_fake exited %d: %s" % (
                    self.proc.returncode, self.stderr()))
            if time.monotonic() > deadline:
                raise AssertionError("mount did not appear")
            time.sleep(0.02)
        return self

    def stderr(self):
        with open(self.err_path) as f:
            return f.read()

    def path(self, *parts):
        return os.path.join(self.mnt, *parts)

    def counts(self):
        """Request counters of the fake store, fetched over SIGUSR1."""
        self.proc.send_signal(signal.SIGUSR1)
        deadline = time.monotonic() + 10
        while True:
            c = self._read_counts()
            if c and c["SEQ"] > self.seq:
                self.seq = c["SEQ"]
                return c
            if time.monotonic() > deadline:
                raise AssertionError("no counters from mount_fake")
            time.sleep(0.01)

    def _read_counts(self):
        try:
            with open(self.counts_path) as f:
                pairs = (line.split() for line in f if line.strip())
                return {k: int(v) for k, v in pairs}
        except (FileNotFoundError, ValueError):
            return None

    def stop(self):
        if self.proc is None:
            return
        if os.path.ismount(self.mnt):
            subprocess.run(["fusermount3", "-u", self.mnt],
                           capture_output=True)
        try:
            self.proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        if os.path.ismount(self.mnt):
            subprocess.run(["fusermount3", "-u", "-z", self.mnt],
                           capture_output=True)
        self.rc, self.proc = self.proc.returncode, None
        return self.rc

    def check_clean_exit(self):
        """The daemon ended by itself, with nothing suspicious said."""
        log = self.stderr()
        assert self.rc == 0, log
        for bad in ("AddressSanitizer", "runtime error", "LeakSanitizer",
                    "Transport endpoint"):
            assert bad not in log, log


@pytest.fixture
def mount():
    m = Mount()
    try:
        yield m.start()
    finally:
        m.stop()
    m.check_clean_exit()


def delta(after, before):
    return {k: after[k] - before[k] for k in after if k != "SEQ"}


def total(d):
    return sum(d.values())


# ---- the tree -------------------------------------------------------------

def test_walk_shows_the_tree(mount):
    seen = {}
    for root, dirs, files in os.walk(mount.mnt):
        rel = os.path.relpath(root, mount.mnt)
        seen[rel] = (sorted(dirs), sorted(files))
    many = ["f%05d" % i for i in range(10000)]
    assert seen["."] == (["bad", "both", "dir", "implicit", "many"],
                         ["broken.bin", "empty.txt", "hello.txt", "link",
                          "meta.txt"])
    assert seen["dir"] == (["sub"], ["a.txt"])
    assert seen[os.path.join("dir", "sub")] == ([], ["b.bin"])
    assert seen["implicit"] == ([], ["x.txt"])
    # key "both" and prefix "both/": the directory wins
    assert seen["both"] == ([], ["inner.txt"])
    # "bad//name", "bad/./dot", "bad/../up" cannot be names: skipped
    assert seen["bad"] == ([], ["good.txt"])
    assert seen["many"] == ([], many)
    assert len(seen) == 7


def test_skipped_keys_warned_once(mount):
    os.listdir(mount.path("bad"))
    os.listdir(mount.path("bad"))
    mount.stop()
    log = mount.stderr()
    assert log.count("skipping key") == 3, log


def test_stat_attributes(mount):
    st = os.stat(mount.path("hello.txt"))
    assert stat.S_ISREG(st.st_mode)
    assert st.st_size == 13
    assert stat.S_IMODE(st.st_mode) == 0o644
    assert st.st_uid == os.getuid() and st.st_gid == os.getgid()
    assert int(st.st_mtime) == 1700000000
    st = os.stat(mount.path("meta.txt"))
    assert stat.S_IMODE(st.st_mode) == 0o600
    assert (st.st_uid, st.st_gid) == (1234, 4321)
    assert int(st.st_mtime) == 1000000000
    assert stat.S_ISDIR(os.stat(mount.path("dir")).st_mode)
    assert stat.S_ISDIR(os.stat(mount.path("implicit")).st_mode)
    assert stat.S_ISDIR(os.stat(mount.path("both")).st_mode)
    assert os.stat(mount.path("empty.txt")).st_size == 0
    with pytest.raises(FileNotFoundError):
        os.stat(mount.path("no-such-file"))
    with pytest.raises(OSError) as ei:
        os.stat(mount.path("n" * 256))
    assert ei.value.errno == errno.ENAMETOOLONG


def test_symlink(mount):
    st = os.lstat(mount.path("link"))
    assert stat.S_ISLNK(st.st_mode)
    assert os.readlink(mount.path("link")) == "hello.txt"
    with open(mount.path("link"), "rb") as f:
        assert f.read() == b"hello, world\n"


def test_reads(mount):
    with open(mount.path("hello.txt"), "rb") as f:
        assert f.read() == b"hello, world\n"
        assert f.read() == b""
        assert os.pread(f.fileno(), 100, 1000) == b""
    with open(mount.path("empty.txt"), "rb") as f:
        assert f.read() == b""
    want = big_pattern()
    with open(mount.path("dir", "sub", "b.bin"), "rb") as f:
        assert f.read() == want
        fd = f.fileno()
        for off, n in [(0, 1), ((1 << 20) - 10, 20), ((2 << 20) + 5, 70000),
                       (BIG_LEN - 50, 100), (BIG_LEN, 10)]:
            assert os.pread(fd, n, off) == want[off:off + n]


def test_store_error_reaches_the_reader(mount):
    with open(mount.path("broken.bin"), "rb") as f:
        with pytest.raises(OSError) as ei:
            f.read()
        assert ei.value.errno == errno.EIO
    # The mount lives on.
    assert open(mount.path("hello.txt"), "rb").read() == b"hello, world\n"


def test_concurrent_random_reads(mount):
    want = big_pattern()
    errors = []

    def worker(seed):
        rnd = random.Random(seed)
        fd = os.open(mount.path("dir", "sub", "b.bin"), os.O_RDONLY)
        try:
            for _ in range(100):
                off = rnd.randrange(BIG_LEN)
                n = rnd.randrange(1, 300000)
                if os.pread(fd, n, off) != want[off:off + n]:
                    errors.append((off, n))
        finally:
            os.close(fd)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []


def test_writes_without_staging_are_erofs(mount):
    """Without a staging area (mount_fake without --staging, an fs with
    no upload manager) every write is EROFS."""
    def erofs(fn, *args):
        with pytest.raises(OSError) as ei:
            fn(*args)
        assert ei.value.errno == errno.EROFS, (fn, args)

    erofs(open, mount.path("new.txt"), "w")
    erofs(open, mount.path("hello.txt"), "a")
    erofs(open, mount.path("hello.txt"), "r+")
    erofs(os.mkdir, mount.path("newdir"))
    erofs(os.unlink, mount.path("hello.txt"))
    erofs(os.rmdir, mount.path("implicit"))
    erofs(os.rename, mount.path("hello.txt"), mount.path("h2"))
    erofs(os.symlink, "hello.txt", mount.path("l2"))
    erofs(os.link, mount.path("hello.txt"), mount.path("h3"))
    erofs(os.chmod, mount.path("hello.txt"), 0o600)
    erofs(os.truncate, mount.path("hello.txt"), 0)
    erofs(os.utime, mount.path("hello.txt"), (1, 1))
    erofs(os.mknod, mount.path("node"), 0o644 | stat.S_IFREG)
    assert open(mount.path("hello.txt"), "rb").read() == b"hello, world\n"


# ---- writing (with --staging) ------------------------------------------------

@pytest.fixture
def wmount():
    m = Mount(args=["--staging", None], many=10)
    m.args[m.args.index("--staging") + 1] = os.path.join(m.tmp, "staging")
    try:
        yield m.start()
    finally:
        m.stop()


def test_write_read_rename_unlink(wmount):
    m = wmount
    data = os.urandom(3 * 1024 * 1024 + 5)  # past the 1 MiB threshold
    with open(m.path("new.bin"), "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    assert open(m.path("new.bin"), "rb").read() == data
    with open(m.path("small.txt"), "w") as f:
        f.write("small\n")
    os.chmod(m.path("small.txt"), 0o600)
    os.rename(m.path("small.txt"), m.path("moved.txt"))
    os.mkdir(m.path("newdir"))
    os.symlink("moved.txt", m.path("newdir", "ln"))
    with open(m.path("hello.txt"), "r+") as f:
        f.seek(7)
        f.write("WORLD")
    assert open(m.path("hello.txt")).read() == "hello, WORLD\n"
    os.unlink(m.path("dir", "a.txt"))
    assert {"moved.txt", "new.bin", "newdir"} <= set(os.listdir(m.mnt))
    assert "small.txt" not in os.listdir(m.mnt)
    assert os.readlink(m.path("newdir", "ln")) == "moved.txt"
    assert stat.S_IMODE(os.stat(m.path("moved.txt")).st_mode) == 0o600
    assert not os.path.exists(m.path("dir", "a.txt"))
    assert m.stop() == 0  # waits for the uploads
    m.check_clean_exit()
    c = m._read_counts()  # written once more at exit
    # mkdir, moved.txt, hello.txt; new.bin and the link as OTHER
    assert c["PUT"] == 3 and c["DELETE"] == 1, c
    assert c["OTHER"] >= 3, c


def test_many_writers(wmount):
    m = wmount
    errors = []

    def worker(i):
        try:
            want = bytes([i]) * (100000 + i * 7000)
            with open(m.path(f"w{i}"), "wb") as f:
                f.write(want)
            if open(m.path(f"w{i}"), "rb").read() != want:
                errors.append(i)
        except OSError as e:
            errors.append(e)

    ts = [threading.Thread(target=worker, args=(i,)) for i in range(8)]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    assert errors == []
    assert m.stop() == 0
    m.check_clean_exit()


def test_statfs(mount):
    sv = os.statvfs(mount.mnt)
    assert sv.f_bsize == 4096
    assert sv.f_namemax == 255
    assert sv.f_blocks * sv.f_frsize >= 1 << 50
    assert sv.f_bavail == sv.f_blocks


# ---- request counts ------------------------------------------------------

def test_ls_l_of_10000_objects(mount):
    before = mount.counts()
    out = subprocess.run(["ls", "-l", mount.path("many")],
                         capture_output=True, text=True, check=True).stdout
    d = delta(mount.counts(), before)
    assert out.count("\n") == 10001  # "total" + one line per file
    assert d["LIST"] <= 11, d
    # meta_fill=auto: the marker many/ (lookup) and a sample of 8 objects,
    # which have no metadata, so no more.
    assert d["HEAD"] <= 1 + 8, d
    # stat of every entry again: the kernel and our caches answer
    before = mount.counts()
    for e in os.scandir(mount.path("many")):
        e.stat(follow_symlinks=False)
    assert total(delta(mount.counts(), before)) == 0


def test_stat_twice_one_lookup(mount):
    before = mount.counts()
    os.stat(mount.path("hello.txt"))
    first = delta(mount.counts(), before)
    assert 1 <= total(first) <= 2, first
    before = mount.counts()
    os.stat(mount.path("hello.txt"))
    assert total(delta(mount.counts(), before)) == 0


def test_missing_name_twice_one_request(mount):
    before = mount.counts()
    for _ in range(2):
        with pytest.raises(FileNotFoundError):
            os.stat(mount.path("desktop.ini"))
    assert total(delta(mount.counts(), before)) == 1


def test_cached_reads_make_no_request(mount):
    with open(mount.path("dir", "a.txt"), "rb") as f:
        assert f.read() == b"A\n"
    before = mount.counts()
    with open(mount.path("dir", "a.txt"), "rb") as f:
        assert f.read() == b"A\n"
    assert total(delta(mount.counts(), before)) == 0


# ---- mounting and unmounting ----------------------------------------------

@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT,
                                 signal.SIGHUP])
def test_signal_unmounts_cleanly(sig):
    m = Mount(many=10).start()
    try:
        os.stat(m.path("hello.txt"))
        m.proc.send_signal(sig)
        assert m.proc.wait(timeout=20) == 0
        assert not os.path.ismount(m.mnt)
        assert os.listdir(m.mnt) == []  # no "transport endpoint" left
    finally:
        m.stop()


def test_fusermount_unmount_ends_daemon():
    m = Mount(many=10).start()
    try:
        subprocess.run(["fusermount3", "-u", m.mnt], check=True)
        assert m.proc.wait(timeout=20) == 0
    finally:
        m.stop()


def test_nonempty_mountpoint_refused():
    m = Mount(many=10)
    open(os.path.join(m.mnt, "occupied"), "w").close()
    try:
        with pytest.raises(AssertionError) as ei:
            m.start()
        assert "not empty" in str(ei.value)
        assert not os.path.ismount(m.mnt)
    finally:
        m.stop()


def test_nonempty_allowed_with_option():
    m = Mount(args=["--nonempty"], many=1)
    open(os.path.join(m.mnt, "occupied"), "w").close()
    try:
        m.start()
        assert "hello.txt" in os.listdir(m.mnt)
        assert "occupied" not in os.listdir(m.mnt)
    finally:
        m.stop()
    m.check_clean_exit()
    assert os.listdir(m.mnt) == ["occupied"]


def test_prefix_mount():
    m = Mount(args=["--prefix", "pre/fix"], many=3).start()
    try:
        assert sorted(os.listdir(m.mnt)) == [
            "bad", "both", "broken.bin", "dir", "empty.txt", "hello.txt",
            "implicit", "link", "many", "meta.txt"]
        assert open(m.path("many", "f00002"), "rb").read() == b"2\n"
    finally:
        m.stop()
