/* prefetch: fetching what will be read before it is asked for.
 *
 * Three behaviours, one engine (the design note is at the top of
 * src/prefetch/prefetch.c):
 *  - directory prefetch: when a directory is opened, whole-object GETs
 *    of its small regular files, in listing order, many at once, into the
 *    data cache; a window of files per directory slides as they are read
 *    and grows when they are, and shrinks for directories nobody reads;
 *  - sequential read-ahead: ranges of readahead_bytes fetched in parallel
 *    ahead of a sequential reader, the window doubling up to a cap;
 *  - random fill: a file read at random, if small enough for the budget,
 *    is filled whole in the background.
 * Everything it fetches goes into cache_data under the classes PREFETCH
 * and READAHEAD, so the one memory budget decides what fits; it never
 * replies to a reader itself (readers find its blocks in the cache, or
 * wait for them there).
 *
 * Threads: the hooks run on FUSE workers, completions on the I/O thread;
 * both may start GETs.  Nothing here blocks on the network.  One mutex
 * guards the engine and is never held across a store or cache call.
 */
#ifndef OSSFS_PREFETCH_H
#define OSSFS_PREFETCH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cache.h"
#include "oss.h"

struct http_engine;
struct prefetch;

struct prefetch_config {
	bool dir_prefetch;	   /* prefetch on opendir; default on */
	uint64_t file_max_bytes;   /* largest file prefetched whole; 4 MiB */
	uint32_t window_files;	   /* a directory's first window; 256 */
	uint32_t window_max_files; /* how far it may grow; 1024 */
	uint64_t window_bytes;	   /* a directory's first byte window; 64 MiB */
	uint32_t max_dirs;	   /* directories followed at once; 64 */
	bool readahead;		   /* sequential read-ahead; default on */
	uint64_t readahead_bytes;  /* one range GET; 2 MiB */
	uint64_t readahead_max_bytes;	/* per-file window cap; 192 MiB (and at
					   most a quarter of the budget) */
	uint32_t max_streams;		/* files followed at once; 256 */
	unsigned random_fill_after;	/* random reads before a fill; 4 (0 =
					   never fill) */
	uint64_t random_fill_max_bytes; /* largest file filled; 0 = half the
					   budget */
	uint32_t max_inflight;		/* GETs of ours in flight; 88 */
};

void prefetch_config_defaults(struct prefetch_config *cfg);

/* What the engine works with; everything is borrowed and must outlive
 * it. */
struct prefetch_env {
	struct oss_store *store;
	struct cache_data *data;
	uint64_t budget_bytes;	    /* the data cache's budget */
	uint32_t block_bytes;	    /* fs/'s read block */
	struct http_engine *engine; /* to cancel at stop; may be NULL */
	/* A whole-object GET brought the object's headers (I/O thread,
	 * no lock held).  May be NULL. */
	void (*on_meta)(void *ud, const char *key,
			const struct oss_object_meta *m);
	void *meta_ud;
	/* Does the kernel's page cache hold this version of key whole (a
	 * directory prefetch of it would go unread)?  Called with meta_ud
	 * and no engine lock held.  May be NULL. */
	bool (*kernel_has)(void *ud, const char *key, const char *etag);
};

int prefetch_new(const struct prefetch_config *cfg,
		 const struct prefetch_env *env, struct prefetch **out);
/* Stops (see prefetch_stop) and frees. */
void prefetch_free(struct prefetch *pf);
/* Start nothing more, cancel what is in flight (when an engine was
 * given) and wait until every completion has run.  Hooks called
 * afterwards do nothing. */
void prefetch_stop(struct prefetch *pf);

/* A directory with key prefix dir ("" or "a/b/") was opened and this is
 * its listing (borrowed; the engine takes its own reference). */
void prefetch_on_opendir(struct prefetch *pf, const char *dir,
			 struct cache_listing *listing);
/* Every name of dir has been handed to a reader (or its handle closed):
 * the directory's prefetch starts now if it has not yet.  Until then an
 * opened directory waits, so that `ls -l` of a large directory does not
 * share the machine with its own prefetch while it reads the names. */
void prefetch_on_dir_done(struct prefetch *pf, const char *dir);
/* A read of [off, off+size) of object key (version etag, object_size
 * bytes), from file id (the inode), is about to be served. */
void prefetch_on_read(struct prefetch *pf, uint64_t id, const char *key,
		      const char *etag, uint64_t object_size, uint64_t off,
		      size_t size);

struct prefetch_stats {
	uint64_t dirs_opened;
	uint64_t dirs_followed;	   /* now */
	uint64_t files_started;	   /* whole-object GETs */
	uint64_t files_cached;	   /* found in the cache already */
	uint64_t files_in_kernel;  /* the kernel's page cache holds them */
	uint64_t files_read;	   /* prefetched, then read */
	uint64_t files_read_early; /* read before prefetch reached them */
	uint64_t streams;	   /* files followed now */
	uint64_t ranges_started;   /* read-ahead and fill GETs */
	uint64_t fills_started;	   /* files filled whole after random reads */
	uint64_t refused;	   /* stopped for want of budget */
	uint64_t errors;	   /* GETs that failed */
	uint64_t inflight;
	uint64_t peak_inflight;
	uint64_t backoff; /* directories in a row opened and not read */
};
void prefetch_get_stats(struct prefetch *pf, struct prefetch_stats *st);

#endif
