/* ajson: strict, bounded JSON reader.  See json_i.h for what it refuses and
 * why.  A recursive-descent parser; recursion depth is capped by max_depth,
 * so the C stack is bounded too. */
#include <errno.h>
#include <limits.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <openssl/crypto.h>

#include "base.h"
#include "json_i.h"

/* Caps the members of one object, which keeps the duplicate-name check
 * (quadratic, but on a handful of names in practice) cheap on any input. */
#define AJSON_MAX_MEMBERS 4096

struct parser {
	const unsigned char *start;
	const unsigned char *p;
	const unsigned char *end;
	unsigned max_depth;
	int rc;
};

static int parse_value(struct parser *ps, struct ajson *out, unsigned depth);

static int fail(struct parser *ps, int rc)
{
	if (!ps->rc)
		ps->rc = rc;
	return ps->rc;
}

static void skip_ws(struct parser *ps)
{
	while (ps->p < ps->end && (*ps->p == ' ' || *ps->p == '\t' ||
				   *ps->p == '\n' || *ps->p == '\r'))
		ps->p++;
}

static void node_fini(struct ajson *v)
{
	for (size_t i = 0; i < v->n_kids; i++)
		node_fini(&v->kids[i]);
	free(v->kids);
	free(v->key);
	/* Strings may be secrets (credential documents): wipe, then free. */
	if (v->text)
		OPENSSL_cleanse(v->text, v->text_len);
	free(v->text);
	memset(v, 0, sizeof(*v));
}

static int expect_word(struct parser *ps, const char *word)
{
	size_t n = strlen(word);

	if ((size_t)(ps->end - ps->p) < n || memcmp(ps->p, word, n) != 0)
		return fail(ps, -EINVAL);
	ps->p += n;
	return 0;
}

static int hex4(struct parser *ps, unsigned *out)
{
	unsigned v = 0;

	if (ps->end - ps->p < 4)
		return fail(ps, -EINVAL);
	for (int i = 0; i < 4; i++) {
		unsigned char c = *ps->p++;

		v <<= 4;
		if (c >= '0' && c <= '9')
			v |= (unsigned)(c - '0');
		else if (c >= 'a' && c <= 'f')
			v |= (unsigned)(c - 'a' + 10);
		else if (c >= 'A' && c <= 'F')
			v |= (unsigned)(c - 'A' + 10);
		else
			return fail(ps, -EINVAL);
	}
	*out = v;
	return 0;
}

static int put_utf8(struct buf *b, unsigned cp)
{
	char u[4];
	size_t n;

	if (cp < 0x80) {
		u[0] = (char)cp;
		n = 1;
	} else if (cp < 0x800) {
		u[0] = (char)(0xC0 | (cp >> 6));
		u[1] = (char)(0x80 | (cp & 0x3F));
		n = 2;
	} else if (cp < 0x10000) {
		u[0] = (char)(0xE0 | (cp >> 12));
		u[1] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[2] = (char)(0x80 | (cp & 0x3F));
		n = 3;
	} else {
		u[0] = (char)(0xF0 | (cp >> 18));
		u[1] = (char)(0x80 | ((cp >> 12) & 0x3F));
		u[2] = (char)(0x80 | ((cp >> 6) & 0x3F));
		u[3] = (char)(0x80 | (cp & 0x3F));
		n = 4;
	}
	return buf_append(b, u, n);
}

/* \uXXXX, with a surrogate pair when the first unit asks for one. */
static int unicode_escape(struct parser *ps, struct buf *b)
{
	unsigned hi, lo;

	if (hex4(ps, &hi))
		return ps->rc;
	if (hi == 0 || (hi >= 0xDC00 && hi <= 0xDFFF))
		return fail(ps, -EINVAL);
	if (hi >= 0xD800 && hi <= 0xDBFF) {
		if (ps->end - ps->p < 2 || ps->p[0] != '\\' || ps->p[1] != 'u')
			return fail(ps, -EINVAL);
		ps->p += 2;
		if (hex4(ps, &lo))
			return ps->rc;
		if (lo < 0xDC00 || lo > 0xDFFF)
			return fail(ps, -EINVAL);
		hi = 0x10000 + ((hi - 0xD800) << 10) + (lo - 0xDC00);
	}
	return put_utf8(b, hi) ? fail(ps, -ENOMEM) : 0;
}

static int escape(struct parser *ps, struct buf *b)
{
	static const char from[] = "\"\\/bfnrt";
	static const char to[] = "\"\\/\b\f\n\r\t";
	const char *hit;
	unsigned char c;

	if (ps->p >= ps->end)
		return fail(ps, -EINVAL);
	c = *ps->p++;
	if (c == 'u')
		return unicode_escape(ps, b);
	hit = c ? strchr(from, c) : NULL;
	if (!hit)
		return fail(ps, -EINVAL);
	return buf_append(b, &to[hit - from], 1) ? fail(ps, -ENOMEM) : 0;
}

/* Length of the well-formed UTF-8 sequence at p (lead byte >= 0x80), or 0. */
static size_t utf8_seq(const unsigned char *p, const unsigned char *end)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xBF;
	size_t n;

	if (c >= 0xC2 && c <= 0xDF)
		n = 2;
	else if (c >= 0xE0 && c <= 0xEF)
		n = 3;
	else if (c >= 0xF0 && c <= 0xF4)
		n = 4;
	else
		return 0;
	if (c == 0xE0)
		lo = 0xA0;
	else if (c == 0xED)
		hi = 0x9F; /* no encoded surrogates */
	else if (c == 0xF0)
		lo = 0x90;
	else if (c == 0xF4)
		hi = 0x8F; /* nothing past U+10FFFF */
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if (p[i] < 0x80 || p[i] > 0xBF)
			return 0;
	return n;
}

static int string_body(struct parser *ps, struct buf *b)
{
	while (ps->p < ps->end) {
		unsigned char c = *ps->p;
		size_t n = 1;

		if (c == '"') {
			ps->p++;
			return 0;
		}
		if (c == '\\') {
			ps->p++;
			if (escape(ps, b))
				return ps->rc;
			continue;
		}
		if (c < 0x20)
			return fail(ps, -EINVAL);
		if (c >= 0x80 && (n = utf8_seq(ps->p, ps->end)) == 0)
			return fail(ps, -EINVAL);
		if (buf_append(b, ps->p, n))
			return fail(ps, -ENOMEM);
		ps->p += n;
	}
	return fail(ps, -EINVAL);
}

/* Upper bound of the decoded length of the string body at p: the raw
 * bytes up to the closing quote (escapes never decode longer). */
static size_t raw_span(const unsigned char *p, const unsigned char *end)
{
	const unsigned char *s = p;

	while (p < end && *p != '"')
		p += (*p == '\\' && p + 1 < end) ? 2 : 1;
	return (size_t)(p - s);
}

/* A string token into a fresh heap copy (*out, length *len).  The buffer
 * is sized once, so no stale copy of a secret is left behind by a
 * realloc. */
static int parse_string(struct parser *ps, char **out, size_t *len)
{
	struct buf b;
	size_t span;

	if (ps->p >= ps->end || *ps->p != '"')
		return fail(ps, -EINVAL);
	ps->p++;
	span = raw_span(ps->p, ps->end);
	buf_init(&b, span + 1);
	if (buf_reserve(&b, span))
		return fail(ps, -ENOMEM);
	if (string_body(ps, &b) == 0) {
		*out = buf_steal(&b, len);
		if (!*out)
			fail(ps, -ENOMEM);
	}
	if (b.cap)
		OPENSSL_cleanse(b.data, b.cap);
	buf_fini(&b);
	return ps->rc;
}

static size_t digits(struct parser *ps)
{
	size_t n = 0;

	while (ps->p < ps->end && *ps->p >= '0' && *ps->p <= '9') {
		ps->p++;
		n++;
	}
	return n;
}

static int parse_number(struct parser *ps, struct ajson *out)
{
	const unsigned char *s = ps->p;

	if (ps->p < ps->end && *ps->p == '-')
		ps->p++;
	if (ps->p < ps->end && *ps->p == '0')
		ps->p++;
	else if (digits(ps) == 0)
		return fail(ps, -EINVAL);
	if (ps->p < ps->end && *ps->p == '.') {
		ps->p++;
		if (digits(ps) == 0)
			return fail(ps, -EINVAL);
	}
	if (ps->p < ps->end && (*ps->p == 'e' || *ps->p == 'E')) {
		ps->p++;
		if (ps->p < ps->end && (*ps->p == '+' || *ps->p == '-'))
			ps->p++;
		if (digits(ps) == 0)
			return fail(ps, -EINVAL);
	}
	out->type = AJSON_NUMBER;
	out->text_len = (size_t)(ps->p - s);
	out->text = str_ndup((const char *)s, out->text_len);
	return out->text ? 0 : fail(ps, -ENOMEM);
}

/* Append one zeroed slot to v->kids and return it. */
static struct ajson *add_kid(struct parser *ps, struct ajson *v, size_t *cap)
{
	if (v->n_kids == *cap) {
		size_t ncap = *cap ? *cap * 2 : 4;
		struct ajson *k = realloc(v->kids, ncap * sizeof(*k));

		if (!k) {
			fail(ps, -ENOMEM);
			return NULL;
		}
		v->kids = k;
		*cap = ncap;
	}
	memset(&v->kids[v->n_kids], 0, sizeof(v->kids[0]));
	return &v->kids[v->n_kids++];
}

static int parse_array(struct parser *ps, struct ajson *out, unsigned depth)
{
	size_t cap = 0;

	out->type = AJSON_ARRAY;
	ps->p++; /* '[' */
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == ']') {
		ps->p++;
		return 0;
	}
	for (;;) {
		struct ajson *kid = add_kid(ps, out, &cap);

		if (!kid || parse_value(ps, kid, depth + 1))
			return ps->rc;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			continue;
		}
		if (ps->p < ps->end && *ps->p == ']') {
			ps->p++;
			return 0;
		}
		return fail(ps, -EINVAL);
	}
}

static bool has_member(const struct ajson *obj, const char *key, size_t upto)
{
	for (size_t i = 0; i < upto; i++)
		if (strcmp(obj->kids[i].key, key) == 0)
			return true;
	return false;
}

static int parse_member(struct parser *ps, struct ajson *out, size_t *cap,
			unsigned depth)
{
	struct ajson *kid;
	char *key = NULL;
	size_t key_len;

	if (out->n_kids >= AJSON_MAX_MEMBERS)
		return fail(ps, -E2BIG);
	if (parse_string(ps, &key, &key_len))
		return ps->rc;
	if (has_member(out, key, out->n_kids)) {
		free(key);
		return fail(ps, -EINVAL);
	}
	kid = add_kid(ps, out, cap);
	if (!kid) {
		free(key);
		return ps->rc;
	}
	kid->key = key;
	skip_ws(ps);
	if (ps->p >= ps->end || *ps->p != ':')
		return fail(ps, -EINVAL);
	ps->p++;
	return parse_value(ps, kid, depth + 1);
}

static int parse_object(struct parser *ps, struct ajson *out, unsigned depth)
{
	size_t cap = 0;

	out->type = AJSON_OBJECT;
	ps->p++; /* '{' */
	skip_ws(ps);
	if (ps->p < ps->end && *ps->p == '}') {
		ps->p++;
		return 0;
	}
	for (;;) {
		if (parse_member(ps, out, &cap, depth))
			return ps->rc;
		skip_ws(ps);
		if (ps->p < ps->end && *ps->p == ',') {
			ps->p++;
			skip_ws(ps);
			continue;
		}
		if (ps->p < ps->end && *ps->p == '}') {
			ps->p++;
			return 0;
		}
		return fail(ps, -EINVAL);
	}
}

static int parse_value(struct parser *ps, struct ajson *out, unsigned depth)
{
	if (depth > ps->max_depth)
		return fail(ps, -E2BIG);
	skip_ws(ps);
	if (ps->p >= ps->end)
		return fail(ps, -EINVAL);
	switch (*ps->p) {
	case '{':
		return parse_object(ps, out, depth);
	case '[':
		return parse_array(ps, out, depth);
	case '"':
		out->type = AJSON_STRING;
		return parse_string(ps, &out->text, &out->text_len);
	case 't':
		out->type = AJSON_TRUE;
		return expect_word(ps, "true");
	case 'f':
		out->type = AJSON_FALSE;
		return expect_word(ps, "false");
	case 'n':
		out->type = AJSON_NULL;
		return expect_word(ps, "null");
	default:
		return parse_number(ps, out);
	}
}

int ajson_parse(const char *text, size_t len, size_t max_bytes,
		unsigned max_depth, struct ajson **out, size_t *err_off)
{
	struct parser ps = { 0 };
	struct ajson *root = NULL;

	*out = NULL;
	ps.start = ps.p = (const unsigned char *)text;
	ps.end = ps.start + len;
	ps.max_depth = max_depth ? max_depth : AJSON_DEFAULT_MAX_DEPTH;
	if (len > (max_bytes ? max_bytes : AJSON_DEFAULT_MAX_BYTES)) {
		fail(&ps, -E2BIG);
		goto out;
	}
	root = calloc(1, sizeof(*root));
	if (!root) {
		fail(&ps, -ENOMEM);
		goto out;
	}
	if (parse_value(&ps, root, 1) == 0) {
		skip_ws(&ps);
		if (ps.p != ps.end)
			fail(&ps, -EINVAL);
	}
	if (ps.rc) {
		ajson_free(root);
		root = NULL;
	}
out:
	if (err_off)
		*err_off = ps.rc ? (size_t)(ps.p - ps.start) : 0;
	*out = root;
	return ps.rc;
}

void ajson_free(struct ajson *root)
{
	if (!root)
		return;
	node_fini(root);
	free(root);
}

const struct ajson *ajson_get(const struct ajson *v, const char *name)
{
	if (!v || v->type != AJSON_OBJECT)
		return NULL;
	for (size_t i = 0; i < v->n_kids; i++)
		if (strcmp(v->kids[i].key, name) == 0)
			return &v->kids[i];
	return NULL;
}

const struct ajson *ajson_at(const struct ajson *v, size_t i)
{
	if (!v || (v->type != AJSON_ARRAY && v->type != AJSON_OBJECT) ||
	    i >= v->n_kids)
		return NULL;
	return &v->kids[i];
}

const char *ajson_str(const struct ajson *v)
{
	return v && v->type == AJSON_STRING ? v->text : NULL;
}

const char *ajson_get_str(const struct ajson *v, const char *name)
{
	return ajson_str(ajson_get(v, name));
}

int ajson_int(const struct ajson *v, long long *out)
{
	int64_t n;

	if (!v || v->type != AJSON_NUMBER)
		return -EINVAL;
	if (str_to_i64(v->text, 10, &n))
		return -EINVAL;
	*out = (long long)n;
	return 0;
}
