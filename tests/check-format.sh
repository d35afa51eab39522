#!/bin/sh
# Fails when a C source or header differs from what clang-format makes of it.
set -eu
top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
bad=0
for f in $(git ls-files '*.c' '*.h' 2>/dev/null || find src include tests -name '*.[ch]'); do
	if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
		echo "not clang-formatted: $f"
		bad=1
	fi
done
exit $bad
