/* upload: the calls fs/ makes on one staged file. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "upload_i.h"

static struct upload_file *
file_alloc(const char *key, const struct oss_posix_meta *posix, void *owner)
{
	struct upload_file *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->fd = -1;
	f->key = str_dup(key);
	if (!f->key) {
		free(f);
		return NULL;
	}
	if (posix)
		f->posix = *posix;
	f->owner = owner;
	f->owned = true;
	return f;
}

static void file_free_unlinked(struct upload_file *f)
{
	if (f->fd >= 0)
		close(f->fd);
	free(f->key);
	free(f);
}

/* How long a closed file waits for more changes.  A file whose parts
 * are already on their way (stream.c) has nothing to gain from waiting:
 * a rename cancels its stream anyway, and metadata set now costs the
 * same copy as metadata set after the upload. */
static uint32_t quiet_ms(const struct upload_file *f)
{
	return upload_stream_active(f) ? 0 : f->m->cfg.delay_ms;
}

/* A change: dirty, journaled, and the quiet period starts over.  The
 * record is rewritten when its fields changed or it is not on disk yet;
 * plain writes change none of them.  Caller holds mu. */
static int changed(struct upload_file *f, bool record)
{
	f->gen++;
	if (f->discarded)
		return 0; /* unlinked while open: never uploaded */
	if (f->state == UF_QUEUED)
		f->due_ms = time_mono_ms() + f->m->cfg.delay_ms;
	return record || !f->journaled ? upload_journal_write(f) : 0;
}

int upload_file_new(struct upload_mgr *m, const char *key,
		    const struct oss_posix_meta *posix, void *owner,
		    struct upload_file **out)
{
	struct upload_file *f = file_alloc(key, posix, owner);
	int err = -ENOMEM;

	if (!f)
		return err;
	pthread_mutex_lock(&m->mu);
	f->m = m;
	err = upload_stage_create(m, f);
	if (!err)
		err = changed(f, true);
	f->seq = true; /* empty: appending may stream (stream.c) */
	f->mtime_implicit = true;
	if (!err)
		upload_link(m, f);
	else
		upload_stage_remove(f);
	pthread_mutex_unlock(&m->mu);
	if (err) {
		file_free_unlinked(f);
		return err;
	}
	*out = f;
	return 0;
}

int upload_file_fetch(struct upload_mgr *m, const char *key, uint64_t size,
		      const char *etag, const struct oss_posix_meta *posix,
		      void *owner, struct upload_file **out)
{
	struct upload_file *f = file_alloc(key, posix, owner);
	int err = -ENOMEM;

	if (!f)
		return err;
	pthread_mutex_lock(&m->mu);
	f->m = m;
	err = upload_stage_create(m, f);
	pthread_mutex_unlock(&m->mu);
	if (!err)
		err = upload_fetch_into(m, f->fd, key, etag, size);
	pthread_mutex_lock(&m->mu);
	if (err) {
		upload_stage_remove(f);
	} else {
		f->size = size;
		f->remote = true; /* a clean copy of what is stored */
		upload_link(m, f);
	}
	pthread_mutex_unlock(&m->mu);
	if (err) {
		file_free_unlinked(f);
		return err;
	}
	*out = f;
	return 0;
}

void upload_file_release(struct upload_file *f)
{
	struct upload_mgr *m = f->m;

	pthread_mutex_lock(&m->mu);
	f->owned = false;
	f->owner = NULL;
	if (uf_dirty(f) && f->state == UF_IDLE) {
		f->state = UF_QUEUED;
		f->due_ms = time_mono_ms() + quiet_ms(f);
		pthread_cond_signal(&m->work_cv);
	}
	upload_maybe_destroy(m, f, false);
	pthread_mutex_unlock(&m->mu);
}

ssize_t upload_file_pread(struct upload_file *f, void *buf, size_t len,
			  uint64_t off)
{
	ssize_t n;

	do
		n = pread(f->fd, buf, len, (off_t)(off + UPLOAD_HDR_BYTES));
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

ssize_t upload_file_write(struct upload_file *f, const void *buf, size_t len,
			  uint64_t off)
{
	struct upload_mgr *m = f->m;
	ssize_t n = pwrite(f->fd, buf, len, (off_t)(off + UPLOAD_HDR_BYTES));
	uint64_t old;
	int err;

	if (n < 0)
		return -errno;
	pthread_mutex_lock(&m->mu);
	old = f->size;
	if (off + (uint64_t)n > f->size)
		f->size = off + (uint64_t)n;
	err = changed(f, false);
	if (!f->discarded)
		upload_stream_on_write(m, f, off, old);
	pthread_mutex_unlock(&m->mu);
	return err ? err : n;
}

int upload_file_truncate(struct upload_file *f, uint64_t size)
{
	struct upload_mgr *m = f->m;
	int err = 0;

	if (ftruncate(f->fd, (off_t)(size + UPLOAD_HDR_BYTES)) != 0)
		return -errno;
	pthread_mutex_lock(&m->mu);
	upload_stream_cancel(f);
	f->seq = size == 0;
	f->size = size;
	err = changed(f, false);
	pthread_mutex_unlock(&m->mu);
	return err;
}

uint64_t upload_file_size(struct upload_file *f)
{
	uint64_t n;

	pthread_mutex_lock(&f->m->mu);
	n = f->size;
	pthread_mutex_unlock(&f->m->mu);
	return n;
}

/* Wait until no upload of f is in flight.  Caller holds mu. */
static void wait_not_running(struct upload_file *f)
{
	while (f->state == UF_RUNNING)
		pthread_cond_wait(&f->m->done_cv, &f->m->mu);
}

int upload_file_set_key(struct upload_file *f, const char *key,
			bool *was_remote)
{
	struct upload_mgr *m = f->m;
	char *k = str_dup(key);
	int err = 0;

	if (!k)
		return -ENOMEM;
	pthread_mutex_lock(&m->mu);
	wait_not_running(f);
	*was_remote = f->remote;
	upload_stream_cancel(f); /* bound to the old key */
	free(f->key);
	f->key = k;
	f->remote = false;
	err = changed(f, true);
	pthread_mutex_unlock(&m->mu);
	return err;
}

int upload_file_set_posix(struct upload_file *f,
			  const struct oss_posix_meta *posix)
{
	struct upload_mgr *m = f->m;
	int err = 0;

	pthread_mutex_lock(&m->mu);
	f->posix = *posix;
	f->mtime_implicit = false;
	err = changed(f, true);
	pthread_mutex_unlock(&m->mu);
	return err;
}

int upload_file_touch(struct upload_file *f, const struct timespec *mtime)
{
	struct upload_mgr *m = f->m;
	int err;

	pthread_mutex_lock(&m->mu);
	f->posix.has_mtime = true;
	f->posix.mtime = *mtime;
	f->mtime_implicit = true;
	err = changed(f, true);
	pthread_mutex_unlock(&m->mu);
	return err;
}

void upload_file_get_posix(struct upload_file *f, struct oss_posix_meta *out)
{
	pthread_mutex_lock(&f->m->mu);
	*out = f->posix;
	pthread_mutex_unlock(&f->m->mu);
}

bool upload_file_is_remote(struct upload_file *f)
{
	bool r;

	pthread_mutex_lock(&f->m->mu);
	r = f->remote;
	pthread_mutex_unlock(&f->m->mu);
	return r;
}

bool upload_file_is_dirty(struct upload_file *f)
{
	bool r;

	pthread_mutex_lock(&f->m->mu);
	r = uf_dirty(f);
	pthread_mutex_unlock(&f->m->mu);
	return r;
}

void upload_file_hold(struct upload_file *f)
{
	pthread_mutex_lock(&f->m->mu);
	f->holds++;
	pthread_mutex_unlock(&f->m->mu);
}

void upload_file_unhold(struct upload_file *f)
{
	pthread_mutex_lock(&f->m->mu);
	if (f->holds)
		f->holds--;
	pthread_mutex_unlock(&f->m->mu);
}

void upload_file_schedule(struct upload_file *f)
{
	struct upload_mgr *m = f->m;

	pthread_mutex_lock(&m->mu);
	if (uf_dirty(f) && f->state != UF_RUNNING) {
		f->state = UF_QUEUED;
		f->due_ms = time_mono_ms() + quiet_ms(f);
		pthread_cond_signal(&m->work_cv);
	}
	pthread_mutex_unlock(&m->mu);
}

int upload_file_sync(struct upload_file *f)
{
	struct upload_mgr *m = f->m;
	uint64_t target, start;
	int err = 0;

	pthread_mutex_lock(&m->mu);
	target = f->gen;
	start = f->attempts_done;
	f->syncers++;
	if (uf_dirty(f) && f->state != UF_RUNNING) {
		f->state = UF_QUEUED;
		f->due_ms = 0;
		pthread_cond_broadcast(&m->work_cv);
	}
	while (!f->discarded && f->stored_gen < target) {
		/* An attempt that began after our change and failed. */
		if (f->attempts_done > start && f->failed_gen >= target &&
		    f->last_err) {
			err = f->last_err;
			break;
		}
		pthread_cond_wait(&m->done_cv, &m->mu);
	}
	f->syncers--;
	pthread_mutex_unlock(&m->mu);
	return err;
}

void upload_file_discard(struct upload_file *f, bool *was_remote)
{
	struct upload_mgr *m = f->m;

	pthread_mutex_lock(&m->mu);
	wait_not_running(f);
	*was_remote = f->remote;
	upload_stream_cancel(f);
	f->remote = false;
	f->discarded = true;
	f->state = UF_IDLE;
	upload_journal_remove(f);
	pthread_mutex_unlock(&m->mu);
}
