#!/usr/bin/python3
"""ossfs benchmark: the same workloads through ossfs, s3fs and rclone mount,
against one bundled OSS server with a first-byte latency, in one run.

    sudo /usr/bin/python3 tests/bench/bench.py [--latency-ms 20]
        [--clients ossfs,s3fs,rclone-off,rclone-full] [--workloads W1,...]
        [--scale 1.0] [--small-cache 256M] [--out results.md]

It builds ossfs if needed, installs s3fs and rclone from Debian when
missing, keeps the server's data on tmpfs, gives every workload a fresh
mount and dropped page cache, and prints a markdown table: wall time,
requests by kind and peak concurrent requests (from the server's
counters), the daemon's peak RSS and CPU seconds, and the ratio to s3fs.
This is a measurement, not a test: nothing here asserts a time.

Workloads (sizes scale with --scale):
  W1  ls -l of a flat directory of 10,000 objects of 1 KiB
  W2  cp -r of a directory of 1,000 objects of 64 KiB to local disk; then
      "W2 again": the same copy on the same mount after dropping the
      kernel's page cache (what FUSE and cp cost with nothing left to fetch,
      for a client that kept the data)
  W2r rsync -a of the same directory to local disk
  W3  cat of a 1 GiB object, 100 Mbit/s per connection
  W4  4 processes each read a shuffled quarter of 20 dirs x 200 files x
      110 KiB after listing the tree; epoch 1, epoch 2
  W5  2,000 random 4 KiB reads in the 1 GiB object
  W6  writes, timed until the data is in the bucket (the server's own
      files say so): cp of a local 256 MiB file into the mount, and
      rsync -a of a local directory of 200 x 64 KiB files into the mount
"""
import argparse
import concurrent.futures
import hashlib
import json
import os
import pathlib
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request

TOP = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(TOP / "tests" / "server"))
PY = "/usr/bin/python3"
AK, SK, BUCKET, REGION = "benchak", "benchsk", "bench", "cn-hangzhou"
MiB = 1 << 20


def sh(*cmd, check=True, **kw):
    return subprocess.run(cmd, check=check, **kw)


class Server:
    def __init__(self, root, latency_ms):
        self.root = pathlib.Path(root)
        pf = self.root / "port"
        self.log = open(self.root / "server.log", "w")
        self.proc = subprocess.Popen(
            [PY, str(TOP / "tests/server/ossserver.py"), "--root",
             str(self.root / "data"), "--port", "0", "--port-file", str(pf),
             "--bucket", BUCKET, "--creds", f"{AK}:{SK}"],
            stdout=self.log, stderr=subprocess.STDOUT)
        for _ in range(300):
            if pf.exists() and pf.read_text().strip():
                break
            time.sleep(0.05)
        self.url = f"http://127.0.0.1:{pf.read_text().strip()}"
        self.latency_ms = latency_ms

    def admin(self, path, body=None):
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(f"{self.url}/_admin/{path}", data=data,
                                     method="GET" if body is None else "POST")
        with urllib.request.urlopen(req, timeout=60) as r:
            text = r.read().decode()
        try:
            return json.loads(text)
        except ValueError:
            return text

    def config(self, **kw):
        self.admin("config", kw)

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()


def osstool(build, url, *args):
    env = dict(os.environ, OSS_ACCESS_KEY_ID=AK, OSS_ACCESS_KEY_SECRET=SK)
    return sh(str(build / "tests/tools/osstool"), "--url", url, "--bucket",
              BUCKET, "--region", REGION, *args, env=env,
              stdout=subprocess.DEVNULL)


def populate(build, srv, scale, tmp, workloads=None):
    """Upload the data set with no latency, from many threads (only what
    the chosen workloads read, when they are given)."""
    want = set(workloads or ["W1", "W2", "W3", "W4", "W5"])
    srv.config(latency_ms=0, bandwidth_bps=0)
    n1 = int(10000 * scale)
    n2 = int(1000 * scale)
    big = int(1024 * MiB * scale)
    dirs, per_dir = 20, int(200 * scale)
    jobs = []
    blob = tmp / "blob"

    def put(key, size, seed):
        path = tmp / f"obj-{seed}"
        rnd = random.Random(seed)
        path.write_bytes(rnd.randbytes(size))
        osstool(build, srv.url, "put", key, str(path))
        path.unlink()

    for i in range(n1 if "W1" in want else 0):
        jobs.append((f"w1/f{i:05d}", 1024, i))
    for i in range(n2 if want & {"W2", "W2r"} else 0):
        jobs.append((f"w2/f{i:04d}.bin", 64 * 1024, 100000 + i))
    for d in range(dirs if "W4" in want else 0):
        for f in range(per_dir):
            jobs.append((f"w4/d{d:02d}/f{f:03d}.jpg", 110 * 1024,
                         200000 + d * 1000 + f))
    # The big object through multipart, from one file.
    if want & {"W3", "W5"}:
        with open(blob, "wb") as f:
            rnd = random.Random(7)
            left = big
            while left:
                chunk = min(left, 8 * MiB)
                f.write(rnd.randbytes(chunk))
                left -= chunk
        osstool(build, srv.url, "mpu", "w3/big.bin", str(blob),
                str(64 * MiB))
        blob.unlink()
    with concurrent.futures.ThreadPoolExecutor(32) as ex:
        list(ex.map(lambda j: put(*j), jobs))
    return {"n1": n1, "n2": n2, "big": big, "dirs": dirs, "per_dir": per_dir}


# ---- clients -------------------------------------------------------------

class Mount:
    """One mounted client; knows how to find its daemon's PID."""

    def __init__(self, name, mnt, proc=None, pid=None):
        self.name, self.mnt, self.proc, self.pid = name, mnt, proc, pid

    def usage(self):
        try:
            status = pathlib.Path(f"/proc/{self.pid}/status").read_text()
            hwm = int([l for l in status.splitlines()
                       if l.startswith("VmHWM")][0].split()[1]) * 1024
            st = pathlib.Path(f"/proc/{self.pid}/stat").read_text()
            fields = st[st.rindex(")") + 2:].split()
            cpu = (int(fields[11]) + int(fields[12])) / os.sysconf(
                "SC_CLK_TCK")
            return hwm, cpu
        except (OSError, IndexError, ValueError):
            return 0, 0.0


def ossfs_stats(mnt):
    """The ossfs daemon's counters (MOUNT/.ossfs-stats), or {}."""
    try:
        text = (pathlib.Path(mnt) / ".ossfs-stats").read_text()
    except OSError:
        return {}
    out = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2:
            out[parts[0]] = int(parts[1])
    return out


def wait_mounted(mnt, proc=None, timeout=60):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if os.path.ismount(mnt):
            return True
        if proc is not None and proc.poll() is not None:
            return False
        time.sleep(0.1)
    return False


def pid_of_mount(mnt, pattern):
    out = subprocess.run(["pgrep", "-f", pattern], capture_output=True,
                         text=True).stdout.split()
    for pid in out:
        try:
            cmd = pathlib.Path(f"/proc/{pid}/cmdline").read_bytes()
        except OSError:
            continue
        if str(mnt).encode() in cmd:
            return int(pid)
    return None


def mount_ossfs(build, srv, mnt, extra=""):
    env = dict(os.environ, OSS_ACCESS_KEY_ID=AK, OSS_ACCESS_KEY_SECRET=SK)
    opts = f"url={srv.url},region={REGION}" + (f",{extra}" if extra else "")
    sh(str(build / "src/ossfs"), BUCKET, str(mnt), "-o", opts, env=env)
    if not wait_mounted(mnt):
        raise RuntimeError("ossfs did not mount")
    return Mount("ossfs", mnt, pid=pid_of_mount(mnt, "src/ossfs"))


def mount_s3fs(srv, mnt, tmp):
    pw = tmp / "passwd-s3fs"
    pw.write_text(f"{AK}:{SK}\n")
    pw.chmod(0o600)
    sh("s3fs", BUCKET, str(mnt), "-o", f"url={srv.url}", "-o",
       "use_path_request_style", "-o", f"passwd_file={pw}", "-o",
       "endpoint=us-east-1", "-o", "sigv4")
    if not wait_mounted(mnt):
        raise RuntimeError("s3fs did not mount")
    return Mount("s3fs", mnt, pid=pid_of_mount(mnt, "s3fs"))


def mount_rclone(srv, mnt, mode, tmp):
    env = dict(os.environ, RCLONE_CONFIG_BENCH_TYPE="s3",
               RCLONE_CONFIG_BENCH_PROVIDER="Other",
               RCLONE_CONFIG_BENCH_ENDPOINT=srv.url,
               RCLONE_CONFIG_BENCH_ACCESS_KEY_ID=AK,
               RCLONE_CONFIG_BENCH_SECRET_ACCESS_KEY=SK,
               RCLONE_CONFIG_BENCH_REGION="us-east-1",
               RCLONE_CONFIG_BENCH_FORCE_PATH_STYLE="true")
    # rclone's S3 backend refuses to start when AWS_CA_BUNDLE is set and
    # the endpoint is plain HTTP ("unable to load custom CA bundle").
    env.pop("AWS_CA_BUNDLE", None)
    cache = tmp / f"rclone-cache-{mode}"
    # A fresh mount starts cold: the VFS cache of an earlier workload
    # would otherwise serve this one from disk.
    shutil.rmtree(cache, ignore_errors=True)
    proc = subprocess.Popen(
        ["rclone", "mount", f"bench:{BUCKET}", str(mnt),
         "--vfs-cache-mode", mode, "--cache-dir", str(cache),
         "--config", "/dev/null"], env=env, stdout=subprocess.DEVNULL,
        stderr=open(tmp / f"rclone-{mode}.log", "w"))
    if not wait_mounted(mnt, proc):
        proc.kill()
        raise RuntimeError("rclone did not mount")
    return Mount(f"rclone-{mode}", mnt, proc=proc, pid=proc.pid)


def unmount(m):
    subprocess.run(["fusermount3", "-u", str(m.mnt)], check=False)
    if not os.path.ismount(m.mnt):
        pass
    else:
        subprocess.run(["umount", "-l", str(m.mnt)], check=False)
    if m.proc is not None:
        try:
            m.proc.wait(30)
        except subprocess.TimeoutExpired:
            m.proc.kill()
    elif m.pid:
        for _ in range(100):
            if not pathlib.Path(f"/proc/{m.pid}").exists():
                break
            time.sleep(0.1)


def drop_caches():
    os.sync()
    try:
        pathlib.Path("/proc/sys/vm/drop_caches").write_text("3\n")
    except OSError:
        pass


# ---- workloads -------------------------------------------------------------

def w1(m, ds, tmp):
    out = subprocess.run(["ls", "-l", str(m.mnt / "w1")], capture_output=True,
                         check=True).stdout
    n = len(out.splitlines()) - 1
    return {"detail": f"{n} entries"}


def w2(m, ds, tmp):
    dst = tmp / "w2copy"
    shutil.rmtree(dst, ignore_errors=True)
    sh("cp", "-r", str(m.mnt / "w2"), str(dst))
    n = len(list(dst.iterdir()))
    shutil.rmtree(dst)
    return {"detail": f"{n} files"}


def w2r(m, ds, tmp):
    dst = tmp / "w2copy"
    shutil.rmtree(dst, ignore_errors=True)
    sh("rsync", "-a", str(m.mnt / "w2") + "/", str(dst) + "/")
    n = len(list(dst.iterdir()))
    shutil.rmtree(dst)
    return {"detail": f"{n} files"}


def w3(m, ds, tmp):
    # Plain cat, as a user would (hashing here would take a core from the
    # clients on a 2-core machine); the server's byte count is in the row.
    path = m.mnt / "w3/big.bin"
    with open(os.devnull, "wb") as null:
        sh("cat", str(path), stdout=null)
    return {"bytes": path.stat().st_size}


def w4_reader(files):
    for f in files:
        with open(f, "rb") as fh:
            while fh.read(1 << 20):
                pass
    return len(files)


def w4_epoch(m, ds):
    files = []
    for d in sorted(os.listdir(m.mnt / "w4")):
        for f in sorted(os.listdir(m.mnt / "w4" / d)):
            files.append(m.mnt / "w4" / d / f)
    random.Random(len(files)).shuffle(files)
    quarters = [[str(f) for f in files[i::4]] for i in range(4)]
    # Four processes, as a data loader's workers would be.
    with concurrent.futures.ProcessPoolExecutor(4) as ex:
        list(ex.map(w4_reader, quarters))
    return len(files)


def w5(m, ds, tmp):
    rnd = random.Random(5)
    size = ds["big"]
    fd = os.open(m.mnt / "w3/big.bin", os.O_RDONLY)
    try:
        for _ in range(2000):
            os.pread(fd, 4096, rnd.randrange(0, size - 4096) & ~4095)
    finally:
        os.close(fd)
    return {"reads": 2000}


# ---- W6: writes ------------------------------------------------------------

def key_stored(srv, key, size):
    """The server has published key with size bytes (its record is
    written after the data, and asking it over HTTP would count)."""
    digest = hashlib.sha256(key.encode()).hexdigest()
    rec = srv.root / "data" / BUCKET / "objects" / digest[:2] / (
        digest + ".json")
    try:
        return json.loads(rec.read_text()).get("size") == size
    except (OSError, ValueError):
        return False


def wait_stored(srv, keys, timeout_s=900):
    pending = dict(keys)
    deadline = time.monotonic() + timeout_s
    while pending:
        pending = {k: n for k, n in pending.items()
                   if not key_stored(srv, k, n)}
        if pending and time.monotonic() > deadline:
            raise RuntimeError(f"{len(pending)} objects never stored")
        if pending:
            time.sleep(0.005)


def w6_sources(ds, tmp):
    """The local files to copy in, made once (on tmpfs)."""
    if "w6big" not in ds:
        src = tmp / "w6src"
        (src / "tree").mkdir(parents=True, exist_ok=True)
        rnd = random.Random(6)
        size = int(256 * MiB * ds["scale"])
        with open(src / "big.bin", "wb") as f:
            for off in range(0, size, 8 * MiB):
                f.write(rnd.randbytes(min(8 * MiB, size - off)))
        n = max(1, int(200 * ds["scale"]))
        for i in range(n):
            (src / "tree" / f"f{i:03d}.bin").write_bytes(
                rnd.randbytes(64 * 1024))
        ds.update(w6big=src / "big.bin", w6bigsize=size,
                  w6tree=src / "tree", w6files=n)
    return ds


def w6_cp(m, ds, tmp):
    key = f"w6-{m.name}-big.bin"
    t0 = time.monotonic()
    sh("cp", str(ds["w6big"]), str(m.mnt / key))
    returned = time.monotonic() - t0
    wait_stored_for = {key: ds["w6bigsize"]}
    wait_stored(m.srv, wait_stored_for)
    return {"bytes": ds["w6bigsize"],
            "detail": f"cp returned after {returned:.2f} s"}


def w6_rsync(m, ds, tmp):
    prefix = f"w6-{m.name}-tree/"
    t0 = time.monotonic()
    sh("rsync", "-a", f"{ds['w6tree']}/", str(m.mnt / prefix))
    returned = time.monotonic() - t0
    wait_stored(m.srv, {prefix + p.name: p.stat().st_size
                        for p in ds["w6tree"].iterdir()})
    return {"files": ds["w6files"],
            "detail": f"rsync returned after {returned:.2f} s"}


def run_w6(client, mount_fn, srv, ds, tmp):
    w6_sources(ds, tmp)
    out = []
    for name, fn in (("W6 cp", w6_cp), ("W6 rsync", w6_rsync)):
        def with_server(m, ds_, tmp_, fn=fn):
            m.srv = srv
            return fn(m, ds_, tmp_)
        try:
            r = run_one(name, client, mount_fn, srv, ds, tmp, with_server)
        except Exception as e:  # report and go on
            r = dict(workload=name, client=client, error=str(e))
        out.append(r)
        print(json.dumps(r, default=str), flush=True)
    return out


def run_one(name, client, mount_fn, srv, ds, tmp, fn, bandwidth=0):
    mnt = tmp / "mnt"
    mnt.mkdir(exist_ok=True)
    drop_caches()
    srv.config(latency_ms=srv.latency_ms, bandwidth_bps=bandwidth)
    m = mount_fn(mnt)
    try:
        srv.admin("reset", {})
        t0 = time.monotonic()
        info = fn(m, ds, tmp)
        wall = time.monotonic() - t0
        stats = srv.admin("stats")
        rss, cpu = m.usage()
        ostats = ossfs_stats(m.mnt) if client.startswith("ossfs") else {}
    finally:
        unmount(m)
    return dict(workload=name, client=client, wall=wall, stats=stats,
                rss=rss, cpu=cpu, ossfs=ostats, **(info or {}))


def fmt_requests(stats):
    req = {k: v for k, v in stats["requests"].items() if v}
    short = {"GetObject": "GET", "HeadObject": "HEAD", "PutObject": "PUT",
             "ListObjectsV2": "LIST", "ListObjects": "LIST",
             "CopyObject": "COPY", "DeleteObject": "DEL"}
    agg = {}
    for k, v in req.items():
        agg[short.get(k, k)] = agg.get(short.get(k, k), 0) + v
    return ", ".join(f"{v} {k}" for k, v in sorted(agg.items()))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--latency-ms", type=int, default=20)
    ap.add_argument("--clients", default="ossfs,s3fs,rclone-off,rclone-full")
    ap.add_argument("--workloads", default="W1,W2,W2r,W3,W4,W5,W6")
    ap.add_argument("--scale", type=float, default=1.0)
    ap.add_argument("--ossfs-opts", default="")
    ap.add_argument("--small-cache", default="256M",
                    help="cache_size of the 'ossfs small' W4 runs")
    ap.add_argument("--out", default="")
    args = ap.parse_args()

    build = TOP / os.environ.get("OSSFS_BUILD", "build-bench")
    if not (build / "build.ninja").exists():
        sh("meson", "setup", str(build), "--buildtype=release")
    sh("ninja", "-C", str(build), stdout=subprocess.DEVNULL)
    clients = args.clients.split(",")
    for pkg, needed in (("s3fs", "s3fs" in clients),
                        ("rclone", any(c.startswith("rclone")
                                       for c in clients))):
        if needed and not shutil.which(pkg):
            sh("apt-get", "install", "-y", "-qq", pkg)

    tmproot = pathlib.Path(tempfile.mkdtemp(prefix="ossfs-bench-"))
    sh("mount", "-t", "tmpfs", "-o", "size=8g", "tmpfs", str(tmproot))
    results = []
    srv = None
    try:
        srv = Server(tmproot, args.latency_ms)
        ds = populate(build, srv, args.scale, tmproot,
                      args.workloads.split(","))
        ds["scale"] = args.scale
        # The upload leaves the machine busy for a moment (the server's
        # clean-up, writeback): the first workload must not pay for it.
        os.sync()
        time.sleep(5)
        small = f"cache_size={args.small_cache}"
        mounts = {
            "ossfs": lambda mnt: mount_ossfs(build, srv, mnt,
                                             args.ossfs_opts),
            "ossfs small": lambda mnt: mount_ossfs(
                build, srv, mnt, ",".join(filter(None, [args.ossfs_opts,
                                                        small]))),
            "ossfs small nopf": lambda mnt: mount_ossfs(
                build, srv, mnt, ",".join(filter(None, [
                    args.ossfs_opts, small, "noprefetch"]))),
            "s3fs": lambda mnt: mount_s3fs(srv, mnt, tmproot),
            "rclone-off": lambda mnt: mount_rclone(srv, mnt, "off", tmproot),
            "rclone-full": lambda mnt: mount_rclone(srv, mnt, "full",
                                                    tmproot),
        }
        # Staged writes on the same tmpfs as rclone's cache.
        w6_opts = ",".join(filter(None, [args.ossfs_opts,
                                          f"staging_dir={tmproot}/staging"]))
        w6_mounts = dict(mounts, ossfs=lambda mnt: mount_ossfs(
            build, srv, mnt, w6_opts))
        work = {"W1": (w1, 0), "W2": (w2, 0), "W2r": (w2r, 0),
                "W3": (w3, 100_000_000 // 8), "W5": (w5, 0)}
        for wname in args.workloads.split(","):
            extra = []
            if wname == "W4" and "ossfs" in clients:
                extra = ["ossfs small", "ossfs small nopf"]
            for c in clients + extra:
                if wname == "W4":
                    results += run_w4(c, mounts[c], srv, ds, tmproot)
                    continue
                if wname == "W2":
                    results += run_w2(c, mounts[c], srv, ds, tmproot)
                    continue
                if wname == "W6":
                    results += run_w6(c, w6_mounts[c], srv, ds, tmproot)
                    continue
                fn, bw = work[wname]
                try:
                    r = run_one(wname, c, mounts[c], srv, ds, tmproot, fn, bw)
                except Exception as e:  # report and go on
                    r = dict(workload=wname, client=c, error=str(e))
                results.append(r)
                print(json.dumps(r, default=str), flush=True)
    finally:
        if srv:
            srv.stop()
        sh("umount", "-l", str(tmproot), check=False)
        shutil.rmtree(tmproot, ignore_errors=True)
    table = render(results, ds)
    print(table)
    if args.out:
        pathlib.Path(args.out).write_text(table)


def run_twice(client, mount_fn, srv, tmp, names, once, drop_between):
    """Two timed runs on one mount, each a row: once(m) returns the row's
    extra fields; drop_between drops the page cache before the second."""
    out = []
    mnt = tmp / "mnt"
    mnt.mkdir(exist_ok=True)
    drop_caches()
    srv.config(latency_ms=srv.latency_ms, bandwidth_bps=0)
    try:
        m = mount_fn(mnt)
    except Exception as e:
        return [dict(workload=names[0], client=client, error=str(e))]
    try:
        for name in names:
            if drop_between and name != names[0]:
                drop_caches()
            srv.admin("reset", {})
            t0 = time.monotonic()
            info = once(m)
            wall = time.monotonic() - t0
            rss, cpu = m.usage()
            ostats = (ossfs_stats(m.mnt) if client.startswith("ossfs")
                      else {})
            r = dict(workload=name, client=client, wall=wall,
                     stats=srv.admin("stats"), rss=rss, cpu=cpu,
                     ossfs=ostats, **info)
            out.append(r)
            print(json.dumps(r, default=str), flush=True)
    finally:
        unmount(m)
    return out


def run_w2(client, mount_fn, srv, ds, tmp):
    """W2, then W2 again on the same mount with the page cache dropped."""
    return run_twice(client, mount_fn, srv, tmp, ("W2", "W2 again"),
                     lambda m: w2(m, ds, tmp), True)


def run_w4(client, mount_fn, srv, ds, tmp):
    """Two epochs on one mount; the second may use any cache."""
    return run_twice(client, mount_fn, srv, tmp,
                     ("W4 epoch 1", "W4 epoch 2"),
                     lambda m: {"files": w4_epoch(m, ds)}, False)


def render(results, ds):
    lines = ["| workload | client | wall s | rate | requests | peak conc. "
             "| bytes from server | peak RSS MiB | CPU s | vs s3fs "
             "| ahead: fetched / read |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    base = {r["workload"]: r["wall"] for r in results
            if r.get("client") == "s3fs" and "wall" in r}
    for r in results:
        if "error" in r:
            lines.append(f"| {r['workload']} | {r['client']} | error: "
                         f"{r['error'][:60]} ||||||||")
            continue
        w = r["workload"]
        rate = ""
        if w == "W3":
            rate = f"{r.get('bytes', 0) / r['wall'] / 1e6:.0f} MB/s"
        elif w.startswith("W4"):
            rate = f"{r['files'] / r['wall']:.0f} files/s"
        elif w == "W5":
            rate = f"{2000 / r['wall']:.0f} reads/s"
        elif w in ("W2", "W2 again", "W2r"):
            rate = f"{ds['n2'] / r['wall']:.0f} files/s"
        elif w == "W6 cp":
            rate = f"{r['bytes'] / r['wall'] / 1e6:.0f} MB/s"
        elif w == "W6 rsync":
            mut = sum(v for k, v in r["stats"]["requests"].items()
                      if k in ("PutObject", "CopyObject", "DeleteObject",
                               "InitiateMultipartUpload", "UploadPart",
                               "CompleteMultipartUpload",
                               "DeleteMultipleObjects", "PutSymlink"))
            rate = (f"{r['files'] / r['wall']:.0f} files/s, "
                    f"{mut / r['files']:.2f} mutating req/file")
        ratio = f"{base[w] / r['wall']:.1f}x" if w in base else ""
        st = r["stats"]
        lines.append(
            f"| {w} | {r['client']} | {r['wall']:.2f} | {rate} | "
            f"{fmt_requests(st)} | {st.get('peak_concurrent', '')} | "
            f"{st.get('bytes_out', 0) / MiB:.0f} MiB | "
            f"{r['rss'] / MiB:.0f} | {r['cpu']:.1f} | {ratio} | "
            f"{fmt_ahead(r.get('ossfs') or {})} |")
    return "\n".join(lines)


def fmt_ahead(o):
    """Prefetch + read-ahead bytes fetched, and how much was read."""
    if not o:
        return ""
    fetched = o.get("prefetch.fetched_bytes", 0) + o.get(
        "readahead.fetched_bytes", 0)
    used = o.get("prefetch.used_bytes", 0) + o.get(
        "readahead.used_bytes", 0)
    return f"{fetched / MiB:.0f} / {used / MiB:.0f} MiB"


if __name__ == "__main__":
    main()
