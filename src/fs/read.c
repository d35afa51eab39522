/* Files: open, the asynchronous read path, release, readlink.
 *
 * A read is cut into the data cache's aligned blocks.  Blocks in the
 * cache are used in place; a missing block is fetched by one ranged GET
 * (foreground priority, If-Match the ETag seen at open) straight into the
 * block's buffer, and readers of a block already on its way wait for that
 * GET instead of starting their own.  The reply is sent by whoever
 * resolves the last block: the FUSE worker itself when everything was
 * cached, otherwise the I/O thread in the GET's completion.  No FUSE
 * worker ever waits for the network here.
 *
 * Behind a sequential reader of a large file (FS_RETIRE_MIN), read-ahead
 * runs it has read to the end leave the data cache once it is
 * FS_RETIRE_LAG past them (the kernel's own read-ahead reads a little out
 * of order): the kernel's page cache keeps what was read, and the memory
 * goes to what is ahead, where reused memory is much cheaper to fill than
 * fresh (see cache/arena.c).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "fs_i.h"
#include "http.h"

#define FS_RETIRE_MIN ((uint64_t)256 << 20)
#define FS_RETIRE_LAG ((uint64_t)16 << 20)
#define FS_BEHIND_MAX 16

struct open_file {
	struct fs_hlink link; /* first: fs_free finds what was not released */
	fs_ino_t ino;
	char *key;
	char etag[FS_ETAG_LEN];
	uint64_t size;		 /* as of the open: reads past it are at EOF */
	char *text;		 /* the stats file: its text as of the open */
	_Atomic uint64_t served; /* bytes handed to the kernel */
	bool was_full;		 /* the kernel held it whole at the open */
	/* Read-ahead runs read to the end, oldest first, one reference
	 * each (files of FS_RETIRE_MIN and more). */
	pthread_mutex_t behind_mu;
	struct cache_block *behind[FS_BEHIND_MAX]; /* guarded by: behind_mu */
	unsigned nbehind;			   /* guarded by: behind_mu */
};

struct read_req;

struct read_slot {
	struct cache_waiter w;
	struct read_req *rq;
	struct cache_block *blk; /* reference owned by the request */
};

struct read_req {
	struct fs *fs;
	struct open_file *h; /* valid until the reply is sent */
	atomic_int refs;     /* the setup's, plus one per block waited for */
	atomic_int err;
	fs_read_cb cb;
	void *ud;
	uint64_t off;
	size_t len;
	uint64_t first; /* index of the first block */
	uint32_t bs;
	unsigned n;
	struct iovec *iov; /* n entries, after slots */
	struct read_slot slots[];
};

/* One GET in flight for one block. */
struct fetch {
	struct fs *fs;
	struct cache_block *blk; /* the fetcher's reference */
	fs_ino_t ino;
	char key[]; /* for the log */
};

/* The stats file: a snapshot of the counters, so that reads at any
 * offset of one open see one consistent text. */
static int open_stats(struct fs *fs, int flags, uint64_t *fh, bool *keep_cache)
{
	struct open_file *h = NULL;
	struct buf b;
	int err = -EACCES;

	buf_init(&b, 0);
	if ((flags & O_ACCMODE) != O_RDONLY)
		goto out;
	err = -ENOMEM;
	h = calloc(1, sizeof(*h));
	if (!h || fs_stats_text(fs, &b) != 0)
		goto out;
	h->ino = FS_STATS_INO;
	h->size = b.len;
	h->text = buf_steal(&b, NULL);
	if (!h->text)
		goto out;
	*keep_cache = false;
	*fh = (uint64_t)(uintptr_t)h;
	fs_handle_add(fs, &h->link, *fh);
	h = NULL;
	err = 0;
out:
	free(h);
	buf_fini(&b);
	return err;
}

int fs_open(struct fs *fs, fs_ino_t ino, int flags, uint64_t *fh,
	    bool *keep_cache)
{
	struct open_file *h = NULL;
	struct fs_inode *in;
	bool staged = false;
	int err = 0;

	if (ino == FS_STATS_INO)
		return open_stats(fs, flags, fh, keep_cache);
	pthread_mutex_lock(&fs->mu);
	in = fs_inode_get(fs, ino);
	if (!in)
		err = -ESTALE;
	else if ((staged = fs_open_needs_staging(fs, in, flags)))
		err = 0; /* write.c decides */
	else if (in->type == CACHE_ENT_DIR)
		err = -EISDIR;
	else if (in->type == CACHE_ENT_SYMLINK)
		err = -ELOOP;
	else
		in->open_count++; /* pins in while we revalidate */
	pthread_mutex_unlock(&fs->mu);
	if (staged)
		return fs_staged_open(fs, ino, flags, fh, keep_cache);
	if (err)
		return err;
	err = fs_inode_revalidate(fs, in);
	if (!err)
		h = calloc(1, sizeof(*h));
	pthread_mutex_lock(&fs->mu);
	/* A rename may change in->key: read it under mu (names.c). */
	if (h) {
		h->key = str_dup(in->key);
		pthread_mutex_init(&h->behind_mu, NULL);
	}
	if (!err && (!h || !h->key))
		err = -ENOMEM;
	if (err) {
		in->open_count--;
		fs_inode_maybe_free(fs, in);
	} else {
		h->ino = ino;
		h->size = in->size;
		str_lcpy(h->etag, in->etag, sizeof(h->etag));
		*keep_cache =
			in->opened && strcmp(in->open_etag, in->etag) == 0;
		h->was_full = strcmp(in->full_etag, in->etag) == 0;
		in->opened = true;
		str_lcpy(in->open_etag, in->etag, sizeof(in->open_etag));
		fs->st.open_files++;
	}
	pthread_mutex_unlock(&fs->mu);
	if (err) {
		if (h) {
			free(h->key);
			pthread_mutex_destroy(&h->behind_mu);
		}
		free(h);
		return err;
	}
	*fh = (uint64_t)(uintptr_t)h;
	fs_handle_add(fs, &h->link, *fh);
	return 0;
}

void fs_release(struct fs *fs, uint64_t fh)
{
	struct open_file *h = (struct open_file *)(uintptr_t)fh;
	struct fs_inode *in;

	if (fs_fh_is_staged(fh)) {
		fs_staged_release(fs, fh);
		return;
	}
	if (!h)
		return;
	fs_handle_del(fs, &h->link);
	if (h->text) {
		free(h->text);
		free(h);
		return;
	}
	pthread_mutex_lock(&fs->mu);
	in = fs_inode_get(fs, h->ino);
	if (in && h->size && atomic_load(&h->served) >= h->size &&
	    strcmp(in->open_etag, h->etag) == 0)
		str_lcpy(in->full_etag, h->etag, sizeof(in->full_etag));
	if (in && in->open_count) {
		in->open_count--;
		fs_inode_maybe_free(fs, in);
	}
	fs->st.open_files--;
	pthread_mutex_unlock(&fs->mu);
	/* What is still queued stays cached: the reader stopped short. */
	for (unsigned i = 0; i < h->nbehind; i++)
		cache_block_unref(fs->data, h->behind[i]);
	pthread_mutex_destroy(&h->behind_mu);
	free(h->key);
	free(h);
}

/* ---- completing a read ----------------------------------------------------
 */

/* Gather the bytes of [off, off+len) from the blocks; a short block means
 * the object ended there.  A slot's block may be a run that starts before
 * its index (read-ahead, prefetch): offsets are from the run's start. */
static int gather(struct read_req *rq)
{
	uint64_t pos = rq->off, end = rq->off + rq->len;
	int k = 0;

	for (unsigned i = 0; i < rq->n && pos < end; i++) {
		const struct cache_block *b = rq->slots[i].blk;
		uint64_t bstart = (rq->first + i) * rq->bs;
		uint64_t rstart = cache_block_first(b) * rq->bs;
		uint64_t bend = rstart + cache_block_len(b);

		if (bend > bstart + rq->bs)
			bend = bstart + rq->bs;
		if (pos >= bend)
			break;
		rq->iov[k].iov_base =
			(char *)cache_block_data(b) + (pos - rstart);
		rq->iov[k].iov_len = (bend < end ? bend : end) - pos;
		pos += rq->iov[k].iov_len;
		k++;
		if (bend < bstart + rq->bs)
			break;
	}
	return k;
}

static uint64_t run_end(const struct cache_block *b, uint32_t bs)
{
	return cache_block_first(b) * bs + cache_block_len(b);
}

static void retire_oldest(struct fs *fs, struct open_file *h)
{
	struct cache_block *b = h->behind[0];

	memmove(&h->behind[0], &h->behind[1],
		--h->nbehind * sizeof(h->behind[0]));
	cache_data_retire(fs->data, b);
	cache_block_unref(fs->data, b);
}

/* Before the reply (h may go right after it): queue the read-ahead runs
 * this read finished, retire those the reader is well past. */
static void retire_behind(struct read_req *rq)
{
	struct open_file *h = rq->h;
	uint64_t end = rq->off + rq->len;

	if (h->size < FS_RETIRE_MIN)
		return;
	pthread_mutex_lock(&h->behind_mu);
	for (unsigned i = 0; i < rq->n; i++) {
		struct cache_block *b = rq->slots[i].blk;
		bool queued = false;

		if (!b || cache_block_class(b) != CACHE_CLASS_READAHEAD ||
		    end < run_end(b, rq->bs))
			continue;
		for (unsigned j = 0; j < h->nbehind && !queued; j++)
			queued = h->behind[j] == b;
		if (queued)
			continue;
		if (h->nbehind == FS_BEHIND_MAX)
			retire_oldest(rq->fs, h);
		cache_block_ref(rq->fs->data, b);
		h->behind[h->nbehind++] = b;
	}
	while (h->nbehind &&
	       end >= run_end(h->behind[0], rq->bs) + FS_RETIRE_LAG)
		retire_oldest(rq->fs, h);
	pthread_mutex_unlock(&h->behind_mu);
}

static void read_req_put(struct read_req *rq)
{
	struct fs *fs = rq->fs;
	int err;

	if (atomic_fetch_sub(&rq->refs, 1) != 1)
		return;
	err = atomic_load(&rq->err);
	if (!err)
		retire_behind(rq);
	if (err)
		rq->cb(rq->ud, err, NULL, 0);
	else
		rq->cb(rq->ud, 0, rq->iov, gather(rq));
	for (unsigned i = 0; i < rq->n; i++)
		cache_block_unref(fs->data, rq->slots[i].blk);
	free(rq);
}

static void read_req_fail(struct read_req *rq, int err)
{
	int none = 0;

	atomic_compare_exchange_strong(&rq->err, &none, err);
}

static void slot_ready(struct cache_waiter *w, struct cache_block *b, int err)
{
	struct read_slot *s = CACHE_CONTAINER_OF(w, struct read_slot, w);

	s->blk = b;
	if (err)
		read_req_fail(s->rq, err);
	read_req_put(s->rq);
}

/* ---- fetching a block ------------------------------------------------------
 */

static void gets_done(struct fs *fs)
{
	pthread_mutex_lock(&fs->io_mu);
	if (--fs->gets_inflight == 0)
		pthread_cond_broadcast(&fs->io_cv);
	pthread_mutex_unlock(&fs->io_mu);
}

void fs_quiesce(struct fs *fs)
{
	/* Readers may wait on prefetched blocks too. */
	fs_ahead_stop(fs);
	pthread_mutex_lock(&fs->io_mu);
	while (fs->gets_inflight)
		pthread_cond_wait(&fs->io_cv, &fs->io_mu);
	pthread_mutex_unlock(&fs->io_mu);
}

/* A GET brings the object's headers: fill in metadata a listing could
 * not show, if it is still the same version. */
static void learn_meta(struct fs *fs, fs_ino_t ino,
		       const struct oss_object_meta *m)
{
	const struct oss_posix_meta *p = &m->posix;
	struct fs_inode *in;

	if (!p->has_mode && !p->has_uid && !p->has_gid && !p->has_mtime)
		return;
	pthread_mutex_lock(&fs->mu);
	in = fs_inode_get(fs, ino);
	if (in && !in->has_meta && strcmp(in->etag, m->etag) == 0) {
		in->posix = *p;
		in->has_meta = true;
	}
	pthread_mutex_unlock(&fs->mu);
}

static void fetch_done(const struct oss_get_result *res, void *ud)
{
	struct fetch *f = ud;
	struct fs *fs = f->fs;
	size_t cap = cache_block_cap(f->blk), len = 0;
	void *buf = cache_block_buf(f->blk);

	if (!res->err) {
		len = res->len < cap ? res->len : cap;
		if (res->data && res->data != buf && len)
			memcpy(buf, res->data, len);
		learn_meta(fs, f->ino, &res->meta);
	}
	/* A process waits for these bytes: read(2) can only say EIO or
	 * EACCES, so the log says which object and what the server said. */
	(void)oss_get_log_failure(f->key, res);
	cache_data_fill_done(fs->data, f->blk, res->err, len);
	cache_block_unref(fs->data, f->blk);
	free(f);
	gets_done(fs); /* last touch: fs may be freed right after */
}

static void fetch_start(struct fs *fs, const struct open_file *h,
			struct cache_block *b, uint64_t index)
{
	struct oss_get_params p;
	struct fetch *f = calloc(1, sizeof(*f) + strlen(h->key) + 1);
	int err = -ENOMEM;

	if (!f)
		goto fail;
	f->fs = fs;
	f->blk = b;
	f->ino = h->ino;
	strcpy(f->key, h->key);
	memset(&p, 0, sizeof(p));
	p.key = h->key;
	p.offset = index * fs->block_bytes;
	p.len = cache_block_cap(b);
	p.if_match = h->etag[0] ? h->etag : NULL;
	p.priority = HTTP_PRIO_FOREGROUND; /* a process waits */
	p.dest = cache_block_buf(b);
	p.dest_cap = cache_block_cap(b);
	pthread_mutex_lock(&fs->io_mu);
	fs->gets_inflight++;
	pthread_mutex_unlock(&fs->io_mu);
	pthread_mutex_lock(&fs->mu);
	fs->st.gets_issued++;
	pthread_mutex_unlock(&fs->mu);
	/* No lock held: the store may complete inline. */
	err = oss_get_async(fs->store, &p, fetch_done, f);
	if (!err)
		return;
	free(f);
	gets_done(fs);
fail:
	cache_data_fill_done(fs->data, b, err, 0);
	cache_block_unref(fs->data, b);
}

/* Resolve block i of rq: in place, by waiting, or by fetching it. */
static int read_block(struct fs *fs, const struct open_file *h,
		      struct read_req *rq, unsigned i)
{
	uint64_t index = rq->first + i;
	uint64_t bstart = index * rq->bs;
	size_t blen =
		(size_t)(h->size - bstart < rq->bs ? h->size - bstart : rq->bs);
	struct read_slot *s = &rq->slots[i];
	enum cache_acquire_result res;
	struct cache_block *b;
	int err;

	s->rq = rq;
	s->w.fn = slot_ready;
	atomic_fetch_add(&rq->refs, 1); /* the waiter may run at once */
	err = cache_data_acquire(fs->data, h->key, h->etag, index, blen, &s->w,
				 &b, &res);
	if (err || res == CACHE_HIT) {
		s->blk = err ? NULL : b;
		atomic_fetch_sub(&rq->refs, 1); /* setup's ref remains */
		return err;
	}
	if (res == CACHE_FILL && !cache_data_fill_from_disk(fs->data, b))
		fetch_start(fs, h, b, index);
	else if (res == CACHE_FILL)
		cache_block_unref(fs->data, b); /* the fetcher's */
	return 0;
}

/* From a copy: the reply is written to the kernel, which may then send
 * the release that frees h while this thread is still in the write. */
static int read_stats(const struct open_file *h, uint64_t off, size_t size,
		      fs_read_cb cb, void *ud)
{
	struct iovec v = { NULL, 0 };

	if (off < h->size)
		v.iov_len = h->size - off < size ? h->size - off : size;
	if (v.iov_len) {
		v.iov_base = malloc(v.iov_len);
		if (!v.iov_base)
			return -ENOMEM;
		memcpy(v.iov_base, h->text + off, v.iov_len);
	}
	cb(ud, 0, &v, v.iov_len ? 1 : 0);
	free(v.iov_base);
	return 0;
}

/* The kernel asks for bytes of a file it was thought to hold whole: it
 * dropped them; the next directory prefetch fetches the file again. */
static void kernel_dropped(struct fs *fs, struct open_file *h)
{
	struct fs_inode *in;

	pthread_mutex_lock(&fs->mu);
	in = fs_inode_get(fs, h->ino);
	if (in && in->full_etag[0] && atomic_load(&h->served) == 0)
		in->full_etag[0] = '\0';
	pthread_mutex_unlock(&fs->mu);
}

bool fs_kernel_has(struct fs *fs, const char *key, const char *etag)
{
	struct fs_inode *in;
	bool has;

	pthread_mutex_lock(&fs->mu);
	in = fs_inode_by_key(fs, key);
	has = in && in->type == CACHE_ENT_FILE && !in->uf && etag && etag[0] &&
	      strcmp(in->full_etag, etag) == 0 && strcmp(in->etag, etag) == 0;
	pthread_mutex_unlock(&fs->mu);
	return has;
}

int fs_read(struct fs *fs, uint64_t fh, uint64_t off, size_t size,
	    fs_read_cb cb, void *ud)
{
	struct open_file *h = (struct open_file *)(uintptr_t)fh;
	uint64_t end, first, last;
	struct read_req *rq;
	unsigned n;
	int err;

	if (fs_fh_is_staged(fh))
		return fs_staged_read(fs, fh, off, size, cb, ud);
	if (h->text)
		return read_stats(h, off, size, cb, ud);
	if (fs->hooks.on_read)
		fs->hooks.on_read(fs->hooks.ud, h->ino, h->key, h->etag,
				  h->size, off, size);
	if (off >= h->size || size == 0) {
		cb(ud, 0, NULL, 0); /* at or past EOF: no bytes */
		return 0;
	}
	end = h->size - off < size ? h->size : off + size;
	if (off == 0 && h->was_full)
		kernel_dropped(fs, h);
	atomic_fetch_add(&h->served, end - off);
	first = off / fs->block_bytes;
	last = (end - 1) / fs->block_bytes;
	n = (unsigned)(last - first + 1);
	rq = calloc(1, sizeof(*rq) + n * (sizeof(struct read_slot) +
					  sizeof(struct iovec)));
	if (!rq)
		return -ENOMEM;
	rq->fs = fs;
	rq->h = h;
	atomic_init(&rq->refs, 1);
	atomic_init(&rq->err, 0);
	rq->cb = cb;
	rq->ud = ud;
	rq->off = off;
	rq->len = (size_t)(end - off);
	rq->first = first;
	rq->bs = fs->block_bytes;
	rq->n = n;
	rq->iov = (struct iovec *)(void *)&rq->slots[n];
	for (unsigned i = 0; i < n; i++) {
		err = read_block(fs, h, rq, i);
		if (err) {
			read_req_fail(rq, err);
			break;
		}
	}
	read_req_put(rq);
	return 0;
}

/* ---- symlinks
 * ---------------------------------------------------------------- */

int fs_readlink(struct fs *fs, fs_ino_t ino, char **target)
{
	uint64_t now = fs_now_ms(fs);
	struct oss_error oerr;
	struct fs_inode *in;
	char *t = NULL, *key = NULL;
	char etag[FS_ETAG_LEN] = "";
	int err = 0;

	*target = NULL;
	pthread_mutex_lock(&fs->mu);
	in = fs_inode_get(fs, ino);
	if (!in)
		err = -ESTALE;
	else if (in->type != CACHE_ENT_SYMLINK)
		err = -EINVAL;
	else if (in->link_target &&
		 cache_is_fresh(in->link_ms, now, fs->cfg.attr_ttl_ms))
		t = str_dup(in->link_target);
	else {
		key = str_dup(in->key);
		str_lcpy(etag, in->etag, sizeof(etag));
	}
	pthread_mutex_unlock(&fs->mu);
	if (err || t)
		goto out;
	if (!key) {
		err = -ENOMEM;
		goto out;
	}
	memset(&oerr, 0, sizeof(oerr));
	err = fs->store->ops->get_symlink(fs->store->impl, key, &t, &oerr);
	if (err)
		goto out;
	/* Cached only if the inode is still the version we asked about: a
	 * newer one seen meanwhile (a listing, a rename) keeps its own. */
	pthread_mutex_lock(&fs->mu);
	if (strcmp(in->etag, etag) == 0 && strcmp(in->key, key) == 0) {
		free(in->link_target);
		in->link_target = str_dup(t);
		in->link_ms = now;
	}
	pthread_mutex_unlock(&fs->mu);
out:
	free(key);
	if (!err && !t)
		err = -ENOMEM;
	*target = err ? NULL : t;
	if (err)
		free(t);
	return err;
}
