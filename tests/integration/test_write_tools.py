"""Plain tools copying random trees into the mount: cp -a, rsync -a and
tar x.  Trees have tricky names, empty files and directories, files on
both sides of the multipart threshold, symlinks (dangling ones too), and
modes and mtimes (with nanoseconds) of every kind.

For each tool: every object at the server has the right bytes, mode and
mtime; `rsync -a --itemize-changes` from the same source then prints
nothing; `rsync -a` back out to local disk and `diff -r` with the source
is empty; and a fresh mount shows the same modes, mtimes and symlinks.
"""
import os
import random
import shutil
import stat
import subprocess
import threading

import pytest

from mount_util import Bucket, mounts, needs_fuse  # noqa: F401

pytestmark = [needs_fuse,
              pytest.mark.skipif(shutil.which("rsync") is None,
                                 reason="rsync is not installed")]

THRESHOLD = 256 * 1024
OPTIONS = [f"multipart_threshold={THRESHOLD}", "part_size=102400"]
TRICKY = ["space name", " lead", "trail ", "ünïcødé ✓", "日本語", "per%25cent",
          "plus+sign", "hash#", "q?mark", "amp&", "semi;", "eq=x", "c,omma",
          "at@", "dollar$", "(paren)", "[br]", "star*", "tilde~", "apos'",
          'quote"', "back\\slash", "-dash", ".hidden"]
SIZES = [0, 1, 100, 65536, THRESHOLD - 1, THRESHOLD, THRESHOLD + 1,
         3 * THRESHOLD + 17]
FILE_MODES = [0o600, 0o644, 0o640, 0o755, 0o700, 0o444]
DIR_MODES = [0o755, 0o700, 0o750]


def random_mtime_ns(rnd):
    return rnd.randrange(10**9, 1_700_000_000) * 10**9 + rnd.randrange(10**9)


def make_tree(root, seed):
    """A random tree under root; returns nothing, the disk is the truth."""
    rnd = random.Random(seed)
    names = iter(rnd.sample(TRICKY, len(TRICKY)) +
                 [f"n{i}" for i in range(1000)])
    dirs = [root]
    for _ in range(6):
        d = rnd.choice(dirs) / next(names)
        d.mkdir()
        dirs.append(d)
    files = []
    for size in SIZES + [rnd.randrange(0, 5000) for _ in range(12)]:
        p = rnd.choice(dirs) / next(names)
        p.write_bytes(rnd.randbytes(size))
        files.append(p)
    for i in range(4):
        d = rnd.choice(dirs)
        link = d / f"link{i}"
        target = os.path.relpath(rnd.choice(files + dirs[1:]), d)
        os.symlink(target if i else "dangling/nowhere", link)
    (root / "empty-dir").mkdir()
    for p in files:
        os.chmod(p, rnd.choice(FILE_MODES))
        os.utime(p, ns=(random_mtime_ns(rnd), random_mtime_ns(rnd)))
    for d in reversed(dirs[1:] + [root / "empty-dir"]):
        os.chmod(d, rnd.choice(DIR_MODES))
    for d in reversed(dirs[1:] + [root / "empty-dir"]):
        os.utime(d, ns=(random_mtime_ns(rnd), random_mtime_ns(rnd)))


def walk(root):
    """(relative path, lstat) of everything under root."""
    out = []
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            out.append((os.path.relpath(p, root), os.lstat(p)))
    return out


def mtime_text(ns):
    sec, frac = divmod(ns, 10**9)
    return f"{sec}.{frac:09d}" if frac else str(sec)


def check_bucket(b, src, prefix):
    """Every file, directory and symlink of src is at the server under
    prefix with its bytes, mode and mtime."""
    stored = b.listing(prefix)
    for rel, st in walk(src):
        key = prefix + rel
        if stat.S_ISLNK(st.st_mode):
            assert b.read_symlink(key) == os.readlink(src / rel), key
            continue
        if stat.S_ISDIR(st.st_mode):
            key += "/"
        else:
            assert b.get(key) == (src / rel).read_bytes(), key
        assert key in stored, key
        meta = b.meta(key)
        assert int(meta["mode"]) == st.st_mode, (key, meta)
        assert meta["mtime"] == mtime_text(st.st_mtime_ns), (key, meta)


def check_same_mount(m, src, dst):
    """rsync again: nothing to do; out again: identical to the source."""
    r = subprocess.run(["rsync", "-a", "--itemize-changes", f"{src}/",
                        f"{dst}/"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "", r.stdout
    out = m.workdir / "out"
    r = subprocess.run(["rsync", "-a", f"{dst}/", f"{out}/"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    r = subprocess.run(["diff", "-r", "--no-dereference", str(src),
                        str(out)], capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout == "", r.stdout + r.stderr
    for rel, st in walk(src):
        got = os.lstat(out / rel)
        assert got.st_mode == st.st_mode, rel
        if stat.S_ISREG(st.st_mode):
            assert got.st_mtime_ns == st.st_mtime_ns, rel


def check_fresh_mount(server, mounts, src, name):
    """A new mount shows files' modes and mtimes, and every symlink, when
    looked up by name."""
    fresh = mounts(server, options=OPTIONS)
    for rel, st in walk(src):
        p = fresh.mnt / name / rel
        if stat.S_ISLNK(st.st_mode):
            assert os.readlink(p) == os.readlink(src / rel), rel
        elif stat.S_ISREG(st.st_mode):
            got = os.lstat(p)
            assert got.st_mode == st.st_mode, rel
            assert got.st_mtime_ns == st.st_mtime_ns, rel
            assert got.st_size == st.st_size, rel


def run_tool(cmd, **kw):
    r = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                       **kw)
    assert r.returncode == 0, (cmd, r.stdout, r.stderr)


@pytest.mark.parametrize("tool", ["cp", "rsync", "tar"])
def test_copy_tree_in(server, mounts, tmp_path, tool):
    """[S-WRITE-4] [S-WRITE-5] [S-META-1] [S-META-2] [S-MKDIR-1]
    [S-SYMLINK-4] cp -a, rsync -a and tar x of a random tree into the
    mount store every byte, mode and mtime; a second rsync -a finds
    nothing to do; copying it back out gives the source again; a fresh
    mount shows the same."""
    src = tmp_path / "src"
    src.mkdir()
    make_tree(src, seed={"cp": 1, "rsync": 2, "tar": 3}[tool])
    os.utime(src, ns=(1, 1_500_000_000_000_000_000))
    m = mounts(server, options=OPTIONS)
    b = Bucket(server)
    dst = m.mnt / "dst"
    if tool == "cp":
        run_tool(["cp", "-a", str(src), str(dst)])
    elif tool == "rsync":
        run_tool(["rsync", "-a", f"{src}/", f"{dst}/"])
    else:
        archive = tmp_path / "t.tar"
        run_tool(["tar", "--format=posix", "-cf", str(archive), "-C",
                  str(src), "."])
        dst.mkdir()
        run_tool(["tar", "-xpf", str(archive), "-C", str(dst)])
        os.chmod(dst, stat.S_IMODE(os.stat(src).st_mode))
        os.utime(dst, ns=(1, os.stat(src).st_mtime_ns))
    check_same_mount(m, src, dst)
    assert m.unmount() == []
    check_bucket(b, src, "dst/")
    check_fresh_mount(server, mounts, src, "dst")


def test_rsync_requests_per_file(server, mounts, tmp_path):
    """[S-WRITE-5] rsync -a of 50 small files into a new directory makes
    one PutObject per file plus the directory's marker and its metadata:
    no COPY, no DELETE, and no LIST or HEAD per file."""
    src = tmp_path / "src"
    src.mkdir()
    for i in range(50):
        (src / f"f{i:02d}").write_bytes(os.urandom(4096))
    m = mounts(server)
    server.reset()
    run_tool(["rsync", "-a", f"{src}/", f"{m.mnt}/dst/"])
    assert m.unmount() == []
    r = dict(server.stats()["requests"])
    assert r.pop("PutObject") <= 50 + 3, r
    assert r.get("CopyObject", 0) == 0 and r.get("DeleteObject", 0) == 0
    assert r.get("ListObjectsV2", 0) <= 3, r
    assert r.get("HeadObject", 0) == 0, r


def drop_dentries():
    """Make the kernel evict (and forget) the mount's unused dentries and
    inodes, as memory pressure does.  False when not allowed."""
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("2\n")
        return True
    except OSError:
        return False


def test_tar_while_the_kernel_forgets(server, mounts, tmp_path):
    """[S-LOOKUP-4] Paths keep their inode numbers when the kernel evicts
    and forgets their inodes, so tar x (which checks each directory's
    st_ino before setting its times) goes through while the dentry cache
    is being emptied."""
    m = mounts(server)
    os.makedirs(m.mnt / "y" / "z")
    (m.mnt / "y" / "f").write_bytes(b"f")
    paths = ("y", "y/z", "y/f")
    before = {p: os.stat(m.mnt / p).st_ino for p in paths}
    if not drop_dentries():
        pytest.skip("cannot drop the dentry cache (needs root)")
    assert {p: os.stat(m.mnt / p).st_ino for p in paths} == before
    src = tmp_path / "src"
    for d in range(20):
        (src / f"d{d}" / "sub").mkdir(parents=True)
        for i in range(5):
            (src / f"d{d}" / "sub" / f"f{i}").write_bytes(b"x" * i)
    archive = tmp_path / "t.tar"
    run_tool(["tar", "-cf", str(archive), "-C", str(src), "."])
    (m.mnt / "t").mkdir()
    stop = threading.Event()

    def evict():
        while not stop.is_set():
            drop_dentries()
            stop.wait(0.005)

    th = threading.Thread(target=evict)
    th.start()
    try:
        run_tool(["tar", "-xpf", str(archive), "-C", str(m.mnt / "t")])
    finally:
        stop.set()
        th.join()
    assert sorted(os.listdir(m.mnt / "t")) == sorted(
        f"d{d}" for d in range(20))
