/* Moving bytes: PutObject, parallel multipart upload and copy, and
 * fetching an object into a staged file.
 *
 * Part size.  OSS allows 10,000 parts of at most 5 GiB, and objects of
 * 48.8 TiB, which is exactly 10,000 x 5 GiB.  The part size is
 * part_size_bytes (8 MiB: big enough that per-request latency does not
 * dominate, small enough that a 64 MiB file still travels on eight
 * connections) until an object would need more than 10,000 such parts;
 * from there it is size / 10,000 rounded up to a whole MiB, so no object
 * OSS can hold is ever refused for its part count.
 *
 * Parallelism is by threads that each block on one request through the
 * curl-multi engine (the store's calls are synchronous); the engine
 * multiplexes them on its one I/O thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "http.h"
#include "upload_i.h"

#define MAX_PARTS      10000u
#define MIB	       ((uint64_t)1 << 20)
#define MAX_PART_BYTES ((uint64_t)5 << 30)
#define FETCH_CHUNK    (8 * MIB)
#define FETCH_THREADS  4u

uint64_t upload_part_size(const struct upload_config *cfg, uint64_t size)
{
	uint64_t ps = cfg->part_size_bytes ? cfg->part_size_bytes : 8 * MIB;
	uint64_t need = (size + MAX_PARTS - 1) / MAX_PARTS;

	if (need > ps)
		ps = (need + MIB - 1) / MIB * MIB;
	return ps < MAX_PART_BYTES ? ps : MAX_PART_BYTES;
}

/* ---- a small fan-out --------------------------------------------------- */

struct fanout {
	int (*fn)(void *arg, size_t i);
	void *arg;
	size_t n;
	atomic_size_t next;
	atomic_int err;
};

static void *fanout_main(void *p)
{
	struct fanout *fo = p;
	size_t i;

	while ((i = atomic_fetch_add(&fo->next, 1)) < fo->n) {
		int err = fo->fn(fo->arg, i);
		int none = 0;

		if (err)
			atomic_compare_exchange_strong(&fo->err, &none, err);
	}
	return NULL;
}

int upload_parallel(unsigned threads, size_t n, int (*fn)(void *arg, size_t i),
		    void *arg)
{
	struct fanout fo = { .fn = fn, .arg = arg, .n = n };
	pthread_t tids[64];
	unsigned started = 0;

	atomic_init(&fo.next, 0);
	atomic_init(&fo.err, 0);
	if (threads > OSSFS_ARRAY_SIZE(tids))
		threads = OSSFS_ARRAY_SIZE(tids);
	if (threads > n)
		threads = (unsigned)n;
	/* This thread works too; helpers only when there is more. */
	for (unsigned t = 1; t < threads; t++)
		if (pthread_create(&tids[started], NULL, fanout_main, &fo) == 0)
			started++;
	fanout_main(&fo);
	for (unsigned t = 0; t < started; t++)
		pthread_join(tids[t], NULL);
	return atomic_load(&fo.err);
}

/* ---- multipart upload --------------------------------------------------- */

struct mp_job {
	struct oss_store *store;
	const char *key; /* the destination */
	const char *src; /* copy: the source, else NULL */
	const char *upload_id;
	int fd;
	uint64_t size, part;
	struct oss_part *parts;
	atomic_int failed; /* stop starting parts after the first error */
};

static int mp_part(void *arg, size_t i)
{
	struct mp_job *j = arg;
	uint64_t off = (uint64_t)i * j->part;
	uint64_t len = j->size - off < j->part ? j->size - off : j->part;
	struct oss_error oerr;
	int err;

	if (atomic_load(&j->failed))
		return -ECANCELED;
	oss_error_clear(&oerr);
	j->parts[i].number = (int)i + 1;
	if (j->src)
		err = j->store->ops->mp_upload_part_copy(
			j->store->impl, j->src, j->key, j->upload_id,
			(int)i + 1, off, len, j->parts[i].etag,
			sizeof(j->parts[i].etag), &oerr);
	else
		err = j->store->ops->mp_upload_part(
			j->store->impl, j->key, j->upload_id, (int)i + 1, NULL,
			j->fd, (off_t)(off + UPLOAD_HDR_BYTES), len,
			j->parts[i].etag, sizeof(j->parts[i].etag), &oerr);
	if (err)
		atomic_store(&j->failed, 1);
	return err;
}

/* Initiate, send every part (from fd, or copied from src), complete;
 * abort on any failure so no parts are left behind. */
static int multipart(struct upload_mgr *m, int fd, const char *src,
		     const char *key, const struct oss_posix_meta *posix,
		     uint64_t size)
{
	struct oss_store *s = m->store;
	struct mp_job j = { .store = s, .key = key, .src = src, .fd = fd };
	struct oss_error oerr;
	char *upload_id = NULL;
	size_t n;
	int err;

	j.size = size;
	j.part = upload_part_size(&m->cfg, size);
	n = (size_t)((size + j.part - 1) / j.part);
	atomic_init(&j.failed, 0);
	j.parts = calloc(n, sizeof(*j.parts));
	if (!j.parts)
		return -ENOMEM;
	oss_error_clear(&oerr);
	err = s->ops->mp_init(s->impl, key, NULL, posix, &upload_id, &oerr);
	if (err)
		goto out;
	j.upload_id = upload_id;
	err = upload_parallel(m->cfg.part_workers, n, mp_part, &j);
	if (!err)
		err = s->ops->mp_complete(s->impl, key, upload_id, j.parts, n,
					  &oerr);
	if (err) {
		struct oss_error aerr;

		oss_error_clear(&aerr);
		(void)s->ops->mp_abort(s->impl, key, upload_id, &aerr);
	}
out:
	free(upload_id);
	free(j.parts);
	return err;
}

int upload_transfer(struct upload_mgr *m, int fd, const char *key,
		    const struct oss_posix_meta *posix, uint64_t size,
		    char *etag, size_t etag_size, bool *is_mp)
{
	struct oss_put_params p;
	struct oss_error oerr;
	int err;

	etag[0] = '\0';
	*is_mp = size >= m->cfg.multipart_threshold_bytes && size > 0;
	if (*is_mp)
		return multipart(m, fd, NULL, key, posix, size);
	memset(&p, 0, sizeof(p));
	p.key = key;
	p.fd = size ? fd : -1;
	p.fd_offset = UPLOAD_HDR_BYTES;
	p.data = size ? NULL : "";
	p.len = size;
	p.posix = posix;
	oss_error_clear(&oerr);
	err = m->store->ops->put(m->store->impl, &p, &oerr);
	if (!err)
		str_lcpy(etag, p.etag_out, etag_size);
	return err;
}

int upload_copy_object(struct upload_mgr *m, const char *src, const char *dst,
		       uint64_t size, const struct oss_posix_meta *posix)
{
	struct oss_error oerr;

	if (size >= m->cfg.copy_part_threshold_bytes && size > 0)
		return multipart(m, -1, src, dst, posix, size);
	oss_error_clear(&oerr);
	return m->store->ops->copy(m->store->impl, src, dst, posix, NULL,
				   &oerr);
}

/* ---- fetching ------------------------------------------------------------
 */

struct fetch_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done;
	int err;
	char *dest;
	size_t cap, len;
};

static void fetch_cb(const struct oss_get_result *res, void *ud)
{
	struct fetch_wait *w = ud;

	pthread_mutex_lock(&w->mu);
	w->err = res->err;
	w->len = res->err ? 0 : res->len < w->cap ? res->len : w->cap;
	if (w->len && res->data && res->data != w->dest)
		memcpy(w->dest, res->data, w->len);
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

struct fetch_job {
	struct upload_mgr *m;
	int fd;
	const char *key, *etag;
	uint64_t size;
};

static int pwrite_all(int fd, const char *data, size_t len, uint64_t off)
{
	while (len) {
		ssize_t n = pwrite(fd, data, len, (off_t)off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		data += n;
		len -= (size_t)n;
		off += (uint64_t)n;
	}
	return 0;
}

/* One chunk: a ranged GET into a buffer, then into the staged file. */
static int fetch_chunk(void *arg, size_t i)
{
	struct fetch_job *j = arg;
	uint64_t off = (uint64_t)i * FETCH_CHUNK;
	size_t want = (size_t)(j->size - off < FETCH_CHUNK ? j->size - off
							   : FETCH_CHUNK);
	struct fetch_wait w = { .done = false };
	struct oss_get_params p;
	char *buf = malloc(want ? want : 1);
	int err;

	if (!buf)
		return -ENOMEM;
	if (j->m->charge)
		j->m->charge(j->m->charge_ud, (int64_t)want);
	w.dest = buf;
	w.cap = want;
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	memset(&p, 0, sizeof(p));
	p.key = j->key;
	p.offset = off;
	p.len = want;
	p.if_match = j->etag && *j->etag ? j->etag : NULL;
	p.priority = HTTP_PRIO_FOREGROUND; /* an open() waits for it */
	p.dest = buf;
	p.dest_cap = want;
	err = oss_get_async(j->m->store, &p, fetch_cb, &w);
	if (!err) {
		pthread_mutex_lock(&w.mu);
		while (!w.done)
			pthread_cond_wait(&w.cv, &w.mu);
		pthread_mutex_unlock(&w.mu);
		err = w.err;
	}
	/* The object is shorter than it was said to be: it changed. */
	if (!err && w.len != want)
		err = -ESTALE;
	if (!err)
		err = pwrite_all(j->fd, buf, want, off + UPLOAD_HDR_BYTES);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	free(buf);
	if (j->m->charge)
		j->m->charge(j->m->charge_ud, -(int64_t)want);
	return err;
}

void upload_mgr_set_charge(struct upload_mgr *m,
			   void (*fn)(void *ud, int64_t bytes), void *ud)
{
	m->charge = fn;
	m->charge_ud = ud;
}

int upload_fetch_into(struct upload_mgr *m, int fd, const char *key,
		      const char *etag, uint64_t size)
{
	struct fetch_job j = { m, fd, key, etag, size };
	size_t n = (size_t)((size + FETCH_CHUNK - 1) / FETCH_CHUNK);

	if (ftruncate(fd, (off_t)(size + UPLOAD_HDR_BYTES)) != 0)
		return -errno;
	return n ? upload_parallel(FETCH_THREADS, n, fetch_chunk, &j) : 0;
}
