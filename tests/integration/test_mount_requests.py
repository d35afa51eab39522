"""What operations on the mount cost in requests to the server, counted by
the server itself (/_admin/stats).  Never timed: each test asserts counts.
"""
import os
import subprocess

import pytest

from conftest import run_tool
from mount_util import Bucket, mounts, needs_fuse  # noqa: F401 (fixture)

pytestmark = needs_fuse

LIST_OPS = ("ListObjectsV2", "ListObjects")
HEAD_OPS = ("HeadObject", "GetObjectMeta")


def count(reqs, ops):
    return sum(reqs.get(op, 0) for op in ops)


def ls_l(path):
    r = subprocess.run(["ls", "-l", "--", str(path)], capture_output=True,
                       text=True, timeout=600)
    assert r.returncode == 0, r.stderr
    return [l for l in r.stdout.splitlines() if not l.startswith("total")]


@pytest.mark.parametrize("prefetch", ["prefetch", "noprefetch"])
def test_ls_l_of_10000_objects(server, mounts, prefetch):
    """[S-READDIR-1] [S-READDIR-4] [S-ATTR-1] `ls -l` of a directory of
    10,000 objects without metadata makes at most 11 LIST requests (1,000
    keys a page) and 9 HEADs (the directory's marker and meta_fill=auto's
    sample of 8): readdirplus hands the kernel each entry's attributes
    from the listing.  Without the directory prefetch it makes no GET
    either.  A second `ls -l` within the TTL lists nothing again."""
    out = run_tool(server.url, "putmany", "many/obj-", "10000").stdout
    assert b"failed 0" in out
    m = mounts(server, options=[prefetch])
    server.reset()
    lines = ls_l(m.mnt / "many")
    assert len(lines) == 10000
    assert all(l.startswith("-rw-r--r-- 1 ") for l in lines), lines[:3]
    reqs = server.stats()["requests"]
    assert count(reqs, LIST_OPS) <= 11, reqs
    assert count(reqs, HEAD_OPS) <= 1 + 8, reqs
    if prefetch == "noprefetch":
        assert reqs.get("GetObject", 0) == 0, reqs
    server.reset()
    assert len(ls_l(m.mnt / "many")) == 10000
    reqs = server.stats()["requests"]
    assert count(reqs, LIST_OPS + HEAD_OPS) == 0, reqs
    if prefetch == "noprefetch":
        assert reqs == {}, reqs


def test_second_stat_within_ttl_is_free(server, mounts):
    """[S-CACHE-1] [S-LOOKUP-1] The first stat of a file asks the server
    (a LIST that finds the name, then a HEAD for its metadata); a second
    stat within the attribute TTL makes no request."""
    Bucket(server).put_many([("d/file.txt", b"12345"), ("top", b"t")])
    m = mounts(server)
    os.stat(m.mnt / "d")
    server.reset()
    assert os.stat(m.mnt / "d" / "file.txt").st_size == 5
    first = server.stats()["requests"]
    assert count(first, LIST_OPS) == 1, first
    assert count(first, HEAD_OPS) == 1, first
    server.reset()
    for _ in range(3):
        assert os.stat(m.mnt / "d" / "file.txt").st_size == 5
    assert server.stats()["requests"] == {}


def test_missing_name_twice_within_negative_ttl(server, mounts):
    """[S-CACHE-2] [S-LOOKUP-1] Looking up a missing name costs one LIST;
    looking it up again within the negative TTL costs nothing."""
    Bucket(server).put("d/present", b"p")
    m = mounts(server)
    os.stat(m.mnt / "d")
    server.reset()
    for _ in range(2):
        with pytest.raises(FileNotFoundError):
            os.stat(m.mnt / "d" / "desktop.ini")
    reqs = server.stats()["requests"]
    assert reqs == {"ListObjectsV2": 1}, reqs


def test_fresh_listing_answers_lookups(server, mounts):
    """[S-CACHE-3] [S-LOOKUP-3] Once a directory has been listed, lookups
    of its names - present or missing - make no request until the listing
    expires."""
    Bucket(server).put_many([(f"d/f{i}", b"x" * i) for i in range(20)])
    m = mounts(server)
    assert len(os.listdir(m.mnt / "d")) == 20
    m.settle("d")  # waits for the metadata fill [S-META-7]
    server.reset()
    for name in (".hidden", "desktop.ini", "Thumbs.db", "f3", "f19"):
        try:
            os.stat(m.mnt / "d" / name)
        except FileNotFoundError:
            pass
    assert (m.mnt / "d" / "f7").stat().st_size == 7
    # (GETs, if any, are the directory prefetch's, not the lookups'.)
    reqs = server.stats()["requests"]
    assert count(reqs, LIST_OPS + HEAD_OPS) == 0, reqs


def test_directory_and_symlink_lookup_cost_one_list(server, mounts):
    """[S-LOOKUP-1] [S-DIR-2] With meta_fill=off, looking up a directory
    (with or without a marker) or a symlink costs one LIST and no HEAD;
    otherwise one more request reads the marker's (HEAD) or the link's
    (GetSymlink) metadata."""
    bucket = Bucket(server)
    bucket.put_many([("implicit/x", b"x"), ("marked/", b""),
                     ("marked/y", b"y")])
    bucket.symlink("link", "marked/y")
    m = mounts(server, options=["meta_fill=off"])
    for name, check in (("implicit", os.path.isdir),
                        ("marked", os.path.isdir),
                        ("link", os.path.islink)):
        server.reset()
        assert check(m.mnt / name)
        reqs = server.stats()["requests"]
        assert reqs == {"ListObjectsV2": 1}, (name, reqs)
    auto = mounts(server)
    for name, check, extra in (("implicit", os.path.isdir, "HeadObject"),
                               ("marked", os.path.isdir, "HeadObject"),
                               ("link", os.path.islink, "GetSymlink")):
        server.reset()
        assert check(auto.mnt / name)
        reqs = server.stats()["requests"]
        assert reqs == {"ListObjectsV2": 1, extra: 1}, (name, reqs)
