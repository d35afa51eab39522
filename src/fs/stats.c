/* Observability: requests counted by kind, and the stats file.
 *
 * Every request fs/ and the prefetch engine make goes through a thin
 * oss_store that counts it by kind and forwards it.  The counters, the
 * engine's, the data cache's, the prefetch engine's and the disk cache's
 * are shown as text in a read-only file at the mount root, FS_STATS_NAME,
 * that no listing shows (so cp -r and ls never see it) but that a lookup
 * finds: `cat MOUNT/.ossfs-stats`.  A virtual file rather than an extended
 * attribute because ls -l asks every entry for security.selinux: with a
 * getxattr handler each of those would become a round trip to the
 * daemon, where ENOSYS lets the kernel stop asking once.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "fs_i.h"
#include "http.h"
#include "prefetch.h"

#define CNT(fs, k) atomic_fetch_add(&(fs)->req[k], 1)
#define REAL(impl) (((struct fs *)(impl))->real_store)

static int c_head(void *impl, const char *key, struct oss_object_meta *out,
		  struct oss_error *err)
{
	CNT((struct fs *)impl, FS_REQ_HEAD);
	return REAL(impl)->ops->head(REAL(impl)->impl, key, out, err);
}

static int c_list(void *impl, const struct oss_list_params *p,
		  struct oss_list_page *out, struct oss_error *err)
{
	CNT((struct fs *)impl, FS_REQ_LIST);
	return REAL(impl)->ops->list(REAL(impl)->impl, p, out, err);
}

static int c_get_async(void *impl, const struct oss_get_params *p,
		       oss_get_cb cb, void *ud)
{
	CNT((struct fs *)impl, FS_REQ_GET);
	return REAL(impl)->ops->get_async(REAL(impl)->impl, p, cb, ud);
}

static int c_put(void *impl, struct oss_put_params *p, struct oss_error *err)
{
	CNT((struct fs *)impl, FS_REQ_PUT);
	return REAL(impl)->ops->put(REAL(impl)->impl, p, err);
}

static int c_copy(void *impl, const char *src_key, const char *dst_key,
		  const struct oss_posix_meta *posix, const char *content_type,
		  struct oss_error *err)
{
	CNT((struct fs *)impl, FS_REQ_COPY);
	return REAL(impl)->ops->copy(REAL(impl)->impl, src_key, dst_key, posix,
				     content_type, err);
}

static int c_del(void *impl, const char *key, struct oss_error *err)
{
	CNT((struct fs *)impl, FS_REQ_DELETE);
	return REAL(impl)->ops->del(REAL(impl)->impl, key, err);
}

static int c_del_multi(void *impl, const char *const *keys, size_t n,
		       struct oss_error *err)
{
	CNT((struct fs *)impl, FS_REQ_DELETE);
	return REAL(impl)->ops->del_multi(REAL(impl)->impl, keys, n, err);
}

static int c_mp_init(void *impl, const char *key, const char *content_type,
		     const struct oss_posix_meta *posix, char **upload_id,
		     struct oss_error *err)
{
	CNT((struct fs *)impl, FS_REQ_MULTIPART);
	return REAL(impl)->ops->mp_init(REAL(impl)->impl, key, content_type,
					posix, upload_id, err);
}

static int c_mp_upload_part(void *impl, const char *key, const char *upload_id,
			    int part_number, const void *data, int fd,
			    off_t fd_offset, uint64_t len, char *etag_out,
			    size_t etag_size, struct oss_error *err)
{
	CNT((struct fs *)impl, FS_REQ_MULTIPART);
	return REAL(impl)->ops->mp_upload_part(REAL(impl)->impl, key, upload_id,
					       part_number, data, fd, fd_offset,
					       len, etag_out, etag_size, err);
}

static int c_mp_upload_part_copy(void *impl, const char *src_key,
				 const char *key, const char *upload_id,
				 int part_number, uint64_t src_offset,
				 uint64_t len, char *etag_out, size_t etag_size,
				 struct oss_error *err)
{
	CNT((struct fs *)impl, FS_REQ_MULTIPART);
	return REAL(impl)->ops->mp_upload_part_copy(
		REAL(impl)->impl, src_key, key, upload_id, part_number,
		src_offset, len, etag_out, etag_size, err);
}

static int c_mp_complete(void *impl, const char *key, const char *upload_id,
			 const struct oss_part *parts, size_t n,
			 struct oss_error *err)
{
	CNT((struct fs *)impl, FS_REQ_MULTIPART);
	return REAL(impl)->ops->mp_complete(REAL(impl)->impl, key, upload_id,
					    parts, n, err);
}

static int c_mp_abort(void *impl, const char *key, const char *upload_id,
		      struct oss_error *err)
{
	CNT((struct fs *)impl, FS_REQ_MULTIPART);
	return REAL(impl)->ops->mp_abort(REAL(impl)->impl, key, upload_id, err);
}

static int c_put_symlink(void *impl, const char *key, const char *target,
			 const struct oss_posix_meta *posix,
			 struct oss_error *err)
{
	CNT((struct fs *)impl, FS_REQ_SYMLINK);
	return REAL(impl)->ops->put_symlink(REAL(impl)->impl, key, target,
					    posix, err);
}

static int c_get_symlink(void *impl, const char *key, char **target,
			 struct oss_error *err)
{
	CNT((struct fs *)impl, FS_REQ_SYMLINK);
	return REAL(impl)->ops->get_symlink(REAL(impl)->impl, key, target, err);
}

static int c_get_symlink_meta(void *impl, const char *key,
			      struct oss_object_meta *out,
			      struct oss_error *err)
{
	if (!REAL(impl)->ops->get_symlink_meta)
		return -ENOSYS;
	CNT((struct fs *)impl, FS_REQ_SYMLINK);
	return REAL(impl)->ops->get_symlink_meta(REAL(impl)->impl, key, out,
						 err);
}

static int c_probe(void *impl, struct oss_error *err)
{
	CNT((struct fs *)impl, FS_REQ_OTHER);
	return REAL(impl)->ops->probe(REAL(impl)->impl, err);
}

static const struct oss_store_ops counting_ops = {
	.head = c_head,
	.list = c_list,
	.get_async = c_get_async,
	.put = c_put,
	.copy = c_copy,
	.del = c_del,
	.del_multi = c_del_multi,
	.mp_init = c_mp_init,
	.mp_upload_part = c_mp_upload_part,
	.mp_upload_part_copy = c_mp_upload_part_copy,
	.mp_complete = c_mp_complete,
	.mp_abort = c_mp_abort,
	.put_symlink = c_put_symlink,
	.get_symlink = c_get_symlink,
	.get_symlink_meta = c_get_symlink_meta,
	.probe = c_probe,
	.destroy = NULL, /* the real store belongs to the caller */
};

void fs_count_requests(struct fs *fs, struct oss_store *real)
{
	fs->real_store = real;
	fs->counted.ops = &counting_ops;
	fs->counted.impl = fs;
	fs->store = &fs->counted;
}

/* ---- the stats file ------------------------------------------------------
 */

bool fs_stats_lookup(struct fs *fs, fs_ino_t parent, const char *name,
		     struct fs_entry *e)
{
	if (parent != FS_ROOT_INO || strcmp(name, FS_STATS_NAME) != 0)
		return false;
	memset(e, 0, sizeof(*e));
	e->ino = FS_STATS_INO;
	e->generation = 1;
	fs_stats_attr(fs, &e->attr);
	return true; /* timeouts 0: always asked again */
}

void fs_stats_attr(struct fs *fs, struct stat *st)
{
	memset(st, 0, sizeof(*st));
	st->st_ino = FS_STATS_INO;
	st->st_mode = S_IFREG | 0444;
	st->st_nlink = 1;
	st->st_uid = fs->cfg.uid;
	st->st_gid = fs->cfg.gid;
	/* More than the text will ever be: the kernel reads until a short
	 * read, and the file is never cached (no keep_cache). */
	st->st_size = FS_STATS_MAX;
	st->st_blksize = 4096;
	clock_gettime(CLOCK_REALTIME, &st->st_mtim);
	st->st_atim = st->st_ctim = st->st_mtim;
}

#define LINE(b, name, v) \
	buf_appendf(b, "%-28s %" PRIu64 "\n", name, (uint64_t)(v))

static void text_requests(struct fs *fs, struct buf *b)
{
	static const char *const names[FS_REQ_COUNT] = {
		"requests.get",	      "requests.head",	  "requests.list",
		"requests.put",	      "requests.copy",	  "requests.delete",
		"requests.multipart", "requests.symlink", "requests.other",
	};

	for (int i = 0; i < FS_REQ_COUNT; i++)
		LINE(b, names[i], atomic_load(&fs->req[i]));
}

static void text_http(struct fs *fs, struct buf *b)
{
	struct http_engine_stats h;

	if (!fs->cfg.engine)
		return;
	http_engine_get_stats(fs->cfg.engine, &h);
	LINE(b, "http.attempts", h.requests);
	LINE(b, "http.retries", h.retries);
	LINE(b, "http.failures", h.failures);
	LINE(b, "http.bytes_in", h.bytes_in);
	LINE(b, "http.bytes_out", h.bytes_out);
	LINE(b, "http.in_flight", h.in_flight);
	LINE(b, "http.peak_in_flight", h.peak_in_flight);
	LINE(b, "http.queued", h.queued);
}

static void text_cache(struct fs *fs, struct buf *b)
{
	static const char *const cls[CACHE_CLASS_COUNT] = { "demand",
							    "readahead",
							    "prefetch" };
	struct cache_data_stats c;
	char name[64];

	cache_data_get_stats(fs->data, &c);
	LINE(b, "memory.budget", c.budget);
	LINE(b, "memory.used", c.bytes);
	LINE(b, "memory.peak", c.peak_bytes);
	LINE(b, "memory.charged", c.charged_bytes);
	LINE(b, "memory.kept", c.kept_bytes);
	LINE(b, "memory.given_back", c.given_back_bytes);
	LINE(b, "cache.retired_bytes", c.retired_bytes);
	LINE(b, "cache.blocks", c.blocks);
	LINE(b, "cache.hits", c.hits);
	LINE(b, "cache.waits", c.waits);
	LINE(b, "cache.misses", c.misses);
	LINE(b, "cache.evictions", c.evictions);
	LINE(b, "cache.refused", c.refused);
	LINE(b, "cache.disk_hits", c.disk_hits);
	for (int i = 0; i < CACHE_CLASS_COUNT; i++) {
		snprintf(name, sizeof(name), "%s.fetched_bytes", cls[i]);
		LINE(b, name, c.fetched_bytes[i]);
		if (i == CACHE_CLASS_DEMAND)
			continue;
		snprintf(name, sizeof(name), "%s.used_bytes", cls[i]);
		LINE(b, name, c.used_bytes[i]);
		snprintf(name, sizeof(name), "%s.evicted_unused_bytes", cls[i]);
		LINE(b, name, c.evicted_unused_bytes[i]);
		snprintf(name, sizeof(name), "%s.unused_bytes", cls[i]);
		LINE(b, name, c.unused_bytes[i]);
	}
}

static void text_prefetch(struct fs *fs, struct buf *b)
{
	struct prefetch_stats p;

	if (!fs->pf)
		return;
	prefetch_get_stats(fs->pf, &p);
	LINE(b, "prefetch.dirs_opened", p.dirs_opened);
	LINE(b, "prefetch.dirs_followed", p.dirs_followed);
	LINE(b, "prefetch.files_started", p.files_started);
	LINE(b, "prefetch.files_cached", p.files_cached);
	LINE(b, "prefetch.files_in_kernel", p.files_in_kernel);
	LINE(b, "prefetch.files_read", p.files_read);
	LINE(b, "prefetch.files_read_early", p.files_read_early);
	LINE(b, "prefetch.backoff", p.backoff);
	LINE(b, "readahead.streams", p.streams);
	LINE(b, "readahead.ranges_started", p.ranges_started);
	LINE(b, "readahead.fills_started", p.fills_started);
	LINE(b, "prefetch.refused", p.refused);
	LINE(b, "prefetch.errors", p.errors);
	LINE(b, "prefetch.in_flight", p.inflight);
	LINE(b, "prefetch.peak_in_flight", p.peak_inflight);
}

static void text_disk(struct fs *fs, struct buf *b)
{
	struct cache_disk_stats d;

	if (!fs->disk)
		return;
	cache_disk_get_stats(fs->disk, &d);
	LINE(b, "disk.bytes", d.bytes);
	LINE(b, "disk.limit", d.limit);
	LINE(b, "disk.files", d.files);
	LINE(b, "disk.hits", d.hits);
	LINE(b, "disk.misses", d.misses);
	LINE(b, "disk.writes", d.writes);
	LINE(b, "disk.write_drops", d.write_drops);
	LINE(b, "disk.evicted_files", d.evicted_files);
	LINE(b, "disk.evicted_bytes", d.evicted_bytes);
}

int fs_stats_text(struct fs *fs, struct buf *b)
{
	struct fs_stats st;

	fs_get_stats(fs, &st);
	text_requests(fs, b);
	LINE(b, "reads.gets_issued", st.gets_issued);
	LINE(b, "files.open", st.open_files);
	LINE(b, "inodes", st.inodes);
	text_http(fs, b);
	text_cache(fs, b);
	text_prefetch(fs, b);
	text_disk(fs, b);
	return b->len ? 0 : -ENOMEM;
}
