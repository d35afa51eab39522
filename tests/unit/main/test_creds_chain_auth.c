/* The credentials chain with auth/'s real loaders: a temporary HOME,
 * passwd files with real modes, the environment, and an injected path for
 * /etc/passwd-ossfs (the real one is never read). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "creds_chain_i.h"
#include "testutil.h"

#define SECRET "sk-that-must-not-show"

static char dir[] = "/tmp/ossfs-chain-XXXXXX";
static char home[256], user_file[300], etc_file[300], other_file[300];
static char err[1024];

static void clear_env(void)
{
	static const char *const vars[] = {
		"OSS_ACCESS_KEY_ID",
		"OSS_ACCESS_KEY_SECRET",
		"OSS_SESSION_TOKEN",
		"ALIBABA_CLOUD_ACCESS_KEY_ID",
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET",
		"ALIBABA_CLOUD_SECURITY_TOKEN",
	};

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(vars); i++)
		unsetenv(vars[i]);
}

static void write_file(const char *path, const char *text, mode_t mode)
{
	FILE *f = fopen(path, "w");

	CHECK(f != NULL);
	if (!f)
		return;
	fputs(text, f);
	fclose(f);
	CHECK_INT(chmod(path, mode), 0);
}

static void setup(void)
{
	snprintf(dir, sizeof(dir), "/tmp/ossfs-chain-XXXXXX");
	CHECK(mkdtemp(dir) != NULL);
	snprintf(home, sizeof(home), "%s/home", dir);
	CHECK_INT(mkdir(home, 0700), 0);
	snprintf(user_file, sizeof(user_file), "%s/.passwd-ossfs", home);
	snprintf(etc_file, sizeof(etc_file), "%s/etc-passwd-ossfs", dir);
	snprintf(other_file, sizeof(other_file), "%s/keys", dir);
	clear_env();
}

static void cleanup(void)
{
	unlink(user_file);
	unlink(etc_file);
	unlink(other_file);
	rmdir(home);
	rmdir(dir);
	clear_env();
}

static struct creds_chain_config cfg(void)
{
	struct creds_chain_config c = {
		.bucket = "bkt",
		.home = home,
		.etc_passwd_file = etc_file,
	};
	return c;
}

static int resolve(const struct creds_chain_config *c, struct creds_choice *ch)
{
	int rc = creds_chain_resolve(c, &creds_loaders_auth, ch, err,
				     sizeof(err));

	CHECK(strstr(err, SECRET) == NULL);
	return rc;
}

static void test_user_file(void)
{
	struct creds_chain_config c = cfg();
	struct creds_choice ch;

	setup();
	write_file(user_file, "AKD:SKD\n# comment\nbkt:AKB:" SECRET "\n", 0600);
	CHECK_INT(resolve(&c, &ch), 0);
	CHECK_INT(ch.kind, CREDS_STATIC);
	CHECK_STR(ch.source, user_file);
	/* The line naming the bucket wins over the default line. */
	CHECK_STR(ch.creds.access_key_id, "AKB");
	CHECK_STR(ch.creds.access_key_secret, SECRET);
	creds_choice_fini(&creds_loaders_auth, &ch);

	/* Readable by others: refused with auth/'s reason, no fallback. */
	write_file(etc_file, "AKE:SKE\n", 0600);
	CHECK_INT(chmod(user_file, 0644), 0);
	CHECK_INT(resolve(&c, &ch), -EPERM);
	CHECK(strstr(err, user_file) != NULL);
	CHECK(strstr(err, "chmod 600") != NULL);
	creds_choice_fini(&creds_loaders_auth, &ch);

	/* Group bits are not allowed on the user's file either. */
	CHECK_INT(chmod(user_file, 0640), 0);
	CHECK_INT(resolve(&c, &ch), -EPERM);
	creds_choice_fini(&creds_loaders_auth, &ch);
	cleanup();
}

static void test_etc_file(void)
{
	struct creds_chain_config c = cfg();
	struct creds_choice ch;

	setup();
	/* A user file for another bucket only: on to /etc, which may be
	 * group-readable. */
	write_file(user_file, "other:AKO:SKO\n", 0600);
	write_file(etc_file, "AKE:" SECRET "\n", 0640);
	CHECK_INT(resolve(&c, &ch), 0);
	CHECK_STR(ch.source, etc_file);
	CHECK_STR(ch.creds.access_key_id, "AKE");
	creds_choice_fini(&creds_loaders_auth, &ch);

	CHECK_INT(chmod(etc_file, 0644), 0);
	CHECK_INT(resolve(&c, &ch), -EPERM);
	CHECK(strstr(err, etc_file) != NULL);
	creds_choice_fini(&creds_loaders_auth, &ch);

	CHECK_INT(chmod(etc_file, 0660), 0);
	CHECK_INT(resolve(&c, &ch), -EPERM);
	creds_choice_fini(&creds_loaders_auth, &ch);
	cleanup();
}

static void test_environment(void)
{
	struct creds_chain_config c = cfg();
	struct creds_choice ch;

	setup();
	write_file(user_file, "bkt:AKF:SKF\n", 0600);
	setenv("OSS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("OSS_ACCESS_KEY_SECRET", SECRET, 1);
	CHECK_INT(resolve(&c, &ch), 0);
	CHECK_STR(ch.source, "the environment");
	CHECK_STR(ch.creds.access_key_id, "AKENV");
	creds_choice_fini(&creds_loaders_auth, &ch);

	/* Half a pair is an error, not a reason to read the file. */
	unsetenv("OSS_ACCESS_KEY_SECRET");
	CHECK_INT(resolve(&c, &ch), -EINVAL);
	CHECK(strstr(err, "OSS_ACCESS_KEY_SECRET") != NULL);
	creds_choice_fini(&creds_loaders_auth, &ch);

	clear_env();
	setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "AKALI", 1);
	setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", SECRET, 1);
	CHECK_INT(resolve(&c, &ch), 0);
	CHECK_STR(ch.creds.access_key_id, "AKALI");
	creds_choice_fini(&creds_loaders_auth, &ch);
	cleanup();
}

static void test_explicit_file(void)
{
	struct creds_chain_config c = cfg();
	struct creds_choice ch;

	setup();
	c.passwd_file = other_file;
	setenv("OSS_ACCESS_KEY_ID", "AKENV", 1);
	setenv("OSS_ACCESS_KEY_SECRET", "SKENV", 1);
	write_file(other_file, "bkt:AKX:" SECRET "\n", 0400);
	CHECK_INT(resolve(&c, &ch), 0);
	CHECK_STR(ch.creds.access_key_id, "AKX");
	CHECK_STR(ch.source, other_file);
	creds_choice_fini(&creds_loaders_auth, &ch);

	/* A file named on the command line follows the user-file rule. */
	CHECK_INT(chmod(other_file, 0640), 0);
	CHECK_INT(resolve(&c, &ch), -EPERM);
	creds_choice_fini(&creds_loaders_auth, &ch);

	write_file(other_file, "someone:AKX:SKX\n", 0600);
	CHECK_INT(resolve(&c, &ch), -ENOENT);
	CHECK(strstr(err, "no credentials for bucket 'bkt'") != NULL);
	creds_choice_fini(&creds_loaders_auth, &ch);
	cleanup();
}

static void test_nothing_then_ram_role(void)
{
	struct creds_chain_config c = cfg();
	struct creds_choice ch;

	setup();
	CHECK_INT(resolve(&c, &ch), -ENOENT);
	CHECK(strstr(err, "no credentials for bucket 'bkt'") != NULL);
	creds_choice_fini(&creds_loaders_auth, &ch);
	c.ram_role = true;
	CHECK_INT(resolve(&c, &ch), 0);
	CHECK_INT(ch.kind, CREDS_RAM_ROLE);
	creds_choice_fini(&creds_loaders_auth, &ch);
	cleanup();
}

TU_MAIN(TU_CASE(test_user_file), TU_CASE(test_etc_file),
	TU_CASE(test_environment), TU_CASE(test_explicit_file),
	TU_CASE(test_nothing_then_ram_role))
