/* Unit tests of the memory budget (cache_data classes and runs), the disk
 * cache, and the prefetch engine driven through fs/ against the fake
 * store.  Every assertion is a count (requests, bytes, blocks), never a
 * time: the fake completes GETs only when the test says so. */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cache.h"
#include "../fs/fake_store.h"
#include "fs.h"
#include "prefetch.h"
#include "testutil.h"

/* ---- the budget ---------------------------------------------------------- */

static struct cache_block *run(struct cache_data *c, const char *key,
			       uint64_t first, uint64_t size, uint64_t max,
			       enum cache_class cls, uint64_t *nb, int *err)
{
	struct cache_block *b = NULL;

	*err = cache_data_acquire_run(c, key, "E", first, 100, size, max, cls,
				      &b, nb);
	return b;
}

static void finish(struct cache_data *c, struct cache_block *b, char fill)
{
	memset(cache_block_buf(b), fill, cache_block_cap(b));
	cache_data_fill_done(c, b, 0, cache_block_cap(b));
	cache_block_unref(c, b);
}

struct waiter_rec {
	struct cache_waiter w;
	struct cache_block *b;
	int calls;
};

static void rec_fn(struct cache_waiter *w, struct cache_block *b, int err)
{
	struct waiter_rec *r = (struct waiter_rec *)(void *)w;

	r->b = b;
	r->calls++;
	(void)err;
}

static void test_budget_classes(void)
{
	struct cache_data_stats st;
	enum cache_acquire_result res;
	struct waiter_rec r;
	struct cache_block *b;
	struct cache_data *c;
	uint64_t nb;
	int err;

	CHECK_INT(cache_data_new(1000, &c), 0);
	/* Prefetch may hold half the budget unread. */
	b = run(c, "p1", 0, 300, 10, CACHE_CLASS_PREFETCH, &nb, &err);
	CHECK_INT(err, 0);
	CHECK_INT(nb, 3);
	CHECK_INT(cache_block_cap(b), 300);
	finish(c, b, 'p');
	run(c, "p2", 0, 300, 10, CACHE_CLASS_PREFETCH, &nb, &err);
	CHECK_INT(err, -ENOSPC);
	/* Read-ahead fits, then pushes out the unread prefetch. */
	b = run(c, "r1", 0, 600, 10, CACHE_CLASS_READAHEAD, &nb, &err);
	CHECK_INT(err, 0);
	finish(c, b, 'r');
	b = run(c, "r2", 0, 300, 10, CACHE_CLASS_READAHEAD, &nb, &err);
	CHECK_INT(err, 0);
	finish(c, b, 's');
	cache_data_get_stats(c, &st);
	CHECK_INT(st.evicted_unused_bytes[CACHE_CLASS_PREFETCH], 300);
	CHECK_INT(st.bytes, 900);
	/* Nothing may push out unread read-ahead but a waiting reader. */
	run(c, "r3", 0, 300, 10, CACHE_CLASS_READAHEAD, &nb, &err);
	CHECK_INT(err, -ENOSPC);
	run(c, "p3", 0, 200, 10, CACHE_CLASS_PREFETCH, &nb, &err);
	CHECK_INT(err, -ENOSPC);
	/* A reader of the middle of a run gets the run. */
	memset(&r, 0, sizeof(r));
	r.w.fn = rec_fn;
	CHECK_INT(cache_data_acquire(c, "r1", "E", 4, 100, &r.w, &b, &res), 0);
	CHECK_INT(res, CACHE_HIT);
	CHECK_INT(cache_block_first(b), 0);
	CHECK(((const char *)cache_block_data(b))[450] == 'r');
	cache_block_unref(c, b);
	cache_data_get_stats(c, &st);
	CHECK_INT(st.used_bytes[CACHE_CLASS_READAHEAD], 600);
	CHECK_INT(st.unused_bytes[CACHE_CLASS_READAHEAD], 300);
	/* Demand is always admitted: it evicts what was read first. */
	CHECK_INT(cache_data_acquire(c, "d", "E", 0, 500, &r.w, &b, &res), 0);
	CHECK_INT(res, CACHE_FILL);
	cache_data_fill_done(c, b, 0, 500);
	cache_block_unref(c, b);
	cache_block_unref(c, r.b);
	cache_data_get_stats(c, &st);
	CHECK(st.bytes <= st.budget);
	CHECK_INT(st.evicted_unused_bytes[CACHE_CLASS_READAHEAD], 0);
	CHECK_INT(st.misses, 1);
	cache_data_free(c);
}

static void test_runs_stop_at_cached_blocks(void)
{
	enum cache_acquire_result res;
	struct waiter_rec r;
	struct cache_block *b;
	struct cache_data *c;
	uint64_t nb;
	int err;

	CHECK_INT(cache_data_new(100000, &c), 0);
	memset(&r, 0, sizeof(r));
	r.w.fn = rec_fn;
	CHECK_INT(cache_data_acquire(c, "o", "E", 2, 100, &r.w, &b, &res), 0);
	cache_data_fill_done(c, b, 0, 100);
	cache_block_unref(c, b);
	cache_block_unref(c, r.b);
	b = run(c, "o", 0, 1050, 100, CACHE_CLASS_READAHEAD, &nb, &err);
	CHECK_INT(err, 0);
	CHECK_INT(nb, 2); /* 0 and 1; 2 is cached */
	finish(c, b, 'a');
	run(c, "o", 2, 1050, 100, CACHE_CLASS_READAHEAD, &nb, &err);
	CHECK_INT(err, -EEXIST);
	CHECK_INT(nb, 1);
	b = run(c, "o", 3, 1050, 100, CACHE_CLASS_READAHEAD, &nb, &err);
	CHECK_INT(err, 0);
	CHECK_INT(nb, 8); /* to the end: 3..10 */
	CHECK_INT(cache_block_cap(b), 750);
	finish(c, b, 'b');
	run(c, "o", 11, 1050, 100, CACHE_CLASS_READAHEAD, &nb, &err);
	CHECK_INT(err, -EINVAL);
	cache_data_free(c);
}

static void test_charge_evicts(void)
{
	struct cache_data_stats st;
	struct cache_block *b;
	struct cache_data *c;
	uint64_t nb;
	int err;

	CHECK_INT(cache_data_new(1000, &c), 0);
	b = run(c, "a", 0, 800, 10, CACHE_CLASS_READAHEAD, &nb, &err);
	finish(c, b, 'x');
	cache_data_charge(c, 600); /* an upload buffer */
	cache_data_get_stats(c, &st);
	CHECK_INT(st.bytes, 600);
	CHECK_INT(st.charged_bytes, 600);
	CHECK_INT(st.evicted_unused_bytes[CACHE_CLASS_READAHEAD], 800);
	run(c, "b", 0, 500, 10, CACHE_CLASS_READAHEAD, &nb, &err);
	CHECK_INT(err, -ENOSPC);
	cache_data_uncharge(c, 600);
	cache_data_get_stats(c, &st);
	CHECK_INT(st.bytes, 0);
	cache_data_free(c);
}

/* ---- the disk cache --------------------------------------------------------
 */

static void make_tmpdir(char *out, size_t size)
{
	snprintf(out, size, "/tmp/ossfs-pf-test-XXXXXX");
	if (!mkdtemp(out))
		out[0] = '\0';
}

static void rm_tree(const char *dir)
{
	char path[4200];
	struct dirent *de;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d)) != NULL) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) == 0 && S_ISDIR(st.st_mode))
			rm_tree(path);
		else
			unlink(path);
	}
	if (d)
		closedir(d);
	rmdir(dir);
}

/* Sum of the sizes of every file under dir. */
static uint64_t du(const char *dir)
{
	char path[4200];
	struct dirent *de;
	uint64_t n = 0;
	DIR *d = opendir(dir);

	while (d && (de = readdir(d)) != NULL) {
		struct stat st;

		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		snprintf(path, sizeof(path), "%s/%s", dir, de->d_name);
		if (lstat(path, &st) != 0)
			continue;
		n += S_ISDIR(st.st_mode) ? du(path) : (uint64_t)st.st_size;
	}
	if (d)
		closedir(d);
	return n;
}

static void test_disk_cache_bound_and_versions(void)
{
	static char blk[3000], got[3000];
	struct cache_disk_stats st;
	struct cache_disk *d;
	char dir[64];
	uint64_t max_seen = 0;

	make_tmpdir(dir, sizeof(dir));
	CHECK(dir[0]);
	CHECK_INT(cache_disk_new(dir, 10000, &d), 0);
	for (int i = 0; i < 10; i++) {
		memset(blk, 'a' + i, sizeof(blk));
		cache_disk_put(d, "obj", "E1", (uint64_t)i, blk, sizeof(blk));
		cache_disk_flush(d);
		if (du(dir) > max_seen)
			max_seen = du(dir);
	}
	cache_disk_get_stats(d, &st);
	CHECK(max_seen <= 10000);
	CHECK(st.bytes <= 10000);
	CHECK_INT(st.files, 3);
	CHECK_INT(st.evicted_files, 7);
	CHECK(st.evicted_bytes > 7 * 3000);
	/* The newest three are there, right; another ETag is a miss. */
	CHECK_INT(cache_disk_get(d, "obj", "E1", 9, got, sizeof(got)), 0);
	CHECK(got[0] == 'a' + 9 && got[2999] == 'a' + 9);
	CHECK_INT(cache_disk_get(d, "obj", "E2", 9, got, sizeof(got)), -ENOENT);
	CHECK_INT(cache_disk_get(d, "obj", "E1", 0, got, sizeof(got)), -ENOENT);
	CHECK(!cache_disk_has(d, "obj", "E1", 0));
	cache_disk_free(d);
	/* It survives: a new instance finds the same blocks. */
	CHECK_INT(cache_disk_new(dir, 10000, &d), 0);
	CHECK(cache_disk_has(d, "obj", "E1", 8));
	CHECK_INT(cache_disk_get(d, "obj", "E1", 8, got, sizeof(got)), 0);
	CHECK(got[100] == 'a' + 8);
	cache_disk_get_stats(d, &st);
	CHECK_INT(st.files, 3);
	cache_disk_free(d);
	/* A smaller bound at start-up evicts down to it. */
	CHECK_INT(cache_disk_new(dir, 4000, &d), 0);
	cache_disk_get_stats(d, &st);
	CHECK_INT(st.files, 1);
	CHECK(du(dir) <= 4000);
	cache_disk_free(d);
	rm_tree(dir);
}

/* ---- the engine through fs/ -------------------------------------------------
 */

struct env {
	struct fake_store *fake;
	struct oss_store store;
	struct prefetch_config pc;
	struct fs *fs;
};

static int env_open(struct env *t, const struct fs_config *base)
{
	struct fs_config cfg = *base;

	memset(&t->store, 0, sizeof(t->store));
	if (fake_store_new(FAKE_ASYNC_MANUAL, &t->fake))
		return -ENOMEM;
	fake_store_bind(t->fake, &t->store);
	cfg.prefetch = &t->pc;
	return fs_new(&cfg, &t->store, &t->fs);
}

static void env_config(struct env *t, struct fs_config *cfg)
{
	memset(t, 0, sizeof(*t));
	fs_config_defaults(cfg);
	prefetch_config_defaults(&t->pc);
}

static void env_close(struct env *t)
{
	fake_store_run_pending(t->fake);
	fs_free(t->fs);
	fake_store_free(t->fake);
}

static int dirent_fn(void *ctx, const char *name, const struct fs_entry *e,
		     off_t next_off)
{
	(void)name;
	(void)e;
	*(off_t *)ctx = next_off;
	return 0;
}

/* opendir, readdirplus everything, releasedir: what ls -l and cp -r do. */
static int list_dir(struct env *t, const char *name, fs_ino_t *ino)
{
	struct fs_entry e;
	uint64_t fh;
	off_t off = 0, prev;
	int err = fs_lookup(t->fs, FS_ROOT_INO, name, &e);

	if (err)
		return err;
	*ino = e.ino;
	err = fs_opendir(t->fs, e.ino, &fh);
	if (err)
		return err;
	fs_settle(t->fs); /* the metadata sample's HEADs, out of the counts */
	do {
		prev = off;
		err = fs_readdir(t->fs, e.ino, fh, off, true, dirent_fn, &off);
	} while (!err && off != prev);
	fs_releasedir(t->fs, fh);
	return err;
}

struct rd {
	int calls, err;
	size_t len;
	char data[1 << 17];
};

static void rd_cb(void *ud, int err, const struct iovec *iov, int iovcnt)
{
	struct rd *r = ud;

	r->calls++;
	r->err = err;
	r->len = 0;
	for (int i = 0; i < iovcnt; i++) {
		size_t n = iov[i].iov_len;

		if (r->len + n > sizeof(r->data))
			n = sizeof(r->data) - r->len;
		memcpy(r->data + r->len, iov[i].iov_base, n);
		r->len += n;
	}
}

/* Read [off, off+len) of an open file, completing GETs as needed. */
static int read_at(struct env *t, uint64_t fh, uint64_t off, size_t len,
		   struct rd *r)
{
	int err;

	r->calls = 0;
	err = fs_read(t->fs, fh, off, len, rd_cb, r);
	if (err)
		return err;
	if (!r->calls)
		fake_store_run_pending(t->fake);
	return r->calls == 1 ? r->err : -EPROTO;
}

static int open_child(struct env *t, fs_ino_t dir, const char *name,
		      uint64_t *fh)
{
	struct fs_entry e;
	bool keep;
	int err = fs_lookup(t->fs, dir, name, &e);

	if (err)
		return err;
	err = fs_open(t->fs, e.ino, O_RDONLY, fh, &keep);
	fs_forget(t->fs, e.ino, 1);
	return err;
}

/* One counter from the stats file. */
static long long stat_value(struct env *t, const char *name)
{
	static struct rd r;
	struct fs_entry e;
	uint64_t fh;
	bool keep;
	const char *p;
	long long v = -1;

	if (fs_lookup(t->fs, FS_ROOT_INO, FS_STATS_NAME, &e) ||
	    fs_open(t->fs, e.ino, O_RDONLY, &fh, &keep))
		return -1;
	if (read_at(t, fh, 0, sizeof(r.data) - 1, &r) == 0) {
		r.data[r.len] = '\0';
		p = strstr(r.data, name);
		if (p && p[strlen(name)] == ' ')
			v = strtoll(p + strlen(name), NULL, 10);
	}
	fs_release(t->fs, fh);
	return v;
}

static void put_files(struct env *t, const char *dir, int n, size_t size)
{
	char key[128], *data = malloc(size);

	for (int i = 0; i < n; i++) {
		snprintf(key, sizeof(key), "%s/f%05d", dir, i);
		memset(data, 'a' + i % 26, size);
		fake_store_put(t->fake, key, data, size);
	}
	free(data);
}

static void test_dir_of_200_prefetched_then_free(void)
{
	static struct rd r;
	struct fs_config cfg;
	struct env t;
	fs_ino_t dir;
	uint64_t fh;
	char name[32];
	int bad = 0;

	env_config(&t, &cfg);
	CHECK_INT(env_open(&t, &cfg), 0);
	put_files(&t, "d", 200, 1000);
	CHECK_INT(list_dir(&t, "d", &dir), 0);
	/* Many in flight at once, capped by max_inflight. */
	CHECK_INT(fake_store_pending(t.fake), t.pc.max_inflight);
	fake_store_run_pending(t.fake);
	CHECK_INT(fake_store_count(t.fake, FAKE_GET), 200);
	fake_store_reset_counts(t.fake);
	for (int i = 0; i < 200; i++) {
		snprintf(name, sizeof(name), "f%05d", i);
		if (open_child(&t, dir, name, &fh)) {
			bad++;
			continue;
		}
		if (read_at(&t, fh, 0, 4096, &r) || r.len != 1000 ||
		    r.data[999] != 'a' + i % 26)
			bad++;
		fs_release(t.fs, fh);
	}
	CHECK_INT(bad, 0);
	CHECK_INT(fake_store_total(t.fake), 0); /* not one more request */
	env_close(&t);
}

static void test_unread_dir_of_5000_stops_at_window(void)
{
	struct fs_config cfg;
	struct env t;
	fs_ino_t dir;

	env_config(&t, &cfg);
	CHECK_INT(env_open(&t, &cfg), 0);
	put_files(&t, "big", 5000, 10);
	CHECK_INT(list_dir(&t, "big", &dir), 0);
	fake_store_run_pending(t.fake);
	CHECK_INT(fake_store_count(t.fake, FAKE_GET), t.pc.window_files);
	fake_store_run_pending(t.fake);
	CHECK_INT(fake_store_count(t.fake, FAKE_GET), t.pc.window_files);
	env_close(&t);
}

static void test_backoff_for_dirs_nobody_reads(void)
{
	static struct rd r;
	struct fs_config cfg;
	struct env t;
	fs_ino_t dir;
	uint64_t gets, fh;
	char name[16];

	env_config(&t, &cfg);
	CHECK_INT(env_open(&t, &cfg), 0);
	for (int i = 0; i < 12; i++) {
		snprintf(name, sizeof(name), "d%02d", i);
		put_files(&t, name, 300, 10);
	}
	for (int i = 0; i < 12; i++) {
		snprintf(name, sizeof(name), "d%02d", i);
		CHECK_INT(list_dir(&t, name, &dir), 0);
		fake_store_run_pending(t.fake);
	}
	/* 256 + 128 + 64 + ... + 1 + 1 + 1: not 12 x 256. */
	gets = fake_store_count(t.fake, FAKE_GET);
	CHECK(gets <= 2 * t.pc.window_files + 12);
	CHECK(gets >= t.pc.window_files);
	/* Reading a file of the last directory brings its window back. */
	CHECK_INT(open_child(&t, dir, "f00150", &fh), 0);
	CHECK_INT(read_at(&t, fh, 0, 10, &r), 0);
	fs_release(t.fs, fh);
	fake_store_run_pending(t.fake);
	CHECK(fake_store_count(t.fake, FAKE_GET) >= gets + 250);
	env_close(&t);
}

static void test_headers_come_with_prefetch(void)
{
	struct oss_posix_meta pm;
	struct fs_config cfg;
	struct fs_entry e;
	struct stat st;
	struct env t;
	fs_ino_t dir;
	double to;

	env_config(&t, &cfg);
	CHECK_INT(env_open(&t, &cfg), 0);
	memset(&pm, 0, sizeof(pm));
	pm.has_mode = pm.has_uid = true;
	pm.mode = S_IFREG | 0600;
	pm.uid = 4242;
	fake_store_put_meta(t.fake, "m/file", "hello", 5, &pm);
	CHECK_INT(list_dir(&t, "m", &dir), 0);
	fake_store_run_pending(t.fake);
	fake_store_reset_counts(t.fake);
	CHECK_INT(fs_lookup(t.fs, dir, "file", &e), 0);
	CHECK_INT(e.attr.st_mode, S_IFREG | 0600);
	CHECK_INT(fs_getattr(t.fs, e.ino, &st, &to), 0);
	CHECK_INT(st.st_uid, 4242);
	CHECK_INT(fake_store_total(t.fake), 0); /* no HEAD */
	fs_forget(t.fs, e.ino, 1);
	env_close(&t);
}

/* A mount with 64 KiB blocks, 256 KiB ranges and no directory prefetch
 * (max_inflight GETs at once, 0 for the default) holding key: size bytes
 * of pattern i * mul + i / div, returned, with the file opened in *fh. */
static char *open_pattern(struct env *t, struct fs_config *cfg, const char *key,
			  size_t size, unsigned mul, unsigned div,
			  unsigned max_inflight, uint64_t *fh)
{
	char *obj = malloc(size);

	env_config(t, cfg);
	cfg->block_size_bytes = 64 << 10;
	t->pc.readahead_bytes = 256 << 10;
	t->pc.dir_prefetch = false;
	if (max_inflight)
		t->pc.max_inflight = max_inflight;
	CHECK_INT(env_open(t, cfg), 0);
	for (size_t i = 0; i < size; i++)
		obj[i] = (char)(i * mul + i / div);
	fake_store_put(t->fake, key, obj, size);
	CHECK_INT(open_child(t, FS_ROOT_INO, key, fh), 0);
	return obj;
}

/* Every byte of the object was fetched once, by reads or read-ahead;
 * then close what open_pattern opened. */
static void close_pattern(struct env *t, uint64_t fh, char *obj, long long size)
{
	CHECK_INT(stat_value(t, "demand.fetched_bytes") +
			  stat_value(t, "readahead.fetched_bytes"),
		  size);
	fs_release(t->fs, fh);
	env_close(t);
	free(obj);
}

/* One READ of [off, off+len) through fs_read, completing GETs if it
 * waits, checked against obj; returns 1 if it went wrong.  *peak, if
 * given, rises to the GETs pending while it was issued. */
static int read_check(struct env *t, uint64_t fh, const char *obj, uint64_t off,
		      size_t len, struct rd *r, size_t *peak)
{
	r->calls = 0;
	if (fs_read(t->fs, fh, off, len, rd_cb, r))
		return 1;
	if (peak && fake_store_pending(t->fake) > *peak)
		*peak = fake_store_pending(t->fake);
	if (!r->calls)
		fake_store_run_pending(t->fake);
	return r->calls != 1 || r->err || r->len != len ||
	       memcmp(r->data, obj + off, len) != 0;
}

static void test_sequential_read_ahead_in_parallel(void)
{
	enum { SIZE = 8 << 20, READ = 128 << 10 };
	static struct rd r;
	struct fs_config cfg;
	struct env t;
	size_t peak = 0;
	uint64_t fh;
	char *obj = open_pattern(&t, &cfg, "big", SIZE, 7, 4096, 8, &fh);
	int bad = 0;

	for (size_t off = 0; off < SIZE; off += READ)
		bad += read_check(&t, fh, obj, off, READ, &r, &peak);
	CHECK_INT(bad, 0);
	/* Ranges of 256 KiB, several at once, and never a block twice. */
	CHECK(peak >= 8);
	CHECK(fake_store_count(t.fake, FAKE_GET) <=
	      16 + SIZE / (256 << 10) + 16);
	close_pattern(&t, fh, obj, SIZE);
}

/* [S-READAHEAD-1] The kernel's READs of a sequential reader reach the
 * daemon out of order when workers are busy: ahead of the furthest one
 * seen by more than a range, then behind it.  That stays one sequential
 * stream: no whole-file fill, every byte fetched once. */
static void test_sequential_reads_out_of_order(void)
{
	enum { SIZE = 2 << 20, READ = 128 << 10 };
	static const unsigned order[] = { 0, 1,	 5,  3,	 7, 2,	4,  6,
					  8, 12, 10, 14, 9, 11, 13, 15 };
	static struct rd r;
	struct fs_config cfg;
	struct env t;
	uint64_t fh;
	char *obj = open_pattern(&t, &cfg, "seq", SIZE, 11, 5000, 0, &fh);
	int bad = 0;

	for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++)
		bad += read_check(&t, fh, obj, (uint64_t)order[i] * READ, READ,
				  &r, NULL);
	fake_store_run_pending(t.fake);
	CHECK_INT(bad, 0);
	CHECK_INT(stat_value(&t, "readahead.fills_started"), 0);
	close_pattern(&t, fh, obj, SIZE);
}

static void test_random_reads_fill_the_file(void)
{
	enum { SIZE = 2 << 20, BS = 64 << 10 };
	static const uint64_t offs[] = { 1500000, 70000, 900000, 300000 };
	static struct rd r;
	struct fs_config cfg;
	struct env t;
	uint64_t fh, gets;
	char *obj = open_pattern(&t, &cfg, "r.bin", SIZE, 13, 999, 0, &fh);
	int bad = 0;

	for (size_t i = 0; i < 4; i++)
		if (read_at(&t, fh, offs[i], 4096, &r) || r.len != 4096 ||
		    memcmp(r.data, obj + offs[i], 4096) != 0)
			bad++;
	fake_store_run_pending(t.fake);
	gets = fake_store_count(t.fake, FAKE_GET);
	CHECK(gets <= SIZE / BS);
	/* Every byte is here now, and was fetched once. */
	for (uint64_t off = 0; off < SIZE; off += 100000)
		if (read_at(&t, fh, off, 4096, &r) || r.calls != 1 ||
		    memcmp(r.data, obj + off, r.len) != 0)
			bad++;
	CHECK_INT(bad, 0);
	CHECK_INT(fake_store_count(t.fake, FAKE_GET), gets);
	close_pattern(&t, fh, obj, SIZE);
}

static void test_small_budget_still_reads_everything(void)
{
	static struct rd r;
	struct fs_config cfg;
	struct env t;
	fs_ino_t dir;
	uint64_t fh;
	char name[32];
	int bad = 0;

	env_config(&t, &cfg);
	cfg.cache_size_bytes = 100000; /* a fifth of the directory */
	CHECK_INT(env_open(&t, &cfg), 0);
	put_files(&t, "s", 500, 1000);
	CHECK_INT(list_dir(&t, "s", &dir), 0);
	fake_store_run_pending(t.fake);
	/* Unread prefetch stops at its half of the budget. */
	CHECK(fake_store_count(t.fake, FAKE_GET) <= 50);
	for (int i = 0; i < 500; i++) {
		snprintf(name, sizeof(name), "f%05d", i);
		if (open_child(&t, dir, name, &fh)) {
			bad++;
			continue;
		}
		if (read_at(&t, fh, 0, 1000, &r) || r.len != 1000 ||
		    r.data[0] != 'a' + i % 26)
			bad++;
		fs_release(t.fs, fh);
	}
	CHECK_INT(bad, 0);
	/* Each file fetched once: prefetch never made a reader fetch
	 * twice. */
	CHECK_INT(fake_store_count(t.fake, FAKE_GET), 500);
	env_close(&t);
}

static void test_disk_cache_serves_a_second_mount(void)
{
	static struct rd r;
	struct fs_config cfg;
	struct env t;
	uint64_t fh;
	char dir[64];

	make_tmpdir(dir, sizeof(dir));
	env_config(&t, &cfg);
	t.pc.dir_prefetch = false;
	cfg.cache_dir = dir;
	cfg.cache_dir_size_bytes = 1 << 20;
	CHECK_INT(env_open(&t, &cfg), 0);
	fake_store_put(t.fake, "e.txt", "epoch one", 9);
	CHECK_INT(open_child(&t, FS_ROOT_INO, "e.txt", &fh), 0);
	CHECK_INT(read_at(&t, fh, 0, 100, &r), 0);
	CHECK_INT(r.len, 9);
	fs_release(t.fs, fh);
	CHECK_INT(fake_store_count(t.fake, FAKE_GET), 1);
	fs_free(t.fs); /* the disk cache writes what was queued */
	/* A second mount over the same bucket and cache_dir. */
	CHECK_INT(fs_new(&cfg, &t.store, &t.fs), 0);
	fake_store_reset_counts(t.fake);
	CHECK_INT(open_child(&t, FS_ROOT_INO, "e.txt", &fh), 0);
	CHECK_INT(read_at(&t, fh, 0, 100, &r), 0);
	CHECK(r.len == 9 && memcmp(r.data, "epoch one", 9) == 0);
	CHECK_INT(fake_store_count(t.fake, FAKE_GET), 0);
	fs_release(t.fs, fh);
	fs_free(t.fs);
	/* A changed object is never served from disk. */
	fake_store_put(t.fake, "e.txt", "epoch two", 9);
	CHECK_INT(fs_new(&cfg, &t.store, &t.fs), 0);
	fake_store_reset_counts(t.fake);
	CHECK_INT(open_child(&t, FS_ROOT_INO, "e.txt", &fh), 0);
	CHECK_INT(read_at(&t, fh, 0, 100, &r), 0);
	CHECK(r.len == 9 && memcmp(r.data, "epoch two", 9) == 0);
	CHECK_INT(fake_store_count(t.fake, FAKE_GET), 1);
	fs_release(t.fs, fh);
	env_close(&t);
	rm_tree(dir);
}

static void test_stats_file(void)
{
	static struct rd r;
	struct fs_config cfg;
	struct fs_entry e;
	struct env t;
	fs_ino_t dir;
	uint64_t fh;
	bool keep = true;

	env_config(&t, &cfg);
	CHECK_INT(env_open(&t, &cfg), 0);
	put_files(&t, "d", 3, 10);
	CHECK_INT(list_dir(&t, "d", &dir), 0);
	fake_store_run_pending(t.fake);
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, FS_STATS_NAME, &e), 0);
	CHECK(S_ISREG(e.attr.st_mode));
	CHECK(e.attr_timeout_s == 0 && e.entry_timeout_s == 0);
	CHECK_INT(fs_open(t.fs, e.ino, O_RDONLY, &fh, &keep), 0);
	CHECK(!keep);
	CHECK_INT(read_at(&t, fh, 0, 60000, &r), 0);
	r.data[r.len < sizeof(r.data) ? r.len : sizeof(r.data) - 1] = '\0';
	CHECK(strstr(r.data, "requests.get                 3\n") != NULL);
	CHECK(strstr(r.data, "prefetch.files_started       3\n") != NULL);
	CHECK(strstr(r.data, "memory.budget") != NULL);
	fs_release(t.fs, fh);
	CHECK_INT(fs_open(t.fs, e.ino, O_WRONLY, &fh, &keep), -EACCES);
	env_close(&t);
}

TU_MAIN(TU_CASE(test_budget_classes), TU_CASE(test_runs_stop_at_cached_blocks),
	TU_CASE(test_charge_evicts),
	TU_CASE(test_disk_cache_bound_and_versions),
	TU_CASE(test_dir_of_200_prefetched_then_free),
	TU_CASE(test_unread_dir_of_5000_stops_at_window),
	TU_CASE(test_backoff_for_dirs_nobody_reads),
	TU_CASE(test_headers_come_with_prefetch),
	TU_CASE(test_sequential_read_ahead_in_parallel),
	TU_CASE(test_sequential_reads_out_of_order),
	TU_CASE(test_random_reads_fill_the_file),
	TU_CASE(test_small_budget_still_reads_everything),
	TU_CASE(test_disk_cache_serves_a_second_mount),
	TU_CASE(test_stats_file))
