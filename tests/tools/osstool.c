/* osstool: drives the oss client and the http engine from the command line,
 * for integration tests and by hand.  Not installed.
 *
 *   osstool [options] COMMAND ARGS...
 *
 * Options: --url URL --bucket NAME --region ID --sig v4|v1|s3
 *          --path-style --connections N --attempts N --stall S
 *          (credentials from OSS_ACCESS_KEY_ID / OSS_ACCESS_KEY_SECRET /
 *          OSS_SESSION_TOKEN; none = anonymous)
 *
 * Commands print results on stdout; on failure they print
 * "error: ERRNO_NAME (oss code, http status)" and exit 1.
 */
#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "base.h"
#include "http.h"
#include "oss.h"

static int to_int(const char *s)
{
	return (int)strtol(s, NULL, 10);
}

struct tool {
	struct http_engine *engine;
	struct auth_provider *creds;
	struct oss_store store;
};

static int fail(int rc, const struct oss_error *e)
{
	char desc[512] = "";

	if (e)
		oss_error_describe(e, desc, sizeof(desc));
	printf("error: %s (%s) errno=%d\n", strerror(-rc), desc, -rc);
	return 1;
}

static int read_file(const char *path, struct buf *out)
{
	char chunk[65536];
	FILE *f = strcmp(path, "-") == 0 ? stdin : fopen(path, "rb");
	size_t n;
	int rc = 0;

	if (!f)
		return -errno;
	while (!rc && (n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		rc = buf_append(out, chunk, n);
	if (f != stdin)
		fclose(f);
	return rc;
}

/* ---- synchronous GET on top of the async API ---- */

struct get_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	int err;
	struct buf data;
	struct oss_error oerr;
};

static void get_wait_cb(const struct oss_get_result *res, void *ud)
{
	struct get_wait *w = ud;

	pthread_mutex_lock(&w->mu);
	w->err = res->err;
	w->oerr = res->oerr;
	if (!res->err)
		w->err = buf_append(&w->data, res->data, res->len);
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

static int get_sync(struct tool *t, const struct oss_get_params *p,
		    struct buf *out, struct oss_error *e)
{
	struct get_wait w = { .mu = PTHREAD_MUTEX_INITIALIZER,
			      .cv = PTHREAD_COND_INITIALIZER };
	int rc;

	buf_init(&w.data, (size_t)1 << 34);
	rc = oss_get_async(&t->store, p, get_wait_cb, &w);
	if (!rc) {
		pthread_mutex_lock(&w.mu);
		while (!w.done)
			pthread_cond_wait(&w.cv, &w.mu);
		pthread_mutex_unlock(&w.mu);
		rc = w.err;
		*e = w.oerr;
	}
	if (!rc)
		rc = buf_append(out, w.data.data, w.data.len);
	buf_fini(&w.data);
	return rc;
}

static int cmd_get(struct tool *t, int argc, char **argv)
{
	struct oss_get_params p = { .key = argv[0], .verify_crc64 = true };
	struct oss_error e;
	struct buf out;
	int rc;

	if (argc >= 3) {
		p.offset = strtoull(argv[1], NULL, 10);
		p.len = strtoull(argv[2], NULL, 10);
	}
	buf_init(&out, (size_t)1 << 34);
	rc = get_sync(t, &p, &out, &e);
	if (!rc)
		fwrite(out.data, 1, out.len, stdout);
	buf_fini(&out);
	return rc ? fail(rc, &e) : 0;
}

static int cmd_put(struct tool *t, int argc, char **argv)
{
	struct oss_put_params p = { .key = argv[0], .fd = -1 };
	struct oss_error e;
	struct buf data;
	int rc;

	buf_init(&data, (size_t)1 << 34);
	rc = read_file(argv[1], &data);
	if (!rc) {
		p.data = data.data;
		p.len = data.len;
		rc = t->store.ops->put(t->store.impl, &p, &e);
	} else {
		oss_error_clear(&e);
	}
	if (!rc)
		printf("etag %s\n", p.etag_out);
	buf_fini(&data);
	return rc ? fail(rc, &e) : 0;
}

static int cmd_head(struct tool *t, int argc, char **argv)
{
	struct oss_object_meta m = { 0 };
	struct oss_error e;
	int rc = oss_head(&t->store, argv[0], &m, &e);

	if (rc)
		return fail(rc, &e);
	printf("size %" PRIu64 "\netag %s\ntype %d\nmtime %lld\n", m.size,
	       m.etag, (int)m.type, (long long)m.mtime.tv_sec);
	if (m.has_crc64)
		printf("crc64 %" PRIu64 "\n", m.crc64);
	if (m.posix.has_mode)
		printf("mode %o\n", (unsigned)m.posix.mode);
	oss_object_meta_fini(&m);
	return 0;
}

static int cmd_ls(struct tool *t, int argc, char **argv)
{
	struct oss_list_params p = { .prefix = argc > 0 ? argv[0] : "",
				     .delimiter = argc > 1 ? argv[1] : NULL };
	struct oss_list_page page;
	struct oss_error e;
	char *token = NULL;
	int rc, pages = 0;

	do {
		oss_list_page_init(&page);
		p.token = token;
		rc = oss_list(&t->store, &p, &page, &e);
		free(token);
		token = NULL;
		if (rc)
			break;
		pages++;
		for (size_t i = 0; i < page.n; i++)
			printf("%s\t%" PRIu64 "\t%s\n",
			       page.entries[i].is_prefix ? "DIR" : "OBJ",
			       page.entries[i].size, page.entries[i].key);
		if (page.truncated && page.next_token)
			token = str_dup(page.next_token);
		oss_list_page_fini(&page);
	} while (token);
	if (rc) {
		oss_list_page_fini(&page);
		return fail(rc, &e);
	}
	fprintf(stderr, "pages %d\n", pages);
	return 0;
}

static int cmd_cp(struct tool *t, int argc, char **argv)
{
	struct oss_error e;
	int rc = t->store.ops->copy(t->store.impl, argv[0], argv[1], NULL, NULL,
				    &e);

	return rc ? fail(rc, &e) : 0;
}

static int cmd_rm(struct tool *t, int argc, char **argv)
{
	struct oss_error e;
	int rc;

	if (argc == 1)
		rc = t->store.ops->del(t->store.impl, argv[0], &e);
	else
		rc = t->store.ops->del_multi(t->store.impl,
					     (const char *const *)argv,
					     (size_t)argc, &e);
	return rc ? fail(rc, &e) : 0;
}

/* mpu KEY FILE PART_SIZE: multipart upload from a file, parts from fd. */
static int cmd_mpu(struct tool *t, int argc, char **argv)
{
	struct oss_part *parts = NULL;
	struct oss_error e;
	char *upload_id = NULL;
	uint64_t part_size = strtoull(argv[2], NULL, 10);
	struct stat st;
	size_t n = 0;
	int fd, rc;

	oss_error_clear(&e);
	fd = open(argv[1], O_RDONLY | O_CLOEXEC);
	if (fd < 0 || fstat(fd, &st) != 0 || part_size == 0)
		return fail(-EINVAL, NULL);
	rc = t->store.ops->mp_init(t->store.impl, argv[0], NULL, NULL,
				   &upload_id, &e);
	for (uint64_t off = 0; !rc && off < (uint64_t)st.st_size;
	     off += part_size) {
		uint64_t len = (uint64_t)st.st_size - off;
		struct oss_part *np = realloc(parts, (n + 1) * sizeof(*parts));

		if (!np) {
			rc = -ENOMEM;
			break;
		}
		parts = np;
		if (len > part_size)
			len = part_size;
		parts[n].number = (int)n + 1;
		rc = t->store.ops->mp_upload_part(
			t->store.impl, argv[0], upload_id, (int)n + 1, NULL, fd,
			(off_t)off, len, parts[n].etag, sizeof(parts[n].etag),
			&e);
		n++;
	}
	if (!rc)
		rc = t->store.ops->mp_complete(t->store.impl, argv[0],
					       upload_id, parts, n, &e);
	else if (upload_id)
		t->store.ops->mp_abort(t->store.impl, argv[0], upload_id, NULL);
	if (!rc)
		printf("parts %zu\n", n);
	free(parts);
	free(upload_id);
	close(fd);
	return rc ? fail(rc, &e) : 0;
}

static int cmd_symlink(struct tool *t, int argc, char **argv)
{
	struct oss_error e;
	int rc = t->store.ops->put_symlink(t->store.impl, argv[0], argv[1],
					   NULL, &e);

	return rc ? fail(rc, &e) : 0;
}

static int cmd_readlink(struct tool *t, int argc, char **argv)
{
	struct oss_error e;
	char *target = NULL;
	int rc = t->store.ops->get_symlink(t->store.impl, argv[0], &target, &e);

	if (rc)
		return fail(rc, &e);
	printf("%s\n", target);
	free(target);
	return 0;
}

static int cmd_probe(struct tool *t, int argc, char **argv)
{
	struct oss_error e;
	int rc = t->store.ops->probe(t->store.impl, &e);

	if (rc)
		return fail(rc, &e);
	printf("ok\n");
	return 0;
}

/* getmany KEY COUNT: COUNT concurrent whole-object GETs of KEY, each
 * compared with the local file EXPECTED (argv[2]). */
struct many {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int pending;
	int ok;
	int bad;
	int errors[8];
	const struct buf *expect;
};

static void many_cb(const struct oss_get_result *res, void *ud)
{
	struct many *m = ud;

	pthread_mutex_lock(&m->mu);
	if (res->err) {
		m->bad++;
		m->errors[m->bad < 8 ? m->bad : 7] = -res->err;
	} else if (res->len == m->expect->len &&
		   memcmp(res->data, m->expect->data, res->len) == 0) {
		m->ok++;
	} else {
		m->bad++;
	}
	m->pending--;
	pthread_cond_signal(&m->cv);
	pthread_mutex_unlock(&m->mu);
}

static int cmd_getmany(struct tool *t, int argc, char **argv)
{
	struct many m = { .mu = PTHREAD_MUTEX_INITIALIZER,
			  .cv = PTHREAD_COND_INITIALIZER };
	struct oss_get_params p = { .key = argv[0], .verify_crc64 = true };
	struct http_engine_stats st;
	struct buf expect;
	int count = to_int(argv[1]);
	int rc = 0;

	buf_init(&expect, (size_t)1 << 32);
	if (read_file(argv[2], &expect) != 0)
		return fail(-EINVAL, NULL);
	m.expect = &expect;
	for (int i = 0; i < count; i++) {
		pthread_mutex_lock(&m.mu);
		m.pending++;
		pthread_mutex_unlock(&m.mu);
		rc = oss_get_async(&t->store, &p, many_cb, &m);
		if (rc) {
			pthread_mutex_lock(&m.mu);
			m.pending--;
			m.bad++;
			pthread_mutex_unlock(&m.mu);
		}
	}
	pthread_mutex_lock(&m.mu);
	while (m.pending)
		pthread_cond_wait(&m.cv, &m.mu);
	pthread_mutex_unlock(&m.mu);
	http_engine_get_stats(t->engine, &st);
	printf("ok %d\nbad %d\nattempts %" PRIu64 "\nretries %" PRIu64
	       "\npeak_in_flight %u\n",
	       m.ok, m.bad, st.requests, st.retries, st.peak_in_flight);
	buf_fini(&expect);
	return m.bad ? 1 : 0;
}

/* putmany PREFIX COUNT: COUNT one-byte objects PREFIX00000... from 16
 * threads (fills directories for listing tests). */
struct putmany {
	struct tool *t;
	const char *prefix;
	int count;
	atomic_int next;
	atomic_int failed;
};

static void *putmany_worker(void *arg)
{
	struct putmany *pm = arg;
	char key[1100];
	int i;

	while ((i = atomic_fetch_add(&pm->next, 1)) < pm->count) {
		struct oss_put_params p = {
			.key = key, .data = "x", .len = 1, .fd = -1
		};
		struct oss_error e;

		snprintf(key, sizeof(key), "%s%05d", pm->prefix, i);
		if (pm->t->store.ops->put(pm->t->store.impl, &p, &e) != 0)
			atomic_fetch_add(&pm->failed, 1);
	}
	return NULL;
}

static int cmd_putmany(struct tool *t, int argc, char **argv)
{
	struct putmany pm = { .t = t,
			      .prefix = argv[0],
			      .count = to_int(argv[1]) };
	pthread_t th[16];

	atomic_init(&pm.next, 0);
	atomic_init(&pm.failed, 0);
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(th); i++)
		pthread_create(&th[i], NULL, putmany_worker, &pm);
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(th); i++)
		pthread_join(th[i], NULL);
	printf("put %d failed %d\n", pm.count, atomic_load(&pm.failed));
	return atomic_load(&pm.failed) ? 1 : 0;
}

struct command {
	const char *name;
	int min_args;
	int (*fn)(struct tool *t, int argc, char **argv);
};

static const struct command commands[] = {
	{ "get", 1, cmd_get },
	{ "put", 2, cmd_put },
	{ "head", 1, cmd_head },
	{ "ls", 0, cmd_ls },
	{ "cp", 2, cmd_cp },
	{ "rm", 1, cmd_rm },
	{ "mpu", 3, cmd_mpu },
	{ "symlink", 2, cmd_symlink },
	{ "readlink", 1, cmd_readlink },
	{ "probe", 0, cmd_probe },
	{ "getmany", 3, cmd_getmany },
	{ "putmany", 2, cmd_putmany },
};

static int usage(void)
{
	fprintf(stderr,
		"usage: osstool --url URL --bucket B [--sig v4|v1|s3] "
		"[--region R] [--path-style] [--connections N] "
		"[--attempts N] [--stall S] COMMAND ARGS\n"
		"commands: get KEY [OFF LEN] | put KEY FILE | head KEY | ls "
		"[PREFIX [DELIM]] | cp SRC DST | rm KEY... | mpu KEY FILE "
		"PARTSIZE | symlink LINK TARGET | readlink LINK | probe | "
		"getmany KEY COUNT EXPECTED_FILE | putmany PREFIX COUNT\n");
	return 2;
}

static struct auth_provider *env_creds(void)
{
	struct auth_creds c = { 0 };
	struct auth_provider *p;
	char err[256];

	if (auth_creds_from_env(&c, err, sizeof(err)) != 0)
		return NULL;
	p = auth_provider_new_static(&c);
	auth_creds_fini(&c);
	return p;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "url", required_argument, NULL, 'u' },
		{ "bucket", required_argument, NULL, 'b' },
		{ "region", required_argument, NULL, 'r' },
		{ "sig", required_argument, NULL, 's' },
		{ "path-style", no_argument, NULL, 'p' },
		{ "connections", required_argument, NULL, 'c' },
		{ "attempts", required_argument, NULL, 'a' },
		{ "stall", required_argument, NULL, 't' },
		{ NULL, 0, NULL, 0 },
	};
	struct oss_client_config cc = { 0 };
	struct http_engine_config ec;
	struct tool t = { 0 };
	char err[512];
	int opt, rc = 2;

	http_engine_config_defaults(&ec);
	while ((opt = getopt_long(argc, argv, "+", opts, NULL)) != -1) {
		switch (opt) {
		case 'u':
			cc.url = optarg;
			break;
		case 'b':
			cc.bucket = optarg;
			break;
		case 'r':
			cc.region = optarg;
			break;
		case 's':
			cc.sig = strcmp(optarg, "v1") == 0   ? AUTH_SIG_OSS_V1
				 : strcmp(optarg, "s3") == 0 ? AUTH_SIG_S3_V4
							     : AUTH_SIG_OSS_V4;
			break;
		case 'p':
			cc.path_style = true;
			break;
		case 'c':
			ec.max_connections = to_int(optarg);
			break;
		case 'a':
			ec.max_attempts = to_int(optarg);
			break;
		case 't':
			ec.stall_timeout_s = to_int(optarg);
			break;
		default:
			return usage();
		}
	}
	if (optind >= argc || !cc.url || !cc.bucket)
		return usage();
	if (getenv("OSSTOOL_DEBUG"))
		log_set_level(LOG_LVL_DEBUG);
	t.engine = http_engine_new(&ec);
	t.creds = env_creds();
	cc.engine = t.engine;
	cc.creds = t.creds;
	if (!t.engine) {
		fprintf(stderr, "osstool: cannot start the engine\n");
		return 1;
	}
	if (oss_client_new(&cc, &t.store, err, sizeof(err)) != 0) {
		fprintf(stderr, "osstool: %s\n", err);
		rc = 2;
		goto out;
	}
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(commands); i++) {
		if (strcmp(commands[i].name, argv[optind]) != 0)
			continue;
		if (argc - optind - 1 < commands[i].min_args) {
			rc = usage();
			goto out_store;
		}
		rc = commands[i].fn(&t, argc - optind - 1, argv + optind + 1);
		goto out_store;
	}
	rc = usage();
out_store:
	oss_store_destroy(&t.store);
out:
	fflush(stdout);
	http_engine_free(t.engine);
	if (t.creds)
		auth_provider_free(t.creds);
	return rc;
}
