# Shared by build-deb.sh, build-rpm.sh and tests/packaging: the version,
# a clean copy of the source tree, and installing what is missing.
# Sourced, not run.

pkg_top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The one version: meson.build's project version.
pkg_meson_version() {
	sed -n "s/^[[:space:]]*version[[:space:]]*:[[:space:]]*'\([^']*\)'.*/\1/p" \
		"$pkg_top/meson.build" | head -n 1
}

pkg_deb_changelog_version() {
	dpkg-parsechangelog -l "$pkg_top/packaging/debian/changelog" -S Version
}

pkg_spec_version() {
	sed -n 's/^Version:[[:space:]]*\([^[:space:]]*\).*/\1/p' \
		"$pkg_top/packaging/ossfs.spec" | head -n 1
}

# Refuse to build when the three versions disagree: the package would
# claim a version the binary does not print.
pkg_check_versions() {
	local meson deb spec
	meson=$(pkg_meson_version)
	deb=$(pkg_deb_changelog_version)
	spec=$(pkg_spec_version)
	if [ -z "$meson" ] || [ "$meson" != "$deb" ] || [ "$meson" != "$spec" ]; then
		echo "version mismatch: meson.build '$meson'," \
			"packaging/debian/changelog '$deb'," \
			"packaging/ossfs.spec '$spec'" >&2
		return 1
	fi
}

# pkg_apt_need PACKAGE...: install the ones not installed yet, unless
# OSSFS_SKIP_INSTALL is set.
pkg_apt_need() {
	local missing=() p
	for p in "$@"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed" || missing+=("$p")
	done
	[ ${#missing[@]} -gt 0 ] || return 0
	if [ -n "${OSSFS_SKIP_INSTALL:-}" ]; then
		echo "missing packages (OSSFS_SKIP_INSTALL is set): ${missing[*]}" >&2
		return 1
	fi
	echo "== installing: ${missing[*]}" >&2
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >&2 || return 1
	apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2 ||
		return 1
}

# pkg_export_tree DEST MODE: a clean copy of the sources in DEST (which
# must not exist).  MODE "head" takes the last commit (git archive HEAD);
# "worktree" takes the files as they are now, tracked or new but not
# ignored, so build directories and node_modules never come along.
pkg_export_tree() {
	local dest=$1 mode=$2
	mkdir -p "$dest" || return 1
	if ! git -C "$pkg_top" rev-parse --git-dir >/dev/null 2>&1; then
		# An unpacked release tarball: it is clean already.
		tar -C "$pkg_top" --exclude='./build*' --exclude=node_modules \
			-cf - . | tar -C "$dest" -xf -
		return
	fi
	case $mode in
	head)
		git -C "$pkg_top" archive --format=tar HEAD | tar -C "$dest" -xf -
		;;
	worktree)
		(cd "$pkg_top" &&
			git ls-files -z --cached --others --exclude-standard |
			tar --null --ignore-failed-read -T - -cf - 2>/dev/null) |
			tar -C "$dest" -xf -
		;;
	*)
		echo "unknown tree mode '$mode'" >&2
		return 1
		;;
	esac
}
