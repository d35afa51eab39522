/* Unit tests of cache/: the hash map, listings, the listing and negative
 * caches, and the data block cache. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "cache.h"
#include "testutil.h"

struct item {
	struct cache_map_node node;
	int key;
};

static bool item_eq(const struct cache_map_node *n, const void *key)
{
	return CACHE_CONTAINER_OF(n, struct item, node)->key ==
	       *(const int *)key;
}

static uint64_t int_hash(int k)
{
	return cache_hash_bytes(&k, sizeof(k), 0);
}

static void test_map(void)
{
	enum { N = 5000 };
	struct item *items = calloc(N, sizeof(*items));
	struct cache_map m;
	int found = 0, k;

	CHECK_INT(cache_map_init(&m, 4), 0);
	for (int i = 0; i < N; i++) {
		items[i].key = i * 7;
		cache_map_insert(&m, &items[i].node, int_hash(i * 7));
	}
	CHECK_INT(m.n, N);
	CHECK(m.nbuckets >= N); /* it grew */
	for (int i = 0; i < N; i++) {
		k = i * 7;
		found += cache_map_find(&m, int_hash(k), item_eq, &k) ==
			 &items[i].node;
	}
	CHECK_INT(found, N);
	k = 3;
	CHECK(cache_map_find(&m, int_hash(k), item_eq, &k) == NULL);
	for (int i = 0; i < N; i += 2)
		cache_map_remove(&m, &items[i].node);
	CHECK_INT(m.n, N / 2);
	k = 14;
	CHECK(cache_map_find(&m, int_hash(k), item_eq, &k) == NULL);
	k = 7;
	CHECK(cache_map_find(&m, int_hash(k), item_eq, &k) == &items[1].node);
	while (cache_map_any(&m))
		cache_map_remove(&m, cache_map_any(&m));
	CHECK_INT(m.n, 0);
	cache_map_fini(&m);
	free(items);
	CHECK(cache_hash_str("a") != cache_hash_str("b"));
}

static void test_listing_sort_dedup(void)
{
	struct cache_listing *l = cache_listing_new(5);
	struct timespec t = { 100, 0 };
	const struct cache_dirent *d;

	CHECK(l != NULL);
	CHECK_INT(cache_listing_add(l, "b", CACHE_ENT_FILE, 3, &t, "E1"), 0);
	CHECK_INT(cache_listing_add(l, "a", CACHE_ENT_FILE, 1, &t, "E2"), 0);
	CHECK_INT(cache_listing_add(l, "c", CACHE_ENT_SYMLINK, 4, &t, "E3"), 0);
	CHECK_INT(cache_listing_add(l, "a", CACHE_ENT_DIR, 0, NULL, ""), 0);
	CHECK_INT(cache_listing_add(l, "a-1", CACHE_ENT_FILE, 9, &t, "E4"), 0);
	cache_listing_finish(l);
	CHECK_INT(l->n, 4);
	CHECK_STR(l->ents[0].name, "a");
	CHECK_INT(l->ents[0].type, CACHE_ENT_DIR); /* the directory won */
	CHECK_STR(l->ents[1].name, "a-1");
	CHECK_STR(l->ents[2].name, "b");
	CHECK_STR(l->ents[3].name, "c");
	d = cache_listing_find(l, "b");
	CHECK(d && d->size == 3 && strcmp(d->etag, "E1") == 0);
	CHECK(d && d->mtime.tv_sec == 100);
	CHECK(cache_listing_find(l, "zz") == NULL);
	CHECK(cache_listing_find(l, "") == NULL);
	cache_listing_ref(l);
	cache_listing_unref(l);
	cache_listing_unref(l);
}

static struct cache_listing *one_entry_listing(uint64_t at, const char *name)
{
	struct cache_listing *l = cache_listing_new(at);

	cache_listing_add(l, name, CACHE_ENT_FILE, 1, NULL, "E");
	cache_listing_finish(l);
	return l;
}

static void test_meta_listing_ttl(void)
{
	struct cache_meta *c;
	struct cache_listing *l, *got;

	CHECK_INT(cache_meta_new(NULL, &c), 0);
	l = one_entry_listing(1000, "x");
	CHECK_INT(cache_meta_listing_put(c, "d/", l), 0);
	cache_listing_unref(l);
	got = cache_meta_listing_get(c, "d/", 1000 + 4999, 5000);
	CHECK(got == l);
	cache_listing_unref(got);
	CHECK(cache_meta_listing_get(c, "d/", 1000 + 5000, 5000) == NULL);
	CHECK(cache_meta_listing_get(c, "e/", 1000, 5000) == NULL);
	/* A clock that went backwards never makes a listing fresh. */
	CHECK(cache_meta_listing_get(c, "d/", 999, 5000) == NULL);
	/* Replacing keeps one. */
	l = one_entry_listing(2000, "y");
	CHECK_INT(cache_meta_listing_put(c, "d/", l), 0);
	cache_listing_unref(l);
	got = cache_meta_listing_get(c, "d/", 2000, 5000);
	CHECK(got && cache_listing_find(got, "y"));
	cache_listing_unref(got);
	cache_meta_listing_drop(c, "d/");
	CHECK(cache_meta_listing_get(c, "d/", 2000, 5000) == NULL);
	cache_meta_free(c);
}

static void test_meta_listing_bounds(void)
{
	struct cache_meta_config cfg = { .max_listings = 2 };
	struct cache_meta_stats st;
	struct cache_listing *l, *got;
	struct cache_meta *c;
	const char *dirs[] = { "a/", "b/", "c/" };

	CHECK_INT(cache_meta_new(&cfg, &c), 0);
	for (int i = 0; i < 3; i++) {
		l = one_entry_listing(10, "n");
		cache_meta_listing_put(c, dirs[i], l);
		cache_listing_unref(l);
		if (i == 1) { /* touch a/ so b/ is the least recent */
			got = cache_meta_listing_get(c, "a/", 10, 100);
			cache_listing_unref(got);
		}
	}
	got = cache_meta_listing_get(c, "b/", 10, 100);
	CHECK(got == NULL);
	got = cache_meta_listing_get(c, "a/", 10, 100);
	CHECK(got != NULL);
	cache_listing_unref(got);
	cache_meta_get_stats(c, &st);
	CHECK_INT(st.listings, 2);
	CHECK_INT(st.listing_entries, 2);
	cache_meta_free(c);
}

static void test_meta_negative(void)
{
	struct cache_meta_config cfg = { .max_negative = 3 };
	struct cache_meta_stats st;
	struct cache_meta *c;

	CHECK_INT(cache_meta_new(&cfg, &c), 0);
	CHECK(!cache_meta_neg_check(c, "k", 0, 100));
	CHECK_INT(cache_meta_neg_add(c, "k", 50), 0);
	CHECK(cache_meta_neg_check(c, "k", 149, 100));
	CHECK(!cache_meta_neg_check(c, "k", 150, 100));
	CHECK(!cache_meta_neg_check(c, "k", 60, 100)); /* dropped when stale */
	cache_meta_neg_add(c, "k", 50);
	cache_meta_neg_drop(c, "k");
	CHECK(!cache_meta_neg_check(c, "k", 60, 100));
	for (int i = 0; i < 5; i++) {
		char key[8] = { 'n', (char)('0' + i), 0 };

		cache_meta_neg_add(c, key, 10);
	}
	cache_meta_get_stats(c, &st);
	CHECK_INT(st.negatives, 3);
	CHECK(!cache_meta_neg_check(c, "n0", 10, 100)); /* oldest went */
	CHECK(cache_meta_neg_check(c, "n4", 10, 100));
	cache_meta_free(c);
}

struct waiter_rec {
	struct cache_waiter w;
	struct cache_data *c;
	int calls;
	int err;
	struct cache_block *b;
};

static void rec_fn(struct cache_waiter *w, struct cache_block *b, int err)
{
	struct waiter_rec *r = CACHE_CONTAINER_OF(w, struct waiter_rec, w);

	r->calls++;
	r->err = err;
	r->b = b;
}

static void rec_init(struct waiter_rec *r, struct cache_data *c)
{
	memset(r, 0, sizeof(*r));
	r->w.fn = rec_fn;
	r->c = c;
}

static void rec_done(struct waiter_rec *r)
{
	cache_block_unref(r->c, r->b);
	r->b = NULL;
}

static void test_data_share_one_fetch(void)
{
	struct waiter_rec a, b, h;
	struct cache_data_stats st;
	enum cache_acquire_result res;
	struct cache_block *fb, *x;
	struct cache_data *c;

	CHECK_INT(cache_data_new(1 << 20, &c), 0);
	rec_init(&a, c);
	rec_init(&b, c);
	rec_init(&h, c);
	CHECK_INT(cache_data_acquire(c, "k", "E", 0, 10, &a.w, &fb, &res), 0);
	CHECK_INT(res, CACHE_FILL);
	CHECK_INT(cache_block_cap(fb), 10);
	CHECK_INT(cache_data_acquire(c, "k", "E", 0, 10, &b.w, &x, &res), 0);
	CHECK_INT(res, CACHE_PENDING);
	CHECK(x == NULL);
	CHECK_INT(a.calls + b.calls, 0);
	memcpy(cache_block_buf(fb), "0123456789", 10);
	cache_data_fill_done(c, fb, 0, 10);
	cache_block_unref(c, fb);
	CHECK_INT(a.calls, 1);
	CHECK_INT(b.calls, 1);
	CHECK(a.b == b.b && a.err == 0);
	CHECK(memcmp(cache_block_data(a.b), "0123456789", 10) == 0);
	rec_done(&a);
	rec_done(&b);
	CHECK_INT(cache_data_acquire(c, "k", "E", 0, 10, &h.w, &x, &res), 0);
	CHECK_INT(res, CACHE_HIT);
	CHECK_INT(cache_block_len(x), 10);
	CHECK_INT(h.calls, 0);
	cache_block_unref(c, x);
	/* Another ETag is another object version. */
	CHECK_INT(cache_data_acquire(c, "k", "F", 0, 10, &h.w, &fb, &res), 0);
	CHECK_INT(res, CACHE_FILL);
	cache_data_fill_done(c, fb, 0, 4); /* short: the object ended */
	cache_block_unref(c, fb);
	CHECK_INT(cache_block_len(h.b), 4);
	rec_done(&h);
	cache_data_get_stats(c, &st);
	CHECK_INT(st.fills, 2);
	CHECK_INT(st.waits, 1);
	CHECK_INT(st.hits, 1);
	CHECK_INT(st.blocks, 2);
	CHECK_INT(st.bytes, 20);
	cache_data_free(c);
}

static void test_data_error_leaves_cache(void)
{
	struct waiter_rec a, b;
	enum cache_acquire_result res;
	struct cache_block *fb, *x;
	struct cache_data_stats st;
	struct cache_data *c;

	CHECK_INT(cache_data_new(1 << 20, &c), 0);
	rec_init(&a, c);
	rec_init(&b, c);
	cache_data_acquire(c, "k", "E", 3, 10, &a.w, &fb, &res);
	cache_data_acquire(c, "k", "E", 3, 10, &b.w, &x, &res);
	cache_data_fill_done(c, fb, -EIO, 0);
	cache_block_unref(c, fb);
	CHECK_INT(a.err, -EIO);
	CHECK_INT(b.err, -EIO);
	rec_done(&a);
	rec_done(&b);
	cache_data_get_stats(c, &st);
	CHECK_INT(st.blocks, 0);
	CHECK_INT(st.bytes, 0);
	rec_init(&a, c);
	CHECK_INT(cache_data_acquire(c, "k", "E", 3, 10, &a.w, &fb, &res), 0);
	CHECK_INT(res, CACHE_FILL); /* tried again */
	cache_data_fill_done(c, fb, 0, 10);
	cache_block_unref(c, fb);
	rec_done(&a);
	cache_data_free(c);
}

static void fill_block(struct cache_data *c, uint64_t index)
{
	struct waiter_rec r;
	enum cache_acquire_result res;
	struct cache_block *b;

	rec_init(&r, c);
	if (cache_data_acquire(c, "obj", "E", index, 100, &r.w, &b, &res) ||
	    res != CACHE_FILL)
		return;
	memset(cache_block_buf(b), (int)index, 100);
	cache_data_fill_done(c, b, 0, 100);
	cache_block_unref(c, b);
	rec_done(&r);
}

static bool is_cached(struct cache_data *c, uint64_t index)
{
	struct waiter_rec r;
	enum cache_acquire_result res;
	struct cache_block *b;

	rec_init(&r, c);
	cache_data_acquire(c, "obj", "E", index, 100, &r.w, &b, &res);
	if (res == CACHE_HIT) {
		cache_block_unref(c, b);
		return true;
	}
	/* It was a miss: finish the fill we just started as a failure. */
	cache_data_fill_done(c, b, -ECANCELED, 0);
	cache_block_unref(c, b);
	rec_done(&r);
	return false;
}

static void test_data_budget_lru(void)
{
	struct cache_data_stats st;
	struct cache_data *c;

	CHECK_INT(cache_data_new(300, &c), 0);
	fill_block(c, 0);
	fill_block(c, 1);
	fill_block(c, 2);
	CHECK(is_cached(c, 0)); /* 0 is now the most recent */
	fill_block(c, 3);	/* evicts 1, the least recent */
	cache_data_get_stats(c, &st);
	CHECK_INT(st.bytes, 300);
	CHECK_INT(st.evictions, 1);
	CHECK(is_cached(c, 0));
	CHECK(is_cached(c, 2));
	CHECK(is_cached(c, 3));
	cache_data_get_stats(c, &st);
	CHECK_INT(st.evictions, 1);
	CHECK(!is_cached(c, 1));
	cache_data_get_stats(c, &st);
	CHECK(st.bytes <= st.budget);
	cache_data_free(c);
}

static void test_data_evicted_block_outlives_reader(void)
{
	struct waiter_rec r;
	enum cache_acquire_result res;
	struct cache_block *held;
	struct cache_data *c;

	CHECK_INT(cache_data_new(100, &c), 0);
	fill_block(c, 0);
	rec_init(&r, c);
	cache_data_acquire(c, "obj", "E", 0, 100, &r.w, &held, &res);
	CHECK_INT(res, CACHE_HIT);
	fill_block(c, 1); /* evicts block 0 while we hold it */
	CHECK(((const unsigned char *)cache_block_data(held))[99] == 0);
	cache_block_unref(c, held);
	CHECK(!is_cached(c, 0));
	cache_data_free(c);
}

/* The arena hands out slots that fit, never overlap, and keep what was
 * written; freed memory is kept within the budget and reused. */
static void test_arena_slots(void)
{
	enum { N = 300 };
	static const size_t sizes[] = { 64 << 10,  65 << 10,	  110 << 10,
					1 << 20,   (1 << 20) + 1, 4 << 20,
					3000 << 10 };
	struct mem_arena_slot slot[N];
	struct mem_arena_stats st;
	struct mem_arena *a;
	unsigned char *p[N];
	size_t len[N];
	unsigned seed = 7;

	CHECK_INT(mem_arena_new(&a), 0);
	mem_arena_set_budget(a, (uint64_t)256 << 20);
	CHECK_INT(mem_arena_slot_size(a, 64 << 10), 64 << 10);
	CHECK(mem_arena_slot_size(a, 110 << 10) >= 110 << 10);
	CHECK(mem_arena_slot_size(a, 110 << 10) <= 124 << 10);
	for (int round = 0; round < 3; round++) {
		for (int i = 0; i < N; i++) {
			len[i] = sizes[(unsigned)(i + round) %
				       (sizeof(sizes) / sizeof(sizes[0]))];
			p[i] = mem_arena_alloc(a, len[i], &slot[i]);
			CHECK(p[i] != NULL);
			CHECK(slot[i].size >= len[i]);
			CHECK_INT(slot[i].size, mem_arena_slot_size(a, len[i]));
			memset(p[i], i & 0xff, len[i]);
		}
		mem_arena_get_stats(a, &st);
		CHECK(st.live_bytes >= (uint64_t)N * (64 << 10));
		for (int i = 0; i < N; i++) { /* nobody wrote over another */
			CHECK(p[i][0] == (i & 0xff));
			CHECK(p[i][len[i] - 1] == (i & 0xff));
		}
		for (int i = N - 1; i > 0; i--) { /* free in random order */
			int j = (int)((seed = seed * 1103515245 + 12345) >>
				      16) %
				(i + 1);
			unsigned char *tp = p[i];
			struct mem_arena_slot ts = slot[i];

			p[i] = p[j];
			slot[i] = slot[j];
			p[j] = tp;
			slot[j] = ts;
		}
		for (int i = 0; i < N; i++)
			mem_arena_free(a, p[i], &slot[i]);
		mem_arena_get_stats(a, &st);
		CHECK_INT(st.live_bytes, 0);
		CHECK(st.kept_bytes <= (uint64_t)64 << 20);
	}
	/* A budget already used up keeps nothing whole. */
	mem_arena_set_budget(a, 1 << 20);
	p[0] = mem_arena_alloc(a, 4 << 20, &slot[0]);
	p[1] = mem_arena_alloc(a, 4 << 20, &slot[1]);
	CHECK(p[0] && p[1]);
	mem_arena_get_stats(a, &st);
	mem_arena_free(a, p[0], &slot[0]);
	mem_arena_free(a, p[1], &slot[1]);
	mem_arena_get_stats(a, &st);
	CHECK_INT(st.live_bytes, 0);
	mem_arena_destroy(a);
}

TU_MAIN(TU_CASE(test_map), TU_CASE(test_listing_sort_dedup),
	TU_CASE(test_meta_listing_ttl), TU_CASE(test_meta_listing_bounds),
	TU_CASE(test_meta_negative), TU_CASE(test_data_share_one_fetch),
	TU_CASE(test_data_error_leaves_cache), TU_CASE(test_data_budget_lru),
	TU_CASE(test_data_evicted_block_outlives_reader),
	TU_CASE(test_arena_slots))
