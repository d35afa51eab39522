#!/usr/bin/env bash
# The packages, end to end, as an administrator meets them (run as root):
#   tests/packaging/test_packages.sh
# Builds the .deb from a clean copy of the tree, checks it with lintian,
# installs it with apt-get, checks the versions, mounts the bundled test
# server with "mount -t fuse.ossfs", "mount -t ossfs", an fstab line
# ("mount -T FILE") and the systemd unit's command line, unmounts, purges
# the package and checks nothing of it is left; then builds the RPM and
# checks it holds the same files.  Ends with "N passed, N failed".
#
# Environment:
#   OSSFS_PKG_TREE=worktree  build the files as they are now, not HEAD
#   OSSFS_PKG_OUT=DIR        where packages and logs go (default build-pkg)
#   OSSFS_PKG_NOCHECK=1      skip the unit tests inside the package builds
#   OSSFS_SKIP_INSTALL=1     do not apt-get install missing tools
#
# The test owns the "ossfs" package on this machine: it installs it and
# purges it at the end, also when a step fails.
set -uo pipefail

here=$(cd "$(dirname "$0")" && pwd)
. "$here/../../packaging/common.sh"
top=$pkg_top
py=/usr/bin/python3
out=${OSSFS_PKG_OUT:-$top/build-pkg}
tree_mode=${OSSFS_PKG_TREE:-head}
build_args=(--"$tree_mode")
[ "$tree_mode" = head ] && build_args=()
[ -n "${OSSFS_PKG_NOCHECK:-}" ] && build_args+=(--nocheck)

passed=0
failed=0
skipped=0
work=
server_pid=
daemon_pids=()
mounts=()
installed_by_us=

pass() {
	echo "PASS: $1"
	passed=$((passed + 1))
}
fail() {
	echo "FAIL: $1"
	failed=$((failed + 1))
}
skip() {
	echo "SKIP: $1"
	skipped=$((skipped + 1))
}
# check NAME COMMAND...: one assertion.
check() {
	local name=$1
	shift
	if "$@"; then pass "$name"; else fail "$name"; fi
}

# stage TITLE: a heading, with the seconds since the start.
stage() {
	echo "== $1 (at ${SECONDS}s)"
}

summary() {
	echo
	if [ "$skipped" -gt 0 ]; then
		echo "$passed passed, $failed failed, $skipped skipped"
	else
		echo "$passed passed, $failed failed"
	fi
}

# ---- processes and mounts this test started --------------------------------

# PIDs of the installed ossfs serving MOUNTPOINT: their argv names it.
ossfs_pids_for() {
	local mnt=$1 p exe
	for p in /proc/[0-9]*; do
		exe=$(readlink "$p/exe" 2>/dev/null) || continue
		case $exe in /usr/bin/ossfs | "/usr/bin/ossfs (deleted)") ;; *) continue ;; esac
		if tr '\0' '\n' <"$p/cmdline" 2>/dev/null | grep -qxF "$mnt"; then
			echo "${p#/proc/}"
		fi
	done
}

# wait_gone PID: bounded wait (30 s) for a process to exit.
wait_gone() {
	for _ in $(seq 300); do
		kill -0 "$1" 2>/dev/null || return 0
		sleep 0.1
	done
	return 1
}

is_mounted() {
	mountpoint -q "$1" 2>/dev/null
}

cleanup() {
	local m p
	for m in "${mounts[@]}"; do
		# a daemon whose mount command timed out was never noted
		daemon_pids+=($(ossfs_pids_for "$m"))
		if is_mounted "$m"; then
			umount "$m" 2>/dev/null || umount -l "$m" 2>/dev/null
		fi
	done
	for p in "${daemon_pids[@]}"; do
		# only while the PID is still an installed ossfs, not a reuse
		if readlink "/proc/$p/exe" 2>/dev/null | grep -q '^/usr/bin/ossfs'; then
			kill "$p" 2>/dev/null
			wait_gone "$p" || kill -9 "$p" 2>/dev/null
		fi
	done
	if [ -n "$server_pid" ]; then
		kill "$server_pid" 2>/dev/null
		wait "$server_pid" 2>/dev/null
	fi
	if [ -n "$installed_by_us" ]; then
		apt-get remove --purge -y -qq ossfs >/dev/null 2>&1
	fi
	[ -n "$work" ] && rm -rf "$work"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# apt_quiet ARGS...: apt-get, its output shown only when it fails.
apt_quiet() {
	DEBIAN_FRONTEND=noninteractive apt-get "$@" >"$work/apt.log" 2>&1 ||
		{ sed 's/^/  /' "$work/apt.log"; return 1; }
}

abort() {
	fail "$1"
	summary
	exit 1
}

# ---- preconditions -------------------------------------------------------------

[ "$(id -u)" -eq 0 ] || abort "must run as root (installs a package, mounts)"
pkg_apt_need lintian rpm fuse3 || abort "installing lintian, rpm, fuse3"
work=$(mktemp -d /tmp/ossfs-pkgtest.XXXXXX)
mkdir -p "$out"
out=$(cd "$out" && pwd)
version=$(pkg_meson_version)
stage "ossfs $version (tree: $tree_mode, output: $out)"

check "meson.build has a project version" test -n "$version"
check "packaging/debian/changelog version is $version" \
	test "$(pkg_deb_changelog_version)" = "$version"
check "packaging/ossfs.spec Version is $version" \
	test "$(pkg_spec_version)" = "$version"

# ---- the Debian package --------------------------------------------------------

stage "building the .deb"
deb=$("$top/packaging/build-deb.sh" "${build_args[@]}" "$out" | tail -n 1)
[ -f "$deb" ] || abort "build-deb.sh made a .deb (log: $out/build-deb.log)"
pass "build-deb.sh made $(basename "$deb")"

check "the .deb's Version is $version" \
	test "$(dpkg-deb -f "$deb" Version)" = "$version"
depends=$(dpkg-deb -f "$deb" Depends)
check "the .deb depends on fuse3" grep -qw fuse3 <<<"$depends"
for lib in libfuse3-3 libcurl4 libssl3 libxml2; do
	check "the .deb depends on $lib" grep -qw "$lib" <<<"$depends"
done

dpkg-deb -c "$deb" >"$work/deb.contents"
deb_has() { # TYPE-AND-MODE PATH: a line of dpkg -c
	awk -v m="$1" -v p="./$2" '$1 == m && $6 == p' "$work/deb.contents" |
		grep -q .
}
check "the .deb installs /usr/bin/ossfs" deb_has -rwxr-xr-x usr/bin/ossfs
check "the .deb installs mount.ossfs -> ossfs in /usr/sbin" \
	grep -qE '^l.* \./usr/sbin/mount\.ossfs -> (\.\./bin/|/usr/bin/)ossfs$' \
	"$work/deb.contents"
check "the .deb installs ossfs(1)" \
	deb_has -rw-r--r-- usr/share/man/man1/ossfs.1.gz
check "the .deb installs mount.ossfs(8)" \
	deb_has -rw-r--r-- usr/share/man/man8/mount.ossfs.8.gz
check "the .deb installs ossfs@.service" \
	grep -qE '\./(usr/)?lib/systemd/system/ossfs@\.service$' "$work/deb.contents"
for ex in fstab.example ossfs.env.example mnt-oss.mount mnt-oss.automount; do
	check "the .deb installs examples/$ex" \
		deb_has -rw-r--r-- "usr/share/doc/ossfs/examples/$ex"
done
check "the .deb installs examples/passwd-ossfs.example with mode 0600" \
	deb_has -rw------- usr/share/doc/ossfs/examples/passwd-ossfs.example

# A source install (meson install --prefix=/usr) must install exactly
# what the package has apart from the package-only files: the systemd
# unit and /usr/share/doc (examples, docs, Debian metadata).
"$here/filelist.sh" deb "$deb" >"$work/deb.list"
if meson setup "$work/meson" "$top" --prefix=/usr >"$work/meson.log" 2>&1; then
	meson introspect --installed "$work/meson" |
		"$py" -c 'import json, sys; print("\n".join(json.load(sys.stdin).values()))' |
		sed -E 's,^(/usr/share/man/.*)\.gz$,\1,' | LC_ALL=C sort >"$work/meson.list"
	awk '{ print $2 }' "$work/deb.list" |
		grep -vE '^/usr/share/doc/ossfs/|^/usr/lib/systemd/system/ossfs@\.service$' |
		LC_ALL=C sort >"$work/deb-meson.list"
	if diff -u "$work/meson.list" "$work/deb-meson.list" >"$work/meson.diff"; then
		pass "meson install puts the same files as the .deb ($(wc -l <"$work/meson.list"))"
	else
		sed 's/^/  /' "$work/meson.diff"
		fail "meson install puts the same files as the .deb"
	fi
else
	fail "meson setup --prefix=/usr for the install plan ($(tail -n 5 "$work/meson.log"))"
fi

stage "lintian"
lintian --pedantic --display-info --fail-on error "$deb" \
	>"$work/lintian.out" 2>&1
lintian_rc=$?
grep -v 'running with root privileges' "$work/lintian.out" | sed 's/^/  /'
check "lintian reports no error (overrides: packaging/debian/ossfs.lintian-overrides)" \
	test "$lintian_rc" -eq 0

# ---- install, use, purge ---------------------------------------------------------

stage "installing"
installed_by_us=1
check "apt-get install ./$(basename "$deb")" \
	apt_quiet install -y "$(cd "$(dirname "$deb")" && pwd)/$(basename "$deb")"
dpkg -L ossfs >"$work/dpkg-L" 2>/dev/null

check "ossfs is /usr/bin/ossfs on PATH" \
	test "$(command -v ossfs)" = /usr/bin/ossfs
got_version=$(ossfs --version 2>&1 | head -n 1)
check "installed ossfs --version says 'ossfs $version' (got '$got_version')" \
	test "$got_version" = "ossfs $version"
check "mount(8) finds the helper /sbin/mount.ossfs" test -x /sbin/mount.ossfs
check "man ossfs finds the page" \
	test -f /usr/share/man/man1/ossfs.1.gz
man_flag=--man=no
command -v man >/dev/null && man_flag=--man=yes
unit=$(ls /lib/systemd/system/ossfs@.service /usr/lib/systemd/system/ossfs@.service 2>/dev/null | head -n 1)
mkdir -p "$work/units"
cp "$unit" "$work/units/ossfs@mybucket.service"
cp /usr/share/doc/ossfs/examples/mnt-oss.mount \
	/usr/share/doc/ossfs/examples/mnt-oss.automount "$work/units/"
check "systemd-analyze verify ossfs@mybucket.service" \
	systemd-analyze verify "$man_flag" "$work/units/ossfs@mybucket.service"
check "systemd-analyze verify mnt-oss.mount mnt-oss.automount" \
	systemd-analyze verify "$man_flag" "$work/units/mnt-oss.mount" \
	"$work/units/mnt-oss.automount"

mount_tests() {
	local port url pw opts content
	stage "the bundled test server"
	mkdir -p "$work/data"
	"$py" "$top/tests/server/ossserver.py" --root "$work/data" --host 127.0.0.1 \
		--port 0 --port-file "$work/port" --bucket test \
		--creds testak:testsk >"$work/server.log" 2>&1 &
	server_pid=$!
	for _ in $(seq 300); do
		[ -s "$work/port" ] && break
		kill -0 "$server_pid" 2>/dev/null || break
		sleep 0.1
	done
	port=$(cat "$work/port" 2>/dev/null)
	if [ -z "$port" ]; then
		fail "the test server started (log: $(cat "$work/server.log"))"
		return
	fi
	url=http://127.0.0.1:$port
	content="hello from the package test"
	check "an object is put into bucket test" \
		"$py" "$here/put_object.py" "$url" test hello.txt "$content"

	pw=$work/passwd-ossfs
	(umask 077 && echo "test:testak:testsk" >"$pw")
	opts="url=$url,passwd_file=$pw,region=cn-hangzhou"

	# mount -t fuse.ossfs: mount(8) -> mount.fuse3 -> ossfs on PATH
	if try_mount "mount -t fuse.ossfs" "$work/mnt1" \
		mount -t fuse.ossfs test "$work/mnt1" -o "$opts"; then
		read_back "$work/mnt1" hello.txt "$content"
		write_through "$work/mnt1" written.txt "written through mount -t"
		try_umount "$work/mnt1"
	fi

	# mount -t ossfs: mount(8) -> /sbin/mount.ossfs
	if try_mount "mount -t ossfs" "$work/mnt2" \
		mount -t ossfs test "$work/mnt2" -o "$opts"; then
		read_back "$work/mnt2" hello.txt "$content"
		read_back_written "$work/mnt2"
		try_umount "$work/mnt2"
	fi

	# an fstab line, as an administrator writes it
	printf '# fstab used by the packaging test\ntest %s fuse.ossfs _netdev,x-systemd.automount,nofail,%s 0 0\n' \
		"$work/mnt3" "$opts" >"$work/fstab"
	if try_mount "mount -T FSTAB (fuse.ossfs, _netdev, x-systemd.automount)" \
		"$work/mnt3" mount -T "$work/fstab" "$work/mnt3"; then
		read_back "$work/mnt3" hello.txt "$content"
		read_back_written "$work/mnt3"
		try_umount "$work/mnt3"
	fi

	unit_tests "$opts" "$content"
}

# try_mount NAME MOUNTPOINT COMMAND...: mount, and note the daemon's PID.
try_mount() {
	local name=$1 mnt=$2 p pids rc
	shift 2
	mkdir -p "$mnt"
	mounts+=("$mnt")
	timeout 60 "$@" >"$work/mount.out" 2>&1
	rc=$?
	pids=$(ossfs_pids_for "$mnt")
	for p in $pids; do daemon_pids+=("$p"); done
	if [ $rc -ne 0 ] || ! is_mounted "$mnt"; then
		fail "$name (exit $rc: $(head -c 500 "$work/mount.out"))"
		return 1
	fi
	pass "$name"
	check "an /usr/bin/ossfs daemon serves $(basename "$mnt") (pid ${pids:-none})" \
		test -n "$pids"
	check "/proc/mounts shows $mnt as fuse.ossfs" \
		awk -v m="$mnt" '$2 == m && $3 == "fuse.ossfs" {f = 1} END {exit !f}' \
		/proc/mounts
}

read_back() { # MOUNTPOINT FILE EXPECTED
	local got
	got=$(timeout 30 cat "$1/$2" 2>&1)
	check "$2 is visible through $(basename "$1") ('$got')" \
		test "$got" = "$3"
}

# write_through MOUNTPOINT FILE CONTENT: sets wrote=1 when it worked.  A
# read-only file system (EROFS: this version of fs/ cannot write yet) is
# a skip, any other failure a failure.
wrote=
write_through() {
	local err
	if err=$(timeout 30 sh -c 'printf "%s\n" "$2" >"$1"' sh "$1/$2" "$3" 2>&1); then
		wrote=1
		pass "$2 can be written through $(basename "$1")"
	elif grep -q 'Read-only file system' <<<"$err"; then
		skip "writing through $(basename "$1"): read-only file system"
	else
		fail "$2 can be written through $(basename "$1") ($err)"
	fi
}

# What mnt1 wrote, seen through another mount.
read_back_written() {
	[ -z "$wrote" ] || read_back "$1" written.txt "written through mount -t"
}

try_umount() {
	local mnt=$1 pids p ok=1
	pids=$(ossfs_pids_for "$mnt")
	check "umount $(basename "$mnt")" timeout 60 umount "$mnt"
	check "$(basename "$mnt") is no longer mounted" eval "! is_mounted '$mnt'"
	for p in $pids; do wait_gone "$p" || ok=; done
	check "the ossfs daemon of $(basename "$mnt") exited after umount" test -n "$ok"
}

# The unit's ExecStart, expanded for one instance, run as systemd would
# (Type=forking: it must return once mounted), stopped as systemd stops
# it (SIGTERM to the daemon).
unit_tests() {
	local opts=$1 content=$2 mnt=$work/mnt4 args pids p ok=1
	printf 'OSSFS_MOUNTPOINT=%s\nOSSFS_OPTIONS=%s\n' "$mnt" "$opts" \
		>"$work/test.env"
	mapfile -t args < <("$py" "$here/unit_exec.py" "$unit" test "$work/test.env")
	mkdir -p "$mnt"
	try_mount "ossfs@test.service's ExecStart returns once mounted" "$mnt" \
		"${args[@]}" || return
	read_back "$mnt" hello.txt "$content"
	pids=$(ossfs_pids_for "$mnt")
	check "the service has one daemon process" test "$(wc -w <<<"$pids")" -eq 1
	for p in $pids; do kill -TERM "$p"; done
	for p in $pids; do wait_gone "$p" || ok=; done
	check "SIGTERM (systemctl stop) ends the daemon" test -n "$ok"
	check "SIGTERM (systemctl stop) unmounts" eval "! is_mounted '$mnt'"
}

if [ -c /dev/fuse ]; then
	mount_tests
else
	skip "mounting: /dev/fuse is missing"
fi

stage "purging"
check "apt-get remove --purge ossfs" apt_quiet remove --purge -y ossfs
installed_by_us=
status=$(dpkg-query -W -f='${db:Status-Status}' ossfs 2>/dev/null)
check "dpkg no longer knows ossfs (status '${status:-none}')" \
	test "${status:-not-installed}" = not-installed
check "dpkg -L listed the package's files before removal" \
	grep -q /usr/bin/ossfs "$work/dpkg-L"
left=()
while read -r path; do
	[ -n "$path" ] && [ "$path" != /. ] || continue
	if [ -d "$path" ]; then
		# shared directories (/usr/bin, /lib -> usr/lib) stay; the
		# package's own go
		case $path in *ossfs*) left+=("$path") ;; esac
	elif [ -e "$path" ] || [ -L "$path" ]; then
		left+=("$path")
	fi
done <"$work/dpkg-L"
left+=($(ls /var/lib/dpkg/info/ossfs.* /etc/ossfs 2>/dev/null))
check "nothing of ossfs is left (${left[*]:-none})" test ${#left[@]} -eq 0
check "no ossfs daemon is left running" \
	test -z "$(for p in "${daemon_pids[@]}"; do kill -0 "$p" 2>/dev/null && echo "$p"; done)"

# ---- the RPM -----------------------------------------------------------------------

stage "building the .rpm"
rpm_file=$("$top/packaging/build-rpm.sh" "${build_args[@]}" "$out" | tail -n 1)
if [ -f "$rpm_file" ]; then
	pass "build-rpm.sh made $(basename "$rpm_file")"
	check "the .rpm's Version is $version" \
		test "$(rpm -qp --qf '%{VERSION}' "$rpm_file" 2>/dev/null)" = "$version"
	# Both lists: non-directories as "MODE PATH", normalised by
	# filelist.sh (see there for the differences it allows).
	"$here/filelist.sh" rpm "$rpm_file" >"$work/rpm.list"
	if diff -u "$work/deb.list" "$work/rpm.list" >"$work/list.diff"; then
		pass "the .rpm and the .deb install the same files ($(wc -l <"$work/deb.list"))"
	else
		sed 's/^/  /' "$work/list.diff"
		fail "the .rpm and the .deb install the same files"
	fi
else
	fail "build-rpm.sh made an .rpm (log: $out/build-rpm.log)"
fi

summary
[ "$failed" -eq 0 ]
