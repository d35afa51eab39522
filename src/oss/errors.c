/* OSS errors: the one table from OSS error codes and HTTP statuses to
 * errno, and the parsing of error responses.
 *
 * DESIGN NOTE.  The errno chosen here is the one a user eventually sees,
 * so each entry answers "what should `cp` or `ls` print?".  The code, when
 * the server sent one, wins over the status: the same 403 means "no
 * permission" (AccessDenied) or "archived" (InvalidObjectState), and a
 * 200 can carry an <Error> body (a copy that failed after the status
 * line).  Unknown codes fall back to the status.  Retrying is not decided
 * here: http/ retries 5xx, 408, 429 and throttling before an answer ever
 * reaches this table, so what arrives is final.  Transport failures
 * (resets, timeouts, DNS) never reach this table either; http/ reports
 * them with its own -errno and status 0.
 *
 *   code                         errno         why
 *   NoSuchKey                    ENOENT        the object does not exist
 *   NoSuchBucket                 ENOENT        the caller (mount probe)
 *                                              turns it into a clear
 *                                              message; per object it
 *                                              means nothing is there
 *   NoSuchUpload                 ENOENT        the multipart upload is gone
 *   NoSuchVersion                ENOENT        likewise for a version
 *   SymlinkTargetNotExist        ENOENT        a dangling link reads like
 *                                              a dangling POSIX link
 *   AccessDenied                 EACCES        permission, not EPERM: the
 *                                              caller lacks a grant
 *   SignatureDoesNotMatch,
 *   InvalidAccessKeyId,
 *   SecurityTokenExpired         EACCES        the credentials were
 *                                              refused; the admin fixes
 *                                              them, retrying cannot
 *   RequestTimeTooSkewed         EACCES        http/ already corrected the
 *                                              clock offset and retried;
 *                                              still refused = auth failure
 *   InvalidObjectState           EACCES        archived and not restored:
 *                                              unreadable until someone
 *                                              restores it, and not an I/O
 *                                              fault worth retrying (EIO
 *                                              would suggest one)
 *   FileAlreadyExists            EEXIST        x-oss-forbid-overwrite hit
 *   PreconditionFailed           ESTALE        If-Match failed: the object
 *                                              changed under us; fs/
 *                                              re-stats (NFS uses ESTALE
 *                                              for the same thing)
 *   PositionNotEqualToLength     ESTALE        our idea of the length of an
 *                                              appendable object is stale
 *   InvalidRange                 ERANGE        start >= size with
 *                                              x-oss-range-behavior:
 *                                              standard.  Never shown to a
 *                                              user: fs/ answers a read
 *                                              past EOF with 0 bytes, and
 *                                              ERANGE is the distinct value
 *                                              it tests for
 *   EntityTooLarge               EFBIG         object or part over the limit
 *   KeyTooLong, KeyTooLongError  ENAMETOOLONG  key over 1023 bytes (the
 *                                              second is S3's spelling)
 *   InvalidObjectName            EINVAL        OSS also says this for keys
 *                                              that are not valid UTF-8 or
 *                                              start with '/' or '\', which
 *                                              ENAMETOOLONG would misreport;
 *                                              fs/ checks the 1023-byte
 *                                              limit itself and returns
 *                                              ENAMETOOLONG before asking
 *   InvalidArgument, InvalidDigest, MalformedXML, InvalidPart,
 *   InvalidPartOrder, EntityTooSmall, InvalidBucketName,
 *   ObjectNotAppendable, InvalidTargetType,
 *   MissingContentLength         EINVAL        a request we built wrong
 *   BadDigest                    EIO           the body was damaged on the
 *                                              way (Content-MD5 mismatch)
 *   BucketNotEmpty               ENOTEMPTY
 *   MethodNotAllowed,
 *   NotImplemented               EOPNOTSUPP    the server (or its S3 mode)
 *                                              lacks the operation
 *   SlowDown, ServiceUnavailable EAGAIN        throttled even after http/
 *                                              backed off: "try again
 *                                              later" is the truth, and
 *                                              fs/ may keep staged data
 *   RequestTimeout               ETIMEDOUT     the server gave up on our
 *                                              body
 *   InternalError                EIO
 *
 *   status (no or unknown code)  errno
 *   1xx, 3xx other than 304      EIO           not an answer we asked for
 *   2xx                          0
 *   304                          ESTALE        conditional GET: not the
 *                                              object we named
 *   400, 411                     EINVAL
 *   401, 403                     EACCES
 *   404, 410                     ENOENT
 *   405, 501                     EOPNOTSUPP
 *   408                          ETIMEDOUT
 *   409                          EBUSY         a conflicting operation
 *   412                          ESTALE
 *   413                          EFBIG
 *   414                          ENAMETOOLONG  URI (the key) too long
 *   416                          ERANGE
 *   429, 503                     EAGAIN
 *   other 4xx, other 5xx, 0      EIO
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "oss_i.h"

/* x-oss-err carries a whole <Error> document; more than this is not an
 * error description we want to hold. */
#define ERR_HEADER_MAX_BYTES ((size_t)64 << 10)

struct code_errno {
	const char *code;
	int err; /* positive errno */
};

static const struct code_errno code_table[] = {
	{ "NoSuchKey", ENOENT },
	{ "NoSuchBucket", ENOENT },
	{ "NoSuchUpload", ENOENT },
	{ "NoSuchVersion", ENOENT },
	{ "SymlinkTargetNotExist", ENOENT },
	{ "AccessDenied", EACCES },
	{ "SignatureDoesNotMatch", EACCES },
	{ "InvalidAccessKeyId", EACCES },
	{ "SecurityTokenExpired", EACCES },
	{ "RequestTimeTooSkewed", EACCES },
	{ "InvalidObjectState", EACCES },
	{ "FileAlreadyExists", EEXIST },
	{ "PreconditionFailed", ESTALE },
	{ "PositionNotEqualToLength", ESTALE },
	{ "InvalidRange", ERANGE },
	{ "EntityTooLarge", EFBIG },
	{ "KeyTooLong", ENAMETOOLONG },
	{ "KeyTooLongError", ENAMETOOLONG },
	{ "InvalidObjectName", EINVAL },
	{ "InvalidArgument", EINVAL },
	{ "InvalidDigest", EINVAL },
	{ "MalformedXML", EINVAL },
	{ "InvalidPart", EINVAL },
	{ "InvalidPartOrder", EINVAL },
	{ "EntityTooSmall", EINVAL },
	{ "InvalidBucketName", EINVAL },
	{ "ObjectNotAppendable", EINVAL },
	{ "InvalidTargetType", EINVAL },
	{ "MissingContentLength", EINVAL },
	{ "BadDigest", EIO },
	{ "BucketNotEmpty", ENOTEMPTY },
	{ "MethodNotAllowed", EOPNOTSUPP },
	{ "NotImplemented", EOPNOTSUPP },
	{ "SlowDown", EAGAIN },
	{ "ServiceUnavailable", EAGAIN },
	{ "RequestTimeout", ETIMEDOUT },
	{ "InternalError", EIO },
};

static int errno_for_status(long status)
{
	if (status >= 200 && status < 300)
		return 0;
	switch (status) {
	case 304:
	case 412:
		return ESTALE;
	case 400:
	case 411:
		return EINVAL;
	case 401:
	case 403:
		return EACCES;
	case 404:
	case 410:
		return ENOENT;
	case 405:
	case 501:
		return EOPNOTSUPP;
	case 408:
		return ETIMEDOUT;
	case 409:
		return EBUSY;
	case 413:
		return EFBIG;
	case 414:
		return ENAMETOOLONG;
	case 416:
		return ERANGE;
	case 429:
	case 503:
		return EAGAIN;
	default:
		return EIO;
	}
}

int oss_errno_for(const char *code, long http_status)
{
	if (code && *code) {
		for (size_t i = 0; i < OSSFS_ARRAY_SIZE(code_table); i++)
			if (strcmp(code_table[i].code, code) == 0)
				return -code_table[i].err;
	}
	return -errno_for_status(http_status);
}

void oss_error_clear(struct oss_error *e)
{
	memset(e, 0, sizeof(*e));
}

static void copy_child(const xmlNode *root, const char *name, char *out,
		       size_t size)
{
	const xmlNode *c = oss_xml_child(root, name);
	struct buf b;

	out[0] = '\0';
	if (!c)
		return;
	buf_init(&b, OSS_XML_MAX_BYTES);
	if (oss_xml_text(c, &b) == 0) {
		str_trim(b.data);
		oss_copy_printable(out, size, b.data, strlen(b.data));
	}
	buf_fini(&b);
}

/* The caller owns e->http_status; only the text fields are replaced. */
int oss_error_parse_xml(const char *xml, size_t len, struct oss_error *e)
{
	xmlDoc *doc = NULL;
	xmlNode *root;
	int rc;

	e->code[0] = e->message[0] = e->request_id[0] = e->ec[0] = '\0';
	rc = oss_xml_parse(xml, len, "Error", &doc);
	if (rc)
		return rc;
	root = xmlDocGetRootElement(doc);
	copy_child(root, "Code", e->code, sizeof(e->code));
	copy_child(root, "Message", e->message, sizeof(e->message));
	copy_child(root, "RequestId", e->request_id, sizeof(e->request_id));
	copy_child(root, "EC", e->ec, sizeof(e->ec));
	xmlFreeDoc(doc);
	return 0;
}

/* HEAD answers carry no body; OSS puts the <Error> document, base64, in
 * x-oss-err instead. */
static int parse_err_header(const char *b64, struct oss_error *e)
{
	struct buf xml;
	int rc;

	buf_init(&xml, ERR_HEADER_MAX_BYTES);
	rc = str_base64_decode(&xml, b64, strlen(b64));
	if (rc == 0)
		rc = oss_error_parse_xml(xml.data, xml.len, e);
	buf_fini(&xml);
	return rc;
}

static void fill_from_header(const struct kvlist *h, const char *name,
			     char *field, size_t size)
{
	const char *v = h ? kvlist_get(h, name) : NULL;

	if (v && !field[0])
		oss_copy_printable(field, size, v, strlen(v));
}

int oss_error_from_response(long status, const struct kvlist *resp_headers,
			    const char *body, size_t body_len,
			    struct oss_error *e)
{
	struct oss_error local;
	const char *hdr;
	int rc = -EPROTO;

	if (!e)
		e = &local;
	oss_error_clear(e);
	e->http_status = status;
	if (body && body_len)
		rc = oss_error_parse_xml(body, body_len, e);
	hdr = resp_headers ? kvlist_get(resp_headers, "x-oss-err") : NULL;
	if (rc && hdr)
		rc = parse_err_header(hdr, e);
	fill_from_header(resp_headers, "x-oss-request-id", e->request_id,
			 sizeof(e->request_id));
	fill_from_header(resp_headers, "x-amz-request-id", e->request_id,
			 sizeof(e->request_id));
	fill_from_header(resp_headers, "x-oss-ec", e->ec, sizeof(e->ec));
	return oss_errno_for(e->code, status);
}

void oss_error_describe(const struct oss_error *e, char *out, size_t size)
{
	const char *code = e->code[0] ? e->code : "error";
	char status[32] = "no HTTP response";
	char ec[48] = "";
	char rid[96] = "";

	if (!size)
		return;
	if (e->http_status)
		snprintf(status, sizeof(status), "HTTP %ld", e->http_status);
	if (e->ec[0])
		snprintf(ec, sizeof(ec), ", EC %s", e->ec);
	if (e->request_id[0])
		snprintf(rid, sizeof(rid), ", request id %s", e->request_id);
	snprintf(out, size, "%s%s%s (%s%s%s)", code, e->message[0] ? ": " : "",
		 e->message, status, ec, rid);
}

bool oss_get_log_failure(const char *key, const struct oss_get_result *res)
{
	char why[384];

	if (!res->err || res->err == -ECANCELED || res->err == -ESHUTDOWN ||
	    res->err == -ESTALE)
		return false;
	if (res->oerr.http_status || res->oerr.code[0])
		oss_error_describe(&res->oerr, why, sizeof(why));
	else
		snprintf(why, sizeof(why), "%s", strerror(-res->err));
	log_warn("read of \"%s\" failed: %s%s", key, why,
		 strcmp(res->oerr.code, "InvalidObjectState") == 0
			 ? "; the object is archived: restore it, then read "
			   "it again"
			 : "");
	return true;
}
