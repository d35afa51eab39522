/* cache: what the filesystem remembers about the bucket.
 *
 *  - cache_map:     a small intrusive hash map (chained, grows by doubling)
 *                   used here and by fs/ for its inode table.  Not locked:
 *                   the owner's lock guards it.
 *  - cache_listing: an immutable, reference-counted snapshot of one
 *                   directory level (names sorted bytewise, a directory
 *                   wins over an object of the same name).  Open directory
 *                   handles keep one so readdir offsets stay stable.
 *  - cache_meta:    the directory-listing cache (dir_ttl) and the negative
 *                   lookup cache (neg_ttl), both bounded, with their own
 *                   lock.  Attribute freshness (attr_ttl) is kept on the
 *                   inodes by fs/ with cache_is_fresh().
 *  - cache_data:    the data block cache: fixed-size blocks of an object
 *                   version (key + ETag), LRU within one memory budget,
 *                   and the rendezvous that lets concurrent readers of a
 *                   missing block share one GET.
 *
 * Threads: everything here may be called from any thread.  cache_meta
 * and cache_data take their own mutex and never call out while holding
 * it, except that cache_data runs waiter callbacks with no lock held.
 * Times are milliseconds of the caller's clock (monotonic in production,
 * injectable in tests); nothing here reads a clock itself.
 */
#ifndef OSSFS_CACHE_H
#define OSSFS_CACHE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define CACHE_CONTAINER_OF(ptr, type, member) \
	((type *)(void *)((char *)(ptr)-offsetof(type, member)))

/* ---- intrusive list ------------------------------------------------------
 * A circular doubly linked list: the head is a link of its own, an empty
 * list (and a link on no list) points at itself.  LRU lists keep the
 * newest at head->next. */
struct cache_link {
	struct cache_link *prev, *next;
};

static inline void cache_link_init(struct cache_link *l)
{
	l->prev = l->next = l;
}

static inline bool cache_link_empty(const struct cache_link *head)
{
	return head->next == head;
}

/* Off its list (a no-op for a link on none). */
static inline void cache_link_remove(struct cache_link *l)
{
	l->prev->next = l->next;
	l->next->prev = l->prev;
	l->prev = l->next = l;
}

/* l, on no list, becomes head's first. */
static inline void cache_link_front(struct cache_link *head,
				    struct cache_link *l)
{
	l->next = head->next;
	l->prev = head;
	head->next->prev = l;
	head->next = l;
}

/* l, on any list or none, becomes head's first (an LRU touch). */
static inline void cache_link_move_front(struct cache_link *head,
					 struct cache_link *l)
{
	cache_link_remove(l);
	cache_link_front(head, l);
}

/* ---- freshness ------------------------------------------------------- */

/* True when something fetched at fetched_ms is still within ttl_ms. */
static inline bool cache_is_fresh(uint64_t fetched_ms, uint64_t now_ms,
				  uint32_t ttl_ms)
{
	return now_ms >= fetched_ms && now_ms - fetched_ms < ttl_ms;
}

/* Milliseconds of freshness left (0 when stale). */
static inline uint64_t cache_remaining_ms(uint64_t fetched_ms, uint64_t now_ms,
					  uint32_t ttl_ms)
{
	if (!cache_is_fresh(fetched_ms, now_ms, ttl_ms))
		return 0;
	return ttl_ms - (now_ms - fetched_ms);
}

/* ---- hash map ---------------------------------------------------------- */

struct cache_map_node {
	struct cache_map_node *next;
	uint64_t hash;
};

struct cache_map {
	struct cache_map_node **buckets;
	size_t nbuckets; /* a power of two */
	size_t n;
};

typedef bool (*cache_map_eq_fn)(const struct cache_map_node *n,
				const void *key);

/* 0 or -ENOMEM. */
int cache_map_init(struct cache_map *m, size_t initial_buckets);
/* Frees the bucket array only; nodes belong to the caller. */
void cache_map_fini(struct cache_map *m);
struct cache_map_node *cache_map_find(const struct cache_map *m, uint64_t hash,
				      cache_map_eq_fn eq, const void *key);
/* Never fails: when growing the table fails, chains just get longer. */
void cache_map_insert(struct cache_map *m, struct cache_map_node *n,
		      uint64_t hash);
void cache_map_remove(struct cache_map *m, struct cache_map_node *n);
/* Any node, or NULL when empty (for teardown loops). */
struct cache_map_node *cache_map_any(const struct cache_map *m);

uint64_t cache_hash_bytes(const void *data, size_t len, uint64_t seed);
static inline uint64_t cache_hash_str(const char *s)
{
	size_t n = 0;

	while (s[n])
		n++;
	return cache_hash_bytes(s, n, 0);
}

/* ---- directory listings ---------------------------------------------- */

enum cache_ent_type {
	CACHE_ENT_FILE = 0,
	CACHE_ENT_DIR,
	CACHE_ENT_SYMLINK,
};

/* x-oss-meta-mode/-uid/-gid/-mtime of an entry, as a HEAD brought them
 * (oss_posix_meta's fields; cache/ does not depend on oss/). */
struct cache_posix {
	bool has_mode, has_uid, has_gid, has_mtime;
	uint32_t mode, uid, gid;
	struct timespec mtime;
};

struct cache_dirent {
	const char *name; /* owned by the listing */
	const char *etag; /* "" for directories; owned by the listing */
	enum cache_ent_type type;
	uint64_t size;
	struct timespec mtime; /* Last-Modified; 0 for prefixes */
	/* Filled by fs/ before the listing is shared: posix is what a
	 * HEAD of the entry (of "name/" for a directory) said, also when
	 * it said nothing (has_meta then means "asked, none"). */
	bool has_meta;
	struct cache_posix posix;
};

struct cache_listing {
	struct cache_dirent *ents; /* sorted by name after finish */
	size_t n;
	size_t cap;
	/* The directory's own "dir/" marker object was in the listing. */
	bool has_marker;
	struct timespec marker_mtime;
	uint64_t fetched_ms;
	/* Set by fs/ before sharing: the entries' metadata is being read
	 * in the background into a copy that will replace this listing. */
	bool meta_deferred;
	atomic_int refs;
};

/* A new, empty listing with one reference. NULL on ENOMEM. */
struct cache_listing *cache_listing_new(uint64_t fetched_ms);
/* Append one entry (name and etag are copied).  0 or -ENOMEM. */
int cache_listing_add(struct cache_listing *l, const char *name,
		      enum cache_ent_type type, uint64_t size,
		      const struct timespec *mtime, const char *etag);
/* Sort by name and drop duplicates, keeping a directory over an object
 * of the same name (key "a" and prefix "a/" both present).  After this
 * the listing is immutable and may be shared between threads. */
void cache_listing_finish(struct cache_listing *l);
/* Append a copy of d (of another listing), metadata and all.  0 or
 * -ENOMEM. */
int cache_listing_add_dirent(struct cache_listing *l,
			     const struct cache_dirent *d);
/* Binary search; NULL when absent. */
const struct cache_dirent *cache_listing_find(const struct cache_listing *l,
					      const char *name);
void cache_listing_ref(struct cache_listing *l);
void cache_listing_unref(struct cache_listing *l);

/* ---- listing + negative cache ----------------------------------------- */

struct cache_meta_config {
	size_t max_listings;	    /* directories kept; default 4096 */
	size_t max_listing_entries; /* entries over all kept listings;
				       default 4,000,000 */
	size_t max_negative;	    /* negative entries; default 65536 */
};

struct cache_meta;

int cache_meta_new(const struct cache_meta_config *cfg,
		   struct cache_meta **out);
void cache_meta_free(struct cache_meta *c);

/* The listing of directory prefix dir ("" or "a/b/") if it was fetched
 * less than ttl_ms before now_ms: returned with a reference the caller
 * drops.  NULL otherwise. */
struct cache_listing *cache_meta_listing_get(struct cache_meta *c,
					     const char *dir, uint64_t now_ms,
					     uint32_t ttl_ms);
/* Keep l (takes its own reference) as the listing of dir, replacing any
 * older one; the least recently used listings go when over the bounds. */
int cache_meta_listing_put(struct cache_meta *c, const char *dir,
			   struct cache_listing *l);
void cache_meta_listing_drop(struct cache_meta *c, const char *dir);

/* Negative lookups: key is the full object key that was found missing. */
bool cache_meta_neg_check(struct cache_meta *c, const char *key,
			  uint64_t now_ms, uint32_t ttl_ms);
int cache_meta_neg_add(struct cache_meta *c, const char *key, uint64_t now_ms);
void cache_meta_neg_drop(struct cache_meta *c, const char *key);

struct cache_meta_stats {
	size_t listings;
	size_t listing_entries;
	size_t negatives;
};
void cache_meta_get_stats(struct cache_meta *c, struct cache_meta_stats *st);

/* ---- memory for data blocks ---------------------------------------------
 * Slots carved from 2 MiB regions backed by transparent huge pages (see
 * arena.c for why); what is freed is kept for reuse within a bound. */
struct mem_arena;
struct mem_arena_slot {
	void *region; /* NULL: a mapping of its own */
	size_t size;  /* bytes the slot really takes */
};
struct mem_arena_stats {
	uint64_t live_bytes; /* in slots handed out */
	uint64_t peak_live_bytes;
	uint64_t kept_bytes;	   /* freed, kept resident for reuse */
	uint64_t given_back_bytes; /* freed slots returned to the system */
	uint64_t regions;	   /* 2 MiB regions mapped */
};
int mem_arena_new(struct mem_arena **out);
void mem_arena_destroy(struct mem_arena *a); /* all slots freed first */
/* Keep freed memory only while it and what is handed out fit budget. */
void mem_arena_set_budget(struct mem_arena *a, uint64_t budget);
/* What a request of len bytes takes (what the budget is charged). */
size_t mem_arena_slot_size(const struct mem_arena *a, size_t len);
void *mem_arena_alloc(struct mem_arena *a, size_t len,
		      struct mem_arena_slot *slot);
void mem_arena_free(struct mem_arena *a, void *p,
		    const struct mem_arena_slot *slot);
void mem_arena_get_stats(struct mem_arena *a, struct mem_arena_stats *st);

/* ---- data blocks -------------------------------------------------------- */

struct cache_data;
struct cache_block;
struct cache_waiter;
struct cache_disk;

/* Called once when a block a reader waits for is filled (err 0) or has
 * failed (-errno).  Runs on the thread that called cache_data_fill_done,
 * with no cache lock held.  The waiter owns one reference to b, which
 * it drops with cache_block_unref (also on error). */
typedef void (*cache_waiter_fn)(struct cache_waiter *w, struct cache_block *b,
				int err);

/* Embedded in the reader's own request: waiting allocates nothing. */
struct cache_waiter {
	struct cache_waiter *next;
	cache_waiter_fn fn;
};

enum cache_acquire_result {
	CACHE_HIT,     /* *out is ready; the waiter is not used */
	CACHE_PENDING, /* a fetch is in flight; w will be called */
	CACHE_FILL,    /* new block: w will be called, and the caller must
			  fetch into cache_block_buf and call
			  cache_data_fill_done */
};

/* Why a block was fetched.  It decides who may evict it and whether it
 * is admitted at all when memory is short (see data.c's design note):
 * a read a process waits for always gets its bytes; read-ahead may push
 * out data already read and unread directory prefetch; directory
 * prefetch may only push out data already read. */
enum cache_class {
	CACHE_CLASS_DEMAND = 0,
	CACHE_CLASS_READAHEAD,
	CACHE_CLASS_PREFETCH,
};
#define CACHE_CLASS_COUNT 3

/* budget_bytes 0 = CACHE_DEFAULT_BUDGET_BYTES (tests); the daemon passes
 * cache_default_budget() or the user's cache_size. */
#define CACHE_DEFAULT_BUDGET_BYTES ((uint64_t)256 << 20)
int cache_data_new(uint64_t budget_bytes, struct cache_data **out);
/* All blocks must be idle (no fetch in flight). */
void cache_data_free(struct cache_data *c);

/* The daemon's default budget: an eighth of physical memory, at least
 * 256 MiB and at most 4 GiB. */
uint64_t cache_default_budget(void);

/* Share of the budget that directory prefetch may hold in fetched but
 * not yet read data, in percent (default 50). */
void cache_data_set_prefetch_share(struct cache_data *c, unsigned pct);
/* Use disk (not owned; may be NULL) as a second level: blocks missing
 * from memory are looked for there before the network, and every block
 * fetched is written there.  Set before use. */
void cache_data_set_disk(struct cache_data *c, struct cache_disk *disk);

/* Find block index of object version (key, etag) whose full length is
 * len bytes.  On success *out holds a reference for the caller in every
 * case and *res says what happened.  -ENOMEM when a new block cannot be
 * allocated.  A new block here is of CACHE_CLASS_DEMAND, one index long;
 * an existing run fetched by cache_data_acquire_run that covers index is
 * returned as it is (see cache_block_first). */
int cache_data_acquire(struct cache_data *c, const char *key, const char *etag,
		       uint64_t index, size_t len, struct cache_waiter *w,
		       struct cache_block **out,
		       enum cache_acquire_result *res);

/* For fetchers that nobody waits for (read-ahead, prefetch): make one
 * block covering the longest run of missing indexes [first, first+n),
 * n <= max_blocks, of an object of object_size bytes cut in blocks of
 * block_bytes, and admit it under class cls.
 *   0:        *out is a new block to fetch (a reference for the caller),
 *             *nblocks its length in indexes.
 *   -EEXIST:  index first is cached or on its way; *nblocks is how many
 *             indexes that existing block covers from first on.
 *   -ENOSPC:  no room for cls now (try later, or give up).
 *   -ENOMEM, -EINVAL (first past the end). */
int cache_data_acquire_run(struct cache_data *c, const char *key,
			   const char *etag, uint64_t first,
			   uint32_t block_bytes, uint64_t object_size,
			   uint64_t max_blocks, enum cache_class cls,
			   struct cache_block **out, uint64_t *nblocks);

/* The fetcher's buffer (cache_block_cap bytes) for a CACHE_FILL block. */
void *cache_block_buf(struct cache_block *b);
size_t cache_block_cap(const struct cache_block *b);
/* The first index a block covers (a run covers several). */
uint64_t cache_block_first(const struct cache_block *b);
/* Try to fill a new block from the disk cache.  true: filled and
 * finished (cache_data_fill_done was called); false: fetch it. */
bool cache_data_fill_from_disk(struct cache_data *c, struct cache_block *b);
/* Finish a CACHE_FILL block: err 0 with len valid bytes (a short block
 * means the object ended early), or -errno, in which case the block
 * leaves the cache so a later read tries again.  Wakes every waiter and
 * says whether there was one (a process was waiting for these bytes).
 * Does not drop the fetcher's reference. */
bool cache_data_fill_done(struct cache_data *c, struct cache_block *b, int err,
			  size_t len);
const void *cache_block_data(const struct cache_block *b);
size_t cache_block_len(const struct cache_block *b);
void cache_block_unref(struct cache_data *c, struct cache_block *b);
void cache_block_ref(struct cache_data *c, struct cache_block *b);
enum cache_class cache_block_class(const struct cache_block *b);
/* The reader is done with b for good (read-ahead of a large file, read
 * well past): b leaves the cache now, so its memory goes to what is
 * ahead.  The caller holds a reference, which stays valid. */
void cache_data_retire(struct cache_data *c, struct cache_block *b);

/* Bytes the daemon holds outside the block table (upload buffers) count
 * against the same budget.  Charging evicts cached blocks as a foreground
 * read would and never refuses: the caller bounds what it holds. */
void cache_data_charge(struct cache_data *c, uint64_t bytes);
void cache_data_uncharge(struct cache_data *c, uint64_t bytes);

struct cache_data_stats {
	uint64_t hits;
	uint64_t waits; /* joined a fetch already in flight */
	uint64_t fills; /* fetches started */
	uint64_t evictions;
	uint64_t bytes; /* charged to the budget now (blocks + charged) */
	uint64_t budget;
	size_t blocks;
	uint64_t misses;	/* demand blocks started (a reader waited) */
	uint64_t charged_bytes; /* of bytes: cache_data_charge */
	uint64_t peak_bytes;
	uint64_t refused; /* runs refused for want of room */
	uint64_t disk_hits;
	/* Per class: bytes fetched into the cache, of them read by someone,
	 * and evicted before anyone read them. */
	uint64_t fetched_bytes[CACHE_CLASS_COUNT];
	uint64_t used_bytes[CACHE_CLASS_COUNT];
	uint64_t evicted_unused_bytes[CACHE_CLASS_COUNT];
	/* Held now: fetched or in flight, not read yet. */
	uint64_t unused_bytes[CACHE_CLASS_COUNT];
	/* Block memory freed and kept for reuse (not charged), and freed
	 * memory given back to the system since the start (arena.c). */
	uint64_t kept_bytes;
	uint64_t given_back_bytes;
	uint64_t retired_bytes; /* cache_data_retire */
};
void cache_data_get_stats(struct cache_data *c, struct cache_data_stats *st);

/* ---- the disk cache ------------------------------------------------------ */

/* Blocks of object versions in files under a directory, bounded in bytes.
 * A block is named by a hash of (key, ETag, index) and its
 * file repeats key and ETag in a header that is checked on every read, so
 * a changed object is never served and a hash collision is a miss.  The
 * directory survives a remount: the index is rebuilt by scanning it at
 * start-up.  Writes happen on a thread of its own (a bounded queue: when
 * it is full a block is simply not kept); reads are synchronous local
 * file reads.  Least recently used files are deleted to stay under the
 * size; every deletion is counted and logged at info level. */
struct cache_disk_stats {
	uint64_t bytes;
	uint64_t limit;
	uint64_t files;
	uint64_t hits;
	uint64_t misses;
	uint64_t writes;
	uint64_t write_drops; /* queue full or write failed */
	uint64_t evicted_files;
	uint64_t evicted_bytes;
};

/* 0 or -errno (the directory cannot be created or used). */
int cache_disk_new(const char *dir, uint64_t limit_bytes,
		   struct cache_disk **out);
/* Finishes queued writes, then frees. */
void cache_disk_free(struct cache_disk *d);
/* Whether block index of (key, etag) is on disk (an index lookup). */
bool cache_disk_has(struct cache_disk *d, const char *key, const char *etag,
		    uint64_t index);
/* Read block index (len bytes) into buf: 0, or -ENOENT when it is not
 * there or not what it should be. */
int cache_disk_get(struct cache_disk *d, const char *key, const char *etag,
		   uint64_t index, void *buf, size_t len);
/* Queue a copy of block index for writing.  Never blocks. */
void cache_disk_put(struct cache_disk *d, const char *key, const char *etag,
		    uint64_t index, const void *data, size_t len);
/* Wait until queued writes are on disk (tests). */
void cache_disk_flush(struct cache_disk *d);
void cache_disk_get_stats(struct cache_disk *d, struct cache_disk_stats *st);

#endif
