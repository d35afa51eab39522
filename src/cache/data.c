/* cache_data: the block cache behind fs_read, and the one memory budget.
 *
 * Design note.
 *
 * What is cached.  Objects are cut into fixed, aligned blocks (fs/ picks
 * the size, 1 MiB by default).  A cached block is named by (key, ETag,
 * index), so a changed object is a different name and stale bytes can
 * never be served; old versions simply age out.  One allocation may cover
 * a run of consecutive indexes (read-ahead fetches 8 MiB in one GET, and
 * directory prefetch a whole object): the run is entered in the table
 * under every index it covers and lives and dies as one.  The last block
 * of an object is only as long as the object, so a small file costs its
 * own size.
 *
 * Sharing one GET.  A block is PENDING from the moment the first reader
 * misses it until its GET completes.  Readers that arrive meanwhile hang
 * a cache_waiter (embedded in their own request, so waiting allocates
 * nothing) on the block; the completion wakes them all.  A failed block
 * leaves the table at once so the next read retries.
 *
 * The budget.  Every block, pending or ready, is charged its full size,
 * and so is whatever other modules charge (upload buffers).  Blocks are
 * fetched for one of three reasons (enum cache_class), and ready blocks
 * sit on one of three LRU lists:
 *   used      read by someone, or fetched for a reader (demand);
 *   unused RA read-ahead nobody has read yet;
 *   unused PF directory prefetch nobody has read yet.
 * Admission and eviction follow "prefetch shrinks first, then read-ahead,
 * a waiting reader always gets its bytes":
 *   demand     always admitted; evicts used, then unused PF, then RA;
 *   read-ahead admitted only if it fits after evicting used and unused
 *              PF blocks;
 *   prefetch   admitted only if it fits after evicting used blocks, and
 *              only while unread prefetch holds less than its share of
 *              the budget (half by default), so a directory nobody reads
 *              cannot push out what is being read.
 * Pending blocks cannot be evicted; when demand alone exceeds the budget
 * it is admitted anyway, because the readers waiting are bounded by the
 * FUSE worker and request limits and refusing would turn a busy moment
 * into EIO.  An evicted block a reader still holds lives on (uncharged)
 * until that reader's reply is sent, so the overshoot is bounded by the
 * bytes of replies in flight.
 *
 * Memory.  Buffers of 64 KiB and more come from the cache's own
 * arena (arena.c: huge-page-backed slots, reused, within a bound) rather
 * than from malloc: the daemon's RSS follows the budget instead of
 * glibc's arenas' high-water marks.  Blocks are allocated on FUSE workers
 * and on the I/O thread and freed on others, so each thread's malloc
 * arena would keep its own free chunks (measured: 80 MiB over a 256 MiB
 * budget with 110 KiB files), and glibc's dynamic mmap threshold would
 * move 8 MiB runs onto the heap.  Such a block is charged its slot's
 * size, not its length (at most ~12% more).
 *
 * Locking.  One mutex guards the table, the lists, the budget and every
 * block's state, reference count and waiter list.  Waiter callbacks run
 * after it is dropped: they reply to FUSE requests.  The disk cache has
 * its own lock, taken under this one (LOCK ORDERING: data.mu, disk.mu).
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base.h"
#include "cache.h"

#define DATA_ARENA_MIN	    ((size_t)64 << 10)
#define DATA_BUDGET_MIN	    ((uint64_t)256 << 20)
#define DATA_BUDGET_MAX	    ((uint64_t)4 << 30)
#define DATA_PF_SHARE_PCT   50
#define DATA_MAX_RUN_BLOCKS 4096

enum blk_state { BLK_PENDING, BLK_READY };

/* The ready lists, in the order demand evicts them. */
enum blk_list { L_USED = 0, L_PF, L_RA, L_COUNT, L_NONE = L_COUNT };

struct cache_block;

/* One table entry per index a block covers. */
struct blk_node {
	struct cache_map_node node;
	struct cache_block *b;
	uint64_t index;
};

struct cache_block {
	struct cache_link lru; /* on list `list` while ready in the table */
	char *key;	       /* "key\0etag\0", one allocation */
	const char *etag;
	uint64_t first;		      /* first index covered */
	uint64_t n;		      /* indexes covered */
	uint32_t bs;		      /* bytes per index (runs) */
	struct blk_node *nodes;	      /* n entries */
	enum cache_class cls;	      /* immutable */
	enum blk_state state;	      /* guarded by: mu */
	enum blk_list list;	      /* guarded by: mu */
	bool in_table;		      /* guarded by: mu */
	bool used;		      /* guarded by: mu */
	bool from_disk;		      /* set by the fetcher before done */
	int refs;		      /* guarded by: mu */
	struct cache_waiter *waiters; /* guarded by: mu */
	char *data;
	size_t cap;
	size_t len;		    /* valid bytes once ready */
	size_t charge;		    /* what the budget is charged */
	struct mem_arena_slot slot; /* size 0: malloc'd */
};

struct cache_data {
	pthread_mutex_t mu;
	uint64_t budget;
	uint64_t pf_limit;
	struct cache_disk *disk;
	struct mem_arena *arena;
	uint64_t bytes;			  /* guarded by: mu */
	struct cache_map map;		  /* guarded by: mu */
	struct cache_link lists[L_COUNT]; /* guarded by: mu; next = newest */
	uint64_t list_bytes[L_COUNT];	  /* guarded by: mu */
	size_t nblocks;			  /* guarded by: mu */
	struct cache_data_stats st;	  /* guarded by: mu */
};

struct blk_name {
	const char *key, *etag;
	uint64_t index;
};

static uint64_t name_hash(const struct blk_name *n)
{
	uint64_t h = cache_hash_bytes(n->key, strlen(n->key), n->index);

	return h ^ (cache_hash_str(n->etag) * 0x9e3779b97f4a7c15ULL);
}

static bool blk_eq(const struct cache_map_node *node, const void *key)
{
	const struct blk_node *bn =
		CACHE_CONTAINER_OF(node, struct blk_node, node);
	const struct blk_name *n = key;

	return bn->index == n->index && strcmp(bn->b->key, n->key) == 0 &&
	       strcmp(bn->b->etag, n->etag) == 0;
}

uint64_t cache_default_budget(void)
{
	long pages = sysconf(_SC_PHYS_PAGES);
	long page = sysconf(_SC_PAGESIZE);
	uint64_t ram =
		pages > 0 && page > 0 ? (uint64_t)pages * (uint64_t)page : 0;
	uint64_t b = ram / 8;

	if (b < DATA_BUDGET_MIN)
		b = DATA_BUDGET_MIN;
	if (b > DATA_BUDGET_MAX)
		b = DATA_BUDGET_MAX;
	return b;
}

int cache_data_new(uint64_t budget_bytes, struct cache_data **out)
{
	struct cache_data *c = calloc(1, sizeof(*c));

	if (!c)
		return -ENOMEM;
	if (mem_arena_new(&c->arena) < 0) {
		free(c);
		return -ENOMEM;
	}
	if (cache_map_init(&c->map, 256) < 0) {
		mem_arena_destroy(c->arena);
		free(c);
		return -ENOMEM;
	}
	c->budget = budget_bytes ? budget_bytes : CACHE_DEFAULT_BUDGET_BYTES;
	mem_arena_set_budget(c->arena, c->budget);
	c->pf_limit = c->budget / 100 * DATA_PF_SHARE_PCT;
	for (int i = 0; i < L_COUNT; i++)
		cache_link_init(&c->lists[i]);
	pthread_mutex_init(&c->mu, NULL);
	*out = c;
	return 0;
}

void cache_data_set_prefetch_share(struct cache_data *c, unsigned pct)
{
	pthread_mutex_lock(&c->mu);
	c->pf_limit = c->budget / 100 * (pct > 100 ? 100 : pct);
	pthread_mutex_unlock(&c->mu);
}

void cache_data_set_disk(struct cache_data *c, struct cache_disk *disk)
{
	c->disk = disk;
}

/* What a block of len bytes is charged: what its memory takes. */
static size_t charge_of(const struct cache_data *c, size_t len)
{
	return len < DATA_ARENA_MIN ? len : mem_arena_slot_size(c->arena, len);
}

static void *data_alloc(struct cache_data *c, struct cache_block *b, size_t len)
{
	if (len < DATA_ARENA_MIN) {
		b->slot.size = 0;
		return malloc(len ? len : 1);
	}
	return mem_arena_alloc(c->arena, len, &b->slot);
}

static void blk_free(struct cache_data *c, struct cache_block *b)
{
	if (b->slot.size)
		mem_arena_free(c->arena, b->data, &b->slot);
	else
		free(b->data);
	free(b->nodes);
	free(b->key);
	free(b);
}

/* Bytes fetched ahead that nobody has read yet, per class. */
static void unused_add(struct cache_data *c, const struct cache_block *b,
		       int64_t sign)
{
	if (b->cls != CACHE_CLASS_DEMAND && !b->used)
		c->st.unused_bytes[b->cls] += (uint64_t)sign * b->cap;
}

static enum blk_list list_for(const struct cache_block *b)
{
	if (b->used || b->cls == CACHE_CLASS_DEMAND)
		return L_USED;
	return b->cls == CACHE_CLASS_PREFETCH ? L_PF : L_RA;
}

static void list_put(struct cache_data *c, struct cache_block *b)
{
	b->list = list_for(b);
	cache_link_front(&c->lists[b->list], &b->lru);
	c->list_bytes[b->list] += b->charge;
}

static void list_take(struct cache_data *c, struct cache_block *b)
{
	if (b->list == L_NONE)
		return;
	cache_link_remove(&b->lru);
	c->list_bytes[b->list] -= b->charge;
	b->list = L_NONE;
}

/* A reader found b: count it as used, and make it the most recent. */
static void mark_used(struct cache_data *c, struct cache_block *b)
{
	bool listed = b->list != L_NONE;

	list_take(c, b);
	if (!b->used) {
		unused_add(c, b, -1);
		b->used = true;
		if (b->cls != CACHE_CLASS_DEMAND && b->state == BLK_READY)
			c->st.used_bytes[b->cls] += b->len;
	}
	if (listed)
		list_put(c, b);
}

/* Take b out of the table, dropping the table's reference.  Caller holds
 * mu; returns b when that was the last reference (caller frees it). */
static struct cache_block *blk_detach(struct cache_data *c,
				      struct cache_block *b)
{
	for (uint64_t i = 0; i < b->n; i++)
		cache_map_remove(&c->map, &b->nodes[i].node);
	list_take(c, b);
	unused_add(c, b, -1);
	b->in_table = false;
	c->bytes -= b->charge;
	c->nblocks--;
	return --b->refs == 0 ? b : NULL;
}

void cache_data_free(struct cache_data *c)
{
	struct cache_map_node *n;

	if (!c)
		return;
	while ((n = cache_map_any(&c->map)) != NULL) {
		struct cache_block *b =
			CACHE_CONTAINER_OF(n, struct blk_node, node)->b;

		/* Readers are gone by contract; free whatever is left. */
		blk_detach(c, b);
		blk_free(c, b);
	}
	cache_map_fini(&c->map);
	mem_arena_destroy(c->arena);
	pthread_mutex_destroy(&c->mu);
	free(c);
}

static void evict_one(struct cache_data *c, enum blk_list l)
{
	struct cache_block *b =
		CACHE_CONTAINER_OF(c->lists[l].prev, struct cache_block, lru);

	c->st.evictions++;
	if (l != L_USED)
		c->st.evicted_unused_bytes[b->cls] += b->cap;
	b = blk_detach(c, b);
	if (b)
		blk_free(c, b);
}

/* The lists class cls may evict, in order; returns how many. */
static int evict_order(enum cache_class cls, enum blk_list order[L_COUNT])
{
	order[0] = L_USED;
	order[1] = L_PF;
	order[2] = L_RA;
	switch (cls) {
	case CACHE_CLASS_DEMAND:
		return 3;
	case CACHE_CLASS_READAHEAD:
		return 2;
	default:
		return 1;
	}
}

/* Make room for need more bytes of class cls.  true when admitted (demand
 * always is); a refusal evicts nothing. */
static bool admit(struct cache_data *c, uint64_t need, enum cache_class cls)
{
	enum blk_list order[L_COUNT];
	int n = evict_order(cls, order);
	uint64_t evictable = 0;

	if (cls == CACHE_CLASS_PREFETCH &&
	    c->st.unused_bytes[CACHE_CLASS_PREFETCH] + need > c->pf_limit)
		return false;
	for (int i = 0; i < n; i++)
		evictable += c->list_bytes[order[i]];
	if (cls != CACHE_CLASS_DEMAND && c->bytes + need > c->budget &&
	    c->bytes - evictable + need > c->budget)
		return false;
	for (int i = 0; i < n; i++)
		while (c->bytes + need > c->budget &&
		       c->lists[order[i]].prev != &c->lists[order[i]])
			evict_one(c, order[i]);
	return true;
}

static struct cache_block *blk_new(struct cache_data *c,
				   const struct blk_name *n, uint64_t nidx,
				   size_t len)
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
	b->nodes = calloc(nidx, sizeof(*b->nodes));
	if (!b->nodes)
		goto fail_key;
	b->data = data_alloc(c, b, len);
	if (!b->data)
		goto fail_nodes;
	b->first = n->index;
	b->n = nidx;
	b->cap = len;
	b->charge = b->slot.size ? b->slot.size : len;
	b->state = BLK_PENDING;
	b->list = L_NONE;
	cache_link_init(&b->lru);
	return b;

fail_nodes:
	free(b->nodes);
fail_key:
	free(b->key);
fail_blk:
	free(b);
fail:
	return NULL;
}

/* Enter a new pending block under every index it covers.  Caller holds
 * mu and has admitted it. */
static void blk_insert(struct cache_data *c, struct cache_block *b,
		       const struct blk_name *n, enum cache_class cls)
{
	struct blk_name name = *n;

	b->cls = cls;
	b->used = cls == CACHE_CLASS_DEMAND;
	b->in_table = true;
	for (uint64_t i = 0; i < b->n; i++) {
		name.index = b->first + i;
		b->nodes[i].b = b;
		b->nodes[i].index = name.index;
		cache_map_insert(&c->map, &b->nodes[i].node, name_hash(&name));
	}
	c->bytes += b->charge;
	if (c->bytes > c->st.peak_bytes)
		c->st.peak_bytes = c->bytes;
	c->nblocks++;
	unused_add(c, b, 1);
	c->st.fills++;
	if (cls == CACHE_CLASS_DEMAND)
		c->st.misses++;
}

static struct cache_block *find(struct cache_data *c,
				const struct blk_name *name)
{
	struct cache_map_node *n =
		cache_map_find(&c->map, name_hash(name), blk_eq, name);

	return n ? CACHE_CONTAINER_OF(n, struct blk_node, node)->b : NULL;
}

int cache_data_acquire(struct cache_data *c, const char *key, const char *etag,
		       uint64_t index, size_t len, struct cache_waiter *w,
		       struct cache_block **out, enum cache_acquire_result *res)
{
	struct blk_name name = { key, etag ? etag : "", index };
	struct cache_block *b;
	int err = 0;

	pthread_mutex_lock(&c->mu);
	b = find(c, &name);
	if (b) {
		mark_used(c, b);
		if (b->state == BLK_READY) {
			b->refs++;
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
	b = blk_new(c, &name, 1, len);
	if (!b) {
		err = -ENOMEM;
		goto out;
	}
	b->bs = (uint32_t)len;
	admit(c, b->charge, CACHE_CLASS_DEMAND);
	blk_insert(c, b, &name, CACHE_CLASS_DEMAND);
	b->refs = 3; /* the table's, the fetcher's, the waiter's */
	w->next = NULL;
	b->waiters = w;
	*out = b;
	*res = CACHE_FILL;
out:
	pthread_mutex_unlock(&c->mu);
	return err;
}

/* How many indexes from name->index on are missing from memory (and, past
 * the first, from disk), up to max.  Caller holds mu. */
static uint64_t missing_run(struct cache_data *c, struct blk_name *name,
			    uint64_t max)
{
	uint64_t first = name->index, n = 1;

	if (c->disk &&
	    cache_disk_has(c->disk, name->key, name->etag, name->index))
		return 1; /* filled from disk on its own */
	for (; n < max; n++) {
		name->index = first + n;
		if (find(c, name) ||
		    (c->disk && cache_disk_has(c->disk, name->key, name->etag,
					       name->index)))
			break;
	}
	name->index = first;
	return n;
}

int cache_data_acquire_run(struct cache_data *c, const char *key,
			   const char *etag, uint64_t first,
			   uint32_t block_bytes, uint64_t object_size,
			   uint64_t max_blocks, enum cache_class cls,
			   struct cache_block **out, uint64_t *nblocks)
{
	struct blk_name name = { key, etag ? etag : "", first };
	uint64_t total, n, start, end;
	struct cache_block *b;
	int err = 0;

	*out = NULL;
	*nblocks = 0;
	if (!block_bytes || first * block_bytes >= object_size)
		return -EINVAL;
	total = (object_size + block_bytes - 1) / block_bytes;
	if (max_blocks > total - first)
		max_blocks = total - first;
	if (max_blocks > DATA_MAX_RUN_BLOCKS)
		max_blocks = DATA_MAX_RUN_BLOCKS;
	if (max_blocks == 0)
		max_blocks = 1;
	pthread_mutex_lock(&c->mu);
	b = find(c, &name);
	if (b) {
		*nblocks = b->first + b->n - first;
		err = -EEXIST;
		goto out;
	}
	n = missing_run(c, &name, max_blocks);
	start = first * block_bytes;
	end = (first + n) * block_bytes;
	if (end > object_size)
		end = object_size;
	if (!admit(c, charge_of(c, (size_t)(end - start)), cls)) {
		c->st.refused++;
		err = -ENOSPC;
		goto out;
	}
	b = blk_new(c, &name, n, (size_t)(end - start));
	if (!b) {
		err = -ENOMEM;
		goto out;
	}
	b->bs = block_bytes;
	blk_insert(c, b, &name, cls);
	b->refs = 2; /* the table's, the fetcher's */
	*out = b;
	*nblocks = n;
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

uint64_t cache_block_first(const struct cache_block *b)
{
	return b->first;
}

bool cache_data_fill_from_disk(struct cache_data *c, struct cache_block *b)
{
	if (!c->disk || b->n != 1 ||
	    cache_disk_get(c->disk, b->key, b->etag, b->first, b->data,
			   b->cap) != 0)
		return false;
	b->from_disk = true;
	pthread_mutex_lock(&c->mu);
	c->st.disk_hits++;
	pthread_mutex_unlock(&c->mu);
	cache_data_fill_done(c, b, 0, b->cap);
	return true;
}

/* Keep a fetched block on disk too, index by index. */
static void to_disk(struct cache_data *c, const struct cache_block *b)
{
	for (uint64_t i = 0; i < b->n; i++) {
		size_t off = (size_t)i * b->bs;
		size_t len = b->len - off < b->bs ? b->len - off : b->bs;

		if (off >= b->len)
			break;
		cache_disk_put(c->disk, b->key, b->etag, b->first + i,
			       b->data + off, len);
	}
}

bool cache_data_fill_done(struct cache_data *c, struct cache_block *b, int err,
			  size_t len)
{
	struct cache_waiter *w, *next;
	bool waited;

	pthread_mutex_lock(&c->mu);
	w = b->waiters;
	waited = w != NULL;
	b->waiters = NULL;
	if (err) {
		/* The fetcher still holds a reference: detach cannot free. */
		if (b->in_table)
			blk_detach(c, b);
	} else {
		b->len = len < b->cap ? len : b->cap;
		b->state = BLK_READY;
		c->st.fetched_bytes[b->cls] += b->len;
		if (b->used && b->cls != CACHE_CLASS_DEMAND)
			c->st.used_bytes[b->cls] += b->len;
		if (b->in_table) {
			list_put(c, b);
			admit(c, 0, CACHE_CLASS_DEMAND);
		}
	}
	pthread_mutex_unlock(&c->mu);
	/* The fetcher's reference keeps b (and its bytes) alive here. */
	if (!err && c->disk && !b->from_disk)
		to_disk(c, b);
	for (; w; w = next) {
		next = w->next; /* w may be freed by its callback */
		w->fn(w, b, err);
	}
	return waited;
}

const void *cache_block_data(const struct cache_block *b)
{
	return b->data;
}

size_t cache_block_len(const struct cache_block *b)
{
	return b->len;
}

void cache_block_ref(struct cache_data *c, struct cache_block *b)
{
	pthread_mutex_lock(&c->mu);
	b->refs++;
	pthread_mutex_unlock(&c->mu);
}

enum cache_class cache_block_class(const struct cache_block *b)
{
	return b->cls;
}

void cache_data_retire(struct cache_data *c, struct cache_block *b)
{
	pthread_mutex_lock(&c->mu);
	if (b->in_table && b->state == BLK_READY && b->refs > 1) {
		c->st.retired_bytes += b->cap;
		blk_detach(c, b); /* not the last reference: the caller's */
	}
	pthread_mutex_unlock(&c->mu);
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
		blk_free(c, b);
}

void cache_data_charge(struct cache_data *c, uint64_t bytes)
{
	pthread_mutex_lock(&c->mu);
	admit(c, bytes, CACHE_CLASS_DEMAND);
	c->bytes += bytes;
	c->st.charged_bytes += bytes;
	if (c->bytes > c->st.peak_bytes)
		c->st.peak_bytes = c->bytes;
	pthread_mutex_unlock(&c->mu);
}

void cache_data_uncharge(struct cache_data *c, uint64_t bytes)
{
	pthread_mutex_lock(&c->mu);
	if (bytes > c->st.charged_bytes)
		bytes = c->st.charged_bytes; /* a caller's bug: stay sane */
	c->bytes -= bytes;
	c->st.charged_bytes -= bytes;
	pthread_mutex_unlock(&c->mu);
}

void cache_data_get_stats(struct cache_data *c, struct cache_data_stats *st)
{
	struct mem_arena_stats a;

	pthread_mutex_lock(&c->mu);
	*st = c->st;
	st->bytes = c->bytes;
	st->budget = c->budget;
	st->blocks = c->nblocks;
	pthread_mutex_unlock(&c->mu);
	mem_arena_get_stats(c->arena, &a);
	st->kept_bytes = a.kept_bytes;
	st->given_back_bytes = a.given_back_bytes;
}
