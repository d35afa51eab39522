/* Unit tests of fs/ against the in-memory fake store: request counts,
 * names, caches and their TTLs (on an injected clock), reads. */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../../../src/fs/fs_i.h"
#include "../../../src/fs/write_i.h"
#include "cache.h"
#include "fake_store.h"
#include "fs.h"
#include "testutil.h"

struct env {
	struct fake_store *fake;
	struct oss_store store;
	struct fs *fs;
	uint64_t now_ms;
};

static uint64_t test_clock(void *ud)
{
	return ((struct env *)ud)->now_ms;
}

static void env_open_cfg(struct env *t, enum fake_async_mode mode,
			 struct fs_config *cfg)
{
	memset(&t->store, 0, sizeof(t->store));
	t->now_ms = 1000000;
	fake_store_new(mode, &t->fake);
	fake_store_bind(t->fake, &t->store);
	cfg->clock_ms = test_clock;
	cfg->clock_ud = t;
	if (fs_new(cfg, &t->store, &t->fs) != 0)
		t->fs = NULL;
}

static void env_open_fill(struct env *t, enum fake_async_mode mode,
			  enum fs_meta_fill fill, bool s3)
{
	struct fs_config cfg;

	fs_config_defaults(&cfg);
	cfg.attr_ttl_ms = 5000;
	cfg.dir_ttl_ms = 5000;
	cfg.neg_ttl_ms = 5000;
	cfg.uid = 1000;
	cfg.gid = 1000;
	cfg.meta_fill = fill;
	cfg.s3 = s3;
	env_open_cfg(t, mode, &cfg);
}

static void env_open(struct env *t, enum fake_async_mode mode)
{
	env_open_fill(t, mode, FS_META_FILL_AUTO, false);
}

static void env_close(struct env *t)
{
	fake_store_run_pending(t->fake);
	fs_free(t->fs);
	fake_store_free(t->fake);
}

static void put_str(struct env *t, const char *key, const char *s)
{
	fake_store_put(t->fake, key, s, strlen(s));
}

/* Look a path up from the root, one component at a time. */
static int walk(struct env *t, const char *path, struct fs_entry *e)
{
	char buf[2048], *save = NULL, *tok;
	fs_ino_t ino = FS_ROOT_INO;
	int err = 0;

	str_lcpy(buf, path, sizeof(buf));
	for (tok = strtok_r(buf, "/", &save); tok;
	     tok = strtok_r(NULL, "/", &save)) {
		err = fs_lookup(t->fs, ino, tok, e);
		if (err)
			return err;
		ino = e->ino;
	}
	return err;
}

/* ---- readdir helpers ---------------------------------------------------- */

struct collect {
	char **names;
	fs_ino_t *inos;
	mode_t *modes;
	off_t *offs;
	size_t n, cap;
	size_t room; /* entries taken per call before "full" */
	size_t taken_this_call;
};

static int collect_fn(void *ctx, const char *name, const struct fs_entry *e,
		      off_t next_off)
{
	struct collect *c = ctx;

	if (c->room && c->taken_this_call == c->room)
		return 1;
	if (c->n == c->cap) {
		c->cap = c->cap ? c->cap * 2 : 64;
		c->names = realloc(c->names, c->cap * sizeof(*c->names));
		c->inos = realloc(c->inos, c->cap * sizeof(*c->inos));
		c->modes = realloc(c->modes, c->cap * sizeof(*c->modes));
		c->offs = realloc(c->offs, c->cap * sizeof(*c->offs));
	}
	c->names[c->n] = str_dup(name);
	c->inos[c->n] = e->ino;
	c->modes[c->n] = e->attr.st_mode;
	c->offs[c->n] = next_off;
	c->n++;
	c->taken_this_call++;
	return 0;
}

static void collect_free(struct collect *c)
{
	for (size_t i = 0; i < c->n; i++)
		free(c->names[i]);
	free(c->names);
	free(c->inos);
	free(c->modes);
	free(c->offs);
	memset(c, 0, sizeof(*c));
}

/* Read a whole directory the way the kernel does: calls with a bounded
 * buffer, each starting at the last offset returned. */
static int read_all(struct env *t, fs_ino_t ino, bool plus, size_t room,
		    struct collect *c)
{
	uint64_t fh;
	off_t off = 0;
	int err;

	memset(c, 0, sizeof(*c));
	c->room = room;
	err = fs_opendir(t->fs, ino, &fh);
	if (err)
		return err;
	/* As a kernel that looks names up would see them, in the end. */
	fs_settle(t->fs);
	for (;;) {
		size_t before = c->n;

		c->taken_this_call = 0;
		err = fs_readdir(t->fs, ino, fh, off, plus, collect_fn, c);
		if (err || c->n == before)
			break;
		off = c->offs[c->n - 1];
	}
	fs_releasedir(t->fs, fh);
	return err;
}

static ssize_t find_name(const struct collect *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++)
		if (strcmp(c->names[i], name) == 0)
			return (ssize_t)i;
	return -1;
}

/* ---- read helpers ---------------------------------------------------------
 */

struct rd {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int calls;
	int err;
	char data[1 << 16];
	size_t len;
	bool on_caller;
	pthread_t caller;
};

static void rd_init(struct rd *r)
{
	memset(r, 0, sizeof(*r));
	pthread_mutex_init(&r->mu, NULL);
	pthread_cond_init(&r->cv, NULL);
	r->caller = pthread_self();
}

static void rd_cb(void *ud, int err, const struct iovec *iov, int iovcnt)
{
	struct rd *r = ud;

	pthread_mutex_lock(&r->mu);
	r->calls++;
	r->err = err;
	r->len = 0;
	r->on_caller = pthread_equal(pthread_self(), r->caller);
	for (int i = 0; i < iovcnt; i++) {
		size_t n = iov[i].iov_len;

		if (r->len + n > sizeof(r->data))
			n = sizeof(r->data) - r->len;
		memcpy(r->data + r->len, iov[i].iov_base, n);
		r->len += n;
	}
	pthread_cond_broadcast(&r->cv);
	pthread_mutex_unlock(&r->mu);
}

static void rd_wait(struct rd *r)
{
	pthread_mutex_lock(&r->mu);
	while (!r->calls)
		pthread_cond_wait(&r->cv, &r->mu);
	pthread_mutex_unlock(&r->mu);
}

static void rd_fini(struct rd *r)
{
	pthread_cond_destroy(&r->cv);
	pthread_mutex_destroy(&r->mu);
}

static int open_path(struct env *t, const char *path, uint64_t *fh, bool *keep)
{
	struct fs_entry e;
	int err = walk(t, path, &e);

	if (err)
		return err;
	return fs_open(t->fs, e.ino, O_RDONLY, fh, keep);
}

/* ---- lookups and their request counts ---------------------------------- */

static void test_lookup_file_counts(void)
{
	struct env t;
	struct fs_entry e;
	struct stat st;
	double to;

	env_open(&t, FAKE_ASYNC_INLINE);
	put_str(&t, "a.txt", "hello");
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "a.txt", &e), 0);
	CHECK(S_ISREG(e.attr.st_mode));
	CHECK_INT(e.attr.st_mode & 07777, 0644);
	CHECK_INT(e.attr.st_size, 5);
	CHECK_INT(e.attr.st_uid, 1000);
	CHECK_INT(e.attr.st_mtim.tv_sec, 1700000000);
	CHECK(e.ino > FS_ROOT_INO);
	CHECK(e.attr_timeout_s > 4.9 && e.attr_timeout_s <= 5.0);
	CHECK_INT(fake_store_count(t.fake, FAKE_LIST), 1);
	CHECK_INT(fake_store_count(t.fake, FAKE_HEAD), 1);
	CHECK_INT(fs_inode_nlookup(t.fs, e.ino), 1);
	/* A second stat within the TTL makes no request. */
	fake_store_reset_counts(t.fake);
	t.now_ms += 4000;
	CHECK_INT(fs_getattr(t.fs, e.ino, &st, &to), 0);
	CHECK_INT(st.st_size, 5);
	CHECK(to > 0.9 && to <= 1.0); /* what is left of the TTL */
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "a.txt", &e), 0);
	CHECK_INT(fake_store_total(t.fake), 0);
	CHECK_INT(fs_inode_nlookup(t.fs, e.ino), 2);
	env_close(&t);
}

static void test_negative_lookup_counts(void)
{
	struct env t;
	struct fs_entry e;

	env_open(&t, FAKE_ASYNC_INLINE);
	put_str(&t, "other", "x");
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "missing", &e), -ENOENT);
	CHECK_INT(e.ino, 0);
	CHECK(e.entry_timeout_s > 4.9);
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "missing", &e), -ENOENT);
	/* Twice within the negative TTL: one request in all. */
	CHECK_INT(fake_store_total(t.fake), 1);
	t.now_ms += 5000;
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "missing", &e), -ENOENT);
	CHECK_INT(fake_store_total(t.fake), 2);
	/* Created behind our back: seen once the negative TTL passed. */
	put_str(&t, "missing", "now here");
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "missing", &e), -ENOENT);
	t.now_ms += 5000;
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "missing", &e), 0);
	CHECK_INT(e.attr.st_size, 8);
	env_close(&t);
}

static void test_lookup_dir_and_symlink_counts(void)
{
	struct env t;
	struct fs_entry e;
	char *target = NULL;

	/* meta_fill=off: the LIST alone. */
	env_open_fill(&t, FAKE_ASYNC_INLINE, FS_META_FILL_OFF, false);
	put_str(&t, "imp/x", "1");
	put_str(&t, "marked/", "");
	fake_store_put_symlink(t.fake, "ln", "imp/x");
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "imp", &e), 0);
	CHECK(S_ISDIR(e.attr.st_mode));
	CHECK_INT(e.attr.st_mode & 07777, 0755);
	CHECK_INT(e.attr.st_nlink, 2);
	CHECK_INT(fake_store_total(t.fake), 1);
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "marked", &e), 0);
	CHECK(S_ISDIR(e.attr.st_mode)); /* an empty dir with a marker */
	CHECK_INT(fake_store_total(t.fake), 2);
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "ln", &e), 0);
	CHECK(S_ISLNK(e.attr.st_mode));
	CHECK_INT(e.attr.st_size, 5);
	CHECK_INT(fake_store_count(t.fake, FAKE_HEAD), 0);
	CHECK_INT(fake_store_total(t.fake), 3);
	CHECK_INT(fs_readlink(t.fs, e.ino, &target), 0);
	CHECK_STR(target, "imp/x");
	free(target);
	CHECK_INT(fs_readlink(t.fs, e.ino, &target), 0);
	free(target);
	CHECK_INT(fake_store_count(t.fake, FAKE_GET_SYMLINK), 1);
	CHECK_INT(fs_readlink(t.fs, FS_ROOT_INO, &target), -EINVAL);
	env_close(&t);

	/* Otherwise the LIST, then the marker's or the link's metadata. */
	env_open(&t, FAKE_ASYNC_INLINE);
	put_str(&t, "imp/x", "1");
	put_str(&t, "marked/", "");
	fake_store_put_symlink(t.fake, "ln", "imp/x");
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "imp", &e), 0);
	CHECK_INT(fake_store_count(t.fake, FAKE_LIST), 1);
	CHECK_INT(fake_store_count(t.fake, FAKE_HEAD), 1); /* imp/: 404 */
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "marked", &e), 0);
	CHECK_INT(fake_store_total(t.fake), 4);
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "ln", &e), 0);
	CHECK(S_ISLNK(e.attr.st_mode));
	CHECK_INT(fake_store_count(t.fake, FAKE_GET_SYMLINK), 1);
	CHECK_INT(fake_store_total(t.fake), 6);
	env_close(&t);
}

static void test_lookup_many_siblings_before_slash(void)
{
	struct env t;
	struct fs_entry e;
	char key[64];

	env_open(&t, FAKE_ASYNC_INLINE);
	/* "k-NNN" sort between "k" and "k/": more than one probe page. */
	for (int i = 0; i < 150; i++) {
		snprintf(key, sizeof(key), "k-%03d", i);
		put_str(&t, key, "s");
	}
	put_str(&t, "k/child", "c");
	put_str(&t, "j-000", "s");
	for (int i = 0; i < 150; i++) {
		snprintf(key, sizeof(key), "j-%03d", i);
		put_str(&t, key, "s");
	}
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "k", &e), 0);
	CHECK(S_ISDIR(e.attr.st_mode));
	CHECK_INT(fake_store_count(t.fake, FAKE_LIST), 2);
	fake_store_reset_counts(t.fake);
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "j", &e), -ENOENT);
	CHECK_INT(fake_store_count(t.fake, FAKE_LIST), 2);
	env_close(&t);
}

static void test_dir_wins_over_file(void)
{
	struct env t;
	struct fs_entry e;
	struct collect c;

	env_open(&t, FAKE_ASYNC_INLINE);
	put_str(&t, "a", "file a");
	put_str(&t, "a/b", "in dir a");
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "a", &e), 0);
	CHECK(S_ISDIR(e.attr.st_mode));
	CHECK_INT(fake_store_count(t.fake, FAKE_HEAD), 1); /* a/: marker */
	CHECK_INT(read_all(&t, FS_ROOT_INO, true, 0, &c), 0);
	CHECK_INT(c.n, 3); /* ".", "..", "a" */
	CHECK(find_name(&c, "a") == 2 && S_ISDIR(c.modes[2]));
	collect_free(&c);
	env_close(&t);
}

/* ---- directories -----------------------------------------------------------
 */

static void test_readdirplus_10000(void)
{
	struct env t;
	struct fs_entry e, e2;
	struct collect c;
	char key[64];
	bool ok = true;

	env_open(&t, FAKE_ASYNC_INLINE);
	for (int i = 0; i < 10000; i++) {
		snprintf(key, sizeof(key), "big/f%05d", i);
		put_str(&t, key, "0123456789");
	}
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "big", &e), 0);
	fake_store_reset_counts(t.fake);
	/* Like the kernel: a 4 KiB buffer holds ~30 plus entries. */
	CHECK_INT(read_all(&t, e.ino, true, 30, &c), 0);
	CHECK_INT(c.n, 10002);
	CHECK(fake_store_count(t.fake, FAKE_LIST) <= 11);
	/* meta_fill=auto: the sample found no metadata, so no more. */
	CHECK_INT(fake_store_count(t.fake, FAKE_HEAD), 8);
	for (int i = 0; i < 10000 && ok; i++) {
		snprintf(key, sizeof(key), "f%05d", i);
		ok = strcmp(c.names[i + 2], key) == 0 &&
		     S_ISREG(c.modes[i + 2]) &&
		     fs_inode_nlookup(t.fs, c.inos[i + 2]) == 1;
	}
	CHECK(ok);
	/* ls -l then stats every name: answered by the listing. */
	fake_store_reset_counts(t.fake);
	CHECK_INT(fs_lookup(t.fs, e.ino, "f00042", &e2), 0);
	CHECK_INT(e2.attr.st_size, 10);
	CHECK_INT(e2.ino, c.inos[44]);
	CHECK_INT(fs_lookup(t.fs, e.ino, "nope", &e2), -ENOENT);
	CHECK_INT(fake_store_total(t.fake), 0);
	collect_free(&c);
	env_close(&t);
}

static void test_readdir_buffer_full_not_counted(void)
{
	struct env t;
	struct collect c;
	uint64_t fh;
	struct fs_entry e;

	env_open(&t, FAKE_ASYNC_INLINE);
	put_str(&t, "d/1", "a");
	put_str(&t, "d/2", "b");
	put_str(&t, "d/3", "c");
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "d", &e), 0);
	CHECK_INT(fs_opendir(t.fs, e.ino, &fh), 0);
	fs_settle(t.fs);
	memset(&c, 0, sizeof(c));
	c.room = 3; /* ".", "..", "1" fit; "2" does not */
	CHECK_INT(fs_readdir(t.fs, e.ino, fh, 0, true, collect_fn, &c), 0);
	CHECK_INT(c.n, 3);
	CHECK_INT(fs_inode_nlookup(t.fs, c.inos[2]), 1);
	c.taken_this_call = 0;
	c.room = 0;
	CHECK_INT(fs_readdir(t.fs, e.ino, fh, c.offs[2], true, collect_fn, &c),
		  0);
	CHECK_INT(c.n, 5);
	CHECK_STR(c.names[3], "2");
	CHECK_INT(fs_inode_nlookup(t.fs, c.inos[3]), 1);
	CHECK_INT(fs_inode_nlookup(t.fs, c.inos[4]), 1);
	fs_releasedir(t.fs, fh);
	collect_free(&c);
	env_close(&t);
}

static void test_readdir_offsets_stable(void)
{
	struct env t;
	struct collect c;
	uint64_t fh;
	off_t off;

	env_open(&t, FAKE_ASYNC_INLINE);
	put_str(&t, "b", "1");
	put_str(&t, "d", "1");
	put_str(&t, "f", "1");
	CHECK_INT(fs_opendir(t.fs, FS_ROOT_INO, &fh), 0);
	memset(&c, 0, sizeof(c));
	c.room = 3;
	CHECK_INT(fs_readdir(t.fs, FS_ROOT_INO, fh, 0, false, collect_fn, &c),
		  0);
	off = c.offs[c.n - 1];
	/* Changes after opendir do not shift this handle's offsets. */
	put_str(&t, "a", "new");
	put_str(&t, "c", "new");
	fake_store_delete(t.fake, "d");
	t.now_ms += 10000;
	c.room = 0;
	c.taken_this_call = 0;
	CHECK_INT(fs_readdir(t.fs, FS_ROOT_INO, fh, off, false, collect_fn, &c),
		  0);
	CHECK_INT(c.n, 5);
	CHECK_STR(c.names[3], "d");
	CHECK_STR(c.names[4], "f");
	/* Re-reading from an earlier offset gives the same names. */
	c.taken_this_call = 0;
	CHECK_INT(fs_readdir(t.fs, FS_ROOT_INO, fh, 2, false, collect_fn, &c),
		  0);
	CHECK_STR(c.names[5], "b");
	fs_releasedir(t.fs, fh);
	collect_free(&c);
	/* A new handle sees the new listing. */
	CHECK_INT(read_all(&t, FS_ROOT_INO, false, 0, &c), 0);
	CHECK_INT(c.n, 6);
	CHECK(find_name(&c, "d") < 0 && find_name(&c, "a") == 2);
	collect_free(&c);
	env_close(&t);
}

static int count_in_file(const char *path, const char *needle)
{
	char line[4096];
	int n = 0;
	FILE *fp = fopen(path, "r");

	if (!fp)
		return -1;
	while (fgets(line, sizeof(line), fp))
		n += strstr(line, needle) != NULL;
	fclose(fp);
	return n;
}

static void test_skipped_names_warn_once(void)
{
	char logpath[] = "/tmp/test_fs_log_XXXXXX";
	char longkey[300];
	struct fs_stats st;
	struct collect c;
	struct fs_entry e;
	struct env t;
	int fd = mkstemp(logpath);

	close(fd);
	log_set_file(logpath);
	env_open(&t, FAKE_ASYNC_INLINE);
	put_str(&t, "x/ok", "1");
	put_str(&t, "x//y", "1");
	put_str(&t, "x/./z", "1");
	put_str(&t, "x/../w", "1");
	memset(longkey, 'l', sizeof(longkey));
	memcpy(longkey, "x/", 2);
	longkey[2 + 256] = '\0';
	put_str(&t, longkey, "1");
	longkey[2 + 255] = '\0'; /* exactly 255: fine */
	put_str(&t, longkey, "1");
	longkey[2] = '\n'; /* too long, and shown escaped in the log */
	longkey[2 + 255] = 'l';
	put_str(&t, longkey, "1");
	longkey[2] = 'l';
	longkey[2 + 255] = '\0';
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "x", &e), 0);
	CHECK_INT(read_all(&t, e.ino, true, 0, &c), 0);
	CHECK_INT(c.n, 4);
	CHECK(find_name(&c, "ok") >= 0);
	CHECK(find_name(&c, longkey + 2) >= 0);
	collect_free(&c);
	t.now_ms += 10000; /* list again: no second warning */
	CHECK_INT(read_all(&t, e.ino, true, 0, &c), 0);
	CHECK_INT(c.n, 4);
	collect_free(&c);
	fs_get_stats(t.fs, &st);
	CHECK_INT(st.skipped_keys, 10);
	CHECK_INT(fs_lookup(t.fs, e.ino, "..", &e), -ENOENT);
	memset(longkey, 'm', 256);
	longkey[256] = '\0';
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, longkey, &e), -ENAMETOOLONG);
	env_close(&t);
	log_set_file(NULL);
	CHECK_INT(count_in_file(logpath, "skipping key"), 5);
	CHECK_INT(count_in_file(logpath, "skipping key \"x/\\x0alll"), 1);
	unlink(logpath);
}

static void test_marker_not_an_entry(void)
{
	struct env t;
	struct fs_entry e;
	struct collect c;
	struct stat st;
	double to;

	env_open(&t, FAKE_ASYNC_INLINE);
	fake_store_set_mtime(t.fake, 1600000000);
	put_str(&t, "d/", "");
	fake_store_set_mtime(t.fake, 1700000000);
	put_str(&t, "d/f", "1");
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "d", &e), 0);
	CHECK_INT(read_all(&t, e.ino, true, 0, &c), 0);
	CHECK_INT(c.n, 3);
	CHECK_STR(c.names[2], "f");
	collect_free(&c);
	/* The marker's time is the directory's. */
	t.now_ms += 10000;
	CHECK_INT(fs_getattr(t.fs, e.ino, &st, &to), 0);
	CHECK_INT(st.st_mtim.tv_sec, 1600000000);
	env_close(&t);
}

static void test_prefix_mount(void)
{
	struct fs_config cfg;
	struct fs_entry e;
	struct collect c;
	struct env t;
	char prefix[64];

	fs_config_defaults(&cfg);
	cfg.prefix = "/sub/dir";
	env_open_cfg(&t, FAKE_ASYNC_INLINE, &cfg);
	put_str(&t, "sub/dir/a", "1");
	put_str(&t, "sub/dir/b/c", "1");
	put_str(&t, "sub/other", "1");
	CHECK_INT(read_all(&t, FS_ROOT_INO, true, 0, &c), 0);
	CHECK_INT(c.n, 4);
	CHECK_STR(c.names[2], "a");
	CHECK_STR(c.names[3], "b");
	collect_free(&c);
	fake_store_last_list(t.fake, prefix, sizeof(prefix));
	CHECK_STR(prefix, "sub/dir/");
	t.now_ms += 120000;
	CHECK_INT(walk(&t, "b/c", &e), 0);
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "other", &e), -ENOENT);
	env_close(&t);
}

static void test_posix_meta(void)
{
	struct oss_posix_meta pm = { .has_mode = true,
				     .has_uid = true,
				     .has_gid = true,
				     .has_mtime = true,
				     .mode = 0100600,
				     .uid = 1234,
				     .gid = 99,
				     .mtime = { 1234567, 5 } };
	struct env t;
	struct fs_entry e;
	struct collect c;

	env_open(&t, FAKE_ASYNC_INLINE);
	fake_store_put_meta(t.fake, "m", "data", 4, &pm);
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "m", &e), 0);
	CHECK_INT(e.attr.st_mode, 0100600);
	CHECK_INT(e.attr.st_uid, 1234);
	CHECK_INT(e.attr.st_gid, 99);
	CHECK_INT(e.attr.st_mtim.tv_sec, 1234567);
	CHECK_INT(e.attr.st_mtim.tv_nsec, 5);
	/* A listing of the same version keeps what HEAD said. */
	CHECK_INT(read_all(&t, FS_ROOT_INO, true, 0, &c), 0);
	CHECK_INT(c.modes[2], 0100600);
	collect_free(&c);
	env_close(&t);

	/* Known from a listing only: what the fill's HEAD said... */
	env_open(&t, FAKE_ASYNC_INLINE);
	fake_store_put_meta(t.fake, "m", "data", 4, &pm);
	CHECK_INT(read_all(&t, FS_ROOT_INO, true, 0, &c), 0);
	CHECK_INT(c.modes[2], 0100600);
	collect_free(&c);
	env_close(&t);

	/* ...or, with meta_fill=off, the defaults. */
	env_open_fill(&t, FAKE_ASYNC_INLINE, FS_META_FILL_OFF, false);
	fake_store_put_meta(t.fake, "m", "data", 4, &pm);
	CHECK_INT(read_all(&t, FS_ROOT_INO, true, 0, &c), 0);
	CHECK_INT(c.modes[2], 0100644);
	collect_free(&c);
	env_close(&t);
}

static void test_meta_from_get(void)
{
	struct oss_posix_meta pm = { .has_mode = true, .mode = 0100640 };
	struct env t;
	struct fs_entry e;
	struct stat st;
	struct rd r;
	uint64_t fh;
	bool keep;
	double to;

	env_open_fill(&t, FAKE_ASYNC_INLINE, FS_META_FILL_OFF, false);
	fake_store_put_meta(t.fake, "m", "data", 4, &pm);
	struct collect c;
	CHECK_INT(read_all(&t, FS_ROOT_INO, true, 0, &c), 0);
	collect_free(&c);
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "m", &e), 0);
	CHECK_INT(e.attr.st_mode, 0100644);
	CHECK_INT(fs_open(t.fs, e.ino, O_RDONLY, &fh, &keep), 0);
	rd_init(&r);
	CHECK_INT(fs_read(t.fs, fh, 0, 100, rd_cb, &r), 0);
	CHECK_INT(r.len, 4);
	rd_fini(&r);
	fs_release(t.fs, fh);
	CHECK_INT(fs_getattr(t.fs, e.ino, &st, &to), 0);
	CHECK_INT(st.st_mode, 0100640);
	CHECK_INT(fake_store_count(t.fake, FAKE_HEAD), 0);
	env_close(&t);
}

/* ---- meta_fill: listings completed with each entry's metadata -------------
 */

static void put_meta_str(struct env *t, const char *key, const char *data,
			 uint32_t mode)
{
	struct oss_posix_meta pm = { .has_mode = true,
				     .has_mtime = true,
				     .mode = mode,
				     .mtime = { 1500000000, 0 } };

	fake_store_put_meta(t->fake, key, data, strlen(data), &pm);
}

static void test_meta_fill_auto_fills_all(void)
{
	struct env t;
	struct fs_entry e, d;
	struct collect c;
	char key[64];
	ssize_t i;

	env_open(&t, FAKE_ASYNC_INLINE);
	for (int k = 0; k < 20; k++) {
		snprintf(key, sizeof(key), "d/f%02d", k);
		put_meta_str(&t, key, "x", 0100640);
	}
	put_meta_str(&t, "d/sub/", "", 040700);
	put_str(&t, "d/imp/x", "1");
	fake_store_put_symlink(t.fake, "d/ln", "f00");
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "d", &d), 0);
	fake_store_reset_counts(t.fake);
	CHECK_INT(read_all(&t, d.ino, true, 0, &c), 0);
	CHECK_INT(c.n, 2 + 23);
	CHECK_INT(fake_store_count(t.fake, FAKE_LIST), 1);
	/* 20 files and 2 markers (imp/ answers 404); the link by GetSymlink */
	CHECK_INT(fake_store_count(t.fake, FAKE_HEAD), 22);
	CHECK_INT(fake_store_count(t.fake, FAKE_GET_SYMLINK), 1);
	i = find_name(&c, "f07");
	CHECK(i > 0 && c.modes[i] == 0100640);
	i = find_name(&c, "sub");
	CHECK(i > 0 && c.modes[i] == 040700);
	i = find_name(&c, "imp");
	CHECK(i > 0 && c.modes[i] == 040755);
	i = find_name(&c, "ln");
	CHECK(i > 0 && c.modes[i] == (S_IFLNK | 0777));
	collect_free(&c);
	/* Lookups answered by the listing carry the same, no request. */
	fake_store_reset_counts(t.fake);
	CHECK_INT(fs_lookup(t.fs, d.ino, "f03", &e), 0);
	CHECK_INT(e.attr.st_mode, 0100640);
	CHECK_INT(e.attr.st_mtim.tv_sec, 1500000000);
	CHECK_INT(fs_lookup(t.fs, d.ino, "sub", &e), 0);
	CHECK_INT(e.attr.st_mode, 040700);
	CHECK_INT(e.attr.st_mtim.tv_sec, 1500000000);
	CHECK_INT(fake_store_total(t.fake), 0);
	/* Refetched after dir_timeout: only the changed entry is asked. */
	put_meta_str(&t, "d/f05", "changed", 0100600);
	t.now_ms += 6000;
	fake_store_reset_counts(t.fake);
	CHECK_INT(read_all(&t, d.ino, true, 0, &c), 0);
	CHECK_INT(fake_store_count(t.fake, FAKE_LIST), 1);
	CHECK_INT(fake_store_count(t.fake, FAKE_HEAD), 1);
	CHECK_INT(fake_store_count(t.fake, FAKE_GET_SYMLINK), 0);
	i = find_name(&c, "f05");
	CHECK(i > 0 && c.modes[i] == 0100600);
	i = find_name(&c, "f06");
	CHECK(i > 0 && c.modes[i] == 0100640);
	collect_free(&c);
	env_close(&t);
}

static void test_meta_fill_plain_and_off(void)
{
	struct env t;
	struct fs_entry d;
	struct collect c;
	char key[64];

	for (int fill = 0; fill < 3; fill++) {
		env_open_fill(&t, FAKE_ASYNC_INLINE, (enum fs_meta_fill)fill,
			      false);
		for (int k = 0; k < 30; k++) {
			snprintf(key, sizeof(key), "p/f%02d", k);
			put_str(&t, key, "plain");
		}
		CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "p", &d), 0);
		fake_store_reset_counts(t.fake);
		CHECK_INT(read_all(&t, d.ino, true, 0, &c), 0);
		CHECK_INT(c.n, 32);
		CHECK_INT(c.modes[5], 0100644);
		collect_free(&c);
		CHECK_INT(fake_store_count(t.fake, FAKE_HEAD),
			  fill == FS_META_FILL_AUTO  ? 8
			  : fill == FS_META_FILL_ALL ? 30
						     : 0);
		/* Refetched: the answers carry over, nothing is asked. */
		t.now_ms += 6000;
		fake_store_reset_counts(t.fake);
		CHECK_INT(read_all(&t, d.ino, true, 0, &c), 0);
		collect_free(&c);
		CHECK_INT(fake_store_count(t.fake, FAKE_LIST), 1);
		CHECK_INT(fake_store_count(t.fake, FAKE_HEAD), 0);
		env_close(&t);
	}
}

static void test_meta_fill_failure_keeps_listing(void)
{
	struct env t;
	struct fs_entry d;
	struct collect c;
	char key[64];

	env_open_fill(&t, FAKE_ASYNC_INLINE, FS_META_FILL_ALL, false);
	for (int k = 0; k < 10; k++) {
		snprintf(key, sizeof(key), "d/f%02d", k);
		put_meta_str(&t, key, "x", 0100600);
	}
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "d", &d), 0);
	fake_store_fail(t.fake, FAKE_HEAD, -EIO, -1);
	CHECK_INT(read_all(&t, d.ino, true, 0, &c), 0);
	CHECK_INT(c.n, 12);
	CHECK_INT(c.modes[2], 0100644);
	collect_free(&c);
	fake_store_fail(t.fake, FAKE_HEAD, 0, 0);
	env_close(&t);
}

static void test_meta_fill_s3_symlink(void)
{
	struct env t;
	struct fs_entry d, e;
	struct collect c;
	ssize_t i;

	env_open_fill(&t, FAKE_ASYNC_INLINE, FS_META_FILL_AUTO, true);
	put_meta_str(&t, "s/ln", "target", S_IFLNK | 0777);
	put_str(&t, "s/plain", "p");
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "s", &d), 0);
	CHECK_INT(read_all(&t, d.ino, true, 0, &c), 0);
	i = find_name(&c, "ln");
	CHECK(i > 0 && c.modes[i] == (S_IFLNK | 0777));
	i = find_name(&c, "plain");
	CHECK(i > 0 && c.modes[i] == 0100644);
	collect_free(&c);
	env_close(&t);

	/* Looked up by name (HEAD), the same. */
	env_open_fill(&t, FAKE_ASYNC_INLINE, FS_META_FILL_AUTO, true);
	put_meta_str(&t, "ln", "target", S_IFLNK | 0777);
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "ln", &e), 0);
	CHECK(S_ISLNK(e.attr.st_mode));
	env_close(&t);
}

/* ---- TTLs: changes behind the mount's back ---------------------------------
 */

static void test_deleted_object_enoent_after_ttl(void)
{
	struct env t;
	struct fs_entry e, e2;
	struct stat st;
	double to;

	env_open(&t, FAKE_ASYNC_INLINE);
	put_str(&t, "gone", "bytes");
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "gone", &e), 0);
	fake_store_delete(t.fake, "gone");
	t.now_ms += 4999;
	CHECK_INT(fs_getattr(t.fs, e.ino, &st, &to), 0); /* still cached */
	t.now_ms += 1;
	fake_store_reset_counts(t.fake);
	CHECK_INT(fs_getattr(t.fs, e.ino, &st, &to), -ENOENT);
	CHECK_INT(fake_store_count(t.fake, FAKE_HEAD), 1);
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "gone", &e2), -ENOENT);
	/* Recreated: once the negative TTL passes, a new inode. */
	put_str(&t, "gone", "back again");
	t.now_ms += 5000;
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "gone", &e2), 0);
	CHECK(e2.ino != e.ino);
	CHECK_INT(e2.attr.st_size, 10);
	env_close(&t);
}

static void test_changed_object_seen_after_ttl(void)
{
	struct env t;
	struct fs_entry e;
	struct stat st;
	double to;

	env_open(&t, FAKE_ASYNC_INLINE);
	put_str(&t, "f", "v1");
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "f", &e), 0);
	put_str(&t, "f", "version two");
	CHECK_INT(fs_getattr(t.fs, e.ino, &st, &to), 0);
	CHECK_INT(st.st_size, 2);
	t.now_ms += 5000;
	CHECK_INT(fs_getattr(t.fs, e.ino, &st, &to), 0);
	CHECK_INT(st.st_size, 11);
	CHECK_INT(st.st_ino, e.ino);
	env_close(&t);
}

static void test_type_change_new_inode(void)
{
	struct env t;
	struct fs_entry e, e2;
	struct stat st;
	double to;

	env_open(&t, FAKE_ASYNC_INLINE);
	put_str(&t, "t", "file");
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "t", &e), 0);
	fake_store_delete(t.fake, "t");
	put_str(&t, "t/x", "now a dir");
	t.now_ms += 5000;
	CHECK_INT(fs_getattr(t.fs, e.ino, &st, &to), -ENOENT);
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "t", &e2), 0);
	CHECK(S_ISDIR(e2.attr.st_mode));
	CHECK(e2.ino != e.ino);
	env_close(&t);
}

/* A forgotten path gets its number back; no other path ever gets it. */
static void test_forget_and_numbers_not_reused(void)
{
	struct env t;
	struct fs_entry e, e2;
	struct fs_stats st;

	env_open(&t, FAKE_ASYNC_INLINE);
	put_str(&t, "f", "1");
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "f", &e), 0);
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "f", &e2), 0);
	CHECK_INT(e.ino, e2.ino);
	CHECK_INT(fs_inode_nlookup(t.fs, e.ino), 2);
	fs_forget(t.fs, e.ino, 1);
	CHECK_INT(fs_inode_nlookup(t.fs, e.ino), 1);
	fs_forget(t.fs, e.ino, 1);
	CHECK_INT(fs_inode_nlookup(t.fs, e.ino), -1);
	fs_get_stats(t.fs, &st);
	CHECK_INT(st.inodes, 1);
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "f", &e2), 0);
	CHECK_INT(e2.ino, e.ino);
	put_str(&t, "g", "2");
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "g", &e), 0);
	CHECK(e.ino > e2.ino);
	fs_forget(t.fs, e.ino, 1);
	fs_forget(t.fs, FS_ROOT_INO, 100); /* the root stays */
	CHECK_INT(fs_inode_nlookup(t.fs, FS_ROOT_INO), 1);
	CHECK_INT(fs_lookup(t.fs, e2.ino, "x", &e), -ENOTDIR);
	CHECK_INT(fs_lookup(t.fs, 999999, "x", &e), -ESTALE);
	env_close(&t);
}

/* ---- reads
 * ------------------------------------------------------------------- */

static void fill_pattern(char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)((i * 31 + seed) & 0xff);
}

static void test_read_small_and_keep_cache(void)
{
	struct env t;
	uint64_t fh;
	bool keep = true;
	struct rd r;

	env_open(&t, FAKE_ASYNC_INLINE);
	put_str(&t, "s.txt", "hello world");
	CHECK_INT(open_path(&t, "s.txt", &fh, &keep), 0);
	CHECK(!keep); /* first open */
	rd_init(&r);
	CHECK_INT(fs_read(t.fs, fh, 6, 100, rd_cb, &r), 0);
	CHECK_INT(r.calls, 1);
	CHECK_INT(r.err, 0);
	CHECK_INT(r.len, 5);
	CHECK(memcmp(r.data, "world", 5) == 0);
	rd_fini(&r);
	/* Past EOF: zero bytes, no request. */
	fake_store_reset_counts(t.fake);
	rd_init(&r);
	CHECK_INT(fs_read(t.fs, fh, 11, 100, rd_cb, &r), 0);
	CHECK_INT(r.calls, 1);
	CHECK_INT(r.len, 0);
	rd_fini(&r);
	rd_init(&r);
	CHECK_INT(fs_read(t.fs, fh, 1000, 100, rd_cb, &r), 0);
	CHECK_INT(r.len, 0);
	rd_fini(&r);
	/* Again from the data cache, on the calling thread. */
	rd_init(&r);
	CHECK_INT(fs_read(t.fs, fh, 0, 5, rd_cb, &r), 0);
	CHECK(r.on_caller && r.len == 5);
	rd_fini(&r);
	CHECK_INT(fake_store_total(t.fake), 0);
	fs_release(t.fs, fh);
	CHECK_INT(open_path(&t, "s.txt", &fh, &keep), 0);
	CHECK(keep); /* same ETag as last open */
	fs_release(t.fs, fh);
	put_str(&t, "s.txt", "changed!");
	t.now_ms += 5000;
	CHECK_INT(open_path(&t, "s.txt", &fh, &keep), 0);
	CHECK(!keep);
	rd_init(&r);
	CHECK_INT(fs_read(t.fs, fh, 0, 100, rd_cb, &r), 0);
	CHECK(r.len == 8 && memcmp(r.data, "changed!", 8) == 0);
	rd_fini(&r);
	fs_release(t.fs, fh);
	CHECK_INT(open_path(&t, "s.txt", &fh, &keep), 0);
	CHECK(keep);
	fs_release(t.fs, fh);
	env_close(&t);
}

static void test_read_blocks(void)
{
	static char obj[10000];
	struct fs_config cfg;
	struct fs_stats st;
	struct env t;
	uint64_t fh;
	bool keep;
	struct rd r;

	fs_config_defaults(&cfg);
	cfg.block_size_bytes = 4096;
	env_open_cfg(&t, FAKE_ASYNC_INLINE, &cfg);
	fill_pattern(obj, sizeof(obj), 7);
	fake_store_put(t.fake, "blob", obj, sizeof(obj));
	CHECK_INT(open_path(&t, "blob", &fh, &keep), 0);
	rd_init(&r);
	CHECK_INT(fs_read(t.fs, fh, 3000, 6000, rd_cb, &r), 0);
	CHECK_INT(r.len, 6000);
	CHECK(memcmp(r.data, obj + 3000, 6000) == 0);
	rd_fini(&r);
	CHECK_INT(fake_store_count(t.fake, FAKE_GET), 3); /* blocks 0..2 */
	rd_init(&r);
	CHECK_INT(fs_read(t.fs, fh, 8000, 4096, rd_cb, &r), 0);
	CHECK_INT(r.len, 2000); /* up to EOF, from the short last block */
	CHECK(memcmp(r.data, obj + 8000, 2000) == 0);
	rd_fini(&r);
	CHECK_INT(fake_store_count(t.fake, FAKE_GET), 3);
	fs_get_stats(t.fs, &st);
	CHECK_INT(st.gets_issued, 3);
	CHECK_INT(st.open_files, 1);
	fs_release(t.fs, fh);
	env_close(&t);
}

static void test_read_shares_one_get(void)
{
	static char obj[5000];
	struct fs_config cfg;
	struct env t;
	uint64_t fh;
	bool keep;
	struct rd a, b;

	fs_config_defaults(&cfg);
	cfg.block_size_bytes = 4096;
	env_open_cfg(&t, FAKE_ASYNC_MANUAL, &cfg);
	fill_pattern(obj, sizeof(obj), 3);
	fake_store_put(t.fake, "o", obj, sizeof(obj));
	CHECK_INT(open_path(&t, "o", &fh, &keep), 0);
	rd_init(&a);
	rd_init(&b);
	CHECK_INT(fs_read(t.fs, fh, 0, 100, rd_cb, &a), 0);
	CHECK_INT(fs_read(t.fs, fh, 200, 100, rd_cb, &b), 0);
	CHECK_INT(a.calls + b.calls, 0); /* nobody waited on the network */
	CHECK_INT(fake_store_pending(t.fake), 1);
	CHECK_INT(fake_store_count(t.fake, FAKE_GET), 1);
	CHECK_INT(fake_store_run_pending(t.fake), 1);
	CHECK_INT(a.calls, 1);
	CHECK_INT(b.calls, 1);
	CHECK(a.len == 100 && memcmp(a.data, obj, 100) == 0);
	CHECK(b.len == 100 && memcmp(b.data, obj + 200, 100) == 0);
	rd_fini(&a);
	rd_fini(&b);
	/* A read across blocks 0 (cached) and 1 (missing) waits for 1. */
	rd_init(&a);
	CHECK_INT(fs_read(t.fs, fh, 4000, 1000, rd_cb, &a), 0);
	CHECK_INT(a.calls, 0);
	CHECK_INT(fake_store_run_pending(t.fake), 1);
	CHECK(a.len == 1000 && memcmp(a.data, obj + 4000, 1000) == 0);
	rd_fini(&a);
	fs_release(t.fs, fh);
	env_close(&t);
}

static void test_read_errors(void)
{
	static char obj[3000];
	struct env t;
	uint64_t fh;
	bool keep;
	struct rd r;

	env_open(&t, FAKE_ASYNC_INLINE);
	fill_pattern(obj, sizeof(obj), 1);
	fake_store_put(t.fake, "e", obj, sizeof(obj));
	CHECK_INT(open_path(&t, "e", &fh, &keep), 0);
	fake_store_fail(t.fake, FAKE_GET, -EIO, 1);
	rd_init(&r);
	CHECK_INT(fs_read(t.fs, fh, 0, 10, rd_cb, &r), 0);
	CHECK_INT(r.calls, 1);
	CHECK_INT(r.err, -EIO);
	rd_fini(&r);
	/* The server stops mid-body: the reader gets EIO, not a hang. */
	fake_store_cut_gets(t.fake, 1000, -EIO);
	rd_init(&r);
	CHECK_INT(fs_read(t.fs, fh, 0, 10, rd_cb, &r), 0);
	CHECK_INT(r.err, -EIO);
	rd_fini(&r);
	fake_store_cut_gets(t.fake, 0, 0);
	/* Failures are not cached: the next read tries again. */
	rd_init(&r);
	CHECK_INT(fs_read(t.fs, fh, 0, 10, rd_cb, &r), 0);
	CHECK_INT(r.err, 0);
	CHECK(r.len == 10 && memcmp(r.data, obj, 10) == 0);
	rd_fini(&r);
	/* Overwritten since open: If-Match fails and says so. */
	fs_release(t.fs, fh);
	CHECK_INT(open_path(&t, "e", &fh, &keep), 0);
	put_str(&t, "e", "new");
	fs_release(t.fs, fh);
	env_close(&t);

	env_open(&t, FAKE_ASYNC_INLINE);
	fake_store_put(t.fake, "e", obj, sizeof(obj));
	CHECK_INT(open_path(&t, "e", &fh, &keep), 0);
	put_str(&t, "e", "new");
	rd_init(&r);
	CHECK_INT(fs_read(t.fs, fh, 0, 10, rd_cb, &r), 0);
	CHECK_INT(r.err, -ESTALE);
	rd_fini(&r);
	fs_release(t.fs, fh);
	env_close(&t);
}

struct hammer {
	struct env *t;
	uint64_t fh;
	const char *obj;
	size_t size;
	unsigned seed;
	int bad;
};

static void *hammer_main(void *arg)
{
	struct hammer *h = arg;
	struct rd *r = malloc(sizeof(*r));

	for (int i = 0; i < 200; i++) {
		size_t off, len;

		h->seed = h->seed * 1103515245u + 12345u;
		off = (h->seed >> 8) % h->size;
		len = 1 + (h->seed >> 4) % 20000;
		rd_init(r);
		if (fs_read(h->t->fs, h->fh, off, len, rd_cb, r) != 0) {
			h->bad++;
			continue;
		}
		rd_wait(r);
		if (len > h->size - off)
			len = h->size - off;
		if (r->err || r->len != len ||
		    memcmp(r->data, h->obj + off, len) != 0)
			h->bad++;
		rd_fini(r);
	}
	free(r);
	return NULL;
}

static void test_read_threads(void)
{
	enum { NT = 4, SIZE = 300000 };
	static char obj[SIZE];
	struct hammer hs[NT];
	pthread_t th[NT];
	struct fs_config cfg;
	struct env t;
	uint64_t fh;
	bool keep;
	int bad = 0;

	fs_config_defaults(&cfg);
	cfg.block_size_bytes = 16384;
	cfg.cache_size_bytes = 65536; /* smaller than the file: evictions */
	env_open_cfg(&t, FAKE_ASYNC_THREAD, &cfg);
	fill_pattern(obj, sizeof(obj), 11);
	fake_store_put(t.fake, "big", obj, sizeof(obj));
	CHECK_INT(open_path(&t, "big", &fh, &keep), 0);
	for (int i = 0; i < NT; i++) {
		hs[i] = (struct hammer){
			&t, fh, obj, SIZE, (unsigned)i + 1, 0
		};
		pthread_create(&th[i], NULL, hammer_main, &hs[i]);
	}
	for (int i = 0; i < NT; i++) {
		pthread_join(th[i], NULL);
		bad += hs[i].bad;
	}
	CHECK_INT(bad, 0);
	fs_release(t.fs, fh);
	env_close(&t);
}

/* ---- the rest
 * ---------------------------------------------------------------- */

static void test_erofs_and_statfs(void)
{
	struct env t;
	struct fs_entry e;
	struct statvfs sv;
	struct stat st;
	uint64_t fh;
	bool keep;
	double to;

	env_open(&t, FAKE_ASYNC_INLINE);
	put_str(&t, "f", "1");
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "f", &e), 0);
	CHECK_INT(fs_open(t.fs, e.ino, O_WRONLY, &fh, &keep), -EROFS);
	CHECK_INT(fs_open(t.fs, e.ino, O_RDWR, &fh, &keep), -EROFS);
	CHECK_INT(fs_open(t.fs, e.ino, O_RDONLY | O_TRUNC, &fh, &keep), -EROFS);
	CHECK_INT(fs_open(t.fs, FS_ROOT_INO, O_RDONLY, &fh, &keep), -EISDIR);
	CHECK_INT(fs_mkdir(t.fs, FS_ROOT_INO, "d", 0755, &e), -EROFS);
	CHECK_INT(fs_mknod(t.fs, FS_ROOT_INO, "n", S_IFREG | 0644, 0, &e),
		  -EROFS);
	CHECK_INT(fs_create(t.fs, FS_ROOT_INO, "c", 0644, O_WRONLY, &e, &fh),
		  -EROFS);
	CHECK_INT(fs_unlink(t.fs, FS_ROOT_INO, "f"), -EROFS);
	CHECK_INT(fs_rmdir(t.fs, FS_ROOT_INO, "d"), -EROFS);
	CHECK_INT(fs_symlink(t.fs, "f", FS_ROOT_INO, "l", &e), -EROFS);
	CHECK_INT(fs_rename(t.fs, FS_ROOT_INO, "f", FS_ROOT_INO, "g", 0),
		  -EROFS);
	CHECK_INT(fs_link(t.fs, 2, FS_ROOT_INO, "h", &e), -EROFS);
	CHECK_INT(fs_setattr(t.fs, 2, &st, FS_SET_MODE, &st, &to), -EROFS);
	CHECK_INT(fs_write(t.fs, 0, "x", 1, 0), -EROFS);
	CHECK_INT(fs_statfs(t.fs, FS_ROOT_INO, &sv), 0);
	CHECK_INT(sv.f_bsize, 4096);
	CHECK_INT(sv.f_namemax, 255);
	CHECK((uint64_t)sv.f_blocks * sv.f_frsize >= (uint64_t)1 << 50);
	CHECK_INT(sv.f_bavail, sv.f_blocks);
	CHECK_INT(fs_getattr(t.fs, FS_ROOT_INO, &st, &to), 0);
	CHECK(S_ISDIR(st.st_mode));
	CHECK_INT(fake_store_count(t.fake, FAKE_PUT), 0);
	env_close(&t);
}

static void test_store_errors_propagate(void)
{
	struct env t;
	struct fs_entry e;
	uint64_t fh;

	env_open(&t, FAKE_ASYNC_INLINE);
	put_str(&t, "f", "1");
	fake_store_fail(t.fake, FAKE_LIST, -EACCES, 1);
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "f", &e), -EACCES);
	fake_store_fail(t.fake, FAKE_LIST, -EIO, 1);
	CHECK_INT(fs_opendir(t.fs, FS_ROOT_INO, &fh), -EIO);
	fake_store_fail(t.fake, FAKE_HEAD, -ETIMEDOUT, 1);
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "f", &e), -ETIMEDOUT);
	/* Errors are not cached as absence. */
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "f", &e), 0);
	env_close(&t);
}

struct hook_rec {
	int opendirs;
	size_t listing_n;
	char dir[64];
	int reads;
	uint64_t last_off;
	uint64_t size;
};

static void hook_opendir(void *ud, fs_ino_t ino, const char *dir,
			 struct cache_listing *l)
{
	struct hook_rec *h = ud;

	h->opendirs++;
	h->listing_n = l->n;
	str_lcpy(h->dir, dir, sizeof(h->dir));
}

static void hook_read(void *ud, fs_ino_t ino, const char *key, const char *etag,
		      uint64_t size, uint64_t off, size_t len)
{
	struct hook_rec *h = ud;

	h->reads++;
	h->last_off = off;
	h->size = size;
}

static void test_prefetch_hooks(void)
{
	struct hook_rec rec;
	struct fs_prefetch_hooks hooks = { hook_opendir, hook_read, &rec,
					   NULL };
	struct collect c;
	struct fs_entry e;
	struct env t;
	uint64_t fh;
	bool keep;
	struct rd r;

	memset(&rec, 0, sizeof(rec));
	env_open(&t, FAKE_ASYNC_INLINE);
	fs_set_prefetch_hooks(t.fs, &hooks);
	put_str(&t, "d/a", "12345");
	put_str(&t, "d/b", "1");
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "d", &e), 0);
	CHECK_INT(read_all(&t, e.ino, true, 0, &c), 0);
	collect_free(&c);
	CHECK_INT(rec.opendirs, 1);
	CHECK_INT(rec.listing_n, 2);
	CHECK_STR(rec.dir, "d/");
	CHECK_INT(open_path(&t, "d/a", &fh, &keep), 0);
	rd_init(&r);
	fs_read(t.fs, fh, 2, 2, rd_cb, &r);
	rd_fini(&r);
	CHECK_INT(rec.reads, 1);
	CHECK_INT(rec.last_off, 2);
	CHECK_INT(rec.size, 5);
	fs_release(t.fs, fh);
	fs_set_prefetch_hooks(t.fs, NULL);
	env_close(&t);
}

static void test_umask_defaults(void)
{
	struct fs_config cfg;
	struct fs_entry e;
	struct env t;

	fs_config_defaults(&cfg);
	cfg.umask = 027;
	cfg.uid = 7;
	cfg.gid = 8;
	env_open_cfg(&t, FAKE_ASYNC_INLINE, &cfg);
	put_str(&t, "f", "1");
	put_str(&t, "d/x", "1");
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "f", &e), 0);
	CHECK_INT(e.attr.st_mode, 0100640);
	CHECK_INT(e.attr.st_uid, 7);
	CHECK_INT(e.attr.st_gid, 8);
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "d", &e), 0);
	CHECK_INT(e.attr.st_mode, 040750);
	env_close(&t);
}

struct opener {
	struct fs *fs;
	fs_ino_t ino;
	uint64_t fh;
	int err;
};

static void *open_dir_thread(void *arg)
{
	struct opener *o = arg;

	o->err = fs_opendir(o->fs, o->ino, &o->fh);
	return NULL;
}

/* [S-CONSIST-3] A listing whose LIST was answered before a local change to its
 * directory (a mkdir, a stored file: fs_listing_patch) is used once but
 * not cached, or it would hide the change until dir_timeout. */
static void test_listing_older_than_patch_not_cached(void)
{
	struct env t;
	struct fs_entry e;
	struct opener o;
	pthread_t th;
	uint64_t lists;

	env_open(&t, FAKE_ASYNC_INLINE);
	put_str(&t, "d/a", "a");
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "d", &e), 0);
	o = (struct opener){ t.fs, e.ino, 0, -1 };
	fake_store_hold_lists(t.fake, true);
	CHECK_INT(pthread_create(&th, NULL, open_dir_thread, &o), 0);
	fake_store_wait_lists_held(t.fake, 1);
	fs_listing_patch(t.fs, "d/", "x", NULL); /* the change */
	fake_store_hold_lists(t.fake, false);
	pthread_join(th, NULL);
	CHECK_INT(o.err, 0);
	fs_releasedir(t.fs, o.fh);
	fs_settle(t.fs);
	lists = fake_store_count(t.fake, FAKE_LIST);
	CHECK_INT(fs_opendir(t.fs, e.ino, &o.fh), 0); /* lists again */
	fs_releasedir(t.fs, o.fh);
	fs_settle(t.fs);
	CHECK_INT(fake_store_count(t.fake, FAKE_LIST), lists + 1);
	CHECK_INT(fs_opendir(t.fs, e.ino, &o.fh), 0); /* now cached */
	fs_releasedir(t.fs, o.fh);
	CHECK_INT(fake_store_count(t.fake, FAKE_LIST), lists + 1);
	env_close(&t);
}

/* Handles the kernel never released (a RELEASE lost with the
 * connection at unmount) are released by fs_free: the leak checkers of
 * the ASan build and of the valgrind suite see nothing left. */
static void test_unreleased_handles_freed(void)
{
	struct env t;
	struct fs_entry e;
	struct fs_stats st;
	uint64_t fh1, fh2;
	bool keep;

	env_open(&t, FAKE_ASYNC_INLINE);
	put_str(&t, "a.txt", "hello");
	CHECK_INT(fs_lookup(t.fs, FS_ROOT_INO, "a.txt", &e), 0);
	CHECK_INT(fs_open(t.fs, e.ino, O_RDONLY, &fh1, &keep), 0);
	CHECK_INT(fs_open(t.fs, FS_STATS_INO, O_RDONLY, &fh2, &keep), 0);
	fs_get_stats(t.fs, &st);
	CHECK_INT(st.open_files, 1); /* the stats file is not counted */
	env_close(&t);		     /* no fs_release */
}

TU_MAIN(TU_CASE(test_lookup_file_counts), TU_CASE(test_negative_lookup_counts),
	TU_CASE(test_listing_older_than_patch_not_cached),
	TU_CASE(test_unreleased_handles_freed),
	TU_CASE(test_lookup_dir_and_symlink_counts),
	TU_CASE(test_lookup_many_siblings_before_slash),
	TU_CASE(test_dir_wins_over_file), TU_CASE(test_readdirplus_10000),
	TU_CASE(test_readdir_buffer_full_not_counted),
	TU_CASE(test_readdir_offsets_stable),
	TU_CASE(test_skipped_names_warn_once),
	TU_CASE(test_marker_not_an_entry), TU_CASE(test_prefix_mount),
	TU_CASE(test_posix_meta), TU_CASE(test_meta_from_get),
	TU_CASE(test_meta_fill_auto_fills_all),
	TU_CASE(test_meta_fill_plain_and_off),
	TU_CASE(test_meta_fill_failure_keeps_listing),
	TU_CASE(test_meta_fill_s3_symlink),
	TU_CASE(test_deleted_object_enoent_after_ttl),
	TU_CASE(test_changed_object_seen_after_ttl),
	TU_CASE(test_type_change_new_inode),
	TU_CASE(test_forget_and_numbers_not_reused),
	TU_CASE(test_read_small_and_keep_cache), TU_CASE(test_read_blocks),
	TU_CASE(test_read_shares_one_get), TU_CASE(test_read_errors),
	TU_CASE(test_read_threads), TU_CASE(test_erofs_and_statfs),
	TU_CASE(test_store_errors_propagate), TU_CASE(test_prefetch_hooks),
	TU_CASE(test_umask_defaults))
