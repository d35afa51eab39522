/* Unit tests for object metadata from headers and region derivation. */
#include <errno.h>
#include <string.h>

#include "oss.h"
#include "testutil.h"

static void meta_of(struct oss_object_meta *m, bool s3, const char *name,
		    const char *value)
{
	struct kvlist h;

	kvlist_init(&h);
	kvlist_add(&h, name, value);
	CHECK_INT(oss_object_meta_from_headers(&h, s3, m), 0);
	kvlist_fini(&h);
}

static void test_head_headers(void)
{
	struct kvlist h;
	struct oss_object_meta m;

	kvlist_init(&h);
	kvlist_add(&h, "Content-Length", "344606");
	kvlist_add(&h, "ETag", "\"5B3C1A2E053D763E1B002CC607C5A0FE\"");
	kvlist_add(&h, "Last-Modified", "Fri, 24 Feb 2012 06:07:48 GMT");
	kvlist_add(&h, "x-oss-object-type", "Appendable");
	kvlist_add(&h, "x-oss-hash-crc64ecma", "11051210869376104954");
	kvlist_add(&h, "Content-Type", "text/plain");
	kvlist_add(&h, "X-Oss-Meta-Mode", "33188"); /* names are any case */
	kvlist_add(&h, "x-oss-meta-uid", "1000");
	kvlist_add(&h, "x-oss-meta-gid", "100");
	kvlist_add(&h, "x-oss-meta-mtime", "1700000000");
	kvlist_add(&h, "x-amz-meta-mode", "16877"); /* ignored: not S3 */
	CHECK_INT(oss_object_meta_from_headers(&h, false, &m), 0);
	CHECK_INT(m.size, 344606);
	CHECK_STR(m.etag, "5B3C1A2E053D763E1B002CC607C5A0FE");
	CHECK_INT(m.mtime.tv_sec, 1330063668);
	CHECK_INT(m.type, OSS_OBJ_APPENDABLE);
	CHECK(m.has_crc64);
	CHECK(m.crc64 == 11051210869376104954ull);
	CHECK_STR(m.content_type, "text/plain");
	CHECK(m.posix.has_mode && m.posix.has_uid && m.posix.has_gid &&
	      m.posix.has_mtime);
	CHECK_INT(m.posix.mode, 0100644);
	CHECK_INT(m.posix.uid, 1000);
	CHECK_INT(m.posix.gid, 100);
	CHECK_INT(m.posix.mtime.tv_sec, 1700000000);
	CHECK_INT(m.posix.mtime.tv_nsec, 0);
	CHECK(m.symlink_target == NULL);
	oss_object_meta_fini(&m);
	/* S3 mode reads x-amz-meta-* only. */
	CHECK_INT(oss_object_meta_from_headers(&h, true, &m), 0);
	CHECK(m.posix.has_mode);
	CHECK_INT(m.posix.mode, 040755);
	CHECK(!m.posix.has_uid && !m.posix.has_gid && !m.posix.has_mtime);
	oss_object_meta_fini(&m);
	kvlist_fini(&h);
}

static void test_mode_bases(void)
{
	struct oss_object_meta m;

	meta_of(&m, false, "x-oss-meta-mode", "0100644");
	CHECK(m.posix.has_mode);
	CHECK_INT(m.posix.mode, 0100644);
	meta_of(&m, false, "x-oss-meta-mode", "0x81a4");
	CHECK(m.posix.has_mode);
	CHECK_INT(m.posix.mode, 0100644);
	meta_of(&m, false, "x-oss-meta-mode", "41471");
	CHECK_INT(m.posix.mode, 0120777);
	meta_of(&m, false, "x-oss-meta-mode", " 420 ");
	CHECK(m.posix.has_mode);
	CHECK_INT(m.posix.mode, 0644);
	meta_of(&m, true, "x-amz-meta-uid", "0x10");
	CHECK(m.posix.has_uid);
	CHECK_INT(m.posix.uid, 16);
	meta_of(&m, false, "x-oss-meta-gid", "010");
	CHECK_INT(m.posix.gid, 8);
	meta_of(&m, false, "x-oss-meta-uid", "4294967294");
	CHECK(m.posix.has_uid);
	CHECK_INT(m.posix.uid, 4294967294u);
}

static void test_garbage_ignored(void)
{
	static const char *const bad_modes[] = {
		"-33188", "abc",    "33188x", "0x",	"089",
		"",	  "200000", "1e3",    "+33188", "99999999999999999999",
	};
	static const char *const bad_ids[] = { "-1", "4294967295", "4294967296",
					       "1000 1", "x" };
	struct oss_object_meta m;

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(bad_modes); i++) {
		meta_of(&m, false, "x-oss-meta-mode", bad_modes[i]);
		CHECK(!m.posix.has_mode);
	}
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(bad_ids); i++) {
		meta_of(&m, false, "x-oss-meta-uid", bad_ids[i]);
		CHECK(!m.posix.has_uid);
		meta_of(&m, false, "x-oss-meta-gid", bad_ids[i]);
		CHECK(!m.posix.has_gid);
	}
	meta_of(&m, false, "Content-Length", "-5");
	CHECK_INT(m.size, 0);
	meta_of(&m, false, "x-oss-hash-crc64ecma", "18446744073709551616");
	CHECK(!m.has_crc64);
	meta_of(&m, false, "Last-Modified", "yesterday");
	CHECK_INT(m.mtime.tv_sec, 0);
	meta_of(&m, false, "ETag", "\"\"");
	CHECK_STR(m.etag, "");
	meta_of(&m, false, "x-oss-object-type", "Mystery");
	CHECK_INT(m.type, OSS_OBJ_NORMAL);
}

static void test_mtime_forms(void)
{
	static const struct {
		const char *v;
		long long sec;
		long nsec;
	} ok[] = {
		{ "1700000000", 1700000000, 0 },
		{ "1700000000.5", 1700000000, 500000000 },
		{ "1700000000.123456789", 1700000000, 123456789 },
		{ "1700000000.1234567891234", 1700000000, 123456789 },
		{ "0", 0, 0 },
		{ "-100", -100, 0 },
		{ "-1.5", -2, 500000000 },
		{ "-0.25", -1, 750000000 },
		{ " 12 ", 12, 0 },
	};
	static const char *const bad[] = {
		"1.",  ".5", "1.-5", "1e9", "abc", "1.5x",
		"--1", "+1", "",     "-",   "1 2", "99999999999999999999"
	};
	struct oss_object_meta m;

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(ok); i++) {
		meta_of(&m, false, "x-oss-meta-mtime", ok[i].v);
		CHECK(m.posix.has_mtime);
		CHECK_INT(m.posix.mtime.tv_sec, ok[i].sec);
		CHECK_INT(m.posix.mtime.tv_nsec, ok[i].nsec);
	}
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(bad); i++) {
		meta_of(&m, false, "x-oss-meta-mtime", bad[i]);
		if (m.posix.has_mtime)
			fprintf(stderr, "  accepted mtime '%s'\n", bad[i]);
		CHECK(!m.posix.has_mtime);
	}
	meta_of(&m, true, "x-amz-meta-mtime", "1.000000001");
	CHECK(m.posix.has_mtime);
	CHECK_INT(m.posix.mtime.tv_nsec, 1);
}

static void test_fields_that_do_not_fit(void)
{
	struct oss_object_meta m;
	char big[300];

	memset(big, 'a', sizeof(big) - 1);
	big[sizeof(big) - 1] = '\0';
	meta_of(&m, false, "ETag", big);
	CHECK_STR(m.etag, ""); /* a cut ETag would never match */
	meta_of(&m, false, "Content-Type", big);
	CHECK_STR(m.content_type, "");
	meta_of(&m, false, "ETag", "  \"W1\"  ");
	CHECK_STR(m.etag, "W1");
	meta_of(&m, false, "ETag", "unquoted");
	CHECK_STR(m.etag, "unquoted");
	CHECK_INT(oss_object_meta_from_headers(NULL, false, &m), -EINVAL);
}

static void test_object_types(void)
{
	static const struct {
		const char *v;
		enum oss_object_type t;
	} cases[] = {
		{ "Normal", OSS_OBJ_NORMAL },
		{ "Multipart", OSS_OBJ_MULTIPART },
		{ "Appendable", OSS_OBJ_APPENDABLE },
		{ "Symlink", OSS_OBJ_SYMLINK },
		{ "symlink", OSS_OBJ_SYMLINK },
	};
	struct oss_object_meta m;

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(cases); i++) {
		meta_of(&m, false, "x-oss-object-type", cases[i].v);
		CHECK_INT(m.type, cases[i].t);
	}
}

static void test_region(void)
{
	static const struct {
		const char *host;
		const char *region;
	} ok[] = {
		{ "oss-cn-hangzhou.aliyuncs.com", "cn-hangzhou" },
		{ "oss-cn-hangzhou-internal.aliyuncs.com", "cn-hangzhou" },
		{ "s3.oss-cn-beijing.aliyuncs.com", "cn-beijing" },
		{ "s3.oss-ap-southeast-1-internal.aliyuncs.com",
		  "ap-southeast-1" },
		{ "cn-shanghai.oss.aliyuncs.com", "cn-shanghai" },
		{ "bucket.oss-us-west-1.aliyuncs.com", "us-west-1" },
		{ "OSS-CN-HANGZHOU.ALIYUNCS.COM", "cn-hangzhou" },
		{ "https://oss-eu-central-1.aliyuncs.com:443/",
		  "eu-central-1" },
		{ "oss-cn-hangzhou.aliyuncs.com.", "cn-hangzhou" },
	};
	static const char *const bad[] = {
		"oss-accelerate.aliyuncs.com",
		"oss-accelerate-overseas.aliyuncs.com",
		"oss.aliyuncs.com",
		"aliyuncs.com",
		".aliyuncs.com",
		"oss-.aliyuncs.com",
		"oss--internal.aliyuncs.com",
		"127.0.0.1",
		"localhost:8080",
		"s3.amazonaws.com",
		"oss-cn-hangzhou.aliyuncs.com.evil.example",
		"oss-cn_hangzhou.aliyuncs.com",
		"",
	};
	char out[32];

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(ok); i++) {
		CHECK_INT(
			oss_region_from_endpoint(ok[i].host, out, sizeof(out)),
			0);
		CHECK_STR(out, ok[i].region);
	}
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(bad); i++) {
		int rc = oss_region_from_endpoint(bad[i], out, sizeof(out));

		if (rc != -EINVAL)
			fprintf(stderr, "  accepted %s as %s\n", bad[i], out);
		CHECK_INT(rc, -EINVAL);
		CHECK_STR(out, "");
	}
	CHECK_INT(oss_region_from_endpoint(NULL, out, sizeof(out)), -EINVAL);
	CHECK_INT(oss_region_from_endpoint("oss-cn-hangzhou.aliyuncs.com", out,
					   5),
		  -ENOSPC);
	CHECK_STR(out, "");
}

TU_MAIN(TU_CASE(test_head_headers), TU_CASE(test_mode_bases),
	TU_CASE(test_garbage_ignored), TU_CASE(test_mtime_forms),
	TU_CASE(test_fields_that_do_not_fit), TU_CASE(test_object_types),
	TU_CASE(test_region))
