/* Unit tests of the start-up probe's messages (src/main/explain.c). */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "explain_i.h"
#include "options_i.h"
#include "testutil.h"

#define URL "https://oss-cn-hangzhou.aliyuncs.com"

static char out[512];

static struct oss_error server_error(long status, const char *code,
				     const char *rid)
{
	struct oss_error e;

	memset(&e, 0, sizeof(e));
	e.http_status = status;
	snprintf(e.code, sizeof(e.code), "%s", code);
	snprintf(e.request_id, sizeof(e.request_id), "%s", rid);
	return e;
}

static int explain(int rc, const struct oss_error *e)
{
	return explain_probe_failure(rc, e, "bkt", URL, false, out,
				     sizeof(out));
}

static bool has(const char *s)
{
	bool found = s && strstr(out, s) != NULL;

	if (!found)
		fprintf(stderr, "'%s' lacks '%s'\n", out, s ? s : "(null)");
	return found;
}

static void test_codes(void)
{
	static const struct {
		long status;
		const char *code, *want;
		int exit_code;
	} cases[] = {
		{ 404, "NoSuchBucket", "bucket 'bkt' does not exist at " URL,
		  OSSFS_EXIT_REJECTED },
		{ 403, "AccessDenied", "check the access key id",
		  OSSFS_EXIT_REJECTED },
		{ 403, "InvalidAccessKeyId", "check the access key id",
		  OSSFS_EXIT_REJECTED },
		{ 403, "SignatureDoesNotMatch", "check the access key secret",
		  OSSFS_EXIT_REJECTED },
		{ 403, "RequestTimeTooSkewed", "check the system clock",
		  OSSFS_EXIT_REJECTED },
		{ 403, "InvalidSecurityToken", "security token",
		  OSSFS_EXIT_REJECTED },
		{ 403, "SecurityTokenExpired", "expired", OSSFS_EXIT_REJECTED },
		{ 400, "InvalidBucketName", "'bkt' is not a valid bucket name",
		  OSSFS_EXIT_REJECTED },
		{ 301, "PermanentRedirect", "endpoint of its region",
		  OSSFS_EXIT_REJECTED },
		/* HEAD answers carry no body: the status alone. */
		{ 404, "", "bucket 'bkt' was not found at " URL,
		  OSSFS_EXIT_REJECTED },
		{ 403, "", "check the access key id and secret",
		  OSSFS_EXIT_REJECTED },
		{ 503, "", "try again later", OSSFS_EXIT_NETWORK },
		{ 400, "WeirdThing", "answered the start-up check",
		  OSSFS_EXIT_REJECTED },
	};

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(cases); i++) {
		struct oss_error e =
			server_error(cases[i].status, cases[i].code, "RID1");

		CHECK_INT(explain(-EACCES, &e), cases[i].exit_code);
		CHECK(has(cases[i].want));
		CHECK(has("request id RID1"));
		CHECK(!strchr(out, '\n'));
	}
}

static void test_detail(void)
{
	struct oss_error e = server_error(403, "AccessDenied", "5F0A");

	explain(-EACCES, &e);
	CHECK(has(" (HTTP 403 AccessDenied, request id 5F0A)"));
	e = server_error(404, "", "");
	explain(-ENOENT, &e);
	CHECK(has(" (HTTP 404)"));
}

static void test_transport(void)
{
	static const struct {
		int rc;
		const char *want;
	} cases[] = {
		{ -ENXIO, "cannot resolve the host of " URL },
		{ -EHOSTUNREACH, "cannot reach " URL },
		{ -ECONNREFUSED, "connection refused by " URL },
		{ -ETIMEDOUT, "timed out talking to " URL },
		{ -ECONNRESET, "closed early" },
		{ -ECONNABORTED, "TLS handshake with " URL " failed" },
		{ -EPROTO, "HTTP server" },
		{ -ENETUNREACH, "cannot reach" },
		{ -EINVAL, "check endpoint= or url=" },
		{ -EIO, "the start-up check against " URL " failed" },
	};
	struct oss_error e;

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(cases); i++) {
		memset(&e, 0, sizeof(e));
		CHECK_INT(explain(cases[i].rc, &e), OSSFS_EXIT_NETWORK);
		CHECK(has(cases[i].want));
	}
	/* curl's own words, when the client kept them, follow. */
	memset(&e, 0, sizeof(e));
	snprintf(e.message, sizeof(e.message), "Could not resolve host: x");
	explain(-ENXIO, &e);
	CHECK(has("(Could not resolve host: x)"));
	snprintf(e.message, sizeof(e.message),
		 "SSL certificate problem: self-signed certificate");
	CHECK_INT(explain(-EIO, &e), OSSFS_EXIT_NETWORK);
	CHECK(has("TLS failure talking to " URL " (SSL certificate"));
	memset(&e, 0, sizeof(e));
	CHECK_INT(explain(-ENOMEM, &e), OSSFS_EXIT_FAILURE);
}

static void test_truncation(void)
{
	struct oss_error e = server_error(404, "NoSuchBucket", "RID");
	char small[16];

	CHECK_INT(explain_probe_failure(-ENOENT, &e, "bkt", URL, false, small,
					sizeof(small)),
		  OSSFS_EXIT_REJECTED);
	CHECK_INT(strlen(small), sizeof(small) - 1);
	CHECK_INT(
		explain_probe_failure(-ENOENT, &e, "bkt", URL, false, small, 0),
		OSSFS_EXIT_FAILURE);
}

/* -o public against a private bucket: the key is not the problem. */
static void test_anonymous(void)
{
	struct oss_error e = server_error(403, "AccessDenied", "R");

	CHECK_INT(explain_probe_failure(-EACCES, &e, "bkt", URL, true, out,
					sizeof(out)),
		  OSSFS_EXIT_REJECTED);
	CHECK(has("does not allow anonymous access"));
	CHECK(!strstr(out, "access key"));
	e = server_error(404, "NoSuchBucket", "R");
	explain_probe_failure(-ENOENT, &e, "bkt", URL, true, out, sizeof(out));
	CHECK(has("does not exist"));
}

TU_MAIN(TU_CASE(test_codes), TU_CASE(test_detail), TU_CASE(test_transport),
	TU_CASE(test_truncation), TU_CASE(test_anonymous))
