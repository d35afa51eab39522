/* The OSS (and S3-compatible) request client behind struct oss_store.
 *
 * Every operation is one "call": a method, a key, query parameters, base
 * headers and an optional body.  The call becomes an http_request whose
 * prepare hook runs on the I/O thread before each attempt: it rebuilds the
 * URL and headers from the call and signs them with the credentials of
 * that moment, so a retry after backoff carries a fresh date and a
 * refreshed token.  The query string put on the wire is the canonical one
 * the signer uses, so the bytes signed are the bytes sent.
 *
 * Synchronous operations (metadata, uploads) run through
 * http_engine_perform on the caller's thread; GET is asynchronous and
 * reports on the I/O thread.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <openssl/evp.h>

#include "auth.h"
#include "base.h"
#include "http.h"
#include "oss.h"

#define OSS_ETAG_MAX 80

struct oss_client {
	char *scheme;	/* "http" or "https" */
	char *host;	/* endpoint host, no port */
	char *hostport; /* host[:port] as in the URL */
	char *bucket;
	char *region;
	enum auth_sig_version sig;
	bool path_style;
	bool s3;
	struct auth_provider *creds;
	struct http_engine *engine;
};

/* One operation's description, kept for the lifetime of its request so
 * prepare can rebuild and re-sign it on every attempt. */
struct oss_call {
	struct oss_client *cl;
	char *method;
	char *key;	       /* NULL for bucket-level */
	struct kvlist query;   /* raw names and values */
	struct kvlist headers; /* base headers (unsigned) */
	/* async GET */
	oss_get_cb get_cb;
	void *get_ud;
	bool verify_crc64;
	uint64_t want_offset;
};

static const char *meta_prefix(const struct oss_client *cl)
{
	return cl->s3 ? "x-amz-meta-" : "x-oss-meta-";
}

static const char *hdr_prefix(const struct oss_client *cl)
{
	return cl->s3 ? "x-amz-" : "x-oss-";
}

static struct oss_call *call_new(struct oss_client *cl, const char *method,
				 const char *key)
{
	struct oss_call *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->cl = cl;
	c->method = str_dup(method);
	c->key = key ? str_dup(key) : NULL;
	kvlist_init(&c->query);
	kvlist_init(&c->headers);
	if (!c->method || (key && !c->key)) {
		free(c->method);
		free(c->key);
		free(c);
		return NULL;
	}
	return c;
}

static void call_free(struct oss_call *c)
{
	if (!c)
		return;
	free(c->method);
	free(c->key);
	kvlist_fini(&c->query);
	kvlist_fini(&c->headers);
	free(c);
}

/* Path as sent: /[bucket/]encoded-key (path-style puts the bucket in). */
static int build_path(const struct oss_call *c, struct buf *out)
{
	int rc = buf_append_str(out, "/");

	if (!rc && c->cl->path_style) {
		rc = str_urlencode(out, c->cl->bucket, strlen(c->cl->bucket),
				   false);
		if (!rc)
			rc = buf_append_str(out, "/");
	}
	if (!rc && c->key && *c->key)
		rc = str_urlencode(out, c->key, strlen(c->key), true);
	return rc;
}

static int build_url(const struct oss_call *c, const char *path,
		     const char *query, struct buf *out)
{
	const struct oss_client *cl = c->cl;
	int rc;

	if (cl->path_style)
		rc = buf_appendf(out, "%s://%s%s", cl->scheme, cl->hostport,
				 path);
	else
		rc = buf_appendf(out, "%s://%s.%s%s", cl->scheme, cl->bucket,
				 cl->hostport, path);
	if (!rc && query && *query)
		rc = buf_appendf(out, "?%s", query);
	return rc;
}

static int sign_call(const struct oss_call *c, struct http_request *req,
		     const char *host, const char *path)
{
	struct oss_client *cl = c->cl;
	struct auth_creds creds = { 0 };
	struct auth_request ar = { 0 };
	int rc;

	if (!cl->creds)
		return 0; /* anonymous */
	rc = auth_provider_get(cl->creds, &creds);
	if (rc == -ENOENT)
		return 0; /* anonymous */
	if (rc)
		return rc;
	ar.method = c->method;
	ar.bucket = cl->bucket;
	ar.key = c->key;
	ar.query = &c->query;
	ar.headers = &req->headers;
	ar.region = cl->region;
	ar.now = time(NULL);
	ar.host = host;
	ar.s3_uri_path = path;
	rc = auth_sign_headers(cl->sig, &ar, &creds);
	auth_creds_fini(&creds);
	return rc;
}

/* http prepare hook: URL, headers and signature for this attempt. */
static int call_prepare(struct http_request *req)
{
	struct oss_call *c = req->userdata;
	struct buf path, query, url, host;
	int rc;

	buf_init(&path, 0);
	buf_init(&query, 0);
	buf_init(&url, 0);
	buf_init(&host, 0);
	rc = build_path(c, &path);
	if (!rc)
		rc = auth_v4_canonical_query(&c->query, c->cl->s3, &query);
	if (!rc)
		rc = build_url(c, path.data, query.data, &url);
	if (!rc)
		rc = c->cl->path_style
			     ? buf_append_str(&host, c->cl->hostport)
			     : buf_appendf(&host, "%s.%s", c->cl->bucket,
					   c->cl->hostport);
	if (rc)
		goto out;
	free(req->url);
	req->url = buf_steal(&url, NULL);
	if (!req->url) {
		rc = -ENOMEM;
		goto out;
	}
	kvlist_clear(&req->headers);
	rc = kvlist_copy(&req->headers, &c->headers);
	if (!rc && c->cl->s3)
		rc = kvlist_set(&req->headers, "Host", host.data);
	if (!rc)
		rc = sign_call(c, req, host.data, path.data);
out:
	buf_fini(&path);
	buf_fini(&query);
	buf_fini(&url);
	buf_fini(&host);
	return rc;
}

/* Retry policy on top of the engine's: an expired STS token is refreshed
 * and retried; everything else follows the default classification. */
static bool call_should_retry(struct http_request *req)
{
	struct oss_call *c = req->userdata;

	if (req->status == 403 && req->resp_body.len &&
	    strstr(req->resp_body.data, "<Code>SecurityTokenExpired</Code>")) {
		auth_provider_kick(c->cl->creds);
		return true;
	}
	return http_default_should_retry(req);
}

static struct http_request *call_request(struct oss_call *c,
					 enum http_priority prio)
{
	struct http_request *req = http_request_new();

	if (!req)
		return NULL;
	if (http_request_set(req, c->method, "http://invalid/") != 0) {
		http_request_free(req);
		return NULL;
	}
	req->userdata = c;
	req->prepare = call_prepare;
	req->should_retry = call_should_retry;
	req->priority = prio;
	req->no_body_response = strcmp(c->method, "HEAD") == 0;
	return req;
}

/* Turn a finished request into 0 or -errno, filling err. */
static int call_result(const struct http_request *req, struct oss_error *err)
{
	struct oss_error local;
	struct oss_error *e = err ? err : &local;

	oss_error_clear(e);
	if (req->err) {
		str_lcpy(e->message, req->err_text, sizeof(e->message));
		return req->err;
	}
	if (req->status >= 200 && req->status < 300)
		return 0;
	return oss_error_from_response(req->status, &req->resp_headers,
				       req->resp_body.data, req->resp_body.len,
				       e);
}

/* Run a call synchronously; on return *reqp holds the finished request
 * (caller frees) when non-NULL. */
static int call_perform(struct oss_call *c, const void *body, size_t body_len,
			int fd, off_t fd_off, struct http_request **reqp,
			struct oss_error *err)
{
	struct http_request *req = call_request(c, HTTP_PRIO_FOREGROUND);
	int rc;

	if (!req)
		return -ENOMEM;
	req->body = body;
	req->body_len = body_len;
	req->body_fd = fd;
	req->body_fd_offset = fd_off;
	rc = http_engine_perform(c->cl->engine, req);
	if (rc == 0)
		rc = call_result(req, err);
	else if (err)
		oss_error_clear(err);
	if (reqp)
		*reqp = req;
	else
		http_request_free(req);
	return rc;
}

/* ---- metadata headers -------------------------------------------------- */

static int add_posix_meta(struct oss_call *c, const struct oss_posix_meta *p)
{
	char name[64], val[64];
	const char *mp = meta_prefix(c->cl);
	int rc = 0;

	if (!p)
		return 0;
	if (p->has_mode) {
		snprintf(name, sizeof(name), "%smode", mp);
		snprintf(val, sizeof(val), "%" PRIu32, p->mode);
		rc = kvlist_set(&c->headers, name, val);
	}
	if (!rc && p->has_uid) {
		snprintf(name, sizeof(name), "%suid", mp);
		snprintf(val, sizeof(val), "%" PRIu32, p->uid);
		rc = kvlist_set(&c->headers, name, val);
	}
	if (!rc && p->has_gid) {
		snprintf(name, sizeof(name), "%sgid", mp);
		snprintf(val, sizeof(val), "%" PRIu32, p->gid);
		rc = kvlist_set(&c->headers, name, val);
	}
	if (!rc && p->has_mtime) {
		snprintf(name, sizeof(name), "%smtime", mp);
		/* s3fs's form: whole seconds, or sec.nnnnnnnnn when the
		 * nanoseconds matter (rsync compares them). */
		if (p->mtime.tv_nsec)
			snprintf(val, sizeof(val), "%lld.%09ld",
				 (long long)p->mtime.tv_sec, p->mtime.tv_nsec);
		else
			snprintf(val, sizeof(val), "%lld",
				 (long long)p->mtime.tv_sec);
		rc = kvlist_set(&c->headers, name, val);
	}
	return rc;
}

static int add_prefixed(struct oss_call *c, const char *suffix,
			const char *value)
{
	char name[96];

	snprintf(name, sizeof(name), "%s%s", hdr_prefix(c->cl), suffix);
	return kvlist_set(&c->headers, name, value);
}

static int add_user_meta(struct oss_call *c, const struct kvlist *meta)
{
	char name[160];

	for (size_t i = 0; meta && i < meta->n; i++) {
		int rc;

		snprintf(name, sizeof(name), "%s%s", meta_prefix(c->cl),
			 meta->items[i].name);
		rc = kvlist_set(&c->headers, name, meta->items[i].value);
		if (rc)
			return rc;
	}
	return 0;
}

static void copy_etag(const struct kvlist *h, char *out, size_t size)
{
	const char *etag = kvlist_get(h, "ETag");
	size_t n;

	if (!out || !size)
		return;
	out[0] = '\0';
	if (!etag)
		return;
	if (*etag == '"')
		etag++;
	n = str_lcpy(out, etag, size);
	if (n && n < size && out[n - 1] == '"')
		out[n - 1] = '\0';
}

/* ---- operations ---------------------------------------------------------- */

static int op_head(void *impl, const char *key, struct oss_object_meta *out,
		   struct oss_error *err)
{
	struct oss_client *cl = impl;
	struct oss_call *c = call_new(cl, "HEAD", key);
	struct http_request *req = NULL;
	int rc;

	if (!c)
		return -ENOMEM;
	rc = call_perform(c, NULL, 0, -1, 0, &req, err);
	if (!rc)
		rc = oss_object_meta_from_headers(&req->resp_headers, cl->s3,
						  out);
	http_request_free(req);
	call_free(c);
	return rc;
}

static int op_list(void *impl, const struct oss_list_params *p,
		   struct oss_list_page *out, struct oss_error *err)
{
	struct oss_client *cl = impl;
	struct oss_call *c = call_new(cl, "GET", NULL);
	struct http_request *req = NULL;
	char maxk[16];
	int rc;

	if (!c)
		return -ENOMEM;
	snprintf(maxk, sizeof(maxk), "%d",
		 p->max_keys > 0 && p->max_keys <= 1000 ? p->max_keys : 1000);
	rc = kvlist_add(&c->query, "list-type", "2");
	if (!rc)
		rc = kvlist_add(&c->query, "max-keys", maxk);
	if (!rc)
		rc = kvlist_add(&c->query, "encoding-type", "url");
	if (!rc && p->prefix && *p->prefix)
		rc = kvlist_add(&c->query, "prefix", p->prefix);
	if (!rc && p->delimiter && *p->delimiter)
		rc = kvlist_add(&c->query, "delimiter", p->delimiter);
	if (!rc && p->token && *p->token)
		rc = kvlist_add(&c->query, "continuation-token", p->token);
	if (!rc && p->start_after && *p->start_after)
		rc = kvlist_add(&c->query, "start-after", p->start_after);
	if (!rc)
		rc = call_perform(c, NULL, 0, -1, 0, &req, err);
	if (!rc)
		rc = oss_list_parse_xml(req->resp_body.data, req->resp_body.len,
					out);
	http_request_free(req);
	call_free(c);
	return rc;
}

static void get_complete(struct http_request *req)
{
	struct oss_call *c = req->userdata;
	struct oss_get_result res;
	const char *range, *total;

	memset(&res, 0, sizeof(res));
	res.err = call_result(req, &res.oerr);
	if (!res.err) {
		res.data = req->dest ? req->dest : req->resp_body.data;
		res.len = req->dest ? req->dest_len : req->resp_body.len;
		oss_object_meta_from_headers(&req->resp_headers, c->cl->s3,
					     &res.meta);
		res.object_size = res.meta.size;
		range = kvlist_get(&req->resp_headers, "Content-Range");
		total = range ? strrchr(range, '/') : NULL;
		if (total && str_to_u64(total + 1, 10, &res.object_size) != 0)
			res.err = -EPROTO;
		if (!res.err && c->verify_crc64 && res.meta.has_crc64 &&
		    !range &&
		    crc64_update(0, res.data, res.len) != res.meta.crc64) {
			log_warn("CRC-64 mismatch on GET of a %zu-byte object",
				 res.len);
			res.err = -EIO;
		}
	} else if (res.err == -ERANGE || req->status == 416) {
		/* Read at or past the end: no bytes, not an error. */
		res.err = 0;
		res.data = "";
		res.len = 0;
	}
	c->get_cb(&res, c->get_ud);
	oss_object_meta_fini(&res.meta);
	http_request_free(req);
	call_free(c);
}

static int op_get_async(void *impl, const struct oss_get_params *p,
			oss_get_cb cb, void *ud)
{
	struct oss_client *cl = impl;
	struct oss_call *c = call_new(cl, "GET", p->key);
	struct http_request *req;
	char range[64];
	int rc = 0;

	if (!c)
		return -ENOMEM;
	c->get_cb = cb;
	c->get_ud = ud;
	c->verify_crc64 = p->verify_crc64 && p->offset == 0 && p->len == 0;
	if (p->offset || p->len) {
		if (p->len)
			snprintf(range, sizeof(range),
				 "bytes=%" PRIu64 "-%" PRIu64, p->offset,
				 p->offset + p->len - 1);
		else
			snprintf(range, sizeof(range), "bytes=%" PRIu64 "-",
				 p->offset);
		rc = kvlist_add(&c->headers, "Range", range);
		/* Without it OSS answers an out-of-range request with the
		 * whole object.  Sent in S3 mode too: OSS's S3 endpoint is
		 * still OSS, and other S3 servers ignore it. */
		if (!rc)
			rc = kvlist_add(&c->headers, "x-oss-range-behavior",
					"standard");
	}
	if (!rc && p->if_match && *p->if_match) {
		struct buf q;

		buf_init(&q, 0);
		rc = buf_appendf(&q, "\"%s\"", p->if_match);
		if (!rc)
			rc = kvlist_add(&c->headers, "If-Match", q.data);
		buf_fini(&q);
	}
	req = rc ? NULL : call_request(c, (enum http_priority)p->priority);
	if (!req) {
		call_free(c);
		return rc ? rc : -ENOMEM;
	}
	req->on_complete = get_complete;
	req->cancel_tag = p->cancel_tag;
	req->dest = p->dest;
	req->dest_cap = p->dest_cap;
	if (p->len && !p->dest)
		req->max_response_bytes = (size_t)p->len + 1;
	rc = http_engine_submit(cl->engine, req, false);
	if (rc) {
		http_request_free(req);
		call_free(c);
	}
	return rc;
}

static int md5_header(struct oss_call *c, const void *data, size_t len)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int md_len = 0;
	struct buf b64;
	int rc;

	if (!EVP_Digest(data, len, md, &md_len, EVP_md5(), NULL))
		return -EIO;
	buf_init(&b64, 0);
	rc = str_base64_encode(&b64, md, md_len);
	if (!rc)
		rc = kvlist_set(&c->headers, "Content-MD5", b64.data);
	buf_fini(&b64);
	return rc;
}

static int op_put(void *impl, struct oss_put_params *p, struct oss_error *err)
{
	struct oss_client *cl = impl;
	struct oss_call *c = call_new(cl, "PUT", p->key);
	struct http_request *req = NULL;
	int rc;

	if (!c)
		return -ENOMEM;
	rc = kvlist_add(&c->headers, "Content-Type",
			p->content_type ? p->content_type
					: "application/octet-stream");
	if (!rc)
		rc = add_posix_meta(c, p->posix);
	if (!rc)
		rc = add_user_meta(c, p->user_meta);
	if (!rc && p->forbid_overwrite && !cl->s3)
		rc = add_prefixed(c, "forbid-overwrite", "true");
	if (!rc)
		rc = call_perform(c, p->data, (size_t)p->len, p->fd,
				  p->fd_offset, &req, err);
	if (!rc)
		copy_etag(&req->resp_headers, p->etag_out, sizeof(p->etag_out));
	http_request_free(req);
	call_free(c);
	return rc;
}

static int copy_source(struct oss_call *c, const char *src_key)
{
	struct buf v;
	int rc;

	buf_init(&v, 0);
	rc = buf_appendf(&v, "/%s/", c->cl->bucket);
	if (!rc)
		rc = str_urlencode(&v, src_key, strlen(src_key), true);
	if (!rc)
		rc = add_prefixed(c, "copy-source", v.data);
	buf_fini(&v);
	return rc;
}

static int op_copy(void *impl, const char *src_key, const char *dst_key,
		   const struct oss_posix_meta *posix, const char *content_type,
		   struct oss_error *err)
{
	struct oss_client *cl = impl;
	struct oss_call *c = call_new(cl, "PUT", dst_key);
	struct http_request *req = NULL;
	char etag[OSS_ETAG_MAX];
	int rc;

	if (!c)
		return -ENOMEM;
	rc = copy_source(c, src_key);
	if (!rc && (posix || content_type)) {
		rc = add_prefixed(c, "metadata-directive", "REPLACE");
		if (!rc)
			rc = kvlist_add(&c->headers, "Content-Type",
					content_type
						? content_type
						: "application/octet-stream");
		if (!rc)
			rc = add_posix_meta(c, posix);
	}
	if (!rc)
		rc = call_perform(c, NULL, 0, -1, 0, &req, err);
	if (!rc)
		rc = oss_parse_etag_result_xml(req->resp_body.data,
					       req->resp_body.len, etag,
					       sizeof(etag), err);
	http_request_free(req);
	call_free(c);
	return rc;
}

static int op_del(void *impl, const char *key, struct oss_error *err)
{
	struct oss_call *c = call_new(impl, "DELETE", key);
	int rc;

	if (!c)
		return -ENOMEM;
	rc = call_perform(c, NULL, 0, -1, 0, NULL, err);
	call_free(c);
	return rc;
}

static int op_del_multi(void *impl, const char *const *keys, size_t n,
			struct oss_error *err)
{
	struct oss_call *c = call_new(impl, "POST", NULL);
	struct http_request *req = NULL;
	struct buf body;
	size_t failed = 0;
	int rc;

	if (!c)
		return -ENOMEM;
	buf_init(&body, 0);
	rc = oss_build_delete_xml(keys, n, true, &body);
	if (!rc)
		rc = kvlist_add(&c->query, "delete", "");
	if (!rc)
		rc = kvlist_add(&c->headers, "Content-Type", "application/xml");
	if (!rc)
		rc = md5_header(c, body.data, body.len);
	if (!rc)
		rc = call_perform(c, body.data, body.len, -1, 0, &req, err);
	if (!rc)
		rc = oss_parse_delete_result_xml(req->resp_body.data,
						 req->resp_body.len, &failed);
	if (!rc && failed)
		rc = -EIO;
	http_request_free(req);
	buf_fini(&body);
	call_free(c);
	return rc;
}

static int op_mp_init(void *impl, const char *key, const char *content_type,
		      const struct oss_posix_meta *posix, char **upload_id,
		      struct oss_error *err)
{
	struct oss_call *c = call_new(impl, "POST", key);
	struct http_request *req = NULL;
	int rc;

	if (!c)
		return -ENOMEM;
	rc = kvlist_add(&c->query, "uploads", "");
	if (!rc)
		rc = kvlist_add(&c->headers, "Content-Type",
				content_type ? content_type
					     : "application/octet-stream");
	if (!rc)
		rc = add_posix_meta(c, posix);
	if (!rc)
		rc = call_perform(c, NULL, 0, -1, 0, &req, err);
	if (!rc)
		rc = oss_mp_parse_initiate_xml(req->resp_body.data,
					       req->resp_body.len, upload_id);
	http_request_free(req);
	call_free(c);
	return rc;
}

static int part_query(struct oss_call *c, const char *upload_id, int number)
{
	char num[16];
	int rc;

	snprintf(num, sizeof(num), "%d", number);
	rc = kvlist_add(&c->query, "partNumber", num);
	if (!rc)
		rc = kvlist_add(&c->query, "uploadId", upload_id);
	return rc;
}

static int op_mp_upload_part(void *impl, const char *key, const char *upload_id,
			     int part_number, const void *data, int fd,
			     off_t fd_offset, uint64_t len, char *etag_out,
			     size_t etag_size, struct oss_error *err)
{
	struct oss_call *c = call_new(impl, "PUT", key);
	struct http_request *req = NULL;
	int rc;

	if (!c)
		return -ENOMEM;
	rc = part_query(c, upload_id, part_number);
	if (!rc)
		rc = call_perform(c, data, (size_t)len, fd, fd_offset, &req,
				  err);
	if (!rc)
		copy_etag(&req->resp_headers, etag_out, etag_size);
	http_request_free(req);
	call_free(c);
	return rc;
}

static int op_mp_upload_part_copy(void *impl, const char *src_key,
				  const char *key, const char *upload_id,
				  int part_number, uint64_t src_offset,
				  uint64_t len, char *etag_out,
				  size_t etag_size, struct oss_error *err)
{
	struct oss_call *c = call_new(impl, "PUT", key);
	struct http_request *req = NULL;
	char range[64];
	int rc;

	if (!c)
		return -ENOMEM;
	snprintf(range, sizeof(range), "bytes=%" PRIu64 "-%" PRIu64, src_offset,
		 src_offset + len - 1);
	rc = part_query(c, upload_id, part_number);
	if (!rc)
		rc = copy_source(c, src_key);
	if (!rc)
		rc = add_prefixed(c, "copy-source-range", range);
	if (!rc)
		rc = call_perform(c, NULL, 0, -1, 0, &req, err);
	if (!rc)
		rc = oss_parse_etag_result_xml(req->resp_body.data,
					       req->resp_body.len, etag_out,
					       etag_size, err);
	http_request_free(req);
	call_free(c);
	return rc;
}

static int op_mp_complete(void *impl, const char *key, const char *upload_id,
			  const struct oss_part *parts, size_t n,
			  struct oss_error *err)
{
	struct oss_call *c = call_new(impl, "POST", key);
	struct http_request *req = NULL;
	struct buf body;
	char etag[OSS_ETAG_MAX];
	int rc;

	if (!c)
		return -ENOMEM;
	buf_init(&body, 0);
	rc = oss_mp_build_complete_xml(parts, n, &body);
	if (!rc)
		rc = kvlist_add(&c->query, "uploadId", upload_id);
	if (!rc)
		rc = kvlist_add(&c->headers, "Content-Type", "application/xml");
	if (!rc)
		rc = call_perform(c, body.data, body.len, -1, 0, &req, err);
	if (!rc)
		rc = oss_parse_etag_result_xml(req->resp_body.data,
					       req->resp_body.len, etag,
					       sizeof(etag), err);
	http_request_free(req);
	buf_fini(&body);
	call_free(c);
	return rc;
}

static int op_mp_abort(void *impl, const char *key, const char *upload_id,
		       struct oss_error *err)
{
	struct oss_call *c = call_new(impl, "DELETE", key);
	int rc;

	if (!c)
		return -ENOMEM;
	rc = kvlist_add(&c->query, "uploadId", upload_id);
	if (!rc)
		rc = call_perform(c, NULL, 0, -1, 0, NULL, err);
	call_free(c);
	return rc;
}

static int op_put_symlink(void *impl, const char *key, const char *target,
			  const struct oss_posix_meta *posix,
			  struct oss_error *err)
{
	struct oss_client *cl = impl;
	struct oss_call *c;
	struct buf enc;
	int rc;

	if (cl->s3) {
		/* No native symlinks over S3: the body is the target and
		 * the mode says S_IFLNK (s3fs's convention). */
		struct oss_posix_meta m =
			posix ? *posix : (struct oss_posix_meta){ 0 };
		struct oss_put_params p = { 0 };

		m.has_mode = true;
		m.mode = S_IFLNK | 0777;
		p.key = key;
		p.data = target;
		p.fd = -1;
		p.len = strlen(target);
		p.posix = &m;
		return op_put(impl, &p, err);
	}
	c = call_new(cl, "PUT", key);
	if (!c)
		return -ENOMEM;
	buf_init(&enc, 0);
	/* The SDKs and ossfs 2 URL-encode the target (decoded on read). */
	rc = str_urlencode(&enc, target, strlen(target), false);
	if (!rc)
		rc = kvlist_add(&c->query, "symlink", "");
	if (!rc)
		rc = add_prefixed(c, "symlink-target", enc.data);
	if (!rc)
		rc = add_posix_meta(c, posix);
	if (!rc)
		rc = call_perform(c, NULL, 0, -1, 0, NULL, err);
	buf_fini(&enc);
	call_free(c);
	return rc;
}

/* GetSymlink (S3: a GET of the body), with the response's metadata in
 * meta when it is given. */
static int symlink_get(struct oss_client *cl, const char *key, char **target,
		       struct oss_object_meta *meta, struct oss_error *err)
{
	struct oss_call *c = call_new(cl, "GET", key);
	struct http_request *req = NULL;
	const char *t;
	struct buf dec;
	int rc;

	if (!c)
		return -ENOMEM;
	buf_init(&dec, 0);
	if (!cl->s3)
		rc = kvlist_add(&c->query, "symlink", "");
	else
		rc = 0;
	if (!rc)
		rc = call_perform(c, NULL, 0, -1, 0, &req, err);
	if (rc)
		goto out;
	if (cl->s3) {
		rc = buf_append(&dec, req->resp_body.data, req->resp_body.len);
	} else {
		t = kvlist_get(&req->resp_headers, "x-oss-symlink-target");
		rc = t ? str_urldecode(&dec, t, strlen(t), false) : -EPROTO;
	}
	if (!rc && meta)
		rc = oss_object_meta_from_headers(&req->resp_headers, cl->s3,
						  meta);
	if (!rc) {
		*target = buf_steal(&dec, NULL);
		rc = *target ? 0 : -ENOMEM;
	}
out:
	http_request_free(req);
	buf_fini(&dec);
	call_free(c);
	return rc;
}

static int op_get_symlink(void *impl, const char *key, char **target,
			  struct oss_error *err)
{
	return symlink_get(impl, key, target, NULL, err);
}

static int op_get_symlink_meta(void *impl, const char *key,
			       struct oss_object_meta *out,
			       struct oss_error *err)
{
	char *target = NULL;
	int rc = symlink_get(impl, key, &target, out, err);

	if (!rc) {
		/* A symlink's type is what GetSymlink answered for. */
		if (!((struct oss_client *)impl)->s3)
			out->type = OSS_OBJ_SYMLINK;
		out->symlink_target = target;
	}
	return rc;
}

static int op_probe(void *impl, struct oss_error *err)
{
	struct oss_list_params p = { .max_keys = 1 };
	struct oss_list_page page;
	int rc;

	oss_list_page_init(&page);
	rc = op_list(impl, &p, &page, err);
	oss_list_page_fini(&page);
	return rc;
}

static void client_free(struct oss_client *cl)
{
	if (!cl)
		return;
	free(cl->scheme);
	free(cl->host);
	free(cl->hostport);
	free(cl->bucket);
	free(cl->region);
	free(cl);
}

static void op_destroy(void *impl)
{
	client_free(impl);
}

static const struct oss_store_ops client_ops = {
	.head = op_head,
	.list = op_list,
	.get_async = op_get_async,
	.put = op_put,
	.copy = op_copy,
	.del = op_del,
	.del_multi = op_del_multi,
	.mp_init = op_mp_init,
	.mp_upload_part = op_mp_upload_part,
	.mp_upload_part_copy = op_mp_upload_part_copy,
	.mp_complete = op_mp_complete,
	.mp_abort = op_mp_abort,
	.put_symlink = op_put_symlink,
	.get_symlink = op_get_symlink,
	.get_symlink_meta = op_get_symlink_meta,
	.probe = op_probe,
	.destroy = op_destroy,
};

/* ---- construction ----------------------------------------------------------
 */

static bool host_is_ip_or_local(const char *host)
{
	if (strcmp(host, "localhost") == 0 || strchr(host, ':'))
		return true; /* localhost or an IPv6 literal */
	for (const char *p = host; *p; p++)
		if (!((*p >= '0' && *p <= '9') || *p == '.'))
			return false;
	return true;
}

/* Split scheme://host[:port][/] into its parts. */
static int parse_url(struct oss_client *cl, const char *url, char *err,
		     size_t err_size)
{
	const char *p = strstr(url, "://");
	const char *hp, *end, *colon;

	if (!p || (strncmp(url, "http", 4) != 0)) {
		snprintf(err, err_size,
			 "bad endpoint url '%s': expected http://HOST[:PORT] "
			 "or https://HOST[:PORT]",
			 url);
		return -EINVAL;
	}
	cl->scheme = str_ndup(url, (size_t)(p - url));
	hp = p + 3;
	end = hp + strcspn(hp, "/?#");
	if (*end == '/' && end[1] != '\0') {
		snprintf(err, err_size,
			 "endpoint url '%s' must not contain a path", url);
		return -EINVAL;
	}
	cl->hostport = str_ndup(hp, (size_t)(end - hp));
	if (hp[0] == '[')
		colon = strchr(hp, ']');
	else
		colon = memchr(hp, ':', (size_t)(end - hp));
	if (hp[0] == '[')
		cl->host = colon ? str_ndup(hp + 1, (size_t)(colon - hp - 1))
				 : NULL;
	else
		cl->host = str_ndup(hp, (size_t)((colon ? colon : end) - hp));
	if (!cl->scheme || !cl->hostport || !cl->host || !*cl->host) {
		snprintf(err, err_size, "bad endpoint url '%s'", url);
		return -EINVAL;
	}
	if (strcmp(cl->scheme, "http") != 0 &&
	    strcmp(cl->scheme, "https") != 0) {
		snprintf(err, err_size, "unsupported scheme in url '%s'", url);
		return -EINVAL;
	}
	return 0;
}

int oss_client_new(const struct oss_client_config *cfg, struct oss_store *out,
		   char *err, size_t err_size)
{
	struct oss_client *cl = calloc(1, sizeof(*cl));
	char region[64];
	int rc;

	if (!cl)
		return -ENOMEM;
	if (!err || !err_size) {
		static char sink[1];

		err = sink;
		err_size = sizeof(sink);
	}
	err[0] = '\0';
	rc = parse_url(cl, cfg->url ? cfg->url : "", err, err_size);
	if (rc)
		goto fail;
	cl->bucket = str_dup(cfg->bucket);
	cl->sig = cfg->sig;
	cl->s3 = cfg->sig == AUTH_SIG_S3_V4;
	cl->path_style = cfg->path_style || host_is_ip_or_local(cl->host);
	cl->creds = cfg->creds;
	cl->engine = cfg->engine;
	if (cfg->region && *cfg->region)
		cl->region = str_dup(cfg->region);
	else if (oss_region_from_endpoint(cl->host, region, sizeof(region)) ==
		 0)
		cl->region = str_dup(region);
	else if (cl->s3)
		cl->region = str_dup("us-east-1");
	if (!cl->bucket || !*cl->bucket) {
		snprintf(err, err_size, "no bucket given");
		rc = -EINVAL;
		goto fail;
	}
	if (!cl->region && cl->sig == AUTH_SIG_OSS_V4) {
		snprintf(err, err_size,
			 "cannot derive the region from endpoint '%s': give "
			 "region=ID (e.g. region=cn-hangzhou) or use sigv1",
			 cl->host);
		rc = -EINVAL;
		goto fail;
	}
	out->ops = &client_ops;
	out->impl = cl;
	return 0;
fail:
	client_free(cl);
	return rc;
}
