/* prefetch: directory prefetch, sequential read-ahead and random fill.
 *
 * Design note.
 *
 * The cost of reading from an object store is the round trip, not the
 * bytes: at 20 ms a request, a thousand small files fetched one at a time
 * take 20 s and fetched 56 at a time a third of a second.  Everything
 * here exists to have many requests in flight before anyone asks, and to
 * stop doing so the moment it is not paying off.
 *
 * Directory prefetch.  When a directory is opened (fs/ hands us the
 * listing snapshot), its regular files of 1 byte to file_max_bytes become
 * candidates, in listing order, which is the order cp, rsync and tar read
 * them in.  The GETs start once the opener has read every name (or closed
 * the handle, or read one of the files): cp -r, rsync and os.listdir read
 * a directory whole before touching a file, and `ls -l` of 10,000 names
 * then does not share two cores with 256 GETs while it reads them.  A directory
 * is *followed*: it has a window of files that may be started and not yet read
 * (window_files, 256) and a byte window (window_bytes, 64 MiB).  Reading a
 * prefetched file frees its place, so the window slides with the reader, and
 * widens it by two files (up to window_max_files), so a directory that is being
 * read pulls further ahead.  Reading a file the window has not reached yet (a
 * shuffled reader) brings the window back to its full size.  Whole-object GETs
 * also bring the object's headers: fs/ learns x-oss-meta-* from them.
 *
 * Backing off.  A file manager or `ls -R` opens directory after directory
 * and reads nothing.  Each time a directory is opened while the one
 * opened before it had files started and none read, the next window is
 * halved (down to one file); any read of a prefetched file, or of any
 * file in a followed directory, resets that.  At most max_dirs (64)
 * directories are followed; the least recently used is dropped first.
 * Closing a directory does not stop it: cp -r reads a directory whole,
 * closes it and only then copies the files, so it is the window, not the
 * handle, that bounds what an unread directory costs (window_files, or
 * fewer after backing off).  GETs already in flight are left to finish;
 * the memory budget decides whether their bytes stay.
 *
 * Sequential read-ahead.  A file read from offset 0, or twice in a row
 * near where the last read ended (ahead of it or behind it by less than
 * the window, or one range while there is none: FUSE delivers the kernel's
 * own read-ahead out of order, measured up to 16 MiB behind), is
 * sequential.  The first window is readahead_bytes (2 MiB) and it doubles
 * each time the reader has consumed another block (1 MiB), up to
 * readahead_max_bytes (192 MiB) and a quarter of the budget.  Ranges are
 * an eighth of the window, between a block and readahead_bytes (2 MiB):
 * the first window is two 1 MiB GETs in parallel, whose bytes are back
 * after one small transfer, and by the time the reader has taken 8 MiB the
 * window is over a hundred MiB in 2 MiB ranges.  The cap is what the
 * connections can carry: at 100 Mbit/s a connection a 2 MiB range takes
 * 0.19 s with a 20 ms first byte, so 88 in flight (176 MiB) move some
 * 900 MB/s, and a window much larger than that only piles up data ahead of
 * a reader slower than the network.  That memory is not free: on the
 * benchmark's VM, memory the host took back costs its zeroing again (half
 * the daemon's CPU in a 1 GiB `cat`, by perf; the I/O thread zeroing huge
 * pages for 0.6 s while the reader waited), and a 1 GiB window with 4 MiB
 * ranges peaked at 450-620 MiB RSS where 256 MiB peaked under 320 MiB at
 * the same speed and some 30 % less CPU (the random fill of W5 too: 1.8 s
 * against 2.3 s).  192 MiB against 256 MiB, alternating, in that cold
 * state: 1.71 s against 1.85 s on average over five pairs (each pair won
 * by 192), 250 MiB RSS against 285; warmed up the same 1.5 s; 160 and
 * 128 MiB were slower again.  Fast doubling is what lets a single `cat`
 * use many connections early: at 100 Mbit/s a connection, 500 MB/s needs
 * some 40 ranges in flight, and a slow ramp would spend seconds getting
 * there.  Ranges start after the blocks of the read itself, which fs/
 * fetches at foreground priority; a range is only issued whole (or at the
 * end of the file) so that a reader creeping forward does not turn into
 * one GET per read.  A read far from the last one resets the window to
 * nothing.
 *
 * Random fill.  After random_fill_after (4) random reads of a file no
 * larger than random_fill_max_bytes (half the budget), the whole file is
 * fetched in the background, range by range, skipping what is cached:
 * no byte is fetched twice, and afterwards every read is a hit (s3fs
 * effectively does this; a single random reader otherwise waits a round
 * trip per read).
 *
 * Priorities and caps.  Read-ahead and fill GETs go at READAHEAD
 * priority, directory prefetch at BACKGROUND, and a reader's own misses
 * (fs/read.c) at FOREGROUND, so the engine's queue always lets a waiting
 * process overtake.  Ours are at most max_inflight (88) in flight: the
 * engine's 96 connections minus 8 that foreground requests can always
 * get without waiting for one of ours to finish.  Streams are served
 * before directories, most recently used first.  When the cache refuses
 * a block (budget), the pump stops until the next read or completion.
 *
 * Threads.  Hooks run on FUSE workers, completions on the I/O thread, and
 * both pump.  LOCK ORDERING: mu here is never held across a call into
 * the cache, the store or a callback; cache and store locks nest in
 * nothing of ours.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "cache.h"
#include "http.h"
#include "prefetch.h"

#define PF_STREAK_MAX 16

/* Per listing entry of a followed directory. */
#define IT_SKIP	   0x00 /* not a candidate */
#define IT_TODO	   0x01
#define IT_STARTED 0x02
#define IT_STATE   0x0f
#define IT_CHARGED 0x40 /* started, not read: counts against the window */
#define IT_READ	   0x80

struct pf_dir {
	struct cache_map_node node;
	struct cache_link lru;
	char *dir;
	struct cache_listing *l;
	uint8_t *it;	       /* l->n entries */
	size_t next;	       /* first entry the cursor has not passed */
	uint32_t window;       /* files started and not read, at most */
	uint64_t window_bytes; /* their bytes, at most */
	uint32_t charged;
	uint64_t charged_bytes;
	uint64_t candidates, started, read;
	int refs; /* the table's while followed, plus one per GET */
	bool followed;
	bool active; /* its names were all read, or one of its files */
};

struct pf_stream {
	struct cache_map_node node;
	struct cache_link lru;
	uint64_t id;
	char *key, *etag; /* one allocation */
	uint64_t size;
	uint64_t pos;	   /* end of the furthest sequential read */
	uint64_t grow_pos; /* pos when the window last grew */
	uint64_t window;   /* bytes ahead of pos; 0 = not sequential */
	uint64_t ra_next;  /* next byte to fetch (block aligned) */
	uint64_t ra_end;   /* fetch up to here */
	unsigned seq, random;
	bool filling;
	int refs;
	bool followed;
};

struct prefetch {
	struct prefetch_config cfg;
	struct prefetch_env env;
	uint64_t ra_max;
	uint64_t fill_max;
	uint64_t tag;
	pthread_mutex_t mu;
	pthread_cond_t idle_cv;	      /* active dropped to 0 */
	struct cache_map dirs;	      /* guarded by: mu */
	struct cache_link dir_lru;    /* guarded by: mu; next = newest */
	struct cache_map streams;     /* guarded by: mu */
	struct cache_link stream_lru; /* guarded by: mu; next = newest */
	unsigned inflight;	      /* guarded by: mu */
	unsigned active;	      /* guarded by: mu; callbacks to run */
	unsigned streak;	      /* guarded by: mu */
	bool stopped;		      /* guarded by: mu */
	struct prefetch_stats st;     /* guarded by: mu */
};

/* What the pump picked, to run with no lock held. */
struct pick {
	struct pf_dir *d;
	size_t item;
	struct pf_stream *s;
	uint64_t from, to; /* bytes, for a stream */
};

/* One GET in flight. */
struct pf_job {
	struct prefetch *pf;
	struct cache_block *blk;
	struct pf_dir *d; /* one of d and s holds a reference */
	size_t item;
	struct pf_stream *s;
	bool whole;
	char key[]; /* the full key */
};

void prefetch_config_defaults(struct prefetch_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->dir_prefetch = true;
	cfg->file_max_bytes = (uint64_t)4 << 20;
	cfg->window_files = 256;
	cfg->window_max_files = 1024;
	cfg->window_bytes = (uint64_t)64 << 20;
	cfg->max_dirs = 64;
	cfg->readahead = true;
	cfg->readahead_bytes = (uint64_t)2 << 20;
	cfg->readahead_max_bytes = (uint64_t)192 << 20;
	cfg->max_streams = 256;
	cfg->random_fill_after = 4;
	cfg->random_fill_max_bytes = 0;
	cfg->max_inflight = 88;
}

/* ---- lists and tables --------------------------------------------------- */

struct dir_name {
	const char *s;
	size_t n;
};

static bool dir_eq(const struct cache_map_node *n, const void *key)
{
	const struct pf_dir *d = CACHE_CONTAINER_OF(n, struct pf_dir, node);
	const struct dir_name *k = key;

	return strncmp(d->dir, k->s, k->n) == 0 && d->dir[k->n] == '\0';
}

static struct pf_dir *dir_find(struct prefetch *pf, const char *dir, size_t len)
{
	struct dir_name k = { dir, len };
	struct cache_map_node *n = cache_map_find(
		&pf->dirs, cache_hash_bytes(dir, len, 0), dir_eq, &k);

	return n ? CACHE_CONTAINER_OF(n, struct pf_dir, node) : NULL;
}

static void dir_free(struct pf_dir *d)
{
	cache_listing_unref(d->l);
	free(d->it);
	free(d->dir);
	free(d);
}

/* Drop a reference; true when the caller must free d (outside mu is
 * not needed: freeing takes no lock of ours). */
static void dir_unref(struct pf_dir *d)
{
	if (--d->refs == 0)
		dir_free(d);
}

static void dir_unfollow(struct prefetch *pf, struct pf_dir *d)
{
	cache_map_remove(&pf->dirs, &d->node);
	cache_link_remove(&d->lru);
	d->followed = false;
	dir_unref(d);
}

static bool stream_eq(const struct cache_map_node *n, const void *key)
{
	return CACHE_CONTAINER_OF(n, struct pf_stream, node)->id ==
	       *(const uint64_t *)key;
}

static struct pf_stream *stream_find(struct prefetch *pf, uint64_t id)
{
	struct cache_map_node *n = cache_map_find(
		&pf->streams, cache_hash_bytes(&id, sizeof(id), 1), stream_eq,
		&id);

	return n ? CACHE_CONTAINER_OF(n, struct pf_stream, node) : NULL;
}

static void stream_unref(struct pf_stream *s)
{
	if (--s->refs == 0) {
		free(s->key);
		free(s);
	}
}

static void stream_unfollow(struct prefetch *pf, struct pf_stream *s)
{
	cache_map_remove(&pf->streams, &s->node);
	cache_link_remove(&s->lru);
	s->followed = false;
	stream_unref(s);
}

/* ---- construction ---------------------------------------------------------
 */

int prefetch_new(const struct prefetch_config *cfg,
		 const struct prefetch_env *env, struct prefetch **out)
{
	struct prefetch *pf = calloc(1, sizeof(*pf));
	int err = -ENOMEM;

	if (!pf)
		goto fail;
	pf->cfg = *cfg;
	pf->env = *env;
	if (!pf->cfg.readahead_bytes || !env->block_bytes) {
		err = -EINVAL;
		goto fail_pf;
	}
	if (pf->cfg.readahead_bytes < env->block_bytes)
		pf->cfg.readahead_bytes = env->block_bytes;
	if (!pf->cfg.max_inflight)
		pf->cfg.max_inflight = 1;
	if (!pf->cfg.max_dirs)
		pf->cfg.max_dirs = 1;
	if (!pf->cfg.max_streams)
		pf->cfg.max_streams = 1;
	if (pf->cfg.window_max_files < pf->cfg.window_files)
		pf->cfg.window_max_files = pf->cfg.window_files;
	pf->ra_max = pf->cfg.readahead_max_bytes;
	if (pf->ra_max > env->budget_bytes / 4)
		pf->ra_max = env->budget_bytes / 4;
	if (pf->ra_max < pf->cfg.readahead_bytes)
		pf->ra_max = pf->cfg.readahead_bytes;
	pf->fill_max = pf->cfg.random_fill_max_bytes
			       ? pf->cfg.random_fill_max_bytes
			       : env->budget_bytes / 2;
	pf->tag = (uint64_t)(uintptr_t)pf;
	if (cache_map_init(&pf->dirs, 64) || cache_map_init(&pf->streams, 64))
		goto fail_maps;
	cache_link_init(&pf->dir_lru);
	cache_link_init(&pf->stream_lru);
	pthread_mutex_init(&pf->mu, NULL);
	pthread_cond_init(&pf->idle_cv, NULL);
	*out = pf;
	return 0;

fail_maps:
	cache_map_fini(&pf->dirs);
	cache_map_fini(&pf->streams);
fail_pf:
	free(pf);
fail:
	return err;
}

void prefetch_stop(struct prefetch *pf)
{
	pthread_mutex_lock(&pf->mu);
	pf->stopped = true;
	pthread_mutex_unlock(&pf->mu);
	if (pf->env.engine)
		http_engine_cancel_tag(pf->env.engine, pf->tag);
	pthread_mutex_lock(&pf->mu);
	while (pf->active)
		pthread_cond_wait(&pf->idle_cv, &pf->mu);
	pthread_mutex_unlock(&pf->mu);
}

void prefetch_free(struct prefetch *pf)
{
	if (!pf)
		return;
	prefetch_stop(pf);
	while (pf->dir_lru.next != &pf->dir_lru)
		dir_unfollow(pf, CACHE_CONTAINER_OF(pf->dir_lru.next,
						    struct pf_dir, lru));
	while (pf->stream_lru.next != &pf->stream_lru)
		stream_unfollow(pf, CACHE_CONTAINER_OF(pf->stream_lru.next,
						       struct pf_stream, lru));
	cache_map_fini(&pf->dirs);
	cache_map_fini(&pf->streams);
	pthread_cond_destroy(&pf->idle_cv);
	pthread_mutex_destroy(&pf->mu);
	free(pf);
}

/* ---- GETs -----------------------------------------------------------------
 */

static void job_release(struct prefetch *pf, struct pf_job *j)
{
	pthread_mutex_lock(&pf->mu);
	pf->inflight--;
	if (j->d)
		dir_unref(j->d);
	else
		stream_unref(j->s);
	pthread_mutex_unlock(&pf->mu);
}

/* The last touch of pf by a completion: after this it may be freed. */
static void job_finish(struct prefetch *pf)
{
	pthread_mutex_lock(&pf->mu);
	if (--pf->active == 0)
		pthread_cond_broadcast(&pf->idle_cv);
	pthread_mutex_unlock(&pf->mu);
}

static void pump(struct prefetch *pf);

static void job_done(const struct oss_get_result *res, void *ud)
{
	struct pf_job *j = ud;
	struct prefetch *pf = j->pf;
	size_t cap = cache_block_cap(j->blk), len = 0;
	void *buf = cache_block_buf(j->blk);
	bool logged;

	if (!res->err) {
		len = res->len < cap ? res->len : cap;
		if (res->data && res->data != buf && len)
			memcpy(buf, res->data, len);
		if (j->whole && pf->env.on_meta)
			pf->env.on_meta(pf->env.meta_ud, j->key, &res->meta);
	} else if (res->err != -ECANCELED) {
		pthread_mutex_lock(&pf->mu);
		pf->st.errors++;
		pthread_mutex_unlock(&pf->mu);
	}
	/* Said only when a reader was waiting: a prefetch nobody asked for
	 * yet (a folder of archived objects) is no read failure. */
	logged = cache_data_fill_done(pf->env.data, j->blk, res->err, len) &&
		 oss_get_log_failure(j->key, res);
	if (!logged && res->err && res->err != -ECANCELED)
		log_debug("prefetch of \"%s\" failed: %s", j->key,
			  strerror(-res->err));
	cache_block_unref(pf->env.data, j->blk);
	job_release(pf, j);
	free(j);
	pump(pf);
	job_finish(pf);
}

/* Start the GET for new block b (first index first) on behalf of d or s.
 * Returns 0 (GET started, or filled from disk) or -errno (b is failed
 * and released). */
static int submit(struct prefetch *pf, struct pick *p, const char *key,
		  const char *etag, struct cache_block *b, uint64_t first,
		  bool whole, enum cache_class cls)
{
	size_t klen = strlen(key);
	struct pf_job *j = NULL;
	struct oss_get_params gp;
	int err = 0;

	if (cache_data_fill_from_disk(pf->env.data, b))
		goto out_unref;
	j = malloc(sizeof(*j) + klen + 1);
	if (!j) {
		err = -ENOMEM;
		goto fail;
	}
	*j = (struct pf_job){ pf, b, p->d, p->item, p->s, whole };
	memcpy(j->key, key, klen + 1);
	memset(&gp, 0, sizeof(gp));
	gp.key = j->key;
	gp.offset = first * pf->env.block_bytes;
	gp.len = whole ? 0 : cache_block_cap(b);
	gp.if_match = etag && *etag ? etag : NULL;
	gp.priority = cls == CACHE_CLASS_PREFETCH ? HTTP_PRIO_BACKGROUND
						  : HTTP_PRIO_READAHEAD;
	gp.cancel_tag = pf->tag;
	gp.dest = cache_block_buf(b);
	gp.dest_cap = cache_block_cap(b);
	gp.verify_crc64 = whole;
	pthread_mutex_lock(&pf->mu);
	pf->inflight++;
	pf->active++;
	if (pf->inflight > pf->st.peak_inflight)
		pf->st.peak_inflight = pf->inflight;
	if (p->d)
		p->d->refs++;
	else
		p->s->refs++;
	pthread_mutex_unlock(&pf->mu);
	/* No lock held: the store may complete inline. */
	err = oss_get_async(pf->env.store, &gp, job_done, j);
	if (!err)
		return 0;
	job_release(pf, j);
	free(j);
	job_finish(pf);
fail:
	cache_data_fill_done(pf->env.data, b, err, 0);
out_unref:
	cache_block_unref(pf->env.data, b);
	return err;
}

/* Fetch the missing blocks of [first, last) of an object, a run per GET.
 * Returns how many GETs were started in *started, and 0, or the cache's
 * -ENOSPC/-ENOMEM with *stop_at the first block not covered. */
static int fetch_blocks(struct prefetch *pf, struct pick *p, const char *key,
			const char *etag, uint64_t size, uint64_t first,
			uint64_t last, enum cache_class cls, unsigned *started,
			uint64_t *stop_at)
{
	uint32_t bs = pf->env.block_bytes;
	uint64_t total = (size + bs - 1) / bs, pos = first, nb;
	struct cache_block *b;
	int err = 0;

	while (pos < last && !err) {
		err = cache_data_acquire_run(pf->env.data, key, etag, pos, bs,
					     size, last - pos, cls, &b, &nb);
		if (err == -EEXIST) {
			err = 0;
			pos += nb ? nb : 1;
			continue;
		}
		if (err)
			break;
		if (submit(pf, p, key, etag, b, pos,
			   cls == CACHE_CLASS_PREFETCH && pos == 0 &&
				   nb == total,
			   cls) == 0)
			(*started)++;
		pos += nb;
	}
	*stop_at = pos;
	return err;
}

/* ---- picking work -----------------------------------------------------------
 */

/* The size of the stream's next range: an eighth of its window, between
 * a block and readahead_bytes.  Small while the window is small, so the
 * first bytes come back after one small transfer rather than after a
 * whole range on a slow connection. */
static uint64_t stream_chunk(const struct prefetch *pf,
			     const struct pf_stream *s)
{
	uint64_t c = s->window / 8;

	if (s->filling || c > pf->cfg.readahead_bytes)
		c = pf->cfg.readahead_bytes;
	return c < pf->env.block_bytes ? pf->env.block_bytes : c;
}

static bool stream_wants(const struct prefetch *pf, const struct pf_stream *s)
{
	if (s->ra_next >= s->ra_end)
		return false;
	return s->ra_end - s->ra_next >= stream_chunk(pf, s) ||
	       s->ra_end >= s->size;
}

static bool pick_stream(struct prefetch *pf, struct pick *p)
{
	for (struct cache_link *l = pf->stream_lru.next; l != &pf->stream_lru;
	     l = l->next) {
		struct pf_stream *s =
			CACHE_CONTAINER_OF(l, struct pf_stream, lru);

		if (!stream_wants(pf, s))
			continue;
		p->s = s;
		p->from = s->ra_next;
		p->to = s->ra_next + stream_chunk(pf, s);
		if (p->to > s->ra_end)
			p->to = s->ra_end;
		s->ra_next = p->to;
		s->refs++; /* the pick's, dropped after running it */
		return true;
	}
	return false;
}

static bool dir_may_start(const struct pf_dir *d)
{
	return d->active && d->charged < d->window &&
	       d->charged_bytes < d->window_bytes;
}

static bool pick_dir(struct prefetch *pf, struct pick *p)
{
	for (struct cache_link *l = pf->dir_lru.next; l != &pf->dir_lru;
	     l = l->next) {
		struct pf_dir *d = CACHE_CONTAINER_OF(l, struct pf_dir, lru);

		if (!dir_may_start(d))
			continue;
		while (d->next < d->l->n) {
			uint8_t *it = &d->it[d->next];

			if ((*it & IT_STATE) == IT_TODO && !(*it & IT_READ))
				break;
			if ((*it & IT_STATE) == IT_TODO)
				*it = IT_READ | IT_STARTED; /* read already */
			d->next++;
		}
		if (d->next >= d->l->n)
			continue;
		p->d = d;
		p->item = d->next++;
		d->it[p->item] = IT_STARTED;
		d->refs++; /* the pick's */
		return true;
	}
	return false;
}

/* ---- running a pick ---------------------------------------------------------
 */

static void run_dir_item(struct prefetch *pf, struct pick *p, int *err)
{
	struct pf_dir *d = p->d;
	const struct cache_dirent *e = &d->l->ents[p->item];
	uint32_t bs = pf->env.block_bytes;
	uint64_t total = (e->size + bs - 1) / bs, stop_at;
	unsigned started = 0;
	bool in_kernel = false;
	struct buf key;

	buf_init(&key, 0);
	*err = buf_appendf(&key, "%s%s", d->dir, e->name);
	if (!*err && pf->env.kernel_has)
		in_kernel =
			pf->env.kernel_has(pf->env.meta_ud, key.data, e->etag);
	if (!*err && !in_kernel)
		*err = fetch_blocks(pf, p, key.data, e->etag, e->size, 0, total,
				    CACHE_CLASS_PREFETCH, &started, &stop_at);
	buf_fini(&key);
	pthread_mutex_lock(&pf->mu);
	if (*err && !started) {
		/* No room now: put it back for the next pump. */
		d->it[p->item] = (d->it[p->item] & IT_READ) | IT_TODO;
		if (d->next > p->item)
			d->next = p->item;
	} else if (started) {
		d->started++;
		pf->st.files_started++;
		if (!(d->it[p->item] & IT_READ)) {
			d->it[p->item] |= IT_CHARGED;
			d->charged++;
			d->charged_bytes += e->size;
		}
	} else if (in_kernel) {
		pf->st.files_in_kernel++;
	} else {
		pf->st.files_cached++;
	}
	if (*err == -ENOSPC)
		pf->st.refused++;
	dir_unref(d);
	pthread_mutex_unlock(&pf->mu);
}

static void run_stream_range(struct prefetch *pf, struct pick *p, int *err)
{
	struct pf_stream *s = p->s;
	uint32_t bs = pf->env.block_bytes;
	uint64_t first = p->from / bs, last = (p->to + bs - 1) / bs, stop_at;
	unsigned started = 0;

	*err = fetch_blocks(pf, p, s->key, s->etag, s->size, first, last,
			    CACHE_CLASS_READAHEAD, &started, &stop_at);
	pthread_mutex_lock(&pf->mu);
	pf->st.ranges_started += started;
	if (*err) {
		if (*err == -ENOSPC)
			pf->st.refused++;
		/* Give back what was not covered, unless the stream moved
		 * on meanwhile (the reader will fetch the hole itself). */
		if (s->ra_next == p->to && stop_at * bs < p->to)
			s->ra_next = stop_at * bs;
	}
	stream_unref(s);
	pthread_mutex_unlock(&pf->mu);
}

/* Set while this thread is in pump: a store that completes inline (the
 * fake in tests) would otherwise recurse once per file.  A nested call
 * returns at once; the outer loop picks the work up. */
static _Thread_local bool pumping;

static void pump(struct prefetch *pf)
{
	struct pick p;
	bool picked;
	int err = 0;

	if (pumping)
		return;
	pumping = true;
	while (!err) {
		memset(&p, 0, sizeof(p));
		pthread_mutex_lock(&pf->mu);
		picked = !pf->stopped && pf->inflight < pf->cfg.max_inflight &&
			 (pick_stream(pf, &p) || pick_dir(pf, &p));
		pthread_mutex_unlock(&pf->mu);
		if (!picked)
			break;
		if (p.d)
			run_dir_item(pf, &p, &err);
		else
			run_stream_range(pf, &p, &err);
	}
	pumping = false;
}

/* ---- directories ------------------------------------------------------------
 */

static struct pf_dir *dir_new(struct prefetch *pf, const char *dir,
			      struct cache_listing *l)
{
	struct pf_dir *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->dir = str_dup(dir);
	d->it = calloc(l->n ? l->n : 1, 1);
	if (!d->dir || !d->it) {
		free(d->dir);
		free(d->it);
		free(d);
		return NULL;
	}
	for (size_t i = 0; i < l->n; i++) {
		const struct cache_dirent *e = &l->ents[i];

		if (e->type == CACHE_ENT_FILE && e->size > 0 &&
		    e->size <= pf->cfg.file_max_bytes) {
			d->it[i] = IT_TODO;
			d->candidates++;
		}
	}
	cache_listing_ref(l);
	d->l = l;
	d->refs = 1;
	d->followed = true;
	cache_link_init(&d->lru);
	return d;
}

/* The window a newly opened directory starts with.  Caller holds mu. */
static void first_window(struct prefetch *pf, struct pf_dir *d,
			 const struct pf_dir *prev)
{
	unsigned shift;

	/* Whether the previous directory had files to fetch, not whether
	 * it got to start any: that depends on how busy the network is. */
	if (prev && prev->candidates && !prev->read &&
	    pf->streak < PF_STREAK_MAX)
		pf->streak++;
	shift = pf->streak;
	d->window = pf->cfg.window_files >> shift;
	if (d->window < 1)
		d->window = 1;
	d->window_bytes = pf->cfg.window_bytes >> shift;
	if (d->window_bytes < pf->env.block_bytes)
		d->window_bytes = pf->env.block_bytes;
	pf->st.backoff = pf->streak;
}

void prefetch_on_opendir(struct prefetch *pf, const char *dir,
			 struct cache_listing *listing)
{
	struct pf_dir *d, *old, *prev = NULL;

	if (!pf->cfg.dir_prefetch)
		return;
	pthread_mutex_lock(&pf->mu);
	if (pf->stopped)
		goto out;
	old = dir_find(pf, dir, strlen(dir));
	if (old && old->l == listing) {
		cache_link_move_front(&pf->dir_lru, &old->lru);
		goto out;
	}
	d = dir_new(pf, dir, listing);
	if (!d)
		goto out;
	if (old) {
		/* A newer snapshot: start over with the window it had. */
		d->window = old->window;
		d->window_bytes = old->window_bytes;
		d->active = old->active;
		dir_unfollow(pf, old);
	} else {
		if (pf->dir_lru.next != &pf->dir_lru)
			prev = CACHE_CONTAINER_OF(pf->dir_lru.next,
						  struct pf_dir, lru);
		first_window(pf, d, prev);
	}
	cache_map_insert(&pf->dirs, &d->node, cache_hash_str(dir));
	cache_link_move_front(&pf->dir_lru, &d->lru);
	pf->st.dirs_opened++;
	while (pf->dirs.n > pf->cfg.max_dirs)
		dir_unfollow(pf, CACHE_CONTAINER_OF(pf->dir_lru.prev,
						    struct pf_dir, lru));
out:
	pthread_mutex_unlock(&pf->mu);
	pump(pf);
}

void prefetch_on_dir_done(struct prefetch *pf, const char *dir)
{
	struct pf_dir *d;
	bool start = false;

	pthread_mutex_lock(&pf->mu);
	d = pf->stopped ? NULL : dir_find(pf, dir, strlen(dir));
	if (d && !d->active) {
		d->active = true;
		start = true;
	}
	pthread_mutex_unlock(&pf->mu);
	if (start)
		pump(pf);
}

/* A file of a followed directory is being read.  Caller holds mu. */
static void note_dir_read(struct prefetch *pf, const char *key,
			  const char *etag)
{
	const char *slash = strrchr(key, '/');
	size_t dlen = slash ? (size_t)(slash - key) + 1 : 0;
	struct pf_dir *d = dir_find(pf, key, dlen);
	const struct cache_dirent *e;
	uint8_t *it;

	if (!d)
		return;
	e = cache_listing_find(d->l, key + dlen);
	if (!e || strcmp(e->etag, etag) != 0)
		return;
	it = &d->it[e - d->l->ents];
	if (*it & IT_READ)
		return;
	*it |= IT_READ;
	d->read++;
	d->active = true; /* a reader that reads files while listing */
	pf->streak = 0;
	pf->st.backoff = 0;
	if (*it & IT_CHARGED) {
		*it &= (uint8_t)~IT_CHARGED;
		d->charged--;
		d->charged_bytes -= e->size;
		pf->st.files_read++;
		if (d->window + 2 <= pf->cfg.window_max_files)
			d->window += 2;
		d->window_bytes += 2 * e->size;
	} else if ((*it & IT_STATE) == IT_TODO) {
		pf->st.files_read_early++;
		if (d->window < pf->cfg.window_files)
			d->window = pf->cfg.window_files;
		if (d->window_bytes < pf->cfg.window_bytes)
			d->window_bytes = pf->cfg.window_bytes;
	}
	cache_link_move_front(&pf->dir_lru, &d->lru);
}

/* ---- streams
 * -----------------------------------------------------------------
 */

static struct pf_stream *stream_new(struct prefetch *pf, uint64_t id,
				    const char *key, const char *etag,
				    uint64_t size)
{
	size_t klen = strlen(key), elen = strlen(etag);
	struct pf_stream *s = calloc(1, sizeof(*s));

	if (!s)
		return NULL;
	s->key = malloc(klen + elen + 2);
	if (!s->key) {
		free(s);
		return NULL;
	}
	memcpy(s->key, key, klen + 1);
	s->etag = s->key + klen + 1;
	memcpy(s->etag, etag, elen + 1);
	s->id = id;
	s->size = size;
	s->refs = 1;
	s->followed = true;
	cache_link_init(&s->lru);
	cache_map_insert(&pf->streams, &s->node,
			 cache_hash_bytes(&id, sizeof(id), 1));
	cache_link_move_front(&pf->stream_lru, &s->lru);
	while (pf->streams.n > pf->cfg.max_streams)
		stream_unfollow(pf, CACHE_CONTAINER_OF(pf->stream_lru.prev,
						       struct pf_stream, lru));
	pf->st.streams = pf->streams.n;
	return s;
}

static uint64_t align_up(uint64_t v, uint64_t a)
{
	return (v + a - 1) / a * a;
}

/* Sequential or not, and what that means for the window.  Caller holds
 * mu. */
static void stream_classify(struct prefetch *pf, struct pf_stream *s,
			    uint64_t off, uint64_t end)
{
	uint64_t slack = pf->cfg.readahead_bytes;
	/* The kernel's own read-ahead reaches us out of order, by up to a
	 * few of its windows, behind the stream's position and ahead of it
	 * (FUSE workers pick its READs up in any order): a read within the
	 * window either way is one of those, not a seek.  With one range of
	 * tolerance ahead, a sequential reader on a loaded machine looked
	 * random (under valgrind, four such reads in a row started a
	 * whole-file fill that fetched again 110 MiB of a 256 MiB file). */
	uint64_t near = s->window > slack ? s->window : slack;
	bool first = !s->seq && !s->random && !s->pos;
	bool seq =
		first ? off == 0 : off + near >= s->pos && off <= s->pos + near;

	if (seq) {
		/* Random reads count only in a row: the kernel's own
		 * read-ahead now and then reaches a sequential reader's
		 * stream far out of order, and those must not add up to a
		 * whole-file fill of what was read and let go. */
		s->seq++;
		s->random = 0;
		if (!s->window && (off == 0 || s->seq >= 2)) {
			s->window = pf->cfg.readahead_bytes;
			s->grow_pos = end;
		}
		if (end > s->pos)
			s->pos = end;
		return;
	}
	s->random++;
	s->seq = 0;
	s->pos = end;
	if (!s->filling) {
		s->window = 0;
		s->ra_next = s->ra_end = 0;
	}
}

static void stream_read(struct prefetch *pf, uint64_t id, const char *key,
			const char *etag, uint64_t size, uint64_t off,
			uint64_t end)
{
	struct pf_stream *s = stream_find(pf, id);
	uint64_t target;

	if (s && (s->size != size || strcmp(s->etag, etag) != 0)) {
		stream_unfollow(pf, s);
		s = NULL;
	}
	if (!s)
		s = stream_new(pf, id, key, etag, size);
	if (!s)
		return;
	cache_link_move_front(&pf->stream_lru, &s->lru);
	stream_classify(pf, s, off, end);
	if (s->window && !s->filling) {
		if (s->pos - s->grow_pos >= pf->env.block_bytes &&
		    s->window < pf->ra_max) {
			s->window = s->window * 2 < pf->ra_max ? s->window * 2
							       : pf->ra_max;
			s->grow_pos = s->pos;
		}
		if (s->ra_next < align_up(end, pf->env.block_bytes))
			s->ra_next = align_up(end, pf->env.block_bytes);
		target = align_up(s->pos + s->window, stream_chunk(pf, s));
		if (target > size)
			target = size;
		if (target > s->ra_end)
			s->ra_end = target;
	}
	if (!s->filling && pf->cfg.random_fill_after &&
	    s->random >= pf->cfg.random_fill_after && size <= pf->fill_max) {
		s->filling = true;
		s->ra_next = 0;
		s->ra_end = size;
		pf->st.fills_started++;
	}
}

void prefetch_on_read(struct prefetch *pf, uint64_t id, const char *key,
		      const char *etag, uint64_t object_size, uint64_t off,
		      size_t size)
{
	uint64_t end = off + size;

	if (end > object_size || end < off)
		end = object_size;
	pthread_mutex_lock(&pf->mu);
	if (pf->stopped) {
		pthread_mutex_unlock(&pf->mu);
		return;
	}
	if (pf->cfg.dir_prefetch)
		note_dir_read(pf, key, etag ? etag : "");
	if (pf->cfg.readahead && object_size > pf->env.block_bytes &&
	    off < object_size)
		stream_read(pf, id, key, etag ? etag : "", object_size, off,
			    end);
	pthread_mutex_unlock(&pf->mu);
	pump(pf);
}

void prefetch_get_stats(struct prefetch *pf, struct prefetch_stats *st)
{
	pthread_mutex_lock(&pf->mu);
	*st = pf->st;
	st->dirs_followed = pf->dirs.n;
	st->streams = pf->streams.n;
	st->inflight = pf->inflight;
	pthread_mutex_unlock(&pf->mu);
}
