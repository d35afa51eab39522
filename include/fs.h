/* fs: what each filesystem operation means on an object store.
 *
 * fs/ knows nothing of FUSE: it works on inode numbers, names and
 * attributes, and runs in unit tests against an in-memory oss_store.
 * bridge/ decodes FUSE requests, calls into fs, and replies.
 *
 * Threads: fs functions are called from FUSE worker threads; metadata
 * calls may block on one request; fs_read never waits on the network: it
 * completes through the callback, possibly on the I/O thread.
 */
#ifndef OSSFS_FS_H
#define OSSFS_FS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#include "oss.h"

struct fs;

struct fs_config {
	const char *prefix; /* key prefix mounted as root ("" or "dir/") */
	uid_t uid;	    /* owner of objects without x-oss-meta-uid */
	gid_t gid;
	mode_t umask; /* applied to default modes */
	bool readonly;
	uint32_t attr_ttl_ms;	   /* attribute cache; default 60000 */
	uint32_t dir_ttl_ms;	   /* listing cache; default 60000 */
	uint32_t neg_ttl_ms;	   /* negative lookups; default 60000 */
	uint64_t cache_size_bytes; /* data memory budget; 0 = default */
	const char *cache_dir;	   /* optional disk cache; NULL = none */
	uint64_t cache_dir_size_bytes;
	struct http_engine *engine; /* for stats; not owned */
};

void fs_config_defaults(struct fs_config *cfg);

/* The store is borrowed and must outlive the fs. */
int fs_new(const struct fs_config *cfg, struct oss_store *store,
	   struct fs **out);
void fs_free(struct fs *fs);

#endif
