#!/usr/bin/env bash
# filelist.sh deb|rpm PACKAGE: the files a package installs, one
# "MODE PATH" line each, sorted, normalised so that a .deb and an .rpm of
# ossfs compare equal when they install the same thing.  Allowed
# differences, each a convention of its format rather than a choice:
#  - directories are left out: each format lists different parents;
#  - /lib/... becomes /usr/lib/...: Debian 12's debhelper installs
#    systemd units in /lib/systemd/system, RPM in /usr/lib/systemd/system,
#    the same directory on a merged-/usr system;
#  - man pages and documents lose ".gz": dh_compress compresses man pages
#    and documents over 4 kB (Debian policy 12.3), rpm's brp-compress
#    man pages only, and only where the distribution configures it;
#  - Debian-only metadata is dropped: /usr/share/doc/ossfs/copyright and
#    changelog(.Debian).gz (policy 12.5, 12.7) and the lintian overrides;
#  - RPM-only metadata is dropped: /usr/lib/.build-id/ links;
#  - a symlink's target is not compared (dh_link makes it relative).
set -euo pipefail

case ${1:-} in
deb)
	dpkg-deb -c "$2" | awk '{ print $1, substr($6, 2) }'
	;;
rpm)
	rpm -qp --qf '[%{FILEMODES:perms} %{FILENAMES}\n]' "$2" 2>/dev/null
	;;
*)
	echo "usage: $0 deb|rpm PACKAGE" >&2
	exit 2
	;;
esac | awk '
	$1 ~ /^d/ { next }
	{
		mode = $1; path = $2
		sub(/^\/lib\//, "/usr/lib/", path)
		if (path ~ /^\/usr\/share\/(man|doc)\//) sub(/\.gz$/, "", path)
		if (path ~ /^\/usr\/share\/doc\/ossfs\/(copyright|changelog(\.Debian)?)$/) next
		if (path ~ /^\/usr\/share\/lintian\/overrides\//) next
		if (path ~ /^\/usr\/lib\/\.build-id(\/|$)/) next
		print mode, path
	}' | LC_ALL=C sort
