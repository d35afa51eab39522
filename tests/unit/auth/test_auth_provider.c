/* Credential providers.  The RAM-role provider runs against imds_stub.py,
 * a local stand-in for the metadata service started here (fork/exec) on
 * 127.0.0.1 with a free port.  Assertions count requests and compare
 * values; where the refresher thread must act first, the test polls with a
 * generous deadline and never asserts how long anything took. */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "auth_i.h"
#include "testutil.h"
#include "vectors.h"

#define DEADLINE_S 60

static char ctl[] = "/tmp/ossfs-imds-XXXXXX";
static char url[64];
static pid_t stub_pid = -1;

static void ctl_path(char *out, size_t size, const char *name)
{
	snprintf(out, size, "%s/%s", ctl, name);
}

static void touch(const char *name, const char *content)
{
	char p[256];
	FILE *f;

	ctl_path(p, sizeof(p), name);
	f = fopen(p, "w");
	CHECK(f != NULL);
	if (f) {
		fputs(content, f);
		fclose(f);
	}
}

static void rm(const char *name)
{
	char p[256];

	ctl_path(p, sizeof(p), name);
	unlink(p);
}

static void nap(void)
{
	struct timespec ts = { 0, 50 * 1000 * 1000 };

	nanosleep(&ts, NULL);
}

/* Lines of the stub's request log that start with PREFIX. */
static int count_log(const char *prefix)
{
	char p[256], line[512];
	int n = 0;
	FILE *f;

	ctl_path(p, sizeof(p), "log");
	f = fopen(p, "r");
	if (!f)
		return 0;
	while (fgets(line, sizeof(line), f))
		if (str_has_prefix(line, prefix))
			n++;
	fclose(f);
	return n;
}

static int to_int(const char *s);

#define CREDS_GET "GET /latest/meta-data/ram/security-credentials/stub-role"

static void start_stub(void)
{
	const char *py = getenv("OSSFS_PYTHON"),
		   *stub = getenv("OSSFS_IMDS_STUB");
	char p[256], port[16] = "";
	FILE *f = NULL;

	CHECK(py && stub && mkdtemp(ctl));
	if (!py || !stub)
		return;
	stub_pid = fork();
	if (stub_pid == 0) {
		execl(py, py, stub, ctl, (char *)NULL);
		_exit(127);
	}
	CHECK(stub_pid > 0);
	ctl_path(p, sizeof(p), "port");
	for (int i = 0; i < DEADLINE_S * 20 && !f; i++) {
		f = fopen(p, "r");
		if (!f)
			nap();
	}
	CHECK(f != NULL);
	if (f) {
		CHECK(fgets(port, sizeof(port), f) != NULL);
		fclose(f);
	}
	snprintf(url, sizeof(url), "http://127.0.0.1:%d", to_int(port));
	/* Send this test's log lines to a file checked for secrets at the
	 * end. */
	ctl_path(p, sizeof(p), "ossfs.log");
	CHECK_INT(log_set_file(p), 0);
	log_set_level(LOG_LVL_DEBUG);
}

static struct auth_provider *ram_provider(const char *role, long refresh_s,
					  char *err, size_t err_size)
{
	struct auth_ram_role_config cfg = {
		.role_name = role,
		.metadata_url = url,
		.timeout_ms = 10000,
		.refresh_before_s = refresh_s,
	};

	return auth_provider_new_ram_role(&cfg, err, err_size);
}

static int to_int(const char *s)
{
	int64_t n = -1;

	return str_to_i64(s, 10, &n) == 0 ? (int)n : -1;
}

/* The serial n of the provider's current "STS.id-n", or -1. */
static int serial_of(struct auth_provider *p)
{
	struct auth_creds c = { 0 };
	int n = -1;

	if (auth_provider_get(p, &c) == 0 && c.access_key_id &&
	    str_has_prefix(c.access_key_id, "STS.id-"))
		n = to_int(c.access_key_id + 7);
	auth_creds_fini(&c);
	return n;
}

static int wait_serial_above(struct auth_provider *p, int old)
{
	int n = serial_of(p);

	for (int i = 0; i < DEADLINE_S * 20 && n <= old; i++) {
		nap();
		n = serial_of(p);
	}
	return n;
}

static void test_imdsv2_with_role_discovery(void)
{
	struct auth_creds c = { 0 };
	char err[256] = "";
	struct auth_provider *p = ram_provider(NULL, 0, err, sizeof(err));
	time_t now = time(NULL);

	CHECK(p != NULL);
	if (!p) {
		fprintf(stderr, "  %s\n", err);
		return;
	}
	CHECK_INT(auth_provider_get(p, &c), 0);
	CHECK_STR(c.access_key_id, "STS.id-1");
	CHECK_STR(c.access_key_secret, "stub-secret-1");
	CHECK_STR(c.security_token, "stub-token-1");
	CHECK(c.expiration > now + 3000 && c.expiration < now + 4000);
	auth_creds_fini(&c);
	CHECK_INT(count_log("PUT /latest/api/token 200"), 1);
	CHECK_INT(count_log("GET /latest/meta-data/ram/security-credentials/ "
			    "200 token"),
		  1);
	CHECK_INT(count_log(CREDS_GET " 200 token"), 1);
	CHECK_INT(count_log("GET"), 2);
	auth_provider_free(p);
}

static void test_imdsv1_fallback(void)
{
	char err[256] = "";
	struct auth_provider *p;

	touch("no-token", "");
	p = ram_provider("stub-role", 0, err, sizeof(err));
	rm("no-token");
	CHECK(p != NULL);
	CHECK_INT(serial_of(p), 2);
	CHECK_INT(count_log("PUT /latest/api/token 404"), 1);
	CHECK_INT(count_log(CREDS_GET " 200 notoken"), 1);
	/* The role was configured: no discovery call this time. */
	CHECK_INT(count_log("GET /latest/meta-data/ram/security-credentials/ "),
		  1);
	auth_provider_free(p);
}

/* Short-lived first credentials are renewed before they expire; then
 * kick, and a failing service, and its recovery. */
static void test_refresh_kick_and_failure(void)
{
	char err[256] = "";
	struct auth_provider *p;
	int gets, n;

	touch("ttl", "6"); /* only the first answer expires this soon */
	p = ram_provider("stub-role", 4, err, sizeof(err));
	CHECK(p != NULL);
	if (!p)
		return;
	n = wait_serial_above(p, 3);
	CHECK_INT(n, 4); /* renewed exactly once */
	gets = count_log(CREDS_GET " 200");
	auth_provider_kick(p);
	CHECK_INT(wait_serial_above(p, 4), 5);
	CHECK_INT(count_log(CREDS_GET " 200"), gets + 1);

	touch("fail", "");
	auth_provider_kick(p);
	for (int i = 0; i < DEADLINE_S * 20 && !count_log(CREDS_GET " 500");
	     i++)
		nap();
	CHECK(count_log(CREDS_GET " 500") >= 1);
	CHECK_INT(serial_of(p), 5); /* the old credentials are kept */
	rm("fail");
	/* The kick stays pending until a refresh succeeds. */
	CHECK_INT(wait_serial_above(p, 5), 6);
	auth_provider_free(p);
}

static void test_construction_failures(void)
{
	char err[256] = "";
	struct sockaddr_in sa = { 0 };
	socklen_t len = sizeof(sa);
	struct auth_ram_role_config cfg = { .timeout_ms = 10000 };
	char closed[64];
	int fd;

	touch("fail", "");
	CHECK(ram_provider("stub-role", 0, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "HTTP 500") != NULL);
	rm("fail");
	touch("bad-code", "");
	CHECK(ram_provider(NULL, 0, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "Failed") != NULL);
	CHECK(strstr(err, "stub-secret") == NULL);
	rm("bad-code");
	CHECK(ram_provider("no-such-role", 0, err, sizeof(err)) == NULL);
	CHECK(strstr(err, "HTTP 404") != NULL);
	/* Nothing listens on a port just closed: refused at once. */
	fd = socket(AF_INET, SOCK_STREAM, 0);
	sa.sin_family = AF_INET;
	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	CHECK_INT(bind(fd, (struct sockaddr *)&sa, sizeof(sa)), 0);
	CHECK_INT(getsockname(fd, (struct sockaddr *)&sa, &len), 0);
	close(fd);
	snprintf(closed, sizeof(closed), "http://127.0.0.1:%d/",
		 ntohs(sa.sin_port));
	cfg.metadata_url = closed;
	CHECK(auth_provider_new_ram_role(&cfg, err, sizeof(err)) == NULL);
	CHECK(err[0] != '\0');
}

static void test_static_and_anonymous(void)
{
	struct auth_creds c = { "id", "secret", NULL, 0 }, out = { 0 };
	struct auth_creds none = { 0 };
	struct auth_provider *p = auth_provider_new_static(&c);

	CHECK(p != NULL);
	CHECK_INT(auth_provider_get(p, &out), 0);
	CHECK_STR(out.access_key_secret, "secret");
	CHECK(out.access_key_secret != c.access_key_secret);
	auth_creds_fini(&out);
	auth_provider_kick(p); /* no-op */
	auth_provider_free(p);
	CHECK(auth_provider_new_static(&none) == NULL);
	p = auth_provider_new_anonymous();
	CHECK(p != NULL);
	CHECK_INT(auth_provider_get(p, &out), -ENOENT);
	auth_provider_kick(p);
	auth_provider_free(p);
	auth_provider_free(NULL);
}

static void test_no_secret_logged(void)
{
	char p[256];
	size_t len = 0;
	char *text;

	log_set_file(NULL);
	ctl_path(p, sizeof(p), "ossfs.log");
	text = tv_read_file(p, &len);
	CHECK(text != NULL);
	CHECK(text && strstr(text, "refreshed") != NULL);
	CHECK(text && strstr(text, "stub-secret") == NULL);
	CHECK(text && strstr(text, "stub-token") == NULL);
	CHECK(text && strstr(text, "stub-imds-token") == NULL);
	free(text);
}

static void stop_stub(void)
{
	static const char *const files[] = { "port", "log", "ossfs.log" };
	int status = 0;

	if (stub_pid > 0) {
		kill(stub_pid, SIGTERM);
		waitpid(stub_pid, &status, 0);
	}
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(files); i++)
		rm(files[i]);
	CHECK_INT(rmdir(ctl), 0);
}

TU_MAIN(TU_CASE(start_stub), TU_CASE(test_imdsv2_with_role_discovery),
	TU_CASE(test_imdsv1_fallback), TU_CASE(test_refresh_kick_and_failure),
	TU_CASE(test_construction_failures), TU_CASE(test_static_and_anonymous),
	TU_CASE(test_no_secret_logged), TU_CASE(stop_stub))
