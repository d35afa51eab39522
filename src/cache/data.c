/* cache_data: the block cache behind fs_read.
 *
 * Design note.
 *
 * What is cached.  Objects are cut into fixed, aligned blocks (fs/ picks
 * the size, 1 MiB by default); a block is named by (key, ETag, index), so
 * a changed object is a different name and stale bytes can never be
 * served; old versions simply age out.  The last block of an object is
 * only as long as the object, so a small file costs its own size.
 *
 * Sharing one GET.  A block is PENDING from the moment the first reader
 * misses it until its GET completes.  Readers that arrive meanwhile hang
 * a cache_waiter (embedded in their own request, so waiting allocates
 * nothing) on the block; the completion wakes them all.  A failed block
 * leaves the table at once so the next read retries.
 *
 * The budget.  Every block in the table, pending or ready, is charged its
 * full size to budget_bytes.  Before a new block is charged, ready blocks
 * are evicted from the least-recently-used end until the new one fits.
 * Pending blocks cannot be evicted; when they alone exceed the budget the
 * new block is admitted anyway, because the readers waiting for it are
 * bounded by the FUSE worker and request limits and refusing would turn
 * a busy moment into EIO.  An evicted block that a reader still holds
 * lives on (uncharged) until that reader's reply is sent, so the overshoot
 * is bounded by the bytes of replies in flight.
 *
 * Locking.  One mutex guards the table, the LRU list, the budget, every
 * block's state, reference count and waiter list.  Waiter callbacks run
 * after it is dropped: they reply to FUSE requests.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "base.h"
#include "cache.h"

#define DATA_DEFAULT_BUDGET ((uint64_t)256 << 20)

enum blk_state { BLK_PENDING, BLK_READY };

struct blk_link {
	struct blk_link *prev, *next;
};

struct cache_block {
	struct cache_map_node node;
	struct blk_link lru; /* ready blocks in the table only */
	char *key;	     /* "key\0etag\0", one allocation */
	const char *etag;
	uint64_t index;
	enum blk_state state;	      /* guarded by: mu */
	bool in_table;		      /* guarded by: mu */
	int refs;		      /* guarded by: mu */
	struct cache_waiter *waiters; /* guarded by: mu */
	char *data;
	size_t cap;
	size_t len; /* valid bytes once ready */
};

struct cache_data {
	pthread_mutex_t mu;
	uint64_t budget;
	uint64_t bytes;		    /* guarded by: mu */
	struct cache_map map;	    /* guarded by: mu */
	struct blk_link lru;	    /* guarded by: mu; next = most recent */
	struct cache_data_stats st; /* guarded by: mu */
};

struct blk_name {
	const char *key, *etag;
	uint64_t index;
};

static void link_init(struct blk_link *l)
{
	l->prev = l->next = l;
}

static void link_remove(struct blk_link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	l->prev = l->next = l;
}

static void link_front(struct blk_link *head, struct blk_link *l)
{
	l->next = head->next;
	l->prev = head;
	head->next->prev = l;
	head->next = l;
}

static uint64_t name_hash(const struct blk_name *n)
{
	uint64_t h = cache_hash_bytes(n->key, strlen(n->key), n->index);

	return h ^ (cache_hash_str(n->etag) * 0x9e3779b97f4a7c15ULL);
}

static bool blk_eq(const struct cache_map_node *node, const void *key)
{
	const struct cache_block *b =
		CACHE_CONTAINER_OF(node, struct cache_block, node);
	const struct blk_name *n = key;

	return b->index == n->index && strcmp(b->key, n->key) == 0 &&
	       strcmp(b->etag, n->etag) == 0;
}

int cache_data_new(uint64_t budget_bytes, struct cache_data **out)
{
	struct cache_data *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	if (cache_map_init(&c->map, 256) < 0) {
		free(c);
		return -ENOMEM;
	}
	c->budget = budget_bytes ? budget_bytes : DATA_DEFAULT_BUDGET;
	link_init(&c->lru);
	pthread_mutex_init(&c->mu, NULL);
	*out = c;
	return 0;
}

static void blk_free(struct cache_block *b)
{
	free(b->data);
	free(b->key);
	free(b);
}

/* Take b out of the table, dropping the table's reference.  Caller holds
 * mu; returns b when that was the last reference (caller frees it). */
static struct cache_block *blk_detach(struct cache_data *c,
				      struct cache_block *b)
{
	cache_map_remove(&c->map, &b->node);
	if (b->state == BLK_READY)
		link_remove(&b->lru);
	b->in_table = false;
	c->bytes -= b->cap;
	return --b->refs == 0 ? b : NULL;
}

void cache_data_free(struct cache_data *c)
{
	struct cache_map_node *n;

	if (!c)
		return;
	while ((n = cache_map_any(&c->map)) != NULL) {
		struct cache_block *b =
			CACHE_CONTAINER_OF(n, struct cache_block, node);

		/* Readers are gone by contract; free whatever is left. */
		blk_detach(c, b);
		blk_free(b);
	}
	cache_map_fini(&c->map);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

/* Evict ready blocks, oldest first, until need more bytes fit. */
static void evict_for(struct cache_data *c, uint64_t need)
{
	while (c->bytes + need > c->budget && c->lru.prev != &c->lru) {
		struct cache_block *b = CACHE_CONTAINER_OF(
			c->lru.prev, struct cache_block, lru);

		c->st.evictions++;
		b = blk_detach(c, b);
		if (b)
			blk_free(b);
	}
}

static struct cache_block *blk_new(const struct blk_name *n, size_t len)
{
	size_t klen = strlen(n->key), elen = strlen(n->etag);
	struct cache_block *b = calloc(1, sizeof(*b));

	if (!b)
		goto fail;
	b->key = malloc(klen + elen + 2);
	if (!b->key)
		goto fail_blk;
	memcpy(b->key, n->key, klen + 1);
	memcpy(b->key + klen + 1, n->etag, elen + 1);
	b->etag = b->key + klen + 1;
	b->data = malloc(len ? len : 1);
	if (!b->data)
		goto fail_key;
	b->index = n->index;
	b->cap = len;
	b->state = BLK_PENDING;
	link_init(&b->lru);
	return b;

fail_key:
	free(b->key);
fail_blk:
	free(b);
fail:
	return NULL;
}

int cache_data_acquire(struct cache_data *c, const char *key, const char *etag,
		       uint64_t index, size_t len, struct cache_waiter *w,
		       struct cache_block **out, enum cache_acquire_result *res)
{
	struct blk_name name = { key, etag ? etag : "", index };
	uint64_t h = name_hash(&name);
	struct cache_map_node *n;
	struct cache_block *b;
	int err = 0;

	pthread_mutex_lock(&c->mu);
	n = cache_map_find(&c->map, h, blk_eq, &name);
	if (n) {
		b = CACHE_CONTAINER_OF(n, struct cache_block, node);
		if (b->state == BLK_READY) {
			b->refs++;
			link_remove(&b->lru);
			link_front(&c->lru, &b->lru);
			c->st.hits++;
			*out = b;
			*res = CACHE_HIT;
		} else {
			b->refs++; /* the waiter's */
			w->next = b->waiters;
			b->waiters = w;
			c->st.waits++;
			*out = NULL;
			*res = CACHE_PENDING;
		}
		goto out;
	}
	b = blk_new(&name, len);
	if (!b) {
		err = -ENOMEM;
		goto out;
	}
	evict_for(c, len);
	b->refs = 3; /* the table's, the fetcher's, the waiter's */
	b->in_table = true;
	w->next = NULL;
	b->waiters = w;
	cache_map_insert(&c->map, &b->node, h);
	c->bytes += len;
	c->st.fills++;
	*out = b;
	*res = CACHE_FILL;
out:
	pthread_mutex_unlock(&c->mu);
	return err;
}

void *cache_block_buf(struct cache_block *b)
{
	return b->data;
}

size_t cache_block_cap(const struct cache_block *b)
{
	return b->cap;
}

void cache_data_fill_done(struct cache_data *c, struct cache_block *b, int err,
			  size_t len)
{
	struct cache_waiter *w, *next;

	pthread_mutex_lock(&c->mu);
	w = b->waiters;
	b->waiters = NULL;
	if (err) {
		/* The fetcher still holds a reference: detach cannot free. */
		if (b->in_table)
			blk_detach(c, b);
	} else {
		b->len = len < b->cap ? len : b->cap;
		b->state = BLK_READY;
		if (b->in_table) {
			link_front(&c->lru, &b->lru);
			evict_for(c, 0);
		}
	}
	pthread_mutex_unlock(&c->mu);
	for (; w; w = next) {
		next = w->next; /* w may be freed by its callback */
		w->fn(w, b, err);
	}
}

const void *cache_block_data(const struct cache_block *b)
{
	return b->data;
}

size_t cache_block_len(const struct cache_block *b)
{
	return b->len;
}

void cache_block_unref(struct cache_data *c, struct cache_block *b)
{
	bool last;

	if (!b)
		return;
	pthread_mutex_lock(&c->mu);
	last = --b->refs == 0;
	pthread_mutex_unlock(&c->mu);
	if (last)
		blk_free(b);
}

void cache_data_get_stats(struct cache_data *c, struct cache_data_stats *st)
{
	pthread_mutex_lock(&c->mu);
	*st = c->st;
	st->bytes = c->bytes;
	st->budget = c->budget;
	st->blocks = c->map.n;
	pthread_mutex_unlock(&c->mu);
}
