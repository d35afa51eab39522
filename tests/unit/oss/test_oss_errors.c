/* Unit tests for the OSS error table and error-response parsing. */
#include <errno.h>
#include <string.h>

#include "oss.h"
#include "testutil.h"
#include "xml_samples.h"

static const struct xml_sample *sample(const char *id)
{
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(xml_samples); i++)
		if (strcmp(xml_samples[i].id, id) == 0)
			return &xml_samples[i];
	abort();
}

static void test_errno_codes(void)
{
	static const struct {
		const char *code;
		long status;
		int err;
	} cases[] = {
		{ "NoSuchKey", 404, -ENOENT },
		{ "NoSuchBucket", 404, -ENOENT },
		{ "NoSuchUpload", 404, -ENOENT },
		{ "SymlinkTargetNotExist", 404, -ENOENT },
		{ "AccessDenied", 403, -EACCES },
		{ "SignatureDoesNotMatch", 403, -EACCES },
		{ "InvalidAccessKeyId", 403, -EACCES },
		{ "SecurityTokenExpired", 403, -EACCES },
		{ "RequestTimeTooSkewed", 403, -EACCES },
		{ "InvalidObjectState", 403, -EACCES },
		{ "FileAlreadyExists", 409, -EEXIST },
		{ "PreconditionFailed", 412, -ESTALE },
		{ "PositionNotEqualToLength", 409, -ESTALE },
		{ "InvalidRange", 416, -ERANGE },
		{ "EntityTooLarge", 400, -EFBIG },
		{ "EntityTooSmall", 400, -EINVAL },
		{ "KeyTooLong", 400, -ENAMETOOLONG },
		{ "InvalidObjectName", 400, -EINVAL },
		{ "InvalidArgument", 400, -EINVAL },
		{ "MalformedXML", 400, -EINVAL },
		{ "InvalidPart", 400, -EINVAL },
		{ "InvalidPartOrder", 400, -EINVAL },
		{ "InvalidDigest", 400, -EINVAL },
		{ "BadDigest", 400, -EIO },
		{ "ObjectNotAppendable", 409, -EINVAL },
		{ "BucketNotEmpty", 409, -ENOTEMPTY },
		{ "NotImplemented", 501, -EOPNOTSUPP },
		{ "MethodNotAllowed", 405, -EOPNOTSUPP },
		{ "SlowDown", 503, -EAGAIN },
		{ "ServiceUnavailable", 503, -EAGAIN },
		{ "RequestTimeout", 400, -ETIMEDOUT },
		{ "InternalError", 500, -EIO },
		/* The code wins over the status, even over a 200. */
		{ "InternalError", 200, -EIO },
		{ "AccessDenied", 404, -EACCES },
		/* Unknown codes fall back to the status. */
		{ "SomethingNew", 404, -ENOENT },
		{ "SomethingNew", 200, 0 },
		{ "nosuchkey", 500, -EIO }, /* codes are case-sensitive */
	};

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(cases); i++) {
		int got = oss_errno_for(cases[i].code, cases[i].status);

		if (got != cases[i].err)
			fprintf(stderr, "  code %s status %ld\n", cases[i].code,
				cases[i].status);
		CHECK_INT(got, cases[i].err);
	}
}

static void test_errno_status(void)
{
	static const struct {
		long status;
		int err;
	} cases[] = {
		{ 200, 0 },	      { 204, 0 },
		{ 206, 0 },	      { 304, -ESTALE },
		{ 400, -EINVAL },     { 401, -EACCES },
		{ 403, -EACCES },     { 404, -ENOENT },
		{ 405, -EOPNOTSUPP }, { 408, -ETIMEDOUT },
		{ 409, -EBUSY },      { 410, -ENOENT },
		{ 411, -EINVAL },     { 412, -ESTALE },
		{ 413, -EFBIG },      { 414, -ENAMETOOLONG },
		{ 416, -ERANGE },     { 418, -EIO },
		{ 429, -EAGAIN },     { 500, -EIO },
		{ 501, -EOPNOTSUPP }, { 502, -EIO },
		{ 503, -EAGAIN },     { 504, -EIO },
		{ 0, -EIO },	      { 100, -EIO },
		{ 301, -EIO },
	};

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(cases); i++) {
		CHECK_INT(oss_errno_for(NULL, cases[i].status), cases[i].err);
		CHECK_INT(oss_errno_for("", cases[i].status), cases[i].err);
	}
}

static void test_parse_samples(void)
{
	const char *body = sample("error-signaturedoesnotmatch-sdk")->body;
	struct oss_error e;

	oss_error_clear(&e);
	e.http_status = 403;
	CHECK_INT(oss_error_parse_xml(body, strlen(body), &e), 0);
	CHECK_STR(e.code, "SignatureDoesNotMatch");
	CHECK_STR(e.ec, "0002-00000040");
	CHECK_STR(e.request_id, "65467C42E001B4333337****");
	CHECK_STR(e.message, "The request signature we calculated does not "
			     "match the signature you provided. Check your "
			     "key and signing method.");
	CHECK_INT(e.http_status, 403); /* the caller's */
	body = sample("error-signaturedoesnotmatch-docs")->body;
	CHECK_INT(oss_error_from_response(403, NULL, body, strlen(body), &e),
		  -EACCES);
	CHECK_STR(e.code, "SignatureDoesNotMatch");
	CHECK_STR(e.request_id, "646DCB189AE2D1333018****");
	CHECK_STR(e.ec, "0002-00000040");
	CHECK_INT(e.http_status, 403);
}

static void test_x_oss_err_header(void)
{
	const struct xml_sample *s =
		sample("error-nosuchkey-in-x-oss-err-header");
	struct kvlist h;
	struct oss_error e;

	kvlist_init(&h);
	kvlist_add(&h, "Content-Type", "application/xml");
	kvlist_add(&h, "x-oss-request-id", "6556E3AED11E553933CCDEDF");
	kvlist_add(&h, "Date", "Fri, 24 Feb 2017 03:15:40 GMT");
	kvlist_add(&h, "x-oss-ec", "0026-00000001");
	kvlist_add(&h, "x-oss-err", s->x_oss_err);
	CHECK_INT(oss_error_from_response(404, &h, NULL, 0, &e), -ENOENT);
	CHECK_STR(e.code, "NoSuchKey");
	CHECK_STR(e.message, "The specified key does not exist.");
	CHECK_STR(e.request_id, "6556E3AED11E553933CCDEDF");
	CHECK_STR(e.ec, "0026-00000001");
	CHECK_INT(e.http_status, 404);
	/* A body, when it parses, wins over the header. */
	CHECK_INT(oss_error_from_response(
			  404, &h, "<Error><Code>NoSuchBucket</Code></Error>",
			  40, &e),
		  -ENOENT);
	CHECK_STR(e.code, "NoSuchBucket");
	CHECK_STR(e.request_id, "6556E3AED11E553933CCDEDF"); /* header */
	/* A body that is not XML falls back to the header. */
	CHECK_INT(oss_error_from_response(404, &h, "<html>", 6, &e), -ENOENT);
	CHECK_STR(e.code, "NoSuchKey");
	kvlist_fini(&h);
}

static void test_status_only(void)
{
	struct kvlist h;
	struct oss_error e;

	kvlist_init(&h);
	kvlist_add(&h, "x-oss-ec", "0004-00000302");
	kvlist_add(&h, "x-oss-err", "!!!not base64!!!");
	kvlist_add(&h, "x-oss-request-id", "RID");
	CHECK_INT(oss_error_from_response(503, &h, NULL, 0, &e), -EAGAIN);
	CHECK_STR(e.code, "");
	CHECK_STR(e.ec, "0004-00000302");
	CHECK_STR(e.request_id, "RID");
	kvlist_fini(&h);
	/* S3: request id under its own name, HEAD 404 with nothing else. */
	kvlist_init(&h);
	kvlist_add(&h, "x-amz-request-id", "AMZ");
	CHECK_INT(oss_error_from_response(404, &h, "", 0, &e), -ENOENT);
	CHECK_STR(e.request_id, "AMZ");
	kvlist_fini(&h);
	CHECK_INT(oss_error_from_response(500, NULL, NULL, 0, NULL), -EIO);
}

static void test_parse_malformed(void)
{
	struct oss_error e;

	oss_error_clear(&e);
	CHECK_INT(oss_error_parse_xml("<Error><Code>X", 14, &e), -EPROTO);
	CHECK_INT(oss_error_parse_xml("<NotError/>", 11, &e), -EPROTO);
	CHECK_INT(oss_error_parse_xml("", 0, &e), -EPROTO);
	/* Control characters never reach a log line. */
	{
		const char *xml = "<Error><Code> SlowDown </Code><Message>"
				  "a&#9;b&#10;c</Message></Error>";

		CHECK_INT(oss_error_parse_xml(xml, strlen(xml), &e), 0);
	}
	CHECK_STR(e.code, "SlowDown");
	CHECK_STR(e.message, "a?b?c");
	/* Long fields are cut, always terminated. */
	{
		char xml[1024];
		int n = snprintf(xml, sizeof(xml),
				 "<Error><Code>%0200d</Code></Error>", 7);

		CHECK_INT(oss_error_parse_xml(xml, (size_t)n, &e), 0);
		CHECK_INT(strlen(e.code), sizeof(e.code) - 1);
	}
}

static void test_describe(void)
{
	struct oss_error e;
	char out[256], small[8];

	oss_error_clear(&e);
	e.http_status = 404;
	str_lcpy(e.code, "NoSuchBucket", sizeof(e.code));
	str_lcpy(e.request_id, "X", sizeof(e.request_id));
	oss_error_describe(&e, out, sizeof(out));
	CHECK_STR(out, "NoSuchBucket (HTTP 404, request id X)");
	str_lcpy(e.message, "The bucket does not exist.", sizeof(e.message));
	str_lcpy(e.ec, "0015-00000101", sizeof(e.ec));
	oss_error_describe(&e, out, sizeof(out));
	CHECK_STR(out, "NoSuchBucket: The bucket does not exist. (HTTP 404, "
		       "EC 0015-00000101, request id X)");
	oss_error_clear(&e);
	oss_error_describe(&e, out, sizeof(out));
	CHECK_STR(out, "error (no HTTP response)");
	e.http_status = 502;
	oss_error_describe(&e, out, sizeof(out));
	CHECK_STR(out, "error (HTTP 502)");
	oss_error_describe(&e, small, sizeof(small));
	CHECK_STR(small, "error (");
}

TU_MAIN(TU_CASE(test_errno_codes), TU_CASE(test_errno_status),
	TU_CASE(test_parse_samples), TU_CASE(test_x_oss_err_header),
	TU_CASE(test_status_only), TU_CASE(test_parse_malformed),
	TU_CASE(test_describe))
