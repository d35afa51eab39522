/* fs: what each filesystem operation means on an object store.
 *
 * fs/ knows nothing of FUSE: it works on inode numbers, names and
 * attributes, and runs in unit tests against an in-memory oss_store.
 * bridge/ decodes FUSE requests, calls into fs, and replies.
 *
 * Threads: fs functions are called from FUSE worker threads; metadata
 * calls may block on one request; fs_read never waits on the network: it
 * completes through the callback, possibly on the I/O thread.
 *
 * Names and inodes.  An inode is named by its full key ("prefix/a/b"); the
 * root is the configured prefix and has inode FS_ROOT_INO.  Inode numbers
 * come from a 64-bit counter and are never given to another path during a
 * mount: a path whose inode the kernel forgot gets its old number back
 * when it is looked up again (the last 65,536 forgotten are remembered),
 * so tools that compare st_ino over time (tar) see one file.  A key that
 * changes type (file <-> directory) gets a new number.  Lookup counts
 * follow the FUSE rules: fs_lookup and each entry fs_readdir hands out in
 * plus mode add one, fs_forget subtracts; an inode with no lookups and no
 * open handle is freed.
 *
 * Directories come from ListObjectsV2 with delimiter "/" (1000 keys a
 * page): common prefixes are directories whether or not a "dir/" marker
 * object exists; the marker itself is not an entry; when key "a" and
 * prefix "a/" both exist, the directory wins.  Keys that cannot be file
 * names (an empty segment as in "a//b", ".", "..", a segment longer than
 * 255 bytes) are skipped, with one warning per key in the log.
 *
 * Requests a lookup makes (measured by the unit tests), when neither a
 * fresh listing of the parent nor the negative cache answers it:
 *   missing name  1  LIST prefix=KEY delimiter=/      (then negative-cached)
 *   directory     1  the same LIST shows prefix KEY/
 *   symlink       1  the same LIST shows Type=Symlink
 *   file          2  the same LIST, then HEAD KEY for x-oss-meta-*
 * (a second LIST prefix=KEY/ max-keys=1 only when more than 100 sibling
 * names sort between KEY and KEY/).  Listing the name first makes every
 * negative lookup one request, which is what file managers do most.
 *
 * Attributes.  Size and mtime come from the listing or HEAD (Last-
 * Modified, second resolution).  x-oss-meta-mode/-uid/-gid/-mtime are
 * honoured when present; listings do not carry them, so an entry known
 * only from a listing (ls -l, readdirplus) shows the defaults until a
 * HEAD (lookup or revalidation after attr_ttl) or a GET brings them.
 * Defaults: owner uid/gid from fs_config; files S_IFREG | (0644 & ~umask);
 * directories S_IFDIR | (0755 & ~umask), with the mtime of their "dir/"
 * marker once a listing of the directory has shown it, else the mount's;
 * symlinks S_IFLNK | 0777 (Symlink objects: listing Type=Symlink or
 * x-oss-object-type: Symlink).  nlink is 1 for files and symlinks, 2 for
 * directories; st_blocks counts 512-byte units of size.
 *
 * Caches.  Attributes are fresh for attr_ttl_ms, listings for dir_ttl_ms,
 * negative lookups for neg_ttl_ms; the timeouts given to the kernel are
 * what is left of the same TTLs.  A changed or deleted object is seen
 * once the TTL has passed.
 */
#ifndef OSSFS_FS_H
#define OSSFS_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/types.h>
#include <sys/uio.h>

#include "oss.h"

struct fs;
struct cache_listing;
struct prefetch_config;
struct upload_mgr;

/* Whether a fetched listing is completed with each entry's x-oss-meta-*
 * (HEAD per file, HEAD "sub/" per directory, GetSymlink per symlink,
 * many at once): AUTO asks the first 8 entries and the rest only when
 * one of them has metadata; ALL asks every entry; OFF asks none. */
enum fs_meta_fill {
	FS_META_FILL_AUTO = 0,
	FS_META_FILL_ALL,
	FS_META_FILL_OFF,
};

struct fs_config {
	const char *prefix; /* key prefix mounted as root ("" or "dir/") */
	uid_t uid;	    /* owner of objects without x-oss-meta-uid */
	gid_t gid;
	mode_t umask; /* applied to default modes */
	bool readonly;
	uint32_t attr_ttl_ms;	     /* attribute cache; default 60000 */
	uint32_t dir_ttl_ms;	     /* listing cache; default 60000 */
	uint32_t neg_ttl_ms;	     /* negative lookups; default 60000 */
	enum fs_meta_fill meta_fill; /* default AUTO */
	/* S3 API: a symlink is an object whose x-amz-meta-mode says
	 * S_IFLNK (there are no Symlink objects). */
	bool s3;
	uint64_t cache_size_bytes; /* data memory budget; 0 = default */
	const char *cache_dir;	   /* optional disk cache; NULL = none */
	uint64_t cache_dir_size_bytes;
	struct http_engine *engine; /* for stats; not owned */
	/* Directory prefetch and read-ahead (prefetch.h); not owned.  NULL:
	 * none (what unit tests of fs/ get from fs_config_defaults). */
	const struct prefetch_config *prefetch;
	/* Staging and uploads; not owned, must outlive the fs.  NULL: every
	 * operation that would change the bucket answers EROFS. */
	struct upload_mgr *upload;
	/* Added for tests; leave zero/NULL in production. */
	uint64_t (*clock_ms)(void *ud); /* NULL = time_mono_ms */
	void *clock_ud;
	uint32_t block_size_bytes; /* read block; 0 = 1 MiB */
};

void fs_config_defaults(struct fs_config *cfg);

/* The store is borrowed and must outlive the fs. */
int fs_new(const struct fs_config *cfg, struct oss_store *store,
	   struct fs **out);
/* Waits for reads still in flight (see fs_quiesce), then frees. */
void fs_free(struct fs *fs);

/* ---- operations called by bridge/ --------------------------------------- */

typedef uint64_t fs_ino_t;
#define FS_ROOT_INO ((fs_ino_t)1)

/* What a lookup (or a readdirplus entry) tells the kernel. */
struct fs_entry {
	fs_ino_t ino; /* 0 in a negative entry */
	uint64_t generation;
	struct stat attr;
	double attr_timeout_s;
	double entry_timeout_s;
};

/* Look name up in directory parent.  0: *out filled and the inode's
 * lookup count raised by one.  -ENOENT: out->ino is 0 and
 * out->entry_timeout_s says how long the kernel may cache the absence.
 * Other -errno: ENOTDIR, ENAMETOOLONG, or the store's error. */
int fs_lookup(struct fs *fs, fs_ino_t parent, const char *name,
	      struct fs_entry *out);
/* Drop nlookup lookups (FUSE forget / forget_multi). */
void fs_forget(struct fs *fs, fs_ino_t ino, uint64_t nlookup);
/* Attributes; revalidates with one request once attr_ttl has passed.
 * -ENOENT when the object is gone. */
int fs_getattr(struct fs *fs, fs_ino_t ino, struct stat *st,
	       double *attr_timeout_s);

/* Open a directory: takes a snapshot of its listing (from the cache or
 * fetched now, every page) that the handle keeps, so offsets are stable
 * for the life of the handle.  *fh is opaque. */
int fs_opendir(struct fs *fs, fs_ino_t ino, uint64_t *fh);
/* Called for each entry; return 0 when it was taken, nonzero when the
 * reply buffer is full (the entry is then not counted as returned). */
typedef int (*fs_dirent_fn)(void *ctx, const char *name,
			    const struct fs_entry *e, off_t next_off);
/* Hand out the entries from offset off ("." and ".." first).  In plus
 * mode each entry other than "." and ".." that fn takes raises that
 * inode's lookup count, as readdirplus requires; otherwise only e->ino
 * and e->attr.st_mode are meaningful.  An entry whose stored metadata is
 * still being read in the background comes in plus mode with e->ino 0,
 * e->attr.st_ino and the type only, and is not counted (the kernel looks
 * it up when it needs its attributes).  Returns 0 or -errno. */
int fs_readdir(struct fs *fs, fs_ino_t ino, uint64_t fh, off_t off, bool plus,
	       fs_dirent_fn fn, void *ctx);
void fs_releasedir(struct fs *fs, uint64_t fh);
/* Returns once no listing's metadata is being read in the background
 * (for tests: afterwards readdirplus gives every entry its attributes). */
void fs_settle(struct fs *fs);

/* Open a file for reading (write access is -EROFS for now).  The handle
 * keeps the object's ETag and size as of the open; *keep_cache tells the
 * kernel to keep its page cache, true only when the ETag is the one seen
 * at the previous open of this inode. */
int fs_open(struct fs *fs, fs_ino_t ino, int flags, uint64_t *fh,
	    bool *keep_cache);

/* Read completion: err 0 with iovcnt buffers (possibly 0 at EOF) valid
 * only during the call, or -errno.  Runs on the calling thread when the
 * data cache had every block, else on the thread that completed the last
 * GET (the I/O thread).  It must not block. */
typedef void (*fs_read_cb)(void *ud, int err, const struct iovec *iov,
			   int iovcnt);
/* Start a read of size bytes at off.  0: cb runs exactly once (maybe
 * before fs_read returns).  -errno: cb does not run. */
int fs_read(struct fs *fs, uint64_t fh, uint64_t off, size_t size,
	    fs_read_cb cb, void *ud);
void fs_release(struct fs *fs, uint64_t fh);

/* Target of a symlink (a malloc'd string the caller frees). */
int fs_readlink(struct fs *fs, fs_ino_t ino, char **target);
/* 1 PiB total, all free, bsize 4096, namemax 255. */
int fs_statfs(struct fs *fs, fs_ino_t ino, struct statvfs *st);

/* Wait until no GET started by fs_read is in flight (and so every read
 * callback has run).  bridge calls it before destroying the session. */
void fs_quiesce(struct fs *fs);

/* ---- the write path (EROFS for now) -------------------------------------- */

/* Attribute bits for fs_setattr, mirroring FUSE_SET_ATTR_*. */
#define FS_SET_MODE	 (1 << 0)
#define FS_SET_UID	 (1 << 1)
#define FS_SET_GID	 (1 << 2)
#define FS_SET_SIZE	 (1 << 3)
#define FS_SET_ATIME	 (1 << 4)
#define FS_SET_MTIME	 (1 << 5)
#define FS_SET_ATIME_NOW (1 << 7)
#define FS_SET_MTIME_NOW (1 << 8)
#define FS_SET_CTIME	 (1 << 10)

int fs_setattr(struct fs *fs, fs_ino_t ino, const struct stat *attr, int to_set,
	       struct stat *out, double *attr_timeout_s);
int fs_mknod(struct fs *fs, fs_ino_t parent, const char *name, mode_t mode,
	     dev_t rdev, struct fs_entry *out);
int fs_mkdir(struct fs *fs, fs_ino_t parent, const char *name, mode_t mode,
	     struct fs_entry *out);
int fs_unlink(struct fs *fs, fs_ino_t parent, const char *name);
int fs_rmdir(struct fs *fs, fs_ino_t parent, const char *name);
int fs_symlink(struct fs *fs, const char *target, fs_ino_t parent,
	       const char *name, struct fs_entry *out);
int fs_rename(struct fs *fs, fs_ino_t parent, const char *name,
	      fs_ino_t newparent, const char *newname, unsigned int flags);
int fs_link(struct fs *fs, fs_ino_t ino, fs_ino_t newparent,
	    const char *newname, struct fs_entry *out);
int fs_create(struct fs *fs, fs_ino_t parent, const char *name, mode_t mode,
	      int flags, struct fs_entry *out, uint64_t *fh);
/* Returns bytes written or -errno. */
ssize_t fs_write(struct fs *fs, uint64_t fh, const void *buf, size_t size,
		 uint64_t off);
int fs_flush(struct fs *fs, uint64_t fh);
int fs_fsync(struct fs *fs, uint64_t fh, bool datasync);

/* ---- hooks for the prefetch engine (prefetch.h; fs/ahead.c binds them) -- */

/* All run on the FUSE worker that served the call, with no fs lock held,
 * and must not block.  The listing is borrowed for the call (take a
 * reference with cache_listing_ref to keep it); dir is its key prefix.
 * on_dir_done: a handle of dir has handed out its last entry (a readdir
 * at the end) or was released; it may run more than once. */
struct fs_prefetch_hooks {
	void (*on_opendir)(void *ud, fs_ino_t ino, const char *dir,
			   struct cache_listing *listing);
	void (*on_read)(void *ud, fs_ino_t ino, const char *key,
			const char *etag, uint64_t object_size, uint64_t off,
			size_t size);
	void *ud;
	void (*on_dir_done)(void *ud, const char *dir);
};
/* Install before the mount serves requests; NULL removes them. */
void fs_set_prefetch_hooks(struct fs *fs, const struct fs_prefetch_hooks *h);

/* ---- observability ------------------------------------------------------ */

/* The root holds one name no listing shows: a read-only file whose text
 * is the daemon's counters, one "name value" per line (requests by kind,
 * bytes fetched, cache hits and misses, prefetched bytes used and
 * wasted, transfers in flight, memory in use against the budget). */
#define FS_STATS_NAME ".ossfs-stats"

/* ---- introspection for tests --------------------------------------------- */

struct fs_stats {
	size_t inodes;	      /* live inodes including the root */
	uint64_t next_ino;    /* the next number handed out */
	uint64_t gets_issued; /* GETs started by fs_read */
	size_t open_files;
	size_t open_dirs;
	uint64_t skipped_keys; /* names skipped in listings (warned once) */
};
void fs_get_stats(struct fs *fs, struct fs_stats *st);
/* Lookup count of an inode, or -1 when it does not exist. */
int64_t fs_inode_nlookup(struct fs *fs, fs_ino_t ino);

#endif
