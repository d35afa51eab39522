/* Unit tests of the credentials chain (src/main/creds_chain.c) with fake
 * loaders that record what was asked of them: the order, which files, the
 * group-read rule per file, and that a broken source stops the chain. */
#include <errno.h>
#include <fcntl.h>
#include <pwd.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "creds_chain_i.h"
#include "testutil.h"

#define SECRET "fake-secret-never-shown"

struct fake_source {
	const char *path; /* NULL = the environment */
	int rc;
	const char *msg; /* error text the loader writes */
};

static struct {
	struct fake_source src[4];
	size_t nsrc;
	char calls[8][512];
	bool group[8];
	size_t ncalls;
} fk;

static void fake_reset(void)
{
	memset(&fk, 0, sizeof(fk));
}

static void fake_add(const char *path, int rc, const char *msg)
{
	fk.src[fk.nsrc++] = (struct fake_source){ path, rc, msg };
}

static int fake_answer(const char *path, struct auth_creds *out, char *err,
		       size_t err_size)
{
	for (size_t i = 0; i < fk.nsrc; i++) {
		const struct fake_source *s = &fk.src[i];

		if ((path == NULL) != (s->path == NULL) ||
		    (path && strcmp(path, s->path) != 0))
			continue;
		if (s->rc == 0) {
			out->access_key_id = str_dup(path ? path : "env-ak");
			out->access_key_secret = str_dup(SECRET);
		} else if (s->msg) {
			snprintf(err, err_size, "%s", s->msg);
		}
		return s->rc;
	}
	/* As auth/ does: a reason even for "not here". */
	snprintf(err, err_size, "nothing in %s", path ? path : "env");
	return -ENOENT;
}

static int fake_env(struct auth_creds *out, char *err, size_t err_size)
{
	snprintf(fk.calls[fk.ncalls++], sizeof(fk.calls[0]), "env");
	return fake_answer(NULL, out, err, err_size);
}

static int fake_file(const char *path, const char *bucket,
		     bool allow_group_read, struct auth_creds *out, char *err,
		     size_t err_size)
{
	CHECK_STR(bucket, "bkt");
	fk.group[fk.ncalls] = allow_group_read;
	snprintf(fk.calls[fk.ncalls++], sizeof(fk.calls[0]), "%s", path);
	return fake_answer(path, out, err, err_size);
}

static void fake_fini(struct auth_creds *c)
{
	free(c->access_key_id);
	free(c->access_key_secret);
	free(c->security_token);
	memset(c, 0, sizeof(*c));
}

static const struct creds_loaders fake_loaders = {
	.from_env = fake_env,
	.from_passwd_file = fake_file,
	.creds_fini = fake_fini,
};

static char err[1024];

static struct creds_chain_config base_cfg(void)
{
	struct creds_chain_config c = {
		.bucket = "bkt",
		.home = "/home/u",
		.etc_passwd_file = "/test/etc/passwd-ossfs",
	};
	return c;
}

static int resolve(const struct creds_chain_config *cfg,
		   struct creds_choice *ch)
{
	int rc;

	err[0] = 'x'; /* resolve must clear it */
	err[1] = '\0';
	rc = creds_chain_resolve(cfg, &fake_loaders, ch, err, sizeof(err));
	CHECK(strstr(err, SECRET) == NULL);
	return rc;
}

static void test_nothing_found(void)
{
	struct creds_chain_config cfg = base_cfg();
	struct creds_choice ch;

	fake_reset();
	CHECK_INT(resolve(&cfg, &ch), -ENOENT);
	CHECK_INT(fk.ncalls, 3);
	CHECK_STR(fk.calls[0], "env");
	CHECK_STR(fk.calls[1], "/home/u/.passwd-ossfs");
	CHECK_STR(fk.calls[2], "/test/etc/passwd-ossfs");
	CHECK(strstr(err, "no credentials for bucket 'bkt'") != NULL);
	CHECK(strstr(err, "OSS_ACCESS_KEY_ID") != NULL);
	CHECK(strstr(err, "passwd_file=") != NULL);
	CHECK(strstr(err, "ram_role") != NULL);
	creds_choice_fini(&fake_loaders, &ch);
}

static void test_environment_first(void)
{
	struct creds_chain_config cfg = base_cfg();
	struct creds_choice ch;

	fake_reset();
	fake_add("/test/etc/passwd-ossfs", 0, NULL);
	fake_add("/home/u/.passwd-ossfs", 0, NULL);
	fake_add(NULL, 0, NULL);
	CHECK_INT(resolve(&cfg, &ch), 0);
	CHECK_INT(ch.kind, CREDS_STATIC);
	CHECK_STR(ch.creds.access_key_id, "env-ak");
	CHECK_STR(ch.source, "the environment");
	CHECK_INT(fk.ncalls, 1);
	CHECK_STR(err, "");
	creds_choice_fini(&fake_loaders, &ch);
	CHECK(ch.creds.access_key_secret == NULL);
}

static void test_user_file_then_etc(void)
{
	struct creds_chain_config cfg = base_cfg();
	struct creds_choice ch;

	fake_reset();
	fake_add("/test/etc/passwd-ossfs", 0, NULL);
	fake_add("/home/u/.passwd-ossfs", 0, NULL);
	CHECK_INT(resolve(&cfg, &ch), 0);
	CHECK_STR(ch.source, "/home/u/.passwd-ossfs");
	CHECK_INT(fk.ncalls, 2);
	CHECK(!fk.group[1]); /* the user's file: no group bits */
	creds_choice_fini(&fake_loaders, &ch);

	fake_reset();
	fake_add("/test/etc/passwd-ossfs", 0, NULL);
	CHECK_INT(resolve(&cfg, &ch), 0);
	CHECK_STR(ch.source, "/test/etc/passwd-ossfs");
	CHECK_STR(ch.creds.access_key_id, "/test/etc/passwd-ossfs");
	CHECK_INT(fk.ncalls, 3);
	CHECK(fk.group[2]); /* /etc/passwd-ossfs may be 0640 */
	creds_choice_fini(&fake_loaders, &ch);
}

/* A source that exists but is unusable stops the chain with its own
 * message: no silent fall-through to another identity. */
static void test_broken_source_stops(void)
{
	struct creds_chain_config cfg = base_cfg();
	struct creds_choice ch;

	fake_reset();
	fake_add("/home/u/.passwd-ossfs", -EPERM,
		 "/home/u/.passwd-ossfs: readable by others (mode 0644); "
		 "chmod 600 it");
	fake_add("/test/etc/passwd-ossfs", 0, NULL);
	CHECK_INT(resolve(&cfg, &ch), -EPERM);
	CHECK_INT(fk.ncalls, 2);
	CHECK_STR(err, "/home/u/.passwd-ossfs: readable by others (mode "
		       "0644); chmod 600 it");
	creds_choice_fini(&fake_loaders, &ch);

	/* A loader that gives no reason still gets the source named. */
	fake_reset();
	fake_add("/test/etc/passwd-ossfs", -EACCES, NULL);
	CHECK_INT(resolve(&cfg, &ch), -EACCES);
	CHECK_STR(err, "/test/etc/passwd-ossfs: Permission denied");
	creds_choice_fini(&fake_loaders, &ch);

	fake_reset();
	fake_add(NULL, -EINVAL, "OSS_ACCESS_KEY_SECRET is not set");
	fake_add("/home/u/.passwd-ossfs", 0, NULL);
	CHECK_INT(resolve(&cfg, &ch), -EINVAL);
	CHECK_INT(fk.ncalls, 1);
	CHECK_STR(err, "OSS_ACCESS_KEY_SECRET is not set");
	creds_choice_fini(&fake_loaders, &ch);
}

static void test_ram_role_last(void)
{
	struct creds_chain_config cfg = base_cfg();
	struct creds_choice ch;

	cfg.ram_role = true;
	fake_reset();
	CHECK_INT(resolve(&cfg, &ch), 0);
	CHECK_INT(ch.kind, CREDS_RAM_ROLE);
	CHECK_STR(ch.source, "the ECS RAM role");
	CHECK_INT(fk.ncalls, 3);
	creds_choice_fini(&fake_loaders, &ch);

	fake_reset();
	fake_add(NULL, 0, NULL);
	CHECK_INT(resolve(&cfg, &ch), 0);
	CHECK_INT(ch.kind, CREDS_STATIC);
	creds_choice_fini(&fake_loaders, &ch);
}

static void test_anonymous(void)
{
	struct creds_chain_config cfg = base_cfg();
	struct creds_choice ch;

	cfg.anonymous = true;
	fake_reset();
	fake_add(NULL, 0, NULL);
	CHECK_INT(resolve(&cfg, &ch), 0);
	CHECK_INT(ch.kind, CREDS_ANONYMOUS);
	CHECK_INT(fk.ncalls, 0);
	creds_choice_fini(&fake_loaders, &ch);
}

static void make_file(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);

	CHECK(fd >= 0);
	if (fd >= 0)
		close(fd);
}

static void test_explicit_passwd_file(void)
{
	struct creds_chain_config cfg = base_cfg();
	struct creds_choice ch;
	char dir[] = "/tmp/ossfs-creds-XXXXXX";
	char path[256];

	CHECK(mkdtemp(dir) != NULL);
	snprintf(path, sizeof(path), "%s/keys", dir);
	make_file(path);
	cfg.passwd_file = path;

	/* Given: it alone is read, even when others have credentials. */
	fake_reset();
	fake_add(NULL, 0, NULL);
	fake_add(path, 0, NULL);
	CHECK_INT(resolve(&cfg, &ch), 0);
	CHECK_STR(ch.source, path);
	CHECK_INT(fk.ncalls, 1);
	CHECK(!fk.group[0]);
	creds_choice_fini(&fake_loaders, &ch);

	/* Given but without a line for the bucket: an error, no fallback. */
	fake_reset();
	fake_add(NULL, 0, NULL);
	CHECK_INT(resolve(&cfg, &ch), -ENOENT);
	CHECK(strstr(err, "has no credentials for bucket 'bkt'") != NULL);
	CHECK(strstr(err, path) != NULL);
	CHECK_INT(fk.ncalls, 1);
	creds_choice_fini(&fake_loaders, &ch);

	/* The /etc file named explicitly keeps its group-read allowance. */
	cfg.etc_passwd_file = path;
	fake_reset();
	fake_add(path, 0, NULL);
	CHECK_INT(resolve(&cfg, &ch), 0);
	CHECK(fk.group[0]);
	creds_choice_fini(&fake_loaders, &ch);

	/* Given but missing. */
	unlink(path);
	fake_reset();
	CHECK_INT(resolve(&cfg, &ch), -ENOENT);
	CHECK(strstr(err, "passwd_file=") != NULL);
	CHECK(strstr(err, "No such file") != NULL);
	CHECK_INT(fk.ncalls, 0);
	creds_choice_fini(&fake_loaders, &ch);
	rmdir(dir);
}

static void test_home_lookup(void)
{
	struct creds_chain_config cfg = base_cfg();
	struct creds_choice ch;
	char *saved = str_dup(getenv("HOME"));
	struct passwd *pw = getpwuid(geteuid());
	char want[4200];

	cfg.home = NULL;
	setenv("HOME", "/from/env", 1);
	fake_reset();
	CHECK_INT(resolve(&cfg, &ch), -ENOENT);
	CHECK_STR(fk.calls[1], "/from/env/.passwd-ossfs");
	creds_choice_fini(&fake_loaders, &ch);

	/* mount(8) at boot may run ossfs with no HOME. */
	unsetenv("HOME");
	fake_reset();
	CHECK_INT(resolve(&cfg, &ch), -ENOENT);
	if (pw && pw->pw_dir && pw->pw_dir[0]) {
		snprintf(want, sizeof(want), "%s/.passwd-ossfs", pw->pw_dir);
		CHECK_STR(fk.calls[1], want);
	}
	creds_choice_fini(&fake_loaders, &ch);

	/* An empty home skips the user's file. */
	cfg.home = "";
	fake_reset();
	CHECK_INT(resolve(&cfg, &ch), -ENOENT);
	CHECK_INT(fk.ncalls, 2);
	CHECK_STR(fk.calls[1], "/test/etc/passwd-ossfs");
	creds_choice_fini(&fake_loaders, &ch);

	if (saved)
		setenv("HOME", saved, 1);
	free(saved);
}

static void test_default_etc_path(void)
{
	struct creds_chain_config cfg = base_cfg();
	struct creds_choice ch;

	/* The fake reads nothing: the real /etc file is never touched. */
	cfg.etc_passwd_file = NULL;
	fake_reset();
	CHECK_INT(resolve(&cfg, &ch), -ENOENT);
	CHECK_STR(fk.calls[2], "/etc/passwd-ossfs");
	CHECK(fk.group[2]);
	creds_choice_fini(&fake_loaders, &ch);
}

TU_MAIN(TU_CASE(test_nothing_found), TU_CASE(test_environment_first),
	TU_CASE(test_user_file_then_etc), TU_CASE(test_broken_source_stops),
	TU_CASE(test_ram_role_last), TU_CASE(test_anonymous),
	TU_CASE(test_explicit_passwd_file), TU_CASE(test_home_lookup),
	TU_CASE(test_default_etc_path))
