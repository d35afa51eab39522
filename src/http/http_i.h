/* http: private interface between the engine (engine.c), the per-transfer
 * curl glue (xfer.c) and the request helpers (request.c).
 *
 * Everything here runs on the I/O thread unless it says otherwise.
 */
#ifndef OSSFS_HTTP_I_H
#define OSSFS_HTTP_I_H

#include <curl/curl.h>

#include "http.h"

struct perform_wait;

/* Engine-private state of one request, hung off req->priv_ from submit
 * until just before on_complete, so a finished request carries nothing
 * of the engine and may be submitted again. */
struct http_xfer {
	struct http_request *req;
	uint64_t seq;		 /* submission order, for cancel_tag */
	uint64_t due_ms;	 /* retry time while waiting out a backoff */
	unsigned slot;		 /* index in the engine's in-flight array */
	CURL *easy;		 /* while in flight */
	struct curl_slist *hdrs; /* while in flight */
	const struct http_engine_config *cfg;
	struct perform_wait *waiter; /* http_engine_perform's, or NULL */

	/* per attempt, reset by http_xfer_setup */
	size_t body_pos;  /* request body bytes handed to curl */
	uint64_t body_rx; /* response body bytes received */
	long cur_status;  /* of the last status line seen */
	int cb_err;	  /* why a callback stopped the transfer */
	char errbuf[CURL_ERROR_SIZE];
};

/* Configure x->easy (fresh or curl_easy_reset) for one attempt of x->req.
 * Returns 0 or -ENOMEM/-EINVAL; on error x->hdrs may be set and is
 * released by http_xfer_release. */
int http_xfer_setup(struct http_xfer *x);
/* After CURLMSG_DONE: fill req->err, status, err_text from the attempt.
 * Adds the attempt's byte counts to *bytes_in and *bytes_out. */
void http_xfer_collect(struct http_xfer *x, CURLcode code, uint64_t *bytes_in,
		       uint64_t *bytes_out);
/* Free what setup allocated (not the easy handle). */
void http_xfer_release(struct http_xfer *x);

/* One table from curl's result to -errno; os_errno is CURLINFO_OS_ERRNO. */
int http_errno_from_curl(CURLcode code, long os_errno);

#endif
