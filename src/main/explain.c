/* Probe failures in words.  The OSS error codes are the ones the service
 * documents for a bucket-level request; S3-compatible servers use the same
 * names.  The request id goes at the end: it is what support asks for. */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "explain_i.h"
#include "options_i.h"

struct code_reason {
	const char *code;
	int exit_code;
	const char *fmt; /* {bucket} and {url} are replaced */
};

static const struct code_reason code_reasons[] = {
	{ "NoSuchBucket", OSSFS_EXIT_REJECTED,
	  "bucket '{bucket}' does not exist at {url}" },
	{ "InvalidBucketName", OSSFS_EXIT_REJECTED,
	  "'{bucket}' is not a valid bucket name for {url}" },
	{ "InvalidAccessKeyId", OSSFS_EXIT_REJECTED,
	  "the access key id was not accepted by {url}: check the access key "
	  "id" },
	{ "AccessDenied", OSSFS_EXIT_REJECTED,
	  "access to bucket '{bucket}' was denied: check the access key id and "
	  "what it may do with the bucket" },
	{ "SignatureDoesNotMatch", OSSFS_EXIT_REJECTED,
	  "the request signature did not match: check the access key secret "
	  "(and region= with signature V4)" },
	{ "RequestTimeTooSkewed", OSSFS_EXIT_REJECTED,
	  "the server says this machine's time is off by more than 15 "
	  "minutes: check the system clock" },
	{ "InvalidSecurityToken", OSSFS_EXIT_REJECTED,
	  "the security token was not accepted: check the STS credentials" },
	{ "SecurityTokenExpired", OSSFS_EXIT_REJECTED,
	  "the security token has expired: renew the STS credentials" },
	{ "PermanentRedirect", OSSFS_EXIT_REJECTED,
	  "bucket '{bucket}' is not served by {url}: use the endpoint of its "
	  "region" },
};

/* Transport errors (no HTTP status), as http/ maps curl's codes:
 * DNS -ENXIO, connect by routing errno else -ECONNREFUSED, TLS handshake
 * -ECONNABORTED, early close -ECONNRESET. */
struct errno_reason {
	int err;
	const char *fmt; /* {url} is replaced */
};

static const struct errno_reason errno_reasons[] = {
	{ -ENXIO, "cannot resolve the host of {url}: check endpoint= or url=" },
	{ -EHOSTUNREACH, "cannot reach {url} (no route to host)" },
	{ -ENETUNREACH, "cannot reach {url} (network unreachable)" },
	{ -ECONNREFUSED, "connection refused by {url}: check the endpoint "
			 "and port" },
	{ -ETIMEDOUT, "timed out talking to {url}" },
	{ -ECONNABORTED, "TLS handshake with {url} failed" },
	{ -ECONNRESET, "the connection to {url} was closed early" },
	{ -EPROTO, "{url} does not answer like an HTTP server" },
	{ -EINVAL, "cannot make a request to {url}: check endpoint= or url=" },
};

/* Copy tmpl into out with {bucket} and {url} replaced; truncates. */
static void expand(char *out, size_t size, const char *tmpl, const char *bucket,
		   const char *url)
{
	struct buf b;

	buf_init(&b, size - 1);
	while (*tmpl) {
		const char *sub = NULL;
		size_t skip = 1;

		if (bucket && str_has_prefix(tmpl, "{bucket}")) {
			sub = bucket;
			skip = strlen("{bucket}");
		} else if (str_has_prefix(tmpl, "{url}")) {
			sub = url;
			skip = strlen("{url}");
		}
		if ((sub ? buf_append_str(&b, sub) : buf_append(&b, tmpl, 1)) <
		    0)
			break;
		tmpl += skip;
	}
	str_lcpy(out, b.data, size);
	buf_fini(&b);
}

/* " (HTTP 403 AccessDenied, request id X)" */
static void add_detail(char *out, size_t size, const struct oss_error *e)
{
	size_t len = strlen(out);

	if (len >= size)
		return;
	if (e->http_status)
		snprintf(out + len, size - len, " (HTTP %ld%s%s%s%s)",
			 e->http_status, e->code[0] ? " " : "", e->code,
			 e->request_id[0] ? ", request id " : "",
			 e->request_id);
	else if (e->message[0])
		snprintf(out + len, size - len, " (%s)", e->message);
}

static int explain_status(const struct oss_error *e, const char *bucket,
			  const char *url, char *out, size_t size)
{
	long st = e->http_status;

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(code_reasons); i++) {
		if (strcmp(e->code, code_reasons[i].code) == 0) {
			expand(out, size, code_reasons[i].fmt, bucket, url);
			return code_reasons[i].exit_code;
		}
	}
	/* A HEAD has no body, so often only the status tells. */
	if (st == 404) {
		snprintf(out, size, "bucket '%s' was not found at %s", bucket,
			 url);
	} else if (st == 401 || st == 403) {
		snprintf(out, size,
			 "access to bucket '%s' was denied: check the access "
			 "key id and secret",
			 bucket);
	} else if (st >= 500) {
		snprintf(out, size, "%s keeps failing: try again later", url);
		return OSSFS_EXIT_NETWORK;
	} else {
		snprintf(out, size,
			 "%s answered the start-up check with an "
			 "error",
			 url);
	}
	return OSSFS_EXIT_REJECTED;
}

static int explain_transport(int rc, const struct oss_error *e, const char *url,
			     char *out, size_t size)
{
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(errno_reasons); i++) {
		if (errno_reasons[i].err == rc) {
			expand(out, size, errno_reasons[i].fmt, NULL, url);
			return OSSFS_EXIT_NETWORK;
		}
	}
	/* Certificate problems have no curl code of their own in http/'s
	 * map; curl's text names them. */
	if (strstr(e->message, "SSL") || strstr(e->message, "certificate"))
		snprintf(out, size, "TLS failure talking to %s", url);
	else
		snprintf(out, size, "the start-up check against %s failed: %s",
			 url, strerror(rc < 0 ? -rc : rc));
	return rc == -ENOMEM ? OSSFS_EXIT_FAILURE : OSSFS_EXIT_NETWORK;
}

int explain_probe_failure(int rc, const struct oss_error *e, const char *bucket,
			  const char *url, bool anonymous, char *out,
			  size_t size)
{
	int code;

	if (!size)
		return OSSFS_EXIT_FAILURE;
	out[0] = '\0';
	/* Unsigned requests refused: no key to check, the bucket is private. */
	if (anonymous && (e->http_status == 401 || e->http_status == 403)) {
		expand(out, size,
		       "bucket '{bucket}' does not allow anonymous access: "
		       "drop -o public and give credentials",
		       bucket, url);
		code = OSSFS_EXIT_REJECTED;
	} else if (e->http_status || e->code[0])
		code = explain_status(e, bucket, url, out, size);
	else
		code = explain_transport(rc, e, url, out, size);
	add_detail(out, size, e);
	return code;
}
