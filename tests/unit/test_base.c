/* Unit tests for base/: buffers, lists, encoding, time, CRC-64. */
#include <errno.h>

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

TU_MAIN(TU_CASE(test_buf_bounds), TU_CASE(test_kvlist), TU_CASE(test_urlencode),
	TU_CASE(test_base64), TU_CASE(test_numbers), TU_CASE(test_time),
	TU_CASE(test_crc64))
