"""Helpers for the tests that drive a real ossfs mount of the bundled server.

* Mount: starts `ossfs BUCKET MNT -o url=...,region=cn-hangzhou,...`
  (in the foreground by default, so its stderr and exit status are ours to
  check), waits until the mount is in /proc/mounts, and ALWAYS unmounts:
  `fusermount3 -u`, then `fusermount3 -uz` / `umount -l`, then the daemon
  is ended by its PID.  After unmounting it fails the test on suspicious
  daemon output (error-level log lines, sanitizer reports, "Transport
  endpoint"), on a foreground daemon that did not exit 0, and, with
  OSSFS_VALGRIND=1, on valgrind's error exit status.
* mounts: a fixture that hands out Mount objects and tears them down.
* Bucket: writes and deletes objects straight through the server's HTTP
  API (signed with tests/server/osssign.py), many at once when asked.

Nothing here waits for a fixed time: every wait polls for a condition with
a generous deadline (longer under valgrind).
"""
import concurrent.futures
import errno
import os
import pathlib
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
import urllib.parse

import pytest

from conftest import AK, BUCKET, SK, TOP, binary

sys.path.insert(0, str(TOP / "tests" / "server"))
import osssign  # noqa: E402  (path set up just above)

REGION = "cn-hangzhou"
VALGRIND = os.environ.get("OSSFS_VALGRIND") == "1"
# Deadlines only: how long to wait before declaring a hang.  Valgrind runs
# the daemon some 20-50 times slower.
DEADLINE_S = 300 if VALGRIND else 60
VALGRIND_EXIT = 99


def fuse_skip_reason():
    if not os.path.exists("/dev/fuse"):
        return "no /dev/fuse: a FUSE file system cannot be mounted here"
    if shutil.which("fusermount3") is None:
        return "fusermount3 is not installed (apt-get install fuse3)"
    return None


needs_fuse = pytest.mark.skipif(fuse_skip_reason() is not None,
                                reason=fuse_skip_reason() or "")


def ossfs_bin():
    return binary("src/ossfs")


# ---- /proc/mounts ----------------------------------------------------------

def _unescape_mount_field(text):
    return re.sub(r"\\([0-7]{3})", lambda m: chr(int(m.group(1), 8)), text)


def mount_entry(mnt):
    """The /proc/mounts fields of the mount at mnt, or None."""
    want = os.path.realpath(str(mnt))
    found = None
    with open("/proc/mounts") as f:
        for line in f:
            fields = line.split()
            if len(fields) >= 3 and _unescape_mount_field(fields[1]) == want:
                found = fields  # the last one is on top
    return found


def is_mounted(mnt):
    return mount_entry(mnt) is not None


def wait_for(cond, what, deadline_s=DEADLINE_S, interval_s=0.05):
    """Poll cond() until it returns a true value; fail after deadline_s."""
    end = time.monotonic() + deadline_s
    while True:
        got = cond()
        if got:
            return got
        if time.monotonic() > end:
            pytest.fail(f"timed out after {deadline_s}s waiting for {what}")
        time.sleep(interval_s)


def daemon_pids(mnt):
    """PIDs of processes whose argv names mnt (a unique temporary path, so
    only daemons a test here started)."""
    want = str(mnt).encode()
    pids = []
    for p in pathlib.Path("/proc").iterdir():
        if not p.name.isdigit() or int(p.name) == os.getpid():
            continue
        try:
            argv = (p / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if want in argv:
            pids.append(int(p.name))
    return pids


def pid_alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return False


# ---- the environment a daemon runs in ---------------------------------------

def clean_env(home, **extra):
    """os.environ without any credentials, HOME pointing at home, and
    extra on top.  Keeps ossfs from finding the tester's own keys."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OSS_", "ALIBABA_CLOUD_"))}
    env["HOME"] = str(home)
    env.update({k: str(v) for k, v in extra.items()})
    return env


def key_env(home, ak=AK, sk=SK, token=None):
    env = clean_env(home, OSS_ACCESS_KEY_ID=ak, OSS_ACCESS_KEY_SECRET=sk)
    if token:
        env["OSS_SESSION_TOKEN"] = token
    return env


# Lines of daemon output that mean a test must fail even if every assertion
# held.  Tests that provoke errors on purpose pass `allow` patterns.
SUSPICIOUS = [
    re.compile(r"\] error: "),  # our own error-level log lines
    re.compile(r"\bERROR\b(?! SUMMARY: 0 errors)"),
    re.compile(r"Sanitizer"),
    re.compile(r"runtime error:"),
    re.compile(r"Transport endpoint"),
    re.compile(r"Segmentation fault|Aborted|core dumped"),
    re.compile(r"Invalid (read|write|free)|uninitialised|definitely lost: [1-9]"),
]


def suspicious_lines(text, allow=()):
    bad = []
    for line in text.splitlines():
        if any(re.search(a, line) for a in allow):
            continue
        if any(p.search(line) for p in SUSPICIOUS):
            bad.append(line)
    return bad


# ---- a mount ---------------------------------------------------------------

class Mount:
    """One ossfs daemon serving mnt.  Use through the `mounts` fixture,
    which always unmounts, or call unmount() in a finally block."""

    _settle_seq = 0

    def __init__(self, server_url, mnt, workdir, bucket=BUCKET, options=(),
                 env=None, foreground=True, allow=(), region=REGION):
        self.url = server_url
        self.mnt = pathlib.Path(mnt)
        self.workdir = pathlib.Path(workdir)
        self.bucket = bucket
        self.foreground = foreground
        self.allow = list(allow)
        self.log_path = self.workdir / "ossfs.log"
        self.stderr_path = self.workdir / "ossfs.stderr"
        self.san_prefix = self.workdir / "sanitizer"
        opts = [f"url={server_url}"]
        if region:
            opts.append(f"region={region}")
        opts += [f"logfile={self.log_path}", "loglevel=info"]
        # Staged writes stay inside the test's own directory.
        if not any(o.startswith("staging_dir=") for o in options):
            opts.append(f"staging_dir={self.workdir / 'staging'}")
        opts += list(options)
        self.options = ",".join(opts)
        self.env = dict(env) if env is not None else key_env(self.workdir)
        self.proc = None
        self.pids = []
        self.exit_status = None
        self.unmounted = False

    def command(self):
        cmd = [ossfs_bin(), self.bucket, str(self.mnt), "-o", self.options]
        if self.foreground or VALGRIND:
            cmd.append("-f")
        if VALGRIND:
            cmd = ["valgrind", f"--error-exitcode={VALGRIND_EXIT}",
                   "--leak-check=full", "--errors-for-leak-kinds=definite",
                   "--show-leak-kinds=definite", "--track-origins=no",
                   f"--log-file={self.workdir}/valgrind.%p"] + cmd
        return cmd

    def settle(self, rel=""):
        """Wait until the background metadata fill of the listing of
        directory rel (S-META-7) is done: a lookup in a listed directory
        waits for it.  The name looked up is new each time, so no cached
        dentry (positive or negative) answers in the daemon's place; a
        listed directory answers it without a request."""
        Mount._settle_seq += 1
        name = f".ossfs-settle-{os.getpid()}-{Mount._settle_seq}"
        probe = self.mnt / rel / name
        try:
            os.lstat(probe)
        except FileNotFoundError:
            pass

    def _sanitizer_env(self):
        env = dict(self.env)
        for var in ("ASAN_OPTIONS", "UBSAN_OPTIONS"):
            extra = f"log_path={self.san_prefix}"
            env[var] = env[var] + ":" + extra if env.get(var) else extra
        return env

    def start(self):
        self.mnt.mkdir(parents=True, exist_ok=True)
        env = self._sanitizer_env()
        if self.foreground or VALGRIND:
            with open(self.stderr_path, "wb") as err:
                self.proc = subprocess.Popen(
                    self.command(), env=env, stdin=subprocess.DEVNULL,
                    stdout=err, stderr=subprocess.STDOUT)
            self.pids = [self.proc.pid]
            wait_for(lambda: is_mounted(self.mnt) or self.proc.poll() is not None,
                     f"ossfs to mount {self.mnt}")
            if self.proc.poll() is not None:
                pytest.fail(f"ossfs exited with {self.proc.returncode} "
                            f"before mounting:\n{self.output()}")
        else:
            r = subprocess.run(self.command(), env=env, capture_output=True,
                               timeout=DEADLINE_S)
            self.stderr_path.write_bytes(r.stdout + r.stderr)
            if r.returncode != 0:
                pytest.fail(f"ossfs exited with {r.returncode}:\n"
                            f"{self.output()}")
            # The command returns once the mount is usable: no waiting.
            assert is_mounted(self.mnt), "ossfs returned 0 but nothing is mounted"
            self.pids = daemon_pids(self.mnt)
        return self

    def output(self):
        parts = []
        for p in [self.stderr_path, self.log_path] + sorted(
                self.workdir.glob("sanitizer*")) + sorted(
                self.workdir.glob("valgrind.*")):
            if p.exists():
                parts.append(p.read_text(errors="replace"))
        return "\n".join(parts)

    def _wait_daemon_gone(self, deadline_s):
        end = time.monotonic() + deadline_s
        while time.monotonic() < end:
            if self.proc is not None:
                if self.proc.poll() is not None:
                    return True
            elif not any(pid_alive(p) for p in self.pids):
                return True
            time.sleep(0.05)
        return False

    def unmount(self):
        """Unmount however it takes; returns problems found on the way
        (a list of strings) rather than raising, so that teardown always
        completes."""
        if self.unmounted:
            return []
        self.unmounted = True
        problems = []
        if is_mounted(self.mnt):
            try:
                os.stat(self.mnt)
            except OSError as e:
                if e.errno == errno.ENOTCONN:
                    problems.append("the mount was dead (ENOTCONN) "
                                    "before unmounting")
            r = subprocess.run(["fusermount3", "-u", str(self.mnt)],
                               capture_output=True, text=True)
            if r.returncode != 0:
                problems.append("fusermount3 -u failed: " + r.stderr.strip())
                subprocess.run(["fusermount3", "-u", "-z", str(self.mnt)],
                               capture_output=True)
                if is_mounted(self.mnt):
                    subprocess.run(["umount", "-l", str(self.mnt)],
                                   capture_output=True)
        if not self._wait_daemon_gone(DEADLINE_S):
            problems.append("the daemon did not exit after unmount")
            for pid in self.pids:
                if pid_alive(pid):
                    os.kill(pid, signal.SIGKILL)
            self._wait_daemon_gone(10)
        if self.proc is not None:
            self.exit_status = self.proc.wait()
            if self.exit_status == VALGRIND_EXIT and VALGRIND:
                problems.append("valgrind found errors")
            elif self.exit_status != 0:
                problems.append(f"the daemon exited with {self.exit_status}")
        if is_mounted(self.mnt):
            problems.append("still mounted after unmount")
        return problems

    def check_output(self):
        return suspicious_lines(self.output(), self.allow)

    def finish(self):
        """Unmount and return every problem found (empty when clean)."""
        problems = self.unmount()
        bad = self.check_output()
        if bad:
            problems.append("suspicious daemon output:\n  " +
                            "\n  ".join(bad[:20]))
        return problems


@pytest.fixture
def mounts(tmp_path):
    """make(server, options=(), ...) -> a started Mount.  Every mount is
    unmounted in teardown and its output checked; a problem fails the
    test (in teardown, after the test's own result)."""
    made = []

    def make(server, options=(), start=True, **kw):
        n = len(made)
        work = tmp_path / f"mount{n}"
        work.mkdir()
        kw.setdefault("env", key_env(work))
        m = Mount(server.url, work / "mnt", work, options=options, **kw)
        made.append(m)
        return m.start() if start else m

    yield make
    problems = []
    for m in made:
        problems += [f"{m.mnt}: {p}" for p in m.finish()]
    if problems:
        out = "\n".join(m.output()[-4000:] for m in made)
        pytest.fail("\n".join(problems) + "\n--- daemon output ---\n" + out)


# ---- objects, through the server's own API -----------------------------------

class Bucket:
    """Signed requests to the test server for setting up and changing
    objects behind the mount's back."""

    def __init__(self, server, bucket=BUCKET, ak=AK, sk=SK, token=None):
        self.server = server
        self.bucket = bucket
        self.ak, self.sk, self.token = ak, sk, token
        self.local = threading.local()

    def client(self):
        c = getattr(self.local, "client", None)
        if c is None:
            c = osssign.Client(self.server.port, ak=self.ak, sk=self.sk,
                               token=self.token, region=REGION)
            self.local.client = c
        return c

    def _check(self, r, what):
        if r.status // 100 != 2:
            raise AssertionError(f"{what}: HTTP {r.status} {r.body[:300]!r}")
        return r

    def put(self, key, data=b"", meta=None):
        headers = [("x-oss-meta-" + k, str(v)) for k, v in (meta or {}).items()]
        return self._check(self.client().request(
            "PUT", self.bucket, key, headers=headers, body=data),
            f"PUT {key!r}")

    def symlink(self, link, target):
        return self._check(self.client().request(
            "PUT", self.bucket, link, query=[("symlink", None)],
            headers=[("x-oss-symlink-target",
                      osssign.quote(target, safe="/"))]),
            f"PUT symlink {link!r}")

    def delete(self, key):
        return self._check(self.client().request("DELETE", self.bucket, key),
                           f"DELETE {key!r}")

    def get(self, key):
        return self._check(self.client().request("GET", self.bucket, key),
                           f"GET {key!r}").body

    def head(self, key):
        """The object's response headers, or None when it is missing."""
        r = self.client().request("HEAD", self.bucket, key)
        if r.status == 404:
            return None
        return {k.lower(): v for k, v in self._check(r, f"HEAD {key!r}")
                .headers.items()}

    def meta(self, key):
        """x-oss-meta-* of key as {name: value}, or None when missing."""
        h = self.head(key)
        if h is None:
            return None
        return {k[len("x-oss-meta-"):]: v for k, v in h.items()
                if k.startswith("x-oss-meta-")}

    def _get_symlink(self, key):
        return self._check(self.client().request(
            "GET", self.bucket, key, query=[("symlink", None)]),
            f"GetSymlink {key!r}")

    def read_symlink(self, key):
        r = self._get_symlink(key)
        return urllib.parse.unquote(r.header("x-oss-symlink-target"))

    def symlink_meta(self, key):
        """x-oss-meta-* of the link itself (HEAD would follow it)."""
        return {k.lower()[len("x-oss-meta-"):]: v
                for k, v in self._get_symlink(key).headers.items()
                if k.lower().startswith("x-oss-meta-")}

    def listing(self, prefix=""):
        """{key: (size, type)} of every key under prefix (all pages)."""
        out, token = {}, None
        while True:
            q = [("list-type", "2"), ("prefix", prefix), ("max-keys", "1000"),
                 ("encoding-type", "url")]
            if token:
                q.append(("continuation-token", token))
            root = self._check(self.client().request(
                "GET", self.bucket, "", query=q), "LIST").xml()
            ns = root.tag[:root.tag.index("}") + 1] if "}" in root.tag else ""
            for c in root.findall(ns + "Contents"):
                key = urllib.parse.unquote(c.findtext(ns + "Key"))
                out[key] = (int(c.findtext(ns + "Size")),
                            c.findtext(ns + "Type"))
            if root.findtext(ns + "IsTruncated") != "true":
                return out
            token = urllib.parse.unquote(root.findtext(ns + "NextContinuationToken"))

    def put_many(self, items, threads=16):
        """items: iterable of (key, bytes)."""
        items = list(items)
        with concurrent.futures.ThreadPoolExecutor(threads) as pool:
            for f in [pool.submit(self.put, k, d) for k, d in items]:
                f.result()


def requests(server):
    """The server's request counters by operation (a dict)."""
    return dict(server.stats()["requests"])


def requests_since(server, before):
    now = requests(server)
    return {k: v - before.get(k, 0) for k, v in now.items()
            if v - before.get(k, 0)}
