/* fs private: the shared state of the fs/ source files.
 *
 * LOCK ORDERING: fs.mu, then cache_meta's or cache_data's own mutex.
 * fs.mu is never held across a store call, a read callback or a hook.
 * fs.io_mu only guards the count of GETs in flight and nests in nothing.
 */
#ifndef OSSFS_FS_I_H
#define OSSFS_FS_I_H

#include <pthread.h>
#include <stdatomic.h>

#include "base.h"
#include "cache.h"
#include "fs.h"

#define FS_ETAG_LEN	       80
#define FS_NAME_MAX	       255
#define FS_DEFAULT_BLOCK_BYTES ((uint32_t)1 << 20)
#define FS_LIST_PAGE_KEYS      1000
#define FS_LOOKUP_LIST_KEYS    100
#define FS_WARNED_MAX	       10000

/* Requests by kind, counted by stats.c's wrapper of the store. */
enum fs_req_kind {
	FS_REQ_GET = 0,
	FS_REQ_HEAD,
	FS_REQ_LIST,
	FS_REQ_PUT,
	FS_REQ_COPY,
	FS_REQ_DELETE,
	FS_REQ_MULTIPART,
	FS_REQ_SYMLINK,
	FS_REQ_OTHER,
	FS_REQ_COUNT
};

/* The stats file's inode: never handed out by the counter. */
#define FS_STATS_INO ((fs_ino_t)UINT64_MAX - 1)
#define FS_STATS_MAX ((off_t)1 << 20)

/* What the store told us about one name, from a listing or a HEAD. */
struct fs_found {
	enum cache_ent_type type;
	uint64_t size;
	struct timespec mtime;
	char etag[FS_ETAG_LEN];
	bool has_meta; /* posix is from HEAD/GET headers */
	struct oss_posix_meta posix;
	uint64_t fetched_ms;
};

struct fs_inode {
	struct cache_map_node by_ino;
	struct cache_map_node by_key; /* while hashed */
	fs_ino_t ino;
	fs_ino_t parent;
	char *key; /* full key, no trailing '/'; guarded by: mu (renames) */
	enum cache_ent_type type; /* immutable */
	bool hashed;		  /* guarded by: mu; findable by key */
	uint64_t nlookup;	  /* guarded by: mu */
	unsigned open_count;	  /* guarded by: mu */
	/* attributes, guarded by: mu */
	uint64_t size;
	struct timespec mtime;
	char etag[FS_ETAG_LEN];
	bool has_meta;
	struct oss_posix_meta posix;
	uint64_t attr_ms; /* when the attributes were fetched */
	/* keep_cache bookkeeping, guarded by: mu.  full_etag: the version
	 * whose every byte was read through one handle, so the kernel's
	 * page cache holds it (until the kernel drops it: a read of the
	 * file then clears it). */
	bool opened;
	char open_etag[FS_ETAG_LEN];
	char full_etag[FS_ETAG_LEN];
	/* readlink cache, guarded by: mu */
	char *link_target;
	uint64_t link_ms;
	/* write.c, guarded by: mu.  A staged file pins its inode: its
	 * attributes are the local ones, never revalidated, until it is
	 * stored and nothing refers to it (staged_refs: open handles and
	 * operations in progress). */
	struct upload_file *uf;
	unsigned staged_refs;
	bool mtime_dirty; /* written since the mtime went to uf */
};

/* The number a forgotten inode had, so that the same path looked up
 * again gets it back (tar compares st_ino across its extraction; the
 * kernel forgets inodes it evicts whenever memory is short). */
struct fs_recent {
	struct cache_map_node node; /* in fs.recent, by key */
	struct fs_recent *newer;    /* FIFO, oldest first */
	fs_ino_t ino;
	enum cache_ent_type type;
	char key[];
};
#define FS_RECENT_MAX 65536

#define FS_PATCH_GEN_SLOTS 64u

/* Every open handle is on a list, so that the ones the kernel never
 * released (a RELEASE still queued when the mount was torn down) are
 * released by fs_free.  Embedded first in each kind of handle. */
struct fs_hlink {
	struct fs_hlink *prev, *next;
	uint64_t fh; /* as given to the kernel */
};
/* Both take fs->mu: call without it. */
void fs_handle_add(struct fs *fs, struct fs_hlink *l, uint64_t fh);
void fs_handle_del(struct fs *fs, struct fs_hlink *l);

struct fs {
	struct fs_config cfg;
	char *prefix; /* "" or "a/b/"; cfg.prefix points here */
	struct oss_store *store;
	struct cache_meta *meta;
	struct cache_data *data;
	uint32_t block_bytes;
	struct timespec mount_time;
	struct fs_prefetch_hooks hooks; /* set before serving */

	pthread_mutex_t mu;
	struct cache_map by_ino; /* guarded by: mu */
	struct cache_map by_key; /* guarded by: mu */
	uint64_t next_ino;	 /* guarded by: mu */
	struct fs_inode *root;
	struct cache_map warned; /* guarded by: mu; keys warned about */
	struct cache_map recent; /* guarded by: mu; struct fs_recent */
	struct fs_recent *recent_old, *recent_new; /* guarded by: mu */
	struct fs_stats st;	 /* guarded by: mu (counters only) */
	struct fs_hlink handles; /* guarded by: mu; list head */

	pthread_mutex_t io_mu;
	pthread_cond_t io_cv;
	uint64_t gets_inflight; /* guarded by: io_mu */

	/* fetching ahead and observability (ahead.c, stats.c) */
	struct prefetch *pf;	      /* NULL: no prefetch */
	struct cache_disk *disk;      /* NULL: no disk cache */
	struct oss_store *real_store; /* what `store` counts and forwards to */
	struct oss_store counted;
	atomic_uint_fast64_t req[FS_REQ_COUNT];

	/* write path (write.c, names.c) */
	struct upload_mgr *up;	  /* NULL: read-only */
	pthread_mutex_t patch_mu; /* serialises listing patches; no nesting */
	/* Listing patches by directory (hashed): a listing fetched while
	 * its directory was patched is not cached over the patch. */
	uint64_t patch_gen[FS_PATCH_GEN_SLOTS]; /* guarded by: patch_mu */
	/* Held for a whole rename, before any other lock: exclusive for a
	 * directory (its tree's keys change), shared for an object, so a
	 * file cannot be renamed while the directory it is in is. */
	pthread_rwlock_t rename_lock;

	/* metadata fills finishing in the background (dir.c) */
	struct cache_map fills; /* guarded by: mu; struct fill_task by dir */
	unsigned fills_running; /* guarded by: mu; threads not finished */
	pthread_cond_t fill_cv; /* with mu: a fill finished */
};

static inline uint64_t fs_now_ms(const struct fs *fs)
{
	return fs->cfg.clock_ms ? fs->cfg.clock_ms(fs->cfg.clock_ud)
				: time_mono_ms();
}

/* ---- names.c ---- */
/* Append l's entries (metadata and all) but skip (may be NULL) to nl, and
 * its marker.  0 or -ENOMEM. */
int fs_copy_listing(const struct cache_listing *l, const char *skip,
		    struct cache_listing *nl);

/* ---- dir.c: background metadata fills ---- */
int fs_fills_init(struct fs *fs);
/* Waits for every fill thread, then frees what is left. */
void fs_fills_fini(struct fs *fs);
/* Returns once no metadata fill of directory prefix dir is running. */
void fs_fill_wait(struct fs *fs, const char *dir);

/* ---- inode.c ---- */
/* Caller holds mu. */
struct fs_inode *fs_inode_get(struct fs *fs, fs_ino_t ino);
struct fs_inode *fs_inode_by_key(struct fs *fs, const char *key);
/* Was every byte of this version of key read through one handle, so the
 * kernel's page cache (kept across opens) holds it?  read.c. */
bool fs_kernel_has(struct fs *fs, const char *key, const char *etag);
void fs_inode_fill_stat(struct fs *fs, const struct fs_inode *in,
			struct stat *st);
/* Find or make the inode of key with what was found, raise its lookup
 * count by one when count is set, and fill e.  Caller holds mu.  NULL on
 * ENOMEM. */
struct fs_inode *fs_inode_enter(struct fs *fs, fs_ino_t parent, const char *key,
				const struct fs_found *f, bool count,
				uint64_t now_ms, struct fs_entry *e);
/* Free in when nothing refers to it any more.  Caller holds mu. */
void fs_inode_maybe_free(struct fs *fs, struct fs_inode *in);
int fs_inode_table_init(struct fs *fs);
void fs_inode_table_fini(struct fs *fs);
/* The key prefix of a directory's children: the mount prefix for the
 * root, else "key/".  0 or -ENOMEM. */
int fs_dir_prefix(struct fs *fs, const struct fs_inode *dir, struct buf *out);
/* Make sure in's attributes are fresh, revalidating with the store when
 * they are not.  No lock held on entry. */
int fs_inode_revalidate(struct fs *fs, struct fs_inode *in);

/* ---- probe.c: asking the store about one key ---- */
/* What is key: a directory (prefix key/), a symlink or a file?  One LIST
 * prefix=key, plus HEAD for files.  -ENOENT when nothing. */
int fs_probe_name(struct fs *fs, const char *key, struct fs_found *f);
/* Revalidate a key believed to be of type t, with the cheapest request:
 * fresh listings first, then LIST key/ (directories), HEAD (files) or
 * fs_probe_name (symlinks: HEAD would follow the link). */
int fs_probe_known(struct fs *fs, const char *key, enum cache_ent_type t,
		   struct fs_found *f);

/* What the store keeps about the entry key of type t: HEAD KEY (a
 * file, or any entry in S3 mode), HEAD KEY/ (a directory's marker),
 * GetSymlink (a symlink: HEAD would follow it).  0, -ENOENT (no such
 * object or marker) or another -errno.  m is fini'd by the caller. */
int fs_probe_meta(struct fs *fs, const char *key, enum cache_ent_type t,
		  struct oss_object_meta *m);
/* In S3 mode a symlink is an object whose mode says S_IFLNK. */
bool fs_meta_is_s3_symlink(const struct fs *fs,
			   const struct oss_object_meta *m);

/* ---- dir.c ---- */
/* The slot of fs->patch_gen for directory prefix dir. */
static inline unsigned fs_patch_slot(const char *dir)
{
	return (unsigned)(cache_hash_str(dir) % FS_PATCH_GEN_SLOTS);
}
/* A fresh listing of directory prefix dir: cached, or fetched (every
 * page) and cached.  The caller drops the reference. */
int fs_listing_get(struct fs *fs, const char *dir, struct cache_listing **out);
void fs_found_from_dirent(const struct cache_dirent *d, uint64_t fetched_ms,
			  struct fs_found *f);
/* Log once per key that it cannot be a file name. */
void fs_warn_key(struct fs *fs, const char *key, const char *why);
/* One entry of a listing of dir ("" or "a/b/") into l: the name of an
 * object or common prefix under dir, or dir's own marker object
 * (l->has_marker).  A key that cannot be a name here (empty, "." or
 * "..", a '/' inside, over 255 bytes, or not under dir at all) is left
 * out with *why saying so; otherwise *why is NULL.  0 or -ENOMEM.
 * Keys are untrusted: tests/fuzz/fuzz_keys.c. */
int fs_listing_add_key(struct cache_listing *l, const char *dir,
		       const struct oss_list_entry *e, const char **why);

/* ---- write.c / names.c: the write path ---- */
/* Write handles are tagged with the low bit (calloc'd pointers never
 * have it), so read.c can hand them over. */
static inline bool fs_fh_is_staged(uint64_t fh)
{
	return (fh & 1) != 0;
}
/* Whether an open of ino with flags must go through staging (write
 * access, O_TRUNC, or content not yet stored).  Caller holds mu. */
bool fs_open_needs_staging(struct fs *fs, const struct fs_inode *in, int flags);
int fs_staged_open(struct fs *fs, fs_ino_t ino, int flags, uint64_t *fh,
		   bool *keep_cache);
int fs_staged_read(struct fs *fs, uint64_t fh, uint64_t off, size_t size,
		   fs_read_cb cb, void *ud);
void fs_staged_release(struct fs *fs, uint64_t fh);
/* Look up a staged file by key: 1 answered (e filled, count raised), 0
 * not staged.  No lock held on entry. */
int fs_staged_lookup(struct fs *fs, fs_ino_t parent, const char *key,
		     uint64_t now, struct fs_entry *e);
/* Add the staged files under dir that the listing lacks: *l may be
 * replaced by a private copy.  0 or -ENOMEM. */
int fs_staged_merge(struct fs *fs, const char *dir, struct cache_listing **l);
int fs_write_init(struct fs *fs);
void fs_write_fini(struct fs *fs);
/* Unhash in (its key now names something else).  Caller holds mu. */
void fs_inode_unhash(struct fs *fs, struct fs_inode *in);

/* ---- ahead.c: disk cache and prefetch engine, from fs_config ---- */
int fs_ahead_init(struct fs *fs, const struct fs_config *cfg);
/* Stop prefetching and wait for its GETs (before the session goes). */
void fs_ahead_stop(struct fs *fs);
/* The engine goes before the data cache, the disk cache after it. */
void fs_ahead_fini(struct fs *fs);
void fs_ahead_fini_disk(struct fs *fs);

/* ---- stats.c: request counters and the stats file ---- */
/* Route fs->store through a wrapper that counts requests by kind. */
void fs_count_requests(struct fs *fs, struct oss_store *real);
/* FS_STATS_NAME at the root: true with e filled (not counted). */
bool fs_stats_lookup(struct fs *fs, fs_ino_t parent, const char *name,
		     struct fs_entry *e);
void fs_stats_attr(struct fs *fs, struct stat *st);
/* The counters as "name value" lines.  0 or -ENOMEM. */
int fs_stats_text(struct fs *fs, struct buf *b);

/* ---- list pages (the store hands out owned entries) ---- */
void fs_list_page_free(struct oss_list_page *p);

#endif
