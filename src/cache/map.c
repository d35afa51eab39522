/* cache_map: a chained hash map whose nodes live inside the caller's
 * structures, so inserting allocates nothing but the occasional bigger
 * bucket array. */
#include <errno.h>
#include <stdlib.h>

#include "cache.h"

#define MAP_MIN_BUCKETS 16

int cache_map_init(struct cache_map *m, size_t initial_buckets)
{
	size_t n = MAP_MIN_BUCKETS;

	while (n < initial_buckets)
		n <<= 1;
	m->n = 0;
	m->nbuckets = n;
	m->buckets = calloc(n, sizeof(*m->buckets));
	return m->buckets ? 0 : -ENOMEM;
}

void cache_map_fini(struct cache_map *m)
{
	free(m->buckets);
	m->buckets = NULL;
	m->nbuckets = 0;
	m->n = 0;
}

struct cache_map_node *cache_map_find(const struct cache_map *m, uint64_t hash,
				      cache_map_eq_fn eq, const void *key)
{
	struct cache_map_node *n = m->buckets[hash & (m->nbuckets - 1)];

	for (; n; n = n->next)
		if (n->hash == hash && eq(n, key))
			return n;
	return NULL;
}

static void map_grow(struct cache_map *m)
{
	size_t nb = m->nbuckets * 2;
	struct cache_map_node **b = calloc(nb, sizeof(*b));

	if (!b)
		return; /* keep the old table: slower, still correct */
	for (size_t i = 0; i < m->nbuckets; i++) {
		struct cache_map_node *n = m->buckets[i], *next;

		for (; n; n = next) {
			next = n->next;
			n->next = b[n->hash & (nb - 1)];
			b[n->hash & (nb - 1)] = n;
		}
	}
	free(m->buckets);
	m->buckets = b;
	m->nbuckets = nb;
}

void cache_map_insert(struct cache_map *m, struct cache_map_node *n,
		      uint64_t hash)
{
	struct cache_map_node **head;

	if (m->n >= m->nbuckets)
		map_grow(m);
	n->hash = hash;
	head = &m->buckets[hash & (m->nbuckets - 1)];
	n->next = *head;
	*head = n;
	m->n++;
}

void cache_map_remove(struct cache_map *m, struct cache_map_node *n)
{
	struct cache_map_node **p = &m->buckets[n->hash & (m->nbuckets - 1)];

	for (; *p; p = &(*p)->next) {
		if (*p == n) {
			*p = n->next;
			n->next = NULL;
			m->n--;
			return;
		}
	}
}

struct cache_map_node *cache_map_any(const struct cache_map *m)
{
	if (m->n == 0)
		return NULL;
	for (size_t i = 0; i < m->nbuckets; i++)
		if (m->buckets[i])
			return m->buckets[i];
	return NULL;
}

/* FNV-1a, then a final avalanche (splitmix64) so the low bits used for
 * the bucket index depend on every input byte. */
uint64_t cache_hash_bytes(const void *data, size_t len, uint64_t seed)
{
	const unsigned char *p = data;
	uint64_t h = 0xcbf29ce484222325ULL ^ seed;

	for (size_t i = 0; i < len; i++) {
		h ^= p[i];
		h *= 0x100000001b3ULL;
	}
	h ^= h >> 30;
	h *= 0xbf58476d1ce4e5b9ULL;
	h ^= h >> 27;
	h *= 0x94d049bb133111ebULL;
	h ^= h >> 31;
	return h;
}
