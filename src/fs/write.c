/* fs write path: staged files, their handles and attributes.
 *
 * Design.  Writes go to a staged copy of the file (upload/), which is the
 * file's content for this mount until it is stored: reads of it, its
 * size and its attributes come from there, and lookups find it before
 * any listing does.  The staged file hangs off the inode (in->uf) and
 * pins it; staged_refs counts the handles and the operations using it.
 * When the last one lets go, a dirty file is scheduled for upload (after
 * upload/'s quiet period) and a clean one is let go.  The upload
 * listener records what was stored (ETag, the parent's listing) and, if
 * nothing changed meanwhile and nothing uses it, lets the staged file go:
 * from then on the inode is an ordinary stored object again.
 *
 * Opening an existing object for writing without O_TRUNC brings the
 * whole object into staging first (ranged GETs, as large as the staging
 * disk allows); O_TRUNC and new files start empty and fetch nothing.
 *
 * Metadata.  chmod, chown and utimens of a staged file only change what
 * will be uploaded; of a stored file they rewrite its metadata in place
 * (CopyObject onto itself, REPLACE), of a directory its "dir/" marker,
 * of a symlink the link.  The mtime of written data is the time of the
 * last write, given to the upload when the handle is flushed.
 *
 * LOCK ORDERING: fs.mu, then upload/'s lock (the quick upload_file_*
 * calls); calls that wait (sync, set_key, discard) and every store call
 * are made with no lock held.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "write_i.h"

struct staged_handle {
	struct fs_hlink link; /* first: fs_free finds what was not released */
	fs_ino_t ino;
	struct fs_inode *in;	/* pinned by open_count */
	struct upload_file *uf; /* stable while staged_refs counts us */
	bool writable;
};

static struct staged_handle *handle_of(uint64_t fh)
{
	return (struct staged_handle *)(uintptr_t)(fh & ~(uint64_t)1);
}

void fs_now_real(struct timespec *ts)
{
	clock_gettime(CLOCK_REALTIME, ts);
}

void fs_inode_posix(struct fs *fs, const struct fs_inode *in,
		    struct oss_posix_meta *out)
{
	struct stat st;

	fs_inode_fill_stat(fs, in, &st);
	memset(out, 0, sizeof(*out));
	if (in->has_meta)
		*out = in->posix;
	out->has_mode = true;
	out->mode = (uint32_t)st.st_mode;
	if (!out->has_mtime) {
		/* A server-side copy moves Last-Modified: keep the time the
		 * file shows now. */
		out->has_mtime = true;
		out->mtime = st.st_mtim;
	}
}

void fs_found_local(struct fs_found *f, enum cache_ent_type t, uint64_t size,
		    const struct oss_posix_meta *posix, uint64_t now_ms)
{
	memset(f, 0, sizeof(*f));
	f->type = t;
	f->size = size;
	fs_now_real(&f->mtime);
	if (posix) {
		f->has_meta = true;
		f->posix = *posix;
		if (posix->has_mtime)
			f->mtime = posix->mtime;
	}
	f->fetched_ms = now_ms;
}

bool fs_open_needs_staging(struct fs *fs, const struct fs_inode *in, int flags)
{
	(void)fs;
	return (flags & O_ACCMODE) != O_RDONLY || (flags & O_TRUNC) || in->uf;
}

/* ---- attaching and letting go -------------------------------------------
 */

/* Make the staged file for in: empty, or a copy of what is stored. */
static int stage_make(struct fs *fs, struct fs_inode *in, bool empty,
		      struct upload_file **out)
{
	struct oss_posix_meta posix;
	char etag[FS_ETAG_LEN];
	uint64_t size;
	char *key;
	int err = empty ? 0 : fs_inode_revalidate(fs, in);

	if (err)
		return err;
	pthread_mutex_lock(&fs->mu);
	key = str_dup(in->key);
	fs_inode_posix(fs, in, &posix);
	size = in->size;
	str_lcpy(etag, in->etag, sizeof(etag));
	pthread_mutex_unlock(&fs->mu);
	if (!key)
		return -ENOMEM;
	if (empty) {
		fs_now_real(&posix.mtime);
		err = upload_file_new(fs->up, key, &posix,
				      (void *)(uintptr_t)in->ino, out);
	} else {
		err = upload_file_fetch(fs->up, key, size, etag, &posix,
					(void *)(uintptr_t)in->ino, out);
	}
	free(key);
	return err;
}

/* in takes uf as its staged file (attributes from uf), or, when another
 * thread was first, *spare is set to ours.  Caller holds mu. */
static void stage_install(struct fs *fs, struct fs_inode *in,
			  struct upload_file *uf, struct upload_file **spare)
{
	if (in->uf) {
		*spare = uf;
	} else {
		in->uf = uf;
		in->size = upload_file_size(uf);
		upload_file_get_posix(uf, &in->posix);
		in->has_meta = true;
		if (in->posix.has_mtime)
			in->mtime = in->posix.mtime;
	}
	in->staged_refs++;
	in->attr_ms = fs_now_ms(fs);
}

int fs_stage_attach(struct fs *fs, struct fs_inode *in, bool empty)
{
	struct upload_file *uf = NULL, *spare = NULL;
	bool was_remote;
	int err = 0;

	pthread_mutex_lock(&fs->mu);
	if (in->uf) {
		in->staged_refs++;
		pthread_mutex_unlock(&fs->mu);
		return 0;
	}
	pthread_mutex_unlock(&fs->mu);
	err = stage_make(fs, in, empty, &uf);
	if (err)
		return err;
	pthread_mutex_lock(&fs->mu);
	stage_install(fs, in, uf, &spare);
	pthread_mutex_unlock(&fs->mu);
	if (spare) {
		/* Lost the race: the other staged file is the file. */
		upload_file_discard(spare, &was_remote);
		upload_file_release(spare);
		if (empty)
			err = upload_file_truncate(in->uf, 0);
	}
	return err;
}

static void stage_detach_if_done(struct fs *fs, struct fs_inode *in,
				 struct upload_file *uf)
{
	bool detach = false;

	pthread_mutex_lock(&fs->mu);
	if (in->uf == uf && in->staged_refs == 0 && !upload_file_is_dirty(uf)) {
		in->uf = NULL;
		in->attr_ms = fs_now_ms(fs);
		detach = true;
	}
	fs_inode_maybe_free(fs, in);
	pthread_mutex_unlock(&fs->mu);
	if (detach)
		upload_file_release(uf);
}

void fs_stage_put(struct fs *fs, struct fs_inode *in, bool schedule)
{
	struct upload_file *uf;

	pthread_mutex_lock(&fs->mu);
	uf = in->uf;
	if (!uf || in->staged_refs != 1) {
		if (in->staged_refs)
			in->staged_refs--;
		pthread_mutex_unlock(&fs->mu);
		return;
	}
	pthread_mutex_unlock(&fs->mu);
	/* Ours is the last reference, and it is dropped only after this:
	 * while staged_refs is not 0, on_upload leaves uf attached, so uf
	 * cannot be released and freed under us. */
	if (schedule && upload_file_is_dirty(uf))
		upload_file_schedule(uf);
	pthread_mutex_lock(&fs->mu);
	in->staged_refs--;
	pthread_mutex_unlock(&fs->mu);
	/* Stored meanwhile (on_upload saw our reference), or clean all
	 * along: detach now; it checks again under the lock. */
	stage_detach_if_done(fs, in, uf);
}

/* Give the last write's time to the upload. */
static int push_mtime(struct fs *fs, struct fs_inode *in,
		      struct upload_file *uf)
{
	struct oss_posix_meta p;
	bool dirty;

	pthread_mutex_lock(&fs->mu);
	dirty = in->mtime_dirty;
	in->mtime_dirty = false;
	p = in->posix;
	pthread_mutex_unlock(&fs->mu);
	return dirty ? upload_file_touch(uf, &p.mtime) : 0;
}

/* ---- the upload listener --------------------------------------------------
 */

/* Runs on an upload worker after each attempt. */
static void on_upload(void *ud, struct upload_file *f,
		      const struct upload_done *d)
{
	struct fs *fs = ud;
	fs_ino_t ino = (fs_ino_t)(uintptr_t)d->owner;
	struct fs_inode *in;
	struct fs_found found;
	struct buf dir;
	const char *name = NULL;
	bool detach = false;

	buf_init(&dir, 0);
	pthread_mutex_lock(&fs->mu);
	in = fs_inode_get(fs, ino);
	if (!in || in->uf != f || d->err) {
		pthread_mutex_unlock(&fs->mu);
		buf_fini(&dir);
		return;
	}
	str_lcpy(in->etag, d->etag, sizeof(in->etag));
	fs_found_local(&found, CACHE_ENT_FILE, d->size, &in->posix,
		       fs_now_ms(fs));
	str_lcpy(found.etag, d->etag, sizeof(found.etag));
	name = strrchr(in->key, '/');
	name = name ? name + 1 : in->key;
	if (buf_append(&dir, in->key, (size_t)(name - in->key)))
		name = NULL;
	name = name ? str_dup(name) : NULL;
	if (d->clean && in->staged_refs == 0) {
		in->uf = NULL;
		in->attr_ms = d->etag[0] ? fs_now_ms(fs) : 0;
		detach = true;
		fs_inode_maybe_free(fs, in);
	}
	pthread_mutex_unlock(&fs->mu);
	/* Stored: the parent's listing shows it from now on. */
	if (name)
		fs_listing_patch(fs, dir.data, name, &found);
	free((char *)name);
	buf_fini(&dir);
	if (detach)
		upload_file_release(f);
}

int fs_write_init(struct fs *fs)
{
	pthread_rwlockattr_t ra;

	fs->up = fs->cfg.upload;
	pthread_mutex_init(&fs->patch_mu, NULL);
	/* A directory rename waiting must not starve behind file renames. */
	pthread_rwlockattr_init(&ra);
	pthread_rwlockattr_setkind_np(
		&ra, PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
	pthread_rwlock_init(&fs->rename_lock, &ra);
	pthread_rwlockattr_destroy(&ra);
	if (fs->up)
		upload_mgr_set_listener(fs->up, on_upload, fs);
	return 0;
}

/* Staged files outlive the fs: upload/ finishes them on its own. */
void fs_write_fini(struct fs *fs)
{
	struct cache_map_node **b = fs->by_ino.buckets;

	if (fs->up)
		upload_mgr_set_listener(fs->up, NULL, NULL);
	for (size_t i = 0; b && i < fs->by_ino.nbuckets; i++)
		for (struct cache_map_node *n = b[i]; n; n = n->next) {
			struct fs_inode *in =
				CACHE_CONTAINER_OF(n, struct fs_inode, by_ino);

			if (in->uf) {
				if (in->mtime_dirty)
					(void)upload_file_touch(
						in->uf, &in->posix.mtime);
				upload_file_release(in->uf);
				in->uf = NULL;
			}
		}
	pthread_rwlock_destroy(&fs->rename_lock);
	pthread_mutex_destroy(&fs->patch_mu);
}

/* ---- handles ------------------------------------------------------------
 */

static int open_pin(struct fs *fs, fs_ino_t ino, struct fs_inode **out)
{
	struct fs_inode *in;
	int err = 0;

	pthread_mutex_lock(&fs->mu);
	in = fs_inode_get(fs, ino);
	if (!in)
		err = -ESTALE;
	else if (in->type == CACHE_ENT_DIR)
		err = -EISDIR;
	else if (in->type == CACHE_ENT_SYMLINK)
		err = -ELOOP;
	else
		in->open_count++;
	pthread_mutex_unlock(&fs->mu);
	*out = in;
	return err;
}

static void open_unpin(struct fs *fs, struct fs_inode *in, bool counted)
{
	pthread_mutex_lock(&fs->mu);
	in->open_count--;
	if (counted)
		fs->st.open_files--;
	fs_inode_maybe_free(fs, in);
	pthread_mutex_unlock(&fs->mu);
}

/* Truncate a staged file (held by the caller) and show it. */
static int stage_truncate(struct fs *fs, struct fs_inode *in, uint64_t size)
{
	int err = upload_file_truncate(in->uf, size);

	if (err)
		return err;
	pthread_mutex_lock(&fs->mu);
	in->size = size;
	fs_now_real(&in->mtime);
	in->posix.mtime = in->mtime;
	in->posix.has_mtime = true;
	in->mtime_dirty = true;
	in->attr_ms = fs_now_ms(fs);
	pthread_mutex_unlock(&fs->mu);
	return 0;
}

int fs_staged_open(struct fs *fs, fs_ino_t ino, int flags, uint64_t *fh,
		   bool *keep_cache)
{
	bool wr = (flags & O_ACCMODE) != O_RDONLY, trunc = flags & O_TRUNC;
	struct staged_handle *h;
	struct fs_inode *in;
	int err;

	if ((wr || trunc) && !fs_writable(fs))
		return -EROFS;
	err = open_pin(fs, ino, &in);
	if (err)
		return err;
	h = calloc(1, sizeof(*h));
	err = h ? fs_stage_attach(fs, in, trunc) : -ENOMEM;
	if (err)
		goto fail;
	if (trunc)
		err = stage_truncate(fs, in, 0);
	if (err) {
		fs_stage_put(fs, in, true);
		goto fail;
	}
	h->ino = ino;
	h->in = in;
	h->uf = in->uf; /* stable: our staged_refs keeps it attached */
	h->writable = wr;
	if (wr)
		upload_file_hold(h->uf);
	pthread_mutex_lock(&fs->mu);
	fs->st.open_files++;
	pthread_mutex_unlock(&fs->mu);
	*keep_cache = false;
	*fh = (uint64_t)(uintptr_t)h | 1;
	fs_handle_add(fs, &h->link, *fh);
	return 0;

fail:
	free(h);
	open_unpin(fs, in, false);
	return err;
}

int fs_staged_read(struct fs *fs, uint64_t fh, uint64_t off, size_t size,
		   fs_read_cb cb, void *ud)
{
	struct staged_handle *h = handle_of(fh);
	struct iovec iov;
	char *buf = malloc(size ? size : 1);
	ssize_t n;

	(void)fs;
	if (!buf)
		return -ENOMEM;
	n = upload_file_pread(h->uf, buf, size, off);
	if (n < 0) {
		free(buf);
		return (int)n;
	}
	iov.iov_base = buf;
	iov.iov_len = (size_t)n;
	cb(ud, 0, &iov, 1);
	free(buf);
	return 0;
}

void fs_staged_release(struct fs *fs, uint64_t fh)
{
	struct staged_handle *h = handle_of(fh);

	fs_handle_del(fs, &h->link);
	if (h->writable) {
		(void)push_mtime(fs, h->in, h->uf);
		upload_file_unhold(h->uf);
	}
	fs_stage_put(fs, h->in, true);
	open_unpin(fs, h->in, true);
	free(h);
}

ssize_t fs_write(struct fs *fs, uint64_t fh, const void *buf, size_t size,
		 uint64_t off)
{
	struct staged_handle *h;
	struct fs_inode *in;
	ssize_t n;

	if (!fs_writable(fs))
		return -EROFS;
	if (!fs_fh_is_staged(fh))
		return -EBADF; /* a read-only handle */
	h = handle_of(fh);
	if (!h->writable)
		return -EBADF;
	n = upload_file_write(h->uf, buf, size, off);
	if (n <= 0)
		return n;
	in = h->in;
	pthread_mutex_lock(&fs->mu);
	if (off + (uint64_t)n > in->size)
		in->size = off + (uint64_t)n;
	fs_now_real(&in->mtime);
	in->posix.mtime = in->mtime;
	in->posix.has_mtime = true;
	in->mtime_dirty = true;
	in->attr_ms = fs_now_ms(fs);
	pthread_mutex_unlock(&fs->mu);
	return n;
}

int fs_flush(struct fs *fs, uint64_t fh)
{
	struct staged_handle *h;

	if (!fs_fh_is_staged(fh))
		return 0;
	h = handle_of(fh);
	return h->writable ? push_mtime(fs, h->in, h->uf) : 0;
}

int fs_fsync(struct fs *fs, uint64_t fh, bool datasync)
{
	struct staged_handle *h;
	int err;

	(void)datasync; /* data and metadata travel in one request */
	if (!fs_fh_is_staged(fh))
		return 0;
	h = handle_of(fh);
	err = push_mtime(fs, h->in, h->uf);
	if (!err)
		err = upload_file_sync(h->uf);
	/* The caller learns "not stored" (EIO), or a refusal it can act on;
	 * a transport's errno (ECONNREFUSED, EAGAIN) means nothing to it. */
	if (err && err != -EACCES && err != -EPERM && err != -ENOSPC &&
	    err != -EDQUOT && err != -ENOMEM)
		err = -EIO;
	return err;
}

/* ---- create ---------------------------------------------------------------
 */

static int create_new(struct fs *fs, struct fs_inode *dir, const char *dirpfx,
		      const char *name, const char *key, mode_t mode,
		      struct fs_entry *out, struct fs_inode **inp)
{
	struct oss_posix_meta posix = { .has_mode = true, .has_mtime = true };
	struct upload_file *uf = NULL, *spare = NULL;
	struct fs_inode *in;
	struct fs_found f;
	int err;

	posix.mode = S_IFREG | (mode & 07777);
	fs_now_real(&posix.mtime);
	fs_found_local(&f, CACHE_ENT_FILE, 0, &posix, fs_now_ms(fs));
	pthread_mutex_lock(&fs->mu);
	in = fs_inode_enter(fs, dir->ino, key, &f, true, f.fetched_ms, out);
	if (in)
		in->open_count++; /* the handle's pin */
	pthread_mutex_unlock(&fs->mu);
	if (!in)
		return -ENOMEM;
	err = upload_file_new(fs->up, key, &posix, (void *)(uintptr_t)in->ino,
			      &uf);
	pthread_mutex_lock(&fs->mu);
	if (!err)
		stage_install(fs, in, uf, &spare);
	if (err) {
		in->open_count--;
		in->nlookup--;
		fs_inode_maybe_free(fs, in);
	}
	pthread_mutex_unlock(&fs->mu);
	if (spare) {
		/* Someone opened the name meanwhile: theirs is the file. */
		bool r;

		upload_file_discard(spare, &r);
		upload_file_release(spare);
	}
	if (!err) {
		f.size = 0;
		fs_listing_patch(fs, dirpfx, name, &f);
		*inp = in;
	}
	return err;
}

int fs_create(struct fs *fs, fs_ino_t parent, const char *name, mode_t mode,
	      int flags, struct fs_entry *out, uint64_t *fh)
{
	struct staged_handle *h = NULL;
	struct fs_inode *dir, *in = NULL;
	struct buf dirpfx, key;
	fs_ino_t ino = 0;
	bool keep;
	int err;

	memset(out, 0, sizeof(*out));
	if (!fs_writable(fs))
		return -EROFS;
	buf_init(&dirpfx, 0);
	buf_init(&key, 0);
	err = fs_child_key(fs, parent, name, &dir, &dirpfx, &key);
	if (!err)
		err = fs_name_exists(fs, parent, name, &ino);
	if (err < 0)
		goto out;
	if (err == 1) {
		/* The kernel thought it missing; it exists after all. */
		err = flags & O_EXCL ? -EEXIST
				     : fs_open(fs, ino, flags, fh, &keep);
		if (!err)
			err = fs_getattr(fs, ino, &out->attr,
					 &out->attr_timeout_s);
		if (err)
			fs_forget(fs, ino, 1);
		out->ino = err ? 0 : ino;
		out->generation = 1;
		out->entry_timeout_s = out->attr_timeout_s;
		goto out;
	}
	h = calloc(1, sizeof(*h));
	err = h ? create_new(fs, dir, dirpfx.data, name, key.data, mode, out,
			     &in)
		: -ENOMEM;
	if (err)
		goto out;
	h->ino = in->ino;
	h->in = in;
	h->uf = in->uf;
	h->writable = (flags & O_ACCMODE) != O_RDONLY;
	if (h->writable)
		upload_file_hold(h->uf);
	pthread_mutex_lock(&fs->mu);
	fs->st.open_files++;
	pthread_mutex_unlock(&fs->mu);
	*fh = (uint64_t)(uintptr_t)h | 1;
	fs_handle_add(fs, &h->link, *fh);
	h = NULL;
out:
	free(h);
	buf_fini(&key);
	buf_fini(&dirpfx);
	return err;
}

/* ---- setattr ------------------------------------------------------------
 */

static void apply_posix(struct fs *fs, const struct stat *attr, int to_set,
			struct oss_posix_meta *p)
{
	if (to_set & FS_SET_MODE)
		p->mode =
			(p->mode & S_IFMT) | ((uint32_t)attr->st_mode & 07777);
	if (to_set & FS_SET_UID) {
		p->has_uid = true;
		p->uid = (uint32_t)attr->st_uid;
	}
	if (to_set & FS_SET_GID) {
		p->has_gid = true;
		p->gid = (uint32_t)attr->st_gid;
	}
	if (to_set & FS_SET_MTIME_NOW) {
		p->has_mtime = true;
		fs_now_real(&p->mtime);
	} else if (to_set & FS_SET_MTIME) {
		p->has_mtime = true;
		p->mtime = attr->st_mtim;
	}
	(void)fs;
}

/* Rewrite the stored metadata of something that is not staged. */
static int store_posix(struct fs *fs, struct fs_inode *in, const char *key,
		       uint64_t size, const struct oss_posix_meta *p)
{
	struct oss_put_params put;
	struct oss_error oerr;
	char *target = NULL;
	struct buf marker;
	int err;

	oss_error_clear(&oerr);
	switch (in->type) {
	case CACHE_ENT_FILE:
		return upload_copy_object(fs->up, key, key, size, p);
	case CACHE_ENT_SYMLINK:
		err = fs_readlink(fs, in->ino, &target);
		if (!err)
			err = fs->store->ops->put_symlink(fs->store->impl, key,
							  target, p, &oerr);
		free(target);
		return err;
	default:
		if (in == fs->root)
			return 0; /* no object to keep it in: this mount only */
		buf_init(&marker, 0);
		err = buf_appendf(&marker, "%s/", key);
		memset(&put, 0, sizeof(put));
		put.key = marker.data;
		put.data = "";
		put.fd = -1;
		put.content_type = "application/x-directory";
		put.posix = p;
		if (!err)
			err = fs->store->ops->put(fs->store->impl, &put, &oerr);
		buf_fini(&marker);
		return err;
	}
}

static int setattr_meta(struct fs *fs, struct fs_inode *in,
			const struct stat *attr, int to_set)
{
	struct upload_file *uf;
	struct oss_posix_meta p;
	uint64_t size;
	char *key;
	int err;

	pthread_mutex_lock(&fs->mu);
	fs_inode_posix(fs, in, &p);
	apply_posix(fs, attr, to_set, &p);
	uf = in->uf;
	if (uf)
		in->staged_refs++;
	key = str_dup(in->key);
	size = in->size;
	pthread_mutex_unlock(&fs->mu);
	if (!key)
		err = -ENOMEM;
	else if (uf)
		err = upload_file_set_posix(uf, &p);
	else
		err = store_posix(fs, in, key, size, &p);
	if (!err) {
		struct upload_file *late = NULL;

		pthread_mutex_lock(&fs->mu);
		in->posix = p;
		in->has_meta = true;
		in->mtime_dirty = false;
		if (p.has_mtime)
			in->mtime = p.mtime;
		in->attr_ms = fs_now_ms(fs);
		/* Opened for writing while the copy ran: the staged file
		 * took the old metadata and would store it again. */
		if (!uf && in->uf) {
			late = in->uf;
			in->staged_refs++;
		}
		pthread_mutex_unlock(&fs->mu);
		if (late) {
			err = upload_file_set_posix(late, &p);
			fs_stage_put(fs, in, true);
		}
	}
	if (uf)
		fs_stage_put(fs, in, true);
	free(key);
	return err;
}

static int setattr_size(struct fs *fs, struct fs_inode *in, uint64_t size)
{
	int err;

	if (in->type == CACHE_ENT_DIR)
		return -EISDIR;
	if (in->type != CACHE_ENT_FILE)
		return -EINVAL;
	err = fs_stage_attach(fs, in, size == 0);
	if (err)
		return err;
	err = stage_truncate(fs, in, size);
	if (!err)
		err = push_mtime(fs, in, in->uf);
	fs_stage_put(fs, in, true);
	return err;
}

int fs_setattr(struct fs *fs, fs_ino_t ino, const struct stat *attr, int to_set,
	       struct stat *out, double *attr_timeout_s)
{
	const int meta = FS_SET_MODE | FS_SET_UID | FS_SET_GID | FS_SET_MTIME |
			 FS_SET_MTIME_NOW;
	struct fs_inode *in;
	int err = 0;

	if (!fs_writable(fs))
		return -EROFS;
	pthread_mutex_lock(&fs->mu);
	in = fs_inode_get(fs, ino);
	if (in)
		in->open_count++; /* pinned for the call */
	pthread_mutex_unlock(&fs->mu);
	if (!in)
		return -ESTALE;
	if (to_set & FS_SET_SIZE)
		err = setattr_size(fs, in, (uint64_t)attr->st_size);
	/* atime and ctime are not kept: nothing to store for them. */
	if (!err && (to_set & meta))
		err = setattr_meta(fs, in, attr, to_set);
	pthread_mutex_lock(&fs->mu);
	if (!err) {
		fs_inode_fill_stat(fs, in, out);
		*attr_timeout_s = (double)fs->cfg.attr_ttl_ms / 1000.0;
	}
	in->open_count--;
	fs_inode_maybe_free(fs, in);
	pthread_mutex_unlock(&fs->mu);
	return err;
}
