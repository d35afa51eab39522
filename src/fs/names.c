/* fs write path: names.  mkdir, rmdir, unlink, rename, symlink, link,
 * mknod, and keeping cached listings truthful after each.
 *
 * Listings.  A cached listing of a directory we changed is patched (a
 * new copy with the name added, changed or removed) rather than dropped:
 * rsync looks up two missing names per file it copies, and a dropped
 * listing would turn each into a LIST.  Listings over
 * FS_PATCH_MAX_ENTRIES are dropped instead, and lookups then ask the
 * store for the one name.  Staged files that are not stored yet are in
 * no listing: lookups find them in the inode table first, and opendir
 * adds them to its snapshot (fs_staged_merge).
 *
 * Renames.  A file still staged is renamed by changing the key its
 * upload will use (after any upload in flight), and deleting the old
 * object if one was stored; a stored file by CopyObject (UploadPartCopy
 * from copy_part_threshold up) then DeleteObject.  A directory: staged
 * files under it are re-keyed first, then every key under the old
 * prefix is copied, many at once, and the old keys are deleted in
 * batches of 1,000.  Not atomic (SEMANTICS.md).  The inodes keep their
 * numbers and take the new keys: in->key changes under fs.mu, so it is
 * read only under fs.mu (or copied there).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>

#include "write_i.h"

#define RENAME_THREADS	      16u
#define DELETE_BATCH	      1000u
#define RENAME_NOREPLACE_FLAG (1u << 0)

int fs_child_key(struct fs *fs, fs_ino_t parent, const char *name,
		 struct fs_inode **dir, struct buf *dirpfx, struct buf *key)
{
	size_t n = strlen(name);
	int err = 0;

	if (n > FS_NAME_MAX)
		return -ENAMETOOLONG;
	if (n == 0 || strcmp(name, ".") == 0 || strcmp(name, "..") == 0 ||
	    strchr(name, '/'))
		return -EINVAL;
	pthread_mutex_lock(&fs->mu);
	*dir = fs_inode_get(fs, parent);
	if (!*dir)
		err = -ESTALE;
	else if ((*dir)->type != CACHE_ENT_DIR)
		err = -ENOTDIR;
	else
		err = fs_dir_prefix(fs, *dir, dirpfx);
	pthread_mutex_unlock(&fs->mu);
	if (!err)
		err = buf_append_str(key, dirpfx->data);
	if (!err)
		err = buf_append_str(key, name);
	return err;
}

int fs_name_exists(struct fs *fs, fs_ino_t parent, const char *name,
		   fs_ino_t *ino)
{
	struct fs_entry e;
	int err = fs_lookup(fs, parent, name, &e);

	if (err == -ENOENT)
		return 0;
	if (err)
		return err;
	*ino = e.ino;
	return 1;
}

/* ---- listings ----------------------------------------------------------- */

int fs_copy_listing(const struct cache_listing *l, const char *skip,
		    struct cache_listing *nl)
{
	int err = 0;

	for (size_t i = 0; i < l->n && !err; i++) {
		const struct cache_dirent *d = &l->ents[i];

		if (skip && strcmp(d->name, skip) == 0)
			continue;
		err = cache_listing_add_dirent(nl, d);
	}
	nl->has_marker = l->has_marker;
	nl->marker_mtime = l->marker_mtime;
	return err;
}

static int add_found(struct cache_listing *l, const char *name,
		     const struct fs_found *f)
{
	bool dir = f->type == CACHE_ENT_DIR;

	return cache_listing_add(l, name, f->type, dir ? 0 : f->size,
				 dir ? NULL : &f->mtime, dir ? "" : f->etag);
}

void fs_listing_patch(struct fs *fs, const char *dir, const char *name,
		      const struct fs_found *f)
{
	struct cache_listing *l, *nl = NULL;
	struct buf key;
	int err;

	buf_init(&key, 0);
	if (!buf_appendf(&key, "%s%s", dir, name))
		cache_meta_neg_drop(fs->meta, key.data);
	buf_fini(&key);
	pthread_mutex_lock(&fs->patch_mu);
	fs->patch_gen[fs_patch_slot(dir)]++;
	l = cache_meta_listing_get(fs->meta, dir, fs_now_ms(fs),
				   fs->cfg.dir_ttl_ms);
	if (!l)
		goto out;
	if (l->n < FS_PATCH_MAX_ENTRIES)
		nl = cache_listing_new(l->fetched_ms);
	err = nl ? fs_copy_listing(l, name, nl) : -E2BIG;
	if (!err && f)
		err = add_found(nl, name, f);
	if (!err) {
		cache_listing_finish(nl);
		err = cache_meta_listing_put(fs->meta, dir, nl);
	}
	/* A listing we cannot make truthful must not answer lookups. */
	if (err)
		cache_meta_listing_drop(fs->meta, dir);
	if (nl)
		cache_listing_unref(nl);
	cache_listing_unref(l);
out:
	pthread_mutex_unlock(&fs->patch_mu);
}

int fs_staged_lookup(struct fs *fs, fs_ino_t parent, const char *key,
		     uint64_t now, struct fs_entry *e)
{
	struct fs_inode *in;
	struct fs_found f;
	int hit = 0;

	pthread_mutex_lock(&fs->mu);
	in = fs_inode_by_key(fs, key);
	if (in && in->uf) {
		memset(&f, 0, sizeof(f));
		f.type = in->type;
		in->attr_ms = now;
		hit = fs_inode_enter(fs, parent, key, &f, true, now, e) != NULL;
	}
	pthread_mutex_unlock(&fs->mu);
	return hit;
}

/* Is in a staged file directly (or, with deep, anywhere) under dir? */
static bool staged_under(const struct fs_inode *in, const char *dir,
			 size_t dlen, bool deep)
{
	return in->uf && strncmp(in->key, dir, dlen) == 0 &&
	       (deep || !strchr(in->key + dlen, '/'));
}

/* The inodes matching fn, counted (open_count) so they stay.  Caller
 * holds mu; *out is malloc'd. */
static size_t collect(struct fs *fs,
		      bool (*fn)(const struct fs_inode *, const char *, size_t,
				 bool),
		      const char *dir, bool deep, struct fs_inode ***out)
{
	struct cache_map_node **b = fs->by_ino.buckets;
	struct fs_inode **v = NULL, **nv;
	size_t n = 0, cap = 0, dlen = strlen(dir);

	for (size_t i = 0; i < fs->by_ino.nbuckets; i++)
		for (struct cache_map_node *nd = b[i]; nd; nd = nd->next) {
			struct fs_inode *in =
				CACHE_CONTAINER_OF(nd, struct fs_inode, by_ino);

			if (in == fs->root || !fn(in, dir, dlen, deep))
				continue;
			if (n == cap) {
				cap = cap ? cap * 2 : 16;
				nv = realloc(v, cap * sizeof(*v));
				if (!nv)
					goto out;
				v = nv;
			}
			in->open_count++;
			v[n++] = in;
		}
out:
	*out = v;
	return n;
}

static void uncollect(struct fs *fs, struct fs_inode **v, size_t n)
{
	pthread_mutex_lock(&fs->mu);
	for (size_t i = 0; i < n; i++) {
		v[i]->open_count--;
		fs_inode_maybe_free(fs, v[i]);
	}
	pthread_mutex_unlock(&fs->mu);
	free(v);
}

int fs_staged_merge(struct fs *fs, const char *dir, struct cache_listing **l)
{
	struct cache_listing *nl = NULL;
	struct fs_inode **v;
	size_t n, dlen = strlen(dir);
	int err = 0;

	pthread_mutex_lock(&fs->mu);
	n = collect(fs, staged_under, dir, false, &v);
	for (size_t i = 0; i < n && !err; i++) {
		const char *name = v[i]->key + dlen;
		struct fs_found f;

		if (cache_listing_find(*l, name))
			continue;
		if (!nl) {
			nl = cache_listing_new((*l)->fetched_ms);
			err = nl ? fs_copy_listing(*l, NULL, nl) : -ENOMEM;
			if (err)
				break;
		}
		memset(&f, 0, sizeof(f));
		f.type = v[i]->type;
		f.size = v[i]->size;
		f.mtime = v[i]->mtime;
		err = add_found(nl, name, &f);
	}
	pthread_mutex_unlock(&fs->mu);
	uncollect(fs, v, n);
	if (nl && !err) {
		cache_listing_finish(nl);
		cache_listing_unref(*l);
		*l = nl;
	} else if (nl) {
		cache_listing_unref(nl);
	}
	return err;
}

/* ---- keys of inodes ------------------------------------------------------ */

/* in is now called key.  Caller holds mu, as does everyone who reads
 * in->key, so the old string can go at once. */
static int rekey(struct fs *fs, struct fs_inode *in, const char *key)
{
	char *k = str_dup(key);

	if (!k)
		return -ENOMEM;
	fs_inode_unhash(fs, in);
	free(in->key);
	in->key = k;
	cache_map_insert(&fs->by_key, &in->by_key, cache_hash_str(k));
	in->hashed = true;
	return 0;
}

/* ---- the simple ones ------------------------------------------------------
 */

static int store_del(struct fs *fs, const char *key)
{
	struct oss_error oerr;

	oss_error_clear(&oerr);
	return fs->store->ops->del(fs->store->impl, key, &oerr);
}

/* Split key into its parent's prefix and its name. */
static const char *key_name(const char *key, struct buf *dir)
{
	const char *slash = strrchr(key, '/');
	const char *name = slash ? slash + 1 : key;

	buf_reset(dir);
	if (buf_append(dir, key, (size_t)(name - key)))
		return NULL;
	return name;
}

static int exists_err(struct fs *fs, fs_ino_t parent, const char *name)
{
	fs_ino_t ino;
	int err = fs_name_exists(fs, parent, name, &ino);

	if (err == 1) {
		fs_forget(fs, ino, 1);
		return -EEXIST;
	}
	return err;
}

static int put_marker(struct fs *fs, const char *key,
		      const struct oss_posix_meta *p)
{
	struct oss_put_params put;
	struct oss_error oerr;
	struct buf marker;
	int err;

	buf_init(&marker, 0);
	err = buf_appendf(&marker, "%s/", key);
	memset(&put, 0, sizeof(put));
	put.key = marker.data;
	put.data = "";
	put.fd = -1;
	put.content_type = "application/x-directory";
	put.posix = p;
	oss_error_clear(&oerr);
	if (!err)
		err = fs->store->ops->put(fs->store->impl, &put, &oerr);
	buf_fini(&marker);
	return err;
}

/* A new, empty directory has a listing we know without asking. */
static void cache_empty_listing(struct fs *fs, const char *key,
				const struct oss_posix_meta *p)
{
	struct cache_listing *l = cache_listing_new(fs_now_ms(fs));
	struct buf dir;

	buf_init(&dir, 0);
	if (l && !buf_appendf(&dir, "%s/", key)) {
		l->has_marker = true;
		l->marker_mtime = p->mtime;
		cache_listing_finish(l);
		(void)cache_meta_listing_put(fs->meta, dir.data, l);
	}
	if (l)
		cache_listing_unref(l);
	buf_fini(&dir);
}

int fs_mkdir(struct fs *fs, fs_ino_t parent, const char *name, mode_t mode,
	     struct fs_entry *out)
{
	struct oss_posix_meta p = { .has_mode = true, .has_mtime = true };
	struct buf dirpfx, key;
	struct fs_inode *dir;
	struct fs_found f;
	int err;

	memset(out, 0, sizeof(*out));
	if (!fs_writable(fs))
		return -EROFS;
	buf_init(&dirpfx, 0);
	buf_init(&key, 0);
	err = fs_child_key(fs, parent, name, &dir, &dirpfx, &key);
	if (!err)
		err = exists_err(fs, parent, name);
	if (err)
		goto out;
	p.mode = S_IFDIR | (mode & 07777);
	fs_now_real(&p.mtime);
	err = put_marker(fs, key.data, &p);
	if (err)
		goto out;
	fs_found_local(&f, CACHE_ENT_DIR, 0, &p, fs_now_ms(fs));
	pthread_mutex_lock(&fs->mu);
	if (!fs_inode_enter(fs, parent, key.data, &f, true, f.fetched_ms, out))
		err = -ENOMEM;
	pthread_mutex_unlock(&fs->mu);
	cache_empty_listing(fs, key.data, &p);
	fs_listing_patch(fs, dirpfx.data, name, &f);
out:
	buf_fini(&key);
	buf_fini(&dirpfx);
	return err;
}

/* 0 when nothing but the marker is stored or staged under key/. */
static int dir_empty(struct fs *fs, const char *key)
{
	struct oss_list_params lp = { .max_keys = 2 };
	struct oss_list_page page;
	struct oss_error oerr;
	struct fs_inode **v;
	struct buf pfx;
	size_t n;
	int err;

	buf_init(&pfx, 0);
	err = buf_appendf(&pfx, "%s/", key);
	if (err)
		goto out;
	pthread_mutex_lock(&fs->mu);
	n = collect(fs, staged_under, pfx.data, true, &v);
	pthread_mutex_unlock(&fs->mu);
	uncollect(fs, v, n);
	if (n) {
		err = -ENOTEMPTY;
		goto out;
	}
	lp.prefix = pfx.data;
	memset(&page, 0, sizeof(page));
	oss_error_clear(&oerr);
	err = oss_list(fs->store, &lp, &page, &oerr);
	for (size_t i = 0; !err && i < page.n; i++)
		if (strcmp(page.entries[i].key, pfx.data) != 0)
			err = -ENOTEMPTY;
	fs_list_page_free(&page);
out:
	buf_fini(&pfx);
	return err;
}

/* The inode of an existing name, counted once (caller forgets it). */
static int find_child(struct fs *fs, fs_ino_t parent, const char *name,
		      struct fs_inode **out)
{
	fs_ino_t ino;
	int err = fs_name_exists(fs, parent, name, &ino);

	if (err == 0)
		return -ENOENT;
	if (err < 0)
		return err;
	pthread_mutex_lock(&fs->mu);
	*out = fs_inode_get(fs, ino);
	pthread_mutex_unlock(&fs->mu);
	return *out ? 0 : -ESTALE;
}

int fs_rmdir(struct fs *fs, fs_ino_t parent, const char *name)
{
	struct fs_inode *dir, *in = NULL;
	struct buf dirpfx, key, marker;
	int err;

	if (!fs_writable(fs))
		return -EROFS;
	buf_init(&dirpfx, 0);
	buf_init(&key, 0);
	buf_init(&marker, 0);
	err = fs_child_key(fs, parent, name, &dir, &dirpfx, &key);
	if (!err)
		err = find_child(fs, parent, name, &in);
	if (err)
		goto out;
	err = in->type != CACHE_ENT_DIR ? -ENOTDIR : dir_empty(fs, key.data);
	if (!err)
		err = buf_appendf(&marker, "%s/", key.data);
	if (!err)
		err = store_del(fs, marker.data);
	if (!err) {
		pthread_mutex_lock(&fs->mu);
		fs_inode_unhash(fs, in);
		pthread_mutex_unlock(&fs->mu);
		cache_meta_listing_drop(fs->meta, marker.data);
		fs_listing_patch(fs, dirpfx.data, name, NULL);
	}
	fs_forget(fs, in->ino, 1);
out:
	buf_fini(&marker);
	buf_fini(&key);
	buf_fini(&dirpfx);
	return err;
}

/* Take a staged_refs reference on in's staged file, if it has one. */
static struct upload_file *stage_pin(struct fs *fs, struct fs_inode *in)
{
	struct upload_file *uf;

	pthread_mutex_lock(&fs->mu);
	uf = in->uf;
	if (uf)
		in->staged_refs++;
	pthread_mutex_unlock(&fs->mu);
	return uf;
}

/* in no longer has its name: forget what is staged, delete what is
 * stored (when delete_stored). */
static int drop_object(struct fs *fs, struct fs_inode *in, const char *key,
		       bool delete_stored)
{
	struct upload_file *uf = stage_pin(fs, in);
	bool remote = true;
	int err = 0;

	if (uf)
		upload_file_discard(uf, &remote);
	if (remote && delete_stored)
		err = store_del(fs, key);
	pthread_mutex_lock(&fs->mu);
	fs_inode_unhash(fs, in);
	pthread_mutex_unlock(&fs->mu);
	if (uf)
		fs_stage_put(fs, in, false);
	return err;
}

int fs_unlink(struct fs *fs, fs_ino_t parent, const char *name)
{
	struct fs_inode *dir, *in = NULL;
	struct buf dirpfx, key;
	int err;

	if (!fs_writable(fs))
		return -EROFS;
	buf_init(&dirpfx, 0);
	buf_init(&key, 0);
	err = fs_child_key(fs, parent, name, &dir, &dirpfx, &key);
	if (!err)
		err = find_child(fs, parent, name, &in);
	if (err)
		goto out;
	err = in->type == CACHE_ENT_DIR ? -EISDIR
					: drop_object(fs, in, key.data, true);
	if (!err)
		fs_listing_patch(fs, dirpfx.data, name, NULL);
	fs_forget(fs, in->ino, 1);
out:
	buf_fini(&key);
	buf_fini(&dirpfx);
	return err;
}

int fs_symlink(struct fs *fs, const char *target, fs_ino_t parent,
	       const char *name, struct fs_entry *out)
{
	struct oss_posix_meta p = { .has_mode = true, .has_mtime = true };
	struct buf dirpfx, key;
	struct oss_error oerr;
	struct fs_inode *dir, *in;
	struct fs_found f;
	int err;

	memset(out, 0, sizeof(*out));
	if (!fs_writable(fs))
		return -EROFS;
	buf_init(&dirpfx, 0);
	buf_init(&key, 0);
	err = fs_child_key(fs, parent, name, &dir, &dirpfx, &key);
	if (!err)
		err = exists_err(fs, parent, name);
	if (err)
		goto out;
	p.mode = S_IFLNK | 0777;
	fs_now_real(&p.mtime);
	oss_error_clear(&oerr);
	err = fs->store->ops->put_symlink(fs->store->impl, key.data, target, &p,
					  &oerr);
	if (err)
		goto out;
	fs_found_local(&f, CACHE_ENT_SYMLINK, strlen(target), &p,
		       fs_now_ms(fs));
	pthread_mutex_lock(&fs->mu);
	in = fs_inode_enter(fs, parent, key.data, &f, true, f.fetched_ms, out);
	if (in) {
		free(in->link_target);
		in->link_target = str_dup(target);
		in->link_ms = f.fetched_ms;
	} else {
		err = -ENOMEM;
	}
	pthread_mutex_unlock(&fs->mu);
	fs_listing_patch(fs, dirpfx.data, name, &f);
out:
	buf_fini(&key);
	buf_fini(&dirpfx);
	return err;
}

int fs_link(struct fs *fs, fs_ino_t ino, fs_ino_t newparent,
	    const char *newname, struct fs_entry *out)
{
	memset(out, 0, sizeof(*out));
	/* An object store has no hard links; link(2) documents EPERM for
	 * a file system that cannot make them. */
	return fs_writable(fs) ? -EPERM : -EROFS;
}

int fs_mknod(struct fs *fs, fs_ino_t parent, const char *name, mode_t mode,
	     dev_t rdev, struct fs_entry *out)
{
	uint64_t fh = 0;
	int err;

	memset(out, 0, sizeof(*out));
	if (!fs_writable(fs))
		return -EROFS;
	/* Devices, FIFOs and sockets cannot be objects. */
	if (!S_ISREG(mode))
		return -EPERM;
	err = fs_create(fs, parent, name, mode, O_CREAT | O_EXCL | O_WRONLY,
			out, &fh);
	if (!err)
		fs_release(fs, fh);
	return err;
}

/* ---- rename ---------------------------------------------------------------
 */

struct rename_args {
	struct fs_inode *src, *dst; /* dst may be NULL */
	const char *okey, *nkey;
	fs_ino_t newparent;
};

/* Stored copy of a symlink under a new name: the link, not its target. */
static int copy_symlink(struct fs *fs, const char *src, const char *dst,
			const struct oss_posix_meta *p)
{
	struct oss_error oerr;
	char *target = NULL;
	int err;

	oss_error_clear(&oerr);
	err = fs->store->ops->get_symlink(fs->store->impl, src, &target, &oerr);
	if (!err)
		err = fs->store->ops->put_symlink(fs->store->impl, dst, target,
						  p, &oerr);
	free(target);
	return err;
}

/* Move the content of a file or symlink to nkey. */
static int move_object(struct fs *fs, const struct rename_args *a)
{
	struct upload_file *uf = stage_pin(fs, a->src);
	struct oss_posix_meta p;
	enum cache_ent_type type;
	bool remote = false;
	uint64_t size;
	int err;

	pthread_mutex_lock(&fs->mu);
	type = a->src->type;
	size = a->src->size;
	fs_inode_posix(fs, a->src, &p);
	pthread_mutex_unlock(&fs->mu);
	if (uf)
		err = upload_file_set_key(uf, a->nkey, &remote);
	else if (type == CACHE_ENT_SYMLINK)
		err = copy_symlink(fs, a->okey, a->nkey, &p);
	else
		err = upload_copy_object(fs->up, a->okey, a->nkey, size, NULL);
	if (!err && (remote || !uf))
		err = store_del(fs, a->okey);
	if (uf)
		fs_stage_put(fs, a->src, true);
	return err;
}

struct tree_copy {
	struct fs *fs;
	struct oss_list_entry *ents;
	size_t n;
	size_t olen;
	const char *nprefix;
	char **dst;
};

static int tree_copy_one(void *arg, size_t i)
{
	struct tree_copy *t = arg;
	const struct oss_list_entry *e = &t->ents[i];
	const char *dst = t->dst[i];

	if (e->type == OSS_OBJ_SYMLINK)
		return copy_symlink(t->fs, e->key, dst, NULL);
	return upload_copy_object(t->fs->up, e->key, dst, e->size, NULL);
}

/* Every key under prefix, all pages. */
static int list_tree(struct fs *fs, const char *prefix,
		     struct oss_list_page *all)
{
	struct oss_list_params lp = { .prefix = prefix, .max_keys = 1000 };
	struct oss_list_page page;
	struct oss_error oerr;
	char *token = NULL;
	int err = 0;

	memset(all, 0, sizeof(*all));
	do {
		memset(&page, 0, sizeof(page));
		lp.token = token;
		oss_error_clear(&oerr);
		err = oss_list(fs->store, &lp, &page, &oerr);
		for (size_t i = 0; !err && i < page.n; i++) {
			if (all->n == all->cap) {
				size_t cap = all->cap ? all->cap * 2 : 64;
				void *nv = realloc(all->entries,
						   cap * sizeof(*all->entries));

				if (!nv) {
					err = -ENOMEM;
					break;
				}
				all->entries = nv;
				all->cap = cap;
			}
			all->entries[all->n++] = page.entries[i];
			page.entries[i].key = NULL; /* moved */
		}
		free(token);
		token = page.next_token;
		page.next_token = NULL;
		if (!err && page.truncated && (!token || !*token))
			err = -EIO;
		if (!page.truncated) {
			fs_list_page_free(&page);
			break;
		}
		fs_list_page_free(&page);
	} while (!err);
	free(token);
	return err;
}

static int delete_keys(struct fs *fs, const struct oss_list_page *all)
{
	const char **keys = calloc(DELETE_BATCH, sizeof(*keys));
	struct oss_error oerr;
	int err = keys ? 0 : -ENOMEM;

	for (size_t i = 0; !err && i < all->n; i += DELETE_BATCH) {
		size_t n =
			all->n - i < DELETE_BATCH ? all->n - i : DELETE_BATCH;

		for (size_t k = 0; k < n; k++)
			keys[k] = all->entries[i + k].key;
		oss_error_clear(&oerr);
		err = fs->store->ops->del_multi(
			fs->store->impl, (const char *const *)keys, n, &oerr);
	}
	free(keys);
	return err;
}

/* Copy the stored tree under old/ to new/, then delete the old keys. */
static int move_tree(struct fs *fs, const char *opfx, const char *npfx)
{
	struct tree_copy t = { .fs = fs,
			       .olen = strlen(opfx),
			       .nprefix = npfx };
	struct oss_list_page all;
	int err = list_tree(fs, opfx, &all);

	t.ents = all.entries;
	t.n = all.n;
	t.dst = err || !all.n ? NULL : calloc(all.n, sizeof(*t.dst));
	if (!err && all.n && !t.dst)
		err = -ENOMEM;
	for (size_t i = 0; !err && i < all.n; i++) {
		struct buf d;

		buf_init(&d, 0);
		err = buf_appendf(&d, "%s%s", npfx,
				  all.entries[i].key + t.olen);
		t.dst[i] = err ? NULL : buf_steal(&d, NULL);
		buf_fini(&d);
	}
	if (!err && all.n)
		err = upload_parallel(RENAME_THREADS, all.n, tree_copy_one, &t);
	if (!err && all.n)
		err = delete_keys(fs, &all);
	for (size_t i = 0; t.dst && i < all.n; i++)
		free(t.dst[i]);
	free(t.dst);
	fs_list_page_free(&all);
	return err;
}

static bool under_dir(const struct fs_inode *in, const char *dir, size_t dlen,
		      bool deep)
{
	(void)deep;
	return strncmp(in->key, dir, dlen) == 0;
}

/* Staged files under old/ upload to new/ from now on. */
static int rekey_staged(struct fs *fs, const char *opfx, const char *npfx)
{
	size_t olen = strlen(opfx), n;
	struct fs_inode **v;
	int err = 0;

	pthread_mutex_lock(&fs->mu);
	n = collect(fs, staged_under, opfx, true, &v);
	pthread_mutex_unlock(&fs->mu);
	for (size_t i = 0; i < n && !err; i++) {
		struct upload_file *uf = stage_pin(fs, v[i]);
		struct buf k;
		bool remote;

		buf_init(&k, 0);
		if (uf) {
			bool moved;

			/* The lock was dropped since collect: a rename of
			 * the file itself out of old/ may have won. */
			pthread_mutex_lock(&fs->mu);
			moved = strncmp(v[i]->key, opfx, olen) != 0;
			if (!moved)
				err = buf_appendf(&k, "%s%s", npfx,
						  v[i]->key + olen);
			pthread_mutex_unlock(&fs->mu);
			if (!err && !moved)
				err = upload_file_set_key(uf, k.data, &remote);
			fs_stage_put(fs, v[i], true);
		}
		buf_fini(&k);
	}
	uncollect(fs, v, n);
	return err;
}

/* The inodes of the tree take their new keys. */
static int rekey_tree(struct fs *fs, const char *okey, const char *nkey)
{
	size_t olen = strlen(okey), n;
	struct fs_inode **v = NULL;
	struct buf opfx, k;
	int err;

	buf_init(&opfx, 0);
	buf_init(&k, 0);
	err = buf_appendf(&opfx, "%s/", okey);
	pthread_mutex_lock(&fs->mu);
	n = err ? 0 : collect(fs, under_dir, opfx.data, true, &v);
	for (size_t i = 0; !err && i < n; i++) {
		buf_reset(&k);
		err = buf_appendf(&k, "%s%s", nkey, v[i]->key + olen);
		if (!err && v[i]->hashed)
			err = rekey(fs, v[i], k.data);
	}
	pthread_mutex_unlock(&fs->mu);
	uncollect(fs, v, n);
	buf_fini(&k);
	buf_fini(&opfx);
	return err;
}

static int move_dir(struct fs *fs, const struct rename_args *a)
{
	struct buf opfx, npfx;
	struct cache_listing *l;
	int err;

	buf_init(&opfx, 0);
	buf_init(&npfx, 0);
	err = buf_appendf(&opfx, "%s/", a->okey);
	if (!err)
		err = buf_appendf(&npfx, "%s/", a->nkey);
	if (!err && a->dst)
		err = dir_empty(fs, a->nkey);
	if (!err)
		err = rekey_staged(fs, opfx.data, npfx.data);
	if (!err)
		err = move_tree(fs, opfx.data, npfx.data);
	if (!err)
		err = rekey_tree(fs, a->okey, a->nkey);
	if (!err) {
		/* Names in a listing are relative: it moves as it is. */
		l = cache_meta_listing_get(fs->meta, opfx.data, fs_now_ms(fs),
					   fs->cfg.dir_ttl_ms);
		cache_meta_listing_drop(fs->meta, npfx.data);
		if (l) {
			(void)cache_meta_listing_put(fs->meta, npfx.data, l);
			cache_listing_unref(l);
		}
		cache_meta_listing_drop(fs->meta, opfx.data);
	}
	buf_fini(&npfx);
	buf_fini(&opfx);
	return err;
}

/* What the kernel must not be asked to do, before anything is touched. */
static int rename_check(const struct fs_inode *src, const struct fs_inode *dst,
			unsigned int flags)
{
	if (flags & ~RENAME_NOREPLACE_FLAG)
		return -EINVAL; /* RENAME_EXCHANGE, RENAME_WHITEOUT */
	if (!dst)
		return 0;
	if (flags & RENAME_NOREPLACE_FLAG)
		return -EEXIST;
	if (src->type == CACHE_ENT_DIR && dst->type != CACHE_ENT_DIR)
		return -ENOTDIR;
	if (src->type != CACHE_ENT_DIR && dst->type == CACHE_ENT_DIR)
		return -EISDIR;
	return 0;
}

static void rename_finish(struct fs *fs, const struct rename_args *a,
			  const char *oname, const char *nname)
{
	struct fs_found f;
	struct buf odir, ndir;

	buf_init(&odir, 0);
	buf_init(&ndir, 0);
	pthread_mutex_lock(&fs->mu);
	if (a->dst)
		fs_inode_unhash(fs, a->dst);
	if (rekey(fs, a->src, a->nkey) == 0)
		a->src->parent = a->newparent;
	memset(&f, 0, sizeof(f));
	f.type = a->src->type;
	f.size = a->src->size;
	f.mtime = a->src->mtime;
	str_lcpy(f.etag, a->src->etag, sizeof(f.etag));
	pthread_mutex_unlock(&fs->mu);
	if (key_name(a->okey, &odir) && key_name(a->nkey, &ndir)) {
		fs_listing_patch(fs, odir.data, oname, NULL);
		fs_listing_patch(fs, ndir.data, nname, &f);
	}
	buf_fini(&ndir);
	buf_fini(&odir);
}

/* fs_rename under fs->rename_lock: held exclusive (excl) or shared.  A
 * directory is not moved under a shared lock: *again is set and nothing
 * done, for the caller to take it exclusive and call again. */
static int rename_locked(struct fs *fs, fs_ino_t parent, const char *name,
			 fs_ino_t newparent, const char *newname,
			 unsigned int flags, bool excl, bool *again)
{
	struct rename_args a = { .newparent = newparent };
	struct buf opfx, okey, npfx, nkey;
	struct fs_inode *d1, *d2;
	int err;

	*again = false;
	buf_init(&opfx, 0);
	buf_init(&okey, 0);
	buf_init(&npfx, 0);
	buf_init(&nkey, 0);
	err = fs_child_key(fs, parent, name, &d1, &opfx, &okey);
	if (!err)
		err = fs_child_key(fs, newparent, newname, &d2, &npfx, &nkey);
	if (!err)
		err = find_child(fs, parent, name, &a.src);
	if (err)
		goto out;
	err = find_child(fs, newparent, newname, &a.dst);
	if (err == -ENOENT) {
		a.dst = NULL;
		err = 0;
	}
	if (!err && a.dst == a.src)
		goto done; /* the same file: nothing to do */
	a.okey = okey.data;
	a.nkey = nkey.data;
	if (!err)
		err = rename_check(a.src, a.dst, flags);
	if (!err && a.src->type == CACHE_ENT_DIR && !excl) {
		*again = true;
		goto done;
	}
	if (!err && a.src->type == CACHE_ENT_DIR)
		err = move_dir(fs, &a);
	else if (!err)
		err = move_object(fs, &a);
	if (!err && a.dst && a.dst->type != CACHE_ENT_DIR)
		err = drop_object(fs, a.dst, a.nkey, false);
	if (!err)
		rename_finish(fs, &a, name, newname);
done:
	if (a.dst)
		fs_forget(fs, a.dst->ino, 1);
	fs_forget(fs, a.src->ino, 1);
out:
	buf_fini(&nkey);
	buf_fini(&npfx);
	buf_fini(&okey);
	buf_fini(&opfx);
	return err;
}

int fs_rename(struct fs *fs, fs_ino_t parent, const char *name,
	      fs_ino_t newparent, const char *newname, unsigned int flags)
{
	bool again;
	int err;

	if (!fs_writable(fs))
		return -EROFS;
	/* Objects move under the shared lock, in parallel; a directory,
	 * whose whole tree changes keys, under the exclusive one, so no
	 * file in it is renamed meanwhile. */
	pthread_rwlock_rdlock(&fs->rename_lock);
	err = rename_locked(fs, parent, name, newparent, newname, flags, false,
			    &again);
	pthread_rwlock_unlock(&fs->rename_lock);
	if (!err && again) {
		pthread_rwlock_wrlock(&fs->rename_lock);
		err = rename_locked(fs, parent, name, newparent, newname, flags,
				    true, &again);
		pthread_rwlock_unlock(&fs->rename_lock);
	}
	return err;
}
