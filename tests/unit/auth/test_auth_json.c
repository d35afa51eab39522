/* ajson: what it accepts, what it refuses, and its limits. */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "testutil.h"
#include "vectors.h"

static int parse(const char *text, struct ajson **out)
{
	return ajson_parse(text, strlen(text), 0, 0, out, NULL);
}

static int rc_of(const char *text)
{
	struct ajson *v = NULL;
	int rc = parse(text, &v);

	ajson_free(v);
	return rc;
}

static void test_accepts(void)
{
	struct ajson *v = NULL;
	long long n = 0;

	CHECK_INT(parse(" {\"a\": [1, -2.5e3, \"x\", true, false, null],"
			" \"b\": {}, \"c\": []} ",
			&v),
		  0);
	CHECK(v && v->type == AJSON_OBJECT && v->n_kids == 3);
	CHECK_INT(ajson_get(v, "a")->n_kids, 6);
	CHECK_INT(ajson_int(ajson_at(ajson_get(v, "a"), 0), &n), 0);
	CHECK_INT(n, 1);
	CHECK_INT(ajson_int(ajson_at(ajson_get(v, "a"), 1), &n), -EINVAL);
	CHECK_STR(ajson_at(ajson_get(v, "a"), 1)->text, "-2.5e3");
	CHECK_STR(ajson_str(ajson_at(ajson_get(v, "a"), 2)), "x");
	CHECK_INT(ajson_at(ajson_get(v, "a"), 5)->type, AJSON_NULL);
	CHECK(ajson_get(v, "missing") == NULL);
	CHECK(ajson_get_str(v, "b") == NULL); /* not a string */
	CHECK(ajson_at(v, 7) == NULL);
	ajson_free(v);
	CHECK_INT(rc_of("0"), 0);
	CHECK_INT(rc_of("-0.0E+1"), 0);
	CHECK_INT(rc_of("\"\""), 0);
}

static void test_escapes_and_utf8(void)
{
	struct ajson *v = NULL;

	CHECK_INT(parse("\"a\\\"\\\\\\/\\b\\f\\n\\r\\t\\u00e9\\ud83d\\ude00\"",
			&v),
		  0);
	CHECK_STR(ajson_str(v), "a\"\\/\b\f\n\r\t\xc3\xa9\xf0\x9f\x98\x80");
	CHECK_INT(v ? (long long)v->text_len : -1, 15);
	ajson_free(v);
	CHECK_INT(parse("\"\xe4\xb8\xad\xe6\x96\x87\"", &v), 0);
	CHECK_STR(ajson_str(v), "\xe4\xb8\xad\xe6\x96\x87");
	ajson_free(v);
}

static void test_refuses(void)
{
	static const char *const bad[] = {
		"",
		"   ",
		"{",
		"[1,]",
		"{\"a\":1,}",
		"{a:1}",
		"'x'",
		"01",
		"1.",
		".5",
		"1e",
		"+1",
		"-",
		"tru",
		"nul",
		"[1 2]",
		"{\"a\" 1}",
		"\"\\x\"",
		"\"\\u12\"",
		"\"\\u0000\"",
		"\"\\udc00\"",
		"\"\\ud800\"",
		"\"\\ud800x\"",
		"\"a\tb\"",
		"\"\xc0\xaf\"",
		"\"\xed\xa0\x80\"",
		"\"\xf4\x90\x80\x80\"",
		"\"\x80\"",
		"\"\xe4\xb8\"",
		"1 2",
		"{} x",
		"/* c */ 1",
		"{\"a\":1,\"a\":2}",
	};

	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(bad); i++) {
		int rc = rc_of(bad[i]);

		CHECK_INT(rc, -EINVAL);
		if (rc != -EINVAL)
			fprintf(stderr, "  accepted: %s\n", bad[i]);
	}
	/* An embedded NUL is a control character. */
	CHECK_INT(ajson_parse("\"a\0b\"", 5, 0, 0, &(struct ajson *){ NULL },
			      NULL),
		  -EINVAL);
}

static void test_limits(void)
{
	char deep[200];
	struct ajson *v = NULL;
	size_t off = 99;

	memset(deep, '[', 100);
	memset(deep + 100, ']', 100);
	CHECK_INT(ajson_parse(deep, 200, 0, 0, &v, NULL), -E2BIG);
	CHECK_INT(ajson_parse(deep + 90, 20, 0, 10, &v, NULL), 0);
	ajson_free(v);
	CHECK_INT(ajson_parse(deep + 89, 22, 0, 10, &v, NULL), -E2BIG);
	CHECK_INT(ajson_parse("[1,2,3]", 7, 6, 0, &v, NULL), -E2BIG);
	CHECK(v == NULL);
	CHECK_INT(ajson_parse("[1,2,x]", 7, 0, 0, &v, &off), -EINVAL);
	CHECK_INT(off, 5);
}

/* The vector files themselves parse (and index.json's counts agree). */
static void test_vector_files(void)
{
	struct ajson *idx = tv_load_json("oss-vectors/index.json");
	const struct ajson *files = ajson_get(idx, "files");

	CHECK(files && files->n_kids == 7);
	for (size_t i = 0; files && i < files->n_kids; i++) {
		const char *name = ajson_get_str(ajson_at(files, i), "file");
		char path[256];
		struct ajson *doc;

		snprintf(path, sizeof(path), "oss-vectors/%s", name);
		doc = tv_load_json(path);
		CHECK(doc != NULL);
		ajson_free(doc);
	}
	ajson_free(idx);
}

TU_MAIN(TU_CASE(test_accepts), TU_CASE(test_escapes_and_utf8),
	TU_CASE(test_refuses), TU_CASE(test_limits), TU_CASE(test_vector_files))
