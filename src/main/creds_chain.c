/* The credentials chain: see creds_chain_i.h for the order and why a
 * broken source stops it. */
#include <errno.h>
#include <pwd.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "creds_chain_i.h"

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
}

/* A loader that failed without saying why still gets a message that names
 * the source. */
static int loader_failed(int rc, const char *source, char *err, size_t err_size)
{
	if (err_size && !err[0])
		fail(err, err_size, "%s: %s", source, strerror(-rc));
	return rc;
}

/* $HOME, else the password database (mount(8) at boot may run us without
 * HOME).  Returns false when there is none. */
static bool home_dir(const struct creds_chain_config *cfg, char *out,
		     size_t size)
{
	const char *h = cfg->home ? cfg->home : getenv("HOME");
	struct passwd pw, *res = NULL;
	char pwbuf[4096];

	if (!h && getpwuid_r(geteuid(), &pw, pwbuf, sizeof(pwbuf), &res) == 0 &&
	    res)
		h = res->pw_dir;
	if (!h || !*h)
		return false;
	return (size_t)snprintf(out, size, "%s", h) < size;
}

static int from_file(const struct creds_loaders *ld, const char *path,
		     const char *bucket, bool allow_group_read,
		     struct creds_choice *out, char *err, size_t err_size)
{
	int rc;

	/* A previous source's "not found" text must not stand in for this
	 * one's reason. */
	if (err_size)
		err[0] = '\0';
	rc = ld->from_passwd_file(path, bucket, allow_group_read, &out->creds,
				  err, err_size);
	if (rc == 0)
		snprintf(out->source, sizeof(out->source), "%s", path);
	else if (rc != -ENOENT)
		loader_failed(rc, path, err, err_size);
	return rc;
}

/* A file named on the command line must exist and hold credentials: the
 * user asked for it, so falling back to another identity would surprise. */
static int from_explicit_file(const struct creds_chain_config *cfg,
			      const struct creds_loaders *ld,
			      struct creds_choice *out, char *err,
			      size_t err_size)
{
	const char *etc = cfg->etc_passwd_file ? cfg->etc_passwd_file
					       : CREDS_ETC_PASSWD_FILE;
	struct stat st;
	int rc;

	if (stat(cfg->passwd_file, &st) < 0) {
		rc = -errno;
		fail(err, err_size, "passwd_file=%s: %s", cfg->passwd_file,
		     strerror(errno));
		return rc;
	}
	rc = from_file(ld, cfg->passwd_file, cfg->bucket,
		       strcmp(cfg->passwd_file, etc) == 0, out, err, err_size);
	if (rc == -ENOENT)
		fail(err, err_size,
		     "passwd_file=%s has no credentials for bucket '%s'",
		     cfg->passwd_file, cfg->bucket);
	return rc;
}

static int from_env(const struct creds_loaders *ld, struct creds_choice *out,
		    char *err, size_t err_size)
{
	int rc;

	if (err_size)
		err[0] = '\0';
	rc = ld->from_env(&out->creds, err, err_size);
	if (rc == 0)
		snprintf(out->source, sizeof(out->source), "the environment");
	else if (rc != -ENOENT)
		loader_failed(rc, "environment", err, err_size);
	return rc;
}

static int from_user_file(const struct creds_chain_config *cfg,
			  const struct creds_loaders *ld,
			  struct creds_choice *out, char *err, size_t err_size)
{
	char home[4096], path[4200];

	if (!home_dir(cfg, home, sizeof(home)))
		return -ENOENT;
	if ((size_t)snprintf(path, sizeof(path), "%s/%s", home,
			     CREDS_USER_PASSWD_FILE) >= sizeof(path))
		return -ENOENT;
	return from_file(ld, path, cfg->bucket, false, out, err, err_size);
}

static int no_credentials(const struct creds_chain_config *cfg, char *err,
			  size_t err_size)
{
	fail(err, err_size,
	     "no credentials for bucket '%s': set OSS_ACCESS_KEY_ID and "
	     "OSS_ACCESS_KEY_SECRET, put BUCKET:AK:SK in ~/%s (mode 600), or "
	     "use -o passwd_file=, -o ram_role or -o public",
	     cfg->bucket, CREDS_USER_PASSWD_FILE);
	return -ENOENT;
}

int creds_chain_resolve(const struct creds_chain_config *cfg,
			const struct creds_loaders *ld,
			struct creds_choice *out, char *err, size_t err_size)
{
	const char *etc = cfg->etc_passwd_file ? cfg->etc_passwd_file
					       : CREDS_ETC_PASSWD_FILE;
	int rc;

	memset(out, 0, sizeof(*out));
	if (err_size)
		err[0] = '\0';
	if (cfg->anonymous) {
		out->kind = CREDS_ANONYMOUS;
		snprintf(out->source, sizeof(out->source), "nowhere (public)");
		return 0;
	}
	if (cfg->passwd_file)
		return from_explicit_file(cfg, ld, out, err, err_size);
	rc = from_env(ld, out, err, err_size);
	if (rc == -ENOENT)
		rc = from_user_file(cfg, ld, out, err, err_size);
	if (rc == -ENOENT)
		rc = from_file(ld, etc, cfg->bucket, true, out, err, err_size);
	if (rc == -ENOENT && cfg->ram_role) {
		out->kind = CREDS_RAM_ROLE;
		snprintf(out->source, sizeof(out->source), "the ECS RAM role");
		rc = 0;
	}
	if (rc == -ENOENT)
		rc = no_credentials(cfg, err, err_size);
	else if (rc == 0 && err_size)
		err[0] = '\0';
	return rc;
}

void creds_choice_fini(const struct creds_loaders *ld, struct creds_choice *c)
{
	if (c->kind == CREDS_STATIC)
		ld->creds_fini(&c->creds);
	memset(c, 0, sizeof(*c));
}
