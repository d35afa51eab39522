/* upload: the manager, its workers and the life of a staged file.
 *
 * A staged file carries a generation number bumped by every change
 * (data, key, metadata) and the generation last stored.  A worker takes
 * a snapshot of (generation, key, metadata, size), uploads without any
 * lock, and records the generation it stored; a change made during the
 * upload leaves the file dirty, so it simply goes up again.  The content
 * read during such an upload may be torn, but it is never the last word:
 * the later upload replaces it.  Renames and unlinks wait for an upload
 * in flight instead, so an object is never left under a name the file no
 * longer has.
 *
 * Quiet period.  upload_file_schedule (close) makes a file due delay_ms
 * later and every change pushes that back, so the close / utimens /
 * chmod / rename sequence of rsync and cp -a costs one PUT.  A file some
 * writer holds open is never uploaded in the background (only by fsync
 * or the final drain): its content is still moving.
 */
#include <errno.h>
#include <inttypes.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "upload_i.h"

#define DRAIN_GIVE_UP  3
#define DRAIN_LOG_MS   5000
#define IDLE_WAKEUP_MS 1000
#define MIB	       ((uint64_t)1 << 20)

void upload_config_defaults(struct upload_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->workers = 16;
	cfg->part_workers = 8;
	cfg->multipart_threshold_bytes = 32 * MIB;
	cfg->part_size_bytes = 8 * MIB;
	cfg->copy_part_threshold_bytes = 1024 * MIB;
	cfg->delay_ms = 200;
	cfg->retry_min_ms = 500;
	cfg->retry_max_ms = 30000;
}

static uint32_t backoff_ms(const struct upload_mgr *m, unsigned failures)
{
	uint64_t ms = m->cfg.retry_min_ms;

	for (unsigned i = 1; i < failures && ms < m->cfg.retry_max_ms; i++)
		ms *= 2;
	return (uint32_t)(ms < m->cfg.retry_max_ms ? ms : m->cfg.retry_max_ms);
}

static void abs_deadline(struct timespec *ts, uint64_t ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += (time_t)(ms / 1000);
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

/* ---- destruction ----------------------------------------------------------
 */

/* Free f when nobody needs it: not owned, not uploading, and either
 * stored, discarded, or the manager is going away.  Caller holds mu. */
void upload_maybe_destroy(struct upload_mgr *m, struct upload_file *f,
			  bool shutdown)
{
	if (f->owned || f->state == UF_RUNNING || upload_stream_busy(f))
		return;
	if (uf_dirty(f) && !shutdown)
		return;
	if (f->stream && !shutdown) {
		/* Its multipart upload is aborted first (stream.c). */
		upload_stream_cancel(f);
		pthread_cond_signal(&m->work_cv);
		return;
	}
	upload_stream_drop(f);
	if (!uf_dirty(f))
		upload_stage_remove(f); /* stored or discarded: gone */
	/* else: dirty at shutdown, both files stay for the next mount */
	if (f->prev)
		f->prev->next = f->next;
	else
		m->files = f->next;
	if (f->next)
		f->next->prev = f->prev;
	m->st.files--;
	if (f->fd >= 0)
		close(f->fd);
	free(f->key);
	free(f);
}

/* ---- the workers ------------------------------------------------------------
 */

static bool is_due(const struct upload_mgr *m, const struct upload_file *f,
		   uint64_t now)
{
	if (f->state != UF_QUEUED)
		return false;
	/* fsync and unmounting skip the quiet period and open writers, not
	 * the backoff after a failure (upload_file_sync starts with an
	 * attempt at once, though). */
	if (f->syncers || m->draining)
		return f->failures == 0 || f->due_ms <= now;
	return f->holds == 0 && f->due_ms <= now;
}

/* A due file, or NULL with *wait_ms until the next one may be. */
static struct upload_file *pick(struct upload_mgr *m, uint64_t now,
				uint64_t *wait_ms)
{
	*wait_ms = IDLE_WAKEUP_MS;
	for (struct upload_file *f = m->files; f; f = f->next) {
		if (is_due(m, f, now))
			return f;
		if (f->state == UF_QUEUED &&
		    (f->holds == 0 || m->draining || f->syncers) &&
		    f->due_ms - now < *wait_ms)
			*wait_ms = f->due_ms - now;
	}
	return NULL;
}

struct snapshot {
	uint64_t gen, size;
	char *key;
	struct oss_posix_meta posix;
	int fd;
	bool mtime_implicit;
};

static void log_failure(struct upload_mgr *m, const char *key, int err,
			unsigned failures, uint32_t retry_ms)
{
	log_err("upload of \"%s\" failed (attempt %u): %s; the data stays in "
		"%s, next try in %u ms",
		key, failures, strerror(-err), m->dir, retry_ms);
}

/* Record an attempt's outcome.  Caller holds mu. */
static void settle(struct upload_mgr *m, struct upload_file *f,
		   const struct snapshot *s, int err, bool multipart)
{
	uint64_t now = time_mono_ms();
	uint32_t retry = 0;

	f->attempts_done++;
	if (!err) {
		f->stored_gen = s->gen > f->stored_gen ? s->gen : f->stored_gen;
		f->remote = true;
		f->failures = 0;
		f->last_err = 0;
		m->st.uploads++;
		m->st.multipart += multipart;
		if (!uf_dirty(f))
			upload_journal_remove(f);
	} else {
		f->failed_gen = s->gen;
		f->last_err = err;
		f->failures++;
		if (m->draining)
			f->drain_failures++;
		m->st.failures++;
		retry = backoff_ms(m, f->failures);
		log_failure(m, s->key, err, f->failures, retry);
	}
	f->state = uf_dirty(f) ? UF_QUEUED : UF_IDLE;
	f->due_ms = now + (err ? retry : m->cfg.delay_ms);
}

/* Tell the owner (mu held on entry and exit, dropped for the call).
 * notifying lets upload_mgr_set_listener wait for calls in progress. */
static void notify(struct upload_mgr *m, struct upload_file *f,
		   const struct snapshot *s, int err, const char *etag,
		   bool clean)
{
	struct upload_done d = { f->owner, s->key, s->size, etag, clean, err };
	upload_listener_fn fn = m->listener;
	void *ud = m->listener_ud;

	if (!fn || !f->owner)
		return;
	m->notifying++;
	pthread_mutex_unlock(&m->mu);
	fn(ud, f, &d);
	pthread_mutex_lock(&m->mu);
	m->notifying--;
}

/* Upload f (state RUNNING, mu held on entry and exit). */
static void run_one(struct upload_mgr *m, struct upload_file *f)
{
	struct upload_stream *st = upload_stream_take(m, f);
	struct snapshot s = { f->gen,	f->size, str_dup(f->key),
			      f->posix, f->fd,	 f->mtime_implicit };
	char etag[80] = "";
	bool multipart = st != NULL, owned;
	int err;

	pthread_mutex_unlock(&m->mu);
	if (st && (!s.key || !upload_stream_usable(st, s.key))) {
		/* Cancelled (or renamed): nothing of it is any use. */
		upload_stream_abort(m, st);
		st = NULL;
		multipart = false;
	}
	if (!s.key)
		err = -ENOMEM;
	else if (st)
		err = upload_stream_finish(m, st, s.fd, s.size, &s.posix,
					   s.mtime_implicit);
	else
		err = upload_transfer(m, s.fd, s.key, &s.posix, s.size, etag,
				      sizeof(etag), &multipart);
	pthread_mutex_lock(&m->mu);
	settle(m, f, &s, err, multipart);
	owned = f->owned;
	if (owned) {
		bool clean = !uf_dirty(f);
		enum uf_state state = f->state;

		/* Still RUNNING to everyone else while the listener runs,
		 * so nothing frees f or changes its key under it. */
		f->state = UF_RUNNING;
		notify(m, f, &s, err, etag, clean);
		f->state = state;
	}
	pthread_cond_broadcast(&m->done_cv);
	if (!err && !owned && !f->owner)
		log_info("uploaded \"%s\" (%" PRIu64 " bytes)", s.key, s.size);
	upload_maybe_destroy(m, f, false);
	free(s.key);
}

static void *worker_main(void *arg)
{
	struct upload_mgr *m = arg;
	struct timespec ts;
	uint64_t wait_ms;

	pthread_mutex_lock(&m->mu);
	while (!m->stopping) {
		struct upload_file *f;

		if (upload_stream_work(m))
			continue;
		f = pick(m, time_mono_ms(), &wait_ms);

		if (!f) {
			abs_deadline(&ts, wait_ms ? wait_ms : 1);
			pthread_cond_timedwait(&m->work_cv, &m->mu, &ts);
			continue;
		}
		f->state = UF_RUNNING;
		run_one(m, f);
	}
	pthread_mutex_unlock(&m->mu);
	return NULL;
}

/* Workers block the signals that stop the mount, so they reach the
 * thread in the FUSE loop (bridge.h). */
static int start_workers(struct upload_mgr *m)
{
	sigset_t all, old;
	int err = 0;

	m->threads = calloc(m->cfg.workers, sizeof(*m->threads));
	if (!m->threads)
		return -ENOMEM;
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (unsigned i = 0; i < m->cfg.workers && !err; i++) {
		err = -pthread_create(&m->threads[i], NULL, worker_main, m);
		if (!err)
			m->nthreads++;
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	return err;
}

static void stop_workers(struct upload_mgr *m)
{
	pthread_mutex_lock(&m->mu);
	m->stopping = true;
	pthread_cond_broadcast(&m->work_cv);
	pthread_mutex_unlock(&m->mu);
	for (unsigned i = 0; i < m->nthreads; i++)
		pthread_join(m->threads[i], NULL);
	free(m->threads);
	m->threads = NULL;
	m->nthreads = 0;
}

/* ---- the manager ------------------------------------------------------------
 */

static void init_sync(struct upload_mgr *m)
{
	pthread_condattr_t ca;

	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_mutex_init(&m->mu, NULL);
	pthread_cond_init(&m->work_cv, &ca);
	pthread_cond_init(&m->done_cv, &ca);
	pthread_condattr_destroy(&ca);
}

static void fill_defaults(struct upload_config *c)
{
	struct upload_config d;

	upload_config_defaults(&d);
	if (!c->workers)
		c->workers = d.workers;
	if (!c->part_workers)
		c->part_workers = d.part_workers;
	if (!c->multipart_threshold_bytes)
		c->multipart_threshold_bytes = d.multipart_threshold_bytes;
	if (!c->part_size_bytes)
		c->part_size_bytes = d.part_size_bytes;
	if (!c->copy_part_threshold_bytes)
		c->copy_part_threshold_bytes = d.copy_part_threshold_bytes;
	if (!c->retry_min_ms)
		c->retry_min_ms = d.retry_min_ms;
	if (c->retry_max_ms < c->retry_min_ms)
		c->retry_max_ms = c->retry_min_ms;
}

int upload_mgr_new(const struct upload_config *cfg, struct oss_store *store,
		   struct upload_mgr **out, size_t *recovered)
{
	struct upload_mgr *m = calloc(1, sizeof(*m));
	size_t n;
	int err = -ENOMEM;

	if (!m)
		return err;
	m->cfg = *cfg;
	fill_defaults(&m->cfg);
	m->store = store;
	m->lock_fd = -1;
	init_sync(m);
	err = cfg->staging_root ? upload_dir_open(m) : -EINVAL;
	if (err) {
		log_err("staging directory under %s: %s",
			cfg->staging_root ? cfg->staging_root : "(none)",
			strerror(-err));
		goto fail;
	}
	n = upload_recover(m);
	if (recovered)
		*recovered = n;
	err = start_workers(m);
	if (err)
		goto fail;
	*out = m;
	return 0;

fail:
	upload_mgr_free(m);
	return err;
}

void upload_mgr_set_listener(struct upload_mgr *m, upload_listener_fn fn,
			     void *ud)
{
	pthread_mutex_lock(&m->mu);
	m->listener = fn;
	m->listener_ud = ud;
	/* The old listener's owner may be going away: no call of it may
	 * still be running when we return. */
	while (m->notifying)
		pthread_cond_wait(&m->done_cv, &m->mu);
	pthread_mutex_unlock(&m->mu);
}

const char *upload_mgr_dir(const struct upload_mgr *m)
{
	return m->dir;
}

/* Files still worth waiting for; *bytes their size.  Caller holds mu. */
static size_t pending_locked(struct upload_mgr *m, uint64_t *bytes)
{
	size_t n = 0;

	*bytes = 0;
	for (struct upload_file *f = m->files; f; f = f->next)
		if (uf_dirty(f) && f->drain_failures < DRAIN_GIVE_UP) {
			n++;
			*bytes += f->size;
		}
	return n;
}

size_t upload_mgr_drain(struct upload_mgr *m)
{
	uint64_t bytes, last_log = time_mono_ms();
	struct timespec ts;
	size_t n, left = 0;

	pthread_mutex_lock(&m->mu);
	m->draining = true;
	for (struct upload_file *f = m->files; f; f = f->next)
		f->drain_failures = 0;
	pthread_cond_broadcast(&m->work_cv);
	n = pending_locked(m, &bytes);
	if (n)
		log_info("waiting for %zu pending upload(s), %" PRIu64 " bytes",
			 n, bytes);
	while ((n = pending_locked(m, &bytes)) != 0) {
		abs_deadline(&ts, IDLE_WAKEUP_MS);
		pthread_cond_timedwait(&m->done_cv, &m->mu, &ts);
		if (time_mono_ms() - last_log >= DRAIN_LOG_MS) {
			last_log = time_mono_ms();
			log_info("still waiting for %zu upload(s), %" PRIu64
				 " bytes",
				 n, bytes);
		}
	}
	for (struct upload_file *f = m->files; f; f = f->next)
		left += uf_dirty(f);
	m->draining = false;
	pthread_mutex_unlock(&m->mu);
	if (left)
		log_err("%zu file(s) could not be uploaded; they stay in %s "
			"and are uploaded at the next mount of this bucket",
			left, m->dir);
	return left;
}

void upload_mgr_free(struct upload_mgr *m)
{
	if (!m)
		return;
	stop_workers(m);
	pthread_mutex_lock(&m->mu);
	while (m->files) {
		m->files->owned = false;
		m->files->state = UF_IDLE;
		upload_maybe_destroy(m, m->files, true);
	}
	pthread_mutex_unlock(&m->mu);
	upload_dir_close(m);
	pthread_cond_destroy(&m->done_cv);
	pthread_cond_destroy(&m->work_cv);
	pthread_mutex_destroy(&m->mu);
	free(m);
}

void upload_mgr_get_stats(struct upload_mgr *m, struct upload_stats *st)
{
	pthread_mutex_lock(&m->mu);
	*st = m->st;
	st->dirty = 0;
	for (struct upload_file *f = m->files; f; f = f->next)
		st->dirty += uf_dirty(f);
	pthread_mutex_unlock(&m->mu);
}
