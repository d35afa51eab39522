/* OSS Signature V4 (OSS4-HMAC-SHA256, oss-protocol.md section 3) and AWS
 * Signature V4 for S3-compatible endpoints (section 4).  One engine, two
 * parameter sets: the canonical request, string to sign and key chain
 * have the same shape; what differs is the names, which headers are signed
 * and how the URI and empty query values are written.
 *
 * OSS: headers signed are x-oss-*, content-type, content-md5 plus the
 * AdditionalHeaders the caller names; the canonical URI is
 * encode("/bucket/key"); an empty query value is the bare name; the
 * payload is always UNSIGNED-PAYLOAD.
 * S3: headers signed are host, x-amz-*, content-type, content-md5, range
 * plus additional ones; the URI is the path exactly as sent; an empty
 * value is "name="; the payload hash is the caller's or UNSIGNED-PAYLOAD. */
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth_i.h"

struct v4_scheme {
	bool s3;
	const char *algorithm;
	const char *key_prefix;
	const char *terminator;
	const char *default_product;
	const char *hdr_prefix; /* signed by default: "x-oss-" / "x-amz-" */
};

static const struct v4_scheme oss_scheme = {
	false, "OSS4-HMAC-SHA256", "aliyun_v4", "aliyun_v4_request",
	"oss", "x-oss-",
};

static const struct v4_scheme s3_scheme = {
	true, "AWS4-HMAC-SHA256", "AWS4", "aws4_request", "s3", "x-amz-",
};

/* Everything one signature computation produces and needs. */
struct v4_ctx {
	const struct v4_scheme *sc;
	const struct auth_request *req;
	const struct auth_creds *creds;
	char iso[TIME_ISO8601_BASIC_LEN]; /* 20231216T162057Z */
	char day[9];			  /* 20231216 */
	const char *product;
	const char *payload;
	struct buf scope;      /* day/region/product/terminator */
	struct buf additional; /* OSS: AdditionalHeaders; S3: SignedHeaders */
	char **extra;	       /* lower-cased additional names asked for */
	size_t n_extra;
	char signature[AUTH_SHA256_HEX_LEN];
};

/* ---- which headers are signed -------------------------------------------- */

static bool in_extra(const struct v4_ctx *x, const char *lname)
{
	for (size_t i = 0; i < x->n_extra; i++)
		if (strcmp(x->extra[i], lname) == 0)
			return true;
	return false;
}

static bool default_signed(const struct v4_scheme *sc, const char *lname)
{
	if (str_has_prefix(lname, sc->hdr_prefix) ||
	    strcmp(lname, "content-type") == 0 ||
	    strcmp(lname, "content-md5") == 0)
		return true;
	return sc->s3 && strcmp(lname, "range") == 0;
}

static bool pick_header(const char *lname, const void *ctx)
{
	const struct v4_ctx *x = ctx;

	/* The Authorization header is the output, never an input; for S3 the
	 * host comes from req->host when given (curl writes that header). */
	if (strcmp(lname, "authorization") == 0)
		return false;
	if (x->sc->s3 && strcmp(lname, "host") == 0)
		return !(x->req->host && x->req->host[0]);
	return default_signed(x->sc, lname) || in_extra(x, lname);
}

static int cmp_str(const void *pa, const void *pb)
{
	return strcmp(*(char *const *)pa, *(char *const *)pb);
}

static bool header_present(const struct kvlist *h, const char *lname)
{
	return h && kvlist_get(h, lname) != NULL;
}

/* Lower-case, de-duplicate, drop default-signed and absent names, sort:
 * the rule of the SDKs (vectors v4-header-3/-4). */
static int collect_extra(struct v4_ctx *x)
{
	const struct auth_request *req = x->req;

	if (req->n_additional_headers == 0)
		return 0;
	x->extra = calloc(req->n_additional_headers, sizeof(*x->extra));
	if (!x->extra)
		return -ENOMEM;
	for (size_t i = 0; i < req->n_additional_headers; i++) {
		char *n = str_dup(req->additional_headers[i]);

		if (!n)
			return req->additional_headers[i] ? -ENOMEM : -EINVAL;
		for (char *p = n; *p; p++)
			*p = (char)tolower((unsigned char)*p);
		if (!n[0] || default_signed(x->sc, n) ||
		    strcmp(n, "authorization") == 0 ||
		    !header_present(req->headers, n) || in_extra(x, n)) {
			free(n);
			continue;
		}
		x->extra[x->n_extra++] = n;
	}
	qsort(x->extra, x->n_extra, sizeof(*x->extra), cmp_str);
	return 0;
}

/* ---- the computation ----------------------------------------------------- */

static int canonical_uri(const struct v4_ctx *x, struct buf *out)
{
	const struct auth_request *req = x->req;
	struct buf path;
	int rc;

	if (x->sc->s3)
		return buf_append_str(out,
				      req->s3_uri_path && req->s3_uri_path[0]
					      ? req->s3_uri_path
					      : "/");
	if (!req->bucket || !req->bucket[0])
		return buf_append(out, "/", 1);
	/* The bucket is always in the OSS canonical URI, whatever the host. */
	buf_init(&path, 0);
	rc = buf_appendf(&path, "/%s/%s", req->bucket,
			 req->key ? req->key : "");
	if (!rc)
		rc = str_urlencode(out, path.data, path.len, true);
	buf_fini(&path);
	return rc;
}

static int canonical_headers(struct v4_ctx *x, struct buf *cr)
{
	const struct auth_request *req = x->req;
	struct auth_hdrs h;
	int rc;

	auth_hdrs_init(&h);
	buf_reset(&x->additional);
	rc = auth_hdrs_collect(&h, req->headers, pick_header, x);
	if (!rc && x->sc->s3 && req->host && req->host[0])
		rc = auth_hdrs_add(&h, "host", req->host);
	if (!rc && x->sc->s3 && !auth_hdrs_has(&h, "host"))
		rc = -EINVAL; /* S3 V4 always signs the host */
	if (!rc)
		rc = auth_hdrs_canonical(&h, x->sc->s3, cr);
	if (!rc && x->sc->s3)
		rc = auth_hdrs_names(&h, &x->additional);
	for (size_t i = 0; !rc && !x->sc->s3 && i < x->n_extra; i++)
		rc = buf_appendf(&x->additional, "%s%s", i ? ";" : "",
				 x->extra[i]);
	auth_hdrs_fini(&h);
	return rc;
}

static int canonical_request(struct v4_ctx *x, const struct kvlist *query,
			     struct buf *cr)
{
	int rc = buf_appendf(cr, "%s\n", x->req->method);

	if (!rc)
		rc = canonical_uri(x, cr);
	if (!rc)
		rc = buf_append(cr, "\n", 1);
	if (!rc)
		rc = auth_v4_canonical_query(query, x->sc->s3, cr);
	if (!rc)
		rc = buf_append(cr, "\n", 1);
	if (!rc)
		rc = canonical_headers(x, cr);
	if (!rc)
		rc = buf_appendf(cr, "\n%s\n%s", x->additional.data,
				 x->payload);
	return rc;
}

static int signing_key(const struct v4_ctx *x, unsigned char key[32])
{
	const char *steps[] = { x->req->region, x->product, x->sc->terminator };
	struct buf secret;
	int rc;

	buf_init(&secret, 0);
	rc = buf_appendf(&secret, "%s%s", x->sc->key_prefix,
			 x->creds->access_key_secret);
	if (!rc)
		rc = auth_hmac_sha256(secret.data, secret.len, x->day,
				      strlen(x->day), key);
	for (size_t i = 0; !rc && i < OSSFS_ARRAY_SIZE(steps); i++)
		rc = auth_hmac_sha256(key, 32, steps[i], strlen(steps[i]), key);
	auth_buf_wipe(&secret);
	return rc;
}

static int debug_copy(struct buf *dst, const struct buf *src)
{
	if (!dst)
		return 0;
	buf_reset(dst);
	return buf_append(dst, src->data, src->len);
}

/* Canonical request -> string to sign -> x->signature. */
static int compute(struct v4_ctx *x, const struct kvlist *query,
		   struct auth_debug *dbg)
{
	char cr_hash[AUTH_SHA256_HEX_LEN];
	unsigned char key[32], mac[32];
	struct buf cr, sts;
	int rc;

	buf_init(&cr, 0);
	buf_init(&sts, 0);
	rc = canonical_request(x, query, &cr);
	if (!rc)
		rc = auth_sha256_hex(cr.data, cr.len, cr_hash);
	if (!rc)
		rc = buf_appendf(&sts, "%s\n%s\n%s\n%s", x->sc->algorithm,
				 x->iso, x->scope.data, cr_hash);
	if (!rc && dbg)
		rc = debug_copy(dbg->canonical_request, &cr);
	if (!rc && dbg)
		rc = debug_copy(dbg->string_to_sign, &sts);
	if (!rc)
		rc = signing_key(x, key);
	if (!rc)
		rc = auth_hmac_sha256(key, sizeof(key), sts.data, sts.len, mac);
	if (!rc)
		str_hex(x->signature, mac, sizeof(mac));
	OPENSSL_cleanse(key, sizeof(key));
	buf_fini(&cr);
	buf_fini(&sts);
	return rc;
}

static int ctx_init(struct v4_ctx *x, bool s3, const struct auth_request *req,
		    const struct auth_creds *c)
{
	memset(x, 0, sizeof(*x));
	x->sc = s3 ? &s3_scheme : &oss_scheme;
	x->req = req;
	x->creds = c;
	buf_init(&x->scope, 0);
	buf_init(&x->additional, 0);
	if (!req->region || !req->region[0])
		return -EINVAL;
	x->product = req->product && req->product[0] ? req->product
						     : x->sc->default_product;
	x->payload = AUTH_UNSIGNED_PAYLOAD;
	time_fmt_iso8601_basic(x->iso, req->now);
	memcpy(x->day, x->iso, 8);
	x->day[8] = '\0';
	if (buf_appendf(&x->scope, "%s/%s/%s/%s", x->day, req->region,
			x->product, x->sc->terminator))
		return -ENOMEM;
	return collect_extra(x);
}

static void ctx_fini(struct v4_ctx *x)
{
	for (size_t i = 0; i < x->n_extra; i++)
		free(x->extra[i]);
	free(x->extra);
	buf_fini(&x->scope);
	buf_fini(&x->additional);
	OPENSSL_cleanse(x->signature, sizeof(x->signature));
}

/* ---- header mode --------------------------------------------------------- */

static int set_token(struct kvlist *h, const char *name, const char *token)
{
	if (token && token[0])
		return kvlist_set(h, name, token);
	kvlist_remove(h, name);
	return 0;
}

static int set_v4_headers(struct v4_ctx *x)
{
	const struct auth_request *req = x->req;
	const char *token = x->creds->security_token;
	char date[TIME_RFC1123_LEN];
	int rc;

	if (x->sc->s3) {
		if (req->payload_sha256 && req->payload_sha256[0])
			x->payload = req->payload_sha256;
		rc = kvlist_set(req->headers, "x-amz-date", x->iso);
		if (!rc)
			rc = kvlist_set(req->headers, "x-amz-content-sha256",
					x->payload);
		return rc ? rc
			  : set_token(req->headers, "x-amz-security-token",
				      token);
	}
	/* OSS accepts only the literal UNSIGNED-PAYLOAD; Date is sent too
	 * (not signed) as the SDKs do. */
	time_fmt_rfc1123(date, req->now);
	rc = kvlist_set(req->headers, "x-oss-date", x->iso);
	if (!rc)
		rc = kvlist_set(req->headers, "Date", date);
	if (!rc)
		rc = kvlist_set(req->headers, "x-oss-content-sha256",
				AUTH_UNSIGNED_PAYLOAD);
	return rc ? rc : set_token(req->headers, "x-oss-security-token", token);
}

static int authorization(const struct v4_ctx *x, struct buf *out)
{
	int rc = buf_appendf(out, "%s Credential=%s/%s,", x->sc->algorithm,
			     x->creds->access_key_id, x->scope.data);

	if (!rc && x->sc->s3)
		rc = buf_appendf(out, "SignedHeaders=%s,", x->additional.data);
	else if (!rc && x->additional.len)
		rc = buf_appendf(out, "AdditionalHeaders=%s,",
				 x->additional.data);
	return rc ? rc : buf_appendf(out, "Signature=%s", x->signature);
}

int auth_v4_sign_headers(bool s3, const struct auth_request *req,
			 const struct auth_creds *c, struct auth_debug *dbg)
{
	struct v4_ctx x;
	struct buf auth;
	int rc;

	buf_init(&auth, 0);
	rc = ctx_init(&x, s3, req, c);
	if (!rc)
		rc = set_v4_headers(&x);
	if (!rc)
		rc = compute(&x, req->query, dbg);
	if (!rc)
		rc = authorization(&x, &auth);
	if (!rc)
		rc = kvlist_set(req->headers, "Authorization", auth.data);
	auth_buf_wipe(&auth);
	ctx_fini(&x);
	return rc;
}

/* ---- presigned query ----------------------------------------------------- */

/* OSS: the x-oss-* signature parameters (all but the signature itself are
 * signed).  The AdditionalHeaders list is known only after the extra names
 * were filtered, which ctx_init did. */
static int oss_presign_params(struct v4_ctx *x, long expires_s,
			      struct kvlist *q)
{
	struct buf cred;
	char buf[32];
	int rc;

	buf_init(&cred, 0);
	snprintf(buf, sizeof(buf), "%ld", expires_s);
	rc = buf_appendf(&cred, "%s/%s", x->creds->access_key_id,
			 x->scope.data);
	if (!rc)
		rc = kvlist_add(q, "x-oss-signature-version", x->sc->algorithm);
	if (!rc)
		rc = kvlist_add(q, "x-oss-credential", cred.data);
	if (!rc)
		rc = kvlist_add(q, "x-oss-date", x->iso);
	if (!rc)
		rc = kvlist_add(q, "x-oss-expires", buf);
	for (size_t i = 0; !rc && i < x->n_extra; i++)
		rc = buf_appendf(&x->additional, "%s%s", i ? ";" : "",
				 x->extra[i]);
	if (!rc && x->additional.len)
		rc = kvlist_add(q, "x-oss-additional-headers",
				x->additional.data);
	if (!rc && x->creds->security_token && x->creds->security_token[0])
		rc = kvlist_add(q, "x-oss-security-token",
				x->creds->security_token);
	buf_fini(&cred);
	return rc;
}

/* S3: X-Amz-SignedHeaders must be in the canonical query, so the header
 * set is worked out first with the same rules as the header mode. */
static int s3_presign_params(struct v4_ctx *x, long expires_s, struct kvlist *q)
{
	struct buf scratch, cred;
	char buf[32];
	int rc;

	buf_init(&scratch, 0);
	buf_init(&cred, 0);
	rc = canonical_headers(x, &scratch);
	snprintf(buf, sizeof(buf), "%ld", expires_s);
	if (!rc)
		rc = buf_appendf(&cred, "%s/%s", x->creds->access_key_id,
				 x->scope.data);
	if (!rc)
		rc = kvlist_add(q, "X-Amz-Algorithm", x->sc->algorithm);
	if (!rc)
		rc = kvlist_add(q, "X-Amz-Credential", cred.data);
	if (!rc)
		rc = kvlist_add(q, "X-Amz-Date", x->iso);
	if (!rc)
		rc = kvlist_add(q, "X-Amz-Expires", buf);
	if (!rc)
		rc = kvlist_add(q, "X-Amz-SignedHeaders", x->additional.data);
	if (!rc && x->creds->security_token && x->creds->security_token[0])
		rc = kvlist_add(q, "X-Amz-Security-Token",
				x->creds->security_token);
	buf_fini(&cred);
	buf_fini(&scratch);
	return rc;
}

static int presign_output(const struct v4_ctx *x, struct kvlist *q,
			  struct buf *out)
{
	int rc;

	/* S3: the canonical query with the signature last, as AWS documents
	 * it.  OSS: every parameter ordered by raw name, which is what the
	 * official OSS vectors' URLs are (Go's url.Values.Encode). */
	if (x->sc->s3) {
		rc = auth_v4_canonical_query(q, true, out);
		return rc ? rc
			  : buf_appendf(out, "&X-Amz-Signature=%s",
					x->signature);
	}
	rc = kvlist_add(q, "x-oss-signature", x->signature);
	return rc ? rc : auth_query_encode(q, AUTH_QUERY_BY_RAW, true, out);
}

int auth_v4_presign(bool s3, const struct auth_request *req,
		    const struct auth_creds *c, long expires_s, struct buf *out,
		    struct auth_debug *dbg)
{
	struct v4_ctx x;
	struct kvlist q;
	int rc;

	kvlist_init(&q);
	rc = ctx_init(&x, s3, req, c);
	/* Both services refuse a validity past seven days. */
	if (!rc && (expires_s <= 0 || expires_s > 7 * 24 * 3600))
		rc = -EINVAL;
	if (!rc && req->query)
		rc = kvlist_copy(&q, req->query);
	if (!rc)
		rc = s3 ? s3_presign_params(&x, expires_s, &q)
			: oss_presign_params(&x, expires_s, &q);
	if (!rc)
		rc = compute(&x, &q, dbg);
	if (!rc)
		rc = presign_output(&x, &q, out);
	kvlist_fini(&q);
	ctx_fini(&x);
	return rc;
}
