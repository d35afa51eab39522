/* The ossfs command line: argv, the -o option table, and --help.
 *
 * One table (opt_table) says, for every -o option, what it sets, whether
 * it takes a value and what --help prints for it.  Options that only mean
 * something to mount(8) (_netdev, nofail, x-systemd.*) are accepted and
 * dropped; kernel mount flags (nodev, noatime) are passed to FUSE.  An
 * unknown option is an error naming it, except with mount(8)'s sloppy -s.
 */
#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "options_i.h"

enum opt_kind {
	K_STR,	  /* char * field, replaced */
	K_TRUE,	  /* bool field = true */
	K_FALSE,  /* bool field = false */
	K_INT,	  /* int64_t field, decimal, within [min, max] */
	K_OCTAL,  /* int64_t field, octal, within [min, max] */
	K_SIZE,	  /* int64_t field, bytes with K/M/G/T */
	K_MS,	  /* int64_t field, seconds given, milliseconds kept */
	K_LEVEL,  /* int64_t field, log level name */
	K_FILL,	  /* int64_t field, auto|all|off (enum fs_meta_fill) */
	K_FUSE,	  /* appended to fuse_opts as written */
	K_IGNORE, /* mount(8)'s business: accepted silently */
	K_COMPAT, /* ossfs 1.x habit with no effect here: accepted, noted */
	K_SIG_V1,
	K_SIG_V4,
	K_RAM_ROLE,
	K_DEBUG,
};

enum opt_value { V_NONE, V_REQUIRED, V_OPTIONAL };

struct opt_def {
	const char *name; /* trailing '*' = any option with this prefix */
	enum opt_kind kind;
	enum opt_value value;
	size_t off;
	int64_t min, max;
	const char *arg;  /* metavariable in --help */
	const char *help; /* NULL = listed in a group line */
};

#define F(field) offsetof(struct opts, field)
#define MS_MAX	 ((int64_t)UINT32_MAX) /* fs keeps TTLs as uint32_t ms */
#define NOVAL(n, k, f, h)                      \
	{                                      \
		n, k, V_NONE, f, 0, 0, NULL, h \
	}
#define VAL(n, k, f, lo, hi, a, h)                \
	{                                         \
		n, k, V_REQUIRED, f, lo, hi, a, h \
	}
#define FUSE_FLAG(n)                                   \
	{                                              \
		n, K_FUSE, V_NONE, 0, 0, 0, NULL, NULL \
	}
#define MOUNT_ONLY(n, v)                            \
	{                                           \
		n, K_IGNORE, v, 0, 0, 0, NULL, NULL \
	}

static const struct opt_def opt_table[] = {
	/* where the bucket is */
	VAL("endpoint", K_STR, F(endpoint), 0, 0, "HOST",
	    "OSS endpoint, e.g. oss-cn-hangzhou.aliyuncs.com"),
	VAL("url", K_STR, F(url), 0, 0, "URL",
	    "the endpoint as http(s)://HOST[:PORT]"),
	VAL("region", K_STR, F(region), 0, 0, "ID",
	    "signing region, e.g. cn-hangzhou (from endpoint)"),
	NOVAL("sigv1", K_SIG_V1, 0, "sign with OSS signature V1"),
	NOVAL("sigv4", K_SIG_V4, 0, "sign with OSS signature V4 (default)"),
	NOVAL("s3", K_TRUE, F(s3), "S3-compatible endpoint (AWS signature V4)"),
	NOVAL("path_style", K_TRUE, F(path_style),
	      "URLs HOST/BUCKET/KEY instead of BUCKET.HOST/KEY"),
	NOVAL("use_path_request_style", K_TRUE, F(path_style),
	      "same as path_style"),
	/* credentials */
	VAL("passwd_file", K_STR, F(passwd_file), 0, 0, "PATH",
	    "credentials file: lines of [BUCKET:]AK:SK, mode 600"),
	{ "ram_role", K_RAM_ROLE, V_OPTIONAL, 0, 0, 0, "NAME",
	  "credentials of the ECS instance's RAM role" },
	VAL("ram_role_url", K_STR, F(ram_role_url), 0, 0, "URL",
	    "metadata service (default http://100.100.100.200)"),
	NOVAL("public", K_TRUE, F(public_bucket),
	      "public-read bucket: no credentials, no signing"),
	/* the mount */
	NOVAL("ro", K_TRUE, F(readonly), "read-only mount"),
	NOVAL("rw", K_FALSE, F(readonly), "read-write mount (the default)"),
	NOVAL("allow_other", K_TRUE, F(allow_other),
	      "let other users use the mount"),
	NOVAL("allow_root", K_TRUE, F(allow_root),
	      "let root use the mount too"),
	VAL("uid", K_INT, F(uid), 0, UINT32_MAX - 1, "N",
	    "owner of files without x-oss-meta-uid (yours)"),
	VAL("gid", K_INT, F(gid), 0, UINT32_MAX - 1, "N",
	    "group of files without x-oss-meta-gid (yours)"),
	VAL("umask", K_OCTAL, F(umask), 0, 0777, "OCTAL",
	    "mask for modes without x-oss-meta-mode (022)"),
	NOVAL("nonempty", K_TRUE, F(nonempty),
	      "allow mounting over a non-empty directory"),
	NOVAL("auto_unmount", K_TRUE, F(auto_unmount),
	      "unmount when the ossfs process dies"),
	VAL("fsname", K_STR, F(fsname), 0, 0, "NAME",
	    "source in /proc/mounts (default BUCKET[:/PREFIX])"),
	VAL("max_threads", K_INT, F(max_threads), 1, 1024, "N",
	    "FUSE worker threads (default: libfuse's)"),
	NOVAL("default_permissions", K_FUSE, 0,
	      "let the kernel check permissions from mode/uid/gid"),
	NOVAL("kernel_cache", K_COMPAT, 0,
	      "no effect (ossfs 1.x); the page cache is kept"),
	NOVAL("debug", K_DEBUG, 0, "same as -d"),
	/* caches */
	VAL("attr_timeout", K_MS, F(attr_ttl_ms), 0, MS_MAX, "SECS",
	    "cache attributes this long (default 60)"),
	VAL("stat_cache_expire", K_MS, F(attr_ttl_ms), 0, MS_MAX, "SECS",
	    "same as attr_timeout"),
	VAL("dir_timeout", K_MS, F(dir_ttl_ms), 0, MS_MAX, "SECS",
	    "cache directory listings this long (default 60)"),
	VAL("meta_fill", K_FILL, F(meta_fill), 0, 0, "MODE",
	    "metadata of listed entries: auto, all or off (auto)"),
	VAL("negative_timeout", K_MS, F(neg_ttl_ms), 0, MS_MAX, "SECS",
	    "remember missing names this long (default 60)"),
	VAL("cache_size", K_SIZE, F(cache_size_bytes), 0, INT64_MAX, "BYTES",
	    "memory budget for file data (default RAM/8)"),
	VAL("cache_dir", K_STR, F(cache_dir), 0, 0, "PATH",
	    "keep downloaded data on disk here, across opens"),
	VAL("cache_dir_size", K_SIZE, F(cache_dir_size_bytes), 0, INT64_MAX,
	    "BYTES", "bound for cache_dir (default 4G)"),
	NOVAL("prefetch", K_FALSE, F(no_prefetch),
	      "prefetch small files of opened directories (on)"),
	NOVAL("noprefetch", K_TRUE, F(no_prefetch),
	      "do not prefetch directories"),
	VAL("prefetch_file_max", K_SIZE, F(prefetch_file_max_bytes), 0,
	    INT64_MAX, "BYTES", "largest file prefetched whole (default 4M)"),
	VAL("prefetch_window", K_INT, F(prefetch_window), 1, 1000000, "N",
	    "files of a directory fetched ahead of reads (256)"),
	VAL("readahead", K_SIZE, F(readahead_bytes), 0, INT64_MAX, "BYTES",
	    "sequential read-ahead per file, at most (192M; 0 off)"),
	/* writing */
	VAL("staging_dir", K_STR, F(staging_dir), 0, 0, "PATH",
	    "stage written files here (/var/lib/ossfs/staging)"),
	VAL("upload_delay", K_MS, F(upload_delay_ms), 0, 3600000, "SECS",
	    "quiet period before a closed file uploads (0.2)"),
	VAL("upload_workers", K_INT, F(upload_workers), 1, 256, "N",
	    "files uploading at once (default 16)"),
	VAL("multipart_threshold", K_SIZE, F(multipart_threshold_bytes), 1,
	    INT64_MAX, "BYTES", "multipart upload from this size (32M)"),
	VAL("part_size", K_SIZE, F(part_size_bytes), 102400, (int64_t)5 << 30,
	    "BYTES", "smallest multipart part (8M; grows for huge files)"),
	VAL("copy_part_threshold", K_SIZE, F(copy_part_threshold_bytes), 1,
	    INT64_MAX, "BYTES",
	    "rename with UploadPartCopy from this size (1G)"),
	/* the network */
	VAL("connections", K_INT, F(connections), 1, 1024, "N",
	    "HTTP transfers in flight at once (default 96)"),
	VAL("connect_timeout", K_MS, F(connect_timeout_ms), 1, 3600000, "SECS",
	    "give up connecting after this long (default 10)"),
	VAL("readwrite_timeout", K_MS, F(stall_timeout_ms), 1000, 86400000,
	    "SECS", "retry a transfer that received nothing this long (30)"),
	VAL("stall_timeout", K_MS, F(stall_timeout_ms), 1000, 86400000, "SECS",
	    "same as readwrite_timeout"),
	VAL("retries", K_INT, F(retries), 0, 100, "N",
	    "retries after a failed first try (default 4)"),
	/* logging */
	VAL("logfile", K_STR, F(logfile), 0, 0, "PATH",
	    "append logs here (default: syslog; -f: stderr)"),
	VAL("loglevel", K_LEVEL, F(loglevel), 0, 0, "LEVEL",
	    "error, warn (default), info or debug"),
	VAL("dbglevel", K_LEVEL, F(loglevel), 0, 0, "LEVEL",
	    "same as loglevel"),
	/* kernel mount flags: FUSE passes them to mount(2) */
	FUSE_FLAG("dev"),
	FUSE_FLAG("nodev"),
	FUSE_FLAG("suid"),
	FUSE_FLAG("nosuid"),
	FUSE_FLAG("exec"),
	FUSE_FLAG("noexec"),
	FUSE_FLAG("atime"),
	FUSE_FLAG("noatime"),
	FUSE_FLAG("relatime"),
	FUSE_FLAG("norelatime"),
	FUSE_FLAG("strictatime"),
	FUSE_FLAG("diratime"),
	FUSE_FLAG("nodiratime"),
	FUSE_FLAG("lazytime"),
	FUSE_FLAG("nolazytime"),
	FUSE_FLAG("sync"),
	FUSE_FLAG("async"),
	FUSE_FLAG("dirsync"),
	/* mount(8), fstab and systemd read these; ossfs does not */
	MOUNT_ONLY("defaults", V_NONE),
	MOUNT_ONLY("_netdev", V_NONE),
	MOUNT_ONLY("auto", V_NONE),
	MOUNT_ONLY("noauto", V_NONE),
	MOUNT_ONLY("nofail", V_NONE),
	MOUNT_ONLY("user", V_OPTIONAL),
	MOUNT_ONLY("users", V_NONE),
	MOUNT_ONLY("nouser", V_NONE),
	MOUNT_ONLY("owner", V_NONE),
	MOUNT_ONLY("group", V_NONE),
	MOUNT_ONLY("comment", V_OPTIONAL),
	MOUNT_ONLY("x-*", V_OPTIONAL),
};

size_t opts_table_size(void)
{
	return OSSFS_ARRAY_SIZE(opt_table);
}

const char *opts_table_name(size_t i)
{
	return i < OSSFS_ARRAY_SIZE(opt_table) ? opt_table[i].name : NULL;
}

void opts_init(struct opts *o, enum opts_mode mode)
{
	memset(o, 0, sizeof(*o));
	o->mode = mode;
	o->uid = o->gid = o->umask = -1;
	o->attr_ttl_ms = o->dir_ttl_ms = o->neg_ttl_ms = -1;
	o->meta_fill = -1;
	o->cache_size_bytes = o->cache_dir_size_bytes = -1;
	o->prefetch_file_max_bytes = o->prefetch_window = -1;
	o->readahead_bytes = -1;
	o->connections = o->connect_timeout_ms = -1;
	o->stall_timeout_ms = o->retries = -1;
	o->upload_delay_ms = o->upload_workers = -1;
	o->multipart_threshold_bytes = o->part_size_bytes = -1;
	o->copy_part_threshold_bytes = -1;
	o->loglevel = o->max_threads = -1;
	buf_init(&o->fuse_opts, 4096);
	buf_init(&o->notes, 4096);
}

void opts_fini(struct opts *o)
{
	char **strs[] = {
		&o->source,	   &o->bucket,	     &o->prefix,
		&o->mountpoint,	   &o->endpoint,     &o->url,
		&o->region,	   &o->endpoint_url, &o->passwd_file,
		&o->ram_role_name, &o->ram_role_url, &o->cache_dir,
		&o->logfile,	   &o->fsname,	     &o->staging_dir
	};

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(strs); i++) {
		free(*strs[i]);
		*strs[i] = NULL;
	}
	buf_fini(&o->fuse_opts);
	buf_fini(&o->notes);
}

enum opts_mode opts_mode_for_argv0(const char *argv0)
{
	const char *base = argv0 ? strrchr(argv0, '/') : NULL;

	base = base ? base + 1 : argv0;
	if (base && (strcmp(base, "mount.ossfs") == 0 ||
		     strcmp(base, "mount.fuse.ossfs") == 0))
		return OPTS_MODE_MOUNT_HELPER;
	return OPTS_MODE_OSSFS;
}

const char *opts_progname(const struct opts *o)
{
	return o->mode == OPTS_MODE_MOUNT_HELPER ? "mount.ossfs" : "ossfs";
}

/* ---- value parsers ------------------------------------------------------ */

static int size_shift(const char *suffix, unsigned *shift)
{
	static const char units[] = "kmgt";
	const char *u;

	if (!*suffix) {
		*shift = 0;
		return 0;
	}
	u = strchr(units, suffix[0] | 0x20);
	if (!u || suffix[0] == '\0')
		return -EINVAL;
	*shift = 10 * (unsigned)(u - units + 1);
	suffix++;
	if (str_ieq(suffix, "") || str_ieq(suffix, "b") ||
	    str_ieq(suffix, "ib"))
		return 0;
	return -EINVAL;
}

int opts_parse_size(const char *s, uint64_t *out)
{
	size_t ndigits = strspn(s, "0123456789");
	char digits[24];
	uint64_t v;
	unsigned shift;

	if (ndigits == 0 || ndigits >= sizeof(digits))
		return ndigits ? -ERANGE : -EINVAL;
	if (size_shift(s + ndigits, &shift) < 0)
		return -EINVAL;
	memcpy(digits, s, ndigits);
	digits[ndigits] = '\0';
	if (str_to_u64(digits, 10, &v) < 0)
		return -ERANGE;
	if (shift && v > (UINT64_MAX >> shift))
		return -ERANGE;
	*out = v << shift;
	return 0;
}

int opts_parse_seconds_ms(const char *s, uint64_t *out)
{
	size_t whole = strspn(s, "0123456789");
	size_t frac = 0;
	uint64_t secs = 0, ms = 0;
	char digits[24];

	if (whole >= sizeof(digits))
		return -ERANGE;
	if (s[whole] == '.') {
		frac = strspn(s + whole + 1, "0123456789");
		if (frac == 0 || frac > 3 || s[whole + 1 + frac] != '\0')
			return -EINVAL;
		for (size_t i = 0; i < 3; i++)
			ms = ms * 10 +
			     (i < frac ? (uint64_t)(s[whole + 1 + i] - '0')
				       : 0);
	} else if (s[whole] != '\0') {
		return -EINVAL;
	}
	if (whole == 0 && frac == 0)
		return -EINVAL;
	memcpy(digits, s, whole);
	digits[whole] = '\0';
	if (whole && str_to_u64(digits, 10, &secs) < 0)
		return -ERANGE;
	if (secs > (UINT64_MAX - ms) / 1000)
		return -ERANGE;
	*out = secs * 1000 + ms;
	return 0;
}

static bool bucket_name_ok(const char *b, size_t len)
{
	if (len == 0 || len > 255)
		return false;
	for (size_t i = 0; i < len; i++) {
		char c = b[i];

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '-' || c == '.' ||
		      c == '_'))
			return false;
	}
	return true;
}

/* "a//b/./" style paths are refused rather than guessed at: "." and ".."
 * cannot be keys the mount could show. */
static int normalize_prefix(const char *path, struct buf *out)
{
	const char *p = path;
	int rc = 0;

	while (*p && rc == 0) {
		size_t n;

		p += strspn(p, "/");
		n = strcspn(p, "/");
		if (n == 0)
			break;
		if ((n == 1 && p[0] == '.') ||
		    (n == 2 && p[0] == '.' && p[1] == '.'))
			return -EINVAL;
		rc = buf_append(out, p, n);
		if (rc == 0)
			rc = buf_append(out, "/", 1);
		p += n;
	}
	return rc;
}

int opts_parse_source(const char *src, char **bucket, char **prefix)
{
	const char *colon;
	size_t blen;
	struct buf pfx;
	int rc;

	*bucket = *prefix = NULL;
	/* Old fstab lines name the source "ossfs#bucket". */
	if (str_has_prefix(src, "ossfs#"))
		src += strlen("ossfs#");
	colon = strchr(src, ':');
	blen = colon ? (size_t)(colon - src) : strlen(src);
	if (!bucket_name_ok(src, blen))
		return -EINVAL;
	buf_init(&pfx, 4096);
	rc = colon ? normalize_prefix(colon + 1, &pfx) : 0;
	if (rc < 0)
		goto out_pfx;
	*bucket = str_ndup(src, blen);
	*prefix = buf_steal(&pfx, NULL);
	if (!*bucket || !*prefix) {
		free(*bucket);
		free(*prefix);
		*bucket = *prefix = NULL;
		rc = -ENOMEM;
	}
out_pfx:
	buf_fini(&pfx);
	return rc;
}

/* ---- applying one -o option -------------------------------------------- */

/* Messages repeat what the user typed, but never the user:password of a
 * URL, wherever it was typed ("url:https://id:secret@host" is an
 * unknown option): in s, the USERINFO of every "scheme://USERINFO@host"
 * becomes a single '*'.  The result is never longer.  Returns the new
 * length. */
static size_t redact_userinfo(char *s)
{
	char *p = s, *out = s;

	while (*p) {
		char *sep = strstr(p, "://");
		size_t auth, at;

		if (!sep) {
			size_t rest = strlen(p);

			memmove(out, p, rest);
			out += rest;
			break;
		}
		sep += 3;
		memmove(out, p, (size_t)(sep - p));
		out += sep - p;
		auth = strcspn(sep, "/?#' \t\n");
		for (at = auth; at > 0 && sep[at - 1] != '@'; at--)
			;
		if (at > 1) { /* USERINFO@ with USERINFO not empty */
			*out++ = '*';
			sep += at - 1;
		}
		p = sep;
	}
	*out = '\0';
	return (size_t)(out - s);
}

/* Redact what the last append to o->notes (a warning main.c logs) added
 * after start; passes rc on. */
static int redact_note(struct opts *o, size_t start, int rc)
{
	if (rc == 0)
		o->notes.len = start + redact_userinfo(o->notes.data + start);
	return rc;
}

static void fail(char *err, size_t err_size, const char *fmt, ...)
	OSSFS_PRINTF(3, 4);

static void fail(char *err, size_t err_size, const char *fmt, ...)
{
	va_list ap;

	if (!err_size)
		return;
	va_start(ap, fmt);
	vsnprintf(err, err_size, fmt, ap);
	va_end(ap);
	(void)redact_userinfo(err);
}

static const struct opt_def *opt_lookup(const char *name)
{
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(opt_table); i++) {
		const char *n = opt_table[i].name;
		size_t len = strlen(n);

		if (len && n[len - 1] == '*') {
			if (strncmp(name, n, len - 1) == 0)
				return &opt_table[i];
		} else if (strcmp(name, n) == 0) {
			return &opt_table[i];
		}
	}
	return NULL;
}

static int set_str(struct opts *o, size_t off, const char *value)
{
	char **field = (char **)((char *)o + off);
	char *copy = str_dup(value);

	if (!copy)
		return -ENOMEM;
	free(*field);
	*field = copy;
	return 0;
}

static void set_bool(struct opts *o, size_t off, bool v)
{
	*(bool *)((char *)o + off) = v;
}

/* Parse value by kind into an int64_t; -EINVAL/-ERANGE. */
static int parse_number(const struct opt_def *d, const char *value,
			int64_t *out)
{
	uint64_t u = 0;
	int rc;

	switch (d->kind) {
	case K_INT:
		rc = str_to_u64(value, 10, &u);
		break;
	case K_OCTAL:
		rc = strspn(value, "01234567") == strlen(value)
			     ? str_to_u64(value, 8, &u)
			     : -EINVAL;
		break;
	case K_SIZE:
		rc = opts_parse_size(value, &u);
		break;
	default: /* K_MS */
		rc = opts_parse_seconds_ms(value, &u);
		break;
	}
	if (rc == 0 && (u > (uint64_t)d->max || (int64_t)u < d->min))
		rc = -ERANGE;
	*out = (int64_t)u;
	return rc;
}

static int set_number(struct opts *o, const struct opt_def *d,
		      const char *value, char *err, size_t err_size)
{
	int64_t v;
	int rc = parse_number(d, value, &v);

	if (rc == -ERANGE && d->kind == K_MS)
		fail(err, err_size,
		     "%s=%s: out of range (%.3f to %.3f seconds)", d->name,
		     value, (double)d->min / 1000, (double)d->max / 1000);
	else if (rc == -ERANGE)
		fail(err, err_size,
		     "%s=%s: out of range (%" PRId64 " to %" PRId64 ")",
		     d->name, value, d->min, d->max);
	else if (rc < 0)
		fail(err, err_size, "%s=%s: not a valid %s", d->name, value,
		     d->kind == K_OCTAL ? "octal number"
		     : d->kind == K_SIZE
			     ? "size (bytes, or a number with K, M, G or T)"
		     : d->kind == K_MS ? "number of seconds"
				       : "number");
	else
		*(int64_t *)((char *)o + d->off) = v;
	return rc < 0 ? -EINVAL : 0;
}

static int set_level(struct opts *o, const struct opt_def *d, const char *value,
		     char *err, size_t err_size)
{
	enum log_level lvl;

	/* s3fs and ossfs 1.x also say "crit". */
	if (str_ieq(value, "crit") || str_ieq(value, "critical")) {
		lvl = LOG_LVL_ERR;
	} else if (log_parse_level(value, &lvl) < 0) {
		fail(err, err_size, "%s=%s: use error, warn, info or debug",
		     d->name, value);
		return -EINVAL;
	}
	*(int64_t *)((char *)o + d->off) = (int64_t)lvl;
	return 0;
}

static int set_fill(struct opts *o, const struct opt_def *d, const char *value,
		    char *err, size_t err_size)
{
	static const char *const names[] = { "auto", "all", "off" };

	/* The order of names is enum fs_meta_fill's. */
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(names); i++)
		if (strcmp(value, names[i]) == 0) {
			*(int64_t *)((char *)o + d->off) = (int64_t)i;
			return 0;
		}
	fail(err, err_size, "option '%s': '%s' is not auto, all or off",
	     d->name, value);
	return -EINVAL;
}

static int append_opt(struct buf *b, const char *name, const char *value)
{
	int rc = b->len ? buf_append_str(b, ",") : 0;

	if (rc == 0)
		rc = buf_append_str(b, name);
	if (rc == 0 && value)
		rc = buf_appendf(b, "=%s", value);
	return rc;
}

static int set_ram_role(struct opts *o, const char *value)
{
	o->ram_role = true;
	free(o->ram_role_name);
	o->ram_role_name = NULL;
	if (!value || !*value || strcmp(value, "auto") == 0)
		return 0;
	o->ram_role_name = str_dup(value);
	return o->ram_role_name ? 0 : -ENOMEM;
}

static int apply_special(struct opts *o, const struct opt_def *d,
			 const char *name, const char *value)
{
	size_t start = o->notes.len;

	switch (d->kind) {
	case K_FUSE:
		return append_opt(&o->fuse_opts, name, value);
	case K_COMPAT:
		return redact_note(o, start,
				   buf_appendf(&o->notes,
					       "option '%s' has no effect\n",
					       name));
	case K_SIG_V1:
		o->sig = OPTS_SIG_V1;
		return 0;
	case K_SIG_V4:
		o->sig = OPTS_SIG_V4;
		return 0;
	case K_RAM_ROLE:
		return set_ram_role(o, value);
	case K_DEBUG:
		o->debug = true;
		return 0;
	default: /* K_IGNORE */
		return 0;
	}
}

static int check_value(const struct opt_def *d, const char *name,
		       const char *value, char *err, size_t err_size)
{
	if (d->value == V_NONE && value) {
		fail(err, err_size, "option '%s' takes no value", name);
		return -EINVAL;
	}
	if (d->value == V_REQUIRED && (!value || !*value)) {
		fail(err, err_size, "option '%s' needs a value (%s=%s)", name,
		     name, d->arg);
		return -EINVAL;
	}
	return 0;
}

static int apply_one(struct opts *o, const char *name, const char *value,
		     char *err, size_t err_size)
{
	const struct opt_def *d = opt_lookup(name);
	size_t start = o->notes.len;
	int rc;

	if (!d && o->sloppy)
		return redact_note(o, start,
				   buf_appendf(&o->notes,
					       "ignored unknown option '%s'\n",
					       name));
	if (!d) {
		fail(err, err_size, "unknown option '%s'", name);
		return -EINVAL;
	}
	rc = check_value(d, name, value, err, err_size);
	if (rc < 0)
		return rc;
	switch (d->kind) {
	case K_STR:
		return set_str(o, d->off, value);
	case K_TRUE:
	case K_FALSE:
		set_bool(o, d->off, d->kind == K_TRUE);
		return 0;
	case K_INT:
	case K_OCTAL:
	case K_SIZE:
	case K_MS:
		return set_number(o, d, value, err, err_size);
	case K_LEVEL:
		return set_level(o, d, value, err, err_size);
	case K_FILL:
		return set_fill(o, d, value, err, err_size);
	default:
		return apply_special(o, d, name, value);
	}
}

/* ---- -o lists -------------------------------------------------------------
 */

/* Apply one "name" or "name=value" token; the empty token (",,") is
 * skipped as mount.fuse does. */
static int apply_token(struct opts *o, char *tok, char *err, size_t err_size)
{
	char *eq = strchr(tok, '=');

	if (!*tok)
		return 0;
	if (eq)
		*eq = '\0';
	return apply_one(o, tok, eq ? eq + 1 : NULL, err, err_size);
}

/* Commas separate options; a backslash escapes the next character and
 * double quotes protect commas, as libfuse and mount(8) allow, so a path
 * with a comma can still be given. */
int opts_parse_list(struct opts *o, const char *list, char *err,
		    size_t err_size)
{
	struct buf tok;
	bool quoted = false;
	int rc = 0;

	buf_init(&tok, 8192);
	for (const char *p = list; rc == 0; p++) {
		if (*p == '\0' || (*p == ',' && !quoted)) {
			rc = apply_token(o, tok.data, err, err_size);
			buf_reset(&tok);
			if (*p == '\0')
				break;
		} else if (*p == '"') {
			quoted = !quoted;
		} else if (*p == '\\' && p[1]) {
			rc = buf_append(&tok, ++p, 1);
		} else {
			rc = buf_append(&tok, p, 1);
		}
	}
	if (rc == -ENOMEM)
		fail(err, err_size, "out of memory");
	else if (rc == -E2BIG)
		fail(err, err_size, "option list too long");
	buf_fini(&tok);
	return rc < 0 ? rc : 0;
}

/* ---- argv ------------------------------------------------------------------
 */

static int add_positional(struct opts *o, const char *arg, char *err,
			  size_t err_size)
{
	char **slot = !o->source       ? &o->source
		      : !o->mountpoint ? &o->mountpoint
				       : NULL;

	if (!slot) {
		fail(err, err_size, "unexpected argument '%s'", arg);
		return -EINVAL;
	}
	*slot = str_dup(arg);
	return *slot ? 0 : -ENOMEM;
}

/* One flag character; the helper and ossfs read -f differently. */
static int apply_flag(struct opts *o, char c, char *err, size_t err_size)
{
	bool helper = o->mode == OPTS_MODE_MOUNT_HELPER;

	switch (c) {
	case 'h':
		o->show_help = true;
		return 0;
	case 'V':
		o->show_version = true;
		return 0;
	case 'd':
		o->debug = true;
		return 0;
	case 'v':
		o->verbose = true;
		return 0;
	case 'f':
		if (helper)
			o->fake = true;
		else
			o->foreground = true;
		return 0;
	case 's':
	case 'n':
		if (!helper)
			break;
		if (c == 's')
			o->sloppy = true;
		else
			o->no_mtab = true;
		return 0;
	case 'N':
		if (!helper)
			break;
		fail(err, err_size, "mount namespaces (-N) are not supported");
		return -EINVAL;
	default:
		break;
	}
	fail(err, err_size, "unknown option '-%c'", c);
	return -EINVAL;
}

/* Flags taking a value: -o OPTS (also -oOPTS) and the helper's -t TYPE. */
static bool flag_takes_value(const struct opts *o, char c)
{
	return c == 'o' || (c == 't' && o->mode == OPTS_MODE_MOUNT_HELPER);
}

/* A cluster such as "-sfnv", "-o", "-oro,uid=1" or "-fo ro".  *i is the
 * index of the cluster and is advanced past a separate value. */
static int parse_cluster(struct opts *o, int argc, char *const argv[], int *i,
			 char *err, size_t err_size)
{
	const char *arg = argv[*i];
	int rc = 0;

	for (size_t k = 1; arg[k] && rc == 0; k++) {
		const char *value;

		if (!flag_takes_value(o, arg[k])) {
			rc = apply_flag(o, arg[k], err, err_size);
			continue;
		}
		value = arg[k + 1] ? &arg[k + 1] : NULL;
		if (!value && *i + 1 < argc)
			value = argv[++*i];
		if (!value) {
			fail(err, err_size, "option '-%c' needs a value",
			     arg[k]);
			return -EINVAL;
		}
		/* mount(8) says which type it mounted; ossfs knows. */
		return arg[k] == 'o' ? opts_parse_list(o, value, err, err_size)
				     : 0;
	}
	return rc;
}

static int parse_long(struct opts *o, const char *arg, char *err,
		      size_t err_size)
{
	if (strcmp(arg, "--help") == 0) {
		o->show_help = true;
	} else if (strcmp(arg, "--version") == 0) {
		o->show_version = true;
	} else {
		fail(err, err_size, "unknown option '%s'", arg);
		return -EINVAL;
	}
	return 0;
}

int opts_parse(struct opts *o, int argc, char *const argv[], char *err,
	       size_t err_size)
{
	bool only_positional = false;
	int rc = 0;

	if (err_size)
		err[0] = '\0';
	for (int i = 1; i < argc && rc == 0; i++) {
		const char *arg = argv[i];

		if (only_positional || arg[0] != '-' || arg[1] == '\0')
			rc = add_positional(o, arg, err, err_size);
		else if (strcmp(arg, "--") == 0)
			only_positional = true;
		else if (arg[1] == '-')
			rc = parse_long(o, arg, err, err_size);
		else
			rc = parse_cluster(o, argc, argv, &i, err, err_size);
	}
	if (rc == -ENOMEM)
		fail(err, err_size, "out of memory");
	return rc;
}

/* ---- after parsing ---------------------------------------------------------
 */

static int finish_source(struct opts *o, char *err, size_t err_size)
{
	int rc;

	if (!o->source || !o->mountpoint || !*o->mountpoint) {
		fail(err, err_size, "missing %s",
		     o->source ? "MOUNTPOINT" : "BUCKET and MOUNTPOINT");
		return -EINVAL;
	}
	rc = opts_parse_source(o->source, &o->bucket, &o->prefix);
	if (rc == -EINVAL)
		fail(err, err_size,
		     "'%s' is not BUCKET[:/PREFIX] (a bucket name is letters, "
		     "digits, '-', '.' and '_')",
		     o->source);
	if (rc == 0 && !o->fsname)
		rc = set_str(o, F(fsname), o->source);
	return rc;
}

/* The scheme of "scheme://...", lower-cased: http or https only.  No
 * scheme means https, as the SDKs default to. */
static const char *url_scheme(const char *in, const char *sep)
{
	if (!sep)
		return "https";
	if (sep - in == 4 && strncasecmp(in, "http", 4) == 0)
		return "http";
	if (sep - in == 5 && strncasecmp(in, "https", 5) == 0)
		return "https";
	return NULL;
}

/* "HOST[:PORT]" or "http(s)://HOST[:PORT][/]" -> "scheme://HOST[:PORT]". */
static int normalize_url(const char *in, const char *opt, char **out, char *err,
			 size_t err_size)
{
	const char *sep = strstr(in, "://");
	const char *scheme = url_scheme(in, sep);
	const char *host = sep ? sep + 3 : in;
	size_t hlen = strlen(host);
	struct buf b;
	int rc;

	if (!scheme) {
		fail(err, err_size, "%s=%s: the scheme must be http or https",
		     opt, in);
		return -EINVAL;
	}
	while (hlen && host[hlen - 1] == '/')
		hlen--;
	/* "user:secret@host": say no without repeating it, since what is
	 * before the '@' may be a password. */
	if (memchr(host, '@', strcspn(host, "/?#"))) {
		fail(err, err_size,
		     "%s=: a user name or password in the URL is not "
		     "accepted; give credentials with passwd_file= or the "
		     "environment",
		     opt);
		return -EINVAL;
	}
	if (hlen == 0 || strcspn(host, "/?#@ \t") < hlen) {
		fail(err, err_size, "%s=%s: expected %s", opt, in,
		     sep ? "http(s)://HOST[:PORT]" : "HOST[:PORT]");
		return -EINVAL;
	}
	buf_init(&b, 4096);
	rc = buf_appendf(&b, "%s://%.*s", scheme, (int)hlen, host);
	*out = rc == 0 ? buf_steal(&b, NULL) : NULL;
	buf_fini(&b);
	return rc == 0 && !*out ? -ENOMEM : rc;
}

static int finish_endpoint(struct opts *o, char *err, size_t err_size)
{
	char *role_url = NULL;
	int rc;

	if (!o->endpoint && !o->url) {
		fail(err, err_size,
		     "no endpoint given: add -o "
		     "endpoint=oss-REGION.aliyuncs.com"
		     " or -o url=http(s)://HOST[:PORT]");
		return -EINVAL;
	}
	if (o->endpoint && o->url) {
		fail(err, err_size, "give endpoint= or url=, not both");
		return -EINVAL;
	}
	free(o->endpoint_url);
	o->endpoint_url = NULL;
	rc = normalize_url(o->url ? o->url : o->endpoint,
			   o->url ? "url" : "endpoint", &o->endpoint_url, err,
			   err_size);
	if (rc == 0 && o->ram_role_url) {
		rc = normalize_url(o->ram_role_url, "ram_role_url", &role_url,
				   err, err_size);
		if (rc == 0) {
			free(o->ram_role_url);
			o->ram_role_url = role_url;
		}
	}
	return rc;
}

static int check_conflicts(struct opts *o, char *err, size_t err_size)
{
	const char *why = NULL;

	if (o->sig == OPTS_SIG_V1 && o->s3)
		why = "sigv1 cannot be used with s3 (S3 uses AWS signature V4)";
	else if (o->allow_other && o->allow_root)
		why = "allow_other and allow_root cannot be used together";
	else if (o->public_bucket && (o->passwd_file || o->ram_role))
		why = "public cannot be used with passwd_file= or ram_role";
	else if (o->ram_role_url && !o->ram_role)
		why = "ram_role_url= needs ram_role";
	if (why) {
		fail(err, err_size, "%s", why);
		return -EINVAL;
	}
	/* libfuse's -d implies -f: tracing a daemon's closed stderr helps
	 * nobody. */
	if (o->debug)
		o->foreground = true;
	return 0;
}

/* ossfs changes directory to / once it runs in the background, so a
 * relative cache_dir must be made absolute first. */
static int absolute_path(char **path)
{
	char cwd[4096];
	struct buf b;
	int rc;

	if (!*path || (*path)[0] == '/')
		return 0;
	if (!getcwd(cwd, sizeof(cwd)))
		return -errno;
	buf_init(&b, 8192);
	rc = buf_appendf(&b, "%s/%s", cwd, *path);
	if (rc == 0) {
		free(*path);
		*path = buf_steal(&b, NULL);
		rc = *path ? 0 : -ENOMEM;
	}
	buf_fini(&b);
	return rc;
}

int opts_finish(struct opts *o, char *err, size_t err_size)
{
	int rc;

	if (err_size)
		err[0] = '\0';
	if (o->show_help || o->show_version)
		return 0;
	rc = finish_source(o, err, err_size);
	if (rc == 0)
		rc = finish_endpoint(o, err, err_size);
	if (rc == 0)
		rc = check_conflicts(o, err, err_size);
	if (rc == 0) {
		rc = absolute_path(&o->cache_dir);
		if (rc < 0 && rc != -ENOMEM)
			fail(err, err_size, "cache_dir=%s: %s", o->cache_dir,
			     strerror(-rc));
	}
	if (rc == 0) {
		rc = absolute_path(&o->staging_dir);
		if (rc < 0 && rc != -ENOMEM)
			fail(err, err_size, "staging_dir=%s: %s",
			     o->staging_dir, strerror(-rc));
	}
	if (rc == -ENOMEM)
		fail(err, err_size, "out of memory");
	return rc;
}

/* ---- --help ----------------------------------------------------------------
 */

void opts_print_usage(FILE *out, enum opts_mode mode)
{
	if (mode == OPTS_MODE_MOUNT_HELPER)
		fprintf(out, "usage: mount.ossfs BUCKET[:/PREFIX] MOUNTPOINT "
			     "[-sfnv] [-o OPT[,OPT...]]\n");
	else
		fprintf(out, "usage: ossfs BUCKET[:/PREFIX] MOUNTPOINT [-f] "
			     "[-d] [-o OPT[,OPT...]]\n"
			     "       ossfs --help | --version\n");
}

static void print_flags(FILE *out, enum opts_mode mode)
{
	if (mode == OPTS_MODE_MOUNT_HELPER)
		fprintf(out, "  -s                       sloppy: warn about "
			     "unknown options, do not fail\n"
			     "  -f                       fake: check the "
			     "command line, do not mount\n"
			     "  -n                       accepted (ossfs keeps "
			     "no mtab)\n"
			     "  -v                       verbose: log at info "
			     "level\n");
	else
		fprintf(out,
			"  -f                       stay in the foreground,"
			" log to stderr\n");
	fprintf(out, "  -d                       trace FUSE requests and log "
		     "debug (foreground)\n"
		     "  -o OPT[,OPT...]          mount options, below\n"
		     "  -h, --help               this text\n"
		     "  -V, --version            versions of ossfs and its "
		     "libraries\n");
}

static void print_option(FILE *out, const struct opt_def *d)
{
	char left[64];

	if (d->value == V_NONE)
		snprintf(left, sizeof(left), "%s", d->name);
	else if (d->value == V_OPTIONAL)
		snprintf(left, sizeof(left), "%s[=%s]", d->name, d->arg);
	else
		snprintf(left, sizeof(left), "%s=%s", d->name, d->arg);
	fprintf(out, "  %-24s %s\n", left, d->help);
}

/* The options without a help line of their own, as one wrapped list. */
static void print_group(FILE *out, const char *title, enum opt_kind kind)
{
	size_t col = strlen(title) + 2;

	fprintf(out, "  %s", title);
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(opt_table); i++) {
		const struct opt_def *d = &opt_table[i];
		size_t w = strlen(d->name) + 1;

		if (d->help || d->kind != kind)
			continue;
		if (col + w > 78) {
			fprintf(out, "\n   ");
			col = 3;
		}
		fprintf(out, " %s", d->name);
		col += w;
	}
	fprintf(out, "\n");
}

void opts_print_help(FILE *out, enum opts_mode mode)
{
	opts_print_usage(out, mode);
	fprintf(out, "\nMount an Alibaba Cloud OSS bucket, or an S3-compatible "
		     "one, at MOUNTPOINT.\n\nflags:\n");
	print_flags(out, mode);
	fprintf(out, "\nmount options (-o):\n");
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(opt_table); i++)
		if (opt_table[i].help)
			print_option(out, &opt_table[i]);
	print_group(out, "kernel mount flags, passed on:", K_FUSE);
	print_group(out, "for mount(8), ignored:", K_IGNORE);
	fprintf(out,
		"\ncredentials, the first found wins: passwd_file=; "
		"OSS_ACCESS_KEY_ID and\nOSS_ACCESS_KEY_SECRET (or "
		"ALIBABA_CLOUD_ACCESS_KEY_ID/_SECRET);\n~/.passwd-ossfs; "
		"/etc/passwd-ossfs; then ram_role when given.\n"
		"\nexit status: 0 mounted, 1 internal error, 2 usage, "
		"3 credentials,\n4 refused by the server, 5 network or TLS, "
		"6 mount failed.\n\nSee ossfs(1) and mount.ossfs(8).\n");
}
