/* cache_meta: directory listings (dir_ttl) and negative lookups (neg_ttl).
 *
 * Both are bounded.  Listings are kept in least-recently-used order and
 * evicted when there are more than max_listings of them or their entries
 * add up to more than max_listing_entries (a listing is about 100 bytes
 * an entry, so the default bounds memory near 400 MiB in the worst case
 * and far less in practice).  Negative entries are evicted oldest first.
 * Stale entries are not swept: they are replaced when looked up again or
 * pushed out by the bounds.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "cache.h"

struct listing_slot {
	struct cache_map_node node;
	struct cache_link lru;
	char *dir;
	struct cache_listing *l;
};

struct neg_slot {
	struct cache_map_node node;
	struct cache_link age;
	char *key;
	uint64_t at_ms;
};

struct cache_meta {
	pthread_mutex_t mu;
	struct cache_meta_config cfg;
	struct cache_map listings;     /* guarded by: mu */
	struct cache_link listing_lru; /* guarded by: mu; front = most recent */
	size_t listing_entries;	       /* guarded by: mu */
	struct cache_map negs;	       /* guarded by: mu */
	struct cache_link neg_age;     /* guarded by: mu; front = newest */
};

static bool listing_eq(const struct cache_map_node *n, const void *key)
{
	const struct listing_slot *s =
		CACHE_CONTAINER_OF(n, struct listing_slot, node);

	return strcmp(s->dir, key) == 0;
}

static bool neg_eq(const struct cache_map_node *n, const void *key)
{
	const struct neg_slot *s = CACHE_CONTAINER_OF(n, struct neg_slot, node);

	return strcmp(s->key, key) == 0;
}

int cache_meta_new(const struct cache_meta_config *cfg, struct cache_meta **out)
{
	struct cache_meta *c = calloc(1, sizeof(*c));
	int err = -ENOMEM;

	if (!c)
		goto fail;
	if (cfg)
		c->cfg = *cfg;
	if (!c->cfg.max_listings)
		c->cfg.max_listings = 4096;
	if (!c->cfg.max_listing_entries)
		c->cfg.max_listing_entries = 4000000;
	if (!c->cfg.max_negative)
		c->cfg.max_negative = 65536;
	if (cache_map_init(&c->listings, 64) < 0)
		goto fail_free;
	if (cache_map_init(&c->negs, 256) < 0)
		goto fail_listings;
	cache_link_init(&c->listing_lru);
	cache_link_init(&c->neg_age);
	pthread_mutex_init(&c->mu, NULL);
	*out = c;
	return 0;

fail_listings:
	cache_map_fini(&c->listings);
fail_free:
	free(c);
fail:
	return err;
}

static void listing_slot_free(struct cache_meta *c, struct listing_slot *s)
{
	cache_map_remove(&c->listings, &s->node);
	cache_link_remove(&s->lru);
	c->listing_entries -= s->l->n;
	cache_listing_unref(s->l);
	free(s->dir);
	free(s);
}

static void neg_slot_free(struct cache_meta *c, struct neg_slot *s)
{
	cache_map_remove(&c->negs, &s->node);
	cache_link_remove(&s->age);
	free(s->key);
	free(s);
}

void cache_meta_free(struct cache_meta *c)
{
	if (!c)
		return;
	while (c->listing_lru.next != &c->listing_lru)
		listing_slot_free(c,
				  CACHE_CONTAINER_OF(c->listing_lru.next,
						     struct listing_slot, lru));
	while (c->neg_age.next != &c->neg_age)
		neg_slot_free(c, CACHE_CONTAINER_OF(c->neg_age.next,
						    struct neg_slot, age));
	cache_map_fini(&c->listings);
	cache_map_fini(&c->negs);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static struct listing_slot *listing_find(struct cache_meta *c, const char *dir)
{
	struct cache_map_node *n = cache_map_find(
		&c->listings, cache_hash_str(dir), listing_eq, dir);

	return n ? CACHE_CONTAINER_OF(n, struct listing_slot, node) : NULL;
}

struct cache_listing *cache_meta_listing_get(struct cache_meta *c,
					     const char *dir, uint64_t now_ms,
					     uint32_t ttl_ms)
{
	struct cache_listing *l = NULL;
	struct listing_slot *s;

	pthread_mutex_lock(&c->mu);
	s = listing_find(c, dir);
	if (s && cache_is_fresh(s->l->fetched_ms, now_ms, ttl_ms)) {
		l = s->l;
		cache_listing_ref(l);
		cache_link_move_front(&c->listing_lru, &s->lru);
	}
	pthread_mutex_unlock(&c->mu);
	return l;
}

/* Evict from the least recently used end until within bounds, sparing
 * keep (the listing just added). */
static void listings_trim(struct cache_meta *c, struct listing_slot *keep)
{
	while (c->listings.n > c->cfg.max_listings ||
	       c->listing_entries > c->cfg.max_listing_entries) {
		struct listing_slot *s = CACHE_CONTAINER_OF(
			c->listing_lru.prev, struct listing_slot, lru);

		if (s == keep)
			break;
		listing_slot_free(c, s);
	}
}

int cache_meta_listing_put(struct cache_meta *c, const char *dir,
			   struct cache_listing *l)
{
	struct listing_slot *s, *old;
	int err = -ENOMEM;

	s = calloc(1, sizeof(*s));
	if (!s)
		goto fail;
	s->dir = str_dup(dir);
	if (!s->dir)
		goto fail_slot;
	cache_listing_ref(l);
	s->l = l;
	cache_link_init(&s->lru);
	pthread_mutex_lock(&c->mu);
	old = listing_find(c, dir);
	if (old)
		listing_slot_free(c, old);
	cache_map_insert(&c->listings, &s->node, cache_hash_str(dir));
	cache_link_front(&c->listing_lru, &s->lru);
	c->listing_entries += l->n;
	listings_trim(c, s);
	pthread_mutex_unlock(&c->mu);
	return 0;

fail_slot:
	free(s);
fail:
	return err;
}

void cache_meta_listing_drop(struct cache_meta *c, const char *dir)
{
	struct listing_slot *s;

	pthread_mutex_lock(&c->mu);
	s = listing_find(c, dir);
	if (s)
		listing_slot_free(c, s);
	pthread_mutex_unlock(&c->mu);
}

static struct neg_slot *neg_find(struct cache_meta *c, const char *key)
{
	struct cache_map_node *n =
		cache_map_find(&c->negs, cache_hash_str(key), neg_eq, key);

	return n ? CACHE_CONTAINER_OF(n, struct neg_slot, node) : NULL;
}

bool cache_meta_neg_check(struct cache_meta *c, const char *key,
			  uint64_t now_ms, uint32_t ttl_ms)
{
	struct neg_slot *s;
	bool hit = false;

	pthread_mutex_lock(&c->mu);
	s = neg_find(c, key);
	if (s) {
		hit = cache_is_fresh(s->at_ms, now_ms, ttl_ms);
		if (!hit)
			neg_slot_free(c, s);
	}
	pthread_mutex_unlock(&c->mu);
	return hit;
}

int cache_meta_neg_add(struct cache_meta *c, const char *key, uint64_t now_ms)
{
	struct neg_slot *s = calloc(1, sizeof(*s)), *old;
	int err = -ENOMEM;

	if (!s)
		goto fail;
	s->key = str_dup(key);
	if (!s->key)
		goto fail_slot;
	s->at_ms = now_ms;
	cache_link_init(&s->age);
	pthread_mutex_lock(&c->mu);
	old = neg_find(c, key);
	if (old)
		neg_slot_free(c, old);
	cache_map_insert(&c->negs, &s->node, cache_hash_str(key));
	cache_link_front(&c->neg_age, &s->age);
	while (c->negs.n > c->cfg.max_negative)
		neg_slot_free(c, CACHE_CONTAINER_OF(c->neg_age.prev,
						    struct neg_slot, age));
	pthread_mutex_unlock(&c->mu);
	return 0;

fail_slot:
	free(s);
fail:
	return err;
}

void cache_meta_neg_drop(struct cache_meta *c, const char *key)
{
	struct neg_slot *s;

	pthread_mutex_lock(&c->mu);
	s = neg_find(c, key);
	if (s)
		neg_slot_free(c, s);
	pthread_mutex_unlock(&c->mu);
}

void cache_meta_get_stats(struct cache_meta *c, struct cache_meta_stats *st)
{
	pthread_mutex_lock(&c->mu);
	st->listings = c->listings.n;
	st->listing_entries = c->listing_entries;
	st->negatives = c->negs.n;
	pthread_mutex_unlock(&c->mu);
}
