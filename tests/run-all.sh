#!/usr/bin/env bash
# The whole test suite, from a fresh clone on a fresh Debian 12 machine:
#   sudo tests/run-all.sh
# Installs what is missing (apt, npm), builds with -Dwerror=true (gcc and
# clang), runs the unit tests, the fuzz-corpus replays and the style check, the same tests
# again under ASan+UBSan, then the pytest suites (server, client, mount).
# Ends with one line "N passed, N failed" summing every suite.
#
# Environment:
#   OSSFS_SKIP_INSTALL=1   do not run apt-get / npm
#   OSSFS_SKIP_ASAN=1      skip the sanitizer build (gcc and clang builds
#                          always run)
#   OSSFS_SKIP_PACKAGING=1 skip building/installing the Debian and RPM packages
#   OSSFS_VALGRIND=1       run the daemon under valgrind in mount tests
#   OSSFS_BUILD=DIR        build directory (default build-test)
# With --install-only it installs the dependencies and stops.
set -uo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${OSSFS_BUILD:-build-test}
asan_build=${build}-asan
py=/usr/bin/python3
total_pass=0
total_fail=0
log_dir=$top/$build-logs

apt_packages=(meson ninja-build pkg-config gcc clang clang-format
	libfuse3-dev fuse3 libcurl4-openssl-dev libssl-dev libxml2-dev
	python3 python3-pytest rsync valgrind)

install_deps() {
	local missing=()
	for p in "${apt_packages[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null |
			grep -q "install ok installed" || missing+=("$p")
	done
	if [ ${#missing[@]} -gt 0 ]; then
		echo "== installing: ${missing[*]}"
		export DEBIAN_FRONTEND=noninteractive
		apt-get update -qq || return 1
		apt-get install -y -qq "${missing[@]}" >/dev/null || return 1
	fi
	command -v node >/dev/null || missing_node=1
	if [ -n "${missing_node:-}" ] || ! command -v npm >/dev/null; then
		apt-get install -y -qq nodejs npm >/dev/null || return 1
	fi
	if [ ! -d tests/node/node_modules ]; then
		echo "== npm ci (tests/node)"
		(cd tests/node && npm ci --no-audit --no-fund --loglevel=error) ||
			return 1
	fi
}

# count_meson LOGFILE: add meson's Ok/Fail summary to the totals.
count_meson() {
	local ok fail
	ok=$(awk '/^Ok:/ {print $2}' "$1" | tail -1)
	fail=$(awk '/^Fail:/ {print $2}' "$1" | tail -1)
	to=$(awk '/^Timeout:/ {print $2}' "$1" | tail -1)
	total_pass=$((total_pass + ${ok:-0}))
	total_fail=$((total_fail + ${fail:-0} + ${to:-0}))
}

# count_pytest LOGFILE: add pytest's closing line to the totals.
count_pytest() {
	local line p f e
	line=$(grep -E '([0-9]+ (passed|failed|errors?)).* in [0-9.]+s' "$1" | tail -1)
	p=$(echo "$line" | grep -oE '[0-9]+ passed' | grep -oE '[0-9]+')
	f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
	e=$(echo "$line" | grep -oE '[0-9]+ error' | grep -oE '[0-9]+')
	total_pass=$((total_pass + ${p:-0}))
	total_fail=$((total_fail + ${f:-0} + ${e:-0}))
	[ -n "$line" ] || total_fail=$((total_fail + 1))
}

run_meson_suite() { # NAME BUILD_DIR [setup args...]
	local name=$1 dir=$2
	shift 2
	echo "== build $name ($dir)"
	if [ ! -f "$dir/build.ninja" ]; then
		meson setup "$dir" -Dwerror=true "$@" >"$log_dir/$name-setup.log" 2>&1 ||
			{ cat "$log_dir/$name-setup.log"; total_fail=$((total_fail + 1)); return; }
	fi
	if ! ninja -C "$dir" >"$log_dir/$name-build.log" 2>&1; then
		tail -50 "$log_dir/$name-build.log"
		total_fail=$((total_fail + 1))
		return
	fi
	echo "== test $name"
	meson test -C "$dir" --print-errorlogs --num-processes 2 \
		>"$log_dir/$name-test.log" 2>&1
	grep -E '^ *[0-9]+/[0-9]+ ' "$log_dir/$name-test.log"
	grep -E '^(Ok|Fail|Skipped|Timeout):' "$log_dir/$name-test.log"
	# CI keeps only this output: show why a test failed, not just that.
	if grep -qE '^ *[0-9]+/[0-9]+ .* (FAIL|TIMEOUT) ' "$log_dir/$name-test.log"; then
		echo "-- output of the failed tests (last 150 lines)"
		sed '/^Summary of Failures/,$d' "$log_dir/$name-test.log" |
			grep -vE '^ *[0-9]+/[0-9]+ ' | tail -150
	fi
	count_meson "$log_dir/$name-test.log"
}

run_pytest() { # NAME PATH...
	local name=$1
	shift
	echo "== pytest $name"
	OSSFS_BUILD_DIR="$top/$build" "$py" -m pytest -q -rs -p no:cacheprovider \
		"$@" >"$log_dir/pytest-$name.log" 2>&1
	tail -30 "$log_dir/pytest-$name.log"
	count_pytest "$log_dir/pytest-$name.log"
}

if [ "${1:-}" = "--install-only" ]; then
	install_deps
	exit
fi
# count_plain LOGFILE: add a closing "N passed, N failed" line.
count_plain() {
	local line p f
	line=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$1" | tail -1)
	p=$(echo "$line" | grep -oE '^[0-9]+')
	f=$(echo "$line" | grep -oE '[0-9]+ failed' | grep -oE '[0-9]+')
	total_pass=$((total_pass + ${p:-0}))
	total_fail=$((total_fail + ${f:-0}))
	[ -n "$line" ] || total_fail=$((total_fail + 1))
}

run_script() { # NAME COMMAND...
	local name=$1
	shift
	echo "== $name"
	"$@" >"$log_dir/$name.log" 2>&1
	tail -5 "$log_dir/$name.log"
	count_plain "$log_dir/$name.log"
}

mkdir -p "$log_dir"
if [ -z "${OSSFS_SKIP_INSTALL:-}" ]; then
	install_deps || { echo "dependency installation failed"; echo "0 passed, 1 failed"; exit 1; }
fi

run_meson_suite gcc "$build"
# clang too: its warnings differ from gcc's, and -Dwerror=true holds for both.
CC=clang run_meson_suite clang "${build}-clang"
if [ -z "${OSSFS_SKIP_ASAN:-}" ]; then
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 \
	ASAN_OPTIONS=detect_leaks=1 \
		run_meson_suite asan "$asan_build" \
		-Db_sanitize=address,undefined -Db_lundef=false
fi

for suite in server integration; do
	if [ -d "tests/$suite" ] && ls tests/$suite/test_*.py >/dev/null 2>&1; then
		run_pytest "$suite" "tests/$suite"
	fi
done

# Packages: build the .deb and .rpm, install, mount through mount(8),
# purge.  Needs root and changes the system, so it can be skipped.
if [ -z "${OSSFS_SKIP_PACKAGING:-}" ]; then
	run_script packaging bash tests/packaging/test_packages.sh
fi

echo
echo "logs: $log_dir"
echo "$total_pass passed, $total_fail failed"
[ "$total_fail" -eq 0 ]
