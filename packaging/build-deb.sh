#!/usr/bin/env bash
# Build the ossfs Debian binary package from a clean copy of the tree.
#   packaging/build-deb.sh [--worktree] [--nocheck] [OUTDIR]
# --worktree  build the files as they are now (default: the last commit)
# --nocheck   skip the unit tests during the build
# OUTDIR      where the .deb goes (default: build-pkg/ in the tree)
# Installs missing build dependencies with apt-get (not with
# OSSFS_SKIP_INSTALL=1).  Prints the path of the .deb as its last line.
set -euo pipefail
. "$(dirname "$0")/common.sh"

mode=head
out=$pkg_top/build-pkg
while [ $# -gt 0 ]; do
	case $1 in
	--worktree) mode=worktree ;;
	--nocheck) export DEB_BUILD_OPTIONS="nocheck ${DEB_BUILD_OPTIONS:-}" ;;
	-h | --help)
		sed -n '2,8s/^# \{0,1\}//p' "$0"
		exit 0
		;;
	-*)
		echo "unknown option $1" >&2
		exit 2
		;;
	*) out=$1 ;;
	esac
	shift
done

pkg_apt_need debhelper dpkg-dev fakeroot meson ninja-build pkg-config \
	libfuse3-dev libcurl4-openssl-dev libssl-dev libxml2-dev
pkg_check_versions
version=$(pkg_meson_version)

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/ossfs-deb.XXXXXX)
trap 'rm -rf "$work"' EXIT
src=$work/ossfs-$version
pkg_export_tree "$src" "$mode"
rm -rf "$src/debian"
cp -a "$src/packaging/debian" "$src/debian"

log=$out/build-deb.log
echo "== dpkg-buildpackage ($mode, log: $log)" >&2
if ! (cd "$src" && dpkg-buildpackage -us -uc -b) >"$log" 2>&1; then
	tail -n 60 "$log" >&2
	echo "dpkg-buildpackage failed; full log: $log" >&2
	exit 1
fi
rm -f "$out"/ossfs_*.deb "$out"/ossfs-dbgsym_*.deb "$out"/ossfs_*.buildinfo \
	"$out"/ossfs_*.changes
mv "$work"/ossfs_*.deb "$work"/ossfs_*.buildinfo "$work"/ossfs_*.changes "$out"/
mv "$work"/ossfs-dbgsym_*.*deb "$out"/ 2>/dev/null || true
ls "$out"/ossfs_"$version"_*.deb
