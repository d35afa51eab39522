/* main/options: the ossfs command line.
 *
 * Two spellings reach the same parser: "ossfs SOURCE MOUNTPOINT [-f] [-d]
 * [-o OPTS]" and mount(8)'s helper convention "mount.ossfs SOURCE
 * MOUNTPOINT [-sfnv] [-o OPTS]", chosen by the program's name.  The
 * options live in one table in options.c, from which --help is printed,
 * so what is accepted and what is documented cannot drift apart.
 *
 * Parsing touches nothing outside struct opts (no files, no network, no
 * logging), so it runs in unit tests without FUSE.  Every function runs
 * on the main thread before anything else starts.
 */
#ifndef OSSFS_MAIN_OPTIONS_I_H
#define OSSFS_MAIN_OPTIONS_I_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "base.h"

/* Exit status of ossfs and mount.ossfs; man/ossfs.1 EXIT STATUS lists
 * them and must be kept in step. */
enum ossfs_exit {
	OSSFS_EXIT_OK = 0,
	OSSFS_EXIT_FAILURE = 1,	 /* internal error, daemon died early */
	OSSFS_EXIT_USAGE = 2,	 /* bad command line or option value */
	OSSFS_EXIT_CREDS = 3,	 /* no usable credentials */
	OSSFS_EXIT_REJECTED = 4, /* server said no: bucket, key, clock */
	OSSFS_EXIT_NETWORK = 5,	 /* endpoint unreachable, DNS, TLS */
	OSSFS_EXIT_MOUNT = 6,	 /* the FUSE mount itself failed */
};

enum opts_mode {
	OPTS_MODE_OSSFS = 0,   /* ossfs ...: -f is foreground */
	OPTS_MODE_MOUNT_HELPER /* mount.ossfs ...: -f is "fake" */
};

enum opts_sig {
	OPTS_SIG_DEFAULT = 0, /* OSS V4, or S3 V4 with s3 */
	OPTS_SIG_V1,
	OPTS_SIG_V4,
};

/* Numeric fields hold -1 when the option was not given, so the module that
 * owns the default (fs, http, bridge) keeps it. */
struct opts {
	enum opts_mode mode;
	char *source; /* as given: "bucket" or "bucket:/prefix" */
	char *bucket;
	char *prefix; /* "" or "dir/sub/": no leading slash, one trailing */
	char *mountpoint;

	bool show_help, show_version;
	bool foreground, debug;
	bool sloppy, fake, no_mtab, verbose; /* mount(8) helper flags */

	char *endpoint, *url, *region;
	enum opts_sig sig;
	bool s3, path_style;
	char *endpoint_url; /* derived: "scheme://host[:port]", no '/' */

	char *passwd_file;
	bool ram_role;
	char *ram_role_name; /* NULL = ask the metadata service */
	char *ram_role_url;
	bool public_bucket;

	bool readonly, allow_other, allow_root, nonempty, auto_unmount;
	int64_t uid, gid, umask;
	int64_t attr_ttl_ms, dir_ttl_ms, neg_ttl_ms;
	int64_t meta_fill; /* enum fs_meta_fill; -1 = default */
	int64_t cache_size_bytes, cache_dir_size_bytes;
	char *cache_dir;
	/* prefetch (prefetch.h) */
	bool no_prefetch;
	int64_t prefetch_file_max_bytes, prefetch_window, readahead_bytes;
	int64_t connections, connect_timeout_ms, stall_timeout_ms, retries;
	/* the write path (upload.h) */
	char *staging_dir;
	int64_t upload_delay_ms, upload_workers;
	int64_t multipart_threshold_bytes, part_size_bytes;
	int64_t copy_part_threshold_bytes;
	char *logfile;
	int64_t loglevel; /* enum log_level */
	int64_t max_threads;
	char *fsname;
	struct buf fuse_opts; /* passed to FUSE verbatim: "a,b=c" */
	struct buf notes;     /* ignored options worth a warning, one a line */
};

void opts_init(struct opts *o, enum opts_mode mode);
void opts_fini(struct opts *o);

/* "mount.ossfs" and "mount.fuse.ossfs" (any directory) are the helper. */
enum opts_mode opts_mode_for_argv0(const char *argv0);

/* Parse argv[1..argc-1] into o.  Returns 0, or -EINVAL (bad usage) or
 * -ENOMEM with a one-line reason in err that names the culprit. */
int opts_parse(struct opts *o, int argc, char *const argv[], char *err,
	       size_t err_size);
/* Parse one -o list ("a,b=c,\"d=e,f\"") into o. */
int opts_parse_list(struct opts *o, const char *list, char *err,
		    size_t err_size);
/* After parsing: require the source, mount point and endpoint, reject
 * conflicting options and derive endpoint_url, fsname and absolute paths.
 * Does nothing when --help or --version was asked.  0 or -EINVAL/-ENOMEM
 * with err. */
int opts_finish(struct opts *o, char *err, size_t err_size);

/* The program's name for messages: "ossfs" or "mount.ossfs". */
const char *opts_progname(const struct opts *o);
void opts_print_usage(FILE *out, enum opts_mode mode);
void opts_print_help(FILE *out, enum opts_mode mode);

/* Value parsers, exposed for tests.  All return 0 or -EINVAL/-ERANGE. */
/* Bytes with an optional K/M/G/T suffix (powers of 1024; "KiB", "KB"). */
int opts_parse_size(const char *s, uint64_t *out);
/* Seconds, optionally with up to three decimals, into milliseconds. */
int opts_parse_seconds_ms(const char *s, uint64_t *out);
/* "bucket", "bucket:/a/b", "bucket:a/b/" -> "bucket", "a/b/".  Caller
 * frees both.  -EINVAL for an empty or malformed bucket or a "." / ".."
 * path component. */
int opts_parse_source(const char *src, char **bucket, char **prefix);

/* The option table, for tests and documentation checks. */
size_t opts_table_size(void);
/* Name as written after -o; a trailing '*' marks a prefix ("x-*"). */
const char *opts_table_name(size_t i);

#endif
