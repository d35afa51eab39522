/* Pieces every signer shares: HMAC/SHA through OpenSSL 3's non-deprecated
 * one-shot APIs, the canonical header list and the encoded query string. */
#include <ctype.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>

#include "auth_i.h"

int auth_hmac_sha256(const void *key, size_t key_len, const void *data,
		     size_t len, unsigned char out[AUTH_SHA256_LEN])
{
	unsigned int n = 0;

	if (key_len > INT32_MAX)
		return -EINVAL;
	if (!HMAC(EVP_sha256(), key, (int)key_len, data, len, out, &n) ||
	    n != AUTH_SHA256_LEN)
		return -EIO;
	return 0;
}

int auth_hmac_sha1_base64(const char *key, const void *data, size_t len,
			  struct buf *out)
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;
	size_t key_len = strlen(key);
	int rc;

	if (key_len > INT32_MAX)
		return -EINVAL;
	if (!HMAC(EVP_sha1(), key, (int)key_len, data, len, md, &n))
		return -EIO;
	rc = str_base64_encode(out, md, n);
	OPENSSL_cleanse(md, sizeof(md));
	return rc;
}

int auth_sha256_hex(const void *data, size_t len, char out[AUTH_SHA256_HEX_LEN])
{
	unsigned char md[EVP_MAX_MD_SIZE];
	unsigned int n = 0;

	if (!EVP_Digest(data, len, md, &n, EVP_sha256(), NULL) ||
	    n != AUTH_SHA256_LEN)
		return -EIO;
	str_hex(out, md, n);
	return 0;
}

/* ---- canonical headers --------------------------------------------------- */

void auth_hdrs_init(struct auth_hdrs *h)
{
	h->v = NULL;
	h->n = 0;
	h->cap = 0;
}

void auth_hdrs_fini(struct auth_hdrs *h)
{
	for (size_t i = 0; i < h->n; i++)
		free(h->v[i].name);
	free(h->v);
	auth_hdrs_init(h);
}

static int hdr_cmp(const void *pa, const void *pb)
{
	const struct auth_hdr *a = pa, *b = pb;
	int c = strcmp(a->name, b->name);

	if (c)
		return c;
	return a->order < b->order ? -1 : a->order > b->order;
}

static void trim_span(const char **s, size_t *len)
{
	while (*len && isspace((unsigned char)**s)) {
		(*s)++;
		(*len)--;
	}
	while (*len && isspace((unsigned char)(*s)[*len - 1]))
		(*len)--;
}

static int hdrs_push(struct auth_hdrs *h, const char *name, size_t name_len,
		     const char *value)
{
	struct auth_hdr *e;

	if (h->n == h->cap) {
		size_t cap = h->cap ? h->cap * 2 : 16;
		struct auth_hdr *v = realloc(h->v, cap * sizeof(*v));

		if (!v)
			return -ENOMEM;
		h->v = v;
		h->cap = cap;
	}
	e = &h->v[h->n];
	e->name = str_ndup(name, name_len);
	if (!e->name)
		return -ENOMEM;
	for (char *p = e->name; *p; p++)
		*p = (char)tolower((unsigned char)*p);
	e->value = value;
	e->value_len = strlen(value);
	trim_span(&e->value, &e->value_len);
	e->order = h->n;
	h->n++;
	return 0;
}

int auth_hdrs_collect(struct auth_hdrs *h, const struct kvlist *list,
		      auth_hdr_pick_fn pick, const void *ctx)
{
	char lname[256];

	for (size_t i = 0; list && i < list->n; i++) {
		const struct kv *kv = &list->items[i];
		size_t n = strlen(kv->name);
		int rc;

		/* Longer names are never ones a scheme signs by default and
		 * could not be asked for either (see pick functions). */
		if (n >= sizeof(lname))
			continue;
		for (size_t j = 0; j <= n; j++)
			lname[j] = (char)tolower((unsigned char)kv->name[j]);
		if (!pick(lname, ctx))
			continue;
		rc = hdrs_push(h, kv->name, n, kv->value);
		if (rc)
			return rc;
	}
	if (h->n > 1)
		qsort(h->v, h->n, sizeof(h->v[0]), hdr_cmp);
	return 0;
}

int auth_hdrs_add(struct auth_hdrs *h, const char *lname, const char *value)
{
	int rc = hdrs_push(h, lname, strlen(lname), value);

	if (rc == 0 && h->n > 1)
		qsort(h->v, h->n, sizeof(h->v[0]), hdr_cmp);
	return rc;
}

bool auth_hdrs_has(const struct auth_hdrs *h, const char *lname)
{
	for (size_t i = 0; i < h->n; i++)
		if (strcmp(h->v[i].name, lname) == 0)
			return true;
	return false;
}

static int append_value(struct buf *out, const struct auth_hdr *e,
			bool collapse_spaces)
{
	for (size_t i = 0; i < e->value_len; i++) {
		char c = e->value[i];

		if (collapse_spaces && c == ' ' && i > 0 &&
		    e->value[i - 1] == ' ')
			continue;
		if (buf_append(out, &c, 1))
			return -E2BIG;
	}
	return 0;
}

int auth_hdrs_canonical(const struct auth_hdrs *h, bool collapse_spaces,
			struct buf *out)
{
	for (size_t i = 0; i < h->n; i++) {
		bool repeat =
			i > 0 && strcmp(h->v[i].name, h->v[i - 1].name) == 0;
		bool last = i + 1 == h->n ||
			    strcmp(h->v[i].name, h->v[i + 1].name) != 0;
		int rc = repeat ? buf_append(out, ",", 1)
				: buf_appendf(out, "%s:", h->v[i].name);

		if (!rc)
			rc = append_value(out, &h->v[i], collapse_spaces);
		if (!rc && last)
			rc = buf_append(out, "\n", 1);
		if (rc)
			return rc;
	}
	return 0;
}

int auth_hdrs_names(const struct auth_hdrs *h, struct buf *out)
{
	for (size_t i = 0; i < h->n; i++) {
		int rc = 0;

		if (i > 0 && strcmp(h->v[i].name, h->v[i - 1].name) == 0)
			continue;
		if (i > 0)
			rc = buf_append(out, ";", 1);
		if (!rc)
			rc = buf_append_str(out, h->v[i].name);
		if (rc)
			return rc;
	}
	return 0;
}

/* ---- query strings ------------------------------------------------------- */

struct qp {
	const char *raw_name;
	char *name; /* encoded */
	char *value;
	size_t order;
};

static int qp_cmp_encoded(const void *pa, const void *pb)
{
	const struct qp *a = pa, *b = pb;
	int c = strcmp(a->name, b->name);

	return c ? c : strcmp(a->value, b->value);
}

static int qp_cmp_raw(const void *pa, const void *pb)
{
	const struct qp *a = pa, *b = pb;
	int c = strcmp(a->raw_name, b->raw_name);

	if (c)
		return c;
	return a->order < b->order ? -1 : a->order > b->order;
}

static char *encode(const char *s)
{
	struct buf b;
	char *out = NULL;

	buf_init(&b, 0);
	if (str_urlencode(&b, s, strlen(s), false) == 0)
		out = buf_steal(&b, NULL);
	buf_fini(&b);
	return out;
}

static int qp_fill(struct qp *v, const struct kvlist *q)
{
	for (size_t i = 0; i < q->n; i++) {
		v[i].raw_name = q->items[i].name;
		v[i].order = i;
		v[i].name = encode(q->items[i].name);
		v[i].value = encode(q->items[i].value);
		if (!v[i].name || !v[i].value)
			return -ENOMEM;
	}
	return 0;
}

static int qp_emit(const struct qp *v, size_t n, bool bare_empty,
		   struct buf *out)
{
	for (size_t i = 0; i < n; i++) {
		int rc = 0;

		if (i > 0)
			rc = buf_append(out, "&", 1);
		if (!rc)
			rc = buf_append_str(out, v[i].name);
		if (!rc && (v[i].value[0] || !bare_empty))
			rc = buf_appendf(out, "=%s", v[i].value);
		if (rc)
			return rc;
	}
	return 0;
}

int auth_query_encode(const struct kvlist *q, enum auth_query_order order,
		      bool bare_empty, struct buf *out)
{
	struct qp *v;
	int rc;

	if (!q || q->n == 0)
		return 0;
	v = calloc(q->n, sizeof(*v));
	if (!v)
		return -ENOMEM;
	rc = qp_fill(v, q);
	if (rc)
		goto out_free;
	qsort(v, q->n, sizeof(*v),
	      order == AUTH_QUERY_BY_RAW ? qp_cmp_raw : qp_cmp_encoded);
	rc = qp_emit(v, q->n, bare_empty, out);
out_free:
	for (size_t i = 0; i < q->n; i++) {
		free(v[i].name);
		free(v[i].value);
	}
	free(v);
	return rc;
}

int auth_v4_canonical_query(const struct kvlist *query, bool s3_style,
			    struct buf *out)
{
	return auth_query_encode(query, AUTH_QUERY_BY_ENCODED, !s3_style, out);
}
