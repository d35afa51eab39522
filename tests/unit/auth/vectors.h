/* Helpers for the auth tests: read the vector files named by the
 * OSSFS_TEST_DATA environment variable (meson sets it to tests/data) and
 * turn their JSON into the module's types. */
#ifndef OSSFS_TEST_AUTH_VECTORS_H
#define OSSFS_TEST_AUTH_VECTORS_H

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "auth.h"
#include "base.h"
#include "json_i.h"

static inline char *tv_read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct buf b;
	char chunk[4096];
	size_t n;

	if (!f)
		return NULL;
	buf_init(&b, 0);
	while ((n = fread(chunk, 1, sizeof(chunk), f)) > 0)
		buf_append(&b, chunk, n);
	fclose(f);
	return buf_steal(&b, len);
}

static inline const char *tv_data_dir(void)
{
	const char *d = getenv("OSSFS_TEST_DATA");

	return d && *d ? d : "tests/data";
}

/* The parsed JSON of DATA_DIR/NAME, or NULL (with a message). */
static inline struct ajson *tv_load_json(const char *name)
{
	char path[4096];
	struct ajson *root = NULL;
	size_t len = 0, off = 0;
	char *text;
	int rc;

	snprintf(path, sizeof(path), "%s/%s", tv_data_dir(), name);
	text = tv_read_file(path, &len);
	if (!text) {
		fprintf(stderr, "cannot read %s (set OSSFS_TEST_DATA)\n", path);
		return NULL;
	}
	rc = ajson_parse(text, len, 0, 0, &root, &off);
	if (rc)
		fprintf(stderr, "%s: JSON error %d at byte %zu\n", path, rc,
			off);
	free(text);
	return root;
}

/* [["name", "value"], ...] into L. */
static inline int tv_pairs(struct kvlist *l, const struct ajson *arr)
{
	for (size_t i = 0; arr && i < arr->n_kids; i++) {
		const struct ajson *p = ajson_at(arr, i);
		const char *n = ajson_str(ajson_at(p, 0));
		const char *v = ajson_str(ajson_at(p, 1));

		if (!n || !v || kvlist_add(l, n, v))
			return -EINVAL;
	}
	return 0;
}

/* "a=b&c" (percent-encoded) into decoded pairs. */
static inline int tv_raw_query(struct kvlist *l, const char *raw)
{
	const char *p = raw;

	while (p && *p) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);
		const char *eq = memchr(p, '=', n);
		size_t nn = eq ? (size_t)(eq - p) : n;
		struct buf name, value;
		int rc;

		buf_init(&name, 0);
		buf_init(&value, 0);
		rc = str_urldecode(&name, p, nn, false);
		if (!rc && eq)
			rc = str_urldecode(&value, eq + 1, n - nn - 1, false);
		if (!rc)
			rc = kvlist_add(l, name.data, value.data);
		buf_fini(&name);
		buf_fini(&value);
		if (rc)
			return rc;
		p = amp ? amp + 1 : NULL;
	}
	return 0;
}

/* The still-encoded value of parameter NAME in query Q ("" if bare). */
static inline char *tv_encoded_param(const char *q, const char *name)
{
	size_t nl = strlen(name);

	for (const char *p = q; p && *p;) {
		const char *amp = strchr(p, '&');
		size_t n = amp ? (size_t)(amp - p) : strlen(p);

		if (n >= nl && strncmp(p, name, nl) == 0 &&
		    (n == nl || p[nl] == '='))
			return str_ndup(p + nl + (n > nl), n - nl - (n > nl));
		p = amp ? amp + 1 : NULL;
	}
	return NULL;
}

/* "20231216T162057Z" as a time_t. */
static inline time_t tv_iso_basic(const char *s)
{
	struct tm tm;

	memset(&tm, 0, sizeof(tm));
	if (!s || sscanf(s, "%4d%2d%2dT%2d%2d%2dZ", &tm.tm_year, &tm.tm_mon,
			 &tm.tm_mday, &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return (time_t)-1;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

static inline long long tv_int(const struct ajson *v, const char *name)
{
	long long n = -1;

	ajson_int(ajson_get(v, name), &n);
	return n;
}

#endif
