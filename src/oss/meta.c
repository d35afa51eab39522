/* Object metadata from response headers, including the POSIX attributes
 * ossfs 1.x and s3fs keep in user metadata (oss-protocol.md §6.1).
 *
 * Headers come from whoever wrote the object, so every value is treated
 * as untrusted: a value that does not parse is ignored (the has_* flag
 * stays false and fs/ applies its defaults) rather than failing the stat
 * of an otherwise readable object.
 */
#include <ctype.h>
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "oss_i.h"

/* S_IFMT | 07777: anything above is not a mode. */
#define MODE_MAX 0177777u
/* Room for any number we accept plus white space. */
#define NUM_MAX_LEN 64

void oss_object_meta_fini(struct oss_object_meta *m)
{
	free(m->symlink_target);
	m->symlink_target = NULL;
}

/* Copy a header value into tmp with white space trimmed; false when
 * absent or too long to be a number. */
static bool get_trimmed(const struct kvlist *h, const char *name,
			char tmp[NUM_MAX_LEN])
{
	const char *v = kvlist_get(h, name);

	if (!v || strlen(v) >= NUM_MAX_LEN)
		return false;
	str_lcpy(tmp, v, NUM_MAX_LEN);
	str_trim(tmp);
	return tmp[0] != '\0';
}

/* uid, gid and mode are read the way ossfs 1.x reads them: C base
 * auto-detection, so "0100644" is octal and "0x81a4" hex. */
static bool get_auto_u32(const struct kvlist *h, const char *name, uint64_t max,
			 uint32_t *out)
{
	char tmp[NUM_MAX_LEN];
	uint64_t v;

	if (!get_trimmed(h, name, tmp) || str_to_u64(tmp, 0, &v) != 0 ||
	    v > max)
		return false;
	*out = (uint32_t)v;
	return true;
}

/* Up to nine fraction digits become nanoseconds; more are dropped. */
static bool parse_fraction(const char *p, long *nsec)
{
	long scale = 100000000;

	*nsec = 0;
	if (!*p)
		return false;
	for (; *p; p++) {
		if (*p < '0' || *p > '9')
			return false;
		*nsec += (*p - '0') * scale;
		scale /= 10;
	}
	return true;
}

/* "1700000000", "1700000000.5" (rclone, s3fs with nanoseconds) or a
 * negative time before 1970; nothing else (no exponent, no sign on the
 * fraction). */
static bool parse_mtime(const char *s, struct timespec *out)
{
	char secs[NUM_MAX_LEN];
	const char *dot = strchr(s, '.');
	size_t n = dot ? (size_t)(dot - s) : strlen(s);
	int64_t sec;
	long nsec = 0;

	if (n == 0 || n >= sizeof(secs))
		return false;
	memcpy(secs, s, n);
	secs[n] = '\0';
	if (!isdigit((unsigned char)secs[secs[0] == '-' ? 1 : 0]) ||
	    str_to_i64(secs, 10, &sec) != 0)
		return false;
	if (dot && !parse_fraction(dot + 1, &nsec))
		return false;
	/* -1.5 s is 2 s before the epoch plus 0.5 s. */
	if (secs[0] == '-' && nsec) {
		if (sec == INT64_MIN)
			return false;
		sec--;
		nsec = 1000000000L - nsec;
	}
	if ((int64_t)(time_t)sec != sec)
		return false;
	out->tv_sec = (time_t)sec;
	out->tv_nsec = nsec;
	return true;
}

static const char *meta_name(char *out, size_t size, bool s3, const char *attr)
{
	snprintf(out, size, "%s%s", s3 ? "x-amz-meta-" : "x-oss-meta-", attr);
	return out;
}

static void posix_from_headers(const struct kvlist *h, bool s3,
			       struct oss_posix_meta *p)
{
	char name[32], tmp[NUM_MAX_LEN];

	p->has_mode = get_auto_u32(h, meta_name(name, sizeof(name), s3, "mode"),
				   MODE_MAX, &p->mode);
	/* (uid_t)-1 means "no owner" to chown; it is never a stored one. */
	p->has_uid = get_auto_u32(h, meta_name(name, sizeof(name), s3, "uid"),
				  UINT32_MAX - 1, &p->uid);
	p->has_gid = get_auto_u32(h, meta_name(name, sizeof(name), s3, "gid"),
				  UINT32_MAX - 1, &p->gid);
	p->has_mtime =
		get_trimmed(h, meta_name(name, sizeof(name), s3, "mtime"),
			    tmp) &&
		parse_mtime(tmp, &p->mtime);
}

static void content_type_from_headers(const struct kvlist *h,
				      struct oss_object_meta *m)
{
	const char *v = kvlist_get(h, "Content-Type");

	/* A cut Content-Type would be written back cut by the next
	 * metadata copy; better to have none. */
	if (v && strlen(v) < sizeof(m->content_type))
		oss_copy_printable(m->content_type, sizeof(m->content_type), v,
				   strlen(v));
}

/* m need not be initialised; whatever it held is overwritten, not
 * freed. */
int oss_object_meta_from_headers(const struct kvlist *h, bool s3,
				 struct oss_object_meta *m)
{
	char tmp[NUM_MAX_LEN];
	const char *v;
	time_t t;

	if (!h || !m)
		return -EINVAL;
	memset(m, 0, sizeof(*m));
	if (get_trimmed(h, "Content-Length", tmp) &&
	    str_to_u64(tmp, 10, &m->size) != 0)
		m->size = 0;
	v = kvlist_get(h, "ETag");
	if (v)
		oss_etag_copy(m->etag, sizeof(m->etag), v, strlen(v));
	v = kvlist_get(h, "Last-Modified");
	if (v && time_parse_rfc1123(v, &t) == 0)
		m->mtime.tv_sec = t;
	m->type = oss_object_type_parse(kvlist_get(h, "x-oss-object-type"));
	m->has_crc64 = get_trimmed(h, "x-oss-hash-crc64ecma", tmp) &&
		       str_to_u64(tmp, 10, &m->crc64) == 0;
	content_type_from_headers(h, m);
	posix_from_headers(h, s3, &m->posix);
	return 0;
}
