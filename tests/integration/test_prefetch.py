"""Directory prefetch, read-ahead, the disk cache and the stats file,
through a real mount of the bundled server.

Every assertion is a count from the server's /_admin/stats or from the
mount's own .ossfs-stats; nothing is timed.  The server gets a first-byte
latency where a test needs requests to overlap (with none, each GET
finishes before the next starts and "in flight at once" means nothing);
waits poll for a condition with a deadline.
"""
import hashlib
import os
import time
import subprocess

from conftest import run_tool
from mount_util import Bucket, mounts, needs_fuse, wait_for  # noqa: F401

pytestmark = needs_fuse

MiB = 1 << 20


def mount_stats(m):
    """The mount's counters, from MOUNT/.ossfs-stats."""
    out = {}
    for line in (m.mnt / ".ossfs-stats").read_text().splitlines():
        name, value = line.split()
        out[name] = int(value)
    return out


def gets(server):
    return server.stats()["requests"].get("GetObject", 0)


def prefetch_idle(m):
    """True once the daemon has no GET of its own in flight."""
    st = mount_stats(m)
    return st["prefetch.in_flight"] == 0 and st["http.in_flight"] == 0


def test_open_dir_of_200_fetches_all_then_reads_free(server_factory, mounts):
    """[S-PREFETCH-1] Opening a directory of 200 small files starts a GET
    for each, at least 32 in flight at the server's peak; reading them
    all afterwards makes no request at all."""
    server = server_factory("--latency-ms", "20")
    out = run_tool(server.url, "putmany", "d/obj-", "200").stdout
    assert b"failed 0" in out
    m = mounts(server)
    server.reset()
    names = os.listdir(m.mnt / "d")
    assert len(names) == 200
    wait_for(lambda: gets(server) >= 200 and prefetch_idle(m),
             "the prefetch of 200 files")
    st = server.stats()
    assert st["requests"].get("GetObject", 0) == 200, st
    assert st["peak_concurrent"] >= 32, st
    m.settle("d")
    server.reset()
    for n in names:
        assert len((m.mnt / "d" / n).read_bytes()) == 1
    assert server.stats()["requests"] == {}, server.stats()
    ms = mount_stats(m)
    assert ms["prefetch.files_read"] == 200
    assert ms["prefetch.used_bytes"] == 200


def test_unread_dir_of_5000_stops_short(server, mounts):
    """[S-PREFETCH-2] Listing a directory of 5,000 files and reading none
    fetches one window of them (256 by default), well short of all; the
    unread bytes are counted as such."""
    out = run_tool(server.url, "putmany", "many/o-", "5000").stdout
    assert b"failed 0" in out
    m = mounts(server)
    server.reset()
    assert len(os.listdir(m.mnt / "many")) == 5000
    wait_for(lambda: prefetch_idle(m) and gets(server) > 0,
             "the prefetch to stop")
    first = gets(server)
    # Idle means idle: nothing more is started while nobody reads.
    assert prefetch_idle(m)
    assert gets(server) == first
    assert first == 256, first
    ms = mount_stats(m)
    assert ms["prefetch.files_started"] == 256
    assert ms["prefetch.unused_bytes"] == 256
    assert ms["prefetch.used_bytes"] == 0


def test_ls_recursive_backs_off(server, mounts):
    """[S-PREFETCH-3] `ls -R` of 30 directories of 300 files reads
    nothing: each directory opened after one that was not read gets half
    the window, so the whole walk fetches about two windows, not 30."""
    bucket = Bucket(server)
    bucket.put_many([(f"tree/d{d:02d}/f{f:03d}", b"x")
                     for d in range(30) for f in range(300)], threads=32)
    m = mounts(server)
    server.reset()
    r = subprocess.run(["ls", "-R", str(m.mnt / "tree")],
                       capture_output=True, text=True, timeout=600)
    assert r.returncode == 0
    wait_for(lambda: prefetch_idle(m), "the prefetch to stop")
    n = gets(server)
    assert 256 <= n <= 2 * 256 + 30, n
    assert mount_stats(m)["prefetch.backoff"] >= 10


def test_cp_r_reads_prefetched_files(server_factory, mounts, tmp_path):
    """[S-PREFETCH-1] cp -r of a directory of 300 files of 64 KiB makes
    one GET per file, all of them prefetched, and copies every byte."""
    server = server_factory("--latency-ms", "5")
    bucket = Bucket(server)
    data = {f"c/f{i:03d}": os.urandom(64 << 10) for i in range(300)}
    bucket.put_many(data.items(), threads=16)
    m = mounts(server)
    server.reset()
    dst = tmp_path / "copy"
    subprocess.run(["cp", "-r", str(m.mnt / "c"), str(dst)], check=True,
                   timeout=600)
    for k, v in data.items():
        assert (dst / k.split("/")[1]).read_bytes() == v
    st = server.stats()
    assert st["requests"].get("GetObject", 0) == 300, st
    # No HEAD per file: only meta_fill=auto's sample of 8 [S-META-4] and
    # the directory's marker.
    assert st["requests"].get("HeadObject", 0) <= 9, st
    ms = mount_stats(m)
    assert ms["prefetch.files_read"] + ms["prefetch.files_read_early"] \
        == 300


def test_files_the_kernel_holds_are_not_prefetched_again(server, mounts):
    """[S-PREFETCH-4] A file read whole through one open is in the
    kernel's page cache, which later opens keep: opening its directory
    again prefetches it no more, while a file read only in part is
    prefetched as before."""
    bucket = Bucket(server)
    # The kernel reads a small file whole whatever the process asks for
    # (its readahead), so the files read in part are larger.
    bucket.put_many([(f"k/f{i:02d}", bytes([i]) * (5000 if i < 30 else
                                                   2 << 20))
                     for i in range(40)])
    m = mounts(server, options=["dir_timeout=1"])
    names = sorted(os.listdir(m.mnt / "k"))
    assert len(names) == 40
    for n in names[:30]:
        assert (m.mnt / "k" / n).read_bytes()[:1] == bytes([int(n[1:])])
    for n in names[30:]:
        with open(m.mnt / "k" / n, "rb") as f:
            assert f.read(10) == bytes([int(n[1:])]) * 10
    wait_for(lambda: prefetch_idle(m), "the prefetch to stop")
    before = mount_stats(m)["prefetch.files_in_kernel"]
    time.sleep(1.5)  # let the listing expire (not an assertion on time)
    assert len(os.listdir(m.mnt / "k")) == 40
    wait_for(lambda: prefetch_idle(m) and
             mount_stats(m)["prefetch.files_in_kernel"] - before
             + mount_stats(m)["prefetch.files_cached"] >= 40,
             "the second prefetch pass")
    assert mount_stats(m)["prefetch.files_in_kernel"] - before == 30


def test_sequential_read_uses_parallel_ranges(server_factory, mounts,
                                              tmp_path):
    """[S-READAHEAD-1] [S-READAHEAD-2] Reading a 256 MiB object front to
    back fetches ranges ahead of the reader, at least 8 GETs in flight at
    the server's peak, with every byte right and no byte fetched twice;
    what the reader is well past leaves the daemon's cache."""
    server = server_factory("--latency-ms", "20")
    src = tmp_path / "big.bin"
    h = hashlib.sha256()
    with open(src, "wb") as f:
        for i in range(256):
            chunk = (i.to_bytes(4, "little") * (MiB // 4))
            h.update(chunk)
            f.write(chunk)
    run_tool(server.url, "mpu", "big.bin", str(src), str(64 * MiB))
    m = mounts(server)
    os.stat(m.mnt / "big.bin")
    server.reset()
    got = hashlib.sha256()
    with open(m.mnt / "big.bin", "rb") as f:
        while True:
            b = f.read(MiB)
            if not b:
                break
            got.update(b)
    assert got.digest() == h.digest()
    st = server.stats()
    assert st["peak_concurrent"] >= 8, st
    assert st["bytes_out"] <= 256 * MiB + 4 * MiB, st
    # 2 MiB ranges, a few small ones first.
    assert st["requests"]["GetObject"] <= 256 // 2 + 16, st
    ms = mount_stats(m)
    assert ms["readahead.ranges_started"] >= 8
    # All but the last runs (the lag, and runs queued at close) retired.
    assert ms["cache.retired_bytes"] >= 256 * MiB - 80 * MiB, ms
    assert ms["memory.used"] <= 80 * MiB, ms


def test_disk_cache_second_mount_and_bound(server, mounts, tmp_path):
    """[S-CACHE-DISK-1] With cache_dir, a second mount reads what the
    first fetched from disk (no GET); with a small cache_dir_size the
    directory never holds more than that and reports what it evicted."""
    bucket = Bucket(server)
    data = {f"e/f{i:02d}": os.urandom(100 << 10) for i in range(20)}
    bucket.put_many(data.items())
    cache = tmp_path / "cache"
    opts = [f"cache_dir={cache}", "cache_dir_size=64M", "noprefetch"]
    m1 = mounts(server, options=opts)
    for k, v in data.items():
        assert (m1.mnt / k).read_bytes() == v
    assert m1.finish() == []
    m2 = mounts(server, options=opts)
    server.reset()
    for k, v in data.items():
        assert (m2.mnt / k).read_bytes() == v
    assert gets(server) == 0
    assert mount_stats(m2)["disk.hits"] >= 20
    assert m2.finish() == []

    small = tmp_path / "small"
    m3 = mounts(server, options=[f"cache_dir={small}",
                                 "cache_dir_size=1M"])
    for k, v in data.items():
        assert (m3.mnt / k).read_bytes() == v
    assert m3.finish() == []
    used = sum(p.stat().st_size for p in small.rglob("*") if p.is_file())
    assert 0 < used <= MiB
    m4 = mounts(server, options=[f"cache_dir={small}",
                                 "cache_dir_size=1M"])
    ms = mount_stats(m4)
    assert ms["disk.bytes"] <= MiB
    assert ms["disk.files"] >= 1


def test_changed_object_not_served_from_disk(server, mounts, tmp_path):
    """[S-CACHE-DISK-2] The disk cache is keyed by ETag: after the object
    changes, a new mount reads the new bytes, never the cached ones."""
    bucket = Bucket(server)
    bucket.put("v", b"version one")
    opts = [f"cache_dir={tmp_path / 'c'}"]
    m1 = mounts(server, options=opts)
    assert (m1.mnt / "v").read_bytes() == b"version one"
    assert m1.finish() == []
    bucket.put("v", b"version two!")
    m2 = mounts(server, options=opts)
    assert (m2.mnt / "v").read_bytes() == b"version two!"


def test_stats_file_is_hidden_and_readable(server, mounts):
    """[S-STATS-1] MOUNT/.ossfs-stats is not listed, is read-only, and
    counts requests by kind, cache hits, prefetched bytes and memory
    against the budget."""
    Bucket(server).put("a", b"abc")
    m = mounts(server, options=["cache_size=64M"])
    assert ".ossfs-stats" not in os.listdir(m.mnt)
    assert (m.mnt / "a").read_bytes() == b"abc"
    st = mount_stats(m)
    for name in ("requests.get", "requests.list", "requests.head",
                 "http.bytes_in", "http.in_flight", "cache.hits",
                 "cache.misses", "prefetch.used_bytes",
                 "prefetch.evicted_unused_bytes", "memory.used"):
        assert name in st, name
    assert st["memory.budget"] == 64 * MiB
    assert st["requests.get"] >= 1
    mode = os.stat(m.mnt / ".ossfs-stats").st_mode
    assert mode & 0o222 == 0
