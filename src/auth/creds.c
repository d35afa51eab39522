/* Credentials: the struct's life cycle, the environment loader and the ECS
 * metadata JSON.  Every error message names where a value came from and
 * never the value. */
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "auth_i.h"
#include "json_i.h"

int auth_err(int rc, char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	if (err && err_size) {
		va_start(ap, fmt);
		vsnprintf(err, err_size, fmt, ap);
		va_end(ap);
	}
	return rc;
}

void auth_buf_wipe(struct buf *b)
{
	if (b->cap)
		OPENSSL_cleanse(b->data, b->cap);
	buf_fini(b);
}

void auth_str_wipe(char *s)
{
	if (s)
		OPENSSL_cleanse(s, strlen(s));
	free(s);
}

void auth_creds_fini(struct auth_creds *c)
{
	if (!c)
		return;
	auth_str_wipe(c->access_key_id);
	auth_str_wipe(c->access_key_secret);
	auth_str_wipe(c->security_token);
	memset(c, 0, sizeof(*c));
}

int auth_creds_copy(struct auth_creds *dst, const struct auth_creds *src)
{
	struct auth_creds c = { 0 };

	c.access_key_id = str_dup(src->access_key_id);
	c.access_key_secret = str_dup(src->access_key_secret);
	c.security_token = str_dup(src->security_token);
	c.expiration = src->expiration;
	if ((src->access_key_id && !c.access_key_id) ||
	    (src->access_key_secret && !c.access_key_secret) ||
	    (src->security_token && !c.security_token)) {
		auth_creds_fini(&c);
		return -ENOMEM;
	}
	*dst = c;
	return 0;
}

bool auth_creds_present(const struct auth_creds *c)
{
	return c && c->access_key_id && c->access_key_id[0] &&
	       c->access_key_secret && c->access_key_secret[0];
}

/* Printable ASCII without spaces: anything else would end up inside an
 * HTTP header (an injected CR/LF) or a signature nobody can reproduce. */
static bool token_ok(const char *s)
{
	if (!s || !*s)
		return false;
	for (; *s; s++)
		if ((unsigned char)*s <= 0x20 || (unsigned char)*s >= 0x7F)
			return false;
	return true;
}

int auth_creds_set(struct auth_creds *out, const char *id, const char *secret,
		   const char *token, const char *source, char *err,
		   size_t err_size)
{
	struct auth_creds c = { 0 };

	if (!token_ok(id) || !token_ok(secret) ||
	    (token && *token && !token_ok(token)))
		return auth_err(-EINVAL, err, err_size,
				"%s: access key id, secret or token is empty "
				"or has spaces or control characters",
				source);
	c.access_key_id = str_dup(id);
	c.access_key_secret = str_dup(secret);
	if (token && *token)
		c.security_token = str_dup(token);
	if (!c.access_key_id || !c.access_key_secret ||
	    (token && *token && !c.security_token)) {
		auth_creds_fini(&c);
		return auth_err(-ENOMEM, err, err_size, "out of memory");
	}
	*out = c;
	return 0;
}

/* ---- environment --------------------------------------------------------- */

static const struct env_set {
	const char *id, *secret, *token;
} env_sets[] = {
	{ "OSS_ACCESS_KEY_ID", "OSS_ACCESS_KEY_SECRET", "OSS_SESSION_TOKEN" },
	{ "ALIBABA_CLOUD_ACCESS_KEY_ID", "ALIBABA_CLOUD_ACCESS_KEY_SECRET",
	  "ALIBABA_CLOUD_SECURITY_TOKEN" },
};

static const char *env_nonempty(const char *name)
{
	const char *v = getenv(name);

	return v && *v ? v : NULL;
}

int auth_creds_from_env(struct auth_creds *out, char *err, size_t err_size)
{
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(env_sets); i++) {
		const struct env_set *e = &env_sets[i];
		const char *id = env_nonempty(e->id);
		const char *secret = env_nonempty(e->secret);

		if (!id && !secret)
			continue;
		if (!id || !secret)
			return auth_err(-EINVAL, err, err_size,
					"%s is set but %s is not",
					id ? e->id : e->secret,
					id ? e->secret : e->id);
		return auth_creds_set(out, id, secret, env_nonempty(e->token),
				      e->id, err, err_size);
	}
	return auth_err(-ENOENT, err, err_size,
			"no credentials in the environment");
}

/* ---- ECS metadata JSON --------------------------------------------------- */

/* The metadata service's Code, reduced to characters safe to log. */
static void safe_code(const char *code, char *out, size_t size)
{
	size_t n = 0;

	for (; code && *code && n + 1 < size; code++) {
		char c = *code;

		if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
		    (c >= '0' && c <= '9') || c == '.' || c == '-' || c == '_')
			out[n++] = c;
	}
	out[n] = '\0';
}

static int ecs_fields(const struct ajson *root, struct auth_creds *out,
		      char *err, size_t err_size)
{
	static const char *const need[] = { "AccessKeyId", "AccessKeySecret",
					    "SecurityToken", "Expiration" };
	const char *code = ajson_get_str(root, "Code");
	struct timespec exp;
	char shown[41];
	int rc;

	if (!code || strcmp(code, "Success") != 0) {
		safe_code(code, shown, sizeof(shown));
		return auth_err(-EACCES, err, err_size,
				"metadata service credentials: Code is \"%s\", "
				"not \"Success\"",
				code ? shown : "(missing)");
	}
	/* All four, non-empty: without the token the other two are refused
	 * by the server anyway. */
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(need); i++) {
		const char *v = ajson_get_str(root, need[i]);

		if (!v || !v[0])
			return auth_err(-EINVAL, err, err_size,
					"metadata service credentials lack "
					"a non-empty %s",
					need[i]);
	}
	if (time_parse_iso8601(ajson_get_str(root, "Expiration"), &exp))
		return auth_err(-EINVAL, err, err_size,
				"metadata service credentials: Expiration is "
				"not an ISO 8601 UTC time");
	rc = auth_creds_set(out, ajson_get_str(root, "AccessKeyId"),
			    ajson_get_str(root, "AccessKeySecret"),
			    ajson_get_str(root, "SecurityToken"),
			    "metadata service credentials", err, err_size);
	if (!rc)
		out->expiration = exp.tv_sec;
	return rc;
}

int auth_creds_from_ecs_json(const char *json, size_t len,
			     struct auth_creds *out, char *err, size_t err_size)
{
	struct ajson *root = NULL;
	size_t off = 0;
	int rc;

	rc = ajson_parse(json, len, 64 * 1024, 8, &root, &off);
	if (rc == -ENOMEM)
		return auth_err(rc, err, err_size, "out of memory");
	if (rc)
		return auth_err(rc == -E2BIG ? -E2BIG : -EINVAL, err, err_size,
				"metadata service credentials are not valid "
				"JSON (at byte %zu)",
				off);
	if (root->type != AJSON_OBJECT)
		rc = auth_err(-EINVAL, err, err_size,
			      "metadata service credentials are not a JSON "
			      "object");
	else
		rc = ecs_fields(root, out, err, err_size);
	ajson_free(root);
	return rc;
}
