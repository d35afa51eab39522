/* bridge: the FUSE low-level session around fs/.
 *
 * Every operation reads decode -> fs call -> reply, and replies exactly
 * once.  No lock of ours is held here at all: fs/ takes and drops its own
 * before returning, so fuse_reply_* never runs under one.  A read that
 * misses the cache is answered from fs/'s completion callback, usually on
 * the I/O thread, and the worker that received it is free at once.
 */
#define FUSE_USE_VERSION 314

#include <dirent.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <fcntl.h>
#include <fuse_lowlevel.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "base.h"
#include "bridge.h"
#include "fs.h"

/* Readahead the kernel may do for us, once the bdi allows it. */
#define BRIDGE_READAHEAD_BYTES (4u << 20)

struct bridge {
	struct fs *fs;
	struct fuse_session *se;
	char *mountpoint;
	bool signals_set;
	bool mounted;
	int max_threads;
};

static struct fs *req_fs(fuse_req_t req)
{
	return ((struct bridge *)fuse_req_userdata(req))->fs;
}

/* The FUSE boundary logs once and replies once.  Errors that are a
 * normal answer (a missing name, a read-only mount) are not news. */
/* Transport failures (the store unreachable, a reset, a timeout, a reply
 * we could not parse) mean nothing to a program doing file I/O: after the
 * engine's retries they are reported as EIO, the errno every tool knows
 * for "the device failed".  The log line keeps the precise cause. */
static int user_errno(int e)
{
	switch (e) {
	case ECONNREFUSED:
	case ECONNRESET:
	case ECONNABORTED:
	case ETIMEDOUT:
	case EHOSTUNREACH:
	case ENETUNREACH:
	case ENXIO:
	case EPROTO:
	case E2BIG:
	case EAGAIN:
		return EIO;
	default:
		return e;
	}
}

static void reply_err(fuse_req_t req, const char *op, int err)
{
	int e = err < 0 ? -err : err;

	switch (e) {
	case 0:
	case ENOENT:
	case EROFS:
	case ENOTDIR:
	case EISDIR:
	case ENAMETOOLONG:
	case EINVAL:
	case ELOOP:
	case ENOSYS:
	case EEXIST:
	case ENOTEMPTY:
	case EPERM:
		break;
	default:
		/* What the process got, and why when that differs
		 * ("Input/output error (Connection refused)"). */
		if (user_errno(e) != e)
			log_warn("%s: %s (%s)", op, strerror(user_errno(e)),
				 strerror(e));
		else
			log_warn("%s: %s", op, strerror(e));
	}
	fuse_reply_err(req, user_errno(e));
}

static void to_fuse_entry(const struct fs_entry *e, struct fuse_entry_param *fe)
{
	memset(fe, 0, sizeof(*fe));
	fe->ino = e->ino;
	fe->generation = e->generation;
	fe->attr = e->attr;
	fe->attr_timeout = e->attr_timeout_s;
	fe->entry_timeout = e->entry_timeout_s;
}

static void reply_entry(fuse_req_t req, const char *op, int err,
			const struct fs_entry *e)
{
	struct fuse_entry_param fe;

	if (err) {
		reply_err(req, op, err);
		return;
	}
	to_fuse_entry(e, &fe);
	if (fuse_reply_entry(req, &fe) != 0 && e->ino)
		/* The kernel never saw it, so it will never forget it. */
		fs_forget(req_fs(req), e->ino, 1);
}

/* ---- session setup --------------------------------------------------------
 */

static void op_init(void *userdata, struct fuse_conn_info *conn)
{
	/* ATOMIC_O_TRUNC: open(O_TRUNC) reaches fs_open whole, so the old
	 * content is never fetched only to be thrown away. */
	const unsigned want = FUSE_CAP_ASYNC_READ | FUSE_CAP_READDIRPLUS |
			      FUSE_CAP_PARALLEL_DIROPS |
			      FUSE_CAP_ATOMIC_O_TRUNC;

	conn->want |= conn->capable & want;
	/* Always plus: ls -l must not cost a lookup per name. */
	conn->want &= ~FUSE_CAP_READDIRPLUS_AUTO;
	conn->want &= ~(FUSE_CAP_SPLICE_READ | FUSE_CAP_SPLICE_WRITE |
			FUSE_CAP_SPLICE_MOVE);
	conn->max_readahead = BRIDGE_READAHEAD_BYTES;
}

/* ---- metadata --------------------------------------------------------------
 */

static void op_lookup(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	struct fuse_entry_param fe;
	struct fs_entry e;
	int err = fs_lookup(req_fs(req), parent, name, &e);

	if (err == -ENOENT && e.entry_timeout_s > 0) {
		/* A negative entry: the kernel caches the absence too. */
		to_fuse_entry(&e, &fe);
		fuse_reply_entry(req, &fe);
		return;
	}
	reply_entry(req, "lookup", err, &e);
}

static void op_forget(fuse_req_t req, fuse_ino_t ino, uint64_t nlookup)
{
	fs_forget(req_fs(req), ino, nlookup);
	fuse_reply_none(req);
}

static void op_forget_multi(fuse_req_t req, size_t count,
			    struct fuse_forget_data *forgets)
{
	struct fs *fs = req_fs(req);

	for (size_t i = 0; i < count; i++)
		fs_forget(fs, forgets[i].ino, forgets[i].nlookup);
	fuse_reply_none(req);
}

static void op_getattr(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	struct stat st;
	double timeout;
	int err = fs_getattr(req_fs(req), ino, &st, &timeout);

	if (err)
		reply_err(req, "getattr", err);
	else
		fuse_reply_attr(req, &st, timeout);
}

static void op_readlink(fuse_req_t req, fuse_ino_t ino)
{
	char *target = NULL;
	int err = fs_readlink(req_fs(req), ino, &target);

	if (err)
		reply_err(req, "readlink", err);
	else
		fuse_reply_readlink(req, target);
	free(target);
}

static void op_statfs(fuse_req_t req, fuse_ino_t ino)
{
	struct statvfs sv;
	int err = fs_statfs(req_fs(req), ino, &sv);

	if (err)
		reply_err(req, "statfs", err);
	else
		fuse_reply_statfs(req, &sv);
}

/* ---- directories
 * ------------------------------------------------------------- */

static void op_opendir(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	uint64_t fh;
	int err = fs_opendir(req_fs(req), ino, &fh);

	if (err) {
		reply_err(req, "opendir", err);
		return;
	}
	fi->fh = fh;
	if (fuse_reply_open(req, fi) != 0)
		fs_releasedir(req_fs(req), fh);
}

struct dirbuf {
	fuse_req_t req;
	char *buf;
	size_t size;
	size_t pos;
	bool plus;
};

static int dirbuf_add(void *ctx, const char *name, const struct fs_entry *e,
		      off_t next_off)
{
	struct dirbuf *d = ctx;
	size_t room = d->size - d->pos, n;

	if (d->plus) {
		struct fuse_entry_param fe;

		to_fuse_entry(e, &fe);
		n = fuse_add_direntry_plus(d->req, d->buf + d->pos, room, name,
					   &fe, next_off);
	} else {
		n = fuse_add_direntry(d->req, d->buf + d->pos, room, name,
				      &e->attr, next_off);
	}
	if (n > room)
		return 1; /* full: not added */
	d->pos += n;
	return 0;
}

static void do_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi, bool plus)
{
	struct dirbuf d = { req, NULL, size, 0, plus };
	int err;

	d.buf = malloc(size ? size : 1);
	if (!d.buf) {
		reply_err(req, "readdir", -ENOMEM);
		return;
	}
	err = fs_readdir(req_fs(req), ino, fi->fh, off, plus, dirbuf_add, &d);
	if (err)
		reply_err(req, plus ? "readdirplus" : "readdir", err);
	else
		fuse_reply_buf(req, d.buf, d.pos);
	free(d.buf);
}

static void op_readdir(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		       struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, false);
}

static void op_readdirplus(fuse_req_t req, fuse_ino_t ino, size_t size,
			   off_t off, struct fuse_file_info *fi)
{
	do_readdir(req, ino, size, off, fi, true);
}

static void op_releasedir(fuse_req_t req, fuse_ino_t ino,
			  struct fuse_file_info *fi)
{
	fs_releasedir(req_fs(req), fi->fh);
	fuse_reply_err(req, 0);
}

/* ---- files
 * ------------------------------------------------------------------- */

static void op_open(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	bool keep = false;
	uint64_t fh;
	int err = fs_open(req_fs(req), ino, fi->flags, &fh, &keep);

	if (err) {
		reply_err(req, "open", err);
		return;
	}
	fi->fh = fh;
	fi->keep_cache = keep;
	if ((fi->flags & O_ACCMODE) == O_RDONLY)
		fi->noflush = 1; /* nothing to flush on close */
	if (fuse_reply_open(req, fi) != 0)
		fs_release(req_fs(req), fh);
}

/* Runs once, on this worker or on the I/O thread; req dies with the
 * reply. */
static void read_done(void *ud, int err, const struct iovec *iov, int iovcnt)
{
	fuse_req_t req = ud;

	if (err)
		reply_err(req, "read", err);
	else
		fuse_reply_iov(req, iov, iovcnt);
}

static void op_read(fuse_req_t req, fuse_ino_t ino, size_t size, off_t off,
		    struct fuse_file_info *fi)
{
	int err = fs_read(req_fs(req), fi->fh, (uint64_t)off, size, read_done,
			  req);

	if (err)
		reply_err(req, "read", err);
}

static void op_release(fuse_req_t req, fuse_ino_t ino,
		       struct fuse_file_info *fi)
{
	fs_release(req_fs(req), fi->fh);
	fuse_reply_err(req, 0);
}

static void op_flush(fuse_req_t req, fuse_ino_t ino, struct fuse_file_info *fi)
{
	reply_err(req, "flush", fs_flush(req_fs(req), fi->fh));
}

static void op_fsync(fuse_req_t req, fuse_ino_t ino, int datasync,
		     struct fuse_file_info *fi)
{
	reply_err(req, "fsync", fs_fsync(req_fs(req), fi->fh, datasync != 0));
}

/* ---- the write path ---------------------------------------------------------
 */

static void op_setattr(fuse_req_t req, fuse_ino_t ino, struct stat *attr,
		       int to_set, struct fuse_file_info *fi)
{
	struct stat out;
	double timeout = 0;
	/* FS_SET_* mirror FUSE_SET_ATTR_* bit for bit. */
	int err = fs_setattr(req_fs(req), ino, attr, to_set, &out, &timeout);

	if (err)
		reply_err(req, "setattr", err);
	else
		fuse_reply_attr(req, &out, timeout);
}

static void op_mknod(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode, dev_t rdev)
{
	struct fs_entry e;
	int err = fs_mknod(req_fs(req), parent, name, mode, rdev, &e);

	reply_entry(req, "mknod", err, &e);
}

static void op_mkdir(fuse_req_t req, fuse_ino_t parent, const char *name,
		     mode_t mode)
{
	struct fs_entry e;
	int err = fs_mkdir(req_fs(req), parent, name, mode, &e);

	reply_entry(req, "mkdir", err, &e);
}

static void op_unlink(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	reply_err(req, "unlink", fs_unlink(req_fs(req), parent, name));
}

static void op_rmdir(fuse_req_t req, fuse_ino_t parent, const char *name)
{
	reply_err(req, "rmdir", fs_rmdir(req_fs(req), parent, name));
}

static void op_symlink(fuse_req_t req, const char *link, fuse_ino_t parent,
		       const char *name)
{
	struct fs_entry e;
	int err = fs_symlink(req_fs(req), link, parent, name, &e);

	reply_entry(req, "symlink", err, &e);
}

static void op_rename(fuse_req_t req, fuse_ino_t parent, const char *name,
		      fuse_ino_t newparent, const char *newname,
		      unsigned int flags)
{
	reply_err(req, "rename",
		  fs_rename(req_fs(req), parent, name, newparent, newname,
			    flags));
}

static void op_link(fuse_req_t req, fuse_ino_t ino, fuse_ino_t newparent,
		    const char *newname)
{
	struct fs_entry e;
	int err = fs_link(req_fs(req), ino, newparent, newname, &e);

	reply_entry(req, "link", err, &e);
}

static void op_create(fuse_req_t req, fuse_ino_t parent, const char *name,
		      mode_t mode, struct fuse_file_info *fi)
{
	struct fuse_entry_param fe;
	struct fs_entry e;
	uint64_t fh = 0;
	int err =
		fs_create(req_fs(req), parent, name, mode, fi->flags, &e, &fh);

	if (err) {
		reply_err(req, "create", err);
		return;
	}
	fi->fh = fh;
	to_fuse_entry(&e, &fe);
	if (fuse_reply_create(req, &fe, fi) != 0) {
		fs_release(req_fs(req), fh);
		fs_forget(req_fs(req), e.ino, 1);
	}
}

static void op_write(fuse_req_t req, fuse_ino_t ino, const char *buf,
		     size_t size, off_t off, struct fuse_file_info *fi)
{
	ssize_t n = fs_write(req_fs(req), fi->fh, buf, size, (uint64_t)off);

	if (n < 0)
		reply_err(req, "write", (int)n);
	else
		fuse_reply_write(req, (size_t)n);
}

static const struct fuse_lowlevel_ops bridge_ops = {
	.init = op_init,
	.lookup = op_lookup,
	.forget = op_forget,
	.forget_multi = op_forget_multi,
	.getattr = op_getattr,
	.setattr = op_setattr,
	.readlink = op_readlink,
	.mknod = op_mknod,
	.mkdir = op_mkdir,
	.unlink = op_unlink,
	.rmdir = op_rmdir,
	.symlink = op_symlink,
	.rename = op_rename,
	.link = op_link,
	.open = op_open,
	.read = op_read,
	.write = op_write,
	.flush = op_flush,
	.release = op_release,
	.fsync = op_fsync,
	.opendir = op_opendir,
	.readdir = op_readdir,
	.readdirplus = op_readdirplus,
	.releasedir = op_releasedir,
	.statfs = op_statfs,
	.create = op_create,
};

/* ---- mounting
 * ------------------------------------------------------------------ */

/* 0 when path is an empty directory, -ENOTEMPTY, or -errno. */
static int dir_is_empty(const char *path)
{
	struct dirent *de;
	int err = 0;
	DIR *d = opendir(path);

	if (!d)
		return -errno;
	while ((de = readdir(d)) != NULL) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, "..")) {
			err = -ENOTEMPTY;
			break;
		}
	}
	closedir(d);
	return err;
}

static int check_mountpoint(const struct bridge_config *cfg, char *err,
			    size_t err_size)
{
	struct stat st;
	int rc;

	if (!cfg->mountpoint || !*cfg->mountpoint) {
		snprintf(err, err_size, "no mount point given");
		return -EINVAL;
	}
	if (stat(cfg->mountpoint, &st) != 0) {
		rc = -errno;
		snprintf(err, err_size, "mount point %s: %s", cfg->mountpoint,
			 strerror(-rc));
		return rc;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(err, err_size, "mount point %s is not a directory",
			 cfg->mountpoint);
		return -ENOTDIR;
	}
	if (cfg->nonempty)
		return 0;
	/* libfuse 3 dropped -o nonempty; keep the old safety check. */
	rc = dir_is_empty(cfg->mountpoint);
	if (rc == -ENOTEMPTY)
		snprintf(err, err_size,
			 "mount point %s is not empty (use -o nonempty to "
			 "mount over it)",
			 cfg->mountpoint);
	else if (rc)
		snprintf(err, err_size, "mount point %s: %s", cfg->mountpoint,
			 strerror(-rc));
	return rc;
}

/* fsname goes into a comma-separated option list: escape ',' and '\'. */
static int append_escaped(struct buf *b, const char *s)
{
	int err = 0;

	for (; *s && !err; s++) {
		if (*s == ',' || *s == '\\')
			err = buf_append(b, "\\", 1);
		if (!err)
			err = buf_append(b, s, 1);
	}
	return err;
}

static int build_opts(const struct bridge_config *cfg, struct buf *o)
{
	int err = buf_append_str(o, "subtype=ossfs,fsname=");

	if (!err)
		err = append_escaped(o, cfg->fsname ? cfg->fsname : "ossfs");
	if (!err && cfg->allow_other)
		err = buf_append_str(o, ",allow_other");
	else if (!err && cfg->allow_root)
		err = buf_append_str(o, ",allow_root");
	if (!err && cfg->auto_unmount)
		err = buf_append_str(o, ",auto_unmount");
	if (!err && cfg->readonly)
		err = buf_append_str(o, ",ro");
	if (!err && cfg->fuse_opts && *cfg->fuse_opts)
		err = buf_appendf(o, ",%s", cfg->fuse_opts);
	return err;
}

static int make_session(struct bridge *b, const struct bridge_config *cfg,
			char *err, size_t err_size)
{
	struct fuse_args args = FUSE_ARGS_INIT(0, NULL);
	struct buf opts;
	int rc;

	buf_init(&opts, 0);
	rc = build_opts(cfg, &opts);
	if (!rc && (fuse_opt_add_arg(&args, "ossfs") ||
		    fuse_opt_add_arg(&args, "-o") ||
		    fuse_opt_add_arg(&args, opts.data) ||
		    (cfg->debug && fuse_opt_add_arg(&args, "-d"))))
		rc = -ENOMEM;
	if (rc) {
		snprintf(err, err_size, "out of memory");
		goto out;
	}
	b->se = fuse_session_new(&args, &bridge_ops, sizeof(bridge_ops), b);
	if (!b->se) {
		snprintf(err, err_size, "FUSE refused the options \"%s\"",
			 opts.data);
		rc = -EINVAL;
	}
out:
	fuse_opt_free_args(&args);
	buf_fini(&opts);
	return rc;
}

/* The kernel offers FUSE 128 KiB of readahead and lets us only lower it;
 * the bdi's own knob raises it.  Best effort: root only, no harm if it
 * fails. */
static void raise_readahead(const char *mountpoint)
{
	char line[4096], path[128], *save = NULL;
	char *real = realpath(mountpoint, NULL);
	FILE *fp = real ? fopen("/proc/self/mountinfo", "r") : NULL;
	char dev[32] = "";

	while (fp && fgets(line, sizeof(line), fp)) {
		char *f[5];
		int i = 0;

		for (char *t = strtok_r(line, " ", &save); t && i < 5;
		     t = strtok_r(NULL, " ", &save))
			f[i++] = t;
		if (i == 5 && strcmp(f[4], real) == 0)
			str_lcpy(dev, f[2], sizeof(dev)); /* the last wins */
	}
	if (fp)
		fclose(fp);
	free(real);
	if (!*dev)
		return;
	snprintf(path, sizeof(path), "/sys/class/bdi/%s/read_ahead_kb", dev);
	fp = fopen(path, "w");
	if (!fp) {
		log_debug("cannot raise readahead (%s): %s", path,
			  strerror(errno));
		return;
	}
	fprintf(fp, "%u\n", BRIDGE_READAHEAD_BYTES >> 10);
	fclose(fp);
}

int bridge_mount(struct fs *fs, const struct bridge_config *cfg,
		 struct bridge **out, char *err, size_t err_size)
{
	struct bridge *b;
	int rc;

	rc = check_mountpoint(cfg, err, err_size);
	if (rc)
		return rc;
	b = calloc(1, sizeof(*b));
	if (!b || !(b->mountpoint = str_dup(cfg->mountpoint))) {
		free(b);
		snprintf(err, err_size, "out of memory");
		return -ENOMEM;
	}
	b->fs = fs;
	b->max_threads = cfg->max_threads;
	rc = make_session(b, cfg, err, err_size);
	if (rc)
		goto fail;
	if (fuse_set_signal_handlers(b->se) != 0) {
		snprintf(err, err_size, "cannot install signal handlers");
		rc = -EIO;
		goto fail;
	}
	b->signals_set = true;
	if (fuse_session_mount(b->se, cfg->mountpoint) != 0) {
		snprintf(err, err_size,
			 "cannot mount FUSE at %s (is fuse loaded and "
			 "/dev/fuse usable?)",
			 cfg->mountpoint);
		rc = -EIO;
		goto fail;
	}
	b->mounted = true;
	raise_readahead(cfg->mountpoint);
	*out = b;
	return 0;

fail:
	bridge_free(b);
	return rc;
}

static void termination_signals(sigset_t *set)
{
	sigemptyset(set);
	sigaddset(set, SIGTERM);
	sigaddset(set, SIGINT);
	sigaddset(set, SIGHUP);
}

void bridge_block_signals(void)
{
	sigset_t set;

	termination_signals(&set);
	pthread_sigmask(SIG_BLOCK, &set, NULL);
}

int bridge_loop(struct bridge *b)
{
	struct fuse_loop_config *lc = fuse_loop_cfg_create();
	sigset_t set;
	int rc;

	if (!lc)
		return -ENOMEM;
	/* Only this thread takes the termination signals, so the handler
	 * interrupts the wait inside fuse_session_loop_mt.  libfuse blocks
	 * every signal in the workers it starts. */
	termination_signals(&set);
	pthread_sigmask(SIG_UNBLOCK, &set, NULL);
	/* One /dev/fuse fd per worker: no contention on one queue. */
	fuse_loop_cfg_set_clone_fd(lc, 1);
	if (b->max_threads > 0)
		fuse_loop_cfg_set_max_threads(lc, (unsigned)b->max_threads);
	rc = fuse_session_loop_mt(b->se, lc);
	fuse_loop_cfg_destroy(lc);
	/* A positive value is the signal that ended the loop: a clean
	 * stop. */
	return rc < 0 ? rc : 0;
}

void bridge_free(struct bridge *b)
{
	if (!b)
		return;
	if (b->se) {
		if (b->signals_set)
			fuse_remove_signal_handlers(b->se);
		if (b->mounted)
			fuse_session_unmount(b->se);
		/* Reads still waiting for a GET reply through this session:
		 * let them finish before it goes. */
		fs_quiesce(b->fs);
		fuse_session_destroy(b->se);
	}
	free(b->mountpoint);
	free(b);
}
