/* bridge: the only code that includes fuse_lowlevel.h.  It owns the FUSE
 * session: the operations table, mounting, the multi-threaded loop and
 * unmounting.  Built into executables only (meson: bridge_src), never
 * into the core library.
 *
 * bridge_mount is called after the start-up checks succeeded, in the
 * process that will serve the mount (main daemonises before it).
 * bridge_loop returns when the filesystem is unmounted or a termination
 * signal (SIGTERM, SIGINT, SIGHUP) arrives; bridge_free unmounts if still
 * mounted, waits for reads still in flight (fs_quiesce) and then ends the
 * session, so it must run before fs_free.
 *
 * Signals: bridge_mount installs libfuse's handlers, which stop the loop
 * from whichever thread takes the signal; the loop notices promptly only
 * when that is the thread in bridge_loop.  So call bridge_block_signals
 * first thing, before any thread exists: every thread created afterwards
 * inherits the blocked mask, and bridge_loop unblocks SIGTERM, SIGINT and
 * SIGHUP on its own thread only.  A signal that arrives earlier stays
 * pending and ends the loop as soon as it starts.
 */
#ifndef OSSFS_BRIDGE_H
#define OSSFS_BRIDGE_H

#include <stdbool.h>
#include <stddef.h>

struct fs;
struct bridge;

struct bridge_config {
	const char *mountpoint;
	const char *fsname; /* shown in /proc/mounts, e.g. "ossfs#bucket" */
	bool allow_other;
	bool allow_root;
	bool readonly;
	bool nonempty; /* allow a non-empty mount point */
	bool debug;    /* FUSE request tracing */
	bool auto_unmount;
	int max_threads; /* FUSE worker threads; 0 = default */
	/* Other FUSE -o options to pass through verbatim ("a,b=c"); may be
	 * NULL. */
	const char *fuse_opts;
};

/* Returns 0, or -errno with a one-line reason in err. */
int bridge_mount(struct fs *fs, const struct bridge_config *cfg,
		 struct bridge **out, char *err, size_t err_size);
/* Serve requests until unmounted or signalled.  Returns 0 or -errno. */
int bridge_loop(struct bridge *b);
/* Block the termination signals in the calling thread (see above). */
void bridge_block_signals(void);
void bridge_free(struct bridge *b);

#endif
