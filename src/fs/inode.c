/* The inode table: numbers, names, lookup counts and attributes. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs_i.h"

static bool ino_eq(const struct cache_map_node *n, const void *key)
{
	const struct fs_inode *in =
		CACHE_CONTAINER_OF(n, struct fs_inode, by_ino);

	return in->ino == *(const fs_ino_t *)key;
}

static bool key_eq(const struct cache_map_node *n, const void *key)
{
	const struct fs_inode *in =
		CACHE_CONTAINER_OF(n, struct fs_inode, by_key);

	return strcmp(in->key, key) == 0;
}

static uint64_t ino_hash(fs_ino_t ino)
{
	return cache_hash_bytes(&ino, sizeof(ino), 0);
}

struct fs_inode *fs_inode_get(struct fs *fs, fs_ino_t ino)
{
	struct cache_map_node *n =
		cache_map_find(&fs->by_ino, ino_hash(ino), ino_eq, &ino);

	return n ? CACHE_CONTAINER_OF(n, struct fs_inode, by_ino) : NULL;
}

struct fs_inode *fs_inode_by_key(struct fs *fs, const char *key)
{
	struct cache_map_node *n =
		cache_map_find(&fs->by_key, cache_hash_str(key), key_eq, key);

	return n ? CACHE_CONTAINER_OF(n, struct fs_inode, by_key) : NULL;
}

static bool recent_eq(const struct cache_map_node *n, const void *key)
{
	const struct fs_recent *r =
		CACHE_CONTAINER_OF(n, struct fs_recent, node);

	return strcmp(r->key, key) == 0;
}

static void recent_drop_oldest(struct fs *fs)
{
	struct fs_recent *r = fs->recent_old;

	fs->recent_old = r->newer;
	if (!fs->recent_old)
		fs->recent_new = NULL;
	cache_map_remove(&fs->recent, &r->node);
	free(r);
}

/* in is freed while still named: remember its number for its key. */
static void recent_add(struct fs *fs, const struct fs_inode *in)
{
	size_t len = strlen(in->key);
	struct cache_map_node *n = cache_map_find(
		&fs->recent, cache_hash_str(in->key), recent_eq, in->key);
	struct fs_recent *r;

	if (n) {
		/* Known (its number was given back once): again. */
		r = CACHE_CONTAINER_OF(n, struct fs_recent, node);
		r->ino = in->ino;
		r->type = in->type;
		return;
	}
	r = malloc(sizeof(*r) + len + 1);
	if (!r)
		return; /* the next lookup gets a new number: allowed */
	memcpy(r->key, in->key, len + 1);
	r->ino = in->ino;
	r->type = in->type;
	r->newer = NULL;
	if (fs->recent_new)
		fs->recent_new->newer = r;
	else
		fs->recent_old = r;
	fs->recent_new = r;
	cache_map_insert(&fs->recent, &r->node, cache_hash_str(r->key));
	if (fs->recent.n > FS_RECENT_MAX)
		recent_drop_oldest(fs);
}

/* The number key had before it was forgotten, as that type, or a new
 * one.  A remembered entry is only marked used (ino 0): unlinking it
 * from the FIFO would cost a walk. */
static fs_ino_t number_for(struct fs *fs, const char *key,
			   enum cache_ent_type type)
{
	struct cache_map_node *n = cache_map_find(
		&fs->recent, cache_hash_str(key), recent_eq, key);
	struct fs_recent *r =
		n ? CACHE_CONTAINER_OF(n, struct fs_recent, node) : NULL;
	fs_ino_t ino;

	if (!r || !r->ino || r->type != type)
		return fs->next_ino++;
	ino = r->ino;
	r->ino = 0;
	return ino;
}

static struct fs_inode *inode_new(struct fs *fs, fs_ino_t parent,
				  const char *key, enum cache_ent_type type)
{
	struct fs_inode *in = calloc(1, sizeof(*in));

	if (!in)
		return NULL;
	in->key = str_dup(key);
	if (!in->key) {
		free(in);
		return NULL;
	}
	in->ino = number_for(fs, key, type);
	in->parent = parent;
	in->type = type;
	in->mtime = fs->mount_time;
	cache_map_insert(&fs->by_ino, &in->by_ino, ino_hash(in->ino));
	cache_map_insert(&fs->by_key, &in->by_key, cache_hash_str(key));
	in->hashed = true;
	fs->st.inodes++;
	return in;
}

void fs_inode_unhash(struct fs *fs, struct fs_inode *in)
{
	if (!in->hashed)
		return;
	cache_map_remove(&fs->by_key, &in->by_key);
	in->hashed = false;
}

static void inode_destroy(struct fs *fs, struct fs_inode *in)
{
	/* Forgotten, not unlinked or renamed away: the name lives on. */
	if (in->hashed && fs->recent.buckets)
		recent_add(fs, in);
	fs_inode_unhash(fs, in);
	cache_map_remove(&fs->by_ino, &in->by_ino);
	fs->st.inodes--;
	free(in->link_target);
	free(in->key);
	free(in);
}

void fs_inode_maybe_free(struct fs *fs, struct fs_inode *in)
{
	if (in == fs->root || in->nlookup || in->open_count || in->uf)
		return;
	inode_destroy(fs, in);
}

/* Take what the store said, unless what we hold is newer. */
static void inode_apply(struct fs_inode *in, const struct fs_found *f)
{
	bool same_version = strcmp(in->etag, f->etag) == 0;

	if (f->fetched_ms < in->attr_ms)
		return;
	in->size = f->size;
	/* Prefixes carry no time: a directory keeps its marker's mtime. */
	if (f->type != CACHE_ENT_DIR || f->mtime.tv_sec || f->mtime.tv_nsec)
		in->mtime = f->mtime;
	if (f->has_meta) {
		in->posix = f->posix;
		in->has_meta = true;
	} else if (in->has_meta && !same_version) {
		/* A listing cannot show metadata; a new version may not
		 * have any. */
		in->has_meta = false;
	}
	if (!same_version) {
		free(in->link_target);
		in->link_target = NULL;
	}
	str_lcpy(in->etag, f->etag, sizeof(in->etag));
	in->attr_ms = f->fetched_ms;
}

static mode_t type_bits(enum cache_ent_type t)
{
	switch (t) {
	case CACHE_ENT_DIR:
		return S_IFDIR;
	case CACHE_ENT_SYMLINK:
		return S_IFLNK;
	default:
		return S_IFREG;
	}
}

static mode_t default_perm(const struct fs *fs, enum cache_ent_type t)
{
	switch (t) {
	case CACHE_ENT_DIR:
		return 0755 & ~fs->cfg.umask;
	case CACHE_ENT_SYMLINK:
		return 0777;
	default:
		return 0644 & ~fs->cfg.umask;
	}
}

void fs_inode_fill_stat(struct fs *fs, const struct fs_inode *in,
			struct stat *st)
{
	const struct oss_posix_meta *p = in->has_meta ? &in->posix : NULL;

	memset(st, 0, sizeof(*st));
	st->st_ino = in->ino;
	/* The type always comes from what the key is: a stray mode header
	 * must not turn a file into a directory under the kernel's feet. */
	st->st_mode = type_bits(in->type) |
		      (p && p->has_mode && in->type != CACHE_ENT_SYMLINK
			       ? (mode_t)(p->mode & 07777)
			       : default_perm(fs, in->type));
	st->st_nlink = in->type == CACHE_ENT_DIR ? 2 : 1;
	st->st_uid = p && p->has_uid ? (uid_t)p->uid : fs->cfg.uid;
	st->st_gid = p && p->has_gid ? (gid_t)p->gid : fs->cfg.gid;
	st->st_size = in->type == CACHE_ENT_DIR ? 0 : (off_t)in->size;
	st->st_blksize = 4096;
	st->st_blocks = (blkcnt_t)((in->size + 511) / 512);
	if (in->type == CACHE_ENT_DIR)
		st->st_blocks = 0;
	st->st_mtim = p && p->has_mtime ? p->mtime : in->mtime;
	st->st_atim = st->st_mtim;
	st->st_ctim = st->st_mtim;
}

static void entry_fill(struct fs *fs, const struct fs_inode *in,
		       uint64_t now_ms, struct fs_entry *e)
{
	uint64_t attr_ms = in == fs->root ? now_ms : in->attr_ms;

	memset(e, 0, sizeof(*e));
	e->ino = in->ino;
	e->generation = 1;
	fs_inode_fill_stat(fs, in, &e->attr);
	e->attr_timeout_s = (double)cache_remaining_ms(attr_ms, now_ms,
						       fs->cfg.attr_ttl_ms) /
			    1000.0;
	e->entry_timeout_s = (double)cache_remaining_ms(attr_ms, now_ms,
							fs->cfg.dir_ttl_ms) /
			     1000.0;
}

struct fs_inode *fs_inode_enter(struct fs *fs, fs_ino_t parent, const char *key,
				const struct fs_found *f, bool count,
				uint64_t now_ms, struct fs_entry *e)
{
	struct fs_inode *in = fs_inode_by_key(fs, key);

	/* A staged file's attributes are the local ones (write.c). */
	if (in && in->uf) {
		if (count)
			in->nlookup++;
		if (e)
			entry_fill(fs, in, now_ms, e);
		return in;
	}
	if (in && in->type != f->type) {
		/* The kernel cannot change an inode's type: new number. */
		fs_inode_unhash(fs, in);
		fs_inode_maybe_free(fs, in);
		in = NULL;
	}
	if (!in) {
		in = inode_new(fs, parent, key, f->type);
		if (!in)
			return NULL;
	}
	inode_apply(in, f);
	if (count)
		in->nlookup++;
	if (e)
		entry_fill(fs, in, now_ms, e);
	return in;
}

int fs_inode_table_init(struct fs *fs)
{
	struct fs_inode *root;
	size_t plen = strlen(fs->prefix);
	int err = -ENOMEM;

	if (cache_map_init(&fs->by_ino, 1024) < 0)
		goto fail;
	if (cache_map_init(&fs->by_key, 1024) < 0)
		goto fail_ino;
	if (cache_map_init(&fs->recent, 1024) < 0)
		goto fail_key;
	root = calloc(1, sizeof(*root));
	if (!root)
		goto fail_recent;
	/* The root's key is its prefix without the '/', for log lines. */
	root->key = str_ndup(fs->prefix, plen ? plen - 1 : 0);
	if (!root->key)
		goto fail_root;
	root->ino = FS_ROOT_INO;
	root->parent = FS_ROOT_INO;
	root->type = CACHE_ENT_DIR;
	root->nlookup = 1;
	root->mtime = fs->mount_time;
	cache_map_insert(&fs->by_ino, &root->by_ino, ino_hash(root->ino));
	fs->root = root;
	fs->next_ino = FS_ROOT_INO + 1;
	fs->st.inodes = 1;
	return 0;

fail_root:
	free(root);
fail_recent:
	cache_map_fini(&fs->recent);
fail_key:
	cache_map_fini(&fs->by_key);
fail_ino:
	cache_map_fini(&fs->by_ino);
fail:
	return err;
}

void fs_inode_table_fini(struct fs *fs)
{
	struct cache_map_node *n;

	cache_map_fini(&fs->recent); /* no more remembering */
	memset(&fs->recent, 0, sizeof(fs->recent));
	while ((n = cache_map_any(&fs->by_ino)) != NULL)
		inode_destroy(fs,
			      CACHE_CONTAINER_OF(n, struct fs_inode, by_ino));
	while (fs->recent_old) {
		struct fs_recent *r = fs->recent_old;

		fs->recent_old = r->newer;
		free(r);
	}
	fs->recent_new = NULL;
	fs->root = NULL;
	cache_map_fini(&fs->by_key);
	cache_map_fini(&fs->by_ino);
}

int fs_dir_prefix(struct fs *fs, const struct fs_inode *dir, struct buf *out)
{
	int err;

	buf_reset(out);
	if (dir == fs->root)
		return buf_append_str(out, fs->prefix);
	err = buf_append_str(out, dir->key);
	if (!err)
		err = buf_append(out, "/", 1);
	return err;
}

/* ---- the operations ------------------------------------------------------ */

static bool name_is_valid(const char *name, int *err)
{
	size_t n = strlen(name);

	*err = -ENOENT;
	if (n == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return false;
	if (n > FS_NAME_MAX) {
		*err = -ENAMETOOLONG;
		return false;
	}
	return strchr(name, '/') == NULL;
}

static void negative_entry(struct fs_entry *e, uint64_t timeout_ms)
{
	memset(e, 0, sizeof(*e));
	e->entry_timeout_s = (double)timeout_ms / 1000.0;
}

/* Answer from the parent's fresh listing: 1 when it answered (*err set),
 * 0 when there is no fresh listing. */
static int lookup_in_listing(struct fs *fs, const struct fs_inode *dir,
			     const char *dirpfx, const char *name,
			     const char *key, uint64_t now, struct fs_entry *e,
			     int *err)
{
	struct cache_listing *l = cache_meta_listing_get(fs->meta, dirpfx, now,
							 fs->cfg.dir_ttl_ms);
	const struct cache_dirent *d;
	struct fs_found f;

	if (!l)
		return 0;
	d = cache_listing_find(l, name);
	if (!d) {
		negative_entry(e, cache_remaining_ms(l->fetched_ms, now,
						     fs->cfg.dir_ttl_ms));
		*err = -ENOENT;
		goto out;
	}
	fs_found_from_dirent(d, l->fetched_ms, &f);
	pthread_mutex_lock(&fs->mu);
	*err = fs_inode_enter(fs, dir->ino, key, &f, true, now, e) ? 0
								   : -ENOMEM;
	pthread_mutex_unlock(&fs->mu);
out:
	cache_listing_unref(l);
	return 1;
}

/* An inode we still hold with fresh attributes answers a re-lookup. */
static bool lookup_in_table(struct fs *fs, const char *key, uint64_t now,
			    struct fs_entry *e)
{
	struct fs_inode *in;
	bool hit = false;

	pthread_mutex_lock(&fs->mu);
	in = fs_inode_by_key(fs, key);
	if (in && cache_is_fresh(in->attr_ms, now, fs->cfg.attr_ttl_ms)) {
		in->nlookup++;
		entry_fill(fs, in, now, e);
		hit = true;
	}
	pthread_mutex_unlock(&fs->mu);
	return hit;
}

static int lookup_child(struct fs *fs, struct fs_inode *dir, const char *name,
			struct fs_entry *e)
{
	uint64_t now = fs_now_ms(fs);
	struct buf dirpfx, key;
	struct fs_found f;
	int err;

	buf_init(&dirpfx, 0);
	buf_init(&key, 0);
	pthread_mutex_lock(&fs->mu); /* a rename may change dir->key */
	err = fs_dir_prefix(fs, dir, &dirpfx);
	pthread_mutex_unlock(&fs->mu);
	if (!err)
		err = buf_append_str(&key, dirpfx.data);
	if (!err)
		err = buf_append_str(&key, name);
	if (err)
		goto out;
	/* Content not stored yet is in no listing. */
	if (fs_staged_lookup(fs, dir->ino, key.data, now, e))
		goto out;
	/* A listing whose metadata is still being read answers after. */
	fs_fill_wait(fs, dirpfx.data);
	if (lookup_in_listing(fs, dir, dirpfx.data, name, key.data, now, e,
			      &err))
		goto out;
	if (lookup_in_table(fs, key.data, now, e))
		goto out;
	if (cache_meta_neg_check(fs->meta, key.data, now, fs->cfg.neg_ttl_ms)) {
		negative_entry(e, fs->cfg.neg_ttl_ms);
		err = -ENOENT;
		goto out;
	}
	err = fs_probe_name(fs, key.data, &f);
	if (err == -ENOENT) {
		cache_meta_neg_add(fs->meta, key.data, f.fetched_ms);
		negative_entry(e, fs->cfg.neg_ttl_ms);
		goto out;
	}
	if (err)
		goto out;
	pthread_mutex_lock(&fs->mu);
	if (!fs_inode_enter(fs, dir->ino, key.data, &f, true, fs_now_ms(fs), e))
		err = -ENOMEM;
	pthread_mutex_unlock(&fs->mu);
out:
	buf_fini(&key);
	buf_fini(&dirpfx);
	return err;
}

int fs_lookup(struct fs *fs, fs_ino_t parent, const char *name,
	      struct fs_entry *out)
{
	struct fs_inode *dir;
	int err;

	memset(out, 0, sizeof(*out));
	if (!name_is_valid(name, &err)) {
		negative_entry(out, fs->cfg.neg_ttl_ms);
		return err;
	}
	if (fs_stats_lookup(fs, parent, name, out))
		return 0;
	pthread_mutex_lock(&fs->mu);
	dir = fs_inode_get(fs, parent);
	if (!dir)
		err = -ESTALE;
	else if (dir->type != CACHE_ENT_DIR)
		err = -ENOTDIR;
	pthread_mutex_unlock(&fs->mu);
	if (err != -ENOENT)
		return err;
	/* The kernel holds a lookup on parent for the whole call, so dir
	 * stays alive; its key and type never change. */
	return lookup_child(fs, dir, name, out);
}

void fs_forget(struct fs *fs, fs_ino_t ino, uint64_t nlookup)
{
	struct fs_inode *in;

	pthread_mutex_lock(&fs->mu);
	in = fs_inode_get(fs, ino);
	if (in && in != fs->root) {
		in->nlookup = nlookup < in->nlookup ? in->nlookup - nlookup : 0;
		fs_inode_maybe_free(fs, in);
	}
	pthread_mutex_unlock(&fs->mu);
}

int fs_inode_revalidate(struct fs *fs, struct fs_inode *in)
{
	uint64_t now = fs_now_ms(fs);
	enum cache_ent_type type;
	struct fs_found f;
	bool fresh;
	char *key;
	int err;

	if (in == fs->root)
		return 0; /* the mount point always exists */
	pthread_mutex_lock(&fs->mu);
	/* A staged file is what we have locally, not what is stored. */
	fresh = in->uf || cache_is_fresh(in->attr_ms, now, fs->cfg.attr_ttl_ms);
	type = in->type;
	key = fresh ? NULL : str_dup(in->key); /* renames change in->key */
	pthread_mutex_unlock(&fs->mu);
	if (fresh)
		return 0;
	err = key ? fs_probe_known(fs, key, type, &f) : -ENOMEM;
	pthread_mutex_lock(&fs->mu);
	if (key && (in->uf || strcmp(in->key, key) != 0)) {
		/* Renamed, or opened for writing, while we asked: the
		 * answer is about a key or a version it no longer is. */
		err = 0;
	} else {
		if (!err && f.type != in->type)
			err = -ENOENT; /* became something else: a new inode */
		if (err == -ENOENT)
			fs_inode_unhash(fs, in);
		else if (!err)
			inode_apply(in, &f);
	}
	pthread_mutex_unlock(&fs->mu);
	free(key);
	/* Not negative-cached: a HEAD that missed says nothing about
	 * "key/", so the next lookup asks in full. */
	return err;
}

int fs_getattr(struct fs *fs, fs_ino_t ino, struct stat *st,
	       double *attr_timeout_s)
{
	struct fs_inode *in;
	struct fs_entry e;
	int err;

	if (ino == FS_STATS_INO) {
		fs_stats_attr(fs, st);
		*attr_timeout_s = 0;
		return 0;
	}
	pthread_mutex_lock(&fs->mu);
	in = fs_inode_get(fs, ino);
	pthread_mutex_unlock(&fs->mu);
	if (!in)
		return -ESTALE;
	err = fs_inode_revalidate(fs, in);
	if (err)
		return err;
	pthread_mutex_lock(&fs->mu);
	entry_fill(fs, in, fs_now_ms(fs), &e);
	pthread_mutex_unlock(&fs->mu);
	*st = e.attr;
	*attr_timeout_s = e.attr_timeout_s;
	return 0;
}

int64_t fs_inode_nlookup(struct fs *fs, fs_ino_t ino)
{
	struct fs_inode *in;
	int64_t n = -1;

	pthread_mutex_lock(&fs->mu);
	in = fs_inode_get(fs, ino);
	if (in)
		n = (int64_t)in->nlookup;
	pthread_mutex_unlock(&fs->mu);
	return n;
}
