/* mount_fake: mounts an in-memory fake bucket through bridge/ and fs/, so
 * the FUSE side can be tested before (and apart from) the real client.
 *
 *   mount_fake [--many N] [--ttl-ms MS] [--prefix P] [--counts FILE]
 *              [--staging DIR] [--nonempty] [--debug] MOUNTPOINT
 *
 * Without --staging the mount is read-only (EROFS); with it, writes are
 * staged under DIR and uploaded to the fake bucket (upload.h), and the
 * daemon waits for them before it exits.
 *
 * Serves in the foreground until unmounted or sent SIGTERM/SIGINT/SIGHUP.
 * SIGUSR1 writes the store's request counters to FILE (replaced
 * atomically, with a sequence number); they are written once more on
 * exit.  The tree it serves is listed in make_tree() below and mirrored
 * by test_mount_fake.py.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "bridge.h"
#include "fake_store.h"
#include "fs.h"
#include "upload.h"

struct opts {
	long many;
	long ttl_ms;
	const char *prefix;
	const char *counts;
	const char *staging;
	const char *mountpoint;
	bool debug;
	bool nonempty;
};

struct dumper {
	pthread_mutex_t mu; /* the dumper thread and the final dump */
	struct fake_store *fake;
	const char *path;
	unsigned long seq; /* guarded by: mu */
};

static const char *const op_names[FAKE_OP_COUNT] = {
	"HEAD", "LIST", "GET", "GET_SYMLINK", "PUT", "DELETE", "OTHER",
};

static void dump_counts(struct dumper *d)
{
	char tmp[4096];
	FILE *fp;

	if (!d->path)
		return;
	snprintf(tmp, sizeof(tmp), "%s.tmp", d->path);
	pthread_mutex_lock(&d->mu);
	fp = fopen(tmp, "w");
	if (fp) {
		fprintf(fp, "SEQ %lu\n", ++d->seq);
		for (int i = 0; i < FAKE_OP_COUNT; i++)
			fprintf(fp, "%s %llu\n", op_names[i],
				(unsigned long long)fake_store_count(
					d->fake, (enum fake_op)i));
		fclose(fp);
		rename(tmp, d->path);
	}
	pthread_mutex_unlock(&d->mu);
}

static void *dumper_main(void *arg)
{
	struct dumper *d = arg;
	sigset_t set;
	int sig;

	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	for (;;) {
		if (sigwait(&set, &sig) == 0)
			dump_counts(d);
	}
	return NULL;
}

static void fill_pattern(char *p, size_t n, unsigned seed)
{
	for (size_t i = 0; i < n; i++)
		p[i] = (char)((i * 131 + seed + i / 4096) & 0xff);
}

static int put_str(struct fake_store *f, const char *prefix, const char *key,
		   const char *s)
{
	char full[2048];

	snprintf(full, sizeof(full), "%s%s", prefix, key);
	return fake_store_put(f, full, s, strlen(s));
}

static int make_tree(struct fake_store *f, const char *p, long many)
{
	struct oss_posix_meta pm = { .has_mode = true,
				     .has_uid = true,
				     .has_gid = true,
				     .has_mtime = true,
				     .mode = 0100600,
				     .uid = 1234,
				     .gid = 4321,
				     .mtime = { 1000000000, 0 } };
	size_t big_len = (3u << 20) + 123;
	char key[2048], *big = malloc(big_len);
	int err = 0;

	if (!big)
		return -ENOMEM;
	fill_pattern(big, big_len, 5);
	err |= put_str(f, p, "hello.txt", "hello, world\n");
	err |= put_str(f, p, "empty.txt", "");
	/* Every GET of broken.bin fails, as when the server dies. */
	err |= put_str(f, p, "broken.bin", "never read");
	snprintf(key, sizeof(key), "%sbroken.bin", p);
	err |= fake_store_fail_key(f, key, -EIO);
	err |= put_str(f, p, "dir/", "");
	err |= put_str(f, p, "dir/a.txt", "A\n");
	snprintf(key, sizeof(key), "%sdir/sub/b.bin", p);
	err |= fake_store_put(f, key, big, big_len);
	err |= put_str(f, p, "implicit/x.txt", "x");
	snprintf(key, sizeof(key), "%slink", p);
	err |= fake_store_put_symlink(f, key, "hello.txt");
	err |= put_str(f, p, "both", "the file loses");
	err |= put_str(f, p, "both/inner.txt", "inner");
	err |= put_str(f, p, "bad/good.txt", "good");
	err |= put_str(f, p, "bad//name", "skipped");
	err |= put_str(f, p, "bad/./dot", "skipped");
	err |= put_str(f, p, "bad/../up", "skipped");
	snprintf(key, sizeof(key), "%smeta.txt", p);
	err |= fake_store_put_meta(f, key, "secret\n", 7, &pm);
	for (long i = 0; i < many && !err; i++) {
		char body[32];

		snprintf(key, sizeof(key), "%smany/f%05ld", p, i);
		snprintf(body, sizeof(body), "%ld\n", i);
		err = fake_store_put(f, key, body, strlen(body));
	}
	free(big);
	return err ? -ENOMEM : 0;
}

static int parse_args(int argc, char **argv, struct opts *o)
{
	memset(o, 0, sizeof(*o));
	o->many = 10000;
	o->ttl_ms = 60000;
	o->prefix = "";
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		const char *v = i + 1 < argc ? argv[i + 1] : NULL;
		uint64_t n;

		if (strcmp(a, "--debug") == 0) {
			o->debug = true;
			continue;
		}
		if (strcmp(a, "--nonempty") == 0) {
			o->nonempty = true;
			continue;
		}
		if (a[0] != '-') {
			o->mountpoint = a;
			continue;
		}
		if (!v)
			return -EINVAL;
		i++;
		if (strcmp(a, "--prefix") == 0)
			o->prefix = v;
		else if (strcmp(a, "--counts") == 0)
			o->counts = v;
		else if (strcmp(a, "--staging") == 0)
			o->staging = v;
		else if (str_to_u64(v, 10, &n) != 0 || n > 100000000)
			return -EINVAL;
		else if (strcmp(a, "--many") == 0)
			o->many = (long)n;
		else if (strcmp(a, "--ttl-ms") == 0)
			o->ttl_ms = (long)n;
		else
			return -EINVAL;
	}
	return o->mountpoint ? 0 : -EINVAL;
}

static int start_upload(const struct opts *o, struct oss_store *store,
			struct upload_mgr **out)
{
	struct upload_config uc;

	*out = NULL;
	if (!o->staging)
		return 0;
	upload_config_defaults(&uc);
	uc.staging_root = o->staging;
	uc.identity = "mount_fake";
	uc.multipart_threshold_bytes = 1 << 20;
	uc.part_size_bytes = 256 << 10;
	return upload_mgr_new(&uc, store, out, NULL);
}

static int serve(const struct opts *o, struct fake_store *fake)
{
	struct bridge_config bc;
	struct fs_config fc;
	struct oss_store store;
	struct upload_mgr *up = NULL;
	struct bridge *b = NULL;
	struct fs *fs = NULL;
	char prefix[1024], err[512];
	int rc;

	snprintf(prefix, sizeof(prefix), "%s%s", o->prefix,
		 *o->prefix ? "/" : "");
	fake_store_bind(fake, &store);
	fs_config_defaults(&fc);
	fc.prefix = o->prefix;
	fc.attr_ttl_ms = fc.dir_ttl_ms = fc.neg_ttl_ms = (uint32_t)o->ttl_ms;
	rc = make_tree(fake, prefix, o->many);
	if (!rc)
		rc = start_upload(o, &store, &up);
	fc.upload = up;
	if (!rc)
		rc = fs_new(&fc, &store, &fs);
	if (rc) {
		fprintf(stderr, "mount_fake: setup: %s\n", strerror(-rc));
		upload_mgr_free(up);
		return 1;
	}
	memset(&bc, 0, sizeof(bc));
	bc.mountpoint = o->mountpoint;
	bc.fsname = "ossfs#fake";
	bc.debug = o->debug;
	bc.nonempty = o->nonempty;
	rc = bridge_mount(fs, &bc, &b, err, sizeof(err));
	if (rc) {
		fprintf(stderr, "mount_fake: %s\n", err);
		fs_free(fs);
		upload_mgr_free(up);
		return 1;
	}
	printf("mounted %s\n", o->mountpoint);
	fflush(stdout);
	rc = bridge_loop(b);
	bridge_free(b);
	fs_free(fs);
	if (up && upload_mgr_drain(up))
		rc = -EIO;
	upload_mgr_free(up);
	return rc ? 1 : 0;
}

int main(int argc, char **argv)
{
	struct fake_store *fake;
	struct dumper d = { .mu = PTHREAD_MUTEX_INITIALIZER };
	struct opts o;
	pthread_t th;
	sigset_t set;
	int rc;

	if (parse_args(argc, argv, &o)) {
		fprintf(stderr, "usage: mount_fake [--many N] [--ttl-ms MS] "
				"[--prefix P] [--counts FILE] [--staging DIR] "
				"[--nonempty] [--debug] "
				"MOUNTPOINT\n");
		return 2;
	}
	/* SIGUSR1 belongs to the dumper: block it everywhere else. */
	sigemptyset(&set);
	sigaddset(&set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
	bridge_block_signals();
	if (fake_store_new(FAKE_ASYNC_THREAD, &fake)) {
		fprintf(stderr, "mount_fake: out of memory\n");
		return 1;
	}
	d.fake = fake;
	d.path = o.counts;
	pthread_create(&th, NULL, dumper_main, &d);
	pthread_detach(th);
	rc = serve(&o, fake);
	dump_counts(&d);
	/* The dumper is parked in sigwait; exiting ends it. */
	fake_store_free(fake);
	return rc;
}
