/* upload: sending the parts of a large file while it is still written.
 *
 * A file written from its start, in order, to past multipart_threshold
 * (cp of a large file, a download, a checkpoint) starts a multipart
 * upload at once, and every part_size piece the writer has gone past is
 * sent while it writes on: when it closes, only the last part and the
 * completion remain.  The bytes of a piece never change once the
 * writer is past them, as long as every write lands at the end of the
 * file; any other write, a truncation, a rename (the upload is bound to
 * its key) or an unlink cancels the stream, which is aborted, and the
 * file goes up whole at close as usual.  Metadata changed after the
 * start (cp -a's utimes) is put right with one CopyObject onto itself.
 *
 * Names starting with '.' never stream: rsync writes ".name.XXXXXX" and
 * renames it, which would throw the streamed parts away.
 *
 * Jobs (start, part, abort) run on the upload workers; while one runs,
 * st->inflight keeps the file alive (upload_maybe_destroy waits).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "upload_i.h"

#define STREAM_MAX_PARTS 10000u

struct upload_stream {
	char *upload_id; /* NULL until started */
	char *key;
	struct oss_posix_meta posix; /* what the upload was started with */
	uint64_t part;
	struct oss_part *parts; /* STREAM_MAX_PARTS */
	size_t next;		/* parts below it are sent or being sent */
	unsigned inflight;	/* jobs running */
	bool failed;		/* cancelled or failed: abort, then drop */
};

static void stream_free(struct upload_stream *st)
{
	if (!st)
		return;
	free(st->upload_id);
	free(st->key);
	free(st->parts);
	free(st);
}

static bool may_stream(const struct upload_file *f)
{
	const char *name = strrchr(f->key, '/');

	name = name ? name + 1 : f->key;
	return name[0] != '.' && !f->discarded;
}

void upload_stream_on_write(struct upload_mgr *m, struct upload_file *f,
			    uint64_t off, uint64_t old_size)
{
	struct upload_stream *st = f->stream;

	if (off != old_size) {
		f->seq = false;
		upload_stream_cancel(f);
		return;
	}
	if (!st && f->seq && f->size >= m->cfg.multipart_threshold_bytes &&
	    may_stream(f)) {
		st = calloc(1, sizeof(*st));
		if (st) {
			st->key = str_dup(f->key);
			st->parts =
				calloc(STREAM_MAX_PARTS, sizeof(*st->parts));
			st->posix = f->posix;
			/* Not known yet: the last write's (see touch). */
			if (f->mtime_implicit)
				st->posix.has_mtime = false;
			st->part = m->cfg.part_size_bytes;
		}
		if (!st || !st->key || !st->parts) {
			stream_free(st);
			f->seq = false; /* no memory: whole at close */
			return;
		}
		f->stream = st;
		m->streams++;
		pthread_cond_signal(&m->work_cv);
		return;
	}
	/* A piece is complete: wake a worker for it. */
	if (st && old_size / st->part != f->size / st->part)
		pthread_cond_signal(&m->work_cv);
}

void upload_stream_cancel(struct upload_file *f)
{
	f->seq = false;
	if (f->stream && !f->stream->failed) {
		f->stream->failed = true;
		/* Abort it now rather than at a worker's next wakeup. */
		pthread_cond_signal(&f->m->work_cv);
	}
}

bool upload_stream_active(const struct upload_file *f)
{
	return f->stream && !f->stream->failed;
}

const char *upload_stream_id(const struct upload_file *f)
{
	return f->stream && !f->stream->failed ? f->stream->upload_id : NULL;
}

bool upload_stream_busy(const struct upload_file *f)
{
	return f->stream && f->stream->inflight;
}

/* ---- jobs (workers; mu held on entry and exit) ----------------------------
 */

static void job_start(struct upload_mgr *m, struct upload_stream *st)
{
	struct oss_error oerr;
	char *id = NULL;
	int err;

	pthread_mutex_unlock(&m->mu);
	oss_error_clear(&oerr);
	err = m->store->ops->mp_init(m->store->impl, st->key, NULL, &st->posix,
				     &id, &oerr);
	pthread_mutex_lock(&m->mu);
	if (err)
		st->failed = true;
	else
		st->upload_id = id;
}

static void job_part(struct upload_mgr *m, struct upload_file *f,
		     struct upload_stream *st, size_t k)
{
	struct oss_part *p = &st->parts[k];
	struct oss_error oerr;
	int err;

	pthread_mutex_unlock(&m->mu);
	oss_error_clear(&oerr);
	p->number = (int)k + 1;
	err = m->store->ops->mp_upload_part(
		m->store->impl, st->key, st->upload_id, p->number, NULL, f->fd,
		(off_t)(k * st->part + UPLOAD_HDR_BYTES), st->part, p->etag,
		sizeof(p->etag), &oerr);
	pthread_mutex_lock(&m->mu);
	if (err)
		st->failed = true;
}

static void job_abort(struct upload_mgr *m, struct upload_stream *st)
{
	struct oss_error oerr;

	pthread_mutex_unlock(&m->mu);
	if (st->upload_id) {
		oss_error_clear(&oerr);
		(void)m->store->ops->mp_abort(m->store->impl, st->key,
					      st->upload_id, &oerr);
	}
	pthread_mutex_lock(&m->mu);
}

/* The next job of f's stream, run here.  true when one ran. */
static bool stream_job(struct upload_mgr *m, struct upload_file *f)
{
	struct upload_stream *st = f->stream;
	size_t k;

	if (st->failed) {
		if (st->inflight)
			return false;
		/* The abort is a job like the others: while it runs, f
		 * stays busy (upload_maybe_destroy leaves it alone) and a
		 * sync waits for it (upload_stream_take). */
		st->inflight++;
		job_abort(m, st);
		st->inflight--;
		f->stream = NULL;
		m->streams--;
		stream_free(st);
		pthread_cond_broadcast(&m->done_cv);
		upload_maybe_destroy(m, f, false);
		return true;
	}
	if (!st->upload_id) {
		if (st->inflight)
			return false;
		st->inflight++;
		job_start(m, st);
		/* The journal names the upload, so that the next mount can
		 * abort it if we die before finishing it. */
		if (st->upload_id && f->journaled && !f->discarded)
			(void)upload_journal_write(f);
	} else {
		k = st->next;
		if (st->inflight >= m->cfg.part_workers ||
		    k >= STREAM_MAX_PARTS || (k + 1) * st->part > f->size)
			return false;
		st->next++;
		st->inflight++;
		job_part(m, f, st, k);
	}
	st->inflight--;
	pthread_cond_broadcast(&m->done_cv);
	pthread_cond_signal(&m->work_cv); /* maybe more to do */
	upload_maybe_destroy(m, f, false);
	return true;
}

bool upload_stream_work(struct upload_mgr *m)
{
	if (!m->streams)
		return false; /* the common case: no scan */
	for (struct upload_file *f = m->files; f; f = f->next)
		if (f->stream && stream_job(m, f))
			return true;
	return false;
}

/* ---- finishing (run_one) ---------------------------------------------------
 */

struct upload_stream *upload_stream_take(struct upload_mgr *m,
					 struct upload_file *f)
{
	struct upload_stream *st;

	/* Read f->stream again after every wait: once the last job is
	 * done, another worker may abort a failed stream and free it
	 * (stream_job) before this one wakes. */
	while ((st = f->stream) && st->inflight)
		pthread_cond_wait(&m->done_cv, &m->mu);
	if (st) {
		f->stream = NULL;
		m->streams--;
	}
	f->seq = false; /* what is left goes up from here, not again */
	return st;
}

bool upload_stream_usable(const struct upload_stream *st, const char *key)
{
	return !st->failed && st->upload_id && strcmp(st->key, key) == 0;
}

void upload_stream_abort(struct upload_mgr *m, struct upload_stream *st)
{
	struct oss_error oerr;

	if (st->upload_id) {
		oss_error_clear(&oerr);
		(void)m->store->ops->mp_abort(m->store->impl, st->key,
					      st->upload_id, &oerr);
	}
	stream_free(st);
}

struct tail {
	struct upload_mgr *m;
	struct upload_stream *st;
	int fd;
	uint64_t size;
};

static int tail_part(void *arg, size_t i)
{
	struct tail *t = arg;
	struct upload_stream *st = t->st;
	size_t k = st->next + i;
	uint64_t off = (uint64_t)k * st->part;
	uint64_t len = t->size - off < st->part ? t->size - off : st->part;
	struct oss_error oerr;

	oss_error_clear(&oerr);
	st->parts[k].number = (int)k + 1;
	return t->m->store->ops->mp_upload_part(
		t->m->store->impl, st->key, st->upload_id, (int)k + 1, NULL,
		t->fd, (off_t)(off + UPLOAD_HDR_BYTES), len, st->parts[k].etag,
		sizeof(st->parts[k].etag), &oerr);
}

static bool posix_equal(const struct oss_posix_meta *a,
			const struct oss_posix_meta *b)
{
	/* Only what would be sent counts. */
	return a->has_mode == b->has_mode && a->has_uid == b->has_uid &&
	       a->has_gid == b->has_gid && a->has_mtime == b->has_mtime &&
	       (!a->has_mode || a->mode == b->mode) &&
	       (!a->has_uid || a->uid == b->uid) &&
	       (!a->has_gid || a->gid == b->gid) &&
	       (!a->has_mtime || (a->mtime.tv_sec == b->mtime.tv_sec &&
				  a->mtime.tv_nsec == b->mtime.tv_nsec));
}

int upload_stream_finish(struct upload_mgr *m, struct upload_stream *st, int fd,
			 uint64_t size, const struct oss_posix_meta *posix,
			 bool mtime_implicit)
{
	struct oss_posix_meta want = *posix;

	struct tail t = { m, st, fd, size };
	size_t n = (size_t)((size + st->part - 1) / st->part);
	struct oss_store *s = m->store;
	struct oss_error oerr;
	int err = 0;

	oss_error_clear(&oerr);
	if (n > STREAM_MAX_PARTS || n < st->next)
		err = -EFBIG; /* cannot be: the writer only appended */
	if (!err && n > st->next)
		err = upload_parallel(m->cfg.part_workers, n - st->next,
				      tail_part, &t);
	if (!err)
		err = s->ops->mp_complete(s->impl, st->key, st->upload_id,
					  st->parts, n, &oerr);
	if (err) {
		(void)s->ops->mp_abort(s->impl, st->key, st->upload_id, &oerr);
	} else {
		if (mtime_implicit)
			want.has_mtime = false; /* Last-Modified says it */
		/* Changed since the start (cp -a sets the times last). */
		if (!posix_equal(&want, &st->posix))
			err = s->ops->copy(s->impl, st->key, st->key, &want,
					   NULL, &oerr);
	}
	stream_free(st);
	return err;
}

void upload_stream_drop(struct upload_file *f)
{
	if (f->stream)
		f->m->streams--;
	stream_free(f->stream);
	f->stream = NULL;
}
