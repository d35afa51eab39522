#!/usr/bin/env bash
# Try ossfs on this machine, with nothing but the repository:
#   sudo tests/demo.sh
# Installs what is missing, builds, starts the bundled OSS server on
# 127.0.0.1 with a sample bucket, mounts it, lists, reads and copies, then
# unmounts and stops the server.  Set KEEP=1 to leave the mount up (the
# script prints how to take it down).
set -euo pipefail

top=$(cd "$(dirname "$0")/.." && pwd)
cd "$top"
build=${OSSFS_BUILD:-build}
work=$(mktemp -d /tmp/ossfs-demo.XXXXXX)
mnt=$work/mnt
server_pid=

cleanup() {
	if [ -z "${KEEP:-}" ]; then
		mountpoint -q "$mnt" 2>/dev/null && fusermount3 -u "$mnt" || true
		[ -n "$server_pid" ] && kill "$server_pid" 2>/dev/null || true
		rm -rf "$work"
	fi
}
trap cleanup EXIT

OSSFS_SKIP_ASAN=1 OSSFS_BUILD=$build bash tests/run-all.sh --install-only

echo "== building"
[ -f "$build/build.ninja" ] || meson setup "$build" >/dev/null
ninja -C "$build" >/dev/null

echo "== starting the bundled OSS server on 127.0.0.1 (bucket 'demo')"
mkdir -p "$mnt" "$work/data"
/usr/bin/python3 tests/server/ossserver.py --root "$work/data" --port 0 \
	--port-file "$work/port" --bucket demo --creds demoak:demosk \
	>"$work/server.log" 2>&1 &
server_pid=$!
for _ in $(seq 100); do [ -s "$work/port" ] && break; sleep 0.1; done
url=http://127.0.0.1:$(cat "$work/port")

export OSS_ACCESS_KEY_ID=demoak OSS_ACCESS_KEY_SECRET=demosk
tool() { "$build/tests/tools/osstool" --url "$url" --bucket demo \
	--region cn-hangzhou "$@" >/dev/null; }
echo "hello from OSS" >"$work/hello.txt"
head -c 3000000 /dev/urandom >"$work/photo.jpg"
tool put README.md README.md
tool put docs/hello.txt "$work/hello.txt"
tool put "photos/2026/a photo.jpg" "$work/photo.jpg"
tool putmany "photos/thumbs/t" 200

echo "== mounting: ossfs demo $mnt -o url=$url"
"$build/src/ossfs" demo "$mnt" -o "url=$url,region=cn-hangzhou"

echo "== ls -l $mnt"
ls -l "$mnt"
echo "== ls $mnt/photos/thumbs | wc -l"
ls "$mnt/photos/thumbs" | wc -l
echo "== cat $mnt/docs/hello.txt"
cat "$mnt/docs/hello.txt"
echo "== cp -r $mnt/photos $work/copy"
cp -r "$mnt/photos" "$work/copy"
cmp "$work/photo.jpg" "$work/copy/2026/a photo.jpg" && echo "copied bytes are identical"
echo "== server requests so far"
curl -s "$url/_admin/stats"; echo

if [ -n "${KEEP:-}" ]; then
	echo "mounted at $mnt; take it down with: fusermount3 -u $mnt; kill $server_pid"
else
	fusermount3 -u "$mnt"
	echo "== unmounted"
fi
