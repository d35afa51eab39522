#!/usr/bin/env bash
# Build the ossfs RPM from a clean copy of the tree with rpmbuild.
#   packaging/build-rpm.sh [--worktree] [--nocheck] [OUTDIR]
# --worktree  build the files as they are now (default: the last commit)
# --nocheck   skip the unit tests (%check)
# OUTDIR      where the .rpm goes (default: build-pkg/ in the tree)
# On a Debian host the build dependencies cannot be known to rpm, so
# rpmbuild runs with --nodeps there; Debian's "rpm" package is installed
# when missing (not with OSSFS_SKIP_INSTALL=1).  Prints the path of the
# .rpm as its last line.
set -euo pipefail
. "$(dirname "$0")/common.sh"

mode=head
out=$pkg_top/build-pkg
rpm_args=()
while [ $# -gt 0 ]; do
	case $1 in
	--worktree) mode=worktree ;;
	--nocheck) rpm_args+=(--nocheck) ;;
	-h | --help)
		sed -n '2,10s/^# \{0,1\}//p' "$0"
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

if command -v dpkg-query >/dev/null; then
	pkg_apt_need rpm meson ninja-build pkg-config libfuse3-dev \
		libcurl4-openssl-dev libssl-dev libxml2-dev
	rpm_args+=(--nodeps)
	# Debian's rpm has no debugedit: no -debuginfo subpackage here.
	rpm_args+=(--define 'debug_package %{nil}')
fi
pkg_check_versions
version=$(pkg_meson_version)

mkdir -p "$out"
out=$(cd "$out" && pwd)
work=$(mktemp -d /tmp/ossfs-rpm.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work"/{BUILD,BUILDROOT,RPMS,SOURCES,SPECS,SRPMS}
pkg_export_tree "$work/tree/ossfs-$version" "$mode"
tar -C "$work/tree" -czf "$work/SOURCES/ossfs-$version.tar.gz" "ossfs-$version"
cp "$work/tree/ossfs-$version/packaging/ossfs.spec" "$work/SPECS/"

log=$out/build-rpm.log
echo "== rpmbuild ($mode, log: $log)" >&2
if ! rpmbuild -bb "${rpm_args[@]}" --define "_topdir $work" \
	"$work/SPECS/ossfs.spec" >"$log" 2>&1; then
	tail -n 60 "$log" >&2
	echo "rpmbuild failed; full log: $log" >&2
	exit 1
fi
rm -f "$out"/ossfs-[0-9]*.rpm
find "$work/RPMS" -name "ossfs-$version-*.rpm" -exec mv {} "$out"/ \;
ls "$out"/ossfs-"$version"-*.rpm
