/* Unit tests for http/: the curl-multi engine against a local stub server
 * (http_stub.py, started here).  Every case asserts counts and outcomes,
 * never durations; the waits have generous deadlines only so a hang
 * fails instead of blocking the suite.
 */
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "http.h"
#include "http_i.h"
#include "testutil.h"

#define WAIT_S 60

static char base_url[64];
static pid_t stub_pid = -1;

/* ---- stub server -------------------------------------------------------- */

static int read_port_line(int fd, char *line, size_t cap)
{
	size_t len = 0;
	struct pollfd pfd = { .fd = fd, .events = POLLIN };

	while (len + 1 < cap) {
		ssize_t n;

		if (poll(&pfd, 1, 30000) <= 0)
			return -ETIMEDOUT;
		n = read(fd, line + len, 1);
		if (n <= 0)
			return -EIO;
		if (line[len] == '\n')
			break;
		len++;
	}
	line[len] = '\0';
	return 0;
}

static int stub_start(const char *script)
{
	char line[64];
	uint64_t port = 0;
	int pfd[2], rc;

	if (pipe(pfd))
		return -errno;
	stub_pid = fork();
	if (stub_pid == 0) {
		/* Never outlive the test, even if it crashes. */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(pfd[1], STDOUT_FILENO);
		close(pfd[0]);
		close(pfd[1]);
		execl("/usr/bin/python3", "python3", script, (char *)NULL);
		_exit(127);
	}
	close(pfd[1]);
	rc = stub_pid < 0 ? -errno : read_port_line(pfd[0], line, sizeof(line));
	close(pfd[0]);
	if (!rc && (strncmp(line, "PORT ", 5) != 0 ||
		    str_to_u64(line + 5, 10, &port) != 0 || port > 65535))
		rc = -EPROTO;
	if (!rc)
		snprintf(base_url, sizeof(base_url), "http://127.0.0.1:%u",
			 (unsigned)port);
	return rc;
}

static void stub_stop(void)
{
	if (stub_pid <= 0)
		return;
	kill(stub_pid, SIGTERM);
	waitpid(stub_pid, NULL, 0);
	stub_pid = -1;
}

/* ---- helpers ------------------------------------------------------------ */

static struct http_engine *engine_with(int max_conns, int attempts,
				       long stall_s)
{
	struct http_engine_config cfg;

	http_engine_config_defaults(&cfg);
	cfg.max_connections = max_conns;
	cfg.max_attempts = attempts;
	cfg.stall_timeout_s = stall_s;
	/* Small backoffs keep the retry cases quick; their outcome does
	 * not depend on the delay. */
	cfg.backoff_base_ms = 5;
	cfg.backoff_max_ms = 50;
	return http_engine_new(&cfg);
}

static struct http_request *req_for(const char *method, const char *fmt, ...)
	OSSFS_PRINTF(2, 3);

static struct http_request *req_for(const char *method, const char *fmt, ...)
{
	struct http_request *req = http_request_new();
	char path[512], url[600];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(path, sizeof(path), fmt, ap);
	va_end(ap);
	snprintf(url, sizeof(url), "%s%s", base_url, path);
	if (req && http_request_set(req, method, url) != 0) {
		http_request_free(req);
		req = NULL;
	}
	return req;
}

static bool pattern_ok(const void *data, size_t len, size_t want_len)
{
	const unsigned char *p = data;

	if (len != want_len)
		return false;
	for (size_t i = 0; i < len; i++)
		if (p[i] != (unsigned char)((i * 131 + 17) % 251))
			return false;
	return true;
}

/* GET and return the status, or -errno. */
static long simple_get(struct http_engine *e, const char *path)
{
	struct http_request *req = req_for("GET", "%s", path);
	long rc;

	if (!req)
		return -ENOMEM;
	rc = http_engine_perform(e, req);
	if (!rc)
		rc = req->err ? req->err : req->status;
	http_request_free(req);
	return rc;
}

/* A counter out of the stub's /stats JSON. */
static uint64_t stub_stat(struct http_engine *e, const char *name)
{
	struct http_request *req = req_for("GET", "/stats");
	char key[32];
	const char *p;
	uint64_t v = 0;

	snprintf(key, sizeof(key), "\"%s\": ", name);
	if (req && http_engine_perform(e, req) == 0 && req->status == 200 &&
	    (p = strstr(req->resp_body.data, key))) {
		for (p += strlen(key); *p >= '0' && *p <= '9'; p++)
			v = v * 10 + (uint64_t)(*p - '0');
	}
	http_request_free(req);
	return v;
}

/* Wait until at least n transfers are in flight, r retries happened and
 * held requests are in flight or queued (retries included). */
static bool wait_stats(struct http_engine *e, unsigned n, uint64_t r,
		       unsigned held)
{
	struct http_engine_stats s;
	struct timespec ts = { 0, 5 * 1000 * 1000 };

	for (int i = 0; i < WAIT_S * 200; i++) {
		http_engine_get_stats(e, &s);
		if (s.in_flight >= n && s.retries >= r &&
		    s.in_flight + s.queued >= held)
			return true;
		nanosleep(&ts, NULL);
	}
	return false;
}

/* ---- async completion tracking ------------------------------------------ */

#define MAX_JOBS 256

struct tracker {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int n_done;	      /* guarded by: mu */
	int order[MAX_JOBS];  /* guarded by: mu; job ids in completion order */
	bool on_io[MAX_JOBS]; /* guarded by: mu */
	int resubmit_rc;      /* guarded by: mu */
	struct http_engine *engine;
	bool resubmit; /* try a submit from on_complete */
};

struct job {
	struct tracker *t;
	int id;
	struct http_request *req;
};

static void tracker_init(struct tracker *t, struct http_engine *e)
{
	pthread_condattr_t a;

	memset(t, 0, sizeof(*t));
	pthread_mutex_init(&t->mu, NULL);
	pthread_condattr_init(&a);
	pthread_condattr_setclock(&a, CLOCK_MONOTONIC);
	pthread_cond_init(&t->cv, &a);
	pthread_condattr_destroy(&a);
	t->engine = e;
}

static void tracker_fini(struct tracker *t)
{
	pthread_cond_destroy(&t->cv);
	pthread_mutex_destroy(&t->mu);
}

static void extra_complete(struct http_request *req)
{
	http_request_free(req);
}

static void job_complete(struct http_request *req)
{
	struct job *j = req->userdata;
	struct tracker *t = j->t;
	struct http_request *extra = NULL;
	int rc = 0;

	if (t->resubmit) {
		extra = req_for("GET", "/bytes?n=1");
		extra->on_complete = extra_complete;
		rc = http_engine_submit(t->engine, extra, true);
		if (rc)
			http_request_free(extra);
	}
	pthread_mutex_lock(&t->mu);
	t->on_io[j->id] = http_engine_on_io_thread(t->engine);
	t->order[t->n_done++] = j->id;
	if (t->resubmit)
		t->resubmit_rc = rc;
	pthread_cond_broadcast(&t->cv);
	pthread_mutex_unlock(&t->mu);
}

static bool tracker_wait(struct tracker *t, int n)
{
	struct timespec ts;
	bool ok = true;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	ts.tv_sec += WAIT_S;
	pthread_mutex_lock(&t->mu);
	while (t->n_done < n && ok)
		ok = pthread_cond_timedwait(&t->cv, &t->mu, &ts) == 0;
	ok = t->n_done >= n;
	pthread_mutex_unlock(&t->mu);
	return ok;
}

static int job_submit(struct http_engine *e, struct job *j, struct tracker *t,
		      int id, struct http_request *req)
{
	j->t = t;
	j->id = id;
	j->req = req;
	req->userdata = j;
	req->on_complete = job_complete;
	return http_engine_submit(e, req, false);
}

static void free_jobs(struct job *jobs, int n)
{
	for (int i = 0; i < n; i++)
		http_request_free(jobs[i].req);
}

/* ---- cases: no server ---------------------------------------------------- */

static void test_classify(void)
{
	struct http_request *req = http_request_new();

	CHECK_INT(http_errno_from_curl(CURLE_OK, 0), 0);
	CHECK_INT(http_errno_from_curl(CURLE_COULDNT_CONNECT, 0),
		  -ECONNREFUSED);
	CHECK_INT(http_errno_from_curl(CURLE_COULDNT_CONNECT, EHOSTUNREACH),
		  -EHOSTUNREACH);
	CHECK_INT(http_errno_from_curl(CURLE_COULDNT_RESOLVE_HOST, 0), -ENXIO);
	CHECK_INT(http_errno_from_curl(CURLE_OPERATION_TIMEDOUT, 0),
		  -ETIMEDOUT);
	CHECK_INT(http_errno_from_curl(CURLE_PARTIAL_FILE, 0), -ECONNRESET);
	CHECK_INT(http_errno_from_curl(CURLE_RECV_ERROR, 0), -ECONNRESET);
	CHECK_INT(http_errno_from_curl(CURLE_GOT_NOTHING, 0), -ECONNRESET);
	CHECK_INT(http_errno_from_curl(CURLE_SSL_CONNECT_ERROR, 0),
		  -ECONNABORTED);
	CHECK_INT(http_errno_from_curl(CURLE_ABORTED_BY_CALLBACK, 0),
		  -ECANCELED);
	CHECK_INT(http_errno_from_curl(CURLE_BAD_CONTENT_ENCODING, 0), -EIO);

	static const struct {
		int err;
		long status;
		bool retry;
	} cases[] = {
		{ 0, 200, false },	    { 0, 404, false },
		{ 0, 403, false },	    { 0, 400, false },
		{ 0, 408, true },	    { 0, 429, true },
		{ 0, 500, true },	    { 0, 503, true },
		{ -ECONNREFUSED, 0, true }, { -ECONNRESET, 200, true },
		{ -ETIMEDOUT, 0, true },    { -ECONNABORTED, 0, true },
		{ -ENXIO, 0, false },	    { -E2BIG, 200, false },
		{ -ECANCELED, 0, false },   { -EIO, 0, false },
	};
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(cases); i++) {
		req->err = cases[i].err;
		req->status = cases[i].status;
		CHECK_INT(http_default_should_retry(req), cases[i].retry);
	}
	http_request_free(req);
}

static void test_request_object(void)
{
	struct http_request *req = http_request_new();

	CHECK(req != NULL);
	CHECK_INT(req->body_fd, -1);
	CHECK(req->method == NULL && req->url == NULL);
	CHECK_INT(http_request_set(req, "GET", "http://a/b"), 0);
	CHECK_INT(http_request_set(req, "PUT", "http://a/c"), 0);
	CHECK_STR(req->method, "PUT");
	CHECK_STR(req->url, "http://a/c");
	req->err = -EIO;
	req->status = 500;
	req->attempts = 3;
	kvlist_add(&req->resp_headers, "A", "b");
	buf_append_str(&req->resp_body, "x");
	req->max_response_bytes = 10;
	http_request_reset_response(req);
	CHECK_INT(req->err, 0);
	CHECK_INT(req->status, 0);
	CHECK_INT(req->resp_headers.n, 0);
	CHECK_INT(req->resp_body.len, 0);
	CHECK_INT(req->resp_body.max_bytes, 10);
	CHECK_INT(req->attempts, 3);
	http_request_free(req);
	http_request_free(NULL);
}

/* ---- cases: against the stub --------------------------------------------- */

static void test_get_and_head(void)
{
	struct http_engine *e = engine_with(4, 3, 30);
	struct http_request *req = req_for("GET", "/bytes?n=100000");
	struct http_engine_stats s;

	CHECK(!http_engine_on_io_thread(e));
	CHECK_INT(http_engine_perform(e, req), 0);
	CHECK_INT(req->err, 0);
	CHECK_INT(req->status, 200);
	CHECK_INT(req->attempts, 1);
	CHECK(pattern_ok(req->resp_body.data, req->resp_body.len, 100000));
	CHECK_STR(kvlist_get(&req->resp_headers, "content-length"), "100000");
	http_request_free(req);

	req = req_for("HEAD", "/bytes?n=5000");
	req->no_body_response = true;
	CHECK_INT(http_engine_perform(e, req), 0);
	CHECK_INT(req->err, 0);
	CHECK_INT(req->status, 200);
	CHECK_INT(req->resp_body.len, 0);
	CHECK_STR(kvlist_get(&req->resp_headers, "Content-Length"), "5000");
	http_request_free(req);

	http_engine_get_stats(e, &s);
	CHECK_INT(s.requests, 2);
	CHECK_INT(s.completed, 2);
	CHECK_INT(s.failures, 0);
	CHECK(s.bytes_in >= 100000);
	http_engine_free(e);
}

/* 200 GETs through 64 connections.  The stub holds each response until
 * its peak concurrency has reached 48 (gate), so the peak it reports
 * measures how many transfers the engine runs at once, not how fast this
 * machine opens connections; an engine running fewer than 48 leaves the
 * gate shut (30 s) and the peak short. */
static void test_concurrency(void)
{
	enum { N = 200 };
	struct http_engine *e = engine_with(64, 3, 30);
	static struct job jobs[N];
	struct http_engine_stats s;
	struct tracker t;
	int ok = 0;

	tracker_init(&t, e);
	CHECK_INT(simple_get(e, "/reset"), 200);
	for (int i = 0; i < N; i++)
		CHECK_INT(
			job_submit(e, &jobs[i], &t, i,
				   req_for("GET", "/latency?ms=50&n=%d&gate=48",
					   1000 + i)),
			0);
	CHECK(tracker_wait(&t, N));
	for (int i = 0; i < N; i++) {
		struct http_request *r = jobs[i].req;

		ok += r->err == 0 && r->status == 200 &&
		      pattern_ok(r->resp_body.data, r->resp_body.len,
				 (size_t)(1000 + i));
		CHECK(t.on_io[i]);
	}
	CHECK_INT(ok, N);
	CHECK(stub_stat(e, "peak") >= 48);
	http_engine_get_stats(e, &s);
	CHECK(s.peak_in_flight <= 64);
	CHECK(s.peak_in_flight >= 48);
	CHECK_INT(s.in_flight, 0);
	CHECK_INT(s.queued, 0);
	free_jobs(jobs, N);
	http_engine_free(e);
	tracker_fini(&t);
}

static void test_retry_kinds(void)
{
	static const char *const kinds[] = { "503", "reset", "truncate" };
	struct http_engine *e = engine_with(8, 5, 30);
	struct http_engine_stats s;

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(kinds); i++) {
		struct http_request *req = req_for(
			"GET", "/flaky?id=rk-%s&fail=2&kind=%s&n=200000",
			kinds[i], kinds[i]);

		CHECK_INT(http_engine_perform(e, req), 0);
		CHECK_INT(req->err, 0);
		CHECK_INT(req->status, 200);
		CHECK_INT(req->attempts, 3);
		CHECK(pattern_ok(req->resp_body.data, req->resp_body.len,
				 200000));
		if (req->attempts != 3)
			fprintf(stderr, "kind %s: attempts %d\n", kinds[i],
				req->attempts);
		http_request_free(req);
	}
	http_engine_get_stats(e, &s);
	CHECK_INT(s.retries, 6);
	CHECK_INT(s.requests, 9);
	CHECK_INT(s.completed, 3);
	http_engine_free(e);
}

static bool never_retry(struct http_request *req)
{
	return false;
}

static void test_status_policy(void)
{
	struct http_engine *e = engine_with(4, 3, 30);
	static const struct {
		const char *path;
		int max_attempts;
		long status;
		int attempts;
	} cases[] = {
		{ "/status?code=403", 0, 403, 1 },
		{ "/status?code=404", 0, 404, 1 },
		{ "/status?code=400", 0, 400, 1 },
		{ "/status?code=500", 0, 500, 3 },
		{ "/status?code=429", 2, 429, 2 },
		{ "/status?code=408", 4, 408, 4 },
	};

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(cases); i++) {
		struct http_request *req = req_for("GET", "%s", cases[i].path);

		req->max_attempts = cases[i].max_attempts;
		CHECK_INT(http_engine_perform(e, req), 0);
		CHECK_INT(req->err, 0);
		CHECK_INT(req->status, cases[i].status);
		CHECK_INT(req->attempts, cases[i].attempts);
		CHECK(strstr(req->resp_body.data, "status") != NULL);
		http_request_free(req);
	}
	struct http_request *req =
		req_for("GET", "/flaky?id=nr&fail=5&kind=503");
	req->should_retry = never_retry;
	CHECK_INT(http_engine_perform(e, req), 0);
	CHECK_INT(req->status, 503);
	CHECK_INT(req->attempts, 1);
	http_request_free(req);
	http_engine_free(e);
}

static void test_stall(void)
{
	struct http_engine *e = engine_with(4, 3, 1);
	struct http_request *req =
		req_for("GET", "/flaky?id=stall&fail=1&kind=stall&n=4096");

	CHECK_INT(http_engine_perform(e, req), 0);
	CHECK_INT(req->err, 0);
	CHECK_INT(req->status, 200);
	CHECK_INT(req->attempts, 2);
	CHECK(pattern_ok(req->resp_body.data, req->resp_body.len, 4096));
	http_request_free(req);
	http_engine_free(e);
}

/* One connection, 20 background requests queued (the first takes long
 * enough to hold the slot while the rest are submitted), then one
 * foreground: it must be the next to run. */
static void test_priority(void)
{
	enum { N = 21 };
	struct http_engine *e = engine_with(1, 3, 30);
	static struct job jobs[N];
	struct tracker t;
	int fg_pos = -1;

	tracker_init(&t, e);
	for (int i = 0; i < N - 1; i++) {
		struct http_request *req = req_for("GET", "/latency?ms=%d&n=10",
						   i == 0 ? 500 : 10);

		req->priority = HTTP_PRIO_BACKGROUND;
		CHECK_INT(job_submit(e, &jobs[i], &t, i, req), 0);
	}
	CHECK_INT(job_submit(e, &jobs[N - 1], &t, N - 1,
			     req_for("GET", "/bytes?n=10")),
		  0);
	CHECK(tracker_wait(&t, N));
	for (int i = 0; i < N; i++)
		if (t.order[i] == N - 1)
			fg_pos = i;
	CHECK(fg_pos >= 0 && fg_pos <= 1);
	if (fg_pos > 1)
		fprintf(stderr, "foreground finished at %d\n", fg_pos);
	free_jobs(jobs, N);
	http_engine_free(e);
	tracker_fini(&t);
}

static struct http_engine *engine_slow_backoff(int max_conns)
{
	struct http_engine_config cfg;

	http_engine_config_defaults(&cfg);
	cfg.max_connections = max_conns;
	cfg.max_attempts = 1000;
	cfg.backoff_base_ms = 30000;
	cfg.backoff_max_ms = 30000;
	return http_engine_new(&cfg);
}

/* Tag 7: one request retrying (most likely waiting out its backoff),
 * three in flight, three queued; tag 8 queued behind them. */
static void test_cancel_tag(void)
{
	enum { SLOW = 6, N = 9 };
	struct http_engine *e = engine_slow_backoff(3);
	static struct job jobs[N];
	struct http_request *req;
	struct tracker t;

	tracker_init(&t, e);
	req = req_for("GET", "/flaky?id=ct&fail=100000&kind=503");
	req->cancel_tag = 7;
	CHECK_INT(job_submit(e, &jobs[0], &t, 0, req), 0);
	for (int i = 1; i <= SLOW; i++) {
		req = req_for("GET", "/latency?ms=20000&n=10");
		req->cancel_tag = 7;
		CHECK_INT(job_submit(e, &jobs[i], &t, i, req), 0);
	}
	req = req_for("GET", "/bytes?n=10");
	req->cancel_tag = 8;
	CHECK_INT(job_submit(e, &jobs[SLOW + 1], &t, SLOW + 1, req), 0);
	CHECK(wait_stats(e, 3, 1, 0));
	http_engine_cancel_tag(e, 7);
	/* Submitted after the cancel: not affected by it. */
	req = req_for("GET", "/bytes?n=10");
	req->cancel_tag = 7;
	CHECK_INT(job_submit(e, &jobs[SLOW + 2], &t, SLOW + 2, req), 0);
	CHECK(tracker_wait(&t, N));
	for (int i = 0; i <= SLOW; i++)
		CHECK_INT(jobs[i].req->err, -ECANCELED);
	CHECK_INT(jobs[SLOW + 1].req->err, 0);
	CHECK_INT(jobs[SLOW + 1].req->status, 200);
	CHECK_INT(jobs[SLOW + 2].req->err, 0);
	CHECK_INT(jobs[SLOW + 2].req->status, 200);
	free_jobs(jobs, N);
	http_engine_free(e);
	tracker_fini(&t);
}

static char *make_data(size_t n)
{
	char *p = malloc(n);

	for (size_t i = 0; p && i < n; i++)
		p[i] = (char)((i * 131 + 17) % 251);
	return p;
}

static void test_body_memory(void)
{
	enum { BIG = 2 << 20 };
	struct http_engine *e = engine_with(4, 3, 30);
	char *data = make_data(BIG);
	struct http_request *req = req_for("PUT", "/echo");
	struct http_engine_stats s;

	req->body = data;
	req->body_len = BIG;
	kvlist_add(&req->headers, "X-Custom", "v1");
	CHECK_INT(http_engine_perform(e, req), 0);
	CHECK_INT(req->status, 200);
	CHECK(pattern_ok(req->resp_body.data, req->resp_body.len, BIG));
	CHECK_STR(kvlist_get(&req->resp_headers, "X-Echo-Method"), "PUT");
	CHECK_STR(kvlist_get(&req->resp_headers, "X-Echo-Expect"), "none");
	CHECK_STR(kvlist_get(&req->resp_headers, "X-Echo-Custom"), "v1");
	http_request_free(req);
	http_engine_get_stats(e, &s);
	CHECK(s.bytes_out >= BIG);

	req = req_for("POST", "/echo");
	req->body = "hello";
	req->body_len = 5;
	CHECK_INT(http_engine_perform(e, req), 0);
	CHECK_INT(req->status, 200);
	CHECK_STR(req->resp_body.data, "hello");
	CHECK_STR(kvlist_get(&req->resp_headers, "X-Echo-Method"), "POST");
	CHECK_STR(kvlist_get(&req->resp_headers, "X-Echo-Content-Type"),
		  "none");
	http_request_free(req);

	req = req_for("PUT", "/echo");
	CHECK_INT(http_engine_perform(e, req), 0);
	CHECK_INT(req->status, 200);
	CHECK_INT(req->resp_body.len, 0);
	http_request_free(req);

	req = req_for("DELETE", "/echo");
	CHECK_INT(http_engine_perform(e, req), 0);
	CHECK_STR(kvlist_get(&req->resp_headers, "X-Echo-Method"), "DELETE");
	http_request_free(req);
	free(data);
	http_engine_free(e);
}

static int temp_file_with(const char *data, size_t len)
{
	char path[] = "/tmp/ossfs-http-test-XXXXXX";
	int fd = mkstemp(path);

	if (fd < 0)
		return -1;
	unlink(path);
	if (write(fd, data, len) != (ssize_t)len) {
		close(fd);
		return -1;
	}
	return fd;
}

/* A slice of a file as the body, sent again on each retry. */
static void test_body_fd(void)
{
	enum { LEN = 1 << 20, OFF = 1000, SLICE = 300000 };
	struct http_engine *e = engine_with(4, 3, 30);
	char *data = make_data(LEN);
	int fd = temp_file_with(data, LEN);
	struct http_request *req = req_for("PUT", "/echo");

	CHECK(fd >= 0);
	req->body_fd = fd;
	req->body_fd_offset = OFF;
	req->body_len = SLICE;
	CHECK_INT(http_engine_perform(e, req), 0);
	CHECK_INT(req->status, 200);
	CHECK_INT(req->resp_body.len, SLICE);
	CHECK(req->resp_body.len == SLICE &&
	      memcmp(req->resp_body.data, data + OFF, SLICE) == 0);
	http_request_free(req);

	req = req_for("PUT", "/flaky?id=fdput&fail=2&kind=503&n=10");
	req->body_fd = fd;
	req->body_len = SLICE;
	CHECK_INT(http_engine_perform(e, req), 0);
	CHECK_INT(req->status, 200);
	CHECK_INT(req->attempts, 3);
	http_request_free(req);

	/* The file is shorter than the length promised: a local error,
	 * not retried. */
	req = req_for("PUT", "/echo");
	req->body_fd = fd;
	req->body_fd_offset = LEN - 10;
	req->body_len = 100;
	CHECK_INT(http_engine_perform(e, req), 0);
	CHECK_INT(req->err, -EIO);
	CHECK_INT(req->attempts, 1);
	http_request_free(req);
	close(fd);
	free(data);
	http_engine_free(e);
}

static void test_dest_and_limits(void)
{
	struct http_engine *e = engine_with(4, 3, 30);
	static char dest[1000];
	struct http_request *req = req_for("GET", "/bytes?n=1000");

	req->dest = dest;
	req->dest_cap = sizeof(dest);
	CHECK_INT(http_engine_perform(e, req), 0);
	CHECK_INT(req->err, 0);
	CHECK_INT(req->dest_len, 1000);
	CHECK_INT(req->resp_body.len, 0);
	CHECK(pattern_ok(dest, req->dest_len, 1000));
	http_request_free(req);

	req = req_for("GET", "/bytes?n=1000");
	req->dest = dest;
	req->dest_cap = 999;
	CHECK_INT(http_engine_perform(e, req), 0);
	CHECK_INT(req->err, -E2BIG);
	CHECK_INT(req->attempts, 1);
	CHECK(req->err_text[0] != '\0');
	http_request_free(req);

	req = req_for("GET", "/bytes?n=1000");
	req->max_response_bytes = 100;
	CHECK_INT(http_engine_perform(e, req), 0);
	CHECK_INT(req->err, -E2BIG);
	CHECK_INT(req->attempts, 1);
	http_request_free(req);

	/* An error body goes to resp_body, never into the caller's buffer,
	 * even when the limit was sized for a tiny range. */
	req = req_for("GET", "/status?code=404");
	req->dest = dest;
	req->dest_cap = 4;
	req->max_response_bytes = 2;
	CHECK_INT(http_engine_perform(e, req), 0);
	CHECK_INT(req->err, 0);
	CHECK_INT(req->status, 404);
	CHECK_INT(req->dest_len, 0);
	CHECK_STR(req->resp_body.data, "status 404\n");
	http_request_free(req);
	http_engine_free(e);
}

/* A port that was just bound and released has no listener. */
static int closed_port(void)
{
	struct sockaddr_in sa = { .sin_family = AF_INET };
	socklen_t len = sizeof(sa);
	int fd = socket(AF_INET, SOCK_STREAM, 0), port = -1;

	sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	if (fd >= 0 && bind(fd, (struct sockaddr *)&sa, sizeof(sa)) == 0 &&
	    getsockname(fd, (struct sockaddr *)&sa, &len) == 0)
		port = ntohs(sa.sin_port);
	if (fd >= 0)
		close(fd);
	return port;
}

static void test_refused(void)
{
	struct http_engine *e = engine_with(4, 3, 30);
	struct http_request *req = http_request_new();
	char url[64];
	struct http_engine_stats s;

	snprintf(url, sizeof(url), "http://127.0.0.1:%d/x", closed_port());
	http_request_set(req, "GET", url);
	CHECK_INT(http_engine_perform(e, req), 0);
	CHECK_INT(req->err, -ECONNREFUSED);
	CHECK_INT(req->status, 0);
	CHECK_INT(req->attempts, 3);
	CHECK(req->err_text[0] != '\0');
	http_request_free(req);
	http_engine_get_stats(e, &s);
	CHECK_INT(s.failures, 1);
	CHECK_INT(s.retries, 2);
	http_engine_free(e);
}

struct prep_state {
	int calls;
	int fail_with;
	char url[128];
};

/* Sets the URL on every attempt, as the OSS signer does. */
static int count_prepare(struct http_request *req)
{
	struct prep_state *p = req->userdata;

	p->calls++;
	if (p->fail_with)
		return p->fail_with;
	kvlist_set(&req->headers, "X-Custom", "signed");
	return http_request_set(req, "GET", p->url);
}

static void test_prepare(void)
{
	struct http_engine *e = engine_with(4, 5, 30);
	struct http_request *req = http_request_new();
	struct prep_state p = { 0 };

	snprintf(p.url, sizeof(p.url), "%s/flaky?id=prep&fail=2&kind=503",
		 base_url);
	req->prepare = count_prepare;
	req->userdata = &p;
	CHECK_INT(http_engine_perform(e, req), 0);
	CHECK_INT(req->err, 0);
	CHECK_INT(req->status, 200);
	CHECK_INT(req->attempts, 3);
	CHECK_INT(p.calls, 3);
	CHECK(req->userdata == &p);
	http_request_free(req);

	req = http_request_new();
	p.calls = 0;
	p.fail_with = -EACCES;
	req->prepare = count_prepare;
	req->userdata = &p;
	CHECK_INT(http_engine_perform(e, req), 0);
	CHECK_INT(req->err, -EACCES);
	CHECK_INT(req->attempts, 1);
	CHECK_INT(p.calls, 1);
	http_request_free(req);
	http_engine_free(e);
}

static void test_queue_full(void)
{
	enum { N = 3 };
	struct http_engine_config cfg;
	struct http_engine *e;
	static struct job jobs[N + 1];
	struct http_request *req;
	struct tracker t;

	http_engine_config_defaults(&cfg);
	cfg.max_connections = 1;
	cfg.queue_cap = 2;
	e = http_engine_new(&cfg);
	tracker_init(&t, e);
	for (int i = 0; i < N; i++) {
		req = req_for("GET", "/latency?ms=20000&n=1");
		req->cancel_tag = 9;
		CHECK_INT(job_submit(e, &jobs[i], &t, i, req), 0);
		if (i == 0)
			CHECK(wait_stats(e, 1, 0, 0));
	}
	req = req_for("GET", "/bytes?n=1");
	req->on_complete = job_complete;
	CHECK_INT(http_engine_submit(e, req, true), -EAGAIN);
	http_request_free(req);
	http_engine_cancel_tag(e, 9);
	CHECK(tracker_wait(&t, N));
	for (int i = 0; i < N; i++)
		CHECK_INT(jobs[i].req->err, -ECANCELED);
	free_jobs(jobs, N);
	http_engine_free(e);
	tracker_fini(&t);
}

struct perform_thread {
	struct http_engine *e;
	struct http_request *req;
	int rc;
};

static void *perform_main(void *arg)
{
	struct perform_thread *p = arg;

	p->rc = http_engine_perform(p->e, p->req);
	return NULL;
}

/* Shutdown with requests in flight, queued and retrying, and a thread
 * blocked in perform: every one finishes with -ECANCELED, and a submit
 * from a completion callback is refused with -ESHUTDOWN. */
static void test_shutdown(void)
{
	enum { N = 9 };
	struct http_engine *e = engine_slow_backoff(4);
	static struct job jobs[N];
	struct perform_thread pt = { .e = e, .rc = 1 };
	pthread_t th;
	struct tracker t;

	tracker_init(&t, e);
	CHECK_INT(job_submit(e, &jobs[0], &t, 0,
			     req_for("GET", "/flaky?id=sd&fail=100000")),
		  0);
	for (int i = 1; i < N; i++)
		CHECK_INT(job_submit(e, &jobs[i], &t, i,
				     req_for("GET", "/latency?ms=20000&n=1")),
			  0);
	pt.req = req_for("GET", "/latency?ms=20000&n=1");
	pthread_create(&th, NULL, perform_main, &pt);
	/* The perform thread's request held too: shutting down before it
	 * was submitted would make perform fail with -ESHUTDOWN (a race CI
	 * lost once). */
	CHECK(wait_stats(e, 4, 1, N + 1));
	t.resubmit = true;
	http_engine_free(e);
	pthread_join(th, NULL);
	CHECK(tracker_wait(&t, N));
	for (int i = 0; i < N; i++)
		CHECK_INT(jobs[i].req->err, -ECANCELED);
	CHECK_INT(t.resubmit_rc, -ESHUTDOWN);
	CHECK_INT(pt.rc, 0);
	CHECK_INT(pt.req->err, -ECANCELED);
	http_request_free(pt.req);
	free_jobs(jobs, N);
	tracker_fini(&t);
}

int main(int argc, char **argv)
{
	static const struct tu_case cases[] = {
		TU_CASE(test_classify),	    TU_CASE(test_request_object),
		TU_CASE(test_get_and_head), TU_CASE(test_concurrency),
		TU_CASE(test_retry_kinds),  TU_CASE(test_status_policy),
		TU_CASE(test_stall),	    TU_CASE(test_priority),
		TU_CASE(test_cancel_tag),   TU_CASE(test_body_memory),
		TU_CASE(test_body_fd),	    TU_CASE(test_dest_and_limits),
		TU_CASE(test_refused),	    TU_CASE(test_prepare),
		TU_CASE(test_queue_full),   TU_CASE(test_shutdown),
	};
	int rc;

	if (argc < 2) {
		fprintf(stderr, "usage: %s http_stub.py\n", argv[0]);
		return 2;
	}
	signal(SIGPIPE, SIG_IGN);
	rc = stub_start(argv[1]);
	if (rc) {
		fprintf(stderr, "cannot start %s: %s\n", argv[1],
			strerror(-rc));
		stub_stop();
		return 1;
	}
	rc = tu_run(cases, OSSFS_ARRAY_SIZE(cases));
	stub_stop();
	return rc;
}
