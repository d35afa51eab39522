/* fs: construction, statfs, hooks.  The write path is in write.c and
 * names.c. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fs_i.h"
#include "upload.h"

void fs_config_defaults(struct fs_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	cfg->prefix = "";
	cfg->uid = getuid();
	cfg->gid = getgid();
	cfg->umask = 022;
	cfg->attr_ttl_ms = 60000;
	cfg->dir_ttl_ms = 60000;
	cfg->neg_ttl_ms = 60000;
}

/* "a/b", "/a/b/" and "a/b/" all mean the prefix "a/b/"; "" and "/" mean
 * the whole bucket. */
/* Upload buffers count against the data cache's budget. */
static void charge_data(void *ud, int64_t bytes)
{
	struct cache_data *c = ud;

	if (bytes >= 0)
		cache_data_charge(c, (uint64_t)bytes);
	else
		cache_data_uncharge(c, (uint64_t)-bytes);
}

static char *normalize_prefix(const char *p)
{
	struct buf b;
	size_t n;

	while (p && *p == '/')
		p++;
	if (!p || !*p)
		return str_dup("");
	n = strlen(p);
	while (n && p[n - 1] == '/')
		n--;
	buf_init(&b, 0);
	if (buf_append(&b, p, n) || buf_append(&b, "/", 1)) {
		buf_fini(&b);
		return NULL;
	}
	return buf_steal(&b, NULL);
}

int fs_new(const struct fs_config *cfg, struct oss_store *store,
	   struct fs **out)
{
	struct fs *fs = calloc(1, sizeof(*fs));
	int err = -ENOMEM;

	if (!fs)
		goto fail;
	fs->cfg = *cfg;
	fs->prefix = normalize_prefix(cfg->prefix);
	if (!fs->prefix)
		goto fail_fs;
	fs->cfg.prefix = fs->prefix;
	fs->cfg.cache_dir = NULL; /* not kept: fs_ahead_init uses it */
	fs_count_requests(fs, store);
	fs->block_bytes = cfg->block_size_bytes ? cfg->block_size_bytes
						: FS_DEFAULT_BLOCK_BYTES;
	clock_gettime(CLOCK_REALTIME, &fs->mount_time);
	err = cache_meta_new(NULL, &fs->meta);
	if (err)
		goto fail_prefix;
	err = cache_data_new(cfg->cache_size_bytes, &fs->data);
	if (err)
		goto fail_meta;
	if (cfg->upload)
		upload_mgr_set_charge(cfg->upload, charge_data, fs->data);
	err = fs_ahead_init(fs, cfg);
	if (err)
		goto fail_data;
	err = cache_map_init(&fs->warned, 64);
	if (err)
		goto fail_ahead;
	err = fs_fills_init(fs);
	if (err)
		goto fail_warned;
	err = fs_inode_table_init(fs);
	if (err)
		goto fail_fills;
	pthread_mutex_init(&fs->mu, NULL);
	fs->handles.prev = fs->handles.next = &fs->handles;
	pthread_mutex_init(&fs->io_mu, NULL);
	pthread_cond_init(&fs->io_cv, NULL);
	(void)fs_write_init(fs);
	*out = fs;
	return 0;

fail_fills:
	/* No fill has started: nothing to wait for. */
	cache_map_fini(&fs->fills);
	pthread_cond_destroy(&fs->fill_cv);
fail_warned:
	cache_map_fini(&fs->warned);
fail_ahead:
	fs_ahead_fini(fs);
fail_data:
	cache_data_free(fs->data);
	fs_ahead_fini_disk(fs);
fail_meta:
	cache_meta_free(fs->meta);
fail_prefix:
	free(fs->prefix);
fail_fs:
	free(fs);
fail:
	return err;
}

void fs_handle_add(struct fs *fs, struct fs_hlink *l, uint64_t fh)
{
	pthread_mutex_lock(&fs->mu);
	l->fh = fh;
	l->prev = &fs->handles;
	l->next = fs->handles.next;
	l->next->prev = l;
	fs->handles.next = l;
	pthread_mutex_unlock(&fs->mu);
}

void fs_handle_del(struct fs *fs, struct fs_hlink *l)
{
	pthread_mutex_lock(&fs->mu);
	if (l->next) {
		l->prev->next = l->next;
		l->next->prev = l->prev;
		l->prev = l->next = NULL;
	}
	pthread_mutex_unlock(&fs->mu);
}

void fs_free(struct fs *fs)
{
	struct cache_map_node *n;
	unsigned left = 0;

	if (!fs)
		return;
	fs_fills_fini(fs); /* before the caches its threads write to */
	fs_quiesce(fs);
	/* Handles whose RELEASE never came (lost with the connection at
	 * unmount): released here, while the caches they hold still are. */
	while (fs->handles.next != &fs->handles) {
		fs_release(fs, fs->handles.next->fh);
		left++;
	}
	if (left)
		log_debug("released %u handle(s) the kernel did not", left);
	while ((n = cache_map_any(&fs->warned)) != NULL) {
		cache_map_remove(&fs->warned, n);
		free(n); /* the node is the first member of its struct */
	}
	cache_map_fini(&fs->warned);
	fs_write_fini(fs); /* staged files go on without us */
	fs_inode_table_fini(fs);
	fs_ahead_fini(fs);
	cache_data_free(fs->data);
	fs_ahead_fini_disk(fs);
	cache_meta_free(fs->meta);
	pthread_cond_destroy(&fs->io_cv);
	pthread_mutex_destroy(&fs->io_mu);
	pthread_mutex_destroy(&fs->mu);
	free(fs->prefix);
	free(fs);
}

int fs_statfs(struct fs *fs, fs_ino_t ino, struct statvfs *st)
{
	const uint64_t bsize = 4096;
	const uint64_t total = (uint64_t)1 << 50; /* 1 PiB */

	(void)fs;
	(void)ino;
	/* An object store has no capacity to speak of; large numbers keep
	 * file managers from refusing to copy. */
	memset(st, 0, sizeof(*st));
	st->f_bsize = bsize;
	st->f_frsize = bsize;
	st->f_blocks = total / bsize;
	st->f_bfree = st->f_blocks;
	st->f_bavail = st->f_blocks;
	st->f_files = (fsfilcnt_t)1 << 32;
	st->f_ffree = st->f_files;
	st->f_favail = st->f_files;
	st->f_namemax = FS_NAME_MAX;
	return 0;
}

void fs_set_prefetch_hooks(struct fs *fs, const struct fs_prefetch_hooks *h)
{
	if (h)
		fs->hooks = *h;
	else
		memset(&fs->hooks, 0, sizeof(fs->hooks));
}

void fs_get_stats(struct fs *fs, struct fs_stats *st)
{
	pthread_mutex_lock(&fs->mu);
	*st = fs->st;
	st->next_ino = fs->next_ino;
	pthread_mutex_unlock(&fs->mu);
}
