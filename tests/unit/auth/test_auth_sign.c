/* Signing: every official vector in tests/data/oss-vectors (OSS V1/V4,
 * header and presigned) and the AWS documentation examples in
 * tests/data/s3-vectors.json, read at run time.  Each vector counts as
 * checked only when every field of its "expected" and
 * "derived_intermediates" was compared and matched; the last case fails
 * unless all of them were. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "auth_i.h"
#include "testutil.h"
#include "vectors.h"

/* [0] OSS (tests/data/oss-vectors), [1] AWS S3 (tests/data/s3-vectors) */
static int vectors_total[2], vectors_ok[2];
static int family; /* which of the two the running vector belongs to */

struct run {
	struct kvlist headers, query, got;
	struct buf cr, sts, out;
	struct auth_debug dbg;
	struct auth_request req;
	struct auth_creds creds;
	const char *extra[16];
};

static void run_init(struct run *r, const struct ajson *in)
{
	memset(r, 0, sizeof(*r));
	kvlist_init(&r->headers);
	kvlist_init(&r->query);
	kvlist_init(&r->got);
	buf_init(&r->cr, 0);
	buf_init(&r->sts, 0);
	buf_init(&r->out, 0);
	r->dbg.canonical_request = &r->cr;
	r->dbg.string_to_sign = &r->sts;
	r->creds.access_key_id = (char *)ajson_get_str(in, "access_key_id");
	r->creds.access_key_secret =
		(char *)ajson_get_str(in, "access_key_secret");
	r->creds.security_token = (char *)ajson_get_str(in, "security_token");
	r->req.method = ajson_get_str(in, "method");
	r->req.bucket = ajson_get_str(in, "bucket");
	r->req.key = ajson_get_str(in, "key");
	r->req.region = ajson_get_str(in, "region");
	r->req.product = ajson_get_str(in, "product");
	r->req.headers = &r->headers;
	r->req.query = &r->query;
}

static void run_fini(struct run *r)
{
	kvlist_fini(&r->headers);
	kvlist_fini(&r->query);
	kvlist_fini(&r->got);
	buf_fini(&r->cr);
	buf_fini(&r->sts);
	buf_fini(&r->out);
}

static void names_into(const char **dst, size_t *n, const struct ajson *arr)
{
	*n = 0;
	for (size_t i = 0; arr && i < arr->n_kids && i < 16; i++)
		dst[(*n)++] = ajson_str(ajson_at(arr, i));
}

static void got(struct run *r, const char *name, const char *value)
{
	if (value)
		kvlist_add(&r->got, name, value);
}

/* Compare every member of OBJ (except notes) with what the run produced;
 * false when one was not produced at all (a silent skip). */
static bool compare_all(const char *id, const struct ajson *obj, struct run *r)
{
	bool all = true;

	for (size_t i = 0; obj && i < obj->n_kids; i++) {
		const struct ajson *f = &obj->kids[i];
		const char *have;

		if (str_has_prefix(f->key, "note"))
			continue;
		have = kvlist_get(&r->got, f->key);
		if (!have || !ajson_str(f)) {
			fprintf(stderr, "%s: field %s not checked\n", id,
				f->key);
			all = false;
			continue;
		}
		if (strcmp(have, ajson_str(f)) != 0) {
			fprintf(stderr, "%s: %s mismatch\n", id, f->key);
			all = false;
		}
		CHECK_STR(have, ajson_str(f));
	}
	return all;
}

static void finish(const char *id, const struct ajson *v, struct run *r, int rc)
{
	bool ok = rc == 0;

	CHECK_INT(rc, 0);
	ok = compare_all(id, ajson_get(v, "expected"), r) && ok;
	ok = compare_all(id, ajson_get(v, "derived_intermediates"), r) && ok;
	vectors_total[family]++;
	if (ok)
		vectors_ok[family]++;
	else
		fprintf(stderr, "vector %s NOT reproduced\n", id);
}

/* ---- OSS V1 -------------------------------------------------------------- */

static void v1_header_one(const struct ajson *v)
{
	const struct ajson *in = ajson_get(v, "inputs");
	struct run r;
	int rc;

	run_init(&r, in);
	names_into(r.extra, &r.req.n_extra_subresources,
		   ajson_get(in, "extra_subresources_treated_as_signed"));
	r.req.extra_subresources = r.extra;
	CHECK_INT(tv_raw_query(&r.query, ajson_get_str(in, "raw_query")), 0);
	CHECK_INT(tv_pairs(&r.headers, ajson_get(in, "headers")), 0);
	CHECK_INT(time_parse_rfc1123(
			  ajson_get_str(in, "date_used_in_string_to_sign"),
			  &r.req.now),
		  0);
	rc = auth_sign_headers_debug(AUTH_SIG_OSS_V1, &r.req, &r.creds, &r.dbg);
	got(&r, "string_to_sign", r.sts.data);
	got(&r, "authorization", kvlist_get(&r.headers, "Authorization"));
	finish(ajson_get_str(v, "id"), v, &r, rc);
	run_fini(&r);
}

static void oss_url(struct run *r, const char *region)
{
	struct buf url;

	/* The Go tests' endpoint; the key is encoded with '/' as %2F, as the
	 * v1 Go SDK does in presigned URLs. */
	buf_init(&url, 0);
	buf_appendf(&url, "http://%s.oss-%s.aliyuncs.com/", r->req.bucket,
		    region);
	str_urlencode(&url, r->req.key, strlen(r->req.key), false);
	buf_appendf(&url, "?%s", r->out.data);
	got(r, "url", url.data);
	buf_fini(&url);
}

/* The python test behind v1-presign-3 appends '?'+query to a URL that
 * already has one; its query is taken apart the way that test's parser
 * did (see the vector's note). */
static void v1_presign_query(struct run *r, const struct ajson *in)
{
	const char *raw = ajson_get_str(in, "raw_url_as_built_by_test");

	if (raw)
		CHECK_INT(tv_raw_query(&r->query, strchr(raw, '?') + 1), 0);
	else
		CHECK_INT(tv_pairs(&r->query, ajson_get(in, "query")), 0);
}

static void v1_presign_one(const struct ajson *v)
{
	const struct ajson *in = ajson_get(v, "inputs");
	struct kvlist out_q;
	struct run r;
	char *enc;
	int rc;

	run_init(&r, in);
	kvlist_init(&out_q);
	v1_presign_query(&r, in);
	CHECK_INT(tv_pairs(&r.headers, ajson_get(in, "headers")), 0);
	r.req.now = (time_t)tv_int(in, "expires_unix") - 3600;
	rc = auth_presign_query_debug(AUTH_SIG_OSS_V1, &r.req, &r.creds, 3600,
				      &r.out, &r.dbg);
	got(&r, "string_to_sign", r.sts.data);
	tv_raw_query(&out_q, r.out.data);
	got(&r, "signature", kvlist_get(&out_q, "Signature"));
	enc = tv_encoded_param(r.out.data, "Signature");
	got(&r, "signature_urlencoded", enc);
	free(enc);
	enc = tv_encoded_param(r.out.data, "response-content-disposition");
	got(&r, "response-content-disposition_in_url", enc);
	free(enc);
	oss_url(&r, "cn-hangzhou");
	finish(ajson_get_str(v, "id"), v, &r, rc);
	kvlist_fini(&out_q);
	run_fini(&r);
}

/* ---- OSS V4 -------------------------------------------------------------- */

/* Headers the SDK set before signing; "x-oss-date (forced by the test)"
 * gives the signing time instead. */
static void v4_sdk_headers(struct run *r, const struct ajson *arr)
{
	for (size_t i = 0; arr && i < arr->n_kids; i++) {
		const char *n = ajson_str(ajson_at(ajson_at(arr, i), 0));
		const char *val = ajson_str(ajson_at(ajson_at(arr, i), 1));

		if (str_has_prefix(n, "x-oss-date"))
			r->req.now = tv_iso_basic(val);
		else
			kvlist_set(&r->headers, n, val);
	}
}

/* The headers the signer must have added, as the vector lists them. */
static void v4_check_added(struct run *r, const struct ajson *arr)
{
	for (size_t i = 0; arr && i < arr->n_kids; i++) {
		const char *n = ajson_str(ajson_at(ajson_at(arr, i), 0));
		const char *val = ajson_str(ajson_at(ajson_at(arr, i), 1));

		CHECK_STR(kvlist_get(&r->headers, n), val);
	}
}

static void signing_key_hex(struct run *r)
{
	const char *steps[] = { r->req.region, r->req.product,
				"aliyun_v4_request" };
	unsigned char k[32];
	char day[9], hex[65];
	struct buf s;

	buf_init(&s, 0);
	buf_appendf(&s, "aliyun_v4%s", r->creds.access_key_secret);
	time_fmt_iso8601_basic(hex, r->req.now);
	memcpy(day, hex, 8);
	day[8] = '\0';
	auth_hmac_sha256(s.data, s.len, day, 8, k);
	for (size_t i = 0; i < 3; i++)
		auth_hmac_sha256(k, 32, steps[i], strlen(steps[i]), k);
	str_hex(hex, k, 32);
	got(r, "signing_key_hex", hex);
	buf_fini(&s);
}

/* Pieces of "OSS4-HMAC-SHA256 Credential=ak/SCOPE,[AdditionalHeaders=
 * LIST,]Signature=SIG" for the derived fields. */
static void v4_auth_parts(struct run *r, const char *auth)
{
	const char *cred = auth ? strstr(auth, "Credential=") : NULL;
	const char *add = auth ? strstr(auth, "AdditionalHeaders=") : NULL;
	const char *sig = auth ? strstr(auth, "Signature=") : NULL;
	char *s;

	if (!cred || !sig)
		return;
	cred = strchr(cred, '/') + 1;
	s = str_ndup(cred, (size_t)(strchr(cred, ',') - cred));
	got(r, "scope", s);
	free(s);
	s = add ? str_ndup(add + 18, (size_t)(strchr(add, ',') - add - 18))
		: str_dup("");
	got(r, "additional_headers", s);
	free(s);
	got(r, "signature", sig + 10);
}

static void v4_header_one(const struct ajson *v)
{
	const struct ajson *in = ajson_get(v, "inputs");
	struct run r;
	int rc;

	run_init(&r, in);
	names_into(r.extra, &r.req.n_additional_headers,
		   ajson_get(in, "additional_headers_requested"));
	r.req.additional_headers = r.extra;
	r.req.now = (time_t)tv_int(in, "signing_time_unix");
	CHECK_INT(tv_pairs(&r.query, ajson_get(in, "query")), 0);
	CHECK_INT(tv_pairs(&r.headers, ajson_get(in, "headers_given")), 0);
	v4_sdk_headers(&r, ajson_get(in, "headers_added_by_sdk"));
	rc = auth_sign_headers_debug(AUTH_SIG_OSS_V4, &r.req, &r.creds, &r.dbg);
	v4_check_added(&r, ajson_get(in, "headers_added_by_signer"));
	got(&r, "canonical_request", r.cr.data);
	got(&r, "string_to_sign", r.sts.data);
	got(&r, "authorization", kvlist_get(&r.headers, "Authorization"));
	got(&r, "x-oss-date", kvlist_get(&r.headers, "x-oss-date"));
	v4_auth_parts(&r, kvlist_get(&r.headers, "Authorization"));
	signing_key_hex(&r);
	finish(ajson_get_str(v, "id"), v, &r, rc);
	run_fini(&r);
}

static void v4_presign_one(const struct ajson *v)
{
	const struct ajson *in = ajson_get(v, "inputs");
	long long t0 = tv_int(in, "signing_time_unix");
	long long t1 = tv_int(in, "expiration_time_unix");
	struct kvlist out_q;
	struct run r;
	int rc;

	run_init(&r, in);
	kvlist_init(&out_q);
	names_into(r.extra, &r.req.n_additional_headers,
		   ajson_get(in, "additional_headers_requested"));
	r.req.additional_headers = r.extra;
	r.req.now = (time_t)t0;
	CHECK_INT(tv_pairs(&r.query, ajson_get(in, "query")), 0);
	CHECK_INT(tv_pairs(&r.headers, ajson_get(in, "headers")), 0);
	rc = auth_presign_query_debug(AUTH_SIG_OSS_V4, &r.req, &r.creds,
				      (long)(t1 - t0), &r.out, &r.dbg);
	got(&r, "canonical_request", r.cr.data);
	got(&r, "string_to_sign", r.sts.data);
	tv_raw_query(&out_q, r.out.data);
	for (size_t i = 0; i < out_q.n; i++)
		if (str_has_prefix(out_q.items[i].name, "x-oss-"))
			got(&r, out_q.items[i].name, out_q.items[i].value);
	oss_url(&r, r.req.region);
	finish(ajson_get_str(v, "id"), v, &r, rc);
	kvlist_fini(&out_q);
	run_fini(&r);
}

/* ---- AWS S3 V4 ----------------------------------------------------------- */

static void s3_header_one(const struct ajson *v)
{
	const struct ajson *in = ajson_get(v, "inputs");
	const char *auth;
	struct run r;
	int rc;

	run_init(&r, in);
	names_into(r.extra, &r.req.n_additional_headers,
		   ajson_get(in, "additional_headers_requested"));
	r.req.additional_headers = r.extra;
	r.req.host = ajson_get_str(in, "host");
	r.req.s3_uri_path = ajson_get_str(in, "uri_path");
	r.req.payload_sha256 = ajson_get_str(in, "payload_sha256");
	r.req.now = (time_t)tv_int(in, "signing_time_unix");
	CHECK_INT(tv_pairs(&r.query, ajson_get(in, "query")), 0);
	CHECK_INT(tv_pairs(&r.headers, ajson_get(in, "headers")), 0);
	rc = auth_sign_headers_debug(AUTH_SIG_S3_V4, &r.req, &r.creds, &r.dbg);
	auth = kvlist_get(&r.headers, "Authorization");
	got(&r, "canonical_request", r.cr.data);
	got(&r, "string_to_sign", r.sts.data);
	got(&r, "authorization", auth);
	got(&r, "signature", auth ? strstr(auth, "Signature=") + 10 : NULL);
	finish(ajson_get_str(v, "id"), v, &r, rc);
	run_fini(&r);
}

static void s3_presign_one(const struct ajson *v)
{
	const struct ajson *in = ajson_get(v, "inputs");
	struct kvlist out_q;
	struct buf url;
	struct run r;
	int rc;

	run_init(&r, in);
	kvlist_init(&out_q);
	buf_init(&url, 0);
	r.req.host = ajson_get_str(in, "host");
	r.req.s3_uri_path = ajson_get_str(in, "uri_path");
	r.req.now = (time_t)tv_int(in, "signing_time_unix");
	CHECK_INT(tv_pairs(&r.query, ajson_get(in, "query")), 0);
	CHECK_INT(tv_pairs(&r.headers, ajson_get(in, "headers")), 0);
	rc = auth_presign_query_debug(AUTH_SIG_S3_V4, &r.req, &r.creds,
				      (long)tv_int(in, "expires_s"), &r.out,
				      &r.dbg);
	tv_raw_query(&out_q, r.out.data);
	got(&r, "signature", kvlist_get(&out_q, "X-Amz-Signature"));
	buf_appendf(&url, "https://%s%s?%s", r.req.host, r.req.s3_uri_path,
		    r.out.data);
	got(&r, "url", url.data);
	finish(ajson_get_str(v, "id"), v, &r, rc);
	buf_fini(&url);
	kvlist_fini(&out_q);
	run_fini(&r);
}

/* ---- drivers ------------------------------------------------------------- */

static void each_vector(const char *file, const char *member,
			void (*one)(const struct ajson *), long expect_n)
{
	struct ajson *root = tv_load_json(file);
	const struct ajson *arr = ajson_get(root, member);

	CHECK(arr != NULL);
	CHECK_INT(arr ? (long long)arr->n_kids : -1, expect_n);
	for (size_t i = 0; arr && i < arr->n_kids; i++)
		one(ajson_at(arr, i));
	ajson_free(root);
}

static void test_sigv1_header(void)
{
	each_vector("oss-vectors/sigv1_header.json", "vectors", v1_header_one,
		    4);
}

static void test_sigv1_presign(void)
{
	each_vector("oss-vectors/sigv1_presign.json", "vectors", v1_presign_one,
		    3);
}

static void test_sigv4_header(void)
{
	each_vector("oss-vectors/sigv4_header.json", "vectors", v4_header_one,
		    8);
}

static void test_sigv4_presign(void)
{
	each_vector("oss-vectors/sigv4_presign.json", "vectors", v4_presign_one,
		    7);
}

static void test_s3_vectors(void)
{
	family = 1;
	each_vector("s3-vectors.json", "vectors", s3_header_one, 4);
	each_vector("s3-vectors.json", "presign_vectors", s3_presign_one, 1);
}

static void test_all_vectors_checked(void)
{
	printf("signing vectors checked: %d of %d\n", vectors_ok[0],
	       vectors_total[0]);
	printf("s3 signing vectors checked: %d of %d\n", vectors_ok[1],
	       vectors_total[1]);
	CHECK_INT(vectors_total[0], 22);
	CHECK_INT(vectors_ok[0], vectors_total[0]);
	CHECK_INT(vectors_total[1], 5);
	CHECK_INT(vectors_ok[1], vectors_total[1]);
}

/* ---- behaviour beyond the vectors ---------------------------------------- */

static struct auth_creds sts_creds(void)
{
	struct auth_creds c = { "ak", "sk", "token", 0 };

	return c;
}

static void test_canonical_query(void)
{
	struct kvlist q;
	struct buf b;

	kvlist_init(&q);
	buf_init(&b, 0);
	kvlist_add(&q, "prefix", "a b/c");
	kvlist_add(&q, "acl", "");
	kvlist_add(&q, "max-keys", "2");
	CHECK_INT(auth_v4_canonical_query(&q, false, &b), 0);
	CHECK_STR(b.data, "acl&max-keys=2&prefix=a%20b%2Fc");
	buf_reset(&b);
	CHECK_INT(auth_v4_canonical_query(&q, true, &b), 0);
	CHECK_STR(b.data, "acl=&max-keys=2&prefix=a%20b%2Fc");
	buf_reset(&b);
	CHECK_INT(auth_v4_canonical_query(NULL, true, &b), 0);
	CHECK_STR(b.data, "");
	buf_fini(&b);
	kvlist_fini(&q);
}

static void test_subresources(void)
{
	CHECK(auth_v1_is_subresource("continuation-token"));
	CHECK(auth_v1_is_subresource("uploadId"));
	CHECK(auth_v1_is_subresource("x-oss-process"));
	CHECK(!auth_v1_is_subresource("prefix"));
	CHECK(!auth_v1_is_subresource("max-keys"));
	CHECK(!auth_v1_is_subresource("uploadid")); /* case matters */
	CHECK(!auth_v1_is_subresource(NULL));
}

static void test_bad_requests(void)
{
	struct auth_creds c = sts_creds(), none = { 0 };
	struct kvlist h;
	struct auth_request req = { .method = "GET",
				    .bucket = "b",
				    .key = "k",
				    .headers = &h,
				    .now = 1 };
	struct buf out;

	kvlist_init(&h);
	buf_init(&out, 0);
	/* V4 needs a region; S3 a host; everything needs credentials. */
	CHECK_INT(auth_sign_headers(AUTH_SIG_OSS_V4, &req, &c), -EINVAL);
	req.region = "cn-hangzhou";
	CHECK_INT(auth_sign_headers(AUTH_SIG_S3_V4, &req, &c), -EINVAL);
	CHECK_INT(auth_sign_headers(AUTH_SIG_OSS_V4, &req, &none), -EINVAL);
	CHECK_INT(auth_presign_query(AUTH_SIG_OSS_V4, &req, &c, 0, &out),
		  -EINVAL);
	CHECK_INT(
		auth_presign_query(AUTH_SIG_OSS_V4, &req, &c, 8 * 86400, &out),
		-EINVAL);
	req.bucket = NULL; /* a key needs a bucket */
	CHECK_INT(auth_sign_headers(AUTH_SIG_OSS_V1, &req, &c), -EINVAL);
	CHECK(kvlist_get(&h, "Authorization") == NULL);
	buf_fini(&out);
	kvlist_fini(&h);
}

/* Signing again with other credentials must not keep a stale token. */
static void test_token_header_follows_creds(void)
{
	struct auth_creds c = sts_creds();
	struct kvlist h;
	struct auth_request req = { .method = "GET",
				    .bucket = "b",
				    .key = "k",
				    .headers = &h,
				    .region = "cn-hangzhou",
				    .now = 1 };

	kvlist_init(&h);
	CHECK_INT(auth_sign_headers(AUTH_SIG_OSS_V4, &req, &c), 0);
	CHECK_STR(kvlist_get(&h, "x-oss-security-token"), "token");
	c.security_token = NULL;
	CHECK_INT(auth_sign_headers(AUTH_SIG_OSS_V4, &req, &c), 0);
	CHECK(kvlist_get(&h, "x-oss-security-token") == NULL);
	c.security_token = "token";
	req.host = "b.s3.oss-cn-hangzhou.aliyuncs.com";
	req.s3_uri_path = "/k";
	CHECK_INT(auth_sign_headers(AUTH_SIG_S3_V4, &req, &c), 0);
	CHECK_STR(kvlist_get(&h, "x-amz-security-token"), "token");
	CHECK_STR(kvlist_get(&h, "x-amz-content-sha256"),
		  AUTH_UNSIGNED_PAYLOAD);
	/* No header ever carries the secret itself. */
	for (size_t i = 0; i < h.n; i++)
		CHECK(strstr(h.items[i].value, "sk") == NULL);
	kvlist_fini(&h);
}

/* Repeated headers are joined with ',' in request order; values trimmed;
 * S3 squeezes inner runs of spaces; Authorization is never signed. */
static void test_header_canonicalisation(void)
{
	struct auth_creds c = sts_creds();
	const char *extra[] = { "Authorization", "X-Custom" };
	struct buf cr;
	struct auth_debug dbg = { .canonical_request = &cr };
	struct kvlist h;
	struct auth_request req = {
		.method = "GET",
		.bucket = "b",
		.headers = &h,
		.region = "r",
		.now = 0,
		.host = "h",
		.s3_uri_path = "/",
		.additional_headers = extra,
		.n_additional_headers = 2,
	};

	kvlist_init(&h);
	buf_init(&cr, 0);
	kvlist_add(&h, "X-Oss-Meta-A", " 2 ");
	kvlist_add(&h, "x-oss-meta-a", "1");
	kvlist_add(&h, "Authorization", "old");
	kvlist_add(&h, "x-custom", "a   b");
	CHECK_INT(auth_sign_headers_debug(AUTH_SIG_OSS_V4, &req, &c, &dbg), 0);
	CHECK(strstr(cr.data, "\nx-oss-meta-a:2,1\n") != NULL);
	CHECK(strstr(cr.data, "\nx-custom:a   b\n") != NULL);
	CHECK(strstr(cr.data, "authorization") == NULL);
	CHECK(strstr(cr.data, "\n\nx-custom\nUNSIGNED-PAYLOAD") != NULL);
	CHECK_INT(auth_sign_headers_debug(AUTH_SIG_S3_V4, &req, &c, &dbg), 0);
	CHECK(strstr(cr.data, "\nx-custom:a b\n") != NULL);
	CHECK(strstr(cr.data, "\nhost;x-amz-content-sha256;x-amz-date;"
			      "x-amz-security-token;x-custom\n") != NULL);
	buf_fini(&cr);
	kvlist_fini(&h);
}

/* Bucket-level and service-level canonical forms. */
static void test_resource_forms(void)
{
	struct auth_creds c = { "ak", "sk", NULL, 0 };
	struct buf cr, sts;
	struct auth_debug dbg = { &cr, &sts };
	struct kvlist h;
	struct auth_request req = { .method = "GET",
				    .bucket = "b",
				    .headers = &h,
				    .region = "r",
				    .now = 0 };

	kvlist_init(&h);
	buf_init(&cr, 0);
	buf_init(&sts, 0);
	CHECK_INT(auth_sign_headers_debug(AUTH_SIG_OSS_V4, &req, &c, &dbg), 0);
	CHECK(str_has_prefix(cr.data, "GET\n/b/\n"));
	CHECK_INT(auth_sign_headers_debug(AUTH_SIG_OSS_V1, &req, &c, &dbg), 0);
	CHECK(str_has_suffix(sts.data, "\n/b/"));
	req.bucket = NULL;
	CHECK_INT(auth_sign_headers_debug(AUTH_SIG_OSS_V4, &req, &c, &dbg), 0);
	CHECK(str_has_prefix(cr.data, "GET\n/\n"));
	CHECK_INT(auth_sign_headers_debug(AUTH_SIG_OSS_V1, &req, &c, &dbg), 0);
	CHECK(str_has_suffix(sts.data, "\n/"));
	buf_fini(&cr);
	buf_fini(&sts);
	kvlist_fini(&h);
}

TU_MAIN(TU_CASE(test_sigv1_header), TU_CASE(test_sigv1_presign),
	TU_CASE(test_sigv4_header), TU_CASE(test_sigv4_presign),
	TU_CASE(test_s3_vectors), TU_CASE(test_all_vectors_checked),
	TU_CASE(test_canonical_query), TU_CASE(test_subresources),
	TU_CASE(test_bad_requests), TU_CASE(test_token_header_follows_creds),
	TU_CASE(test_header_canonicalisation), TU_CASE(test_resource_forms))
