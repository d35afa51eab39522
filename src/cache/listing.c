/* cache_listing: one directory level as a sorted, immutable snapshot. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"

struct cache_listing *cache_listing_new(uint64_t fetched_ms)
{
	struct cache_listing *l = calloc(1, sizeof(*l));

	if (!l)
		return NULL;
	l->fetched_ms = fetched_ms;
	atomic_init(&l->refs, 1);
	return l;
}

int cache_listing_add(struct cache_listing *l, const char *name,
		      enum cache_ent_type type, uint64_t size,
		      const struct timespec *mtime, const char *etag)
{
	size_t nlen = strlen(name), elen = etag ? strlen(etag) : 0;
	struct cache_dirent *d;
	char *mem;

	if (l->n == l->cap) {
		size_t cap = l->cap ? l->cap * 2 : 64;
		struct cache_dirent *e = realloc(l->ents, cap * sizeof(*e));

		if (!e)
			return -ENOMEM;
		l->ents = e;
		l->cap = cap;
	}
	/* Name and ETag share one allocation: one malloc per entry. */
	mem = malloc(nlen + elen + 2);
	if (!mem)
		return -ENOMEM;
	memcpy(mem, name, nlen + 1);
	if (elen)
		memcpy(mem + nlen + 1, etag, elen);
	mem[nlen + 1 + elen] = '\0';
	d = &l->ents[l->n++];
	d->name = mem;
	d->etag = mem + nlen + 1;
	d->type = type;
	d->size = size;
	if (mtime)
		d->mtime = *mtime;
	else
		d->mtime = (struct timespec){ 0, 0 };
	d->has_meta = false;
	memset(&d->posix, 0, sizeof(d->posix));
	return 0;
}

int cache_listing_add_dirent(struct cache_listing *l,
			     const struct cache_dirent *d)
{
	int err = cache_listing_add(l, d->name, d->type, d->size, &d->mtime,
				    d->etag);

	if (!err) {
		l->ents[l->n - 1].has_meta = d->has_meta;
		l->ents[l->n - 1].posix = d->posix;
	}
	return err;
}

static int dirent_cmp(const void *a, const void *b)
{
	const struct cache_dirent *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	/* Same name: the directory sorts first so dedup keeps it. */
	return (y->type == CACHE_ENT_DIR) - (x->type == CACHE_ENT_DIR);
}

void cache_listing_finish(struct cache_listing *l)
{
	size_t w = 0;

	if (l->n > 1)
		qsort(l->ents, l->n, sizeof(l->ents[0]), dirent_cmp);
	for (size_t r = 0; r < l->n; r++) {
		if (w > 0 &&
		    strcmp(l->ents[w - 1].name, l->ents[r].name) == 0) {
			free((char *)l->ents[r].name);
			continue;
		}
		l->ents[w++] = l->ents[r];
	}
	l->n = w;
}

const struct cache_dirent *cache_listing_find(const struct cache_listing *l,
					      const char *name)
{
	size_t lo = 0, hi = l->n;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;
		int c = strcmp(name, l->ents[mid].name);

		if (c == 0)
			return &l->ents[mid];
		if (c < 0)
			hi = mid;
		else
			lo = mid + 1;
	}
	return NULL;
}

void cache_listing_ref(struct cache_listing *l)
{
	atomic_fetch_add(&l->refs, 1);
}

void cache_listing_unref(struct cache_listing *l)
{
	if (!l || atomic_fetch_sub(&l->refs, 1) != 1)
		return;
	for (size_t i = 0; i < l->n; i++)
		free((char *)l->ents[i].name);
	free(l->ents);
	free(l);
}
