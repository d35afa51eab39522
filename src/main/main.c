/* ossfs: the composition root.
 *
 * options -> logging -> mount point -> credentials -> fork -> (in the
 * child) provider -> http engine -> oss client -> probe -> upload -> fs ->
 * mount -> "ready" -> serve -> tear down in reverse, waiting for pending
 * uploads once unmounted.
 *
 * Everything that can be checked without threads (the command line, the
 * log file, the mount point, the passwd files) is checked before the fork
 * so its error is immediate; everything that starts a thread comes after
 * it (see daemon_i.h).  The probe runs before bridge_mount, so a bad key
 * or bucket never leaves a dead mount behind.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <unistd.h>

#include <curl/curl.h>

#include "auth.h"
#include "base.h"
#include "bridge.h"
#include "creds_chain_i.h"
#include "daemon_i.h"
#include "explain_i.h"
#include "fs.h"
#include "http.h"
#include "main_i.h"
#include "options_i.h"
#include "oss.h"
#include "prefetch.h"
#include "upload.h"

#define MSG_MAX 1024
/* configure(): stop here with status 0 (--help, --version, mount -f). */
#define DONE (-1)

struct app {
	struct opts o;
	struct daemon d;
	struct creds_choice creds;
	char region[64];
	struct auth_provider *provider; /* NULL for public buckets */
	struct http_engine *engine;
	struct oss_store store;
	struct upload_mgr *upload;	 /* NULL on a read-only mount */
	struct prefetch_config prefetch; /* the fs points at it */
	struct fs *fs;
	struct bridge *bridge;
};

static int configure(struct app *app, int argc, char **argv, char *msg)
{
	struct opts *o = &app->o;

	int rc = opts_parse(o, argc, argv, msg, MSG_MAX);

	if (rc == 0)
		rc = opts_finish(o, msg, MSG_MAX);
	if (rc < 0)
		return rc == -ENOMEM ? OSSFS_EXIT_FAILURE : OSSFS_EXIT_USAGE;
	if (o->show_help) {
		opts_print_help(stdout, o->mode);
		return DONE;
	}
	if (o->show_version) {
		main_print_version(stdout);
		return DONE;
	}
	return 0;
}

static int setup_logging(struct app *app, char *msg)
{
	const struct opts *o = &app->o;
	enum log_level lvl = LOG_LVL_WARN;
	const char *p = o->notes.data;
	int rc;

	if (o->loglevel >= 0)
		lvl = (enum log_level)o->loglevel;
	else if (o->debug)
		lvl = LOG_LVL_DEBUG;
	else if (o->verbose)
		lvl = LOG_LVL_INFO;
	log_set_level(lvl);
	rc = o->logfile ? log_set_file(o->logfile) : 0;
	if (rc < 0) {
		snprintf(msg, MSG_MAX, "logfile=%s: %s", o->logfile,
			 strerror(-rc));
		return OSSFS_EXIT_USAGE;
	}
	while (*p) {
		size_t n = strcspn(p, "\n");

		log_warn("%.*s", (int)n, p);
		p += n + (p[n] == '\n');
	}
	return 0;
}

/* The mount point must be absolute once the daemon leaves its working
 * directory.  "/dev/fd/N" is mount.fuse3's drop_privileges hand-over of an
 * already open /dev/fuse and is passed on untouched. */
static int check_mountpoint(struct app *app, char *msg)
{
	char *mp = app->o.mountpoint;
	char real[PATH_MAX];
	struct stat st;

	if (str_has_prefix(mp, "/dev/fd/"))
		return 0;
	if (!realpath(mp, real) || stat(real, &st) < 0) {
		int e = errno;

		snprintf(msg, MSG_MAX, "mount point %s: %s%s", mp, strerror(e),
			 e == ENOTCONN ? " (a dead mount: run fusermount3 -u "
					 "on it first)"
				       : "");
		return OSSFS_EXIT_MOUNT;
	}
	if (!S_ISDIR(st.st_mode)) {
		snprintf(msg, MSG_MAX, "mount point %s is not a directory", mp);
		return OSSFS_EXIT_MOUNT;
	}
	free(app->o.mountpoint);
	app->o.mountpoint = str_dup(real);
	if (!app->o.mountpoint) {
		snprintf(msg, MSG_MAX, "out of memory");
		return OSSFS_EXIT_FAILURE;
	}
	return 0;
}

static int resolve_creds(struct app *app, char *msg)
{
	const struct opts *o = &app->o;
	struct creds_chain_config cfg = {
		.bucket = o->bucket,
		.passwd_file = o->passwd_file,
		.ram_role = o->ram_role,
		.anonymous = o->public_bucket,
	};

	if (creds_chain_resolve(&cfg, &creds_loaders_auth, &app->creds, msg,
				MSG_MAX) < 0)
		return OSSFS_EXIT_CREDS;
	log_info("credentials from %s", app->creds.source);
	return 0;
}

/* Host of "scheme://host[:port]" without the port. */
static void endpoint_host(const char *url, char *out, size_t size)
{
	const char *h = strstr(url, "://");
	size_t n;

	h = h ? h + 3 : url;
	if (h[0] == '[')
		n = strcspn(h, "]") + (strchr(h, ']') ? 1 : 0);
	else
		n = strcspn(h, ":");
	snprintf(out, size, "%.*s", (int)n, h);
}

static bool host_is_local_or_ip(const char *host)
{
	struct in6_addr a6;
	struct in_addr a4;
	char bare[64];

	str_lcpy(bare, host[0] == '[' ? host + 1 : host, sizeof(bare));
	bare[strcspn(bare, "]")] = '\0';
	return strcmp(host, "localhost") == 0 ||
	       inet_pton(AF_INET, bare, &a4) == 1 ||
	       inet_pton(AF_INET6, bare, &a6) == 1;
}

/* V4 signatures name a region.  It comes from region=, else from a
 * standard endpoint host.  S3-compatible servers conventionally take
 * us-east-1, and a server on an IP address or localhost (a private
 * deployment, the test server) has no region of its own, so one is
 * assumed and said.  Any other host needs region=: guessing would only
 * turn into a signature error that blames the key. */
static int resolve_region(struct app *app, char *msg)
{
	const struct opts *o = &app->o;
	char host[256];
	const char *fallback;

	if (o->region) {
		snprintf(app->region, sizeof(app->region), "%s", o->region);
		return 0;
	}
	endpoint_host(o->endpoint_url, host, sizeof(host));
	if (oss_region_from_endpoint(host, app->region, sizeof(app->region)) ==
	    0)
		return 0;
	app->region[0] = '\0';
	if (o->sig == OPTS_SIG_V1)
		return 0;
	fallback = o->s3		       ? "us-east-1"
		   : host_is_local_or_ip(host) ? "cn-hangzhou"
					       : NULL;
	if (!fallback) {
		snprintf(msg, MSG_MAX,
			 "cannot tell the region from endpoint %s: add -o "
			 "region=ID (e.g. cn-hangzhou) or -o sigv1",
			 host);
		return OSSFS_EXIT_USAGE;
	}
	snprintf(app->region, sizeof(app->region), "%s", fallback);
	log_info("no region for %s: signing for %s (set region= to change)",
		 host, fallback);
	return 0;
}

static int make_provider(struct app *app, char *msg)
{
	struct auth_ram_role_config rr = {
		.role_name = app->o.ram_role_name,
		.metadata_url = app->o.ram_role_url,
	};

	switch (app->creds.kind) {
	case CREDS_ANONYMOUS:
		return 0;
	case CREDS_RAM_ROLE:
		app->provider = auth_provider_new_ram_role(&rr, msg, MSG_MAX);
		return app->provider ? 0 : OSSFS_EXIT_CREDS;
	default:
		app->provider = auth_provider_new_static(&app->creds.creds);
		/* The provider has its own copy; wipe ours. */
		creds_choice_fini(&creds_loaders_auth, &app->creds);
		break;
	}
	if (!app->provider) {
		snprintf(msg, MSG_MAX, "out of memory");
		return OSSFS_EXIT_FAILURE;
	}
	return 0;
}

static int start_engine(struct app *app, char *msg)
{
	const struct opts *o = &app->o;
	struct http_engine_config hc;

	http_engine_config_defaults(&hc);
	if (o->connections > 0)
		hc.max_connections = (int)o->connections;
	if (o->connect_timeout_ms > 0)
		hc.connect_timeout_ms = (long)o->connect_timeout_ms;
	if (o->stall_timeout_ms > 0)
		hc.stall_timeout_s = (long)((o->stall_timeout_ms + 999) / 1000);
	if (o->retries >= 0)
		hc.max_attempts = (int)o->retries + 1;
	app->engine = http_engine_new(&hc);
	if (!app->engine) {
		snprintf(msg, MSG_MAX, "cannot start the HTTP engine");
		return OSSFS_EXIT_FAILURE;
	}
	return 0;
}

static int start_client(struct app *app, char *msg)
{
	const struct opts *o = &app->o;
	struct oss_client_config cc = {
		.url = o->endpoint_url,
		.bucket = o->bucket,
		.region = app->region[0] ? app->region : NULL,
		.sig = o->s3		       ? AUTH_SIG_S3_V4
		       : o->sig == OPTS_SIG_V1 ? AUTH_SIG_OSS_V1
					       : AUTH_SIG_OSS_V4,
		.path_style = o->path_style,
		.creds = app->provider,
		.engine = app->engine,
	};
	int rc = oss_client_new(&cc, &app->store, msg, MSG_MAX);

	if (rc < 0 && !msg[0])
		snprintf(msg, MSG_MAX, "cannot set up the OSS client: %s",
			 strerror(-rc));
	return rc == 0	       ? 0
	       : rc == -EINVAL ? OSSFS_EXIT_USAGE
			       : OSSFS_EXIT_FAILURE;
}

static int run_probe(struct app *app, char *msg)
{
	struct oss_error e;
	int rc;

	oss_error_clear(&e);
	rc = app->store.ops->probe(app->store.impl, &e);
	if (rc == 0)
		return 0;
	return explain_probe_failure(rc, &e, app->o.bucket, app->o.endpoint_url,
				     app->o.public_bucket, msg, MSG_MAX);
}

/* Where staged files live unless staging_dir= says: root's state
 * directory, else the user's cache directory. */
static int staging_root(const struct opts *o, struct buf *out)
{
	const char *home = getenv("HOME");

	if (o->staging_dir)
		return buf_append_str(out, o->staging_dir);
	if (geteuid() == 0)
		return buf_append_str(out, "/var/lib/ossfs/staging");
	if (home && *home == '/')
		return buf_appendf(out, "%s/.cache/ossfs/staging", home);
	return buf_appendf(out, "/tmp/ossfs-%u/staging", (unsigned)geteuid());
}

static void upload_options(const struct opts *o, struct upload_config *uc)
{
	upload_config_defaults(uc);
	if (o->upload_delay_ms >= 0)
		uc->delay_ms = (uint32_t)o->upload_delay_ms;
	if (o->upload_workers > 0)
		uc->workers = (unsigned)o->upload_workers;
	if (o->multipart_threshold_bytes > 0)
		uc->multipart_threshold_bytes =
			(uint64_t)o->multipart_threshold_bytes;
	if (o->part_size_bytes > 0)
		uc->part_size_bytes = (uint64_t)o->part_size_bytes;
	if (o->copy_part_threshold_bytes > 0)
		uc->copy_part_threshold_bytes =
			(uint64_t)o->copy_part_threshold_bytes;
}

/* Every staged file holds a descriptor until it is uploaded, and cp -r
 * of many small files can stage thousands at once: take all the
 * descriptors we may have. */
static void raise_fd_limit(void)
{
	struct rlimit rl;

	if (getrlimit(RLIMIT_NOFILE, &rl) == 0 && rl.rlim_cur < rl.rlim_max) {
		rl.rlim_cur = rl.rlim_max;
		if (setrlimit(RLIMIT_NOFILE, &rl) != 0)
			log_debug("cannot raise the descriptor limit: %s",
				  strerror(errno));
	}
}

/* Staging and uploads; staged files a killed daemon left behind for this
 * bucket are queued at once. */
static int start_upload(struct app *app, char *msg)
{
	const struct opts *o = &app->o;
	struct upload_config uc;
	struct buf root, id;
	size_t recovered = 0;
	int rc;

	if (o->readonly)
		return 0;
	raise_fd_limit();
	upload_options(o, &uc);
	buf_init(&root, 0);
	buf_init(&id, 0);
	rc = staging_root(o, &root);
	if (!rc)
		rc = buf_appendf(&id, "%s %s %s", o->endpoint_url, o->bucket,
				 o->prefix);
	uc.staging_root = root.data;
	uc.identity = id.data;
	if (!rc)
		rc = upload_mgr_new(&uc, &app->store, &app->upload, &recovered);
	if (rc < 0)
		snprintf(msg, MSG_MAX,
			 "cannot use the staging directory under %s: %s "
			 "(set staging_dir=, or mount with -o ro)",
			 root.data ? root.data : "?", strerror(-rc));
	else if (recovered)
		log_warn("uploading %zu file(s) a previous ossfs left in %s",
			 recovered, upload_mgr_dir(app->upload));
	buf_fini(&id);
	buf_fini(&root);
	return rc < 0 ? OSSFS_EXIT_FAILURE : 0;
}

/* Prefetch is on unless noprefetch; its GETs leave 8 of the engine's
 * connections to reads a process waits for. */
static void configure_prefetch(struct app *app)
{
	const struct opts *o = &app->o;
	struct prefetch_config *pc = &app->prefetch;

	prefetch_config_defaults(pc);
	pc->dir_prefetch = !o->no_prefetch;
	if (o->prefetch_file_max_bytes >= 0)
		pc->file_max_bytes = (uint64_t)o->prefetch_file_max_bytes;
	if (o->prefetch_window > 0) {
		pc->window_files = (uint32_t)o->prefetch_window;
		pc->window_max_files = 4 * pc->window_files;
	}
	if (o->readahead_bytes == 0)
		pc->readahead = false;
	else if (o->readahead_bytes > 0)
		pc->readahead_max_bytes = (uint64_t)o->readahead_bytes;
	if (o->connections > 0)
		pc->max_inflight = o->connections > 16
					   ? (uint32_t)o->connections - 8
					   : (uint32_t)(o->connections + 1) / 2;
}

static int start_fs(struct app *app, char *msg)
{
	const struct opts *o = &app->o;
	struct fs_config fc;
	int rc;

	fs_config_defaults(&fc);
	fc.prefix = o->prefix;
	fc.readonly = o->readonly;
	fc.engine = app->engine;
	fc.upload = app->upload;
	if (o->uid >= 0)
		fc.uid = (uid_t)o->uid;
	if (o->gid >= 0)
		fc.gid = (gid_t)o->gid;
	if (o->umask >= 0)
		fc.umask = (mode_t)o->umask;
	if (o->attr_ttl_ms >= 0)
		fc.attr_ttl_ms = (uint32_t)o->attr_ttl_ms;
	if (o->dir_ttl_ms >= 0)
		fc.dir_ttl_ms = (uint32_t)o->dir_ttl_ms;
	if (o->neg_ttl_ms >= 0)
		fc.neg_ttl_ms = (uint32_t)o->neg_ttl_ms;
	if (o->meta_fill >= 0)
		fc.meta_fill = (enum fs_meta_fill)o->meta_fill;
	fc.s3 = o->s3;
	if (o->cache_dir)
		fc.cache_dir = o->cache_dir;
	if (o->cache_dir_size_bytes >= 0)
		fc.cache_dir_size_bytes = (uint64_t)o->cache_dir_size_bytes;
	fc.cache_size_bytes = o->cache_size_bytes > 0
				      ? (uint64_t)o->cache_size_bytes
				      : cache_default_budget();
	configure_prefetch(app);
	fc.prefetch = &app->prefetch;
	rc = fs_new(&fc, &app->store, &app->fs);
	if (rc < 0)
		snprintf(msg, MSG_MAX, "cannot set up the file system%s%s: %s",
			 o->cache_dir ? " with cache_dir=" : "",
			 o->cache_dir ? o->cache_dir : "", strerror(-rc));
	return rc < 0 ? OSSFS_EXIT_FAILURE : 0;
}

static int start_mount(struct app *app, char *msg)
{
	const struct opts *o = &app->o;
	struct bridge_config bc = {
		.mountpoint = o->mountpoint,
		.fsname = o->fsname,
		.allow_other = o->allow_other,
		.allow_root = o->allow_root,
		.readonly = o->readonly,
		.nonempty = o->nonempty,
		.debug = o->debug,
		.auto_unmount = o->auto_unmount,
		.max_threads = o->max_threads > 0 ? (int)o->max_threads : 0,
		.fuse_opts = o->fuse_opts.len ? o->fuse_opts.data : NULL,
	};
	int rc = bridge_mount(app->fs, &bc, &app->bridge, msg, MSG_MAX);

	if (rc < 0 && !msg[0])
		snprintf(msg, MSG_MAX, "cannot mount on %s: %s", o->mountpoint,
			 strerror(-rc));
	return rc < 0 ? OSSFS_EXIT_MOUNT : 0;
}

/* In the process that will serve the mount: build bottom-up.  Returns an
 * exit status with msg filled, or 0 once mounted. */
static int start(struct app *app, char *msg)
{
	int (*const steps[])(struct app *, char *) = {
		resolve_region, make_provider, start_engine, start_client,
		run_probe,	start_upload,  start_fs,     start_mount,
	};
	int code = 0;

	/* Before any thread exists, so that every helper thread inherits a
	 * mask without the termination signals (see bridge.h). */
	bridge_block_signals();
	/* Library initialisation, once, while this process has one thread:
	 * the RAM-role provider uses curl before the engine exists. */
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
		snprintf(msg, MSG_MAX, "cannot initialise libcurl");
		return OSSFS_EXIT_FAILURE;
	}
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(steps) && code == 0; i++) {
		msg[0] = '\0';
		code = steps[i](app, msg);
	}
	return code;
}

static void teardown(struct app *app)
{
	if (app->bridge)
		bridge_free(app->bridge);
	if (app->fs)
		fs_free(app->fs);
	/* Unmounted, but not done: what was written must reach the bucket
	 * (umount and SIGTERM both come here). */
	if (app->upload)
		(void)upload_mgr_drain(app->upload);
	upload_mgr_free(app->upload);
	oss_store_destroy(&app->store);
	if (app->engine)
		http_engine_free(app->engine);
	if (app->provider)
		auth_provider_free(app->provider);
	app->bridge = NULL;
	app->fs = NULL;
	app->upload = NULL;
	app->engine = NULL;
	app->provider = NULL;
}

/* Before the fork: everything that needs no thread. */
static int prepare(struct app *app, int argc, char **argv, char *msg)
{
	int code = configure(app, argc, argv, msg);

	if (code == 0)
		code = setup_logging(app, msg);
	if (code == 0)
		code = check_mountpoint(app, msg);
	if (code == 0)
		code = resolve_creds(app, msg);
	if (code == 0 && app->o.fake)
		code = DONE;
	return code;
}

/* After the fork: build, report, serve, tear down. */
static int run(struct app *app, char *msg)
{
	const struct opts *o = &app->o;
	int code = start(app, msg);
	int rc;

	if (code) {
		if (o->logfile)
			log_err("%s", msg);
		daemon_fail(&app->d, opts_progname(o), code, msg);
		return code;
	}
	log_info("mounted %s%s%s at %s", o->bucket, o->prefix[0] ? ":/" : "",
		 o->prefix, o->mountpoint);
	/* Once stderr is gone, logs without a logfile go to syslog. */
	if (!o->foreground && !o->logfile)
		log_set_syslog(true);
	daemon_ready(&app->d);
	rc = bridge_loop(app->bridge);
	if (rc < 0)
		log_err("serving the mount failed: %s", strerror(-rc));
	log_info("unmounted %s", o->mountpoint);
	return rc < 0 ? OSSFS_EXIT_FAILURE : OSSFS_EXIT_OK;
}

int main(int argc, char **argv)
{
	struct app app;
	char msg[MSG_MAX] = "";
	int code, rc;

	memset(&app, 0, sizeof(app));
	opts_init(&app.o, opts_mode_for_argv0(argv[0]));
	/* A peer closing a socket must be an error return, not a death. */
	signal(SIGPIPE, SIG_IGN);

	code = prepare(&app, argc, argv, msg);
	if (code == OSSFS_EXIT_USAGE)
		fprintf(stderr, "%s: %s\nTry '%s --help' for more.\n",
			opts_progname(&app.o), msg, opts_progname(&app.o));
	else if (code > 0)
		fprintf(stderr, "%s: %s\n", opts_progname(&app.o), msg);
	if (code)
		goto out;
	rc = daemon_start(&app.d, !app.o.foreground, opts_progname(&app.o));
	if (rc < 0) {
		fprintf(stderr, "%s: cannot go to the background: %s\n",
			opts_progname(&app.o), strerror(-rc));
		code = OSSFS_EXIT_FAILURE;
		goto out;
	}
	code = run(&app, msg);
	teardown(&app);
out:
	creds_choice_fini(&creds_loaders_auth, &app.creds);
	opts_fini(&app.o);
	return code == DONE ? OSSFS_EXIT_OK : code;
}
