/* Unit tests for base/: buffers, lists, encoding, time, CRC-64. */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base.h"
#include "testutil.h"

static void test_buf_bounds(void)
{
	struct buf b;

	buf_init(&b, 8);
	CHECK_STR(b.data, "");
	CHECK_INT(buf_append_str(&b, "12345678"), 0);
	CHECK_INT(buf_append_str(&b, "9"), -E2BIG);
	CHECK_STR(b.data, "12345678");
	buf_reset(&b);
	CHECK_INT(buf_appendf(&b, "%d-%s", 42, "x"), 0);
	CHECK_STR(b.data, "42-x");
	buf_fini(&b);
}

static void test_kvlist(void)
{
	struct kvlist l;

	kvlist_init(&l);
	CHECK_INT(kvlist_add(&l, "Content-Type", "a"), 0);
	CHECK_INT(kvlist_add(&l, "X-Oss-Date", "d"), 0);
	CHECK_STR(kvlist_get(&l, "content-type"), "a");
	CHECK_INT(kvlist_set(&l, "CONTENT-TYPE", "b"), 0);
	CHECK_STR(kvlist_get(&l, "content-type"), "b");
	CHECK_INT(l.n, 2);
	kvlist_remove(&l, "x-oss-date");
	CHECK(kvlist_get(&l, "x-oss-date") == NULL);
	kvlist_fini(&l);
}

static void test_urlencode(void)
{
	struct buf b;

	buf_init(&b, 0);
	CHECK_INT(str_urlencode(&b, "a b/c+~%", 8, true), 0);
	CHECK_STR(b.data, "a%20b/c%2B~%25");
	buf_reset(&b);
	CHECK_INT(str_urlencode(&b, "a/b", 3, false), 0);
	CHECK_STR(b.data, "a%2Fb");
	buf_reset(&b);
	CHECK_INT(str_urldecode(&b, "a%20b%2fc+", 10, true), 0);
	CHECK_STR(b.data, "a b/c ");
	buf_reset(&b);
	CHECK_INT(str_urldecode(&b, "bad%2", 5, false), -EINVAL);
	buf_reset(&b);
	CHECK_INT(str_urldecode(&b, "bad%zz", 6, false), -EINVAL);
	buf_fini(&b);
}

static void test_base64(void)
{
	struct buf b;

	buf_init(&b, 0);
	CHECK_INT(str_base64_encode(&b, (const unsigned char *)"hello", 5), 0);
	CHECK_STR(b.data, "aGVsbG8=");
	buf_reset(&b);
	CHECK_INT(str_base64_decode(&b, "aGVsbG8=", 8), 0);
	CHECK_STR(b.data, "hello");
	buf_reset(&b);
	CHECK_INT(str_base64_decode(&b, "a$==", 4), -EINVAL);
	buf_fini(&b);
}

static void test_numbers(void)
{
	uint64_t u;
	int64_t i;

	CHECK_INT(str_to_u64("33188", 10, &u), 0);
	CHECK_INT(u, 33188);
	CHECK_INT(str_to_u64("0100644", 0, &u), 0);
	CHECK_INT(u, 0100644);
	CHECK_INT(str_to_u64("12x", 10, &u), -EINVAL);
	CHECK_INT(str_to_u64("-1", 10, &u), -EINVAL);
	CHECK_INT(str_to_u64("99999999999999999999999", 10, &u), -EINVAL);
	CHECK_INT(str_to_i64("-5", 10, &i), 0);
	CHECK_INT(i, -5);
}

static void test_time(void)
{
	char rfc[TIME_RFC1123_LEN], iso[TIME_ISO8601_BASIC_LEN];
	struct timespec ts;
	time_t t;

	time_fmt_rfc1123(rfc, 1702743657);
	CHECK_STR(rfc, "Sat, 16 Dec 2023 16:20:57 GMT");
	time_fmt_iso8601_basic(iso, 1702743657);
	CHECK_STR(iso, "20231216T162057Z");
	CHECK_INT(time_parse_rfc1123("Sat, 16 Dec 2023 16:20:57 GMT", &t), 0);
	CHECK_INT(t, 1702743657);
	CHECK_INT(time_parse_iso8601("2012-02-24T08:43:07.250Z", &ts), 0);
	CHECK_INT(ts.tv_sec, 1330072987);
	CHECK_INT(ts.tv_nsec, 250000000);
	CHECK_INT(time_parse_iso8601("2012-13-24T08:43:07Z", &ts), -EINVAL);
	CHECK_INT(time_parse_rfc1123("garbage", &t), -EINVAL);
}

static void test_crc64(void)
{
	const char *s = "123456789";
	uint64_t a, b, whole;

	CHECK(crc64_update(0, s, 9) == 0x995DC9BBDF1939FAULL);
	CHECK(crc64_update(0, "", 0) == 0);
	a = crc64_update(0, s, 4);
	CHECK(crc64_update(a, s + 4, 5) == 0x995DC9BBDF1939FAULL);
	b = crc64_update(0, s + 4, 5);
	whole = crc64_combine(a, b, 5);
	CHECK(whole == 0x995DC9BBDF1939FAULL);
}

/* Test hooks in crc64.c, deliberately not in base.h. */
extern uint64_t crc64_update_portable(uint64_t crc, const void *data,
				      size_t len);
extern const char *crc64_impl_name(void);

static uint64_t crc_rng = 0x9E3779B97F4A7C15ULL;

static uint64_t crc_rand(void)
{
	crc_rng ^= crc_rng << 13;
	crc_rng ^= crc_rng >> 7;
	crc_rng ^= crc_rng << 17;
	return crc_rng;
}

#define CRC_BUF_LEN ((1u << 20) + 128)

/* CRC_BUF_LEN random bytes, or NULL (a failed check). */
static unsigned char *crc_buf_new(void)
{
	unsigned char *buf = malloc(CRC_BUF_LEN);

	CHECK(buf != NULL);
	for (size_t i = 0; buf && i < CRC_BUF_LEN; i++)
		buf[i] = (unsigned char)crc_rand();
	return buf;
}

/* The dispatched path (PCLMUL folding where the CPU has it) against the
 * slicing-by-8 one: every length to 300 at every offset mod 16, random
 * lengths to ~10000 at random offsets, a few around 1 MiB, and random
 * starting CRCs. */
static void test_crc64_fast(void)
{
	unsigned char *buf = crc_buf_new();
	size_t bad = 0;

	if (!buf)
		return;
	printf("# crc64 implementation: %s\n", crc64_impl_name());
#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
	if (__builtin_cpu_supports("pclmul") &&
	    __builtin_cpu_supports("sse4.1"))
		CHECK_STR(crc64_impl_name(), "pclmul");
#endif
	for (size_t off = 0; off < 16; off++)
		for (size_t len = 0; len <= 300; len++)
			bad += crc64_update(0, buf + off, len) !=
			       crc64_update_portable(0, buf + off, len);
	CHECK_INT(bad, 0);
	for (int i = 0; i < 2000; i++) {
		size_t off = crc_rand() % 64, len = crc_rand() % 10001;
		uint64_t init = i & 1 ? crc_rand() : 0;

		bad += crc64_update(init, buf + off, len) !=
		       crc64_update_portable(init, buf + off, len);
	}
	CHECK_INT(bad, 0);
	for (int i = 0; i < 6; i++) {
		size_t off = crc_rand() % 128;
		size_t len = (1u << 20) - 64 + crc_rand() % 128;

		if (off + len > CRC_BUF_LEN)
			len = CRC_BUF_LEN - off;
		bad += crc64_update(0, buf + off, len) !=
		       crc64_update_portable(0, buf + off, len);
	}
	CHECK_INT(bad, 0);
	/* Uniform runs: all zeros, all ones, and across the edge. */
	memset(buf, 0, 4096);
	memset(buf + 4096, 0xff, 4096);
	bad += crc64_update(0, buf, 4096) !=
	       crc64_update_portable(0, buf, 4096);
	bad += crc64_update(0, buf + 4096, 4096) !=
	       crc64_update_portable(0, buf + 4096, 4096);
	bad += crc64_update(0, buf + 1000, 6000) !=
	       crc64_update_portable(0, buf + 1000, 6000);
	CHECK_INT(bad, 0);
	free(buf);
}

/* Chaining: feeding the data in two or more pieces, with any split points,
 * gives the CRC of the whole, and crc64_combine agrees. */
static void test_crc64_chain(void)
{
	unsigned char *buf = crc_buf_new();
	size_t bad = 0;

	if (!buf)
		return;
	for (int i = 0; i < 1000; i++) {
		size_t off = crc_rand() % 32, len = crc_rand() % 10001;
		size_t cut = len ? crc_rand() % (len + 1) : 0;
		const unsigned char *p = buf + off;
		uint64_t whole = crc64_update_portable(0, p, len);
		uint64_t a = crc64_update(0, p, cut);
		uint64_t b = crc64_update(0, p + cut, len - cut);

		bad += crc64_update(a, p + cut, len - cut) != whole;
		bad += crc64_combine(a, b, len - cut) != whole;
	}
	CHECK_INT(bad, 0);
	for (int i = 0; i < 200; i++) {
		size_t off = crc_rand() % 32, len = crc_rand() % 100001;
		const unsigned char *p = buf + off;
		uint64_t whole = crc64_update_portable(0, p, len), c = 0;
		size_t done = 0;

		while (done < len) {
			size_t n = crc_rand() % 2048;

			if (n > len - done)
				n = len - done;
			c = crc64_update(c, p + done, n);
			done += n;
		}
		bad += c != whole;
	}
	CHECK_INT(bad, 0);
	free(buf);
}

/* A name with a newline in it cannot forge a second log line. */
static void test_log_one_line(void)
{
	char path[] = "/tmp/ossfs-test-log-XXXXXX";
	char text[512] = "";
	int fd = mkstemp(path);
	FILE *f;
	size_t n;

	CHECK(fd >= 0);
	close(fd);
	CHECK_INT(log_set_file(path), 0);
	log_warn("skipping \"%s\"", "a\nerror: forged\x1b[31m\x7f\tb");
	log_set_file(NULL);
	f = fopen(path, "r");
	CHECK(f != NULL);
	n = f ? fread(text, 1, sizeof(text) - 1, f) : 0;
	text[n] = '\0';
	if (f)
		fclose(f);
	unlink(path);
	CHECK(strstr(text, "warn: skipping \"a\\x0aerror: forged\\x1b[31m"
			   "\\x7f\\x09b\"\n") != NULL);
	CHECK(strchr(text, '\n') == text + n - 1);
}

TU_MAIN(TU_CASE(test_buf_bounds), TU_CASE(test_kvlist), TU_CASE(test_urlencode),
	TU_CASE(test_base64), TU_CASE(test_numbers), TU_CASE(test_time),
	TU_CASE(test_crc64), TU_CASE(test_crc64_fast),
	TU_CASE(test_crc64_chain), TU_CASE(test_log_one_line))
