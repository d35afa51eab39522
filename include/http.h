/* http: the curl-multi engine.
 *
 * One I/O thread owns the CURLM handle and every easy handle.  Other
 * threads hand it requests through a bounded queue and wake it with
 * curl_multi_wakeup.  The engine admits at most max_connections transfers
 * into the multi handle at once, foreground requests first, so a request a
 * process is waiting on overtakes read-ahead and prefetch.
 *
 * Request lifecycle (ownership):
 *   http_request_new()              caller owns
 *   http_engine_submit(e, req)      engine owns from here
 *   req->prepare(req)               I/O thread, before every attempt:
 *                                   fills url/headers (signing)
 *   req->on_complete(req)           I/O thread, once; the callback owns
 *                                   req from here and must free it
 *                                   (http_request_free), possibly later
 *                                   from another thread.  It must not
 *                                   block.
 * http_engine_perform() is the synchronous form: it blocks the calling
 * thread (never the I/O thread) until the request is done; the caller
 * keeps ownership and reads the result fields.
 *
 * Retries: transport errors (connect, reset, timeout, stall, truncated
 * body) and HTTP 5xx/408/429 are retried with full-jitter exponential
 * backoff up to max_attempts; other 4xx are not.  A request may override
 * the decision with should_retry.  Before each retry the response fields
 * are reset and prepare is called again.
 */
#ifndef OSSFS_HTTP_H
#define OSSFS_HTTP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "base.h"

struct http_engine;
struct http_request;

struct http_engine_config {
	int max_connections;	 /* transfers in flight at once; default 96 */
	long connect_timeout_ms; /* default 10000 */
	long stall_timeout_s;	 /* no byte received for this long = fail+retry;
				    default 30 */
	long request_timeout_s;	 /* whole transfer; 0 = none (default) */
	int max_attempts;	 /* including the first; default 5 */
	long backoff_base_ms;	 /* default 100 */
	long backoff_max_ms;	 /* default 10000 */
	size_t queue_cap;    /* requests waiting for a slot; default 65536 */
	bool verbose;	     /* CURLOPT_VERBOSE to the log at debug level */
	const char *ca_file; /* optional */
	bool insecure;	     /* skip TLS verification (tests only) */
};

/* Fill with defaults. */
void http_engine_config_defaults(struct http_engine_config *cfg);

enum http_priority {
	HTTP_PRIO_FOREGROUND = 0, /* a process is waiting */
	HTTP_PRIO_READAHEAD = 1,
	HTTP_PRIO_BACKGROUND = 2, /* directory prefetch, write-back */
};
#define HTTP_PRIO_COUNT 3

typedef int (*http_prepare_fn)(struct http_request *req);
typedef void (*http_complete_fn)(struct http_request *req);
/* Return true to retry, false to finish with the current result. */
typedef bool (*http_retry_fn)(struct http_request *req);

struct http_request {
	/* ---- input, set by the caller or by prepare ---- */
	char *method;	       /* owned; "GET" etc. */
	char *url;	       /* owned; full URL */
	struct kvlist headers; /* sent as-is */
	/* Request body: either memory (not owned; must outlive the request)
	 * or a file range read with pread (fd not owned). */
	const void *body;
	size_t body_len;
	int body_fd; /* -1 = none */
	off_t body_fd_offset;
	bool no_body_response; /* HEAD */
	enum http_priority priority;
	uint64_t cancel_tag; /* for http_engine_cancel_tag; 0 = none */
	/* Response body limit; past it the transfer fails with -E2BIG. */
	size_t max_response_bytes; /* 0 = BUF_DEFAULT_MAX */
	/* Optional: write the response body into caller memory instead of
	 * resp_body (not owned; bytes past dest_cap fail with -E2BIG). */
	void *dest;
	size_t dest_cap;
	int max_attempts; /* 0 = engine default */

	http_prepare_fn prepare;      /* may be NULL */
	http_complete_fn on_complete; /* NULL only with http_engine_perform */
	http_retry_fn should_retry;   /* NULL = default policy */
	void *userdata;

	/* ---- output, valid in on_complete / after perform ---- */
	int err;     /* 0, or -errno for transport failure/cancel */
	long status; /* HTTP status, 0 if none */
	struct kvlist resp_headers; /* names as received */
	struct buf resp_body;	    /* unless dest was given */
	size_t dest_len;	    /* bytes written into dest */
	int attempts;
	char err_text[128]; /* curl's reason on transport failure */

	/* engine private */
	struct http_request *next_;
	void *priv_;
};

/* Allocates with empty lists; method/url NULL; body_fd -1. */
struct http_request *http_request_new(void);
void http_request_free(struct http_request *req);
int http_request_set(struct http_request *req, const char *method,
		     const char *url);
/* Clear outputs (called by the engine before each attempt). */
void http_request_reset_response(struct http_request *req);

/* Starts the I/O thread.  Returns NULL on failure. */
struct http_engine *http_engine_new(const struct http_engine_config *cfg);
/* Cancels everything in flight or queued (their on_complete runs with
 * err = -ECANCELED), joins the I/O thread, frees. */
void http_engine_free(struct http_engine *e);

/* Queue a request.  -EAGAIN when the queue is full and nowait, else blocks
 * for room; -ESHUTDOWN after shutdown began (ownership stays with the
 * caller on any error). */
int http_engine_submit(struct http_engine *e, struct http_request *req,
		       bool nowait);
/* Submit and wait.  Must not be called on the I/O thread. */
int http_engine_perform(struct http_engine *e, struct http_request *req);
/* Cancel queued and in-flight requests with this tag (-ECANCELED). */
void http_engine_cancel_tag(struct http_engine *e, uint64_t tag);
bool http_engine_on_io_thread(struct http_engine *e);

struct http_engine_stats {
	uint64_t requests;  /* attempts started */
	uint64_t completed; /* requests finished (any outcome) */
	uint64_t retries;
	uint64_t failures; /* finished with err or status >= 400 */
	uint64_t bytes_in;
	uint64_t bytes_out;
	unsigned in_flight;
	unsigned peak_in_flight;
	unsigned queued;
};
void http_engine_get_stats(struct http_engine *e, struct http_engine_stats *s);

/* Default retry classification, exposed for should_retry overrides. */
bool http_default_should_retry(const struct http_request *req);

#endif
