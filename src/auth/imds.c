/* One RAM-role credential fetch from the ECS instance metadata service
 * (oss-protocol.md 7.3):
 *   1. PUT /latest/api/token (hardened mode); on any failure carry on
 *      without a token, as the SDKs do;
 *   2. GET /latest/meta-data/ram/security-credentials/ for the role name,
 *      unless configured;
 *   3. GET .../security-credentials/<role> for the credential JSON.
 *
 * A blocking curl easy handle: this is a rare, small request made at mount
 * time and by the provider's refresher thread, never by the I/O engine.
 * Bodies are capped, and the ones holding secrets are wiped. */
#include <errno.h>
#include <string.h>

#include <curl/curl.h>
#include <openssl/crypto.h>

#include "auth_i.h"

#define IMDS_TOKEN_TTL_S  "180" /* only needs to outlive this one fetch */
#define IMDS_MAX_BODY	  ((size_t)64 << 10)
#define IMDS_MAX_TOKEN	  512
#define IMDS_CREDS_PATH	  "/latest/meta-data/ram/security-credentials/"
#define IMDS_TOKEN_PATH	  "/latest/api/token"
#define IMDS_TOKEN_HEADER "X-aliyun-ecs-metadata-token"
#define IMDS_TTL_HEADER	  "X-aliyun-ecs-metadata-token-ttl-seconds"

struct imds {
	const struct auth_imds_config *cfg;
	CURL *h;
	char token[IMDS_MAX_TOKEN]; /* "" = plain (IMDSv1) requests */
	char *err;
	size_t err_size;
};

static size_t on_body(char *p, size_t size, size_t nmemb, void *ud)
{
	size_t n = size * nmemb;

	/* Returning short makes curl stop with CURLE_WRITE_ERROR. */
	return buf_append(ud, p, n) ? 0 : n;
}

static size_t on_upload(char *p, size_t size, size_t nmemb, void *ud)
{
	return 0; /* the token PUT has an empty body */
}

static int on_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow,
		       curl_off_t ultotal, curl_off_t ulnow)
{
	const atomic_bool *cancel = ud;

	return atomic_load(cancel) ? 1 : 0; /* non-zero aborts */
}

static struct curl_slist *request_headers(const struct imds *m, bool put)
{
	struct curl_slist *l, *t;
	struct buf line;

	/* "Expect:" turns off curl's 100-continue wait for the PUT. */
	l = curl_slist_append(NULL, "Expect:");
	buf_init(&line, 0);
	if (put)
		buf_appendf(&line, "%s: %s", IMDS_TTL_HEADER, IMDS_TOKEN_TTL_S);
	else if (m->token[0])
		buf_appendf(&line, "%s: %s", IMDS_TOKEN_HEADER, m->token);
	if (l && line.len) {
		t = curl_slist_append(l, line.data);
		if (!t) {
			curl_slist_free_all(l);
			l = NULL;
		}
	}
	auth_buf_wipe(&line);
	return l;
}

static void set_options(struct imds *m, const char *url, bool put,
			struct buf *body, struct curl_slist *hdrs)
{
	CURL *h = m->h;

	curl_easy_reset(h);
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L); /* threads */
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, m->cfg->timeout_ms);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, m->cfg->timeout_ms);
	/* A link-local service: never through a proxy from the environment,
	 * never redirected elsewhere. */
	curl_easy_setopt(h, CURLOPT_PROXY, "");
	curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
#if LIBCURL_VERSION_NUM >= 0x075500
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
#endif
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, hdrs);
	if (m->cfg->cancel) {
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA,
				 (void *)m->cfg->cancel);
	}
	if (put) {
		curl_easy_setopt(h, CURLOPT_UPLOAD, 1L);
		curl_easy_setopt(h, CURLOPT_INFILESIZE_LARGE, (curl_off_t)0);
		curl_easy_setopt(h, CURLOPT_READFUNCTION, on_upload);
	}
}

/* One request; 0 only for HTTP 200.  PATH is logged on failure, never the
 * body or the headers (the token). */
static int request(struct imds *m, bool put, const char *path, struct buf *body)
{
	struct curl_slist *hdrs = request_headers(m, put);
	struct buf url;
	long status = 0;
	CURLcode cc;
	int rc = 0;

	buf_init(&url, 0);
	if (!hdrs || buf_appendf(&url, "%s%s", m->cfg->base_url, path)) {
		rc = auth_err(-ENOMEM, m->err, m->err_size, "out of memory");
		goto out;
	}
	set_options(m, url.data, put, body, hdrs);
	cc = curl_easy_perform(m->h);
	if (cc != CURLE_OK) {
		rc = auth_err(-EIO, m->err, m->err_size,
			      "metadata service %s: %s", url.data,
			      curl_easy_strerror(cc));
		goto out;
	}
	curl_easy_getinfo(m->h, CURLINFO_RESPONSE_CODE, &status);
	if (status != 200)
		rc = auth_err(-EIO, m->err, m->err_size,
			      "metadata service %s answered HTTP %ld", url.data,
			      status);
out:
	curl_slist_free_all(hdrs);
	buf_fini(&url);
	return rc;
}

static bool printable_word(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7F)
			return false;
	return true;
}

static void get_token(struct imds *m)
{
	char *err = m->err;
	struct buf body;

	/* A failure here is not an error (plain requests follow), so it must
	 * not leave a message behind. */
	m->err = NULL;
	buf_init(&body, IMDS_MAX_TOKEN - 1);
	if (request(m, true, IMDS_TOKEN_PATH, &body) == 0) {
		str_trim(body.data);
		if (body.data[0] && printable_word(body.data))
			str_lcpy(m->token, body.data, sizeof(m->token));
	}
	if (!m->token[0])
		log_debug("metadata token unavailable; using plain requests");
	auth_buf_wipe(&body);
	m->err = err;
}

/* The role name as a URL path segment. */
static int discover_role(struct imds *m, struct buf *role)
{
	struct buf body;
	char *nl;
	int rc;

	buf_init(&body, IMDS_MAX_BODY);
	rc = request(m, false, IMDS_CREDS_PATH, &body);
	if (rc)
		goto out;
	nl = strchr(body.data, '\n'); /* one role per line; take the first */
	if (nl)
		*nl = '\0';
	str_trim(body.data);
	if (!body.data[0] || !printable_word(body.data) ||
	    strchr(body.data, '/')) {
		rc = auth_err(-EINVAL, m->err, m->err_size,
			      "metadata service gave no usable RAM role name");
		goto out;
	}
	rc = str_urlencode(role, body.data, strlen(body.data), false);
out:
	buf_fini(&body);
	return rc;
}

static int fetch(struct imds *m, struct auth_creds *out)
{
	const char *name = m->cfg->role_name;
	struct buf role, path, body;
	int rc;

	buf_init(&role, 0);
	buf_init(&path, 0);
	buf_init(&body, IMDS_MAX_BODY);
	get_token(m);
	if (name && name[0])
		rc = str_urlencode(&role, name, strlen(name), false);
	else
		rc = discover_role(m, &role);
	if (!rc)
		rc = buf_appendf(&path, "%s%s", IMDS_CREDS_PATH, role.data);
	if (!rc)
		rc = request(m, false, path.data, &body);
	if (!rc)
		rc = auth_creds_from_ecs_json(body.data, body.len, out, m->err,
					      m->err_size);
	auth_buf_wipe(&body);
	buf_fini(&path);
	buf_fini(&role);
	return rc;
}

int auth_imds_fetch(const struct auth_imds_config *cfg, struct auth_creds *out,
		    char *err, size_t err_size)
{
	struct imds m = { 0 };
	int rc;

	m.cfg = cfg;
	m.err = err;
	m.err_size = err_size;
	m.h = curl_easy_init();
	if (!m.h)
		return auth_err(-ENOMEM, err, err_size,
				"cannot create a curl handle");
	rc = fetch(&m, out);
	curl_easy_cleanup(m.h);
	OPENSSL_cleanse(m.token, sizeof(m.token));
	return rc;
}
