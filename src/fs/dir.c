/* Directories: listings, opendir snapshots and readdir(plus).
 *
 * Metadata fill.  A LIST carries no x-oss-meta-*, so a listing alone
 * would show every entry with the default mode and the object's
 * Last-Modified, and rsync -a on a fresh mount would send every file
 * again.  So a listing, once fetched and before anyone sees it, asks
 * each entry (HEAD KEY for a file, HEAD KEY/ for a directory's marker,
 * GetSymlink for a symlink: HEAD would follow it), up to
 * FS_FILL_THREADS at once, and keeps the answers in the entries, where
 * readdirplus and lookups find them.  meta_fill=auto first asks the
 * first FS_FILL_SAMPLE entries (files and symlinks before directories)
 * and the rest only when one of them has metadata: a directory of plain
 * objects uploaded by another tool costs FS_FILL_SAMPLE HEADs, not one
 * per object.  A refetched listing keeps the answers of the previous one
 * for entries whose ETag, size and Last-Modified did not change (and for
 * directories), so a listing refreshed after dir_timeout asks only what
 * changed.  A request that fails leaves its entry as the listing shows
 * it: the listing itself never fails for want of metadata.
 *
 * Without waiting.  In auto mode the sample starts as soon as the first
 * page is in, on a thread of its own, so a listing of several pages has
 * its answer by the time the last page arrives (ls -l of 10,000 plain
 * objects pays no round trip for it).  A listing of one page is handed
 * out at once and its fill finishes in the background (struct
 * fill_task): until then readdirplus gives its unasked entries without
 * attributes (the kernel then looks each one up when it needs them) and
 * lookups in the directory wait for the fill.  So `ls` or a loader's
 * listdir of directory after directory pays no round trip, and whatever
 * shows attributes shows the stored ones.  The filled listing replaces
 * the one handed out in the cache, or lends its answers to a listing a
 * write patched meanwhile.
 */
#include <errno.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fs_i.h"
#include "upload.h"

#define FS_FILL_SAMPLE	8
#define FS_FILL_THREADS 64

struct fill_sample;

/* A fill finishing in the background for a listing already handed out. */
struct fill_task {
	struct cache_map_node node; /* in fs->fills until done */
	struct fs *fs;
	struct fill_sample *s;	      /* the sample, running */
	struct cache_listing *l;      /* as handed out */
	struct cache_listing *filled; /* guarded by: fs->mu; once done */
	bool done;		      /* guarded by: fs->mu */
	unsigned refs;		      /* guarded by: fs->mu */
	char dir[];
};

struct open_dir {
	fs_ino_t ino;
	fs_ino_t parent;
	char *dir; /* key prefix of the entries */
	struct cache_listing *l;
	struct fill_task *fill; /* its listing's fill, if it was running */
	struct cache_listing *filled; /* or the fill's result, if done */
};

struct warned_key {
	struct cache_map_node node;
	char key[];
};

static bool warned_eq(const struct cache_map_node *n, const void *key)
{
	const struct warned_key *w =
		CACHE_CONTAINER_OF(n, struct warned_key, node);

	return strcmp(w->key, key) == 0;
}

/* Keys are arbitrary bytes: show control characters as \xNN so a key
 * cannot forge log lines. */
static void log_skipped(const char *key, const char *why)
{
	struct buf b;

	buf_init(&b, 0);
	for (const unsigned char *p = (const unsigned char *)key; *p; p++) {
		if (*p < 0x20 || *p == 0x7f || *p == '\\' || *p == '"')
			buf_appendf(&b, "\\x%02x", *p);
		else
			buf_append(&b, p, 1);
	}
	log_warn("skipping key \"%s\": %s", b.data, why);
	buf_fini(&b);
}

void fs_warn_key(struct fs *fs, const char *key, const char *why)
{
	uint64_t h = cache_hash_str(key);
	struct warned_key *w = NULL;
	size_t len = strlen(key);

	pthread_mutex_lock(&fs->mu);
	fs->st.skipped_keys++;
	/* Past the cap the set stops growing and we stop warning: a bucket
	 * full of bad keys must not fill the log on every listing. */
	if (fs->warned.n < FS_WARNED_MAX &&
	    !cache_map_find(&fs->warned, h, warned_eq, key)) {
		w = malloc(sizeof(*w) + len + 1);
		if (w) {
			memcpy(w->key, key, len + 1);
			cache_map_insert(&fs->warned, &w->node, h);
		}
	}
	pthread_mutex_unlock(&fs->mu);
	if (w)
		log_skipped(key, why);
}

void fs_found_from_dirent(const struct cache_dirent *d, uint64_t fetched_ms,
			  struct fs_found *f)
{
	memset(f, 0, sizeof(*f));
	f->type = d->type;
	f->size = d->size;
	f->mtime = d->mtime;
	str_lcpy(f->etag, d->etag, sizeof(f->etag));
	f->fetched_ms = fetched_ms;
	f->has_meta = d->has_meta;
	f->posix.has_mode = d->posix.has_mode;
	f->posix.has_uid = d->posix.has_uid;
	f->posix.has_gid = d->posix.has_gid;
	f->posix.has_mtime = d->posix.has_mtime;
	f->posix.mode = d->posix.mode;
	f->posix.uid = d->posix.uid;
	f->posix.gid = d->posix.gid;
	f->posix.mtime = d->posix.mtime;
}

static const char *bad_name(const char *name)
{
	if (!*name)
		return "empty path segment";
	if (strcmp(name, ".") == 0 || strcmp(name, "..") == 0)
		return "\".\" and \"..\" cannot be file names";
	if (strlen(name) > FS_NAME_MAX)
		return "a name longer than 255 bytes";
	if (strchr(name, '/'))
		return "a name containing '/'";
	return NULL;
}

int fs_listing_add_key(struct cache_listing *l, const char *dir,
		       const struct oss_list_entry *e, const char **why)
{
	size_t dlen = strlen(dir), nlen;
	enum cache_ent_type type;
	char *name;
	int err;

	*why = NULL;
	if (strncmp(e->key, dir, dlen) != 0) {
		*why = "not under the directory listed";
		return 0;
	}
	if (!e->is_prefix && e->key[dlen] == '\0') {
		l->has_marker = true; /* "dir/" itself is not an entry */
		l->marker_mtime = e->mtime;
		return 0;
	}
	nlen = strlen(e->key + dlen);
	if (e->is_prefix && nlen && e->key[dlen + nlen - 1] == '/')
		nlen--;
	name = str_ndup(e->key + dlen, nlen);
	if (!name)
		return -ENOMEM;
	*why = bad_name(name);
	if (*why) {
		free(name);
		return 0;
	}
	if (e->is_prefix)
		type = CACHE_ENT_DIR;
	else
		type = e->type == OSS_OBJ_SYMLINK ? CACHE_ENT_SYMLINK
						  : CACHE_ENT_FILE;
	err = cache_listing_add(l, name, type, e->is_prefix ? 0 : e->size,
				e->is_prefix ? NULL : &e->mtime,
				e->is_prefix ? "" : e->etag);
	free(name);
	return err;
}

/* One listing entry under dir into l, warning of a skipped key. */
static int add_entry(struct fs *fs, struct cache_listing *l, const char *dir,
		     const struct oss_list_entry *e)
{
	const char *why;
	int err = fs_listing_add_key(l, dir, e, &why);

	if (!err && why)
		fs_warn_key(fs, e->key, why);
	return err;
}

static int list_page(struct fs *fs, const char *dir, const char *token,
		     struct oss_list_page *page)
{
	struct oss_list_params p = { .prefix = dir,
				     .delimiter = "/",
				     .token = token,
				     .max_keys = FS_LIST_PAGE_KEYS };
	struct oss_error oerr;

	memset(page, 0, sizeof(*page));
	memset(&oerr, 0, sizeof(oerr));
	return oss_list(fs->store, &p, page, &oerr);
}

static struct fill_sample *sample_start(struct fs *fs, const char *dir,
					const struct cache_listing *l);

/* Every page of dir, into a new finished listing; *pages says how many.
 * With sample set, the metadata sample starts after the first page
 * (*sample NULL when there was nothing to ask). */
static int fetch_listing(struct fs *fs, const char *dir,
			 struct cache_listing **out,
			 struct fill_sample **sample, unsigned *pages)
{
	struct cache_listing *l = cache_listing_new(fs_now_ms(fs));
	struct oss_list_page page;
	char *token = NULL;
	int err = l ? 0 : -ENOMEM;

	*pages = 0;
	while (!err) {
		err = list_page(fs, dir, token, &page);
		for (size_t i = 0; !err && i < page.n; i++)
			err = add_entry(fs, l, dir, &page.entries[i]);
		if (!err && ++*pages == 1 && sample)
			*sample = sample_start(fs, dir, l);
		free(token);
		token = page.next_token;
		page.next_token = NULL;
		if (!err && page.truncated && (!token || !*token)) {
			log_err("listing of \"%s\" is truncated without a "
				"continuation token",
				dir);
			err = -EIO;
		}
		if (!err && !page.truncated) {
			fs_list_page_free(&page);
			break;
		}
		fs_list_page_free(&page);
	}
	free(token);
	if (err) {
		cache_listing_unref(l);
		return err;
	}
	cache_listing_finish(l);
	*out = l;
	return 0;
}

/* ---- metadata fill ------------------------------------------------------ */

static bool posix_any(const struct cache_posix *p)
{
	return p->has_mode || p->has_uid || p->has_gid || p->has_mtime;
}

/* Entries of old that are still the same object version in l keep what
 * old's requests found.  A directory has no version in its parent's
 * listing: its marker's metadata is kept until the mount ends or the
 * listing is dropped (a change we make ourselves updates the inode). */
static void carry_meta(const struct cache_listing *old, struct cache_listing *l)
{
	for (size_t i = 0; i < l->n; i++) {
		struct cache_dirent *d = &l->ents[i];
		const struct cache_dirent *o = cache_listing_find(old, d->name);

		if (!o || !o->has_meta)
			continue;
		if ((o->type == CACHE_ENT_DIR) != (d->type == CACHE_ENT_DIR))
			continue;
		if (d->type != CACHE_ENT_DIR &&
		    (strcmp(o->etag, d->etag) != 0 || o->size != d->size ||
		     o->mtime.tv_sec != d->mtime.tv_sec))
			continue;
		d->has_meta = true;
		d->posix = o->posix;
		d->type = o->type; /* an S3-mode symlink stays one */
	}
}

struct fill_job {
	struct fs *fs;
	const char *dir;
	struct cache_listing *l;
	size_t *idx; /* the entries to ask */
	atomic_int failed;
	atomic_int first_err;
};

/* What the store said about d, into d: one thread per entry. */
static void dirent_take(struct fs *fs, struct cache_dirent *d,
			const struct oss_object_meta *m)
{
	const struct oss_posix_meta *p = &m->posix;

	d->posix = (struct cache_posix){
		.has_mode = p->has_mode,
		.has_uid = p->has_uid,
		.has_gid = p->has_gid,
		.has_mtime = p->has_mtime,
		.mode = p->mode,
		.uid = p->uid,
		.gid = p->gid,
		.mtime = p->mtime,
	};
	d->has_meta = true;
	if (d->type == CACHE_ENT_FILE && fs_meta_is_s3_symlink(fs, m))
		d->type = CACHE_ENT_SYMLINK;
}

static int fill_one(void *arg, size_t i)
{
	struct fill_job *j = arg;
	struct cache_dirent *d = &j->l->ents[j->idx[i]];
	struct oss_object_meta m;
	struct buf key;
	int err;

	buf_init(&key, 0);
	memset(&m, 0, sizeof(m));
	err = buf_appendf(&key, "%s%s", j->dir, d->name);
	if (!err)
		err = fs_probe_meta(j->fs, key.data, d->type, &m);
	if (!err) {
		dirent_take(j->fs, d, &m);
	} else if (err == -ENOENT && d->type == CACHE_ENT_DIR) {
		d->has_meta = true; /* no marker: the defaults are right */
	} else if (err != -ENOENT) {
		/* (A file gone since the LIST keeps what the LIST said.) */
		atomic_fetch_add(&j->failed, 1);
		atomic_store(&j->first_err, err);
	}
	oss_object_meta_fini(&m);
	buf_fini(&key);
	return 0; /* one entry's failure is not the listing's */
}

/* Ask the n entries in idx, many at once. */
static void fill_entries(struct fs *fs, const char *dir,
			 struct cache_listing *l, size_t *idx, size_t n)
{
	struct fill_job j = { .fs = fs, .dir = dir, .l = l, .idx = idx };

	if (!n)
		return;
	atomic_init(&j.failed, 0);
	atomic_init(&j.first_err, 0);
	(void)upload_parallel(FS_FILL_THREADS, n, fill_one, &j);
	if (atomic_load(&j.failed))
		log_debug("metadata of %d of %zu entries of \"%s\" not read "
			  "(%s): they show the listing's attributes",
			  atomic_load(&j.failed), n, dir,
			  strerror(-atomic_load(&j.first_err)));
}

/* The FS_FILL_SAMPLE first entries, files and symlinks before
 * directories, that were not asked yet, into idx; their count. */
static size_t pick_sample(const struct cache_listing *l, size_t *idx)
{
	size_t n = 0, seen = 0;

	for (int pass = 0; pass < 2; pass++)
		for (size_t i = 0; i < l->n && seen < FS_FILL_SAMPLE; i++) {
			const struct cache_dirent *d = &l->ents[i];

			if ((d->type == CACHE_ENT_DIR) != (pass == 1))
				continue;
			seen++;
			if (!d->has_meta)
				idx[n++] = i;
		}
	return n;
}

static bool listing_has_meta(const struct cache_listing *l)
{
	for (size_t i = 0; i < l->n; i++)
		if (l->ents[i].has_meta && posix_any(&l->ents[i].posix))
			return true;
	return false;
}

/* Complete l (fetched, not shared yet) with each entry's metadata, as
 * cfg.meta_fill says.  Never fails: at worst entries stay as listed. */
static void fill_listing(struct fs *fs, const char *dir,
			 struct cache_listing *l)
{
	size_t *idx, n = 0;

	if (fs->cfg.meta_fill == FS_META_FILL_OFF || !l->n)
		return;
	idx = malloc(l->n * sizeof(*idx));
	if (!idx)
		return;
	if (fs->cfg.meta_fill == FS_META_FILL_AUTO && !listing_has_meta(l)) {
		n = pick_sample(l, idx);
		fill_entries(fs, dir, l, idx, n);
		if (!listing_has_meta(l))
			goto out; /* plain objects: the listing says it all */
	}
	n = 0;
	for (size_t i = 0; i < l->n; i++)
		if (!l->ents[i].has_meta)
			idx[n++] = i;
	fill_entries(fs, dir, l, idx, n);
out:
	free(idx);
}

/* ---- the sample, on a thread of its own -------------------------------- */

struct fill_sample {
	struct fs *fs;
	char *dir;
	size_t n;
	char *names[FS_FILL_SAMPLE];
	enum cache_ent_type types[FS_FILL_SAMPLE];
	int errs[FS_FILL_SAMPLE];
	struct oss_object_meta metas[FS_FILL_SAMPLE];
	pthread_t thread;
};

static int sample_one(void *arg, size_t i)
{
	struct fill_sample *s = arg;
	struct buf key;

	buf_init(&key, 0);
	s->errs[i] = buf_appendf(&key, "%s%s", s->dir, s->names[i]);
	if (!s->errs[i])
		s->errs[i] = fs_probe_meta(s->fs, key.data, s->types[i],
					   &s->metas[i]);
	buf_fini(&key);
	return 0;
}

static void *sample_main(void *arg)
{
	struct fill_sample *s = arg;

	(void)upload_parallel(FS_FILL_SAMPLE, s->n, sample_one, s);
	return NULL;
}

static void sample_free(struct fill_sample *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->names[i]);
		oss_object_meta_fini(&s->metas[i]);
	}
	free(s->dir);
	free(s);
}

/* Start asking the first entries of l (its first page, in listing
 * order).  NULL when there is nothing to ask, or no memory or thread for
 * it: the caller then fills the listing itself. */
static struct fill_sample *sample_start(struct fs *fs, const char *dir,
					const struct cache_listing *l)
{
	size_t idx[FS_FILL_SAMPLE], n = pick_sample(l, idx);
	struct fill_sample *s = n ? calloc(1, sizeof(*s)) : NULL;

	if (!s)
		return NULL;
	s->fs = fs;
	s->dir = str_dup(dir);
	for (size_t i = 0; i < n; i++) {
		s->names[i] = str_dup(l->ents[idx[i]].name);
		s->types[i] = l->ents[idx[i]].type;
		s->n += s->names[i] != NULL;
		if (!s->names[i])
			break;
	}
	if (!s->dir || s->n != n ||
	    pthread_create(&s->thread, NULL, sample_main, s) != 0) {
		sample_free(s);
		return NULL;
	}
	return s;
}

/* Wait for the sample and put its answers into l (finished, not shared
 * yet); frees s. */
static void sample_finish(struct fill_sample *s, struct cache_listing *l)
{
	(void)pthread_join(s->thread, NULL);
	for (size_t i = 0; l && i < s->n; i++) {
		struct cache_dirent *d =
			(struct cache_dirent *)cache_listing_find(l,
								  s->names[i]);

		if (!d || d->has_meta || d->type != s->types[i])
			continue;
		if (!s->errs[i])
			dirent_take(s->fs, d, &s->metas[i]);
		else if (s->errs[i] == -ENOENT && d->type == CACHE_ENT_DIR)
			d->has_meta = true; /* no marker */
	}
	sample_free(s);
}

/* ---- fills finishing in the background ---------------------------------- */

static bool task_eq(const struct cache_map_node *n, const void *key)
{
	const struct fill_task *t =
		CACHE_CONTAINER_OF(n, struct fill_task, node);

	return strcmp(t->dir, key) == 0;
}

/* Caller holds mu. */
static struct fill_task *task_find(struct fs *fs, const char *dir)
{
	struct cache_map_node *n =
		cache_map_find(&fs->fills, cache_hash_str(dir), task_eq, dir);

	return n ? CACHE_CONTAINER_OF(n, struct fill_task, node) : NULL;
}

/* Caller holds mu. */
static void task_unref(struct fill_task *t)
{
	if (--t->refs)
		return;
	cache_listing_unref(t->l);
	if (t->filled)
		cache_listing_unref(t->filled);
	free(t);
}

/* A finished copy of l, or NULL. */
static struct cache_listing *listing_copy(const struct cache_listing *l)
{
	struct cache_listing *nl = cache_listing_new(l->fetched_ms);

	if (nl && fs_copy_listing(l, NULL, nl) != 0) {
		cache_listing_unref(nl);
		nl = NULL;
	}
	if (nl)
		cache_listing_finish(nl);
	return nl;
}

/* The filled listing takes the place of the one handed out; if a write
 * patched that one meanwhile, the patched one gets the answers. */
static void task_publish(struct fs *fs, struct fill_task *t)
{
	struct cache_listing *cur, *nl;

	pthread_mutex_lock(&fs->patch_mu);
	cur = cache_meta_listing_get(fs->meta, t->dir, fs_now_ms(fs),
				     fs->cfg.dir_ttl_ms);
	if (cur == t->l) {
		(void)cache_meta_listing_put(fs->meta, t->dir, t->filled);
	} else if (cur && (nl = listing_copy(cur)) != NULL) {
		carry_meta(t->filled, nl);
		(void)cache_meta_listing_put(fs->meta, t->dir, nl);
		cache_listing_unref(nl);
	}
	if (cur)
		cache_listing_unref(cur);
	pthread_mutex_unlock(&fs->patch_mu);
}

static void *task_main(void *arg)
{
	struct fill_task *t = arg;
	struct fs *fs = t->fs;
	struct cache_listing *l = listing_copy(t->l);

	sample_finish(t->s, l);
	t->s = NULL;
	if (l && listing_has_meta(l))
		fill_listing(fs, t->dir, l); /* the rest, now */
	pthread_mutex_lock(&fs->mu);
	t->filled = l;
	pthread_mutex_unlock(&fs->mu);
	if (l)
		task_publish(fs, t);
	pthread_mutex_lock(&fs->mu);
	t->done = true;
	cache_map_remove(&fs->fills, &t->node);
	task_unref(t);
	fs->fills_running--;
	pthread_cond_broadcast(&fs->fill_cv);
	pthread_mutex_unlock(&fs->mu);
	return NULL;
}

/* Let l (finished, about to be shared) be filled in the background,
 * from sample s.  False when that cannot start: s is then the caller's
 * still. */
static bool task_start(struct fs *fs, const char *dir, struct cache_listing *l,
		       struct fill_sample *s)
{
	size_t len = strlen(dir);
	struct fill_task *t = calloc(1, sizeof(*t) + len + 1);
	pthread_attr_t attr;
	pthread_t th;
	bool ok = false;

	if (!t)
		return false;
	*t = (struct fill_task){ .fs = fs, .s = s, .l = l, .refs = 1 };
	memcpy(t->dir, dir, len + 1);
	cache_listing_ref(l);
	pthread_mutex_lock(&fs->mu);
	/* (Two fills of one directory may run at once: waiters wait for
	 * both, and each publishes only over its own listing.) */
	if (pthread_attr_init(&attr) == 0) {
		pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
		cache_map_insert(&fs->fills, &t->node, cache_hash_str(dir));
		fs->fills_running++;
		t->refs++; /* the thread's */
		ok = pthread_create(&th, &attr, task_main, t) == 0;
		if (!ok) {
			cache_map_remove(&fs->fills, &t->node);
			fs->fills_running--;
			t->refs--;
		}
		pthread_attr_destroy(&attr);
	}
	if (!ok)
		t->s = NULL; /* not ours to free */
	task_unref(t);
	pthread_mutex_unlock(&fs->mu);
	return ok;
}

int fs_fills_init(struct fs *fs)
{
	fs->fills_running = 0;
	pthread_cond_init(&fs->fill_cv, NULL);
	return cache_map_init(&fs->fills, 16);
}

void fs_fills_fini(struct fs *fs)
{
	fs_settle(fs);
	cache_map_fini(&fs->fills);
	pthread_cond_destroy(&fs->fill_cv);
}

void fs_settle(struct fs *fs)
{
	pthread_mutex_lock(&fs->mu);
	while (fs->fills_running)
		pthread_cond_wait(&fs->fill_cv, &fs->mu);
	pthread_mutex_unlock(&fs->mu);
}

void fs_fill_wait(struct fs *fs, const char *dir)
{
	pthread_mutex_lock(&fs->mu);
	while (task_find(fs, dir))
		pthread_cond_wait(&fs->fill_cv, &fs->mu);
	pthread_mutex_unlock(&fs->mu);
}

int fs_listing_get(struct fs *fs, const char *dir, struct cache_listing **out)
{
	struct cache_listing *l, *old;
	struct fill_sample *s = NULL;
	uint64_t now = fs_now_ms(fs), gen;
	unsigned pages, slot = fs_patch_slot(dir);
	bool bg = false, put;
	int err;

	l = cache_meta_listing_get(fs->meta, dir, now, fs->cfg.dir_ttl_ms);
	if (l) {
		*out = l;
		return 0;
	}
	pthread_mutex_lock(&fs->patch_mu);
	gen = fs->patch_gen[slot];
	pthread_mutex_unlock(&fs->patch_mu);
	/* The expired listing, if still kept: its answers carry over. */
	old = cache_meta_listing_get(fs->meta, dir, now, UINT32_MAX);
	err = fetch_listing(
		fs, dir, &l,
		fs->cfg.meta_fill == FS_META_FILL_AUTO && !old ? &s : NULL,
		&pages);
	if (!err && old)
		carry_meta(old, l);
	if (old)
		cache_listing_unref(old);
	if (err) {
		if (s)
			sample_finish(s, NULL);
		return err;
	}
	/* One page: the sample has only just started; finish without us.
	 * The listing is shared and the fill registered under patch_mu, so
	 * the fill cannot publish before the listing it replaces is in. */
	if (s && pages == 1) {
		pthread_mutex_lock(&fs->patch_mu);
		/* Patched while we listed (a mkdir, a stored file): this
		 * listing may predate it, so it is used but not cached. */
		put = fs->patch_gen[slot] == gen;
		if (put) {
			l->meta_deferred = true;
			(void)cache_meta_listing_put(fs->meta, dir, l);
			bg = task_start(fs, dir, l, s);
		}
		pthread_mutex_unlock(&fs->patch_mu);
		if (!bg) {
			/* No thread: l stays as listed. */
			if (put)
				log_debug("no thread to read the metadata of "
					  "\"%s\"",
					  dir);
			sample_finish(s, NULL);
		}
		*out = l;
		return 0;
	}
	if (s)
		sample_finish(s, l);
	fill_listing(fs, dir, l);
	/* Not being able to cache it is no reason to fail the call. */
	pthread_mutex_lock(&fs->patch_mu);
	if (fs->patch_gen[slot] == gen)
		(void)cache_meta_listing_put(fs->meta, dir, l);
	pthread_mutex_unlock(&fs->patch_mu);
	*out = l;
	return 0;
}

int fs_opendir(struct fs *fs, fs_ino_t ino, uint64_t *fh)
{
	struct open_dir *h = calloc(1, sizeof(*h));
	struct fs_inode *in;
	struct buf dir;
	bool deferred = false;
	int err = 0;

	buf_init(&dir, 0);
	if (!h) {
		err = -ENOMEM;
		goto out;
	}
	pthread_mutex_lock(&fs->mu);
	in = fs_inode_get(fs, ino);
	if (!in)
		err = -ESTALE;
	else if (in->type != CACHE_ENT_DIR)
		err = -ENOTDIR;
	else
		err = fs_dir_prefix(fs, in, &dir);
	pthread_mutex_unlock(&fs->mu);
	if (err)
		goto fail;
	err = fs_listing_get(fs, dir.data, &h->l);
	deferred = !err && h->l->meta_deferred;
	if (!err)
		err = fs_staged_merge(fs, dir.data, &h->l);
	if (err)
		goto fail;
	h->dir = buf_steal(&dir, NULL);
	if (!h->dir) {
		err = -ENOMEM;
		goto fail_listing;
	}
	h->ino = ino;
	pthread_mutex_lock(&fs->mu);
	h->fill = deferred ? task_find(fs, h->dir) : NULL;
	if (h->fill)
		h->fill->refs++;
	h->parent = in->parent;
	if (h->l->has_marker && in != fs->root)
		in->mtime = h->l->marker_mtime;
	fs->st.open_dirs++;
	pthread_mutex_unlock(&fs->mu);
	/* Its fill finished before we looked: the answers are in the
	 * listing that replaced ours. */
	if (deferred && !h->fill)
		h->filled = cache_meta_listing_get(fs->meta, h->dir,
						   fs_now_ms(fs), UINT32_MAX);
	if (fs->hooks.on_opendir)
		fs->hooks.on_opendir(fs->hooks.ud, ino, h->dir, h->l);
	*fh = (uint64_t)(uintptr_t)h;
	goto out;

fail_listing:
	cache_listing_unref(h->l);
fail:
	free(h);
out:
	buf_fini(&dir);
	return err;
}

/* Entry for one listed name, under mu.  In plus mode the inode is made
 * (or refreshed) and counted; otherwise only the number and type are
 * given, and a name with no inode yet gets a number of its own, never
 * handed out again. */
static int dirent_entry(struct fs *fs, struct open_dir *h,
			const struct cache_dirent *d, const char *key,
			bool plus, uint64_t now, struct fs_entry *e)
{
	struct fs_found f;
	struct fs_inode *in;

	if (plus && !d->has_meta && (h->fill || h->filled)) {
		const struct cache_listing *fl = h->filled;
		const struct cache_dirent *fd = NULL;

		/* Its fill is running: no attributes yet (e->ino 0), the
		 * kernel looks the name up when it wants them. */
		if (h->fill && !h->fill->done)
			plus = false;
		else if (h->fill)
			fl = h->fill->filled;
		if (fl)
			fd = cache_listing_find(fl, d->name);
		if (fd) /* the same name (an S3-mode symlink may turn one) */
			d = fd;
	}
	fs_found_from_dirent(d, h->l->fetched_ms, &f);
	if (plus)
		return fs_inode_enter(fs, h->ino, key, &f, true, now, e)
			       ? 0
			       : -ENOMEM;
	memset(e, 0, sizeof(*e));
	in = fs_inode_by_key(fs, key);
	e->ino = in && in->type == f.type ? in->ino : fs->next_ino++;
	e->attr.st_ino = e->ino;
	e->attr.st_mode = d->type == CACHE_ENT_DIR	 ? S_IFDIR
			  : d->type == CACHE_ENT_SYMLINK ? S_IFLNK
							 : S_IFREG;
	if (h->fill && !h->fill->done)
		e->ino = 0; /* readdirplus without attributes */
	return 0;
}

static int dot_entry(struct open_dir *h, off_t pos, fs_dirent_fn fn, void *ctx)
{
	struct fs_entry e;

	memset(&e, 0, sizeof(e));
	e.ino = pos == 0 ? h->ino : h->parent;
	e.attr.st_ino = e.ino;
	e.attr.st_mode = S_IFDIR;
	return fn(ctx, pos == 0 ? "." : "..", &e, pos + 1);
}

int fs_readdir(struct fs *fs, fs_ino_t ino, uint64_t fh, off_t off, bool plus,
	       fs_dirent_fn fn, void *ctx)
{
	struct open_dir *h = (struct open_dir *)(uintptr_t)fh;
	off_t end = (off_t)h->l->n + 2;
	uint64_t now = fs_now_ms(fs);
	struct fs_entry e;
	struct buf key;
	bool taken = false;
	int err = 0;

	(void)ino;
	/* Asked past the last entry: the reader has seen every name. */
	if (off >= end && fs->hooks.on_dir_done)
		fs->hooks.on_dir_done(fs->hooks.ud, h->dir);
	buf_init(&key, 0);
	for (off_t pos = off < 0 ? 0 : off; pos < end; pos++) {
		const struct cache_dirent *d;

		if (pos < 2) {
			if (dot_entry(h, pos, fn, ctx))
				break;
			taken = true;
			continue;
		}
		d = &h->l->ents[pos - 2];
		buf_reset(&key);
		err = buf_appendf(&key, "%s%s", h->dir, d->name);
		if (err)
			break;
		pthread_mutex_lock(&fs->mu);
		err = dirent_entry(fs, h, d, key.data, plus, now, &e);
		pthread_mutex_unlock(&fs->mu);
		if (err)
			break;
		if (fn(ctx, d->name, &e, pos + 1)) {
			/* Not returned to the kernel: not counted. */
			if (plus && e.ino)
				fs_forget(fs, e.ino, 1);
			break;
		}
		taken = true;
	}
	buf_fini(&key);
	/* Entries already taken were counted: reply with them, and let
	 * the next call meet the error. */
	return taken ? 0 : err;
}

void fs_releasedir(struct fs *fs, uint64_t fh)
{
	struct open_dir *h = (struct open_dir *)(uintptr_t)fh;

	if (!h)
		return;
	if (fs->hooks.on_dir_done)
		fs->hooks.on_dir_done(fs->hooks.ud, h->dir);
	pthread_mutex_lock(&fs->mu);
	fs->st.open_dirs--;
	if (h->fill)
		task_unref(h->fill);
	pthread_mutex_unlock(&fs->mu);
	if (h->filled)
		cache_listing_unref(h->filled);
	cache_listing_unref(h->l);
	free(h->dir);
	free(h);
}
