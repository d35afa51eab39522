/* Fuzz what a listing's keys become: a ListObjects page, parsed, then
 * each key turned into a directory entry the way fs/ does.  Input: the
 * directory listed ("" or "a/b/") on the first line, then the XML.
 *
 * What must hold: every name the mount would show is one a kernel takes
 * (not empty, not "." or "..", no '/', at most 255 bytes), names are
 * unique and sorted after finish, each is dir + name (+ '/' for a
 * directory) of a key in the page, and every key is either an entry,
 * the marker, or skipped with a reason. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "../../src/fs/fs_i.h"
#include "oss.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static bool name_ok(const char *n)
{
	return n && *n && strcmp(n, ".") != 0 && strcmp(n, "..") != 0 &&
	       !strchr(n, '/') && strlen(n) <= 255;
}

/* Some key of the page is dir + d->name, with a '/' for a directory. */
static bool from_page(const struct oss_list_page *p, const char *dir,
		      const struct cache_dirent *d)
{
	size_t dlen = strlen(dir), nlen = strlen(d->name);

	for (size_t i = 0; i < p->n; i++) {
		const char *k = p->entries[i].key;

		if (strncmp(k, dir, dlen) != 0 ||
		    strncmp(k + dlen, d->name, nlen) != 0)
			continue;
		if (p->entries[i].is_prefix
			    ? d->type == CACHE_ENT_DIR &&
				      (k[dlen + nlen] == '\0' ||
				       strcmp(k + dlen + nlen, "/") == 0)
			    : d->type != CACHE_ENT_DIR &&
				      k[dlen + nlen] == '\0')
			return true;
	}
	return false;
}

static void check_listing(const struct oss_list_page *p, const char *dir)
{
	struct cache_listing *l = cache_listing_new(0);
	size_t added = 0;

	if (!l)
		return;
	for (size_t i = 0; i < p->n; i++) {
		const struct oss_list_entry *e = &p->entries[i];
		bool marker = !e->is_prefix && strcmp(e->key, dir) == 0;
		const char *why = NULL;
		size_t before = l->n;

		if (fs_listing_add_key(l, dir, e, &why) != 0)
			goto out; /* ENOMEM */
		if (l->n == before + 1) {
			if (why || marker)
				abort();
		} else if (l->n != before) {
			abort();
		} else if (marker ? why || !l->has_marker : !why) {
			abort(); /* left out without a reason */
		}
		added += l->n - before;
	}
	cache_listing_finish(l);
	if (l->n > added)
		abort();
	for (size_t i = 0; i < l->n; i++) {
		const struct cache_dirent *d = &l->ents[i];

		if (!name_ok(d->name) || !from_page(p, dir, d))
			abort();
		if (i && strcmp(l->ents[i - 1].name, d->name) >= 0)
			abort(); /* unsorted or a duplicate */
		if (cache_listing_find(l, d->name) != d)
			abort();
	}
out:
	cache_listing_unref(l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const uint8_t *nl = memchr(data, '\n', size);
	size_t dlen = nl ? (size_t)(nl - data) : size;
	struct oss_list_page p;
	char *dir;

	log_set_level(LOG_LVL_ERR);
	dir = malloc(dlen + 2);
	if (!dir)
		return 0;
	memcpy(dir, data, dlen);
	dir[dlen] = '\0';
	/* fs/ lists "" or a prefix ending in '/'. */
	if (strlen(dir) && dir[strlen(dir) - 1] != '/')
		strcat(dir, "/");
	oss_list_page_init(&p);
	if (nl &&
	    oss_list_parse_xml((const char *)nl + 1, size - dlen - 1, &p) == 0)
		check_listing(&p, dir);
	oss_list_page_fini(&p);
	free(dir);
	return 0;
}
