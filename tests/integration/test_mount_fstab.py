"""mount(8) and fstab: after `meson install` into the default prefix
(/usr/local), `mount -t fuse.ossfs`, a line in an alternate fstab
(`mount -T FILE MNT`) and, where mount(8) can find the helper,
`mount -t ossfs` mount the test server; `umount` unmounts and the daemon
exits.  Credentials come from a passwd_file= option.

The install is for throwaway root machines (CI): the module installs once,
and removes exactly the files meson-logs/install-log.txt lists at the end.
It refuses to run over an ossfs already installed there.
"""
import json
import os
import shutil
import subprocess

import pytest

from conftest import AK, SK, build_dir
from mount_util import (DEADLINE_S, Bucket, clean_env, daemon_pids,
                        is_mounted, mount_entry, needs_fuse, pid_alive,
                        wait_for)

pytestmark = needs_fuse

PREFIX = "/usr/local"
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"


def skip_reason():
    if os.geteuid() != 0:
        return "mount(8) and meson install into /usr/local need root"
    if shutil.which("mount.fuse3", path=SYSTEM_PATH) is None:
        return "mount.fuse3 is not installed (apt-get install fuse3)"
    if shutil.which("meson") is None:
        return "meson is not installed"
    if os.path.lexists(f"{PREFIX}/bin/ossfs"):
        return f"{PREFIX}/bin/ossfs already exists; not overwriting it"
    return None


@pytest.fixture(scope="module")
def installed():
    """meson install into /usr/local; yields the installed files and
    removes exactly those afterwards."""
    why = skip_reason()
    if why:
        pytest.skip(why)
    build = build_dir()
    opts = json.loads(subprocess.run(
        ["meson", "introspect", "--buildoptions", str(build)],
        capture_output=True, text=True, check=True).stdout)
    prefix = {o["name"]: o["value"] for o in opts}.get("prefix")
    if prefix != PREFIX:
        pytest.skip(f"{build} is configured for prefix {prefix}, "
                    f"not {PREFIX}")
    r = subprocess.run(["meson", "install", "-C", str(build), "--no-rebuild",
                        "--quiet"], capture_output=True, text=True,
                       timeout=600)
    log = build / "meson-logs" / "install-log.txt"
    files = []
    if log.exists():
        files = [l.strip() for l in log.read_text().splitlines()
                 if l.strip() and not l.startswith("#")]
    try:
        assert r.returncode == 0, r.stdout + r.stderr
        assert f"{PREFIX}/bin/ossfs" in files
        yield files
    finally:
        # Files first; then the directories meson created (it lists them
        # too), deepest first, when nothing else has appeared in them.
        for f in files:
            if os.path.lexists(f) and not os.path.isdir(f):
                os.unlink(f)
        for d in sorted((f for f in files if os.path.isdir(f)),
                        key=len, reverse=True):
            try:
                os.rmdir(d)
            except OSError:
                pass


def passwd_file(tmp_path):
    pw = tmp_path / "passwd-ossfs"
    pw.write_text(f"test:{AK}:{SK}\n")
    pw.chmod(0o600)
    return pw


def system_env(tmp_path):
    env = clean_env(tmp_path)
    env["PATH"] = SYSTEM_PATH
    return env


def options(server, pw, log):
    return (f"url={server.url},region=cn-hangzhou,passwd_file={pw},"
            f"logfile={log},_netdev,nofail")


def umount_and_wait(mnt, env):
    """umount(8), then wait for the daemon to go; returns umount's result.
    A daemon that will not go is killed by PID and fails the test."""
    pids = daemon_pids(mnt)
    r = subprocess.run(["umount", str(mnt)], capture_output=True, text=True,
                       env=env, timeout=DEADLINE_S)
    if r.returncode != 0 and is_mounted(mnt):
        subprocess.run(["umount", "-l", str(mnt)], capture_output=True)
    stuck = []
    for pid in pids:
        try:
            wait_for(lambda: not pid_alive(pid), "the daemon to exit")
        except BaseException:
            stuck.append(pid)
            os.kill(pid, 9)
    assert not stuck, f"daemons {stuck} did not exit after umount"
    return r


def check_mounted(server, mnt, log):
    try:
        entry = mount_entry(mnt)
        assert entry is not None, "nothing mounted"
        assert entry[0] == "test" and entry[2] == "fuse.ossfs", entry
        assert (mnt / "hello.txt").read_bytes() == b"hello"
    finally:
        text = log.read_text() if log.exists() else ""
        assert "error:" not in text, text


@pytest.fixture
def hello(server):
    Bucket(server).put("hello.txt", b"hello")
    return server


def test_mount_t_fuse_ossfs(installed, hello, tmp_path):
    """[S-START-3] `mount -t fuse.ossfs BUCKET MNT -o ...` mounts (through
    mount.fuse3 and the installed ossfs); `umount` unmounts."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    env = system_env(tmp_path)
    log = tmp_path / "ossfs.log"
    r = subprocess.run(
        ["mount", "-t", "fuse.ossfs", "test", str(mnt), "-o",
         options(hello, passwd_file(tmp_path), log)],
        capture_output=True, text=True, env=env, timeout=DEADLINE_S)
    try:
        assert r.returncode == 0, r.stderr
        check_mounted(hello, mnt, log)
    finally:
        u = umount_and_wait(mnt, env)
    assert u.returncode == 0, u.stderr
    assert not is_mounted(mnt)


def test_alternate_fstab_line(installed, hello, tmp_path):
    """[S-START-3] A line in an fstab (`mount -T FILE MNT`) mounts with
    the options it carries, mount(8)-only ones (_netdev, nofail) included;
    `umount` unmounts."""
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    env = system_env(tmp_path)
    log = tmp_path / "ossfs.log"
    fstab = tmp_path / "fstab"
    fstab.write_text("# test fstab\n"
                     f"test {mnt} fuse.ossfs "
                     f"{options(hello, passwd_file(tmp_path), log)} 0 0\n")
    r = subprocess.run(["mount", "-T", str(fstab), str(mnt)],
                       capture_output=True, text=True, env=env,
                       timeout=DEADLINE_S)
    try:
        assert r.returncode == 0, r.stderr
        check_mounted(hello, mnt, log)
    finally:
        u = umount_and_wait(mnt, env)
    assert u.returncode == 0, u.stderr
    assert not is_mounted(mnt)


def test_mount_t_ossfs(installed, hello, tmp_path):
    """[S-START-3] `mount -t ossfs` runs the mount.ossfs helper, when it
    is where mount(8) looks (/sbin: installs with --prefix=/usr)."""
    if not any(os.path.exists(d + "/mount.ossfs")
               for d in ("/sbin", "/usr/sbin")):
        pytest.skip("mount.ossfs is installed in /usr/local/sbin, where "
                    "mount(8) does not look; covered by a --prefix=/usr "
                    "install (packaging)")
    mnt = tmp_path / "mnt"
    mnt.mkdir()
    env = system_env(tmp_path)
    log = tmp_path / "ossfs.log"
    r = subprocess.run(
        ["mount", "-t", "ossfs", "test", str(mnt), "-o",
         options(hello, passwd_file(tmp_path), log)],
        capture_output=True, text=True, env=env, timeout=DEADLINE_S)
    try:
        assert r.returncode == 0, r.stderr
        check_mounted(hello, mnt, log)
    finally:
        u = umount_and_wait(mnt, env)
    assert u.returncode == 0, u.stderr
