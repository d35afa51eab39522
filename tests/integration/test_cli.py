"""The ossfs command line, end to end: --help, --version, option errors,
credentials, the start-up check's messages and exit statuses, the mount(8)
helper name, and one background mount that returns only once it is usable.

The binary is $OSSFS_BIN (meson's "cli" test sets it), else src/ossfs in
$OSSFS_BUILD_DIR or build-test/build.  Exit statuses are those documented
in man/ossfs.1 (EXIT STATUS).  No test depends on timing: each waits for a
process to end, and every process started here is ended by its PID.
"""
import os
import pathlib
import re
import signal
import stat
import subprocess
import time

import pytest

TOP = pathlib.Path(__file__).resolve().parents[2]
SECRET = "topsecret-never-printed"
EP = "endpoint=oss-cn-hangzhou.aliyuncs.com"

EXIT_USAGE, EXIT_CREDS, EXIT_REJECTED, EXIT_NETWORK, EXIT_MOUNT = 2, 3, 4, 5, 6


def ossfs_bin():
    env = os.environ.get("OSSFS_BIN")
    if env:
        return env
    dirs = [os.environ.get("OSSFS_BUILD_DIR")] + [
        str(TOP / d) for d in ("build-test", "build")]
    for d in dirs:
        if d and pathlib.Path(d, "src", "ossfs").exists():
            return str(pathlib.Path(d, "src", "ossfs"))
    pytest.skip("ossfs is not built (set OSSFS_BIN)")


def clean_env(home, **extra):
    """An environment with no credentials but the ones given."""
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("OSS_", "ALIBABA_CLOUD_"))}
    env["HOME"] = str(home)
    env.update(extra)
    return env


def run(args, env=None, argv0=None, timeout=120):
    exe = argv0 or ossfs_bin()
    r = subprocess.run([exe] + list(args), env=env, capture_output=True,
                       text=True, timeout=timeout)
    assert SECRET not in r.stdout + r.stderr
    return r


@pytest.fixture
def mnt(tmp_path):
    d = tmp_path / "mnt"
    d.mkdir()
    return d


@pytest.fixture
def home(tmp_path):
    d = tmp_path / "home"
    d.mkdir()
    return d


def test_help_lists_every_option_one_line_each():
    r = run(["--help"])
    assert r.returncode == 0
    assert r.stdout.startswith("usage: ossfs BUCKET[:/PREFIX] MOUNTPOINT")
    for opt in ("endpoint=HOST", "url=URL", "region=ID", "sigv1", "sigv4",
                "s3", "path_style", "passwd_file=PATH", "ram_role[=NAME]",
                "ram_role_url=URL", "public", "allow_other", "uid=N",
                "umask=OCTAL", "attr_timeout=SECS", "cache_size=BYTES",
                "connections=N", "retries=N", "logfile=PATH",
                "loglevel=LEVEL", "max_threads=N", "fsname=NAME",
                "auto_unmount", "_netdev", "x-*"):
        assert re.search(r"(^|\s)" + re.escape(opt) + r"(\s|$)", r.stdout), opt
    assert all(len(line) <= 80 for line in r.stdout.splitlines())


def test_version_names_ossfs_and_libraries():
    r = run(["--version"])
    assert r.returncode == 0
    version = re.search(r"version\s*:\s*'([^']+)'",
                        (TOP / "meson.build").read_text()).group(1)
    lines = r.stdout.splitlines()
    assert lines[0] == f"ossfs {version}"
    assert re.match(r"libfuse 3\.\d+", lines[1])
    assert re.match(r"libcurl \d+\.\d+", lines[2])
    assert "OpenSSL" in r.stdout


def test_unknown_option_is_named(mnt):
    r = run(["bkt", str(mnt), "-o", EP + ",ro,frobnicate=3"])
    assert r.returncode == EXIT_USAGE
    assert "unknown option 'frobnicate'" in r.stderr
    assert "--help" in r.stderr
    r = run(["bkt", str(mnt), "-q"])
    assert r.returncode == EXIT_USAGE
    assert "unknown option '-q'" in r.stderr


def test_missing_endpoint_says_so(mnt):
    r = run(["bkt", str(mnt)])
    assert r.returncode == EXIT_USAGE
    assert "no endpoint" in r.stderr
    assert "endpoint=" in r.stderr and "url=" in r.stderr


def test_bad_value_and_missing_arguments(mnt):
    r = run(["bkt", str(mnt), "-o", EP + ",umask=999"])
    assert r.returncode == EXIT_USAGE and "umask=999" in r.stderr
    r = run(["bkt"])
    assert r.returncode == EXIT_USAGE and "missing MOUNTPOINT" in r.stderr


def test_missing_mountpoint(tmp_path, home):
    env = clean_env(home, OSS_ACCESS_KEY_ID="ak", OSS_ACCESS_KEY_SECRET=SECRET)
    r = run(["bkt", str(tmp_path / "nope"), "-o", EP], env=env)
    assert r.returncode == EXIT_MOUNT
    assert "No such file or directory" in r.stderr


@pytest.mark.skipif(os.path.exists("/etc/passwd-ossfs"),
                    reason="this machine has an /etc/passwd-ossfs")
def test_no_credentials(mnt, home):
    r = run(["bkt", str(mnt), "-o", EP], env=clean_env(home))
    assert r.returncode == EXIT_CREDS
    assert "no credentials for bucket 'bkt'" in r.stderr


def test_passwd_file_readable_by_others_is_refused(mnt, home, tmp_path):
    pw = tmp_path / "keys"
    pw.write_text(f"bkt:ak:{SECRET}\n")
    pw.chmod(0o644)
    r = run(["bkt", str(mnt), "-o", EP + f",passwd_file={pw}"],
            env=clean_env(home))
    assert r.returncode == EXIT_CREDS
    assert str(pw) in r.stderr and "600" in r.stderr
    # The user's own file under the same rule, found through HOME.
    user = home / ".passwd-ossfs"
    user.write_text(f"ak:{SECRET}\n")
    user.chmod(0o604)
    r = run(["bkt", str(mnt), "-o", EP], env=clean_env(home))
    assert r.returncode == EXIT_CREDS
    assert str(user) in r.stderr


def test_mount_helper_fake_and_sloppy(tmp_path, mnt, home):
    helper = tmp_path / "mount.ossfs"
    helper.symlink_to(ossfs_bin())
    env = clean_env(home, OSS_ACCESS_KEY_ID="ak", OSS_ACCESS_KEY_SECRET=SECRET)
    # mount(8)'s convention: -f is "fake" (check, do not mount).
    r = run(["bkt:/p", str(mnt), "-f", "-o",
             "rw,_netdev,nofail,x-systemd.automount,dev,suid," + EP],
            env=env, argv0=str(helper))
    assert r.returncode == 0, r.stderr
    r = run(["bkt", str(mnt), "-f", "-o", EP + ",noxattr"], env=env,
            argv0=str(helper))
    assert r.returncode == EXIT_USAGE
    assert r.stderr.startswith("mount.ossfs: unknown option 'noxattr'")
    r = run(["bkt", str(mnt), "-sf", "-o", EP + ",noxattr"], env=env,
            argv0=str(helper))
    assert r.returncode == 0, r.stderr
    assert "noxattr" in r.stderr  # a warning, not an error


def test_url_user_info_is_never_repeated(tmp_path, mnt, home):
    """A password typed into a URL (url=, ram_role_url=, or a mistyped
    option that is only warned about) is refused or warned about without
    being printed; `run` asserts SECRET is in no output."""
    r = run(["bkt", str(mnt), "-o", f"url=https://ak:{SECRET}@h.example"])
    assert r.returncode == EXIT_USAGE
    assert "user name or password" in r.stderr
    r = run(["bkt", str(mnt), "-o", f"{EP},url:https://ak:{SECRET}@h"])
    assert r.returncode == EXIT_USAGE
    assert "unknown option 'url:https://*@h'" in r.stderr
    helper = tmp_path / "mount.ossfs"
    helper.symlink_to(ossfs_bin())
    env = clean_env(home, OSS_ACCESS_KEY_ID="ak", OSS_ACCESS_KEY_SECRET="x")
    r = run(["bkt", str(mnt), "-sf", "-o", f"{EP},x:http://u:{SECRET}@h"],
            env=env, argv0=str(helper))
    assert r.returncode == 0, r.stderr
    assert "'x:http://*@h'" in r.stderr  # the warning, redacted


def closed_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


@pytest.mark.parametrize("foreground", [True, False])
def test_connection_refused(mnt, home, foreground):
    env = clean_env(home, OSS_ACCESS_KEY_ID="ak", OSS_ACCESS_KEY_SECRET=SECRET)
    url = f"http://127.0.0.1:{closed_port()}"
    args = ["bkt", str(mnt), "-o", f"url={url},retries=0"]
    r = run(args + (["-f"] if foreground else []), env=env)
    assert r.returncode == EXIT_NETWORK, r.stderr
    assert f"connection refused by {url}" in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1


def test_unresolvable_endpoint(mnt, home):
    env = clean_env(home, OSS_ACCESS_KEY_ID="ak", OSS_ACCESS_KEY_SECRET=SECRET)
    r = run(["bkt", str(mnt), "-f", "-o",
             "url=http://no-such-host.invalid,region=cn-hangzhou,retries=0"],
            env=env)
    assert r.returncode == EXIT_NETWORK, r.stderr
    assert "cannot resolve" in r.stderr


def test_server_refusals(server, mnt, home):
    """The start-up check against the bundled server: each refusal is one
    line naming what to fix, and nothing is mounted."""
    cases = [
        ("nosuchbucket", "testak", "testsk", "does not exist"),
        ("test", "wrongak", "testsk", "check the access key id"),
        ("test", "testak", SECRET, "check the access key secret"),
    ]
    for bucket, ak, sk, want in cases:
        env = clean_env(home, OSS_ACCESS_KEY_ID=ak, OSS_ACCESS_KEY_SECRET=sk)
        r = run([bucket, str(mnt), "-o", f"url={server.url},retries=0"],
                env=env)
        assert r.returncode == EXIT_REJECTED, (bucket, ak, r.stderr)
        assert want in r.stderr
        assert len(r.stderr.strip().splitlines()) == 1
    r = run(["test", str(mnt), "-o", f"url={server.url},public,retries=0"],
            env=clean_env(home))
    assert r.returncode == EXIT_REJECTED, r.stderr
    assert "does not allow anonymous access" in r.stderr
    assert str(mnt) not in pathlib.Path("/proc/mounts").read_text()


def daemon_pids(mountpoint):
    """PIDs of ossfs processes whose command line names our mount point
    (a unique temporary path, so only processes this test started)."""
    pids = []
    for p in pathlib.Path("/proc").iterdir():
        if not p.name.isdigit():
            continue
        try:
            argv = (p / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        if str(mountpoint).encode() in argv:
            pids.append(int(p.name))
    return pids


@pytest.mark.skipif(not os.path.exists("/dev/fuse"), reason="no /dev/fuse")
def test_background_mount_is_ready_when_command_returns(server, mnt, home):
    env = clean_env(home, OSS_ACCESS_KEY_ID="testak",
                    OSS_ACCESS_KEY_SECRET="testsk")
    r = run(["test", str(mnt), "-o", f"url={server.url}"], env=env)
    try:
        assert r.returncode == 0, r.stderr
        assert r.stderr == ""
        # Mounted before the command returned: no waiting here.
        mounts = pathlib.Path("/proc/mounts").read_text()
        assert f" {mnt} fuse.ossfs " in mounts or f" {mnt} fuse " in mounts
        st = os.stat(mnt)
        assert stat.S_ISDIR(st.st_mode)
    finally:
        pids = daemon_pids(mnt)
        subprocess.run(["fusermount3", "-u", "-z", str(mnt)],
                       capture_output=True)
    # Unmounting ends the daemon; it exits by itself.
    for pid in pids:
        deadline = time.monotonic() + 60
        while pathlib.Path(f"/proc/{pid}").exists() and \
                time.monotonic() < deadline:
            time.sleep(0.05)
        if pathlib.Path(f"/proc/{pid}").exists():
            os.kill(pid, signal.SIGKILL)
            pytest.fail(f"daemon {pid} did not exit after unmount")
