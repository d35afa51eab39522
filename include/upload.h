/* upload: staged files and their uploads to the bucket.
 *
 * A staged file is a local file under the staging directory holding the
 * whole content an object is to have after a small journal record (key,
 * mode, uid, gid, mtime) so that a daemon killed with uploads
 * pending finds them again at the next mount of the same bucket
 * (upload_mgr_new recovers and queues them).  fs/ writes into the staged
 * file through this module and tells it when the content,
 * the key or the metadata changed; this module decides when to upload:
 *
 *  - upload_file_schedule (on close): after a quiet period of delay_ms,
 *    restarted by every later change, and never while a writer holds the
 *    file open.  So rsync's close, utimens, chmod and rename of a fresh
 *    temporary file end in one PUT under the final name.
 *  - upload_file_sync (fsync): now, whatever holds it, and wait.
 *  - upload_mgr_drain (unmount): everything, now, and wait.
 *
 * Objects below multipart_threshold_bytes go up with one PutObject read
 * from the staged file; larger ones with parallel multipart parts whose
 * size grows (never below part_size_bytes) so that 10,000 parts always
 * reach OSS's largest object.  Nothing is buffered in memory: bodies are
 * read from the staged file by the HTTP engine, so uploads take nothing
 * from the memory budget of cache/.
 *
 * A failed upload keeps its data staged, is logged with the key and is
 * retried with exponential backoff (retry_min_ms doubling to
 * retry_max_ms) for as long as the daemon runs.
 *
 * Threads: every function may be called from any thread except the
 * listener, which runs on an upload worker with no lock of this module
 * held.  LOCK ORDERING: callers may hold their own locks (fs.mu) around
 * the non-blocking calls (marked "quick"); this module never calls out
 * while holding its own mutex.
 */
#ifndef OSSFS_UPLOAD_H
#define OSSFS_UPLOAD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "oss.h"

struct upload_mgr;
struct upload_file;

struct upload_config {
	/* Staged files live in root/<16 hex digits of a hash of
	 * identity>[-N]: the first such directory no other mount holds
	 * (flock).  identity names the bucket ("url bucket prefix"). */
	const char *staging_root;
	const char *identity;
	unsigned workers;		    /* files uploading at once; 16 */
	unsigned part_workers;		    /* parts in flight per file; 8 */
	uint64_t multipart_threshold_bytes; /* default 32 MiB */
	uint64_t part_size_bytes;	    /* smallest part; default 8 MiB */
	uint64_t copy_part_threshold_bytes; /* multipart copy; 1 GiB */
	uint32_t delay_ms;		    /* quiet period after close; 200 */
	uint32_t retry_min_ms;		    /* default 500 */
	uint32_t retry_max_ms;		    /* default 30000 */
};

void upload_config_defaults(struct upload_config *cfg);

/* What an upload achieved, for the owner of the file (fs/). */
struct upload_done {
	void *owner;	  /* as given to upload_file_new */
	const char *key;  /* the key it went to */
	uint64_t size;	  /* bytes stored */
	const char *etag; /* "" when unknown (multipart) */
	bool clean;	  /* nothing changed during the upload */
	int err;	  /* 0, or the attempt's -errno */
};
typedef void (*upload_listener_fn)(void *ud, struct upload_file *f,
				   const struct upload_done *d);

/* Creates (or takes over) the staging directory and starts the workers.
 * Staged files a previous daemon left there are queued for upload at
 * once; *recovered (may be NULL) says how many.  The store is borrowed. */
int upload_mgr_new(const struct upload_config *cfg, struct oss_store *store,
		   struct upload_mgr **out, size_t *recovered);
/* Bytes the manager holds in memory (buffers of objects being brought
 * into staging) are reported to fn, +n when taken and -n when given
 * back, so that they count against the owner's memory budget.  Set once,
 * before any file is opened; fn may run on any thread. */
void upload_mgr_set_charge(struct upload_mgr *m,
			   void (*fn)(void *ud, int64_t bytes), void *ud);
/* Called after every finished attempt of a file that has an owner.
 * Returns once no call of the previous listener is running. */
void upload_mgr_set_listener(struct upload_mgr *m, upload_listener_fn fn,
			     void *ud);
/* Upload everything pending now, ignoring delays and open writers, and
 * wait, logging progress.  Gives up on a file once it has failed three
 * times during the drain (it stays staged for the next mount).  Returns
 * the number of files left staged. */
size_t upload_mgr_drain(struct upload_mgr *m);
/* Stops the workers; what is still dirty stays staged.  NULL is fine. */
void upload_mgr_free(struct upload_mgr *m);
const char *upload_mgr_dir(const struct upload_mgr *m);

struct upload_stats {
	size_t files;	    /* staged files alive */
	size_t dirty;	    /* of which not yet stored */
	uint64_t uploads;   /* successful uploads */
	uint64_t failures;  /* failed attempts */
	uint64_t multipart; /* of the uploads, multipart */
	uint64_t recovered; /* found at start */
};
void upload_mgr_get_stats(struct upload_mgr *m, struct upload_stats *st);

/* ---- staged files -------------------------------------------------------- */

/* A new staged file for key, empty, journaled at once (an empty file is
 * a file too), dirty.  posix may be NULL.  The caller owns it until
 * upload_file_release. */
int upload_file_new(struct upload_mgr *m, const char *key,
		    const struct oss_posix_meta *posix, void *owner,
		    struct upload_file **out);
/* A staged copy of an existing object of size bytes (fetched with
 * ranged GETs), clean: nothing is uploaded unless it changes. */
int upload_file_fetch(struct upload_mgr *m, const char *key, uint64_t size,
		      const char *etag, const struct oss_posix_meta *posix,
		      void *owner, struct upload_file **out);
/* The owner lets go: the file is deleted once it is stored (or at once
 * when clean or discarded). */
void upload_file_release(struct upload_file *f);

/* Read the staged content: bytes read or -errno. */
ssize_t upload_file_pread(struct upload_file *f, void *buf, size_t len,
			  uint64_t off);
/* pwrite/ftruncate and mark dirty (journaling the record on the first
 * change).  Return bytes written / 0, or -errno. */
ssize_t upload_file_write(struct upload_file *f, const void *buf, size_t len,
			  uint64_t off);
int upload_file_truncate(struct upload_file *f, uint64_t size);
uint64_t upload_file_size(struct upload_file *f); /* quick */

/* Change what will be uploaded: the key (rename) or the metadata.
 * Marks dirty and rewrites the journal record.  set_key waits for an
 * upload in flight to finish first; *was_remote then says whether an
 * object is stored under the old key (ours or the original), which the
 * caller must delete. */
int upload_file_set_key(struct upload_file *f, const char *key,
			bool *was_remote);
int upload_file_set_posix(struct upload_file *f,
			  const struct oss_posix_meta *posix);
/* The mtime data writes gave the file (not a utimes): a file uploaded
 * while it was written (stream.c) then stores no x-oss-meta-mtime and
 * shows its Last-Modified, rather than paying a copy to store it. */
int upload_file_touch(struct upload_file *f, const struct timespec *mtime);
void upload_file_get_posix(struct upload_file *f,
			   struct oss_posix_meta *out); /* quick */
/* Whether an object is stored under the current key.  Quick. */
bool upload_file_is_remote(struct upload_file *f);
bool upload_file_is_dirty(struct upload_file *f);

/* Writers: while held, background uploads wait. */
void upload_file_hold(struct upload_file *f);
void upload_file_unhold(struct upload_file *f);
/* Queue the upload after the quiet period (no-op when clean). */
void upload_file_schedule(struct upload_file *f);
/* Upload now if dirty and wait until what was written before the call
 * is stored: 0, or the error of the attempt that failed. */
int upload_file_sync(struct upload_file *f);
/* Never upload it again (unlink); waits for an upload in flight.
 * *was_remote as for set_key. */
void upload_file_discard(struct upload_file *f, bool *was_remote);

/* ---- server-side copies ---------------------------------------------------
 */

/* Copy src to dst (CopyObject, or parallel UploadPartCopy at and above
 * copy_part_threshold_bytes), replacing the metadata with posix when
 * given. */
int upload_copy_object(struct upload_mgr *m, const char *src, const char *dst,
		       uint64_t size, const struct oss_posix_meta *posix);

/* Run fn(arg, i) for i in [0, n) on up to `threads` threads; returns the
 * first error (the others still run).  For fan-outs such as a directory
 * rename. */
int upload_parallel(unsigned threads, size_t n, int (*fn)(void *arg, size_t i),
		    void *arg);

#endif
