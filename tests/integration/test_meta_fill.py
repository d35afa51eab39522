"""Listed entries show their stored metadata (meta_fill=): a fresh mount
shows the modes, mtimes and symlinks that were written through another
mount, and what it costs in requests, counted by the server.  Never
timed: each test asserts counts and values.
"""
import os
import shutil
import stat
import subprocess
import time

import pytest

from mount_util import Bucket, mounts, needs_fuse  # noqa: F401 (fixture)

pytestmark = needs_fuse

HEAD_OPS = ("HeadObject", "GetObjectMeta")
LIST_OPS = ("ListObjectsV2", "ListObjects")


def count(reqs, ops):
    return sum(reqs.get(op, 0) for op in ops)


def ls_l(path):
    r = subprocess.run(["ls", "-l", "--", str(path)], capture_output=True,
                       text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    return [l for l in r.stdout.splitlines() if not l.startswith("total")]


def make_src(root):
    """Files of distinct modes and old mtimes, a 0700 sub-directory with a
    set mtime, symlinks."""
    root.mkdir()
    for i, mode in enumerate((0o600, 0o640, 0o755)):
        p = root / f"f{mode:o}"
        p.write_bytes(b"x" * (i * 100 + 1))
        os.chmod(p, mode)
        os.utime(p, ns=(1, (1_400_000_000 + i) * 10**9))
    sub = root / "sub"
    sub.mkdir()
    (sub / "inner").write_bytes(b"inner")
    os.utime(sub / "inner", ns=(1, 1_300_000_000 * 10**9))
    os.symlink("../f600", sub / "up")
    os.symlink("f640", root / "ln")
    for link in (sub / "up", root / "ln"):
        os.utime(link, ns=(1, 1_350_000_000 * 10**9), follow_symlinks=False)
    os.chmod(sub, 0o700)
    os.utime(sub, ns=(1, 1_450_000_000 * 10**9))
    os.utime(root, ns=(1, 1_460_000_000 * 10**9))


def walk(root):
    """{relative path: lstat} of root and everything under it (os.walk
    reads each directory, so lstat is answered from readdirplus)."""
    out = {".": os.lstat(root)}
    for dirpath, dirnames, filenames in os.walk(root):
        for n in dirnames + filenames:
            p = os.path.join(dirpath, n)
            out[os.path.relpath(p, root)] = os.lstat(p)
    return out


@pytest.mark.parametrize("api", ["oss", "s3"])
def test_fresh_mount_shows_what_was_written(server, mounts, tmp_path, api):
    """[S-META-2] [S-META-4] [S-ATTR-3] [S-ATTR-4] [S-ATTR-5]
    [S-READDIR-1] A tree written with rsync -a through one mount shows,
    on a fresh mount, the same modes, mtimes and symlinks (os.walk and
    lstat, from readdirplus), and a second rsync -a finds nothing to do;
    also over the S3 API, where a symlink is an object with a mode."""
    if shutil.which("rsync") is None:
        pytest.skip("rsync is not installed")
    opts = ["s3"] if api == "s3" else []
    src = tmp_path / "src"
    make_src(src)
    m = mounts(server, options=opts)
    r = subprocess.run(["rsync", "-a", f"{src}/", f"{m.mnt}/dst/"],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert m.unmount() == []

    fresh = mounts(server, options=opts)
    want, got = walk(src), walk(fresh.mnt / "dst")
    assert sorted(got) == sorted(want)
    for rel, st in want.items():
        g = got[rel]
        assert stat.S_IFMT(g.st_mode) == stat.S_IFMT(st.st_mode), rel
        if not stat.S_ISLNK(st.st_mode):
            assert stat.S_IMODE(g.st_mode) == stat.S_IMODE(st.st_mode), rel
        else:
            assert os.readlink(fresh.mnt / "dst" / rel) == \
                os.readlink(src / rel), rel
        assert int(g.st_mtime) == int(st.st_mtime), rel
        if stat.S_ISREG(st.st_mode):
            assert g.st_size == st.st_size, rel
    assert fresh.unmount() == []

    again = mounts(server, options=opts)
    r = subprocess.run(["rsync", "-a", "--itemize-changes", f"{src}/",
                        f"{again.mnt}/dst/"], capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    assert r.stdout == "", r.stdout


def test_auto_plain_objects_cost_a_sample(server, mounts):
    """[S-META-5] [S-READDIR-1] With meta_fill=auto, listing a directory of
    objects without metadata (uploaded by another tool) makes 8 HEADs, and
    `ls -l` shows the defaults."""
    Bucket(server).put_many([(f"plain/o{i:03d}", b"p") for i in range(60)])
    m = mounts(server, options=["noprefetch"])
    os.stat(m.mnt / "plain")
    server.reset()
    lines = ls_l(m.mnt / "plain")
    assert len(lines) == 60
    assert all(l.startswith("-rw-r--r-- 1 ") for l in lines), lines[:3]
    reqs = server.stats()["requests"]
    assert count(reqs, HEAD_OPS) == 8, reqs
    assert count(reqs, LIST_OPS) == 1, reqs


def test_auto_and_all_with_metadata(server, mounts):
    """[S-META-4] [S-META-5] With metadata in the sample, every entry is
    asked: one HEAD per file and per sub-directory (its marker), and
    `ls -l` shows the stored modes; meta_fill=all asks every entry even
    of a plain directory."""
    b = Bucket(server)
    b.put_many([(f"d/f{i:02d}", b"m") for i in range(20)])
    for i in range(20):
        b.put(f"d/f{i:02d}", b"m", meta={"mode": str(0o100600)})
    b.put("d/sub/", b"", meta={"mode": str(0o040700)})
    b.put("d/implicit/x", b"x")
    b.put_many([(f"plain/o{i:02d}", b"p") for i in range(30)])
    m = mounts(server, options=["noprefetch"])
    os.stat(m.mnt / "d")
    server.reset()
    lines = ls_l(m.mnt / "d")
    assert len(lines) == 22
    files = [l for l in lines if l.split()[-1].startswith("f")]
    assert all(l.startswith("-rw------- 1 ") for l in files), files[:3]
    assert [l for l in lines if l.endswith(" sub")][0].startswith("drwx------")
    reqs = server.stats()["requests"]
    assert count(reqs, HEAD_OPS) == 20 + 2, reqs
    all_ = mounts(server, options=["noprefetch", "meta_fill=all"])
    os.stat(all_.mnt / "plain")
    server.reset()
    assert len(ls_l(all_.mnt / "plain")) == 30
    assert count(server.stats()["requests"], HEAD_OPS) == 30


def test_off_makes_no_head(server, mounts):
    """[S-META-5] meta_fill=off: listing makes no HEAD, and listed entries
    show the defaults."""
    b = Bucket(server)
    for i in range(10):
        b.put(f"d/f{i}", b"m", meta={"mode": str(0o100600)})
    m = mounts(server, options=["noprefetch", "meta_fill=off"])
    os.stat(m.mnt / "d")
    server.reset()
    lines = ls_l(m.mnt / "d")
    assert len(lines) == 10
    assert all(l.startswith("-rw-r--r-- 1 ") for l in lines), lines[:3]
    reqs = server.stats()["requests"]
    assert count(reqs, HEAD_OPS) == 0, reqs


def test_refresh_carries_metadata_over(server, mounts):
    """[S-META-6] [S-META-7] A listing fetched again after dir_timeout asks
    no entry that did not change, and one HEAD for an entry that did; a
    one-page listing is filled in the background and a lookup waits for
    it."""
    b = Bucket(server)
    for i in range(12):
        b.put(f"d/f{i:02d}", b"m", meta={"mode": str(0o100600)})
    # d is the mount's root, so no lookup of d itself joins the counts.
    m = mounts(server, options=["noprefetch", "dir_timeout=1"],
               bucket="test:/d")
    server.reset()
    assert len(os.listdir(m.mnt)) == 12
    # A one-page listing is filled in the background [S-META-7]; a lookup
    # in it waits for the fill, so the counts are complete after it.
    m.settle()
    assert count(server.stats()["requests"], HEAD_OPS) == 12
    b.put("d/f03", b"changed", meta={"mode": str(0o100640)})
    time.sleep(1.5)  # let the listing expire (not an assertion on time)
    server.reset()
    assert len(os.listdir(m.mnt)) == 12
    m.settle()
    reqs = server.stats()["requests"]
    assert count(reqs, LIST_OPS) == 1, reqs
    assert count(reqs, HEAD_OPS) == 1, reqs
    assert stat.S_IMODE(os.lstat(m.mnt / "f03").st_mode) == 0o640
    assert stat.S_IMODE(os.lstat(m.mnt / "f04").st_mode) == 0o600


def test_head_faults_do_not_fail_the_listing(server, mounts):
    """[S-META-5] HEADs that fail while a listing is filled leave those
    entries as the listing shows them; `ls -l` still succeeds."""
    b = Bucket(server)
    for i in range(10):
        b.put(f"d/f{i}", b"m", meta={"mode": str(0o100600)})
    m = mounts(server, options=["noprefetch", "retries=0", "meta_fill=all"],
               allow=[r"HeadObject", r"503", r"ServiceUnavailable"])
    os.stat(m.mnt / "d")
    server.admin("faults", {"rules": [{"op": "HeadObject", "kind": "503",
                                       "count": 1000, "key_prefix": "d/"}]})
    try:
        lines = ls_l(m.mnt / "d")
    finally:
        server.admin("faults", {"rules": []})
    assert len(lines) == 10
    assert all(l.startswith("-rw-r--r-- 1 ") for l in lines), lines[:3]
