/* Credential loaders: environment, passwd file (format and permission
 * rules), ECS metadata JSON - and that no error message ever carries a
 * secret. */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth_i.h"
#include "testutil.h"
#include "vectors.h"

static char tmpdir[] = "/tmp/ossfs-auth-creds-XXXXXX";

static const char *write_file(const char *name, const char *text, mode_t mode)
{
	static char path[512];
	int fd;

	snprintf(path, sizeof(path), "%s/%s", tmpdir, name);
	unlink(path);
	fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0600);
	CHECK(fd >= 0);
	if (fd >= 0) {
		CHECK(write(fd, text, strlen(text)) == (ssize_t)strlen(text));
		CHECK_INT(fchmod(fd, mode), 0);
		close(fd);
	}
	return path;
}

static void clear_env(void)
{
	static const char *const names[] = {
		"OSS_ACCESS_KEY_ID",
		"OSS_ACCESS_KEY_SECRET",
		"OSS_SESSION_TOKEN",
		"ALIBABA_CLOUD_ACCESS_KEY_ID",
		"ALIBABA_CLOUD_ACCESS_KEY_SECRET",
		"ALIBABA_CLOUD_SECURITY_TOKEN",
	};

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(names); i++)
		unsetenv(names[i]);
}

static void test_env(void)
{
	struct auth_creds c = { 0 };
	char err[256];

	clear_env();
	CHECK_INT(auth_creds_from_env(&c, err, sizeof(err)), -ENOENT);
	setenv("ALIBABA_CLOUD_ACCESS_KEY_ID", "aid", 1);
	setenv("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "asecret", 1);
	CHECK_INT(auth_creds_from_env(&c, err, sizeof(err)), 0);
	CHECK_STR(c.access_key_id, "aid");
	CHECK(c.security_token == NULL);
	auth_creds_fini(&c);
	/* OSS_* comes first. */
	setenv("OSS_ACCESS_KEY_ID", "oid", 1);
	setenv("OSS_ACCESS_KEY_SECRET", "osecret", 1);
	setenv("OSS_SESSION_TOKEN", "otoken", 1);
	CHECK_INT(auth_creds_from_env(&c, err, sizeof(err)), 0);
	CHECK_STR(c.access_key_id, "oid");
	CHECK_STR(c.access_key_secret, "osecret");
	CHECK_STR(c.security_token, "otoken");
	CHECK(auth_creds_present(&c));
	auth_creds_fini(&c);
	CHECK(c.access_key_id == NULL && !auth_creds_present(&c));
	/* Half a pair is an error naming the variables, not the value. */
	unsetenv("OSS_ACCESS_KEY_ID");
	CHECK_INT(auth_creds_from_env(&c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "OSS_ACCESS_KEY_ID") != NULL);
	CHECK(strstr(err, "osecret") == NULL);
	setenv("OSS_ACCESS_KEY_ID", "bad id", 1);
	CHECK_INT(auth_creds_from_env(&c, err, sizeof(err)), -EINVAL);
	CHECK(strstr(err, "osecret") == NULL && strstr(err, "bad id") == NULL);
	clear_env();
}

static void test_copy(void)
{
	struct auth_creds a = { "id", "secret", "tok", 42 }, b = { 0 };

	CHECK_INT(auth_creds_copy(&b, &a), 0);
	CHECK(b.access_key_id != a.access_key_id);
	CHECK_STR(b.access_key_secret, "secret");
	CHECK_STR(b.security_token, "tok");
	CHECK_INT(b.expiration, 42);
	auth_creds_fini(&b);
	a.security_token = NULL;
	CHECK_INT(auth_creds_copy(&b, &a), 0);
	CHECK(b.security_token == NULL);
	auth_creds_fini(&b);
	auth_creds_fini(NULL);
}

static int load(const char *path, const char *bucket, bool group,
		struct auth_creds *c, char *err, size_t n)
{
	return auth_creds_from_passwd_file(path, bucket, group, c, err, n);
}

static void test_passwd_lines(void)
{
	struct auth_creds c = { 0 };
	char err[512];
	const char *p = write_file("p1",
				   "# comment\n"
				   "\n"
				   "defid:defsecret\r\n"
				   "mybucket:bid:bsecret\n"
				   "other:oid:osecret\n",
				   0600);

	CHECK_INT(load(p, "mybucket", false, &c, err, sizeof(err)), 0);
	CHECK_STR(c.access_key_id, "bid");
	CHECK_STR(c.access_key_secret, "bsecret");
	auth_creds_fini(&c);
	CHECK_INT(load(p, "nobucket", false, &c, err, sizeof(err)), 0);
	CHECK_STR(c.access_key_id, "defid");
	CHECK_STR(c.access_key_secret, "defsecret");
	auth_creds_fini(&c);
	CHECK_INT(load(p, NULL, false, &c, err, sizeof(err)), 0);
	CHECK_STR(c.access_key_id, "defid");
	auth_creds_fini(&c);

	p = write_file("p2", "other:oid:osecret\n", 0400);
	CHECK_INT(load(p, "mybucket", false, &c, err, sizeof(err)), -ENOENT);
	CHECK(strstr(err, "mybucket") != NULL);
	CHECK_INT(load("/nonexistent/passwd", "b", false, &c, err, 0), -ENOENT);

	p = write_file("p3", "OSSAccessKeyId=kid\nOSSSecretKey=ksecret\n",
		       0600);
	CHECK_INT(load(p, "b", false, &c, err, sizeof(err)), 0);
	CHECK_STR(c.access_key_id, "kid");
	CHECK_STR(c.access_key_secret, "ksecret");
	auth_creds_fini(&c);
}

/* Each malformed file: -EINVAL, the line number in the message, and never
 * the secret on that line. */
static void test_passwd_malformed(void)
{
	static const struct {
		const char *text;
		const char *line;
	} cases[] = {
		{ "good:topsecret1\nb:id:topsecret2:extra\n", "line 2" },
		{ "id topsecret3\n", "line 1" },
		{ "\n\n[default]\nid:topsecret4\n", "line 3" },
		{ "b::topsecret5\n", "line 1" },
		{ "id:topsecret6\nid2:topsecret7\n", "line 2" },
		{ "b:id:topsecret8\nb:id:topsecret9\n", "line 2" },
		{ "OSSAccessKeyId=x\nOSSSecret=topsecret10\n", "line 2" },
		{ "topsecret11\n", "line 1" },
		{ "id:top\001secret12\n", "line 1" },
	};
	struct auth_creds c = { 0 };
	char err[512];

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(cases); i++) {
		const char *p = write_file("bad", cases[i].text, 0600);

		err[0] = '\0';
		CHECK_INT(load(p, "b", false, &c, err, sizeof(err)), -EINVAL);
		CHECK(strstr(err, cases[i].line) != NULL);
		CHECK(strstr(err, p) != NULL);
		CHECK(strstr(err, "topsecret") == NULL);
		CHECK(strstr(err, "secret") == NULL);
		if (strstr(err, "secret"))
			fprintf(stderr, "  leaked: %s\n", err);
	}
	CHECK(c.access_key_id == NULL);
}

static void test_passwd_modes(void)
{
	static const struct {
		mode_t mode;
		bool group;
		int rc;
		const char *says;
	} cases[] = {
		{ 0600, false, 0, NULL },
		{ 0400, false, 0, NULL },
		{ 0644, false, -EPERM,
		  "is readable by others (mode 0644); "
		  "run chmod 600" },
		{ 0604, true, -EPERM,
		  "readable by others (mode 0604); "
		  "run chmod 640" },
		{ 0602, false, -EPERM, "accessible by others (mode 0602)" },
		{ 0640, false, -EPERM, "accessible by its group (mode 0640)" },
		{ 0640, true, 0, NULL },
		{ 0660, true, -EPERM, "writable by its group (mode 0660)" },
		{ 0700, false, -EPERM, "is executable (mode 0700)" },
		{ 0650, true, -EPERM, "is executable (mode 0650)" },
	};
	struct auth_creds c = { 0 };
	char err[512], want[600];

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(cases); i++) {
		const char *p =
			write_file("mode", "id:s3cr3tvalue\n", cases[i].mode);
		int rc = load(p, "b", cases[i].group, &c, err, sizeof(err));

		CHECK_INT(rc, cases[i].rc);
		auth_creds_fini(&c);
		if (!cases[i].says)
			continue;
		snprintf(want, sizeof(want), "passwd file %s %s", p,
			 cases[i].says);
		CHECK(strstr(err, cases[i].says) != NULL);
		CHECK(strstr(err, p) != NULL);
		CHECK(strstr(err, "s3cr3t") == NULL);
		if (!strstr(err, cases[i].says))
			fprintf(stderr, "  got: %s\n  want: %s\n", err, want);
	}
	CHECK_INT(load(tmpdir, "b", false, &c, err, sizeof(err)), -EINVAL);
}

/* The parser behind the file loader takes any bytes (it is fuzzed). */
static void test_passwd_buffer(void)
{
	struct auth_creds c = { 0 };
	char err[256];

	CHECK_INT(auth_passwd_parse_buffer("a:b", 3, "x", "buf", &c, err,
					   sizeof(err)),
		  0);
	CHECK_STR(c.access_key_secret, "b");
	auth_creds_fini(&c);
	CHECK_INT(auth_passwd_parse_buffer("a:b\0c", 5, "x", "buf", &c, err,
					   sizeof(err)),
		  -EINVAL);
	CHECK_INT(auth_passwd_parse_buffer("", 0, "x", "buf", &c, err,
					   sizeof(err)),
		  -ENOENT);
}

static void test_ecs_json_vectors(void)
{
	struct ajson *doc = tv_load_json("oss-vectors/ecs_ram_role.json");
	const char *ok = ajson_get_str(doc, "sample_response_body");
	const char *bad = ajson_get_str(doc, "sample_failure_body");
	const struct ajson *want = ajson_get(doc, "expected_parse");
	struct auth_creds c = { 0 };
	struct timespec exp = { 0 };
	char err[256];

	CHECK(ok && bad && want);
	if (!ok || !bad || !want)
		goto out;
	CHECK_INT(
		auth_creds_from_ecs_json(ok, strlen(ok), &c, err, sizeof(err)),
		0);
	CHECK_STR(c.access_key_id, ajson_get_str(want, "AccessKeyId"));
	CHECK_STR(c.access_key_secret, ajson_get_str(want, "AccessKeySecret"));
	CHECK_STR(c.security_token, ajson_get_str(want, "SecurityToken"));
	time_parse_iso8601(ajson_get_str(want, "Expiration"), &exp);
	CHECK_INT(c.expiration, exp.tv_sec);
	CHECK_INT(c.expiration, 1634704029); /* 2021-10-20T04:27:09Z */
	auth_creds_fini(&c);
	CHECK_INT(auth_creds_from_ecs_json(bad, strlen(bad), &c, err,
					   sizeof(err)),
		  -EACCES);
	CHECK(strstr(err, "Failed") != NULL);
	CHECK(strstr(err, "saks") == NULL);
	CHECK(c.access_key_id == NULL);
out:
	ajson_free(doc);
}

static void test_ecs_json_errors(void)
{
	static const char *const bad[] = {
		"{\"AccessKeyId\":\"a\",\"AccessKeySecret\":\"zsecretz\","
		"\"SecurityToken\":\"t\",\"Code\":\"Success\"}",
		"{\"AccessKeyId\":\"a\",\"AccessKeySecret\":\"zsecretz\","
		"\"SecurityToken\":\"t\",\"Expiration\":\"tomorrow\","
		"\"Code\":\"Success\"}",
		"{\"AccessKeyId\":\"a\",\"AccessKeySecret\":\"zsecretz\","
		"\"Expiration\":\"2021-10-20T04:27:09Z\",\"Code\":\"Success\"}",
		"{\"AccessKeyId\":\"a\",\"AccessKeySecret\":\"zsecretz\","
		"\"SecurityToken\":\"t\",\"Expiration\":\"2021-10-20T04:27:"
		"09Z\"}",
		"{\"AccessKeyId\":\"a\",\"AccessKeySecret\":\"zsecretz\",",
		"[\"zsecretz\"]",
		"{\"AccessKeyId\":\"a\",\"AccessKeySecret\":\"zsecretz\","
		"\"SecurityToken\":\"\",\"Expiration\":\"2021-10-20T04:27:"
		"09Z\","
		"\"Code\":\"Success\"}",
		"{\"AccessKeyId\":\"a b\",\"AccessKeySecret\":\"zsecretz\","
		"\"SecurityToken\":\"t\",\"Expiration\":\"2021-10-20T04:27:"
		"09Z\","
		"\"Code\":\"Success\"}",
	};
	struct auth_creds c = { 0 };
	char err[256];

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(bad); i++) {
		int rc = auth_creds_from_ecs_json(bad[i], strlen(bad[i]), &c,
						  err, sizeof(err));

		CHECK(rc == -EINVAL || rc == -EACCES);
		CHECK(err[0] != '\0');
		CHECK(strstr(err, "zsecretz") == NULL);
	}
	CHECK(c.access_key_id == NULL);
	/* The service's Code is shown, reduced to characters safe in a log
	 * line. */
	CHECK_INT(auth_creds_from_ecs_json("{\"Code\":\"<Busy>\\n\"}", 19, &c,
					   err, sizeof(err)),
		  -EACCES);
	CHECK(strstr(err, "\"Busy\"") != NULL);
	CHECK(strchr(err, '\n') == NULL && strchr(err, '<') == NULL);
}

static void setup(void)
{
	CHECK(mkdtemp(tmpdir) != NULL);
}

static void teardown(void)
{
	static const char *const names[] = { "p1", "p2", "p3", "bad", "mode" };
	char path[512];

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(names); i++) {
		snprintf(path, sizeof(path), "%s/%s", tmpdir, names[i]);
		unlink(path);
	}
	CHECK_INT(rmdir(tmpdir), 0);
}

TU_MAIN(TU_CASE(setup), TU_CASE(test_env), TU_CASE(test_copy),
	TU_CASE(test_passwd_lines), TU_CASE(test_passwd_malformed),
	TU_CASE(test_passwd_modes), TU_CASE(test_passwd_buffer),
	TU_CASE(test_ecs_json_vectors), TU_CASE(test_ecs_json_errors),
	TU_CASE(teardown))
