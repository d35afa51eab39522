/* cache_disk: data blocks kept in files under cache_dir, across mounts.
 *
 * Layout.  DIR/xx/HHHHHHHHHHHHHHHH.blk, where H is a 64-bit hash of
 * (key, ETag, index) and xx its low byte (256 subdirectories keep any
 * one directory small).  Each file starts with a header that repeats
 * what it holds:
 *
 *   "OSSFSBK1"  u32 key_len  u32 etag_len  u64 index  u64 data_len
 *   key bytes   etag bytes   data
 *
 * A read checks all of it, so a hash collision or a file from another
 * object version is a miss, never wrong bytes.  Files are written as
 * .tmp and renamed, so a crash leaves either the whole block or nothing;
 * left-over .tmp files are deleted at start-up.
 *
 * The index.  Start-up scans the directory and keeps, per file, its hash
 * and size on an LRU list ordered by modification time (reads bump an
 * entry in memory only: rewriting mtimes would cost a syscall per hit).
 * The bound counts file sizes; room is made before a file is written, so
 * the sum never exceeds cache_dir_size even for a moment.
 *
 * Writes.  cache_disk_put copies the block into a queue bounded in bytes
 * (DISK_QUEUE_BYTES; a block that does not fit is not kept) and a writer
 * thread does the I/O, so the I/O thread that completed the GET never
 * waits for the disk.  Reads are synchronous: they are local and a FUSE
 * worker may wait for them.
 *
 * LOCK ORDERING: cache_data's mu, then mu here.  mu is never held across
 * file I/O except the unlinks of eviction, which are quick.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "base.h"
#include "cache.h"

#define DISK_MAGIC	 "OSSFSBK1"
#define DISK_MAGIC_LEN	 8
#define DISK_HDR_LEN	 (DISK_MAGIC_LEN + 4 + 4 + 8 + 8)
#define DISK_QUEUE_BYTES ((size_t)32 << 20)
#define DISK_PATH_MAX	 4096

struct disk_ent {
	struct cache_map_node node;
	struct cache_link lru;
	uint64_t hash;
	uint64_t size; /* file bytes, header included */
};

struct disk_job {
	struct disk_job *next;
	uint64_t hash;
	uint64_t index;
	char *key, *etag;
	size_t len;
	char data[];
};

struct cache_disk {
	char *dir;
	uint64_t limit;
	pthread_mutex_t mu;
	pthread_cond_t cv;	      /* a job queued, or stop */
	pthread_cond_t idle_cv;	      /* the queue drained */
	struct cache_map index;	      /* guarded by: mu */
	struct cache_link lru;	      /* guarded by: mu; next = newest */
	struct disk_job *head, *tail; /* guarded by: mu */
	size_t queued_bytes;	      /* guarded by: mu */
	bool writing;		      /* guarded by: mu */
	bool stop;		      /* guarded by: mu */
	pthread_t writer;
	struct cache_disk_stats st; /* guarded by: mu */
};

static uint64_t block_hash(const char *key, const char *etag, uint64_t index)
{
	uint64_t h = cache_hash_bytes(key, strlen(key) + 1, index);

	return cache_hash_bytes(etag, strlen(etag), h);
}

static bool ent_eq(const struct cache_map_node *n, const void *key)
{
	return CACHE_CONTAINER_OF(n, struct disk_ent, node)->hash ==
	       *(const uint64_t *)key;
}

static struct disk_ent *ent_find(struct cache_disk *d, uint64_t hash)
{
	struct cache_map_node *n =
		cache_map_find(&d->index, hash, ent_eq, &hash);

	return n ? CACHE_CONTAINER_OF(n, struct disk_ent, node) : NULL;
}

static void block_path(const struct cache_disk *d, uint64_t hash,
		       const char *suffix, char *out, size_t size)
{
	snprintf(out, size, "%s/%02x/%016" PRIx64 "%s", d->dir,
		 (unsigned)(hash & 0xff), hash, suffix);
}

/* Drop e from the index and its file from disk.  Caller holds mu. */
static void ent_remove(struct cache_disk *d, struct disk_ent *e, bool evicted)
{
	char path[DISK_PATH_MAX];

	block_path(d, e->hash, ".blk", path, sizeof(path));
	unlink(path);
	cache_map_remove(&d->index, &e->node);
	cache_link_remove(&e->lru);
	d->st.bytes -= e->size;
	d->st.files--;
	if (evicted) {
		d->st.evicted_files++;
		d->st.evicted_bytes += e->size;
	}
	free(e);
}

/* Evict least recently used files until need more bytes fit.  Caller
 * holds mu.  Returns the number of files evicted. */
static uint64_t make_room(struct cache_disk *d, uint64_t need)
{
	uint64_t n = 0;

	while (d->st.bytes + need > d->limit && d->lru.prev != &d->lru) {
		ent_remove(
			d,
			CACHE_CONTAINER_OF(d->lru.prev, struct disk_ent, lru),
			true);
		n++;
	}
	return n;
}

static int ent_add(struct cache_disk *d, uint64_t hash, uint64_t size)
{
	struct disk_ent *e = calloc(1, sizeof(*e));

	if (!e)
		return -ENOMEM;
	e->hash = hash;
	e->size = size;
	cache_map_insert(&d->index, &e->node, hash);
	cache_link_front(&d->lru, &e->lru);
	d->st.bytes += size;
	d->st.files++;
	return 0;
}

/* ---- start-up scan --------------------------------------------------------
 */

struct scanned {
	uint64_t hash, size;
	struct timespec mtime;
};

static int by_mtime(const void *a, const void *b)
{
	const struct scanned *x = a, *y = b;

	if (x->mtime.tv_sec != y->mtime.tv_sec)
		return x->mtime.tv_sec < y->mtime.tv_sec ? -1 : 1;
	if (x->mtime.tv_nsec != y->mtime.tv_nsec)
		return x->mtime.tv_nsec < y->mtime.tv_nsec ? -1 : 1;
	return 0;
}

/* One subdirectory: collect .blk files, delete .tmp left-overs. */
static int scan_sub(const char *sub, struct scanned **v, size_t *n, size_t *cap)
{
	char path[DISK_PATH_MAX];
	struct dirent *de;
	struct stat st;
	DIR *dp = opendir(sub);
	uint64_t h;

	if (!dp)
		return errno == ENOENT ? 0 : -errno;
	while ((de = readdir(dp)) != NULL) {
		char hex[17];

		if (snprintf(path, sizeof(path), "%s/%s", sub, de->d_name) >=
		    (int)sizeof(path))
			continue;
		if (str_has_suffix(de->d_name, ".tmp")) {
			unlink(path);
			continue;
		}
		if (strlen(de->d_name) != 20 ||
		    !str_has_suffix(de->d_name, ".blk"))
			continue;
		memcpy(hex, de->d_name, 16);
		hex[16] = '\0';
		if (str_to_u64(hex, 16, &h) || stat(path, &st) ||
		    !S_ISREG(st.st_mode))
			continue;
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 256;
			struct scanned *nv = realloc(*v, nc * sizeof(**v));

			if (!nv) {
				closedir(dp);
				return -ENOMEM;
			}
			*v = nv;
			*cap = nc;
		}
		(*v)[(*n)++] =
			(struct scanned){ h, (uint64_t)st.st_size, st.st_mtim };
	}
	closedir(dp);
	return 0;
}

static int scan(struct cache_disk *d)
{
	char sub[DISK_PATH_MAX];
	struct scanned *v = NULL;
	size_t n = 0, cap = 0;
	int err = 0;

	for (unsigned i = 0; i < 256 && !err; i++) {
		snprintf(sub, sizeof(sub), "%s/%02x", d->dir, i);
		if (mkdir(sub, 0700) != 0 && errno != EEXIST)
			err = -errno;
		if (!err)
			err = scan_sub(sub, &v, &n, &cap);
	}
	if (!err && n)
		qsort(v, n, sizeof(*v), by_mtime);
	/* Oldest first, so the newest ends up at the front. */
	for (size_t i = 0; i < n && !err; i++)
		if (!ent_find(d, v[i].hash))
			err = ent_add(d, v[i].hash, v[i].size);
	free(v);
	if (!err && make_room(d, 0))
		log_info("disk cache %s: over its size at start-up, evicted "
			 "%" PRIu64 " bytes",
			 d->dir, d->st.evicted_bytes);
	return err;
}

/* ---- writing ----------------------------------------------------------------
 */

static int write_all(int fd, const void *p, size_t len)
{
	const char *c = p;

	while (len) {
		ssize_t n = write(fd, c, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return n < 0 ? -errno : -EIO;
		c += n;
		len -= (size_t)n;
	}
	return 0;
}

static void put_u32(unsigned char *p, uint32_t v)
{
	for (int i = 0; i < 4; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static void put_u64(unsigned char *p, uint64_t v)
{
	for (int i = 0; i < 8; i++)
		p[i] = (unsigned char)(v >> (8 * i));
}

static uint64_t get_u64(const unsigned char *p, int bytes)
{
	uint64_t v = 0;

	for (int i = bytes - 1; i >= 0; i--)
		v = v << 8 | p[i];
	return v;
}

static void header(unsigned char *h, const struct disk_job *j)
{
	memcpy(h, DISK_MAGIC, DISK_MAGIC_LEN);
	put_u32(h + 8, (uint32_t)strlen(j->key));
	put_u32(h + 12, (uint32_t)strlen(j->etag));
	put_u64(h + 16, j->index);
	put_u64(h + 24, j->len);
}

static int write_file(struct cache_disk *d, const struct disk_job *j)
{
	char tmp[DISK_PATH_MAX], path[DISK_PATH_MAX];
	unsigned char h[DISK_HDR_LEN];
	int fd, err;

	block_path(d, j->hash, ".tmp", tmp, sizeof(tmp));
	block_path(d, j->hash, ".blk", path, sizeof(path));
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0)
		return -errno;
	header(h, j);
	err = write_all(fd, h, sizeof(h));
	if (!err)
		err = write_all(fd, j->key, strlen(j->key));
	if (!err)
		err = write_all(fd, j->etag, strlen(j->etag));
	if (!err)
		err = write_all(fd, j->data, j->len);
	if (close(fd) != 0 && !err)
		err = -errno;
	if (!err && rename(tmp, path) != 0)
		err = -errno;
	if (err)
		unlink(tmp);
	return err;
}

/* Reserve room, write, and index one block.  Called without mu. */
static void do_job(struct cache_disk *d, const struct disk_job *j)
{
	uint64_t size =
		DISK_HDR_LEN + strlen(j->key) + strlen(j->etag) + j->len;
	struct disk_ent *old;
	uint64_t evicted, before, after, step;
	int err;

	pthread_mutex_lock(&d->mu);
	old = ent_find(d, j->hash);
	if (old)
		ent_remove(d, old, false);
	before = d->st.evicted_bytes;
	evicted = size <= d->limit ? make_room(d, size) : 0;
	after = d->st.evicted_bytes;
	if (size > d->limit) {
		d->st.write_drops++;
		pthread_mutex_unlock(&d->mu);
		return;
	}
	/* Counted before the write so that concurrent readers' view and
	 * the bound agree; undone when the write fails. */
	d->st.bytes += size;
	pthread_mutex_unlock(&d->mu);
	/* Said once per tenth of the bound evicted, not once per block. */
	step = d->limit / 10 + 1;
	if (evicted && before / step != after / step)
		log_info("disk cache %s: %" PRIu64 " bytes evicted so far to "
			 "stay under %" PRIu64,
			 d->dir, after, d->limit);
	err = write_file(d, j);
	pthread_mutex_lock(&d->mu);
	d->st.bytes -= size;
	if (err || ent_add(d, j->hash, size)) {
		d->st.write_drops++;
		if (err)
			log_debug("disk cache write failed: %s",
				  strerror(-err));
	} else {
		d->st.writes++;
	}
	pthread_mutex_unlock(&d->mu);
}

static void *writer_main(void *arg)
{
	struct cache_disk *d = arg;
	struct disk_job *j;

	pthread_mutex_lock(&d->mu);
	for (;;) {
		while (!d->head && !d->stop)
			pthread_cond_wait(&d->cv, &d->mu);
		if (!d->head)
			break;
		j = d->head;
		d->head = j->next;
		if (!d->head)
			d->tail = NULL;
		d->writing = true;
		pthread_mutex_unlock(&d->mu);
		do_job(d, j);
		pthread_mutex_lock(&d->mu);
		d->writing = false;
		d->queued_bytes -= j->len;
		free(j);
		if (!d->head)
			pthread_cond_broadcast(&d->idle_cv);
	}
	pthread_mutex_unlock(&d->mu);
	return NULL;
}

/* ---- the interface ---------------------------------------------------------
 */

int cache_disk_new(const char *dir, uint64_t limit_bytes,
		   struct cache_disk **out)
{
	struct cache_disk *d = calloc(1, sizeof(*d));
	int err = -ENOMEM;

	if (!d)
		goto fail;
	d->dir = str_dup(dir);
	if (!d->dir)
		goto fail_d;
	err = cache_map_init(&d->index, 1024);
	if (err)
		goto fail_dir;
	d->limit = d->st.limit = limit_bytes;
	cache_link_init(&d->lru);
	pthread_mutex_init(&d->mu, NULL);
	pthread_cond_init(&d->cv, NULL);
	pthread_cond_init(&d->idle_cv, NULL);
	err = mkdir(dir, 0700) != 0 && errno != EEXIST ? -errno : 0;
	if (!err)
		err = scan(d);
	if (!err)
		err = -pthread_create(&d->writer, NULL, writer_main, d);
	if (err)
		goto fail_index;
	*out = d;
	return 0;

fail_index:
	while (d->lru.next != &d->lru) {
		struct disk_ent *e =
			CACHE_CONTAINER_OF(d->lru.next, struct disk_ent, lru);

		cache_link_remove(&e->lru);
		free(e);
	}
	cache_map_fini(&d->index);
	pthread_cond_destroy(&d->idle_cv);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
fail_dir:
	free(d->dir);
fail_d:
	free(d);
fail:
	return err;
}

void cache_disk_free(struct cache_disk *d)
{
	if (!d)
		return;
	pthread_mutex_lock(&d->mu);
	d->stop = true;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	pthread_join(d->writer, NULL);
	while (d->lru.next != &d->lru) {
		struct disk_ent *e =
			CACHE_CONTAINER_OF(d->lru.next, struct disk_ent, lru);

		cache_link_remove(&e->lru);
		free(e);
	}
	cache_map_fini(&d->index);
	pthread_cond_destroy(&d->idle_cv);
	pthread_cond_destroy(&d->cv);
	pthread_mutex_destroy(&d->mu);
	free(d->dir);
	free(d);
}

bool cache_disk_has(struct cache_disk *d, const char *key, const char *etag,
		    uint64_t index)
{
	uint64_t h = block_hash(key, etag, index);
	bool found;

	pthread_mutex_lock(&d->mu);
	found = ent_find(d, h) != NULL;
	pthread_mutex_unlock(&d->mu);
	return found;
}

static int read_exact(int fd, void *buf, size_t len, off_t off)
{
	char *p = buf;

	while (len) {
		ssize_t n = pread(fd, p, len, off);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return -EIO;
		p += n;
		len -= (size_t)n;
		off += n;
	}
	return 0;
}

/* Does the file's header name exactly this block? */
static bool header_matches(int fd, const char *key, const char *etag,
			   uint64_t index, size_t len)
{
	size_t klen = strlen(key), elen = strlen(etag);
	unsigned char h[DISK_HDR_LEN];
	char *names;
	bool ok;

	if (read_exact(fd, h, sizeof(h), 0) ||
	    memcmp(h, DISK_MAGIC, DISK_MAGIC_LEN) != 0 ||
	    get_u64(h + 8, 4) != klen || get_u64(h + 12, 4) != elen ||
	    get_u64(h + 16, 8) != index || get_u64(h + 24, 8) != len)
		return false;
	names = malloc(klen + elen + 1);
	if (!names)
		return false;
	ok = read_exact(fd, names, klen + elen, DISK_HDR_LEN) == 0 &&
	     memcmp(names, key, klen) == 0 &&
	     memcmp(names + klen, etag, elen) == 0;
	free(names);
	return ok;
}

int cache_disk_get(struct cache_disk *d, const char *key, const char *etag,
		   uint64_t index, void *buf, size_t len)
{
	uint64_t h = block_hash(key, etag, index);
	char path[DISK_PATH_MAX];
	struct disk_ent *e;
	int fd, err = -ENOENT;

	pthread_mutex_lock(&d->mu);
	e = ent_find(d, h);
	if (e)
		cache_link_move_front(&d->lru, &e->lru);
	pthread_mutex_unlock(&d->mu);
	if (!e)
		goto out;
	block_path(d, h, ".blk", path, sizeof(path));
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		goto out;
	if (header_matches(fd, key, etag, index, len) &&
	    read_exact(fd, buf, len,
		       (off_t)(DISK_HDR_LEN + strlen(key) + strlen(etag))) == 0)
		err = 0;
	close(fd);
out:
	pthread_mutex_lock(&d->mu);
	if (err)
		d->st.misses++;
	else
		d->st.hits++;
	pthread_mutex_unlock(&d->mu);
	return err;
}

void cache_disk_put(struct cache_disk *d, const char *key, const char *etag,
		    uint64_t index, const void *data, size_t len)
{
	size_t klen = strlen(key), elen = strlen(etag);
	struct disk_job *j = NULL;
	bool room;

	pthread_mutex_lock(&d->mu);
	room = !d->stop && d->queued_bytes + len <= DISK_QUEUE_BYTES;
	if (room)
		d->queued_bytes += len; /* reserved before the copy */
	pthread_mutex_unlock(&d->mu);
	if (!room)
		goto drop;
	j = malloc(sizeof(*j) + len + klen + elen + 2);
	if (!j)
		goto unreserve;
	j->next = NULL;
	j->hash = block_hash(key, etag, index);
	j->index = index;
	j->len = len;
	memcpy(j->data, data, len);
	j->key = j->data + len;
	memcpy(j->key, key, klen + 1);
	j->etag = j->key + klen + 1;
	memcpy(j->etag, etag, elen + 1);
	pthread_mutex_lock(&d->mu);
	if (d->tail)
		d->tail->next = j;
	else
		d->head = j;
	d->tail = j;
	pthread_cond_signal(&d->cv);
	pthread_mutex_unlock(&d->mu);
	return;

unreserve:
	pthread_mutex_lock(&d->mu);
	d->queued_bytes -= len;
	pthread_mutex_unlock(&d->mu);
drop:
	pthread_mutex_lock(&d->mu);
	d->st.write_drops++;
	pthread_mutex_unlock(&d->mu);
}

void cache_disk_flush(struct cache_disk *d)
{
	pthread_mutex_lock(&d->mu);
	while (d->head || d->writing)
		pthread_cond_wait(&d->idle_cv, &d->mu);
	pthread_mutex_unlock(&d->mu);
}

void cache_disk_get_stats(struct cache_disk *d, struct cache_disk_stats *st)
{
	pthread_mutex_lock(&d->mu);
	*st = d->st;
	pthread_mutex_unlock(&d->mu);
}
