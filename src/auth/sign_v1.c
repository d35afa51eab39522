/* OSS Signature V1: "OSS <id>:base64(HMAC-SHA1(secret, StringToSign))", in
 * the Authorization header or as OSSAccessKeyId/Expires/Signature query
 * parameters (oss-protocol.md section 2).
 *
 * Two details that differ from V4 and are easy to get wrong: the key and
 * the sub-resource values go into CanonicalizedResource raw (not
 * percent-encoded), and only recognised sub-resources are signed. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_i.h"

/* The list every current SDK agrees on (oss-protocol.md 2.3).  Anything else
 * the caller wants signed goes in req->extra_subresources. */
static const char *const v1_subresources[] = {
	"acl",
	"append",
	"bucketInfo",
	"callback",
	"callback-var",
	"continuation-token",
	"delete",
	"location",
	"objectMeta",
	"partNumber",
	"position",
	"response-cache-control",
	"response-content-disposition",
	"response-content-encoding",
	"response-content-language",
	"response-content-type",
	"response-expires",
	"restore",
	"security-token",
	"sequential",
	"stat",
	"symlink",
	"tagging",
	"uploadId",
	"uploads",
	"versionId",
	"versioning",
	"versions",
};

bool auth_v1_is_subresource(const char *name)
{
	if (!name)
		return false;
	/* Go SDK v2's rule, which also covers the x-oss-* names (x-oss-process,
	 * x-oss-traffic-limit, ...) the older SDKs list one by one. */
	if (str_has_prefix(name, "x-oss-"))
		return true;
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(v1_subresources); i++)
		if (strcmp(name, v1_subresources[i]) == 0)
			return true;
	return false;
}

static bool is_signed_subresource(const struct auth_request *req,
				  const char *name)
{
	if (auth_v1_is_subresource(name))
		return true;
	for (size_t i = 0; i < req->n_extra_subresources; i++)
		if (req->extra_subresources[i] &&
		    strcmp(name, req->extra_subresources[i]) == 0)
			return true;
	return false;
}

static int cmp_kv_name(const void *pa, const void *pb)
{
	const struct kv *const *a = pa, *const *b = pb;
	int c = strcmp((*a)->name, (*b)->name);

	/* Equal names keep their order: compare the addresses, which follow
	 * the list order. */
	if (c)
		return c;
	return *a < *b ? -1 : *a > *b;
}

/* "?a&b=raw value" of the signed sub-resources in Q, sorted by name. */
static int append_subresources(const struct auth_request *req,
			       const struct kvlist *q, struct buf *out)
{
	const struct kv **pick;
	size_t n = 0;
	int rc = 0;

	if (!q || q->n == 0)
		return 0;
	pick = calloc(q->n, sizeof(*pick));
	if (!pick)
		return -ENOMEM;
	for (size_t i = 0; i < q->n; i++)
		if (is_signed_subresource(req, q->items[i].name))
			pick[n++] = &q->items[i];
	qsort(pick, n, sizeof(*pick), cmp_kv_name);
	for (size_t i = 0; i < n && !rc; i++) {
		rc = buf_append(out, i == 0 ? "?" : "&", 1);
		if (!rc)
			rc = buf_append_str(out, pick[i]->name);
		if (!rc && pick[i]->value[0])
			rc = buf_appendf(out, "=%s", pick[i]->value);
	}
	free(pick);
	return rc;
}

static int append_resource(const struct auth_request *req,
			   const struct kvlist *q, struct buf *out)
{
	int rc;

	if (req->bucket && req->bucket[0])
		rc = buf_appendf(out, "/%s/%s", req->bucket,
				 req->key ? req->key : "");
	else
		rc = buf_append(out, "/", 1);
	return rc ? rc : append_subresources(req, q, out);
}

static bool pick_oss_header(const char *lname, const void *ctx)
{
	return str_has_prefix(lname, "x-oss-");
}

static const char *header_or_empty(const struct kvlist *h, const char *name)
{
	const char *v = h ? kvlist_get(h, name) : NULL;

	return v ? v : "";
}

/* StringToSign with DATE in the date slot and Q's sub-resources. */
static int string_to_sign(const struct auth_request *req, const char *date,
			  const struct kvlist *q, struct buf *sts)
{
	struct auth_hdrs h;
	int rc;

	auth_hdrs_init(&h);
	rc = buf_appendf(sts, "%s\n%s\n%s\n%s\n", req->method,
			 header_or_empty(req->headers, "Content-MD5"),
			 header_or_empty(req->headers, "Content-Type"), date);
	if (!rc)
		rc = auth_hdrs_collect(&h, req->headers, pick_oss_header, NULL);
	if (!rc)
		rc = auth_hdrs_canonical(&h, false, sts);
	if (!rc)
		rc = append_resource(req, q, sts);
	auth_hdrs_fini(&h);
	return rc;
}

static int sign(const struct auth_creds *c, const struct buf *sts,
		struct auth_debug *dbg, struct buf *sig)
{
	if (dbg && dbg->canonical_request)
		buf_reset(dbg->canonical_request);
	if (dbg && dbg->string_to_sign) {
		buf_reset(dbg->string_to_sign);
		if (buf_append(dbg->string_to_sign, sts->data, sts->len))
			return -E2BIG;
	}
	return auth_hmac_sha1_base64(c->access_key_secret, sts->data, sts->len,
				     sig);
}

static int set_v1_headers(const struct auth_request *req,
			  const struct auth_creds *c)
{
	char date[TIME_RFC1123_LEN];
	int rc;

	time_fmt_rfc1123(date, req->now);
	rc = kvlist_set(req->headers, "Date", date);
	if (rc)
		return rc;
	if (c->security_token && c->security_token[0])
		return kvlist_set(req->headers, "x-oss-security-token",
				  c->security_token);
	kvlist_remove(req->headers, "x-oss-security-token");
	return 0;
}

int auth_v1_sign_headers(const struct auth_request *req,
			 const struct auth_creds *c, struct auth_debug *dbg)
{
	struct buf sts, sig, auth;
	const char *date;
	int rc;

	buf_init(&sts, 0);
	buf_init(&sig, 0);
	buf_init(&auth, 0);
	rc = set_v1_headers(req, c);
	if (rc)
		goto out;
	/* x-oss-date wins the date slot when the caller sent one. */
	date = kvlist_get(req->headers, "x-oss-date");
	if (!date)
		date = kvlist_get(req->headers, "Date");
	rc = string_to_sign(req, date, req->query, &sts);
	if (!rc)
		rc = sign(c, &sts, dbg, &sig);
	if (!rc)
		rc = buf_appendf(&auth, "OSS %s:%s", c->access_key_id,
				 sig.data);
	if (!rc)
		rc = kvlist_set(req->headers, "Authorization", auth.data);
out:
	auth_buf_wipe(&auth);
	auth_buf_wipe(&sig);
	buf_fini(&sts);
	return rc;
}

/* The request's query plus the parameters the signature adds, which are all
 * part of what the server sees. */
static int presign_params(const struct auth_request *req,
			  const struct auth_creds *c, struct kvlist *q)
{
	int rc = 0;

	if (req->query)
		rc = kvlist_copy(q, req->query);
	if (!rc && c->security_token && c->security_token[0])
		rc = kvlist_add(q, "security-token", c->security_token);
	return rc;
}

int auth_v1_presign(const struct auth_request *req, const struct auth_creds *c,
		    long expires_s, struct buf *out, struct auth_debug *dbg)
{
	struct buf sts, sig;
	struct kvlist q;
	char expires[32];
	int rc;

	buf_init(&sts, 0);
	buf_init(&sig, 0);
	kvlist_init(&q);
	/* V1 carries an absolute expiry time where V4 has a duration. */
	snprintf(expires, sizeof(expires), "%lld",
		 (long long)req->now + (long long)expires_s);
	rc = presign_params(req, c, &q);
	if (!rc)
		rc = string_to_sign(req, expires, &q, &sts);
	if (!rc)
		rc = sign(c, &sts, dbg, &sig);
	if (!rc)
		rc = kvlist_add(&q, "OSSAccessKeyId", c->access_key_id);
	if (!rc)
		rc = kvlist_add(&q, "Expires", expires);
	if (!rc)
		rc = kvlist_add(&q, "Signature", sig.data);
	/* Ordered by raw name like the Go SDKs' url.Values.Encode, so the
	 * URLs match the official vectors byte for byte. */
	if (!rc)
		rc = auth_query_encode(&q, AUTH_QUERY_BY_RAW, true, out);
	kvlist_fini(&q);
	auth_buf_wipe(&sig);
	buf_fini(&sts);
	return rc;
}
