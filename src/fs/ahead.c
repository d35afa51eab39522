/* fs side of fetching ahead: the disk cache and the prefetch engine are
 * built here from fs_config, and the engine's hooks and its header
 * callback are bound to this fs. */
#include <errno.h>
#include <string.h>

#include "fs_i.h"
#include "prefetch.h"

#define FS_DISK_DEFAULT_BYTES ((uint64_t)4 << 30)

static void hook_opendir(void *ud, fs_ino_t ino, const char *dir,
			 struct cache_listing *listing)
{
	(void)ino;
	prefetch_on_opendir(ud, dir, listing);
}

static void hook_dir_done(void *ud, const char *dir)
{
	prefetch_on_dir_done(ud, dir);
}

static void hook_read(void *ud, fs_ino_t ino, const char *key, const char *etag,
		      uint64_t object_size, uint64_t off, size_t size)
{
	prefetch_on_read(ud, ino, key, etag, object_size, off, size);
}

/* A prefetched object's headers say all a HEAD would: its x-oss-meta-*
 * come for free, and the attributes count as fetched now, if the inode
 * is still that version. */
static void learn_meta(void *ud, const char *key,
		       const struct oss_object_meta *m)
{
	struct fs *fs = ud;
	uint64_t now = fs_now_ms(fs);
	struct fs_inode *in;

	pthread_mutex_lock(&fs->mu);
	in = fs_inode_by_key(fs, key);
	if (in && in->type == CACHE_ENT_FILE && !in->uf &&
	    strcmp(in->etag, m->etag) == 0 && in->attr_ms <= now) {
		in->posix = m->posix;
		in->has_meta = true;
		in->attr_ms = now;
	}
	pthread_mutex_unlock(&fs->mu);
}

static bool kernel_has(void *ud, const char *key, const char *etag)
{
	return fs_kernel_has(ud, key, etag);
}

static int start_prefetch(struct fs *fs, const struct fs_config *cfg)
{
	struct cache_data_stats st;
	struct prefetch_env env;
	struct fs_prefetch_hooks h;
	int err;

	cache_data_get_stats(fs->data, &st);
	memset(&env, 0, sizeof(env));
	env.store = fs->store;
	env.data = fs->data;
	env.budget_bytes = st.budget;
	env.block_bytes = fs->block_bytes;
	env.engine = cfg->engine;
	env.on_meta = learn_meta;
	env.meta_ud = fs;
	env.kernel_has = kernel_has;
	err = prefetch_new(cfg->prefetch, &env, &fs->pf);
	if (err)
		return err;
	h.on_opendir = hook_opendir;
	h.on_read = hook_read;
	h.on_dir_done = hook_dir_done;
	h.ud = fs->pf;
	fs_set_prefetch_hooks(fs, &h);
	return 0;
}

int fs_ahead_init(struct fs *fs, const struct fs_config *cfg)
{
	uint64_t size = cfg->cache_dir_size_bytes ? cfg->cache_dir_size_bytes
						  : FS_DISK_DEFAULT_BYTES;
	int err = 0;

	if (cfg->cache_dir && *cfg->cache_dir) {
		err = cache_disk_new(cfg->cache_dir, size, &fs->disk);
		if (err)
			return err;
		cache_data_set_disk(fs->data, fs->disk);
	}
	if (cfg->prefetch)
		err = start_prefetch(fs, cfg);
	if (err) {
		cache_data_set_disk(fs->data, NULL);
		cache_disk_free(fs->disk);
		fs->disk = NULL;
	}
	return err;
}

void fs_ahead_stop(struct fs *fs)
{
	if (fs->pf)
		prefetch_stop(fs->pf);
}

void fs_ahead_fini(struct fs *fs)
{
	if (fs->pf) {
		fs_set_prefetch_hooks(fs, NULL);
		prefetch_free(fs->pf);
		fs->pf = NULL;
	}
	/* Blocks still in memory hold no reference to the disk cache, but
	 * fill_done would write through it: the data cache goes first. */
}

void fs_ahead_fini_disk(struct fs *fs)
{
	cache_disk_free(fs->disk);
	fs->disk = NULL;
}
