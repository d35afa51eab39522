/* String helpers: copying, percent-encoding, hex, base64, number parsing. */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "base.h"

char *str_dup(const char *s)
{
	return s ? str_ndup(s, strlen(s)) : NULL;
}

char *str_ndup(const char *s, size_t n)
{
	char *p;

	if (!s)
		return NULL;
	p = malloc(n + 1);
	if (!p)
		return NULL;
	memcpy(p, s, n);
	p[n] = '\0';
	return p;
}

bool str_has_prefix(const char *s, const char *prefix)
{
	return strncmp(s, prefix, strlen(prefix)) == 0;
}

bool str_has_suffix(const char *s, const char *suffix)
{
	size_t ls = strlen(s), lx = strlen(suffix);

	return ls >= lx && memcmp(s + ls - lx, suffix, lx) == 0;
}

bool str_ieq(const char *a, const char *b)
{
	return strcasecmp(a, b) == 0;
}

size_t str_lcpy(char *dst, const char *src, size_t size)
{
	size_t n = strlen(src);

	if (size) {
		size_t c = n < size - 1 ? n : size - 1;

		memcpy(dst, src, c);
		dst[c] = '\0';
	}
	return n;
}

char *str_trim(char *s)
{
	size_t n = strlen(s);
	size_t start = 0;

	while (n && isspace((unsigned char)s[n - 1]))
		n--;
	while (start < n && isspace((unsigned char)s[start]))
		start++;
	memmove(s, s + start, n - start);
	s[n - start] = '\0';
	return s;
}

static bool is_unreserved(unsigned char c)
{
	return (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') ||
	       (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.' ||
	       c == '~';
}

int str_urlencode(struct buf *out, const char *in, size_t len, bool keep_slash)
{
	static const char hex[] = "0123456789ABCDEF";
	int rc = buf_reserve(out, len * 3);

	if (rc)
		return rc;
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)in[i];
		char *p = out->data + out->len;

		if (is_unreserved(c) || (keep_slash && c == '/')) {
			p[0] = (char)c;
			out->len += 1;
		} else {
			p[0] = '%';
			p[1] = hex[c >> 4];
			p[2] = hex[c & 15];
			out->len += 3;
		}
	}
	out->data[out->len] = '\0';
	return 0;
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

int str_urldecode(struct buf *out, const char *in, size_t len,
		  bool plus_is_space)
{
	int rc = buf_reserve(out, len);

	if (rc)
		return rc;
	for (size_t i = 0; i < len; i++) {
		char c = in[i];

		if (c == '%') {
			int hi, lo;

			if (i + 2 >= len)
				return -EINVAL;
			hi = hexval(in[i + 1]);
			lo = hexval(in[i + 2]);
			if (hi < 0 || lo < 0)
				return -EINVAL;
			c = (char)(hi << 4 | lo);
			i += 2;
		} else if (c == '+' && plus_is_space) {
			c = ' ';
		}
		out->data[out->len++] = c;
	}
	out->data[out->len] = '\0';
	return 0;
}

void str_hex(char *out, const unsigned char *in, size_t len)
{
	static const char hex[] = "0123456789abcdef";

	for (size_t i = 0; i < len; i++) {
		out[2 * i] = hex[in[i] >> 4];
		out[2 * i + 1] = hex[in[i] & 15];
	}
	out[2 * len] = '\0';
}

static const char b64[] =
	"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int str_base64_encode(struct buf *out, const unsigned char *in, size_t len)
{
	int rc = buf_reserve(out, (len + 2) / 3 * 4);

	if (rc)
		return rc;
	for (size_t i = 0; i < len; i += 3) {
		uint32_t v = (uint32_t)in[i] << 16;
		char *p = out->data + out->len;

		if (i + 1 < len)
			v |= (uint32_t)in[i + 1] << 8;
		if (i + 2 < len)
			v |= in[i + 2];
		p[0] = b64[v >> 18 & 63];
		p[1] = b64[v >> 12 & 63];
		p[2] = i + 1 < len ? b64[v >> 6 & 63] : '=';
		p[3] = i + 2 < len ? b64[v & 63] : '=';
		out->len += 4;
	}
	out->data[out->len] = '\0';
	return 0;
}

static int b64val(char c)
{
	const char *p = c ? strchr(b64, c) : NULL;

	return p ? (int)(p - b64) : -1;
}

int str_base64_decode(struct buf *out, const char *in, size_t len)
{
	uint32_t acc = 0;
	int bits = 0;
	size_t pad = 0;
	int rc = buf_reserve(out, len / 4 * 3 + 3);

	if (rc)
		return rc;
	for (size_t i = 0; i < len; i++) {
		int v;

		if (in[i] == '=') {
			pad++;
			continue;
		}
		if (isspace((unsigned char)in[i]))
			continue;
		v = b64val(in[i]);
		if (v < 0 || pad)
			return -EINVAL;
		acc = acc << 6 | (uint32_t)v;
		bits += 6;
		if (bits >= 8) {
			bits -= 8;
			out->data[out->len++] = (char)(acc >> bits & 0xff);
		}
	}
	if (pad > 2)
		return -EINVAL;
	out->data[out->len] = '\0';
	return 0;
}

int str_to_u64(const char *s, int base, uint64_t *out)
{
	char *end;
	unsigned long long v;

	if (!s || !*s || isspace((unsigned char)*s) || *s == '-' || *s == '+')
		return -EINVAL;
	errno = 0;
	v = strtoull(s, &end, base);
	if (errno || *end)
		return -EINVAL;
	*out = (uint64_t)v;
	return 0;
}

int str_to_i64(const char *s, int base, int64_t *out)
{
	char *end;
	long long v;

	if (!s || !*s || isspace((unsigned char)*s))
		return -EINVAL;
	errno = 0;
	v = strtoll(s, &end, base);
	if (errno || *end)
		return -EINVAL;
	*out = (int64_t)v;
	return 0;
}
