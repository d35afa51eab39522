/* base's CRC-64/ECMA-182 against tests/data/oss-vectors/crc64.json: every
 * check value (decimal and hex forms), and the two properties the SDKs
 * rely on - combine (multipart) and resume (append) - over every split
 * point of every vector input plus the file's own example pair. */
#include <inttypes.h>
#include <stdio.h>
#include <string.h>

#include "testutil.h"
#include "vectors.h"

static struct ajson *crc_doc(void)
{
	struct ajson *root = tv_load_json("oss-vectors/crc64.json");

	CHECK(root != NULL);
	return root;
}

static uint64_t crc_of(const char *s, size_t n)
{
	return crc64_update(0, s, n);
}

static void test_check_values(void)
{
	struct ajson *root = crc_doc();
	const struct ajson *vs = ajson_get(root, "vectors");
	int checked = 0;

	CHECK_INT(vs ? (long long)vs->n_kids : -1, 4);
	for (size_t i = 0; vs && i < vs->n_kids; i++) {
		const struct ajson *v = ajson_at(vs, i);
		const char *in = ajson_get_str(v, "input_ascii");
		uint64_t want_dec = 0, want_hex = 0;

		CHECK_INT(str_to_u64(ajson_get_str(v, "expected_decimal"), 10,
				     &want_dec),
			  0);
		CHECK_INT(str_to_u64(ajson_get_str(v, "expected_hex"), 16,
				     &want_hex),
			  0);
		CHECK(want_dec == want_hex);
		CHECK(crc_of(in, strlen(in)) == want_dec);
		if (crc_of(in, strlen(in)) == want_dec)
			checked++;
	}
	CHECK(crc_of("", 0) == 0);
	printf("crc64 check values: %d of 4\n", checked);
	CHECK_INT(checked, 4);
	ajson_free(root);
}

/* combine(crc(A), crc(B), len(B)) == crc(A||B) and resuming from crc(A)
 * with B == crc(A||B), for every split of S. */
static int split_properties(const char *s)
{
	size_t n = strlen(s);
	uint64_t whole = crc_of(s, n);
	int bad = 0;

	for (size_t cut = 0; cut <= n; cut++) {
		uint64_t a = crc_of(s, cut), b = crc_of(s + cut, n - cut);

		if (crc64_combine(a, b, n - cut) != whole)
			bad++;
		if (crc64_update(a, s + cut, n - cut) != whole)
			bad++;
	}
	return bad;
}

static void test_properties(void)
{
	struct ajson *root = crc_doc();
	const struct ajson *vs = ajson_get(root, "vectors");
	const struct ajson *props = ajson_get(root, "property_tests");
	const struct ajson *ex =
		ajson_get(ajson_at(props, 0), "example_inputs");
	const char *a = ajson_str(ajson_at(ex, 0)),
		   *b = ajson_str(ajson_at(ex, 1));
	char joined[256];

	CHECK_INT(props ? (long long)props->n_kids : -1, 2);
	CHECK_STR(ajson_get_str(ajson_at(props, 0), "id"), "crc64-combine");
	CHECK_STR(ajson_get_str(ajson_at(props, 1), "id"), "crc64-resume");
	CHECK(a && b);
	if (a && b) {
		snprintf(joined, sizeof(joined), "%s%s", a, b);
		CHECK(crc64_combine(crc_of(a, strlen(a)), crc_of(b, strlen(b)),
				    strlen(b)) ==
		      crc_of(joined, strlen(joined)));
		CHECK(crc64_update(crc_of(a, strlen(a)), b, strlen(b)) ==
		      crc_of(joined, strlen(joined)));
	}
	/* The python SDK's own example: '12345' + '67890'. */
	CHECK(crc64_combine(crc_of("12345", 5), crc_of("67890", 5), 5) ==
	      crc_of("1234567890", 10));
	for (size_t i = 0; vs && i < vs->n_kids; i++)
		CHECK_INT(split_properties(ajson_get_str(ajson_at(vs, i),
							 "input_ascii")),
			  0);
	ajson_free(root);
}

TU_MAIN(TU_CASE(test_check_values), TU_CASE(test_properties))
