/* http: the curl-multi engine.
 *
 * Design note.
 *
 * Threads.  One I/O thread owns the CURLM handle, every easy handle and
 * every request from admission to completion; nothing curl-related is
 * touched anywhere else, so curl needs no locks and no share handle.
 * Other threads talk to it through e->mu: http_engine_submit appends to a
 * per-priority FIFO and calls curl_multi_wakeup, which makes the I/O
 * thread's curl_multi_poll return.  A wakeup that arrives before the poll
 * is not lost (it is a byte in a socketpair).  prepare, should_retry and
 * on_complete all run on the I/O thread, outside e->mu.
 *
 * Queues.  A request waits in one of these places, linked through
 * req->next_:
 *   queue[prio]   submitted, not yet admitted      (shared, e->mu)
 *   cancelled     pulled from queue[] by cancel_tag (shared, e->mu)
 *   delayed       waiting out a retry backoff, sorted by due time
 *   ready[prio]   backoff over, waiting for a slot
 *   inflight[]    attached to the multi handle (an array of
 *                 max_connections slots, not a list)
 * The last three belong to the I/O thread alone.  Admission takes, for each
 * priority from foreground down, first ready[] (retries have waited
 * longest) and then queue[], until max_connections transfers are in
 * flight.  The engine, not curl, holds the surplus: curl's own pending
 * queue is FIFO and would let prefetch starve a read a process waits for.
 * queue[] is bounded by queue_cap; a full queue blocks submitters (or
 * returns -EAGAIN), except on the I/O thread, which must never wait for
 * itself.
 *
 * Backoff.  Full jitter (AWS architecture blog, "Exponential Backoff and
 * Jitter"): the delay before retry n is uniform in [0, min(cap, base *
 * 2^(n-1))], drawn from a per-engine xorshift64* seeded from the clock.
 * Full jitter spreads a burst of throttled requests (503 SlowDown from
 * many parallel prefetches) over the whole window instead of retrying
 * them in lockstep.  A Retry-After in seconds on 429/503 raises the delay
 * (still capped).  The delay is a timer: the poll timeout is cut to the
 * earliest due retry; the I/O thread never sleeps.
 *
 * Constants.  96 transfers in flight by default: prefetch of small files
 * is bound by per-request latency (tens of ms to the first byte), not
 * bandwidth, and so is a large file over connections capped at
 * 100 Mbit/s each, so throughput grows with parallelism until the link
 * is full; 96 gets there on ordinary hosts (a 1 GiB `cat` measured
 * 490-530 MB/s with 64 and 540-600 MB/s with 96) and is still a modest
 * load for one client (it is an option, not a law).  5 attempts with
 * base 100 ms and cap 10 s wait at most 1.5 s in total (0.75 s expected;
 * more only when Retry-After asks), enough to ride out a short throttling
 * episode without holding a reader for minutes.  The 30 s stall limit
 * (under 1 byte/s) is far above any healthy first-byte time yet frees a
 * dead connection long before TCP would notice.  The multi handle caches
 * up to twice max_connections idle connections, so a burst that ends
 * does not close what the next burst needs.
 *
 * Cancellation.  cancel_tag removes queued matches at once (under e->mu)
 * and records (tag, next submission number); the I/O thread then cancels
 * delayed, ready and in-flight matches submitted before that number, so
 * a request submitted after the call is never cancelled by it.
 *
 * Shutdown.  http_engine_free sets stopping (submit fails -ESHUTDOWN),
 * wakes blocked submitters and waits for them to leave, wakes the I/O
 * thread, which cancels everything it holds or finds queued (each
 * on_complete sees -ECANCELED), and joins it.
 *
 * LOCK ORDERING: e->mu is a leaf; it is never held across a curl call
 * or a request callback.
 */
#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#include "http_i.h"

/* The poll timeout when no retry is due: only a safety net, every event
 * the engine waits for wakes the poll by itself. */
#define IDLE_POLL_MS 1000

struct rq {
	struct http_request *head, *tail;
	size_t n;
};

struct cancel_rec {
	uint64_t tag;
	uint64_t seq_limit; /* cancel only requests submitted before */
};

struct http_engine {
	struct http_engine_config cfg; /* ca_file owned */
	CURLM *multi;
	pthread_t thread;

	pthread_mutex_t mu;
	pthread_cond_t room_cv;		  /* queue[] has room, or stopping */
	pthread_cond_t idle_cv;		  /* the last blocked submitter left */
	struct rq queue[HTTP_PRIO_COUNT]; /* guarded by: mu */
	size_t queued;			  /* guarded by: mu */
	struct rq cancelled;		  /* guarded by: mu */
	struct cancel_rec *cancels;	  /* guarded by: mu */
	size_t n_cancels, cap_cancels;	  /* guarded by: mu */
	uint64_t next_seq;		  /* guarded by: mu */
	unsigned room_waiters;		  /* guarded by: mu */
	bool stopping;			  /* guarded by: mu */

	/* I/O thread only */
	struct rq ready[HTTP_PRIO_COUNT];
	struct rq delayed;
	struct http_xfer **inflight;
	unsigned n_inflight;
	CURL **pool;
	unsigned n_pool;
	uint64_t rng;

	/* written on the I/O thread, read by http_engine_get_stats */
	_Atomic uint64_t st_requests, st_completed, st_retries, st_failures;
	_Atomic uint64_t st_bytes_in, st_bytes_out;
	_Atomic unsigned st_in_flight, st_peak, st_waiting_retry;
};

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init_once(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static void stat_add(_Atomic uint64_t *v, uint64_t n)
{
	atomic_fetch_add_explicit(v, n, memory_order_relaxed);
}

static uint64_t stat_get(_Atomic uint64_t *v)
{
	return atomic_load_explicit(v, memory_order_relaxed);
}

/* ---- request queues ----------------------------------------------------- */

static void rq_push(struct rq *q, struct http_request *req)
{
	req->next_ = NULL;
	if (q->tail)
		q->tail->next_ = req;
	else
		q->head = req;
	q->tail = req;
	q->n++;
}

static struct http_request *rq_pop(struct rq *q)
{
	struct http_request *req = q->head;

	if (!req)
		return NULL;
	q->head = req->next_;
	if (!q->head)
		q->tail = NULL;
	req->next_ = NULL;
	q->n--;
	return req;
}

static void rq_append_all(struct rq *dst, struct rq *src)
{
	struct http_request *req;

	while ((req = rq_pop(src)))
		rq_push(dst, req);
}

static bool xfer_matches(const struct http_request *req, uint64_t tag,
			 uint64_t seq_limit)
{
	const struct http_xfer *x = req->priv_;

	return req->cancel_tag == tag && x->seq < seq_limit;
}

/* Move the requests matching (tag, seq_limit) from q to out, keeping the
 * order of both.  Returns how many moved. */
static size_t rq_take_matching(struct rq *q, uint64_t tag, uint64_t seq_limit,
			       struct rq *out)
{
	struct rq keep = { 0 };
	struct http_request *req;
	size_t moved = 0;

	while ((req = rq_pop(q))) {
		if (xfer_matches(req, tag, seq_limit)) {
			rq_push(out, req);
			moved++;
		} else {
			rq_push(&keep, req);
		}
	}
	*q = keep;
	return moved;
}

/* delayed is sorted by due_ms; equal times keep submission order. */
static void delayed_insert(struct rq *q, struct http_request *req)
{
	uint64_t due = ((struct http_xfer *)req->priv_)->due_ms;
	struct http_request **pp = &q->head;

	while (*pp && ((struct http_xfer *)(*pp)->priv_)->due_ms <= due)
		pp = &(*pp)->next_;
	req->next_ = *pp;
	*pp = req;
	if (!req->next_)
		q->tail = req;
	q->n++;
}

/* ---- easy handles ---------------------------------------------------------
 */

/* Easy handles are recycled so each keeps its allocations; connections
 * and the DNS cache live in the multi handle and are reused either way. */
static CURL *pool_get(struct http_engine *e)
{
	if (e->n_pool)
		return e->pool[--e->n_pool];
	return curl_easy_init();
}

static void pool_put(struct http_engine *e, CURL *h)
{
	if (e->n_pool < (unsigned)e->cfg.max_connections) {
		curl_easy_reset(h);
		e->pool[e->n_pool++] = h;
	} else {
		curl_easy_cleanup(h);
	}
}

/* ---- completion ------------------------------------------------------------
 */

struct perform_wait {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	bool done; /* guarded by: mu */
};

static void perform_done(struct perform_wait *w)
{
	/* The waiter may return and free w as soon as mu is released. */
	pthread_mutex_lock(&w->mu);
	w->done = true;
	pthread_cond_signal(&w->cv);
	pthread_mutex_unlock(&w->mu);
}

/* Hand the request back: the engine forgets it before on_complete, which
 * may free or resubmit it. */
static void finish(struct http_engine *e, struct http_request *req)
{
	struct http_xfer *x = req->priv_;
	struct perform_wait *w = x->waiter;
	http_complete_fn cb = req->on_complete;

	stat_add(&e->st_completed, 1);
	if (req->err || req->status >= 400)
		stat_add(&e->st_failures, 1);
	free(x);
	req->priv_ = NULL;
	req->next_ = NULL;
	if (w)
		perform_done(w);
	else
		cb(req);
}

static void finish_cancelled(struct http_engine *e, struct http_request *req)
{
	http_request_reset_response(req);
	req->err = -ECANCELED;
	str_lcpy(req->err_text, "cancelled", sizeof(req->err_text));
	finish(e, req);
}

static void finish_all_cancelled(struct http_engine *e, struct rq *q)
{
	struct http_request *req;

	while ((req = rq_pop(q)))
		finish_cancelled(e, req);
}

/* ---- attempts -------------------------------------------------------------
 */

static void inflight_add(struct http_engine *e, struct http_xfer *x)
{
	unsigned n;

	x->slot = e->n_inflight;
	e->inflight[e->n_inflight++] = x;
	n = atomic_fetch_add_explicit(&e->st_in_flight, 1,
				      memory_order_relaxed) +
	    1;
	if (n > atomic_load_explicit(&e->st_peak, memory_order_relaxed))
		atomic_store_explicit(&e->st_peak, n, memory_order_relaxed);
}

/* Take x off the multi handle and give its easy handle back. */
static void detach(struct http_engine *e, struct http_xfer *x)
{
	struct http_xfer *last = e->inflight[--e->n_inflight];

	last->slot = x->slot;
	e->inflight[x->slot] = last;
	curl_multi_remove_handle(e->multi, x->easy);
	http_xfer_release(x);
	pool_put(e, x->easy);
	x->easy = NULL;
	atomic_fetch_sub_explicit(&e->st_in_flight, 1, memory_order_relaxed);
}

static int attach(struct http_engine *e, struct http_xfer *x)
{
	int rc;

	x->easy = pool_get(e);
	if (!x->easy)
		return -ENOMEM;
	rc = http_xfer_setup(x);
	if (rc)
		goto fail_release;
	if (curl_multi_add_handle(e->multi, x->easy) != CURLM_OK) {
		rc = -ENOMEM;
		goto fail_release;
	}
	inflight_add(e, x);
	return 0;
fail_release:
	http_xfer_release(x);
	pool_put(e, x->easy);
	x->easy = NULL;
	return rc;
}

/* Failures before the request reaches curl (prepare, setup) are final:
 * they are the caller's or the allocator's, and would fail again. */
static void start_attempt(struct http_engine *e, struct http_request *req)
{
	int rc;

	http_request_reset_response(req);
	req->attempts++;
	stat_add(&e->st_requests, 1);
	rc = req->prepare ? req->prepare(req) : 0;
	if (rc) {
		str_lcpy(req->err_text, "prepare failed",
			 sizeof(req->err_text));
	} else {
		rc = attach(e, req->priv_);
		if (rc)
			str_lcpy(req->err_text, "request setup failed",
				 sizeof(req->err_text));
	}
	if (rc) {
		req->err = rc;
		finish(e, req);
	}
}

/* ---- retries --------------------------------------------------------------
 */

/* xorshift64*: good enough to decorrelate backoffs, and per engine so
 * no lock and no global state. */
static uint64_t rng_next(struct http_engine *e)
{
	uint64_t x = e->rng;

	x ^= x >> 12;
	x ^= x << 25;
	x ^= x >> 27;
	e->rng = x;
	return x * 0x2545F4914F6CDD1DULL;
}

static uint64_t retry_after_ms(const struct http_request *req)
{
	const char *v = kvlist_get(&req->resp_headers, "Retry-After");
	uint64_t s;

	if ((req->status != 429 && req->status != 503) || !v ||
	    str_to_u64(v, 10, &s) != 0 || s > UINT32_MAX)
		return 0;
	return s * 1000;
}

static uint64_t backoff_ms(struct http_engine *e,
			   const struct http_request *req)
{
	uint64_t cap = (uint64_t)e->cfg.backoff_max_ms;
	uint64_t ceil = (uint64_t)e->cfg.backoff_base_ms;
	uint64_t delay, hint;

	for (int i = 1; i < req->attempts && ceil < cap; i++)
		ceil *= 2;
	if (ceil > cap)
		ceil = cap;
	delay = rng_next(e) % (ceil + 1);
	hint = retry_after_ms(req);
	if (hint > delay)
		delay = hint < cap ? hint : cap;
	return delay;
}

static bool want_retry(struct http_engine *e, struct http_request *req)
{
	int max =
		req->max_attempts > 0 ? req->max_attempts : e->cfg.max_attempts;

	if (req->attempts >= max)
		return false;
	if (req->should_retry)
		return req->should_retry(req);
	return http_default_should_retry(req);
}

static void schedule_retry(struct http_engine *e, struct http_request *req)
{
	struct http_xfer *x = req->priv_;
	uint64_t delay = backoff_ms(e, req);
	const char *q = req->url ? strchr(req->url, '?') : NULL;

	/* The query may hold a presigned signature: log the path only. */
	log_debug("http: retry %d of %s %.*s in %llu ms (err %d, status %ld)",
		  req->attempts + 1, req->method,
		  q ? (int)(q - req->url) : (int)strlen(req->url), req->url,
		  (unsigned long long)delay, req->err, req->status);
	x->due_ms = time_mono_ms() + delay;
	delayed_insert(&e->delayed, req);
	stat_add(&e->st_retries, 1);
}

static void attempt_done(struct http_engine *e, struct http_xfer *x,
			 CURLcode code)
{
	struct http_request *req = x->req;
	uint64_t in = 0, out = 0;

	http_xfer_collect(x, code, &in, &out);
	stat_add(&e->st_bytes_in, in);
	stat_add(&e->st_bytes_out, out);
	detach(e, x);
	if (want_retry(e, req))
		schedule_retry(e, req);
	else
		finish(e, req);
}

/* Backoffs that have run out join ready[] to wait for a slot. */
static void promote_due(struct http_engine *e, uint64_t now_ms)
{
	struct http_request *req;

	while (e->delayed.head &&
	       ((struct http_xfer *)e->delayed.head->priv_)->due_ms <= now_ms) {
		req = rq_pop(&e->delayed);
		rq_push(&e->ready[req->priority], req);
	}
}

/* Published once per loop turn: readers of the stats cannot see the
 * I/O thread's lists. */
static void publish_waiting(struct http_engine *e)
{
	size_t n = e->delayed.n;

	for (int p = 0; p < HTTP_PRIO_COUNT; p++)
		n += e->ready[p].n;
	atomic_store_explicit(&e->st_waiting_retry, (unsigned)n,
			      memory_order_relaxed);
}

/* ---- cancellation ---------------------------------------------------------
 */

static void cancel_inflight(struct http_engine *e, uint64_t tag,
			    uint64_t seq_limit)
{
	/* Downwards: detach moves the last slot into the freed one. */
	for (unsigned i = e->n_inflight; i-- > 0;) {
		struct http_xfer *x = e->inflight[i];

		if (i >= e->n_inflight || !xfer_matches(x->req, tag, seq_limit))
			continue;
		detach(e, x);
		finish_cancelled(e, x->req);
	}
}

/* on_complete may call cancel_tag or submit; both only take e->mu, so
 * the lists walked here cannot change under the walk. */
static void cancel_tagged(struct http_engine *e, const struct cancel_rec *c)
{
	struct rq out = { 0 };

	rq_take_matching(&e->delayed, c->tag, c->seq_limit, &out);
	for (int p = 0; p < HTTP_PRIO_COUNT; p++)
		rq_take_matching(&e->ready[p], c->tag, c->seq_limit, &out);
	finish_all_cancelled(e, &out);
	cancel_inflight(e, c->tag, c->seq_limit);
}

/* Apply what other threads asked for since the last turn.  Returns true
 * once shutdown began. */
static bool take_control(struct http_engine *e)
{
	struct rq cancelled;
	struct cancel_rec *recs;
	size_t n_recs;
	bool stop;

	pthread_mutex_lock(&e->mu);
	stop = e->stopping;
	cancelled = e->cancelled;
	memset(&e->cancelled, 0, sizeof(e->cancelled));
	recs = e->cancels;
	n_recs = e->n_cancels;
	e->cancels = NULL;
	e->n_cancels = e->cap_cancels = 0;
	pthread_mutex_unlock(&e->mu);

	finish_all_cancelled(e, &cancelled);
	for (size_t i = 0; i < n_recs; i++)
		cancel_tagged(e, &recs[i]);
	free(recs);
	return stop;
}

/* Shutdown: everything the engine holds ends with -ECANCELED.  Submit
 * already fails, so callbacks cannot add to the queues. */
static void cancel_all(struct http_engine *e)
{
	struct rq all = { 0 };

	while (e->n_inflight) {
		struct http_xfer *x = e->inflight[e->n_inflight - 1];

		detach(e, x);
		finish_cancelled(e, x->req);
	}
	pthread_mutex_lock(&e->mu);
	rq_append_all(&all, &e->cancelled);
	for (int p = 0; p < HTTP_PRIO_COUNT; p++)
		rq_append_all(&all, &e->queue[p]);
	e->queued = 0;
	pthread_mutex_unlock(&e->mu);
	for (int p = 0; p < HTTP_PRIO_COUNT; p++)
		rq_append_all(&all, &e->ready[p]);
	rq_append_all(&all, &e->delayed);
	finish_all_cancelled(e, &all);
	publish_waiting(e);
}

/* ---- the I/O loop ---------------------------------------------------------
 */

/* Foreground first; within a priority, retries (which have waited out a
 * backoff) before fresh submissions. */
static struct http_request *next_admission(struct http_engine *e)
{
	struct http_request *req;

	for (int p = 0; p < HTTP_PRIO_COUNT; p++) {
		req = rq_pop(&e->ready[p]);
		if (req)
			return req;
		pthread_mutex_lock(&e->mu);
		req = rq_pop(&e->queue[p]);
		if (req) {
			e->queued--;
			if (e->room_waiters)
				pthread_cond_signal(&e->room_cv);
		}
		pthread_mutex_unlock(&e->mu);
		if (req)
			return req;
	}
	return NULL;
}

static void admit(struct http_engine *e)
{
	struct http_request *req;

	while (e->n_inflight < (unsigned)e->cfg.max_connections) {
		req = next_admission(e);
		if (!req)
			break;
		start_attempt(e, req);
	}
}

static unsigned drain_done(struct http_engine *e)
{
	struct http_xfer *x;
	unsigned done = 0;
	CURLMsg *msg;
	int left;

	while ((msg = curl_multi_info_read(e->multi, &left))) {
		if (msg->msg != CURLMSG_DONE)
			continue;
		x = NULL;
		curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, &x);
		attempt_done(e, x, msg->data.result);
		done++;
	}
	return done;
}

static int poll_timeout_ms(struct http_engine *e)
{
	uint64_t now, due;

	if (!e->delayed.head)
		return IDLE_POLL_MS;
	now = time_mono_ms();
	due = ((struct http_xfer *)e->delayed.head->priv_)->due_ms;
	if (due <= now)
		return 0;
	return due - now < IDLE_POLL_MS ? (int)(due - now) : IDLE_POLL_MS;
}

static void *io_main(void *arg)
{
	struct http_engine *e = arg;
	int running;

	while (!take_control(e)) {
		promote_due(e, time_mono_ms());
		admit(e);
		if (curl_multi_perform(e->multi, &running) != CURLM_OK)
			log_err("http: curl_multi_perform failed");
		/* Finished transfers freed slots: refill before waiting. */
		if (drain_done(e))
			continue;
		publish_waiting(e);
		if (curl_multi_poll(e->multi, NULL, 0, poll_timeout_ms(e),
				    NULL) != CURLM_OK)
			log_err("http: curl_multi_poll failed");
	}
	cancel_all(e);
	return NULL;
}

/* ---- setup and teardown ---------------------------------------------------
 */

void http_engine_config_defaults(struct http_engine_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->max_connections = 96;
	cfg->connect_timeout_ms = 10000;
	cfg->stall_timeout_s = 30;
	cfg->request_timeout_s = 0;
	cfg->max_attempts = 5;
	cfg->backoff_base_ms = 100;
	cfg->backoff_max_ms = 10000;
	cfg->queue_cap = 65536;
}

/* Zero or nonsense falls back to the default rather than failing: the
 * config comes from mount options already checked by main. */
static int copy_config(struct http_engine_config *dst,
		       const struct http_engine_config *src)
{
	struct http_engine_config def;

	http_engine_config_defaults(&def);
	*dst = *src;
	if (dst->max_connections <= 0)
		dst->max_connections = def.max_connections;
	if (dst->connect_timeout_ms <= 0)
		dst->connect_timeout_ms = def.connect_timeout_ms;
	if (dst->stall_timeout_s <= 0)
		dst->stall_timeout_s = def.stall_timeout_s;
	if (dst->max_attempts <= 0)
		dst->max_attempts = def.max_attempts;
	if (dst->backoff_base_ms <= 0)
		dst->backoff_base_ms = def.backoff_base_ms;
	if (dst->backoff_max_ms < dst->backoff_base_ms)
		dst->backoff_max_ms = dst->backoff_base_ms;
	if (dst->queue_cap == 0)
		dst->queue_cap = def.queue_cap;
	dst->ca_file = NULL;
	if (src->ca_file) {
		dst->ca_file = str_dup(src->ca_file);
		if (!dst->ca_file)
			return -ENOMEM;
	}
	return 0;
}

static int multi_setup(struct http_engine *e)
{
	long n = e->cfg.max_connections;
	bool ok;

	e->multi = curl_multi_init();
	if (!e->multi)
		return -ENOMEM;
	ok = !curl_multi_setopt(e->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, n);
	ok = ok &&
	     !curl_multi_setopt(e->multi, CURLMOPT_MAX_HOST_CONNECTIONS, n);
	ok = ok && !curl_multi_setopt(e->multi, CURLMOPT_MAXCONNECTS, 2 * n);
	ok = ok && !curl_multi_setopt(e->multi, CURLMOPT_PIPELINING,
				      (long)CURLPIPE_NOTHING);
	return ok ? 0 : -EINVAL;
}

/* Frees what http_engine_new built; the I/O thread is not running. */
static void engine_destroy(struct http_engine *e)
{
	while (e->n_pool)
		curl_easy_cleanup(e->pool[--e->n_pool]);
	if (e->multi)
		curl_multi_cleanup(e->multi);
	free(e->pool);
	free(e->inflight);
	free(e->cancels);
	free((char *)e->cfg.ca_file);
	pthread_cond_destroy(&e->idle_cv);
	pthread_cond_destroy(&e->room_cv);
	pthread_mutex_destroy(&e->mu);
	free(e);
}

static int engine_alloc(struct http_engine **out,
			const struct http_engine_config *cfg)
{
	struct http_engine *e = calloc(1, sizeof(*e));
	int rc = -ENOMEM;

	if (!e)
		return -ENOMEM;
	pthread_mutex_init(&e->mu, NULL);
	pthread_cond_init(&e->room_cv, NULL);
	pthread_cond_init(&e->idle_cv, NULL);
	*out = e;
	if (copy_config(&e->cfg, cfg))
		return rc;
	e->inflight =
		calloc((size_t)e->cfg.max_connections, sizeof(*e->inflight));
	e->pool = calloc((size_t)e->cfg.max_connections, sizeof(*e->pool));
	if (!e->inflight || !e->pool)
		return rc;
	e->rng = time_mono_ns() ^ (uint64_t)(uintptr_t)e;
	if (!e->rng)
		e->rng = 0x9E3779B97F4A7C15ULL;
	return multi_setup(e);
}

struct http_engine *http_engine_new(const struct http_engine_config *cfg)
{
	struct http_engine *e = NULL;
	int rc;

	pthread_once(&curl_once, curl_init_once);
	if (curl_init_rc != CURLE_OK) {
		log_err("http: curl_global_init failed: %s",
			curl_easy_strerror(curl_init_rc));
		return NULL;
	}
	rc = engine_alloc(&e, cfg);
	if (rc)
		goto fail_destroy;
	/* Held across pthread_create so e->thread is written before the
	 * I/O thread (which takes mu first) can run a callback. */
	pthread_mutex_lock(&e->mu);
	rc = -pthread_create(&e->thread, NULL, io_main, e);
	pthread_mutex_unlock(&e->mu);
	if (rc)
		goto fail_destroy;
	return e;
fail_destroy:
	log_err("http: engine setup failed: %s", strerror(-rc));
	if (e)
		engine_destroy(e);
	return NULL;
}

void http_engine_free(struct http_engine *e)
{
	if (!e)
		return;
	/* Joining from the I/O thread would wait for itself. */
	assert(!http_engine_on_io_thread(e));
	pthread_mutex_lock(&e->mu);
	e->stopping = true;
	pthread_cond_broadcast(&e->room_cv);
	while (e->room_waiters)
		pthread_cond_wait(&e->idle_cv, &e->mu);
	pthread_mutex_unlock(&e->mu);
	curl_multi_wakeup(e->multi);
	pthread_join(e->thread, NULL);
	engine_destroy(e);
}

/* ---- submission -----------------------------------------------------------
 */

/* Called with e->mu held; returns with it held. */
static int wait_for_room(struct http_engine *e, bool nowait)
{
	int rc = 0;

	while (!e->stopping && e->queued >= e->cfg.queue_cap) {
		if (nowait || http_engine_on_io_thread(e)) {
			rc = -EAGAIN;
			break;
		}
		e->room_waiters++;
		pthread_cond_wait(&e->room_cv, &e->mu);
		e->room_waiters--;
	}
	if (e->stopping) {
		rc = -ESHUTDOWN;
		if (!e->room_waiters)
			pthread_cond_broadcast(&e->idle_cv);
	}
	return rc;
}

/* waiter != NULL: http_engine_perform, signal it instead of on_complete. */
static int submit(struct http_engine *e, struct http_request *req, bool nowait,
		  struct perform_wait *waiter)
{
	struct http_xfer *x;
	int rc;

	if ((!req->on_complete && !waiter) || req->priv_)
		return -EINVAL;
	x = calloc(1, sizeof(*x));
	if (!x)
		return -ENOMEM;
	x->req = req;
	x->cfg = &e->cfg;
	x->waiter = waiter;
	if ((unsigned)req->priority >= HTTP_PRIO_COUNT)
		req->priority = HTTP_PRIO_BACKGROUND;
	pthread_mutex_lock(&e->mu);
	rc = wait_for_room(e, nowait);
	if (rc)
		goto fail_unlock;
	x->seq = e->next_seq++;
	req->priv_ = x;
	req->attempts = 0;
	rq_push(&e->queue[req->priority], req);
	e->queued++;
	pthread_mutex_unlock(&e->mu);
	curl_multi_wakeup(e->multi);
	return 0;
fail_unlock:
	pthread_mutex_unlock(&e->mu);
	free(x);
	return rc;
}

/* On the I/O thread a full queue returns -EAGAIN even without nowait:
 * the thread that would make room is the one that would wait. */
int http_engine_submit(struct http_engine *e, struct http_request *req,
		       bool nowait)
{
	return submit(e, req, nowait, NULL);
}

/* Returns 0 once the request has finished (its outcome is in req->err and
 * req->status), or the -errno of a failed submission.  on_complete is not
 * called; prepare, should_retry and userdata work as for submit. */
int http_engine_perform(struct http_engine *e, struct http_request *req)
{
	struct perform_wait w = { .done = false };
	int rc;

	assert(!http_engine_on_io_thread(e));
	if (http_engine_on_io_thread(e))
		return -EDEADLK;
	pthread_mutex_init(&w.mu, NULL);
	pthread_cond_init(&w.cv, NULL);
	rc = submit(e, req, false, &w);
	pthread_mutex_lock(&w.mu);
	while (!rc && !w.done)
		pthread_cond_wait(&w.cv, &w.mu);
	pthread_mutex_unlock(&w.mu);
	pthread_cond_destroy(&w.cv);
	pthread_mutex_destroy(&w.mu);
	return rc;
}

void http_engine_cancel_tag(struct http_engine *e, uint64_t tag)
{
	struct cancel_rec *recs;
	size_t cap;

	if (tag == 0)
		return;
	pthread_mutex_lock(&e->mu);
	if (e->stopping)
		goto out_unlock; /* everything is being cancelled anyway */
	for (int p = 0; p < HTTP_PRIO_COUNT; p++)
		e->queued -= rq_take_matching(&e->queue[p], tag, UINT64_MAX,
					      &e->cancelled);
	if (e->room_waiters)
		pthread_cond_broadcast(&e->room_cv);
	if (e->n_cancels == e->cap_cancels) {
		cap = e->cap_cancels ? 2 * e->cap_cancels : 8;
		recs = realloc(e->cancels, cap * sizeof(*recs));
		if (!recs) {
			log_err("http: out of memory cancelling in-flight "
				"requests of tag %llu",
				(unsigned long long)tag);
			goto out_unlock;
		}
		e->cancels = recs;
		e->cap_cancels = cap;
	}
	e->cancels[e->n_cancels].tag = tag;
	e->cancels[e->n_cancels].seq_limit = e->next_seq;
	e->n_cancels++;
out_unlock:
	pthread_mutex_unlock(&e->mu);
	curl_multi_wakeup(e->multi);
}

bool http_engine_on_io_thread(struct http_engine *e)
{
	return pthread_equal(pthread_self(), e->thread) != 0;
}

void http_engine_get_stats(struct http_engine *e, struct http_engine_stats *s)
{
	memset(s, 0, sizeof(*s));
	s->requests = stat_get(&e->st_requests);
	s->completed = stat_get(&e->st_completed);
	s->retries = stat_get(&e->st_retries);
	s->failures = stat_get(&e->st_failures);
	s->bytes_in = stat_get(&e->st_bytes_in);
	s->bytes_out = stat_get(&e->st_bytes_out);
	s->in_flight =
		atomic_load_explicit(&e->st_in_flight, memory_order_relaxed);
	s->peak_in_flight =
		atomic_load_explicit(&e->st_peak, memory_order_relaxed);
	pthread_mutex_lock(&e->mu);
	s->queued = (unsigned)e->queued;
	pthread_mutex_unlock(&e->mu);
	s->queued += atomic_load_explicit(&e->st_waiting_retry,
					  memory_order_relaxed);
}
