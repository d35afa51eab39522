/* fs write path private: what write.c and names.c share. */
#ifndef OSSFS_FS_WRITE_I_H
#define OSSFS_FS_WRITE_I_H

#include "fs_i.h"
#include "upload.h"

/* Listings with more entries than this are dropped rather than patched
 * after a change (patching copies the listing). */
#define FS_PATCH_MAX_ENTRIES 2000

static inline bool fs_writable(const struct fs *fs)
{
	return fs->up && !fs->cfg.readonly;
}

/* The parent directory inode and the key of name in it.  0, -ESTALE,
 * -ENOTDIR, -ENAMETOOLONG, -EINVAL (bad name) or -ENOMEM. */
int fs_child_key(struct fs *fs, fs_ino_t parent, const char *name,
		 struct fs_inode **dir, struct buf *dirpfx, struct buf *key);
/* Make the cached listing of dir (if any) show name as f, or not at all
 * when f is NULL; drops the negative entry of key.  No lock held. */
void fs_listing_patch(struct fs *fs, const char *dir, const char *name,
		      const struct fs_found *f);
/* Found-record for something we just made.  */
void fs_found_local(struct fs_found *f, enum cache_ent_type t, uint64_t size,
		    const struct oss_posix_meta *posix, uint64_t now_ms);
/* The posix metadata in currently shows (mode with type bits, mtime),
 * for writing back with a change.  Caller holds mu. */
void fs_inode_posix(struct fs *fs, const struct fs_inode *in,
		    struct oss_posix_meta *out);
/* Now, as a realtime timestamp. */
void fs_now_real(struct timespec *ts);
/* Does the name exist?  0 no, 1 yes (*ino its inode with one lookup
 * that the caller must drop with fs_forget), -errno. */
int fs_name_exists(struct fs *fs, fs_ino_t parent, const char *name,
		   fs_ino_t *ino);
/* Attach a fresh staged file (content of size 0, or a fetched copy of
 * the stored object) to in, or take the one already attached, and count
 * a reference (staged_refs).  No lock held. */
int fs_stage_attach(struct fs *fs, struct fs_inode *in, bool empty);
/* Drop a staged_refs reference: when it was the last, schedule the
 * upload, or let go of the staged file if it is stored. */
void fs_stage_put(struct fs *fs, struct fs_inode *in, bool schedule);

#endif
