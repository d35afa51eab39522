"""Every credentials source, proven by a real mount of the bundled server:
passwd_file= (both line forms), the two environment variable families,
~/.passwd-ossfs, STS tokens, and an ECS RAM role served by a local
stand-in for the metadata service, including a refresh to new keys while
mounted.  No secret may appear in any output.
"""
import os

import pytest

from conftest import AK, SK
from imds_stand_in import Creds, ImdsStandIn
from mount_util import (DEADLINE_S, Bucket, clean_env, mounts,  # noqa: F401
                        needs_fuse, wait_for)

pytestmark = needs_fuse

SECRETS = [SK, "SK1-secret-value", "SK2-secret-value", "TOKEN1-sts-value",
           "TOKEN2-sts-value", "sts-secret-token"]


def assert_no_secret(m):
    out = m.output()
    for s in SECRETS:
        assert s not in out, "a secret reached the daemon's output"


def write_passwd(path, text):
    path.write_text(text)
    path.chmod(0o600)
    return path


def check_mount_reads(m, want=b"hello"):
    assert (m.mnt / "hello.txt").read_bytes() == want


def source_logged(m, source):
    return f"credentials from {source}" in m.log_path.read_text()


@pytest.fixture
def hello(server):
    Bucket(server).put("hello.txt", b"hello")
    return server


@pytest.mark.parametrize("form", ["bucket:ak:sk", "ak:sk"])
def test_passwd_file(hello, mounts, tmp_path, form):
    """[S-CRED-1] [S-CRED-2] passwd_file= with a line for the bucket (other
    buckets' lines and comments around it) or a key pair for any bucket."""
    text = ("# keys\n\nother:wrongak:wrongsk\n"
            + (f"test:{AK}:{SK}\n" if form == "bucket:ak:sk"
               else f"{AK}:{SK}\n"))
    pw = write_passwd(tmp_path / "pw", text)
    home = tmp_path / "home"
    home.mkdir()
    m = mounts(hello, options=[f"passwd_file={pw}"], env=clean_env(home))
    check_mount_reads(m)
    assert source_logged(m, str(pw))
    assert_no_secret(m)


@pytest.mark.parametrize("family", ["OSS", "ALIBABA_CLOUD"])
def test_environment(hello, mounts, tmp_path, family):
    """[S-CRED-1] OSS_ACCESS_KEY_ID/OSS_ACCESS_KEY_SECRET, or else
    ALIBABA_CLOUD_ACCESS_KEY_ID/ALIBABA_CLOUD_ACCESS_KEY_SECRET."""
    env = clean_env(tmp_path, **{f"{family}_ACCESS_KEY_ID": AK,
                                 f"{family}_ACCESS_KEY_SECRET": SK})
    m = mounts(hello, env=env)
    check_mount_reads(m)
    assert source_logged(m, "the environment")
    assert_no_secret(m)


def test_environment_beats_home_file(hello, mounts, tmp_path):
    """[S-CRED-1] The environment comes before ~/.passwd-ossfs (whose keys
    here are wrong and would fail the start-up check)."""
    home = tmp_path / "home"
    home.mkdir()
    write_passwd(home / ".passwd-ossfs", "wrongak:wrongsk\n")
    env = clean_env(home, OSS_ACCESS_KEY_ID=AK, OSS_ACCESS_KEY_SECRET=SK)
    m = mounts(hello, env=env)
    check_mount_reads(m)


def test_home_passwd_file(hello, mounts, tmp_path):
    """[S-CRED-1] ~/.passwd-ossfs, found through HOME."""
    home = tmp_path / "home"
    home.mkdir()
    pw = write_passwd(home / ".passwd-ossfs", f"test:{AK}:{SK}\n")
    m = mounts(hello, env=clean_env(home))
    check_mount_reads(m)
    assert source_logged(m, str(pw))
    assert_no_secret(m)


def test_sts_token_from_environment(server_factory, mounts, tmp_path):
    """[S-CRED-1] STS credentials: OSS_SESSION_TOKEN travels with every
    request (the server refuses requests without it)."""
    srv = server_factory(creds=[f"stsak:{SK}:sts-secret-token"])
    Bucket(srv, ak="stsak", token="sts-secret-token").put("hello.txt",
                                                          b"hello")
    env = clean_env(tmp_path, OSS_ACCESS_KEY_ID="stsak",
                    OSS_ACCESS_KEY_SECRET=SK,
                    OSS_SESSION_TOKEN="sts-secret-token")
    m = mounts(srv, env=env)
    check_mount_reads(m)
    assert_no_secret(m)


@pytest.mark.skipif(os.path.exists("/etc/passwd-ossfs"),
                    reason="this machine has an /etc/passwd-ossfs, which "
                           "comes before the RAM role")
def test_ram_role_with_refresh(server_factory, mounts, tmp_path):
    """[S-CRED-1] [S-CRED-3] ram_role=NAME,ram_role_url=: the keys come
    from the metadata service (hardened mode, with a session token); when
    they near their expiration they are fetched again, and once the
    service hands out new keys and the server accepts only those, the
    mount keeps working."""
    srv = server_factory(creds=["AK1:SK1-secret-value:TOKEN1-sts-value"])
    old = Bucket(srv, ak="AK1", sk="SK1-secret-value",
                 token="TOKEN1-sts-value")
    old.put_many([("hello.txt", b"hello")] +
                 [(f"poll/p{i}", b"p%d" % i) for i in range(400)])
    # 1205 s left: inside the provider's 20-minute refresh margin within
    # seconds, so the refresher fetches again while the test runs.
    imds = ImdsStandIn("ossfs-test-role",
                       Creds("AK1", "SK1-secret-value", "TOKEN1-sts-value",
                             valid_s=1205))
    try:
        home = tmp_path / "home"
        home.mkdir()
        m = mounts(srv, env=clean_env(home),
                   options=["ram_role=ossfs-test-role",
                            f"ram_role_url={imds.url}"])
        check_mount_reads(m)
        assert source_logged(m, "the ECS RAM role")
        assert imds.count("creds") >= 1
        assert imds.count("token") >= 1
        assert imds.count("creds_with_token") >= 1
        first_fetches = imds.count("creds")
        # Rotate: the service now hands out AK2 for hours, and the server
        # accepts nothing else.
        imds.rotate(Creds("AK2", "SK2-secret-value", "TOKEN2-sts-value",
                          valid_s=6 * 3600))
        srv.admin("creds", {"creds": ["AK2:SK2-secret-value:"
                                      "TOKEN2-sts-value"]})
        tried = iter(range(400))

        def reads_again():
            i = next(tried)
            try:
                return (m.mnt / "poll" / f"p{i}").read_bytes() == b"p%d" % i
            except OSError:
                return False

        wait_for(reads_again, "reads to work with the refreshed keys",
                 deadline_s=max(DEADLINE_S, 120), interval_s=0.5)
        assert imds.count("creds") > first_fetches
        assert "AK2" in imds.handed_out
        assert imds.count("bad_token") == 0
        # Settled: the new keys keep working.
        check_mount_reads(m)
        assert_no_secret(m)
    finally:
        imds.stop()
