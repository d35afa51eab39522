/* Memory for cached data, in 2 MiB regions backed by transparent huge
 * pages.
 *
 * Why.  On the virtual machines ossfs runs on, faulting memory in is
 * dear.  Measured on the 2-core test machine, writing 64 MiB: into fresh
 * 4 KiB pages 175 ms (the same with pages another mapping just freed; 80
 * ms into 64 KiB blocks mapped with MAP_POPULATE), into memory written
 * before 3 ms, into fresh huge pages 50 ms, into reused huge pages 5 ms.
 * Every fetched byte is written once into a new block by the I/O thread:
 * with a mapping per block that was a fifth of the daemon's CPU in a cp
 * -r of 64 KiB files and most of it in a cat of 1 GiB.
 *
 * Layout.  A request up to ARENA_SLAB_MAX gets a slot of the smallest size
 * class that fits (page multiples about 1/8 apart, so at most ~12% is
 * lost to rounding) from a 2 MiB-aligned region holding slots of that one
 * class.  A bigger request gets its own 2 MiB-aligned mapping.  Both are
 * madvise(MADV_HUGEPAGE); where transparent huge pages are off this is
 * plain anonymous memory, as before.
 *
 * What is freed is kept for reuse (reused memory is the cheap kind),
 * within bounds, so resident memory stays within the cache's budget plus
 * ARENA_SLACK:
 * - a region whose slots are all free, and a freed big mapping, are kept
 *   while everything kept whole stays under ARENA_KEEP and, with what is
 *   handed out, under the budget (mem_arena_set_budget); else unmapped.
 *   A kept region serves any class; a kept mapping a request of its size.
 * - a free slot of a region still in use stays resident while such slots
 *   total at most ARENA_SLACK; beyond, its pages go back to the system
 *   (MADV_DONTNEED) and fault in again if the slot is reused.
 *
 * Locking: one mutex, taken for every call; no callbacks.
 */
#include <errno.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include "cache.h"

#define ARENA_REGION   ((size_t)2 << 20)
#define ARENA_PAGE     ((size_t)4096)
#define ARENA_SLAB_MIN ((size_t)64 << 10)
#define ARENA_SLAB_MAX ((size_t)1 << 20)
#define ARENA_KEEP     ((uint64_t)64 << 20)
#define ARENA_SLACK    ((uint64_t)16 << 20)
#define ARENA_CLASSES  32
#define ARENA_BIG_KEEP 32 /* kept big mappings, at most */

struct region {
	struct cache_link link; /* on its class's list, or the empty one */
	char *base;
	unsigned cls;
	unsigned nslots, nfree;
	uint64_t free_map;  /* bit i: slot i is free */
	uint64_t given_map; /* bit i: slot i's pages were given back */
};

struct big_map {
	void *p;
	size_t len;
};

struct arena_class {
	size_t size;
	struct cache_link list; /* regions with a free slot */
};

struct mem_arena {
	pthread_mutex_t mu;
	struct arena_class cls[ARENA_CLASSES];
	unsigned ncls;
	struct cache_link empty; /* regions with every slot free */
	uint64_t empty_bytes;
	uint64_t partial_free_bytes; /* resident free slots of used regions */
	struct big_map big[ARENA_BIG_KEEP];
	unsigned nbig;
	uint64_t big_bytes;
	uint64_t budget; /* 0: no budget, ARENA_KEEP alone bounds */
	struct mem_arena_stats st;
};

#define REGION_OF(l) CACHE_CONTAINER_OF(l, struct region, link)

static size_t round_up(size_t n, size_t to)
{
	return (n + to - 1) / to * to;
}

/* An anonymous mapping of len bytes (a multiple of the page) starting on a
 * 2 MiB boundary, so huge pages can back all of it. */
static void *map_aligned(size_t len)
{
	size_t over = len + ARENA_REGION;
	char *p = mmap(NULL, over, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uintptr_t start, end;

	if (p == MAP_FAILED)
		return NULL;
	start = round_up((uintptr_t)p, ARENA_REGION);
	end = start + len;
	if (start > (uintptr_t)p)
		munmap(p, start - (uintptr_t)p);
	if ((uintptr_t)p + over > end)
		munmap((void *)end, (uintptr_t)p + over - end);
#ifdef MADV_HUGEPAGE
	madvise((void *)start, len, MADV_HUGEPAGE);
#endif
	return (void *)start;
}

int mem_arena_new(struct mem_arena **out)
{
	struct mem_arena *a = calloc(1, sizeof(*a));
	size_t s = ARENA_SLAB_MIN;

	if (!a)
		return -ENOMEM;
	pthread_mutex_init(&a->mu, NULL);
	cache_link_init(&a->empty);
	while (s <= ARENA_SLAB_MAX && a->ncls < ARENA_CLASSES) {
		size_t step = s / 8 / ARENA_PAGE * ARENA_PAGE;

		a->cls[a->ncls].size = s;
		cache_link_init(&a->cls[a->ncls].list);
		a->ncls++;
		s += step > ARENA_PAGE ? step : ARENA_PAGE;
	}
	/* The steps may skip the largest size: the last class is it. */
	if (a->cls[a->ncls - 1].size < ARENA_SLAB_MAX)
		a->cls[a->ncls - 1].size = ARENA_SLAB_MAX;
	*out = a;
	return 0;
}

size_t mem_arena_slot_size(const struct mem_arena *a, size_t len)
{
	if (len > ARENA_SLAB_MAX)
		return round_up(len, ARENA_PAGE);
	for (unsigned i = 0; i < a->ncls; i++)
		if (a->cls[i].size >= len)
			return a->cls[i].size;
	return round_up(len, ARENA_PAGE); /* not reached */
}

/* May len more bytes be kept whole? */
static bool may_keep(const struct mem_arena *a, uint64_t len)
{
	uint64_t kept = a->empty_bytes + a->big_bytes + len;

	if (kept > ARENA_KEEP)
		return false;
	return !a->budget || a->st.live_bytes + kept <= a->budget;
}

void mem_arena_set_budget(struct mem_arena *a, uint64_t budget)
{
	pthread_mutex_lock(&a->mu);
	a->budget = budget;
	pthread_mutex_unlock(&a->mu);
}

static void region_unmap(struct region *r)
{
	munmap(r->base, ARENA_REGION);
	free(r);
}

/* A region for class ci: a kept empty one, or a new mapping. */
static struct region *region_get(struct mem_arena *a, unsigned ci)
{
	struct region *r;
	size_t size = a->cls[ci].size;

	if (!cache_link_empty(&a->empty)) {
		r = REGION_OF(a->empty.next);
		cache_link_remove(&r->link);
		a->empty_bytes -= ARENA_REGION;
	} else {
		r = calloc(1, sizeof(*r));
		if (!r)
			return NULL;
		r->base = map_aligned(ARENA_REGION);
		if (!r->base) {
			free(r);
			return NULL;
		}
		cache_link_init(&r->link);
		a->st.regions++;
	}
	r->cls = ci;
	r->nslots = (unsigned)(ARENA_REGION / size);
	r->nfree = r->nslots;
	r->free_map =
		r->nslots == 64 ? UINT64_MAX : ((uint64_t)1 << r->nslots) - 1;
	cache_link_front(&a->cls[ci].list, &r->link);
	return r;
}

static void *big_alloc(struct mem_arena *a, size_t len)
{
	for (unsigned i = 0; i < a->nbig; i++) {
		if (a->big[i].len == len) {
			void *p = a->big[i].p;

			a->big[i] = a->big[--a->nbig];
			a->big_bytes -= len;
			return p;
		}
	}
	return map_aligned(len);
}

void *mem_arena_alloc(struct mem_arena *a, size_t len,
		      struct mem_arena_slot *slot)
{
	struct region *r;
	unsigned ci, i;
	void *p = NULL;

	pthread_mutex_lock(&a->mu);
	if (len > ARENA_SLAB_MAX) {
		slot->region = NULL;
		slot->size = round_up(len, ARENA_PAGE);
		p = big_alloc(a, slot->size);
		goto out;
	}
	for (ci = 0; ci + 1 < a->ncls && a->cls[ci].size < len; ci++)
		;
	r = cache_link_empty(&a->cls[ci].list)
		    ? region_get(a, ci)
		    : REGION_OF(a->cls[ci].list.next);
	if (!r)
		goto out;
	i = (unsigned)__builtin_ctzll(r->free_map);
	r->free_map &= ~((uint64_t)1 << i);
	/* A fresh region (given_map 0) turns used: its other slots count. */
	if (r->nfree == r->nslots)
		a->partial_free_bytes +=
			(uint64_t)(r->nslots - 1) * a->cls[ci].size;
	else if (!(r->given_map >> i & 1))
		a->partial_free_bytes -= a->cls[ci].size;
	r->given_map &= ~((uint64_t)1 << i);
	if (--r->nfree == 0)
		cache_link_remove(&r->link);
	slot->region = r;
	slot->size = a->cls[ci].size;
	p = r->base + (size_t)i * a->cls[ci].size;
out:
	if (p) {
		a->st.live_bytes += slot->size;
		if (a->st.live_bytes > a->st.peak_live_bytes)
			a->st.peak_live_bytes = a->st.live_bytes;
	}
	pthread_mutex_unlock(&a->mu);
	return p;
}

/* Every slot of r is free again: keep it for any class, or unmap it. */
static void region_emptied(struct mem_arena *a, struct region *r)
{
	size_t size = a->cls[r->cls].size;
	unsigned given = (unsigned)__builtin_popcountll(r->given_map);

	/* Its other free slots no longer count as a used region's (the one
	 * just freed never did). */
	a->partial_free_bytes -= (uint64_t)(r->nslots - 1 - given) * size;
	cache_link_remove(&r->link);
	if (may_keep(a, ARENA_REGION)) {
		r->given_map = 0; /* a given-back page faults in as zero */
		cache_link_front(&a->empty, &r->link);
		a->empty_bytes += ARENA_REGION;
		return;
	}
	a->st.regions--;
	region_unmap(r);
}

void mem_arena_free(struct mem_arena *a, void *p,
		    const struct mem_arena_slot *slot)
{
	struct region *r = slot->region;
	size_t size = slot->size;
	unsigned i;

	if (!p)
		return;
	pthread_mutex_lock(&a->mu);
	a->st.live_bytes -= size;
	if (!r) {
		if (a->nbig < ARENA_BIG_KEEP && may_keep(a, size)) {
			a->big[a->nbig].p = p;
			a->big[a->nbig++].len = size;
			a->big_bytes += size;
		} else {
			munmap(p, size);
		}
		goto out;
	}
	i = (unsigned)(((char *)p - r->base) / size);
	if (r->nfree == 0)
		cache_link_front(&a->cls[r->cls].list, &r->link);
	r->free_map |= (uint64_t)1 << i;
	if (++r->nfree == r->nslots) {
		region_emptied(a, r);
		goto out;
	}
	if (a->partial_free_bytes + size > ARENA_SLACK) {
		madvise(p, size, MADV_DONTNEED);
		r->given_map |= (uint64_t)1 << i;
		a->st.given_back_bytes += size;
	} else {
		a->partial_free_bytes += size;
	}
out:
	pthread_mutex_unlock(&a->mu);
}

void mem_arena_get_stats(struct mem_arena *a, struct mem_arena_stats *st)
{
	pthread_mutex_lock(&a->mu);
	*st = a->st;
	st->kept_bytes = a->empty_bytes + a->partial_free_bytes + a->big_bytes;
	pthread_mutex_unlock(&a->mu);
}

/* Everything must have been freed. */
void mem_arena_destroy(struct mem_arena *a)
{
	if (!a)
		return;
	for (unsigned ci = 0; ci < a->ncls; ci++)
		while (!cache_link_empty(&a->cls[ci].list)) {
			struct region *r = REGION_OF(a->cls[ci].list.next);

			cache_link_remove(&r->link);
			region_unmap(r);
		}
	while (!cache_link_empty(&a->empty)) {
		struct region *r = REGION_OF(a->empty.next);

		cache_link_remove(&r->link);
		region_unmap(r);
	}
	for (unsigned i = 0; i < a->nbig; i++)
		munmap(a->big[i].p, a->big[i].len);
	pthread_mutex_destroy(&a->mu);
	free(a);
}
