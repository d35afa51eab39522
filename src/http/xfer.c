/* http: one attempt of one request on one curl easy handle — options,
 * request headers, body source, response callbacks and the result.
 * Runs on the I/O thread only.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "http_i.h"

/* Error bodies of non-2xx responses are kept for the caller to parse
 * (OSS error XML is a few hundred bytes) even when max_response_bytes was
 * sized for a tiny range; anything past this is dropped, not failed. */
#define ERROR_BODY_KEEP_BYTES ((size_t)64 << 10)
/* A server sending more response headers than this is broken. */
#define RESP_HEADERS_MAX 512
/* Bigger than curl's 16 KiB default: fewer callbacks per MiB, and
 * 64 connections x 128 KiB stays small next to the data cache. */
#define XFER_BUFFER_BYTES (128L << 10)

static bool is_2xx(long status)
{
	return status >= 200 && status <= 299;
}

/* ---- response ----------------------------------------------------------- */

/* "HTTP/1.1 206 Partial Content" → 206; 0 when unparsable. */
static long parse_status_line(const char *p, size_t len)
{
	const char *sp = memchr(p, ' ', len);
	long status = 0;

	if (!sp)
		return 0;
	for (sp++; sp < p + len && *sp >= '0' && *sp <= '9'; sp++)
		status = status * 10 + (*sp - '0');
	return status <= 999 ? status : 0;
}

static void trim_span(const char **p, size_t *len)
{
	while (*len && (**p == ' ' || **p == '\t')) {
		(*p)++;
		(*len)--;
	}
	while (*len && ((*p)[*len - 1] == ' ' || (*p)[*len - 1] == '\t' ||
			(*p)[*len - 1] == '\r' || (*p)[*len - 1] == '\n'))
		(*len)--;
}

/* Each status line starts a new response (a 100 Continue, a redirect not
 * followed), so the headers collected so far belong to the old one. */
static size_t on_header(char *p, size_t size, size_t nmemb, void *ud)
{
	struct http_xfer *x = ud;
	struct http_request *req = x->req;
	size_t total = size * nmemb, name_len, value_len;
	const char *colon, *name = p, *value;

	if (total >= 5 && memcmp(p, "HTTP/", 5) == 0) {
		kvlist_clear(&req->resp_headers);
		x->cur_status = parse_status_line(p, total);
		return total;
	}
	colon = memchr(p, ':', total);
	if (!colon)
		return total; /* the blank line that ends the block */
	if (req->resp_headers.n >= RESP_HEADERS_MAX) {
		x->cb_err = -E2BIG;
		return 0;
	}
	name_len = (size_t)(colon - p);
	value = colon + 1;
	value_len = total - name_len - 1;
	trim_span(&name, &name_len);
	trim_span(&value, &value_len);
	if (kvlist_addn(&req->resp_headers, name, name_len, value, value_len)) {
		x->cb_err = -ENOMEM;
		return 0;
	}
	return total;
}

static void keep_error_body(struct http_request *req, const char *p, size_t len)
{
	size_t room = ERROR_BODY_KEEP_BYTES > req->resp_body.len
			      ? ERROR_BODY_KEEP_BYTES - req->resp_body.len
			      : 0;

	if (req->resp_body.max_bytes < ERROR_BODY_KEEP_BYTES)
		req->resp_body.max_bytes = ERROR_BODY_KEEP_BYTES;
	/* Losing part of an error body is harmless; the status says it. */
	(void)buf_append(&req->resp_body, p, len < room ? len : room);
}

/* A short return makes curl fail the transfer with CURLE_WRITE_ERROR;
 * cb_err says why. */
static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	struct http_xfer *x = ud;
	struct http_request *req = x->req;
	size_t total = size * nmemb;
	int rc;

	x->body_rx += total;
	if (!is_2xx(x->cur_status)) {
		keep_error_body(req, p, total);
		return total;
	}
	if (req->dest) {
		if (total > req->dest_cap - req->dest_len) {
			x->cb_err = -E2BIG;
			return 0;
		}
		memcpy((char *)req->dest + req->dest_len, p, total);
		req->dest_len += total;
		return total;
	}
	rc = buf_append(&req->resp_body, p, total);
	if (rc) {
		x->cb_err = rc;
		return 0;
	}
	return total;
}

/* ---- request body ------------------------------------------------------- */

static size_t read_fd(struct http_xfer *x, char *out, size_t want)
{
	const struct http_request *req = x->req;
	ssize_t n;

	do {
		n = pread(req->body_fd, out, want,
			  req->body_fd_offset + (off_t)x->body_pos);
	} while (n < 0 && errno == EINTR);
	if (n <= 0) {
		/* 0 means the file shrank under us: the length we promised
		 * can no longer be sent. */
		x->cb_err = n < 0 ? -errno : -EIO;
		return CURL_READFUNC_ABORT;
	}
	return (size_t)n;
}

static size_t on_read(char *out, size_t size, size_t nmemb, void *ud)
{
	struct http_xfer *x = ud;
	const struct http_request *req = x->req;
	size_t want = size * nmemb, left = req->body_len - x->body_pos;
	size_t n;

	if (want > left)
		want = left;
	if (want == 0)
		return 0;
	if (req->body_fd >= 0) {
		n = read_fd(x, out, want);
		if (n == CURL_READFUNC_ABORT)
			return n;
	} else {
		memcpy(out, (const char *)req->body + x->body_pos, want);
		n = want;
	}
	x->body_pos += n;
	return n;
}

/* curl rewinds when it must resend the body (a dead reused connection). */
static int on_seek(void *ud, curl_off_t offset, int origin)
{
	struct http_xfer *x = ud;

	if (origin != SEEK_SET || offset < 0 ||
	    (size_t)offset > x->req->body_len)
		return CURL_SEEKFUNC_CANTSEEK;
	x->body_pos = (size_t)offset;
	return CURL_SEEKFUNC_OK;
}

/* ---- verbose logging ---------------------------------------------------- */

/* Length of the name when the line is a header that must not be logged,
 * else 0. */
static size_t secret_header_len(const char *line, size_t len)
{
	static const char *const names[] = {
		"authorization",
		"proxy-authorization",
		"x-oss-security-token",
		"x-amz-security-token",
		"cookie",
	};

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(names); i++) {
		size_t n = strlen(names[i]);

		if (len > n && line[n] == ':' &&
		    strncasecmp(line, names[i], n) == 0)
			return n;
	}
	return 0;
}

/* Outgoing headers carry the signature and the STS token, and a presigned
 * request line carries a signature in its query: log neither. */
static void log_header_out(const char *data, size_t size)
{
	const char *p = data, *end = data + size;
	bool first = true;

	while (p < end) {
		const char *nl = memchr(p, '\n', (size_t)(end - p));
		size_t len = (size_t)((nl ? nl : end) - p);
		const char *q = first ? memchr(p, '?', len) : NULL;
		size_t secret;

		if (len && p[len - 1] == '\r')
			len--;
		secret = secret_header_len(p, len);
		if (secret)
			log_debug("http > %.*s: <redacted>", (int)secret, p);
		else if (q)
			log_debug("http > %.*s?<query>", (int)(q - p), p);
		else if (len)
			log_debug("http > %.*s", (int)len, p);
		first = false;
		p = nl ? nl + 1 : end;
	}
}

static int on_debug(CURL *h, curl_infotype type, char *data, size_t size,
		    void *ud)
{
	int len = (int)size;

	while (len && (data[len - 1] == '\n' || data[len - 1] == '\r'))
		len--;

	switch (type) {
	case CURLINFO_TEXT:
		log_debug("http * %.*s", len, data);
		break;
	case CURLINFO_HEADER_IN:
		log_debug("http < %.*s", len, data);
		break;
	case CURLINFO_HEADER_OUT:
		log_header_out(data, size);
		break;
	default:
		break;
	}
	return 0;
}

/* ---- setup -------------------------------------------------------------- */

static int add_header(struct curl_slist **list, const char *name,
		      const char *value)
{
	struct buf line;
	struct curl_slist *n;
	int rc;

	buf_init(&line, 0);
	/* "Name:" would make curl drop the header; "Name;" sends it empty. */
	rc = *value ? buf_appendf(&line, "%s: %s", name, value)
		    : buf_appendf(&line, "%s;", name);
	if (rc)
		goto out;
	n = curl_slist_append(*list, line.data);
	if (!n) {
		rc = -ENOMEM;
		goto out;
	}
	*list = n;
out:
	buf_fini(&line);
	return rc;
}

/* A bare "Name:" removes a header curl would add on its own. */
static int suppress_header(struct curl_slist **list, const char *line)
{
	struct curl_slist *n = curl_slist_append(*list, line);

	if (!n)
		return -ENOMEM;
	*list = n;
	return 0;
}

/* The request goes out with exactly the headers that were signed: no
 * Expect: 100-continue (an extra round trip per PUT) and no default
 * Content-Type on POST (V1 signs Content-Type). */
static int build_headers(struct http_xfer *x)
{
	const struct kvlist *h = &x->req->headers;
	int rc = 0;

	for (size_t i = 0; i < h->n && !rc; i++)
		rc = add_header(&x->hdrs, h->items[i].name, h->items[i].value);
	if (!rc && !kvlist_get(h, "Expect"))
		rc = suppress_header(&x->hdrs, "Expect:");
	if (!rc && !kvlist_get(h, "Content-Type"))
		rc = suppress_header(&x->hdrs, "Content-Type:");
	return rc;
}

static bool set_transport(CURL *h, const struct http_engine_config *cfg)
{
	bool ok = true;

	ok = ok && !curl_easy_setopt(h, CURLOPT_HTTP_VERSION,
				     (long)CURL_HTTP_VERSION_1_1);
	ok = ok && !curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	ok = ok && !curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
	ok = ok && !curl_easy_setopt(h, CURLOPT_TCP_KEEPALIVE, 1L);
	ok = ok && !curl_easy_setopt(h, CURLOPT_TCP_KEEPIDLE, 30L);
	ok = ok && !curl_easy_setopt(h, CURLOPT_TCP_KEEPINTVL, 15L);
	ok = ok && !curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS,
				     cfg->connect_timeout_ms);
	/* A stall is less than 1 byte/s for stall_timeout_s seconds. */
	ok = ok && !curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	ok = ok &&
	     !curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, cfg->stall_timeout_s);
	if (cfg->request_timeout_s > 0)
		ok = ok && !curl_easy_setopt(h, CURLOPT_TIMEOUT_MS,
					     cfg->request_timeout_s * 1000L);
	ok = ok && !curl_easy_setopt(h, CURLOPT_BUFFERSIZE, XFER_BUFFER_BYTES);
	ok = ok &&
	     !curl_easy_setopt(h, CURLOPT_UPLOAD_BUFFERSIZE, XFER_BUFFER_BYTES);
	if (cfg->ca_file)
		ok = ok && !curl_easy_setopt(h, CURLOPT_CAINFO, cfg->ca_file);
	if (cfg->insecure) {
		ok = ok && !curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
		ok = ok && !curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (cfg->verbose) {
		ok = ok && !curl_easy_setopt(h, CURLOPT_VERBOSE, 1L);
		ok = ok &&
		     !curl_easy_setopt(h, CURLOPT_DEBUGFUNCTION, on_debug);
	}
	return ok;
}

static bool set_callbacks(CURL *h, struct http_xfer *x)
{
	bool ok = true;

	ok = ok && !curl_easy_setopt(h, CURLOPT_PRIVATE, x);
	ok = ok && !curl_easy_setopt(h, CURLOPT_ERRORBUFFER, x->errbuf);
	ok = ok && !curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
	ok = ok && !curl_easy_setopt(h, CURLOPT_HEADERDATA, x);
	ok = ok && !curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	ok = ok && !curl_easy_setopt(h, CURLOPT_WRITEDATA, x);
	ok = ok && !curl_easy_setopt(h, CURLOPT_READFUNCTION, on_read);
	ok = ok && !curl_easy_setopt(h, CURLOPT_READDATA, x);
	ok = ok && !curl_easy_setopt(h, CURLOPT_SEEKFUNCTION, on_seek);
	ok = ok && !curl_easy_setopt(h, CURLOPT_SEEKDATA, x);
	return ok;
}

/* PUT uploads through the read callback with a known length; POST sends
 * the same callback's bytes with POSTFIELDSIZE; HEAD (or no_body_response)
 * is NOBODY; anything else is a custom verb, with a body if one is set. */
static bool set_method(CURL *h, const struct http_request *req)
{
	const char *m = req->method;
	curl_off_t len = (curl_off_t)req->body_len;
	bool has_body = req->body_len > 0 || req->body || req->body_fd >= 0;
	bool ok = true;

	if (str_ieq(m, "PUT")) {
		ok = ok && !curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		ok = ok && !curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, len);
	} else if (str_ieq(m, "POST")) {
		ok = ok && !curl_easy_setopt(h, CURLOPT_POST, 1L);
		ok = ok &&
		     !curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, len);
	} else if (!str_ieq(m, "GET") && !str_ieq(m, "HEAD")) {
		if (has_body) {
			ok = ok && !curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
			ok = ok && !curl_easy_setopt(
					   h, CURLOPT_INFILESIZE_LARGE, len);
		}
		ok = ok && !curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, m);
	}
	if (req->no_body_response || str_ieq(m, "HEAD"))
		ok = ok && !curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	return ok;
}

int http_xfer_setup(struct http_xfer *x)
{
	struct http_request *req = x->req;
	CURL *h = x->easy;
	int rc;

	x->body_pos = 0;
	x->body_rx = 0;
	x->cur_status = 0;
	x->cb_err = 0;
	x->errbuf[0] = '\0';
	if (!req->method || !req->url ||
	    (req->body_len && !req->body && req->body_fd < 0))
		return -EINVAL;
	rc = build_headers(x);
	if (rc)
		return rc;
	if (!set_transport(h, x->cfg) || !set_callbacks(h, x) ||
	    !set_method(h, req) || curl_easy_setopt(h, CURLOPT_URL, req->url) ||
	    curl_easy_setopt(h, CURLOPT_HTTPHEADER, x->hdrs))
		return -ENOMEM;
	return 0;
}

void http_xfer_release(struct http_xfer *x)
{
	curl_slist_free_all(x->hdrs);
	x->hdrs = NULL;
}

/* ---- result ------------------------------------------------------------- */

/* curl flags a body cut short on a closed connection (PARTIAL_FILE); this
 * also catches one it let pass, so a short 2xx is never taken as whole. */
static int check_length(struct http_xfer *x)
{
	curl_off_t want = -1;

	if (x->req->no_body_response || !is_2xx(x->req->status))
		return 0;
	if (curl_easy_getinfo(x->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
			      &want) != CURLE_OK ||
	    want < 0 || x->body_rx >= (uint64_t)want)
		return 0;
	snprintf(x->req->err_text, sizeof(x->req->err_text),
		 "truncated body: %llu of %lld bytes",
		 (unsigned long long)x->body_rx, (long long)want);
	return -ECONNRESET;
}

static int attempt_errno(struct http_xfer *x, CURLcode code)
{
	long os_errno = 0;

	/* A callback that stopped the transfer knows the real reason. */
	if (x->cb_err &&
	    (code == CURLE_WRITE_ERROR || code == CURLE_ABORTED_BY_CALLBACK ||
	     code == CURLE_READ_ERROR))
		return x->cb_err;
	if (code == CURLE_COULDNT_CONNECT)
		curl_easy_getinfo(x->easy, CURLINFO_OS_ERRNO, &os_errno);
	return http_errno_from_curl(code, os_errno);
}

void http_xfer_collect(struct http_xfer *x, CURLcode code, uint64_t *bytes_in,
		       uint64_t *bytes_out)
{
	struct http_request *req = x->req;
	curl_off_t up = 0, down = 0;
	long status = 0;

	curl_easy_getinfo(x->easy, CURLINFO_RESPONSE_CODE, &status);
	curl_easy_getinfo(x->easy, CURLINFO_SIZE_UPLOAD_T, &up);
	curl_easy_getinfo(x->easy, CURLINFO_SIZE_DOWNLOAD_T, &down);
	*bytes_in += down > 0 ? (uint64_t)down : 0;
	*bytes_out += up > 0 ? (uint64_t)up : 0;
	req->status = status;
	req->err = attempt_errno(x, code);
	if (req->err == -E2BIG && x->cb_err == -E2BIG)
		str_lcpy(req->err_text, "response larger than its limit",
			 sizeof(req->err_text));
	else if (req->err)
		str_lcpy(req->err_text,
			 x->errbuf[0] ? x->errbuf : curl_easy_strerror(code),
			 sizeof(req->err_text));
	else
		req->err = check_length(x);
}
