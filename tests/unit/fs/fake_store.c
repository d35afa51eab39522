/* fake_store: see fake_store.h. */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fake_store.h"

struct fobj {
	char *key;
	char *data;
	size_t len;
	char etag[80];
	time_t mtime;
	enum oss_object_type type;
	char *target; /* symlinks */
	struct oss_posix_meta posix;
};

struct pending_get {
	struct pending_get *next;
	oss_get_cb cb;
	void *ud;
	struct oss_get_result res;
	char *buf; /* owned copy when no dest */
};

struct fault {
	int err;
	int times;
};

#define FAKE_BAD_KEYS 8
#define FAKE_UPLOADS  16

/* A multipart upload in progress: parts kept in order of number. */
struct fake_upload {
	char *key; /* NULL: free slot */
	char id[16];
	struct oss_posix_meta posix;
	struct buf parts[64];
};

struct bad_key {
	char *key;
	int err;
};

struct fake_store {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	enum fake_async_mode mode;
	struct fobj *objs; /* sorted by key */
	size_t n, cap;
	time_t now;
	uint64_t counts[FAKE_OP_COUNT];
	struct fault faults[FAKE_OP_COUNT];
	size_t cut_after;
	int cut_err;
	struct bad_key bad[FAKE_BAD_KEYS];
	struct fake_upload ups[FAKE_UPLOADS];
	unsigned next_upload;
	char last_prefix[1024];
	int last_max_keys;
	struct pending_get *head, *tail;
	size_t npending;
	bool hold, stop;
	bool hold_lists;     /* LISTs wait, answered, until let go */
	unsigned lists_held; /* LISTs waiting now */
	pthread_t worker;
};

/* ---- objects ----------------------------------------------------------------
 */

static size_t find_pos(const struct fake_store *f, const char *key, bool *hit)
{
	size_t lo = 0, hi = f->n;

	*hit = false;
	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(key, f->objs[mid].key);

		if (c == 0) {
			*hit = true;
			return mid;
		}
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return lo;
}

static struct fobj *find(struct fake_store *f, const char *key)
{
	bool hit;
	size_t i = find_pos(f, key, &hit);

	return hit ? &f->objs[i] : NULL;
}

static void fobj_fini(struct fobj *o)
{
	free(o->key);
	free(o->data);
	free(o->target);
}

static void make_etag(struct fobj *o)
{
	uint64_t crc = crc64_update(0, o->data, o->len);
	unsigned char b[8];

	if (o->target)
		crc = crc64_update(crc, o->target, strlen(o->target));
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(crc >> (56 - 8 * i));
	str_hex(o->etag, b, sizeof(b));
	for (char *p = o->etag; *p; p++)
		if (*p >= 'a' && *p <= 'f')
			*p = (char)(*p - 'a' + 'A');
}

/* Insert or replace; takes ownership of o's strings. */
static int store_obj(struct fake_store *f, struct fobj *o)
{
	bool hit;
	size_t i;

	make_etag(o);
	pthread_mutex_lock(&f->mu);
	o->mtime = f->now;
	i = find_pos(f, o->key, &hit);
	if (hit) {
		fobj_fini(&f->objs[i]);
		f->objs[i] = *o;
		goto out;
	}
	if (f->n == f->cap) {
		size_t cap = f->cap ? f->cap * 2 : 64;
		struct fobj *p = realloc(f->objs, cap * sizeof(*p));

		if (!p) {
			pthread_mutex_unlock(&f->mu);
			fobj_fini(o);
			return -ENOMEM;
		}
		f->objs = p;
		f->cap = cap;
	}
	memmove(&f->objs[i + 1], &f->objs[i], (f->n - i) * sizeof(*o));
	f->objs[i] = *o;
	f->n++;
out:
	pthread_mutex_unlock(&f->mu);
	return 0;
}

int fake_store_put_meta(struct fake_store *f, const char *key, const void *data,
			size_t len, const struct oss_posix_meta *posix)
{
	struct fobj o;

	memset(&o, 0, sizeof(o));
	o.key = str_dup(key);
	o.data = malloc(len ? len : 1);
	if (!o.key || !o.data) {
		fobj_fini(&o);
		return -ENOMEM;
	}
	if (len)
		memcpy(o.data, data, len);
	o.len = len;
	o.type = OSS_OBJ_NORMAL;
	if (posix)
		o.posix = *posix;
	return store_obj(f, &o);
}

int fake_store_put(struct fake_store *f, const char *key, const void *data,
		   size_t len)
{
	return fake_store_put_meta(f, key, data, len, NULL);
}

int fake_store_put_symlink(struct fake_store *f, const char *key,
			   const char *target)
{
	struct fobj o;

	memset(&o, 0, sizeof(o));
	o.key = str_dup(key);
	o.target = str_dup(target);
	o.data = malloc(1);
	if (!o.key || !o.target || !o.data) {
		fobj_fini(&o);
		return -ENOMEM;
	}
	/* The link's own size is the length of its target name. */
	o.len = 0;
	o.type = OSS_OBJ_SYMLINK;
	return store_obj(f, &o);
}

int fake_store_delete(struct fake_store *f, const char *key)
{
	bool hit;
	size_t i;

	pthread_mutex_lock(&f->mu);
	i = find_pos(f, key, &hit);
	if (hit) {
		fobj_fini(&f->objs[i]);
		memmove(&f->objs[i], &f->objs[i + 1],
			(f->n - i - 1) * sizeof(f->objs[0]));
		f->n--;
	}
	pthread_mutex_unlock(&f->mu);
	return 0;
}

void fake_store_set_mtime(struct fake_store *f, time_t sec)
{
	pthread_mutex_lock(&f->mu);
	f->now = sec;
	pthread_mutex_unlock(&f->mu);
}

size_t fake_store_object_count(struct fake_store *f)
{
	size_t n;

	pthread_mutex_lock(&f->mu);
	n = f->n;
	pthread_mutex_unlock(&f->mu);
	return n;
}

/* ---- counters and faults
 * ----------------------------------------------------- */

/* Count a call and say whether it must fail.  Caller holds mu. */
static int enter_op(struct fake_store *f, enum fake_op op)
{
	struct fault *ft = &f->faults[op];

	f->counts[op]++;
	if (!ft->err || ft->times == 0)
		return 0;
	if (ft->times > 0 && --ft->times == 0) {
		int err = ft->err;

		ft->err = 0;
		return err;
	}
	return ft->err;
}

uint64_t fake_store_count(struct fake_store *f, enum fake_op op)
{
	uint64_t n;

	pthread_mutex_lock(&f->mu);
	n = f->counts[op];
	pthread_mutex_unlock(&f->mu);
	return n;
}

uint64_t fake_store_total(struct fake_store *f)
{
	uint64_t n = 0;

	for (int i = 0; i < FAKE_OP_COUNT; i++)
		n += fake_store_count(f, (enum fake_op)i);
	return n;
}

void fake_store_reset_counts(struct fake_store *f)
{
	pthread_mutex_lock(&f->mu);
	memset(f->counts, 0, sizeof(f->counts));
	pthread_mutex_unlock(&f->mu);
}

int fake_store_last_list(struct fake_store *f, char *prefix, size_t size)
{
	int mk;

	pthread_mutex_lock(&f->mu);
	str_lcpy(prefix, f->last_prefix, size);
	mk = f->last_max_keys;
	pthread_mutex_unlock(&f->mu);
	return mk;
}

void fake_store_fail(struct fake_store *f, enum fake_op op, int err, int times)
{
	pthread_mutex_lock(&f->mu);
	f->faults[op].err = times ? err : 0;
	f->faults[op].times = times;
	pthread_mutex_unlock(&f->mu);
}

void fake_store_cut_gets(struct fake_store *f, size_t after_bytes, int err)
{
	pthread_mutex_lock(&f->mu);
	f->cut_after = after_bytes;
	f->cut_err = err;
	pthread_mutex_unlock(&f->mu);
}

int fake_store_fail_key(struct fake_store *f, const char *key, int err)
{
	int rc = -ENOSPC;

	pthread_mutex_lock(&f->mu);
	for (int i = 0; i < FAKE_BAD_KEYS; i++) {
		struct bad_key *b = &f->bad[i];

		if (b->key && strcmp(b->key, key) != 0)
			continue;
		if (!b->key && err && !(b->key = str_dup(key))) {
			rc = -ENOMEM;
			break;
		}
		b->err = err;
		rc = 0;
		break;
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static int key_fault(const struct fake_store *f, const char *key)
{
	for (int i = 0; i < FAKE_BAD_KEYS; i++)
		if (f->bad[i].key && strcmp(f->bad[i].key, key) == 0)
			return f->bad[i].err;
	return 0;
}

/* ---- HEAD and LIST
 * ------------------------------------------------------------- */

static void fill_meta(const struct fobj *o, struct oss_object_meta *m)
{
	memset(m, 0, sizeof(*m));
	m->size = o->type == OSS_OBJ_SYMLINK ? strlen(o->target) : o->len;
	m->mtime.tv_sec = o->mtime;
	str_lcpy(m->etag, o->etag, sizeof(m->etag));
	m->type = o->type;
	m->posix = o->posix;
}

static int op_head(void *impl, const char *key, struct oss_object_meta *out,
		   struct oss_error *err)
{
	struct fake_store *f = impl;
	struct fobj *o;
	int rc;

	pthread_mutex_lock(&f->mu);
	rc = enter_op(f, FAKE_HEAD);
	if (!rc) {
		o = find(f, key);
		if (o)
			fill_meta(o, out);
		else
			rc = -ENOENT;
	}
	pthread_mutex_unlock(&f->mu);
	if (err && rc == -ENOENT) {
		err->http_status = 404;
		str_lcpy(err->code, "NoSuchKey", sizeof(err->code));
	}
	return rc;
}

static int page_add(struct oss_list_page *p, const char *key, bool is_prefix,
		    const struct fobj *o)
{
	struct oss_list_entry *e;

	if (p->n == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 16;
		struct oss_list_entry *ne =
			realloc(p->entries, cap * sizeof(*ne));

		if (!ne)
			return -ENOMEM;
		p->entries = ne;
		p->cap = cap;
	}
	e = &p->entries[p->n];
	memset(e, 0, sizeof(*e));
	e->key = str_dup(key);
	if (!e->key)
		return -ENOMEM;
	e->is_prefix = is_prefix;
	if (o) {
		e->size =
			o->type == OSS_OBJ_SYMLINK ? strlen(o->target) : o->len;
		e->mtime.tv_sec = o->mtime;
		str_lcpy(e->etag, o->etag, sizeof(e->etag));
		e->type = o->type;
	}
	p->n++;
	return 0;
}

/* The common prefix object i rolls up into (in buf), or false. */
static bool rollup(const struct fobj *o, const char *prefix, const char *delim,
		   char *buf, size_t size)
{
	size_t plen = strlen(prefix);
	const char *d;

	if (!delim || !*delim)
		return false;
	d = strstr(o->key + plen, delim);
	if (!d)
		return false;
	str_lcpy(buf, o->key, size);
	buf[(size_t)(d - o->key) + strlen(delim) < size
		    ? (size_t)(d - o->key) + strlen(delim)
		    : size - 1] = '\0';
	return true;
}

/* Objects first, then prefixes, in one page: the XML's two runs. */
static int list_locked(struct fake_store *f, const struct oss_list_params *p,
		       struct oss_list_page *objs, struct oss_list_page *cps)
{
	const char *prefix = p->prefix ? p->prefix : "";
	const char *start =
		p->token ? p->token : (p->start_after ? p->start_after : "");
	const char *from = strcmp(start, prefix) > 0 ? start : prefix;
	int max = p->max_keys > 0 && p->max_keys <= 1000 ? p->max_keys : 1000;
	char cp[1100], last[1100] = "";
	int taken = 0, err = 0;
	bool hit;

	for (size_t i = find_pos(f, from, &hit); i < f->n && !err; i++) {
		const struct fobj *o = &f->objs[i];
		bool is_cp;

		if (strcmp(o->key, start) <= 0)
			continue;
		if (strncmp(o->key, prefix, strlen(prefix)) != 0) {
			if (strcmp(o->key, prefix) > 0)
				break;
			continue;
		}
		is_cp = rollup(o, prefix, p->delimiter, cp, sizeof(cp));
		if (is_cp && (strcmp(cp, last) == 0 || strcmp(cp, start) <= 0))
			continue;
		if (taken == max) {
			objs->truncated = true;
			objs->next_token = str_dup(last);
			break;
		}
		err = is_cp ? page_add(cps, cp, true, NULL)
			    : page_add(objs, o->key, false, o);
		str_lcpy(last, is_cp ? cp : o->key, sizeof(last));
		taken++;
	}
	return err;
}

static int op_list(void *impl, const struct oss_list_params *p,
		   struct oss_list_page *out, struct oss_error *err)
{
	struct fake_store *f = impl;
	struct oss_list_page cps;
	int rc;

	memset(out, 0, sizeof(*out));
	memset(&cps, 0, sizeof(cps));
	pthread_mutex_lock(&f->mu);
	rc = enter_op(f, FAKE_LIST);
	str_lcpy(f->last_prefix, p->prefix ? p->prefix : "",
		 sizeof(f->last_prefix));
	f->last_max_keys = p->max_keys;
	if (!rc)
		rc = list_locked(f, p, out, &cps);
	/* Answered now, delivered when let go: a reply in flight. */
	if (f->hold_lists) {
		f->lists_held++;
		pthread_cond_broadcast(&f->cv);
		while (f->hold_lists)
			pthread_cond_wait(&f->cv, &f->mu);
		f->lists_held--;
	}
	pthread_mutex_unlock(&f->mu);
	for (size_t i = 0; !rc && i < cps.n; i++) {
		rc = page_add(out, cps.entries[i].key, true, NULL);
		out->entries[out->n - 1].is_prefix = true;
	}
	for (size_t i = 0; i < cps.n; i++)
		free(cps.entries[i].key);
	free(cps.entries);
	if (rc) {
		for (size_t i = 0; i < out->n; i++)
			free(out->entries[i].key);
		free(out->entries);
		free(out->next_token);
		memset(out, 0, sizeof(*out));
	}
	(void)err;
	return rc;
}

/* ---- GET
 * ------------------------------------------------------------------------ */

static void finish_get(struct pending_get *g)
{
	g->cb(&g->res, g->ud);
	free(g->buf);
	free(g);
}

/* Build the result of one GET now (the data as of submission).
 * Returns 0 or the -errno the GET reports. */
static int make_get(struct fake_store *f, const struct oss_get_params *p,
		    struct pending_get *g)
{
	struct oss_get_result *r = &g->res;
	struct fobj *o = find(f, p->key);
	int err = enter_op(f, FAKE_GET);
	uint64_t len;
	char *dst;

	if (!err)
		err = key_fault(f, p->key);
	if (err)
		return err;
	if (!o)
		return -ENOENT;
	if (p->if_match && strcmp(p->if_match, o->etag) != 0)
		return -ESTALE; /* 412 PreconditionFailed */
	if (p->offset > 0 && p->offset >= o->len)
		return -ERANGE; /* 416 InvalidRange */
	len = o->len - p->offset;
	if (p->len && p->len < len)
		len = p->len;
	if (p->dest && len > p->dest_cap)
		return -E2BIG;
	if (f->cut_err && len > f->cut_after)
		return f->cut_err;
	dst = p->dest;
	if (!dst) {
		g->buf = malloc(len ? len : 1);
		if (!g->buf)
			return -ENOMEM;
		dst = g->buf;
	}
	memcpy(dst, o->data + p->offset, len);
	r->data = dst;
	r->len = len;
	r->object_size = o->len;
	fill_meta(o, &r->meta);
	return 0;
}

static int op_get_async(void *impl, const struct oss_get_params *p,
			oss_get_cb cb, void *ud)
{
	struct fake_store *f = impl;
	struct pending_get *g = calloc(1, sizeof(*g));

	if (!g)
		return -ENOMEM;
	g->cb = cb;
	g->ud = ud;
	pthread_mutex_lock(&f->mu);
	g->res.err = make_get(f, p, g);
	if (f->mode == FAKE_ASYNC_INLINE) {
		pthread_mutex_unlock(&f->mu);
		finish_get(g);
		return 0;
	}
	if (f->tail)
		f->tail->next = g;
	else
		f->head = g;
	f->tail = g;
	f->npending++;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static struct pending_get *pop_locked(struct fake_store *f)
{
	struct pending_get *g = f->head;

	if (g) {
		f->head = g->next;
		if (!f->head)
			f->tail = NULL;
		f->npending--;
	}
	return g;
}

size_t fake_store_run_pending(struct fake_store *f)
{
	size_t n = 0;

	for (;;) {
		struct pending_get *g;

		pthread_mutex_lock(&f->mu);
		g = pop_locked(f);
		pthread_mutex_unlock(&f->mu);
		if (!g)
			return n;
		finish_get(g);
		n++;
	}
}

size_t fake_store_pending(struct fake_store *f)
{
	size_t n;

	pthread_mutex_lock(&f->mu);
	n = f->npending;
	pthread_mutex_unlock(&f->mu);
	return n;
}

void fake_store_hold_lists(struct fake_store *f, bool hold)
{
	pthread_mutex_lock(&f->mu);
	f->hold_lists = hold;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

void fake_store_wait_lists_held(struct fake_store *f, unsigned n)
{
	pthread_mutex_lock(&f->mu);
	while (f->lists_held < n)
		pthread_cond_wait(&f->cv, &f->mu);
	pthread_mutex_unlock(&f->mu);
}

void fake_store_hold(struct fake_store *f, bool hold)
{
	pthread_mutex_lock(&f->mu);
	f->hold = hold;
	pthread_cond_broadcast(&f->cv);
	pthread_mutex_unlock(&f->mu);
}

static void *worker_main(void *arg)
{
	struct fake_store *f = arg;

	pthread_mutex_lock(&f->mu);
	for (;;) {
		struct pending_get *g = NULL;

		while (!f->stop && (f->hold || !f->head))
			pthread_cond_wait(&f->cv, &f->mu);
		if (f->stop && !f->head)
			break;
		g = pop_locked(f);
		pthread_mutex_unlock(&f->mu);
		finish_get(g);
		pthread_mutex_lock(&f->mu);
	}
	pthread_mutex_unlock(&f->mu);
	return NULL;
}

/* ---- the rest of the interface
 * ------------------------------------------------ */

static int op_get_symlink(void *impl, const char *key, char **target,
			  struct oss_error *err)
{
	struct fake_store *f = impl;
	struct fobj *o;
	int rc;

	pthread_mutex_lock(&f->mu);
	rc = enter_op(f, FAKE_GET_SYMLINK);
	if (!rc) {
		o = find(f, key);
		if (!o)
			rc = -ENOENT;
		else if (o->type != OSS_OBJ_SYMLINK)
			rc = -EINVAL;
		else if (!(*target = str_dup(o->target)))
			rc = -ENOMEM;
	}
	pthread_mutex_unlock(&f->mu);
	(void)err;
	return rc;
}

static int op_get_symlink_meta(void *impl, const char *key,
			       struct oss_object_meta *out,
			       struct oss_error *err)
{
	struct fake_store *f = impl;
	struct fobj *o;
	int rc;

	pthread_mutex_lock(&f->mu);
	rc = enter_op(f, FAKE_GET_SYMLINK);
	if (!rc) {
		o = find(f, key);
		if (!o)
			rc = -ENOENT;
		else if (o->type != OSS_OBJ_SYMLINK)
			rc = -EINVAL;
	}
	if (!rc) {
		fill_meta(o, out);
		out->symlink_target = str_dup(o->target);
		if (!out->symlink_target)
			rc = -ENOMEM;
	}
	pthread_mutex_unlock(&f->mu);
	(void)err;
	return rc;
}

/* A request body: memory, or a range of a file (the write path sends
 * staged files).  NULL on failure. */
static char *read_body(const void *data, int fd, off_t off, uint64_t len)
{
	char *b = malloc(len ? len : 1);
	size_t got = 0;

	if (!b || fd < 0) {
		if (b && len)
			memcpy(b, data, len);
		return b;
	}
	while (got < len) {
		ssize_t n = pread(fd, b + got, len - got, off + (off_t)got);

		if (n <= 0) {
			free(b);
			return NULL;
		}
		got += (size_t)n;
	}
	return b;
}

static int op_put(void *impl, struct oss_put_params *p, struct oss_error *err)
{
	struct fake_store *f = impl;
	char *body;
	int rc;

	pthread_mutex_lock(&f->mu);
	rc = enter_op(f, FAKE_PUT);
	pthread_mutex_unlock(&f->mu);
	if (rc)
		return rc;
	body = read_body(p->data, p->fd, p->fd_offset, p->len);
	if (!body)
		return -EIO;
	rc = fake_store_put_meta(f, p->key, body, (size_t)p->len, p->posix);
	free(body);
	(void)err;
	return rc;
}

static int op_del(void *impl, const char *key, struct oss_error *err)
{
	struct fake_store *f = impl;
	int rc;

	pthread_mutex_lock(&f->mu);
	rc = enter_op(f, FAKE_DELETE);
	pthread_mutex_unlock(&f->mu);
	(void)err;
	return rc ? rc : fake_store_delete(f, key);
}

/* Count a call of a kind without a counter of its own. */
static int enter_other(struct fake_store *f)
{
	int rc;

	pthread_mutex_lock(&f->mu);
	rc = enter_op(f, FAKE_OTHER);
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static int op_copy(void *impl, const char *src_key, const char *dst_key,
		   const struct oss_posix_meta *posix, const char *content_type,
		   struct oss_error *err)
{
	struct fake_store *f = impl;
	struct oss_posix_meta keep;
	struct fobj *o;
	char *data = NULL;
	size_t len = 0;
	int rc = enter_other(f);

	pthread_mutex_lock(&f->mu);
	o = rc ? NULL : find(f, src_key);
	if (!rc && !o)
		rc = -ENOENT;
	if (!rc) {
		keep = posix ? *posix : o->posix;
		len = o->len;
		data = read_body(o->data, -1, 0, len);
		if (!data)
			rc = -ENOMEM;
	}
	pthread_mutex_unlock(&f->mu);
	if (!rc)
		rc = fake_store_put_meta(f, dst_key, data, len, &keep);
	free(data);
	return rc;
}

static int op_del_multi(void *impl, const char *const *keys, size_t n,
			struct oss_error *err)
{
	int rc = enter_other(impl);

	for (size_t i = 0; !rc && i < n; i++)
		rc = fake_store_delete(impl, keys[i]);
	return rc;
}

static struct fake_upload *find_upload(struct fake_store *f, const char *id)
{
	for (unsigned i = 0; i < FAKE_UPLOADS; i++)
		if (f->ups[i].key && strcmp(f->ups[i].id, id) == 0)
			return &f->ups[i];
	return NULL;
}

static void upload_fini(struct fake_upload *u)
{
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(u->parts); i++)
		buf_fini(&u->parts[i]);
	free(u->key);
	memset(u, 0, sizeof(*u));
}

static int op_mp_init(void *impl, const char *key, const char *content_type,
		      const struct oss_posix_meta *posix, char **upload_id,
		      struct oss_error *err)
{
	struct fake_store *f = impl;
	struct fake_upload *u = NULL;
	int rc = enter_other(f);

	pthread_mutex_lock(&f->mu);
	for (unsigned i = 0; !rc && i < FAKE_UPLOADS && !u; i++)
		if (!f->ups[i].key)
			u = &f->ups[i];
	if (!rc && !u)
		rc = -ENOSPC;
	if (!rc) {
		snprintf(u->id, sizeof(u->id), "u%u", f->next_upload++);
		u->key = str_dup(key);
		for (size_t i = 0; i < OSSFS_ARRAY_SIZE(u->parts); i++)
			buf_init(&u->parts[i], 0);
		if (posix)
			u->posix = *posix;
		*upload_id = str_dup(u->id);
		if (!u->key || !*upload_id)
			rc = -ENOMEM;
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static int put_part(struct fake_store *f, const char *upload_id, int number,
		    const char *body, uint64_t len, char *etag_out,
		    size_t etag_size)
{
	struct fake_upload *u;
	int rc = 0;

	pthread_mutex_lock(&f->mu);
	u = find_upload(f, upload_id);
	if (!u || !body || number < 1 ||
	    number > (int)OSSFS_ARRAY_SIZE(u->parts))
		rc = -EINVAL;
	if (!rc) {
		buf_reset(&u->parts[number - 1]);
		rc = buf_append(&u->parts[number - 1], body, (size_t)len);
		snprintf(etag_out, etag_size, "P%d", number);
	}
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static int op_mp_upload_part(void *impl, const char *key, const char *upload_id,
			     int part_number, const void *data, int fd,
			     off_t fd_offset, uint64_t len, char *etag_out,
			     size_t etag_size, struct oss_error *err)
{
	char *body = NULL;
	int rc = enter_other(impl);

	if (!rc)
		body = read_body(data, fd, fd_offset, len);
	if (!rc)
		rc = put_part(impl, upload_id, part_number, body, len, etag_out,
			      etag_size);
	free(body);
	return rc;
}

static int op_mp_upload_part_copy(void *impl, const char *src_key,
				  const char *key, const char *upload_id,
				  int part_number, uint64_t src_offset,
				  uint64_t len, char *etag_out,
				  size_t etag_size, struct oss_error *err)
{
	struct fake_store *f = impl;
	struct fobj *o;
	char *body = NULL;
	int rc = enter_other(f);

	pthread_mutex_lock(&f->mu);
	o = rc ? NULL : find(f, src_key);
	if (o && src_offset + len <= o->len)
		body = read_body(o->data + src_offset, -1, 0, len);
	pthread_mutex_unlock(&f->mu);
	if (!rc)
		rc = put_part(f, upload_id, part_number, body, len, etag_out,
			      etag_size);
	free(body);
	return rc;
}

static int op_mp_complete(void *impl, const char *key, const char *upload_id,
			  const struct oss_part *parts, size_t n,
			  struct oss_error *err)
{
	struct fake_store *f = impl;
	struct oss_posix_meta posix;
	struct fake_upload *u;
	struct buf all;
	char *k = NULL;
	int rc = enter_other(f);

	buf_init(&all, 0);
	pthread_mutex_lock(&f->mu);
	u = rc ? NULL : find_upload(f, upload_id);
	if (!rc && !u)
		rc = -ENOENT;
	for (size_t i = 0; !rc && i < n; i++) {
		int p = parts[i].number;

		if (p < 1 || p > (int)OSSFS_ARRAY_SIZE(u->parts))
			rc = -EINVAL;
		else
			rc = buf_append(&all, u->parts[p - 1].data,
					u->parts[p - 1].len);
	}
	if (!rc) {
		posix = u->posix;
		k = str_dup(u->key);
		upload_fini(u);
	}
	pthread_mutex_unlock(&f->mu);
	if (!rc)
		rc = k ? fake_store_put_meta(f, k, all.data, all.len, &posix)
		       : -ENOMEM;
	free(k);
	buf_fini(&all);
	return rc;
}

static int op_mp_abort(void *impl, const char *key, const char *upload_id,
		       struct oss_error *err)
{
	struct fake_store *f = impl;
	struct fake_upload *u;

	pthread_mutex_lock(&f->mu);
	f->counts[FAKE_OTHER]++;
	u = find_upload(f, upload_id);
	if (u)
		upload_fini(u);
	pthread_mutex_unlock(&f->mu);
	return 0;
}

static int op_put_symlink(void *impl, const char *key, const char *target,
			  const struct oss_posix_meta *posix,
			  struct oss_error *err)
{
	struct fake_store *f = impl;
	struct fobj *o;
	int rc = enter_other(f);

	if (!rc)
		rc = fake_store_put_symlink(f, key, target);
	pthread_mutex_lock(&f->mu);
	o = rc || !posix ? NULL : find(f, key);
	if (o)
		o->posix = *posix;
	pthread_mutex_unlock(&f->mu);
	return rc;
}

static int op_probe(void *impl, struct oss_error *err)
{
	return 0;
}

static const struct oss_store_ops fake_ops = {
	.head = op_head,
	.list = op_list,
	.get_async = op_get_async,
	.put = op_put,
	.copy = op_copy,
	.del = op_del,
	.del_multi = op_del_multi,
	.mp_init = op_mp_init,
	.mp_upload_part = op_mp_upload_part,
	.mp_upload_part_copy = op_mp_upload_part_copy,
	.mp_complete = op_mp_complete,
	.mp_abort = op_mp_abort,
	.put_symlink = op_put_symlink,
	.get_symlink = op_get_symlink,
	.get_symlink_meta = op_get_symlink_meta,
	.probe = op_probe,
	.destroy = NULL, /* the test owns the fake */
};

void fake_store_bind(struct fake_store *f, struct oss_store *out)
{
	out->ops = &fake_ops;
	out->impl = f;
}

static int start_worker(struct fake_store *f)
{
	sigset_t all, old;
	int rc;

	/* Signals belong to the FUSE loop's thread, not to this one. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	rc = pthread_create(&f->worker, NULL, worker_main, f);
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return -rc;
}

int fake_store_new(enum fake_async_mode mode, struct fake_store **out)
{
	struct fake_store *f = calloc(1, sizeof(*f));
	int err;

	if (!f)
		return -ENOMEM;
	pthread_mutex_init(&f->mu, NULL);
	pthread_cond_init(&f->cv, NULL);
	f->mode = mode;
	f->now = 1700000000;
	if (mode == FAKE_ASYNC_THREAD) {
		err = start_worker(f);
		if (err) {
			pthread_cond_destroy(&f->cv);
			pthread_mutex_destroy(&f->mu);
			free(f);
			return err;
		}
	}
	*out = f;
	return 0;
}

void fake_store_free(struct fake_store *f)
{
	struct pending_get *g;

	if (!f)
		return;
	if (f->mode == FAKE_ASYNC_THREAD) {
		pthread_mutex_lock(&f->mu);
		f->stop = true;
		f->hold = false;
		pthread_cond_broadcast(&f->cv);
		pthread_mutex_unlock(&f->mu);
		pthread_join(f->worker, NULL);
	}
	while ((g = pop_locked(f)) != NULL) {
		g->res.err = -ECANCELED;
		finish_get(g);
	}
	for (size_t i = 0; i < f->n; i++)
		fobj_fini(&f->objs[i]);
	free(f->objs);
	for (int i = 0; i < FAKE_BAD_KEYS; i++)
		free(f->bad[i].key);
	for (unsigned i = 0; i < FAKE_UPLOADS; i++)
		if (f->ups[i].key)
			upload_fini(&f->ups[i]);
	pthread_cond_destroy(&f->cv);
	pthread_mutex_destroy(&f->mu);
	free(f);
}
