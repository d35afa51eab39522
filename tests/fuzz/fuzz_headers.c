/* Fuzz metadata and error extraction from arbitrary response headers.
 * Input: a status line ("404"), "Name: value" lines, an empty line, then
 * the body.  Also feeds each Host value to oss_region_from_endpoint. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "oss.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Parse "Name: value" lines up to an empty one; returns the body. */
static char *parse_headers(char *p, struct kvlist *h)
{
	while (*p && *p != '\n') {
		char *nl = strchr(p, '\n');
		char *colon;

		if (nl)
			*nl = '\0';
		colon = strchr(p, ':');
		if (colon) {
			const char *v = colon + 1;

			while (*v == ' ')
				v++;
			if (kvlist_addn(h, p, (size_t)(colon - p), v,
					strlen(v)) != 0)
				abort();
		}
		if (!nl)
			return p + strlen(p);
		p = nl + 1;
	}
	return *p ? p + 1 : p;
}

static void check_meta(const struct kvlist *h, bool s3)
{
	struct oss_object_meta m;
	const struct oss_posix_meta *px = &m.posix;

	if (oss_object_meta_from_headers(h, s3, &m) != 0)
		abort();
	if ((px->has_mode && px->mode > 0177777) ||
	    (px->has_uid && px->uid == UINT32_MAX) ||
	    (px->has_mtime &&
	     (px->mtime.tv_nsec < 0 || px->mtime.tv_nsec >= 1000000000L)) ||
	    strnlen(m.etag, sizeof(m.etag)) == sizeof(m.etag) ||
	    strnlen(m.content_type, sizeof(m.content_type)) ==
		    sizeof(m.content_type) ||
	    m.type > OSS_OBJ_SYMLINK)
		abort();
	oss_object_meta_fini(&m);
}

static void check_region(const struct kvlist *h)
{
	char region[64];

	for (size_t i = 0; i < h->n; i++) {
		if (!str_ieq(h->items[i].name, "Host"))
			continue;
		if (oss_region_from_endpoint(h->items[i].value, region,
					     sizeof(region)) == 0 &&
		    !region[0])
			abort();
		(void)oss_region_from_endpoint(h->items[i].value, region, 3);
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct kvlist h;
	struct oss_error e;
	char line[512];
	char *text, *p, *body;
	long status;

	log_set_level(LOG_LVL_ERR);
	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	status = strtol(text, &p, 10) % 1000;
	if (*p == '\n')
		p++;
	kvlist_init(&h);
	body = parse_headers(p, &h);
	check_meta(&h, false);
	check_meta(&h, true);
	if (oss_error_from_response(status, &h, body, strlen(body), &e) > 0)
		abort();
	oss_error_describe(&e, line, sizeof(line));
	check_region(&h);
	kvlist_fini(&h);
	free(text);
	return 0;
}
