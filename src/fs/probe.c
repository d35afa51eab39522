/* Asking the store what one key is, with as few requests as possible. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "fs_i.h"

void fs_list_page_free(struct oss_list_page *p)
{
	/* oss.h: entry keys and the token are owned by the page. */
	for (size_t i = 0; i < p->n; i++)
		free(p->entries[i].key);
	free(p->entries);
	free(p->next_token);
	memset(p, 0, sizeof(*p));
}

bool fs_meta_is_s3_symlink(const struct fs *fs, const struct oss_object_meta *m)
{
	return fs->cfg.s3 && m->posix.has_mode &&
	       (m->posix.mode & S_IFMT) == S_IFLNK;
}

static void found_from_head(const struct fs *fs,
			    const struct oss_object_meta *m, uint64_t now,
			    struct fs_found *f)
{
	memset(f, 0, sizeof(*f));
	f->type = m->type == OSS_OBJ_SYMLINK || fs_meta_is_s3_symlink(fs, m)
			  ? CACHE_ENT_SYMLINK
			  : CACHE_ENT_FILE;
	f->size = m->size;
	f->mtime = m->mtime;
	str_lcpy(f->etag, m->etag, sizeof(f->etag));
	/* A HEAD is authoritative about metadata, present or not. */
	f->has_meta = true;
	f->posix = m->posix;
	f->fetched_ms = now;
}

static int head_key(struct fs *fs, const char *key, uint64_t now,
		    struct fs_found *f)
{
	struct oss_object_meta m;
	struct oss_error oerr;
	int err;

	memset(&m, 0, sizeof(m));
	memset(&oerr, 0, sizeof(oerr));
	err = oss_head(fs->store, key, &m, &oerr);
	if (!err)
		found_from_head(fs, &m, now, f);
	free(m.symlink_target);
	return err;
}

int fs_probe_meta(struct fs *fs, const char *key, enum cache_ent_type t,
		  struct oss_object_meta *m)
{
	struct oss_error oerr;
	struct buf marker;
	int err;

	memset(m, 0, sizeof(*m));
	memset(&oerr, 0, sizeof(oerr));
	/* An S3-mode symlink is an ordinary object: HEAD does not follow. */
	if (t == CACHE_ENT_SYMLINK && !fs->cfg.s3)
		return fs->store->ops->get_symlink_meta(fs->store->impl, key, m,
							&oerr);
	if (t != CACHE_ENT_DIR)
		return oss_head(fs->store, key, m, &oerr);
	buf_init(&marker, 0);
	err = buf_appendf(&marker, "%s/", key);
	if (!err)
		err = oss_head(fs->store, marker.data, m, &oerr);
	buf_fini(&marker);
	return err;
}

/* A directory or symlink found by a LIST: its marker's or link's own
 * metadata, unless meta_fill=off.  Failing to read it is no failure of
 * the lookup: f stays as the listing shows it. */
static void probe_found_meta(struct fs *fs, const char *key, struct fs_found *f)
{
	struct oss_object_meta m;
	int err;

	if (fs->cfg.meta_fill == FS_META_FILL_OFF)
		return;
	err = fs_probe_meta(fs, key, f->type, &m);
	if (!err) {
		f->has_meta = true;
		f->posix = m.posix;
		if (f->type == CACHE_ENT_DIR)
			f->mtime = m.mtime; /* the marker's Last-Modified */
	} else if (err == -ENOENT && f->type == CACHE_ENT_DIR) {
		f->has_meta = true; /* no marker: the defaults are right */
	} else {
		log_debug("metadata of \"%s\" not read: %s", key,
			  strerror(-err));
	}
	oss_object_meta_fini(&m);
}

static int list_keys(struct fs *fs, const char *prefix, const char *delim,
		     int max_keys, struct oss_list_page *page)
{
	struct oss_list_params p = { .prefix = prefix,
				     .delimiter = delim,
				     .max_keys = max_keys };
	struct oss_error oerr;

	memset(page, 0, sizeof(*page));
	memset(&oerr, 0, sizeof(oerr));
	return oss_list(fs->store, &p, page, &oerr);
}

/* Does anything exist under prefix (a "dir/")?  1 yes, 0 no, -errno.
 * *marker_mtime is set when the first key is the marker itself. */
static int prefix_exists(struct fs *fs, const char *prefix,
			 struct timespec *marker_mtime)
{
	struct oss_list_page page;
	int err = list_keys(fs, prefix, NULL, 1, &page);

	if (err)
		return err;
	err = page.n > 0;
	if (page.n && strcmp(page.entries[0].key, prefix) == 0 &&
	    !page.entries[0].is_prefix)
		*marker_mtime = page.entries[0].mtime;
	fs_list_page_free(&page);
	return err;
}

static void found_dir(uint64_t now, const struct timespec *mtime,
		      struct fs_found *f)
{
	memset(f, 0, sizeof(*f));
	f->type = CACHE_ENT_DIR;
	if (mtime)
		f->mtime = *mtime;
	f->fetched_ms = now;
}

static void found_from_entry(const struct oss_list_entry *e, uint64_t now,
			     struct fs_found *f)
{
	memset(f, 0, sizeof(*f));
	f->type =
		e->type == OSS_OBJ_SYMLINK ? CACHE_ENT_SYMLINK : CACHE_ENT_FILE;
	f->size = e->size;
	f->mtime = e->mtime;
	str_lcpy(f->etag, e->etag, sizeof(f->etag));
	f->fetched_ms = now;
}

/* Scan a LIST prefix=key delimiter=/ page for key itself and key/.
 * Returns 1 when key/ is known present, 0 when known absent, 2 when the
 * page ended before key/ would sort (truncated). */
static int scan_page(const struct oss_list_page *page, const char *key,
		     const char *keyslash, const struct oss_list_entry **obj)
{
	const char *max = NULL;

	*obj = NULL;
	for (size_t i = 0; i < page->n; i++) {
		const struct oss_list_entry *e = &page->entries[i];

		if (e->is_prefix && strcmp(e->key, keyslash) == 0)
			return 1;
		if (!e->is_prefix && strcmp(e->key, key) == 0)
			*obj = e;
		/* Contents and prefixes may come in two runs: take the
		 * largest key of both. */
		if (!max || strcmp(e->key, max) > 0)
			max = e->key;
	}
	if (page->truncated && (!max || strcmp(max, keyslash) < 0))
		return 2;
	return 0;
}

int fs_probe_name(struct fs *fs, const char *key, struct fs_found *f)
{
	const struct oss_list_entry *obj;
	struct oss_list_page page;
	uint64_t now = fs_now_ms(fs);
	struct timespec mt = { 0, 0 };
	struct buf keyslash;
	int err, dir;

	memset(f, 0, sizeof(*f));
	f->fetched_ms = now;
	buf_init(&keyslash, 0);
	err = buf_appendf(&keyslash, "%s/", key);
	if (err)
		goto out;
	err = list_keys(fs, key, "/", FS_LOOKUP_LIST_KEYS, &page);
	if (err)
		goto out;
	dir = scan_page(&page, key, keyslash.data, &obj);
	if (dir == 2)
		dir = prefix_exists(fs, keyslash.data, &mt);
	if (dir < 0) {
		err = dir;
	} else if (dir) {
		/* A directory wins over an object of the same name. */
		found_dir(now, NULL, f);
		probe_found_meta(fs, key, f);
	} else if (!obj) {
		err = -ENOENT;
	} else if (obj->type == OSS_OBJ_SYMLINK) {
		/* HEAD would follow the link. */
		found_from_entry(obj, now, f);
		probe_found_meta(fs, key, f);
	} else {
		err = head_key(fs, key, now, f);
	}
	fs_list_page_free(&page);
out:
	buf_fini(&keyslash);
	return err;
}

/* The parent's fresh listing, if any, settles it: 1 answered (*err set),
 * 0 not. */
static int probe_in_parent_listing(struct fs *fs, const char *key, uint64_t now,
				   struct fs_found *f, int *err)
{
	const char *slash = strrchr(key, '/');
	size_t dlen = slash ? (size_t)(slash - key) + 1 : 0;
	const struct cache_dirent *d;
	struct cache_listing *l;
	char *dir;

	/* Keys above the mount prefix are never asked about. */
	if (dlen < strlen(fs->prefix))
		return 0;
	dir = str_ndup(key, dlen);
	if (!dir)
		return 0;
	l = cache_meta_listing_get(fs->meta, dir, now, fs->cfg.dir_ttl_ms);
	free(dir);
	if (!l)
		return 0;
	d = cache_listing_find(l, key + dlen);
	if (d)
		fs_found_from_dirent(d, l->fetched_ms, f);
	*err = d ? 0 : -ENOENT;
	cache_listing_unref(l);
	return 1;
}

static int probe_dir(struct fs *fs, const char *key, uint64_t now,
		     struct fs_found *f)
{
	struct timespec mt = { 0, 0 };
	struct cache_listing *own;
	struct buf keyslash;
	int err;

	buf_init(&keyslash, 0);
	err = buf_appendf(&keyslash, "%s/", key);
	if (err)
		goto out;
	own = cache_meta_listing_get(fs->meta, keyslash.data, now,
				     fs->cfg.dir_ttl_ms);
	if (own) {
		/* Its own fresh listing says whether it still exists. */
		err = own->n || own->has_marker ? 0 : -ENOENT;
		if (!err)
			found_dir(own->fetched_ms,
				  own->has_marker ? &own->marker_mtime : NULL,
				  f);
		cache_listing_unref(own);
		goto out;
	}
	err = prefix_exists(fs, keyslash.data, &mt);
	if (err > 0) {
		found_dir(now, &mt, f);
		err = 0;
	} else if (err == 0) {
		err = -ENOENT;
	}
out:
	buf_fini(&keyslash);
	return err;
}

int fs_probe_known(struct fs *fs, const char *key, enum cache_ent_type t,
		   struct fs_found *f)
{
	uint64_t now = fs_now_ms(fs);
	int err;

	memset(f, 0, sizeof(*f));
	if (probe_in_parent_listing(fs, key, now, f, &err))
		return err;
	switch (t) {
	case CACHE_ENT_DIR:
		return probe_dir(fs, key, now, f);
	case CACHE_ENT_FILE:
		return head_key(fs, key, now, f);
	default:
		return fs_probe_name(fs, key, f);
	}
}
