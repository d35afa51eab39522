"""Listing fidelity of a real mount: what os.walk, readdir and stat show for
a bucket, compared with what the keys say.

The expected tree is computed here from the key list with the rules in
SEMANTICS.md (section "Names"): a key becomes a path when every segment
can be a file name; a segment that cannot (empty, ".", "..", longer than
255 bytes) hides the key from that segment down, while the directories
above it still exist; a "dir/" marker makes a directory; when "a" and
"a/" both exist the directory wins.
"""
import ctypes
import os
import random
import stat

import pytest

from mount_util import Bucket, mounts, needs_fuse, wait_for  # noqa: F401

pytestmark = needs_fuse

NAME_MAX = 255

SPECIAL_SEGMENTS = [
    "with space", " leading space", "trailing space ", "unicodé",
    "文件夹", "emoji-\U0001F600", "pct%41%2F", "plus+sign", "hash#tag",
    "q?mark", "amp&and", "semi;colon", "eq=sign", "comma,", "at@",
    "dollar$", "paren(x)", "brack[x]", "star*", "tilde~", "quote'",
    "dquote\"", "back\\slash", "a-b", "a.b", "a_b", "UPPER", "upper",
    "...", ".hidden", "-dash", "100%", "%", "+", "#", "?", "&",
]


def segment_ok(seg):
    return (seg not in ("", ".", "..")
            and len(seg.encode("utf-8")) <= NAME_MAX)


def expected_tree(keys):
    """(dirs, files) as sets of relative paths that a walk of the mount
    must show for the bucket holding exactly keys."""
    dirs, files = set(), set()
    for key in keys:
        is_marker = key.endswith("/")
        segs = (key[:-1] if is_marker else key).split("/")
        ndirs = len(segs) if is_marker else len(segs) - 1
        for i, seg in enumerate(segs):
            if not segment_ok(seg):
                # The directories above the bad segment are listed as
                # prefixes all the same.
                ndirs = min(ndirs, i)
                break
        else:
            if not is_marker:
                files.add(key)
        for i in range(1, ndirs + 1):
            dirs.add("/".join(segs[:i]))
    return dirs, files - dirs


def random_keys(rng, count):
    """About count keys: random depth-1..4 paths over tricky names, plus
    markers and the names that must be skipped."""
    pool = SPECIAL_SEGMENTS + [f"d{i:02d}" for i in range(12)]
    keys = set()
    while len(keys) < count:
        depth = rng.choice([1, 1, 2, 2, 2, 3, 3, 4])
        segs = [rng.choice(pool) for _ in range(depth - 1)]
        leaf = rng.choice(["f", "file ", "ファイル", "x%y", "p+q", "r#s",
                           "t?u", "v&w", "z"]) + str(rng.randrange(10000))
        keys.add("/".join(segs + [leaf]))
    # Directory markers: on a directory that also has children, on an
    # empty directory, nested.
    keys |= {"d00/", "marked-empty/", "marked/deep/", "marked/deep/f1",
             "with space/"}
    # 255 bytes is still a name; 256 is not.
    long_ok_file = "L" * 250 + ".long"
    long_ok_dir = "文" * 85                      # 255 bytes of UTF-8
    keys |= {"longnames/" + long_ok_file, long_ok_dir + "/inside",
             "longnames/" + "M" * 256, "N" * 256 + "/hidden",
             "longnames/" + "é" * 128}            # 256 bytes: skipped
    # Keys that cannot be paths (kept out of the walk, logged once).
    keys |= {"a//b", "./x", "../y", "sub/./z", "sub/../w", "sub//",
             "sub/ok", "trailing//", "dots/../../etc"}
    # A file and a directory of the same name: the directory wins.
    keys |= {"clash", "clash/inner", "clash2", "clash2/", "d01/clash3",
             "d01/clash3/x"}
    return sorted(keys)


def walk(mnt):
    dirs, files = set(), set()
    for root, dnames, fnames in os.walk(mnt):
        rel = os.path.relpath(root, mnt)
        for d in dnames:
            dirs.add(d if rel == "." else f"{rel}/{d}")
        for f in fnames:
            files.add(f if rel == "." else f"{rel}/{f}")
    return dirs, files


def payload(key):
    return key.encode("utf-8")[:64] * (1 + len(key) % 3)


def test_expected_tree_rules():
    """[S-NAME-1] [S-NAME-2] [S-NAME-3] [S-DIR-1] [S-DIR-2] The Python
    model of the naming rules, on small cases (the walk test below holds
    the mount to it)."""
    dirs, files = expected_tree(["a", "a/", "b/c", "x//y", "./z", "m/",
                                 "k" * 256, "q/" + "k" * 255])
    assert dirs == {"a", "b", "x", "m", "q"}
    assert files == {"b/c", "q/" + "k" * 255}


def test_walk_matches_keys(server, mounts):
    """[S-READDIR-1] [S-READDIR-2] [S-NAME-1] [S-NAME-2] [S-NAME-3]
    [S-DIR-1] [S-DIR-2] [S-ATTR-1] A random tree of over 2,000
    keys with tricky names, markers, implicit directories, over-long and
    impossible names: os.walk of the mount equals the model, every file's
    size is its object's size, and entries come in byte order."""
    rng = random.Random(20240611)
    keys = random_keys(rng, 2000)
    assert len(keys) >= 2000
    bucket = Bucket(server)
    bucket.put_many((k, b"" if k.endswith("/") else payload(k))
                    for k in keys)
    m = mounts(server, allow=[r"skipping key"])
    want_dirs, want_files = expected_tree(keys)
    got_dirs, got_files = walk(m.mnt)
    assert sorted(got_dirs - want_dirs) == []
    assert sorted(want_dirs - got_dirs) == []
    assert sorted(got_files - want_files) == []
    assert sorted(want_files - got_files) == []
    for rel in want_files:
        st = os.lstat(m.mnt / rel)
        assert stat.S_ISREG(st.st_mode), rel
        assert st.st_size == len(payload(rel)), rel
    for rel in want_dirs:
        assert stat.S_ISDIR(os.lstat(m.mnt / rel).st_mode), rel
    # Entries come in byte order of their UTF-8 names.
    for rel in ["."] + sorted(want_dirs)[:200]:
        names = os.listdir(m.mnt / rel)
        assert names == sorted(names, key=lambda n: n.encode()), rel
    # Every skipped name was logged once, as the key (or common prefix)
    # the listing showed.
    assert walk(m.mnt) == (got_dirs, got_files)
    log = m.log_path.read_text(errors="replace")
    for bad in ("a//", "./", "../", "sub/./", "N" * 256 + "/",
                "longnames/" + "M" * 256, "longnames/" + "é" * 128):
        assert log.count(f'skipping key "{bad}"') == 1, bad


def test_file_and_directory_of_one_name(server, mounts):
    """[S-NAME-3] With both "clash" and "clash/x" (or a "clash/" marker)
    the name is a directory; the object "clash" cannot be reached."""
    bucket = Bucket(server)
    bucket.put_many([("clash", b"file bytes"), ("clash/x", b"inner"),
                     ("solo", b"s"), ("solo/", b""), ("plain", b"p")])
    m = mounts(server)
    assert sorted(os.listdir(m.mnt)) == ["clash", "plain", "solo"]
    assert stat.S_ISDIR(os.stat(m.mnt / "clash").st_mode)
    assert os.listdir(m.mnt / "clash") == ["x"]
    assert stat.S_ISDIR(os.stat(m.mnt / "solo").st_mode)
    assert os.listdir(m.mnt / "solo") == []
    assert (m.mnt / "clash" / "x").read_bytes() == b"inner"


def test_lookup_without_listing_parent(server, mounts):
    """[S-LOOKUP-1] [S-NAME-3] [S-DIR-2] A path is found by lookup alone
    (no readdir of its parent first): files, implicit directories,
    marker-only directories, and the directory side of a name clash."""
    bucket = Bucket(server)
    bucket.put_many([("p/q/r.txt", b"r"), ("p/q/", b""), ("imp/l/i/cit", b"i"),
                     ("onlymarker/", b""), ("k", b"k"), ("k/in", b"in"),
                     ("k-", b"-"), ("k.", b"."), ("k0", b"0")])
    m = mounts(server)
    assert (m.mnt / "p" / "q" / "r.txt").read_bytes() == b"r"
    assert stat.S_ISDIR(os.stat(m.mnt / "imp" / "l" / "i").st_mode)
    assert (m.mnt / "imp/l/i/cit").read_bytes() == b"i"
    assert stat.S_ISDIR(os.stat(m.mnt / "onlymarker").st_mode)
    assert stat.S_ISDIR(os.stat(m.mnt / "k").st_mode)
    assert (m.mnt / "k" / "in").read_bytes() == b"in"
    assert (m.mnt / "k-").read_bytes() == b"-"
    with pytest.raises(FileNotFoundError):
        os.stat(m.mnt / "imp" / "l" / "nothing")
    with pytest.raises(NotADirectoryError):
        os.stat(m.mnt / "k-" / "below")


def test_bad_names_are_not_found(server, mounts):
    """[S-NAME-2] [S-LOOKUP-2] A name longer than 255 bytes is refused
    with ENAMETOOLONG before any request; skipped keys cannot be reached
    by lookup either."""
    bucket = Bucket(server)
    bucket.put_many([("a//b", b"x"), ("long/" + "y" * 256, b"y")])
    m = mounts(server, allow=[r"skipping key"])
    assert os.listdir(m.mnt / "a") == []
    assert os.listdir(m.mnt / "long") == []
    server.reset()
    with pytest.raises(OSError) as e:
        os.stat(m.mnt / "long" / ("y" * 256))
    assert e.value.errno == 36  # ENAMETOOLONG
    assert server.stats()["requests"] == {}


def _libc_dir_api():
    libc = ctypes.CDLL(None, use_errno=True)
    libc.opendir.restype = ctypes.c_void_p
    libc.opendir.argtypes = [ctypes.c_char_p]
    libc.readdir64.restype = ctypes.c_void_p
    libc.readdir64.argtypes = [ctypes.c_void_p]
    libc.telldir.restype = ctypes.c_long
    libc.telldir.argtypes = [ctypes.c_void_p]
    libc.seekdir.argtypes = [ctypes.c_void_p, ctypes.c_long]
    libc.closedir.argtypes = [ctypes.c_void_p]
    return libc


# struct dirent64: d_ino (8), d_off (8), d_reclen (2), d_type (1), d_name.
_D_NAME_OFFSET = 19


def _next_name(libc, d):
    ent = libc.readdir64(d)
    if not ent:
        return None
    return ctypes.string_at(ent + _D_NAME_OFFSET).decode()


def test_open_directory_is_a_snapshot(server, mounts):
    """[S-READDIR-5] An open directory lists the directory as it was when
    it was opened, to the end, even when objects are added and removed
    meanwhile and the listing TTL has passed; telldir/seekdir positions
    stay valid."""
    bucket = Bucket(server)
    names = [f"e{i:05d}" for i in range(3000)]
    bucket.put_many((f"snap/{n}", b"") for n in names)
    m = mounts(server, options=["dir_timeout=1", "attr_timeout=1",
                                "negative_timeout=1"])
    libc = _libc_dir_api()
    d = libc.opendir(str(m.mnt / "snap").encode())
    assert d
    try:
        seen = [_next_name(libc, d) for _ in range(12)]
        pos = libc.telldir(d)
        after_pos = _next_name(libc, d)
        # Change the directory behind the handle's back.
        bucket.put("snap/e00000-new", b"")
        bucket.delete("snap/e02999")
        wait_for(lambda: "e00000-new" in os.listdir(m.mnt / "snap"),
                 "a new opendir to see the change")
        rest = [after_pos]
        while True:
            n = _next_name(libc, d)
            if n is None:
                break
            rest.append(n)
        assert [n for n in seen + rest if n not in (".", "..")] == names
        libc.seekdir(d, pos)
        assert _next_name(libc, d) == after_pos
    finally:
        libc.closedir(d)
