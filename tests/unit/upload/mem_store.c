/* mem_store: see mem_store.h. */
#include "mem_store.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define MAX_OBJECTS 256
#define MAX_UPLOADS 16
#define MAX_PARTS   64

struct mobj {
	char *key;
	char *data;
	size_t len;
	struct oss_posix_meta posix;
	char *link; /* symlink target */
};

struct mupload {
	char id[32];
	char *key;
	struct oss_posix_meta posix;
	char *parts[MAX_PARTS];
	size_t lens[MAX_PARTS];
};

struct mem_store {
	pthread_mutex_t mu;
	struct mobj objs[MAX_OBJECTS];
	size_t n;
	struct mupload ups[MAX_UPLOADS];
	unsigned next_upload;
	uint64_t counts[MEM_OP_COUNT];
	int fail_err[MEM_OP_COUNT];
	int fail_times[MEM_OP_COUNT];
	bool hold[MEM_OP_COUNT];     /* calls of the op wait at entry */
	unsigned held[MEM_OP_COUNT]; /* calls waiting now */
	pthread_cond_t hold_cv;
};

/* Wait while op is held (mem_store_hold).  mu held. */
static void gate(struct mem_store *s, enum mem_op op)
{
	if (!s->hold[op])
		return;
	s->held[op]++;
	pthread_cond_broadcast(&s->hold_cv);
	while (s->hold[op])
		pthread_cond_wait(&s->hold_cv, &s->mu);
	s->held[op]--;
}

static struct mobj *find(struct mem_store *s, const char *key)
{
	for (size_t i = 0; i < s->n; i++)
		if (strcmp(s->objs[i].key, key) == 0)
			return &s->objs[i];
	return NULL;
}

/* Store (taking data), replacing any object of the same key.  mu held. */
static int store(struct mem_store *s, const char *key, char *data, size_t len,
		 const struct oss_posix_meta *posix)
{
	struct mobj *o = find(s, key);

	if (!o) {
		if (s->n == MAX_OBJECTS) {
			free(data);
			return -ENOSPC;
		}
		o = &s->objs[s->n++];
		memset(o, 0, sizeof(*o));
		o->key = strdup(key);
	}
	free(o->data);
	free(o->link);
	o->link = NULL;
	o->data = data;
	o->len = len;
	memset(&o->posix, 0, sizeof(o->posix));
	if (posix)
		o->posix = *posix;
	return 0;
}

/* Count op and maybe fail it.  mu held. */
static int enter(struct mem_store *s, enum mem_op op)
{
	s->counts[op]++;
	if (s->fail_times[op]) {
		if (s->fail_times[op] > 0)
			s->fail_times[op]--;
		return s->fail_err[op];
	}
	return 0;
}

static char *read_body(const void *data, int fd, off_t off, uint64_t len)
{
	char *b = malloc(len ? len : 1);
	size_t got = 0;

	if (!b)
		return NULL;
	if (fd < 0) {
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

static int op_put(void *impl, struct oss_put_params *p, struct oss_error *e)
{
	struct mem_store *s = impl;
	char *b = read_body(p->data, p->fd, p->fd_offset, p->len);
	int err;

	(void)e;
	pthread_mutex_lock(&s->mu);
	err = enter(s, MEM_PUT);
	if (!err && !b)
		err = -EIO;
	if (!err) {
		err = store(s, p->key, b, (size_t)p->len, p->posix);
		b = NULL;
		snprintf(p->etag_out, sizeof(p->etag_out), "E%zu", s->n);
	}
	pthread_mutex_unlock(&s->mu);
	free(b);
	return err;
}

static int op_get_async(void *impl, const struct oss_get_params *p,
			oss_get_cb cb, void *ud)
{
	struct mem_store *s = impl;
	struct oss_get_result r;
	struct mobj *o;
	char *copy = NULL;

	memset(&r, 0, sizeof(r));
	pthread_mutex_lock(&s->mu);
	r.err = enter(s, MEM_GET);
	o = r.err ? NULL : find(s, p->key);
	if (!r.err && !o)
		r.err = -ENOENT;
	if (!r.err && p->offset <= o->len) {
		size_t n = o->len - (size_t)p->offset;

		if (p->len && p->len < n)
			n = (size_t)p->len;
		copy = malloc(n ? n : 1);
		memcpy(copy, o->data + p->offset, n);
		r.len = n;
		r.object_size = o->len;
	}
	pthread_mutex_unlock(&s->mu);
	r.data = copy;
	cb(&r, ud);
	free(copy);
	return 0;
}

static int op_copy(void *impl, const char *src, const char *dst,
		   const struct oss_posix_meta *posix, const char *ct,
		   struct oss_error *e)
{
	struct mem_store *s = impl;
	struct oss_posix_meta keep;
	struct mobj *o;
	char *b;
	int err;

	(void)ct;
	(void)e;
	pthread_mutex_lock(&s->mu);
	err = enter(s, MEM_COPY);
	o = err ? NULL : find(s, src);
	if (!err && !o)
		err = -ENOENT;
	if (!err) {
		keep = posix ? *posix : o->posix;
		b = malloc(o->len ? o->len : 1);
		memcpy(b, o->data, o->len);
		err = store(s, dst, b, o->len, &keep);
	}
	pthread_mutex_unlock(&s->mu);
	return err;
}

static int op_del(void *impl, const char *key, struct oss_error *e)
{
	struct mem_store *s = impl;
	struct mobj *o;
	int err;

	(void)e;
	pthread_mutex_lock(&s->mu);
	err = enter(s, MEM_DEL);
	o = err ? NULL : find(s, key);
	if (o) {
		free(o->key);
		free(o->data);
		free(o->link);
		*o = s->objs[--s->n];
	}
	pthread_mutex_unlock(&s->mu);
	return err;
}

static int op_del_multi(void *impl, const char *const *keys, size_t n,
			struct oss_error *e)
{
	int err = 0;

	for (size_t i = 0; i < n && !err; i++)
		err = op_del(impl, keys[i], e);
	return err;
}

static struct mupload *find_upload(struct mem_store *s, const char *id)
{
	for (unsigned i = 0; i < MAX_UPLOADS; i++)
		if (s->ups[i].key && strcmp(s->ups[i].id, id) == 0)
			return &s->ups[i];
	return NULL;
}

static void drop_upload(struct mupload *u)
{
	for (int i = 0; i < MAX_PARTS; i++)
		free(u->parts[i]);
	free(u->key);
	memset(u, 0, sizeof(*u));
}

static int op_mp_init(void *impl, const char *key, const char *ct,
		      const struct oss_posix_meta *posix, char **id,
		      struct oss_error *e)
{
	struct mem_store *s = impl;
	struct mupload *u = NULL;
	int err;

	(void)ct;
	(void)e;
	pthread_mutex_lock(&s->mu);
	err = enter(s, MEM_MP_INIT);
	for (unsigned i = 0; !err && i < MAX_UPLOADS && !u; i++)
		if (!s->ups[i].key)
			u = &s->ups[i];
	if (!err && !u)
		err = -ENOSPC;
	if (!err) {
		snprintf(u->id, sizeof(u->id), "up%u", s->next_upload++);
		u->key = strdup(key);
		if (posix)
			u->posix = *posix;
		*id = strdup(u->id);
	}
	pthread_mutex_unlock(&s->mu);
	return err;
}

static int put_part(struct mem_store *s, enum mem_op op, const char *id,
		    int number, char *b, uint64_t len, char *etag,
		    size_t etag_size)
{
	struct mupload *u;
	int err;

	pthread_mutex_lock(&s->mu);
	err = enter(s, op);
	u = err ? NULL : find_upload(s, id);
	if (!err && (!u || !b || number < 1 || number > MAX_PARTS))
		err = -EINVAL;
	if (!err) {
		free(u->parts[number - 1]);
		u->parts[number - 1] = b;
		u->lens[number - 1] = (size_t)len;
		b = NULL;
		snprintf(etag, etag_size, "P%d", number);
	}
	pthread_mutex_unlock(&s->mu);
	free(b);
	return err;
}

static int op_mp_part(void *impl, const char *key, const char *id, int number,
		      const void *data, int fd, off_t off, uint64_t len,
		      char *etag, size_t etag_size, struct oss_error *e)
{
	(void)key;
	(void)e;
	return put_part(impl, MEM_MP_PART, id, number,
			read_body(data, fd, off, len), len, etag, etag_size);
}

static int op_mp_part_copy(void *impl, const char *src, const char *key,
			   const char *id, int number, uint64_t off,
			   uint64_t len, char *etag, size_t etag_size,
			   struct oss_error *e)
{
	struct mem_store *s = impl;
	struct mobj *o;
	char *b = NULL;

	(void)key;
	(void)e;
	pthread_mutex_lock(&s->mu);
	o = find(s, src);
	if (o && off + len <= o->len) {
		b = malloc(len ? len : 1);
		memcpy(b, o->data + off, len);
	}
	pthread_mutex_unlock(&s->mu);
	return put_part(impl, MEM_MP_PART_COPY, id, number, b, len, etag,
			etag_size);
}

static int op_mp_complete(void *impl, const char *key, const char *id,
			  const struct oss_part *parts, size_t n,
			  struct oss_error *e)
{
	struct mem_store *s = impl;
	struct mupload *u;
	size_t total = 0, pos = 0;
	char *b = NULL;
	int err;

	(void)key;
	(void)e;
	pthread_mutex_lock(&s->mu);
	err = enter(s, MEM_MP_COMPLETE);
	u = err ? NULL : find_upload(s, id);
	if (!err && !u)
		err = -ENOENT;
	for (size_t i = 0; !err && i < n; i++) {
		int k = parts[i].number - 1;

		if (k < 0 || k >= MAX_PARTS || !u->parts[k])
			err = -EINVAL;
		else
			total += u->lens[k];
	}
	if (!err) {
		b = malloc(total ? total : 1);
		for (size_t i = 0; i < n; i++) {
			int k = parts[i].number - 1;

			memcpy(b + pos, u->parts[k], u->lens[k]);
			pos += u->lens[k];
		}
		err = store(s, u->key, b, total, &u->posix);
		drop_upload(u);
	}
	pthread_mutex_unlock(&s->mu);
	return err;
}

static int op_mp_abort(void *impl, const char *key, const char *id,
		       struct oss_error *e)
{
	struct mem_store *s = impl;
	struct mupload *u;

	(void)key;
	(void)e;
	pthread_mutex_lock(&s->mu);
	gate(s, MEM_MP_ABORT);
	s->counts[MEM_MP_ABORT]++;
	u = find_upload(s, id);
	if (u)
		drop_upload(u);
	pthread_mutex_unlock(&s->mu);
	return 0;
}

static int op_put_symlink(void *impl, const char *key, const char *target,
			  const struct oss_posix_meta *posix,
			  struct oss_error *e)
{
	struct mem_store *s = impl;
	struct mobj *o;
	int err;

	(void)e;
	pthread_mutex_lock(&s->mu);
	err = enter(s, MEM_SYMLINK);
	if (!err)
		err = store(s, key, strdup(""), 0, posix);
	o = err ? NULL : find(s, key);
	if (o)
		o->link = strdup(target);
	pthread_mutex_unlock(&s->mu);
	return err;
}

static int op_get_symlink(void *impl, const char *key, char **target,
			  struct oss_error *e)
{
	struct mem_store *s = impl;
	struct mobj *o;

	(void)e;
	pthread_mutex_lock(&s->mu);
	o = find(s, key);
	*target = o && o->link ? strdup(o->link) : NULL;
	pthread_mutex_unlock(&s->mu);
	return *target ? 0 : -ENOENT;
}

static int op_nosys(void)
{
	return -ENOSYS;
}

static int op_head(void *impl, const char *key, struct oss_object_meta *out,
		   struct oss_error *e)
{
	(void)impl;
	(void)key;
	(void)out;
	(void)e;
	return op_nosys();
}

static int op_list(void *impl, const struct oss_list_params *p,
		   struct oss_list_page *out, struct oss_error *e)
{
	(void)impl;
	(void)p;
	(void)out;
	(void)e;
	return op_nosys();
}

static int op_probe(void *impl, struct oss_error *e)
{
	(void)impl;
	(void)e;
	return 0;
}

static void op_destroy(void *impl)
{
	(void)impl;
}

static const struct oss_store_ops mem_ops = {
	.head = op_head,
	.list = op_list,
	.get_async = op_get_async,
	.put = op_put,
	.copy = op_copy,
	.del = op_del,
	.del_multi = op_del_multi,
	.mp_init = op_mp_init,
	.mp_upload_part = op_mp_part,
	.mp_upload_part_copy = op_mp_part_copy,
	.mp_complete = op_mp_complete,
	.mp_abort = op_mp_abort,
	.put_symlink = op_put_symlink,
	.get_symlink = op_get_symlink,
	.probe = op_probe,
	.destroy = op_destroy,
};

struct mem_store *mem_store_new(void)
{
	struct mem_store *s = calloc(1, sizeof(*s));

	if (s) {
		pthread_mutex_init(&s->mu, NULL);
		pthread_cond_init(&s->hold_cv, NULL);
	}
	return s;
}

void mem_store_free(struct mem_store *s)
{
	if (!s)
		return;
	for (size_t i = 0; i < s->n; i++) {
		free(s->objs[i].key);
		free(s->objs[i].data);
		free(s->objs[i].link);
	}
	for (unsigned i = 0; i < MAX_UPLOADS; i++)
		if (s->ups[i].key)
			drop_upload(&s->ups[i]);
	pthread_cond_destroy(&s->hold_cv);
	pthread_mutex_destroy(&s->mu);
	free(s);
}

void mem_store_bind(struct mem_store *s, struct oss_store *out)
{
	out->ops = &mem_ops;
	out->impl = s;
}

int mem_store_put(struct mem_store *s, const char *key, const void *data,
		  size_t len)
{
	char *b = malloc(len ? len : 1);
	int err;

	memcpy(b, data, len);
	pthread_mutex_lock(&s->mu);
	err = store(s, key, b, len, NULL);
	pthread_mutex_unlock(&s->mu);
	return err;
}

char *mem_store_get(struct mem_store *s, const char *key, size_t *len,
		    struct oss_posix_meta *posix)
{
	struct mobj *o;
	char *b = NULL;

	pthread_mutex_lock(&s->mu);
	o = find(s, key);
	if (o) {
		b = malloc(o->len + 1);
		memcpy(b, o->data, o->len);
		b[o->len] = '\0';
		*len = o->len;
		if (posix)
			*posix = o->posix;
	}
	pthread_mutex_unlock(&s->mu);
	return b;
}

size_t mem_store_count_objects(struct mem_store *s)
{
	size_t n;

	pthread_mutex_lock(&s->mu);
	n = s->n;
	pthread_mutex_unlock(&s->mu);
	return n;
}

uint64_t mem_store_count(struct mem_store *s, enum mem_op op)
{
	uint64_t n;

	pthread_mutex_lock(&s->mu);
	n = s->counts[op];
	pthread_mutex_unlock(&s->mu);
	return n;
}

void mem_store_reset_counts(struct mem_store *s)
{
	pthread_mutex_lock(&s->mu);
	memset(s->counts, 0, sizeof(s->counts));
	pthread_mutex_unlock(&s->mu);
}

void mem_store_fail(struct mem_store *s, enum mem_op op, int err, int times)
{
	pthread_mutex_lock(&s->mu);
	s->fail_err[op] = err;
	s->fail_times[op] = times;
	pthread_mutex_unlock(&s->mu);
}

void mem_store_hold(struct mem_store *s, enum mem_op op, bool on)
{
	pthread_mutex_lock(&s->mu);
	s->hold[op] = on;
	pthread_cond_broadcast(&s->hold_cv);
	pthread_mutex_unlock(&s->mu);
}

void mem_store_wait_held(struct mem_store *s, enum mem_op op, unsigned n)
{
	pthread_mutex_lock(&s->mu);
	while (s->held[op] < n)
		pthread_cond_wait(&s->hold_cv, &s->mu);
	pthread_mutex_unlock(&s->mu);
}
