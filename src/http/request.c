/* http: request objects, the curl → errno table and the default retry
 * classification.  Nothing here touches the engine's state.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "http_i.h"

struct http_request *http_request_new(void)
{
	struct http_request *req = calloc(1, sizeof(*req));

	if (!req)
		return NULL;
	kvlist_init(&req->headers);
	kvlist_init(&req->resp_headers);
	buf_init(&req->resp_body, 0);
	req->body_fd = -1;
	req->priority = HTTP_PRIO_FOREGROUND;
	return req;
}

void http_request_free(struct http_request *req)
{
	if (!req)
		return;
	free(req->method);
	free(req->url);
	kvlist_fini(&req->headers);
	kvlist_fini(&req->resp_headers);
	buf_fini(&req->resp_body);
	free(req);
}

int http_request_set(struct http_request *req, const char *method,
		     const char *url)
{
	char *m = str_dup(method);
	char *u = str_dup(url);
	int rc = -ENOMEM;

	if (!m || !u)
		goto fail_free;
	free(req->method);
	free(req->url);
	req->method = m;
	req->url = u;
	return 0;
fail_free:
	free(m);
	free(u);
	return rc;
}

/* attempts is the engine's running count and survives the reset. */
void http_request_reset_response(struct http_request *req)
{
	req->err = 0;
	req->status = 0;
	kvlist_clear(&req->resp_headers);
	buf_reset(&req->resp_body);
	req->resp_body.max_bytes = req->max_response_bytes
					   ? req->max_response_bytes
					   : BUF_DEFAULT_MAX;
	req->dest_len = 0;
	req->err_text[0] = '\0';
}

/* A connect that failed for a routing reason says so; everything else
 * curl calls "couldn't connect" is a refusal in practice. */
static int connect_errno(long os_errno)
{
	switch (os_errno) {
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ETIMEDOUT:
		return -(int)os_errno;
	default:
		return -ECONNREFUSED;
	}
}

/* DNS failure is -ENXIO ("no such address"), kept apart from
 * -EHOSTUNREACH so a mistyped endpoint fails at once instead of being
 * retried like a flapping route.  A connection that ended early, at any
 * point (send, receive, nothing at all, body shorter than promised), is
 * -ECONNRESET; a failed TLS handshake is -ECONNABORTED.  Both are retried.
 */
int http_errno_from_curl(CURLcode code, long os_errno)
{
	switch (code) {
	case CURLE_OK:
		return 0;
	case CURLE_COULDNT_CONNECT:
		return connect_errno(os_errno);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_RESOLVE_PROXY:
		return -ENXIO;
	case CURLE_OPERATION_TIMEDOUT:
		return -ETIMEDOUT;
	case CURLE_SEND_ERROR:
	case CURLE_RECV_ERROR:
	case CURLE_GOT_NOTHING:
	case CURLE_PARTIAL_FILE:
		return -ECONNRESET;
	case CURLE_SSL_CONNECT_ERROR:
		return -ECONNABORTED;
	case CURLE_OUT_OF_MEMORY:
		return -ENOMEM;
	case CURLE_URL_MALFORMAT:
	case CURLE_UNSUPPORTED_PROTOCOL:
		return -EINVAL;
	case CURLE_ABORTED_BY_CALLBACK:
		return -ECANCELED;
	case CURLE_WEIRD_SERVER_REPLY:
		return -EPROTO;
	default:
		return -EIO;
	}
}

bool http_default_should_retry(const struct http_request *req)
{
	switch (-req->err) {
	case 0:
		break;
	case ECONNREFUSED:
	case ECONNRESET:
	case ECONNABORTED:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENETUNREACH:
		return true;
	default:
		return false;
	}
	return (req->status >= 500 && req->status <= 599) ||
	       req->status == 408 || req->status == 429;
}
