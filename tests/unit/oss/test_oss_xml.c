/* Unit tests for the oss XML parsers and builders: every sample of
 * oss-vectors/xml_samples.json (expectations written here by hand from
 * the JSON), url-decoding of awkward keys, paging rules and limits. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "oss.h"
#include "testutil.h"
#include "xml_samples.h"

static const struct xml_sample *sample(const char *id)
{
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(xml_samples); i++)
		if (strcmp(xml_samples[i].id, id) == 0)
			return &xml_samples[i];
	fprintf(stderr, "no sample %s\n", id);
	abort();
}

static int parse_list(const char *id, struct oss_list_page *p)
{
	const char *body = sample(id)->body;

	return oss_list_parse_xml(body, strlen(body), p);
}

static void check_entry(const struct oss_list_page *p, size_t i,
			const char *key, bool is_prefix, uint64_t size)
{
	CHECK(i < p->n);
	if (i >= p->n)
		return;
	CHECK_STR(p->entries[i].key, key);
	CHECK_INT(p->entries[i].is_prefix, is_prefix);
	CHECK_INT(p->entries[i].size, size);
}

static void test_list_v1_basic(void)
{
	struct oss_list_page p;
	const struct oss_list_entry *e;

	oss_list_page_init(&p);
	CHECK_INT(parse_list("listobjects-v1-basic", &p), 0);
	CHECK_INT(p.n, 4);
	CHECK(!p.truncated);
	CHECK(p.next_token == NULL);
	check_entry(&p, 0, "fun/movie/001.avi", false, 344606);
	check_entry(&p, 1, "fun/movie/007.avi", false, 344606);
	check_entry(&p, 2, "fun/test.jpg", false, 344606);
	check_entry(&p, 3, "oss.jpg", false, 344606);
	e = &p.entries[1];
	CHECK_INT(e->mtime.tv_sec, 1330073007); /* 2012-02-24T08:43:27Z */
	CHECK_INT(e->mtime.tv_nsec, 0);
	CHECK_STR(p.entries[2].etag, "5B3C1A2E053D763E1B002CC607C5A0FE1****");
	CHECK_INT(p.entries[3].type, OSS_OBJ_NORMAL);
	oss_list_page_fini(&p);
}

static void test_list_v1_truncated_no_marker(void)
{
	struct oss_list_page p;

	oss_list_page_init(&p);
	CHECK_INT(parse_list("listobjects-v1-truncated-restoreinfo", &p), 0);
	CHECK_INT(p.n, 4);
	CHECK(p.truncated);
	check_entry(&p, 0, "exampleobject1.txt", false, 344606);
	check_entry(&p, 1, "exampleobject2.txt", false, 344606);
	/* No EncodingType: the %XX are part of the key. */
	check_entry(&p, 2,
		    "go-sdk-v1%01%02%03%04%05%06%07%08%09%0A%0B%0C%0D%0E%0F"
		    "%10%11%12%13%14%15%16%17%18%19%1A%1B%1C%1D%1E%1F",
		    false, 344606);
	check_entry(&p, 3, "demo.jpg", false, 21839);
	CHECK_INT(p.entries[3].mtime.tv_sec, 1729661124);
	CHECK_STR(p.entries[3].etag, "1C71822C6C732797FA709920F142****");
	/* No NextMarker: continue after the greatest key of the page. */
	CHECK_STR(p.next_token, p.entries[2].key);
	oss_list_page_fini(&p);
}

static void test_list_v1_encoding_url(void)
{
	struct oss_list_page p;

	oss_list_page_init(&p);
	CHECK_INT(parse_list("listobjects-v1-encoding-type-url", &p), 0);
	CHECK_INT(p.n, 3);
	CHECK(!p.truncated);
	CHECK(p.next_token == NULL);
	check_entry(&p, 0, "fun/movie/001.avi", false, 344606);
	check_entry(&p, 1, "fun/movie/007.avi", false, 344606);
	check_entry(&p, 2, "oss.jpg", false, 344606);
	CHECK_STR(p.entries[0].etag, "5B3C1A2E053D763E1B002CC607C5A0FE");
	CHECK_INT(p.entries[0].mtime.tv_sec, 1330072987);
	oss_list_page_fini(&p);
}

static void test_list_v2_prefixes(void)
{
	struct oss_list_page p;

	oss_list_page_init(&p);
	CHECK_INT(parse_list("listobjectsv2-commonprefixes", &p), 0);
	CHECK_INT(p.n, 2); /* KeyCount 2 = 1 object + 1 prefix */
	CHECK(!p.truncated);
	check_entry(&p, 0, "a/b", false, 25);
	check_entry(&p, 1, "a/b/", true, 0);
	CHECK_INT(p.entries[0].mtime.tv_sec, 1589780747);
	CHECK_STR(p.entries[0].etag, "35A27C2B9EAEEB6F48FD7FB5861D****");
	oss_list_page_fini(&p);
}

static void test_list_v2_truncated(void)
{
	struct oss_list_page p;

	oss_list_page_init(&p);
	CHECK_INT(parse_list("listobjectsv2-truncated-url-encoded", &p), 0);
	CHECK_INT(p.n, 4);
	CHECK(p.truncated);
	CHECK_STR(p.next_token, "CgJiYw--");
	check_entry(&p, 0, "b/c", false, 25);
	check_entry(&p, 1, "ba", false, 25);
	check_entry(&p, 2, "bc", false, 25);
	check_entry(&p, 3, "demo.jpg", false, 21839);
	/* Parsing into a used page releases what it held. */
	CHECK_INT(parse_list("listobjectsv2-commonprefixes", &p), 0);
	CHECK_INT(p.n, 2);
	CHECK(p.next_token == NULL);
	oss_list_page_fini(&p);
}

static void test_initiate(void)
{
	const char *body = sample("initiate-multipart-upload-result")->body;
	char *id = NULL;

	CHECK_INT(oss_mp_parse_initiate_xml(body, strlen(body), &id), 0);
	CHECK_STR(id, "0004B9894A22E5B1888A1E29F823****");
	free(id);
	body = sample("copy-object-result")->body;
	CHECK_INT(oss_mp_parse_initiate_xml(body, strlen(body), &id), -EPROTO);
	CHECK(id == NULL);
	body = "<InitiateMultipartUploadResult><UploadId> </UploadId>"
	       "</InitiateMultipartUploadResult>";
	CHECK_INT(oss_mp_parse_initiate_xml(body, strlen(body), &id), -EPROTO);
	body = "<Error><Code>AccessDenied</Code></Error>";
	CHECK_INT(oss_mp_parse_initiate_xml(body, strlen(body), &id), -EACCES);
}

/* The sample without the white space between its tags. */
static char *squeeze(const char *s)
{
	char *out = malloc(strlen(s) + 1), *o = out;
	bool in_tag_gap = false;

	for (; *s; s++) {
		if (*s == '>')
			in_tag_gap = true;
		else if (*s == '<')
			in_tag_gap = false;
		else if (in_tag_gap && strchr(" \t\r\n", *s))
			continue;
		*o++ = *s;
	}
	*o = '\0';
	return out;
}

static const char decl[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

/* s past its XML declaration, if it has one. */
static const char *after_decl(const char *s)
{
	const char *end = strncmp(s, "<?xml", 5) == 0 ? strstr(s, "?>") : NULL;

	if (!end)
		return s;
	for (end += 2; *end == '\n'; end++)
		;
	return end;
}

static void test_complete_request(void)
{
	const struct oss_part parts[] = {
		{ 1, "3349DC700140D7F86A0784842780****" },
		{ 5, "8EFDA8BE206636A695359836FE0A****" },
		{ 8,
		  "\"8C315065167132444177411FDA14****\"" }, /* already quoted */
	};
	char *want = squeeze(sample("complete-multipart-upload-request")->body);
	struct buf b;

	buf_init(&b, 0);
	CHECK_INT(oss_mp_build_complete_xml(parts, 3, &b), 0);
	CHECK(strncmp(b.data, decl, strlen(decl)) == 0);
	/* Our quotes around the already quoted ETag are &quot;. */
	CHECK(strstr(b.data, "&quot;8C31") != NULL);
	buf_reset(&b);
	{
		struct oss_part plain[3];

		memcpy(plain, parts, sizeof(plain));
		str_lcpy(plain[2].etag, "8C315065167132444177411FDA14****",
			 sizeof(plain[2].etag));
		CHECK_INT(oss_mp_build_complete_xml(plain, 3, &b), 0);
		CHECK_STR(after_decl(b.data), after_decl(want));
	}
	free(want);
	buf_fini(&b);
}

static void test_complete_request_invalid(void)
{
	struct oss_part parts[2] = { { 2, "A" }, { 2, "B" } };
	struct buf b;

	buf_init(&b, 0);
	buf_append_str(&b, "keep");
	CHECK_INT(oss_mp_build_complete_xml(parts, 2, &b), -EINVAL);
	CHECK_STR(b.data, "keep"); /* a failure leaves the buffer alone */
	parts[1].number = 10001;
	CHECK_INT(oss_mp_build_complete_xml(parts, 2, &b), -EINVAL);
	parts[1].number = 3;
	parts[1].etag[0] = '\0';
	CHECK_INT(oss_mp_build_complete_xml(parts, 2, &b), -EINVAL);
	parts[0].number = 0;
	CHECK_INT(oss_mp_build_complete_xml(parts, 1, &b), -EINVAL);
	CHECK_INT(oss_mp_build_complete_xml(parts, 0, &b), -EINVAL);
	CHECK_STR(b.data, "keep");
	parts[0].number = 10000;
	CHECK_INT(oss_mp_build_complete_xml(parts, 1, &b), 0);
	buf_fini(&b);
}

static void check_etag_result(const char *id, const char *want)
{
	const char *body = sample(id)->body;
	char etag[80];
	struct oss_error e;

	oss_error_clear(&e);
	CHECK_INT(oss_parse_etag_result_xml(body, strlen(body), etag,
					    sizeof(etag), &e),
		  0);
	CHECK_STR(etag, want);
	CHECK_STR(e.code, "");
}

static void test_etag_results(void)
{
	const char *body;
	char etag[80], small[8];
	struct oss_error e;

	check_etag_result("complete-multipart-upload-result",
			  "097DE458AD02B5F89F9D0530231876****");
	check_etag_result("upload-part-copy-result",
			  "5B3C1A2E053D763E1B002CC607C5****");
	check_etag_result("copy-object-result",
			  "F2064A169EE92E9775EE5324D0B1****");
	body = sample("copy-object-result")->body;
	CHECK_INT(oss_parse_etag_result_xml(body, strlen(body), small,
					    sizeof(small), NULL),
		  -EPROTO);
	CHECK_STR(small, "");
	/* A 200 whose body is an error. */
	oss_error_clear(&e);
	e.http_status = 200;
	body = "<Error><Code>InternalError</Code><Message>We encountered an "
	       "internal error.</Message><RequestId>R1</RequestId></Error>";
	CHECK_INT(oss_parse_etag_result_xml(body, strlen(body), etag,
					    sizeof(etag), &e),
		  -EIO);
	CHECK_STR(e.code, "InternalError");
	CHECK_STR(e.request_id, "R1");
	CHECK_INT(e.http_status, 200);
	body = "<Error><Code>NoSuchKey</Code></Error>";
	oss_error_clear(&e);
	CHECK_INT(oss_parse_etag_result_xml(body, strlen(body), etag,
					    sizeof(etag), &e),
		  -ENOENT);
	CHECK_INT(e.http_status, 200);
	CHECK_INT(oss_parse_etag_result_xml(body, strlen(body), etag,
					    sizeof(etag), NULL),
		  -ENOENT);
	body = "<Error></Error>";
	CHECK_INT(oss_parse_etag_result_xml(body, strlen(body), etag,
					    sizeof(etag), NULL),
		  -EIO);
	body = "<CopyObjectResult><LastModified>x</LastModified>"
	       "</CopyObjectResult>";
	CHECK_INT(oss_parse_etag_result_xml(body, strlen(body), etag,
					    sizeof(etag), NULL),
		  -EPROTO);
	body = sample("list-parts-result")->body;
	CHECK_INT(oss_parse_etag_result_xml(body, strlen(body), etag,
					    sizeof(etag), NULL),
		  -EPROTO);
}

/* The doc sample minus its VersionId (we never delete versions). */
static void test_delete_request(void)
{
	char *want = squeeze(sample("delete-multiple-objects-request")->body);
	const char *keys[] = { "multipart.data" };
	char *v = strstr(want, "<VersionId>");
	char *v_end = strstr(want, "</VersionId>");
	struct buf b;

	CHECK(v && v_end);
	memmove(v, v_end + strlen("</VersionId>"),
		strlen(v_end + strlen("</VersionId>")) + 1);
	buf_init(&b, 0);
	CHECK_INT(oss_build_delete_xml(keys, 1, false, &b), 0);
	CHECK(strncmp(b.data, decl, strlen(decl)) == 0);
	CHECK_STR(after_decl(b.data), after_decl(want));
	free(want);
	buf_fini(&b);
}

static void test_delete_request_escaping(void)
{
	const char *keys[] = { "a&b<c>d\"e'f", "tab\tcr\rlf\n",
			       "\xe4\xbd\xa0" };
	const char *bad_ctl[] = { "ok", "bell\x07" };
	const char *bad_utf8[] = { "\xc3(" };
	const char *bad_nonchar[] = { "\xef\xbf\xbf" };
	const char *empty[] = { "" };
	struct buf b;

	buf_init(&b, 0);
	CHECK_INT(oss_build_delete_xml(keys, 3, true, &b), 0);
	CHECK(strstr(b.data, "<Quiet>true</Quiet>") != NULL);
	CHECK(strstr(b.data, "<Key>a&amp;b&lt;c&gt;d&quot;e&apos;f</Key>"));
	CHECK(strstr(b.data, "<Key>tab&#9;cr&#13;lf&#10;</Key>"));
	CHECK(strstr(b.data, "<Key>\xe4\xbd\xa0</Key>"));
	buf_reset(&b);
	CHECK_INT(oss_build_delete_xml(bad_ctl, 2, true, &b), -EINVAL);
	CHECK_INT(b.len, 0);
	CHECK_INT(oss_build_delete_xml(bad_utf8, 1, true, &b), -EINVAL);
	CHECK_INT(oss_build_delete_xml(bad_nonchar, 1, true, &b), -EINVAL);
	CHECK_INT(oss_build_delete_xml(empty, 1, true, &b), -EINVAL);
	CHECK_INT(oss_build_delete_xml(keys, 0, true, &b), -EINVAL);
	CHECK_INT(b.len, 0);
	buf_fini(&b);
}

static void test_delete_limits(void)
{
	static const char *keys[1001];
	struct buf b;

	for (size_t i = 0; i < 1001; i++)
		keys[i] = "k";
	buf_init(&b, 0);
	CHECK_INT(oss_build_delete_xml(keys, 1000, true, &b), 0);
	buf_reset(&b);
	CHECK_INT(oss_build_delete_xml(keys, 1001, true, &b), -EINVAL);
	buf_fini(&b);
}

static void test_delete_result(void)
{
	const char *body = sample("delete-multiple-objects-result")->body;
	size_t failed = 99;

	CHECK_INT(oss_parse_delete_result_xml(body, strlen(body), &failed), 0);
	CHECK_INT(failed, 0);
	CHECK_INT(oss_parse_delete_result_xml("", 0, &failed), 0);
	CHECK_INT(failed, 0);
	body = "<DeleteResult><Error><Key>a</Key><Code>AccessDenied</Code>"
	       "</Error><Error><Key>b</Key></Error><Deleted><Key>c</Key>"
	       "</Deleted></DeleteResult>";
	CHECK_INT(oss_parse_delete_result_xml(body, strlen(body), &failed), 0);
	CHECK_INT(failed, 2);
	body = "<Error><Code>MalformedXML</Code></Error>";
	CHECK_INT(oss_parse_delete_result_xml(body, strlen(body), &failed),
		  -EINVAL);
	body = "<DeleteResult>";
	CHECK_INT(oss_parse_delete_result_xml(body, strlen(body), &failed),
		  -EPROTO);
}

/* Documents no parser here accepts: wrong roots are -EPROTO. */
static void test_foreign_samples(void)
{
	static const char *const ids[] = { "list-parts-result",
					   "restore-object-request",
					   "get-bucket-stat-result",
					   "error-signaturedoesnotmatch-sdk" };
	struct oss_list_page p;
	size_t failed;
	char *id = NULL;

	oss_list_page_init(&p);
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(ids); i++) {
		const char *body = sample(ids[i])->body;
		size_t len = strlen(body);

		CHECK_INT(oss_list_parse_xml(body, len, &p), -EPROTO);
		CHECK_INT(p.n, 0);
		if (i < 3) {
			CHECK_INT(oss_mp_parse_initiate_xml(body, len, &id),
				  -EPROTO);
			CHECK_INT(
				oss_parse_delete_result_xml(body, len, &failed),
				-EPROTO);
		}
	}
	oss_list_page_fini(&p);
}

/* Every sample is one of the cases above (or test_oss_errors.c). */
static void test_all_samples_covered(void)
{
	static const char *const ids[] = {
		"listobjects-v1-basic",
		"listobjects-v1-truncated-restoreinfo",
		"listobjects-v1-encoding-type-url",
		"listobjectsv2-commonprefixes",
		"listobjectsv2-truncated-url-encoded",
		"error-nosuchkey-in-x-oss-err-header",
		"error-signaturedoesnotmatch-sdk",
		"error-signaturedoesnotmatch-docs",
		"initiate-multipart-upload-result",
		"complete-multipart-upload-request",
		"complete-multipart-upload-result",
		"upload-part-copy-result",
		"copy-object-result",
		"list-parts-result",
		"delete-multiple-objects-request",
		"delete-multiple-objects-result",
		"restore-object-request",
		"get-bucket-stat-result",
	};

	CHECK_INT(OSSFS_ARRAY_SIZE(xml_samples), OSSFS_ARRAY_SIZE(ids));
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(ids); i++)
		CHECK_STR(xml_samples[i].id, ids[i]);
}

/* ---- keys through url-encoding -------------------------------------- */

static void append_xml_escaped(struct buf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '&')
			buf_append_str(b, "&amp;");
		else if (*s == '<')
			buf_append_str(b, "&lt;");
		else
			buf_append(b, s, 1);
	}
}

/* A V1 page holding keys, each url-encoded (or XML-escaped when !url). */
static void build_listing(struct buf *b, const char *const *keys, size_t n,
			  bool url)
{
	buf_append_str(b, "<ListBucketResult>");
	if (url)
		buf_append_str(b, "<EncodingType>url</EncodingType>");
	for (size_t i = 0; i < n; i++) {
		buf_append_str(b, "<Contents><Key>");
		if (url)
			str_urlencode(b, keys[i], strlen(keys[i]), i & 1);
		else
			append_xml_escaped(b, keys[i]);
		buf_appendf(b, "</Key><Size>%zu</Size></Contents>", i);
	}
	buf_append_str(b, "<CommonPrefixes><Prefix>");
	if (url)
		str_urlencode(b, "p q/", 4, false);
	else
		buf_append_str(b, "p q/");
	buf_append_str(b, "</Prefix></CommonPrefixes></ListBucketResult>");
}

static void test_tricky_keys(void)
{
	char long_key[1024];
	const char *keys[] = {
		"with space",
		" leading and trailing ",
		"\xe4\xb8\xad\xe6\x96\x87/\xc3\xbc\xc3\xb1\xc3\xaf.txt",
		"100%",
		"%41 is not A",
		"a+b",
		"#hash",
		"what?x=1&y=2",
		"a&b",
		"<tag>",
		"quote\"apos'",
		"dir/sub/",
		long_key,
	};
	struct oss_list_page p;
	struct buf b;

	memset(long_key, 'k', sizeof(long_key) - 1);
	long_key[sizeof(long_key) - 1] = '\0';
	oss_list_page_init(&p);
	for (int url = 0; url <= 1; url++) {
		size_t n = OSSFS_ARRAY_SIZE(keys);

		buf_init(&b, 0);
		build_listing(&b, keys, n, url);
		CHECK_INT(oss_list_parse_xml(b.data, b.len, &p), 0);
		CHECK_INT(p.n, n + 1);
		for (size_t i = 0; i < n && i < p.n; i++)
			check_entry(&p, i, keys[i], false, i);
		check_entry(&p, n, "p q/", true, 0);
		buf_fini(&b);
	}
	oss_list_page_fini(&p);
}

static void test_plus_is_space_in_keys(void)
{
	const char *xml =
		"<ListBucketResult><EncodingType>url</EncodingType>"
		"<IsTruncated>true</IsTruncated>"
		"<NextMarker>next+marker%2B</NextMarker>"
		"<Contents><Key>a+b%2Bc</Key></Contents></ListBucketResult>";
	const char *v2 =
		"<ListBucketResult><EncodingType>url</EncodingType>"
		"<IsTruncated>true</IsTruncated><KeyCount>1</KeyCount>"
		"<NextContinuationToken>ab+c%2Bd%3D</NextContinuationToken>"
		"<Contents><Key>a</Key></Contents></ListBucketResult>";
	struct oss_list_page p;

	oss_list_page_init(&p);
	CHECK_INT(oss_list_parse_xml(xml, strlen(xml), &p), 0);
	check_entry(&p, 0, "a b+c", false, 0);
	CHECK_STR(p.next_token, "next marker+");
	/* An opaque token keeps a literal '+'. */
	CHECK_INT(oss_list_parse_xml(v2, strlen(v2), &p), 0);
	CHECK_STR(p.next_token, "ab+c+d=");
	oss_list_page_fini(&p);
}

/* ---- paging and malformed input ---------------------------------------
 */

static int parse_str(const char *xml, struct oss_list_page *p)
{
	return oss_list_parse_xml(xml, strlen(xml), p);
}

static void test_paging_rules(void)
{
	struct oss_list_page p;

	oss_list_page_init(&p);
	/* V1 fallback: the prefix sorts after the last key. */
	CHECK_INT(parse_str("<ListBucketResult><Marker/><IsTruncated>true"
			    "</IsTruncated><Contents><Key>b</Key></Contents>"
			    "<CommonPrefixes><Prefix>c/</Prefix>"
			    "</CommonPrefixes></ListBucketResult>",
			    &p),
		  0);
	CHECK_STR(p.next_token, "c/");
	/* An empty NextMarker is no marker. */
	CHECK_INT(parse_str("<ListBucketResult><IsTruncated>true</IsTruncated>"
			    "<NextMarker></NextMarker><Contents><Key>zz</Key>"
			    "</Contents><Contents><Key>a</Key></Contents>"
			    "</ListBucketResult>",
			    &p),
		  0);
	CHECK_STR(p.next_token, "zz");
	/* Not truncated: no token even when a marker is present. */
	CHECK_INT(parse_str("<ListBucketResult><IsTruncated>false</IsTruncated>"
			    "<NextMarker>x</NextMarker></ListBucketResult>",
			    &p),
		  0);
	CHECK(p.next_token == NULL);
	CHECK_INT(p.n, 0);
	/* V2 truncated without a token; truncated with nothing at all. */
	CHECK_INT(parse_str("<ListBucketResult><KeyCount>1</KeyCount>"
			    "<IsTruncated>true</IsTruncated><Contents><Key>a"
			    "</Key></Contents></ListBucketResult>",
			    &p),
		  -EPROTO);
	CHECK_INT(parse_str("<ListBucketResult><IsTruncated>true</IsTruncated>"
			    "</ListBucketResult>",
			    &p),
		  -EPROTO);
	CHECK_INT(p.n, 0);
	CHECK(p.next_token == NULL);
	oss_list_page_fini(&p);
}

static void test_list_malformed(void)
{
	static const char *const bad[] = {
		"",
		"not xml",
		"<ListBucketResult>",
		"<ListBucketResult><Contents><Size>1</Size></Contents>"
		"</ListBucketResult>",
		"<ListBucketResult><EncodingType>url</EncodingType><Contents>"
		"<Key>bad%zz</Key></Contents></ListBucketResult>",
		"<ListBucketResult><EncodingType>url</EncodingType><Contents>"
		"<Key>cut%4</Key></Contents></ListBucketResult>",
		"<!DOCTYPE r [<!ENTITY a "
		"\"aaaa\">]><ListBucketResult><Contents>"
		"<Key>&a;</Key></Contents></ListBucketResult>",
		"<Error><Code>NoSuchBucket</Code></Error>",
		"<ListBucketResult><Contents><Key>a\x01</Key></Contents>"
		"</ListBucketResult>",
	};
	struct oss_list_page p;

	oss_list_page_init(&p);
	for (size_t i = 0; i < OSSFS_ARRAY_SIZE(bad); i++) {
		CHECK_INT(parse_str(bad[i], &p), -EPROTO);
		CHECK_INT(p.n, 0);
	}
	CHECK_INT(oss_list_parse_xml(NULL, 5, &p), -EPROTO);
	oss_list_page_fini(&p);
}

static void test_list_lenient_fields(void)
{
	struct oss_list_page p;

	oss_list_page_init(&p);
	/* Bad sizes, dates and ETags are zero, not fatal; a NUL key is
	 * skipped; unknown types are Normal; CDATA is text. */
	CHECK_INT(parse_str("<ListBucketResult><EncodingType>url</EncodingType>"
			    "<Contents><Key>x%00y</Key></Contents>"
			    "<Contents><Key>k</Key><Size>-1</Size>"
			    "<LastModified>yesterday</LastModified>"
			    "<ETag>\"\"</ETag><Type>Weird</Type></Contents>"
			    "<Contents><Key>s</Key><Size>7</Size>"
			    "<LastModified>2020-05-18T05:45:47.250Z"
			    "</LastModified><Type>Symlink</Type></Contents>"
			    "</ListBucketResult>",
			    &p),
		  0);
	CHECK_INT(p.n, 2);
	check_entry(&p, 0, "k", false, 0);
	CHECK_INT(p.entries[0].mtime.tv_sec, 0);
	CHECK_STR(p.entries[0].etag, "");
	CHECK_INT(p.entries[0].type, OSS_OBJ_NORMAL);
	check_entry(&p, 1, "s", false, 7);
	CHECK_INT(p.entries[1].type, OSS_OBJ_SYMLINK);
	CHECK_INT(p.entries[1].mtime.tv_sec, 1589780747);
	CHECK_INT(p.entries[1].mtime.tv_nsec, 250000000);
	CHECK_INT(parse_str("<ListBucketResult><Contents><Key><![CDATA[x<y]]>"
			    "&amp;z</Key></Contents></ListBucketResult>",
			    &p),
		  0);
	check_entry(&p, 0, "x<y&z", false, 0);
	oss_list_page_fini(&p);
}

static void test_list_limits(void)
{
	struct oss_list_page p;
	struct buf b;
	char key[4098];

	oss_list_page_init(&p);
	buf_init(&b, 0);
	buf_append_str(&b, "<ListBucketResult>");
	for (int i = 0; i < 5000; i++)
		buf_appendf(&b, "<Contents><Key>k%05d</Key></Contents>", i);
	buf_append_str(&b, "</ListBucketResult>");
	CHECK_INT(oss_list_parse_xml(b.data, b.len, &p), 0);
	CHECK_INT(p.n, 5000);
	CHECK_STR(p.entries[4999].key, "k04999");
	b.len -= strlen("</ListBucketResult>");
	buf_append_str(&b, "<Contents><Key>k5000</Key></Contents>"
			   "</ListBucketResult>");
	CHECK_INT(oss_list_parse_xml(b.data, b.len, &p), -EPROTO);
	CHECK_INT(p.n, 0);
	/* A key past the 4096-byte cap. */
	buf_reset(&b);
	memset(key, 'x', sizeof(key) - 1);
	key[sizeof(key) - 1] = '\0';
	buf_appendf(&b,
		    "<ListBucketResult><Contents><Key>%s</Key></Contents>"
		    "</ListBucketResult>",
		    key);
	CHECK_INT(oss_list_parse_xml(b.data, b.len, &p), -EPROTO);
	buf_fini(&b);
	oss_list_page_fini(&p);
}

TU_MAIN(TU_CASE(test_list_v1_basic), TU_CASE(test_list_v1_truncated_no_marker),
	TU_CASE(test_list_v1_encoding_url), TU_CASE(test_list_v2_prefixes),
	TU_CASE(test_list_v2_truncated), TU_CASE(test_initiate),
	TU_CASE(test_complete_request), TU_CASE(test_complete_request_invalid),
	TU_CASE(test_etag_results), TU_CASE(test_delete_request),
	TU_CASE(test_delete_request_escaping), TU_CASE(test_delete_limits),
	TU_CASE(test_delete_result), TU_CASE(test_foreign_samples),
	TU_CASE(test_all_samples_covered), TU_CASE(test_tricky_keys),
	TU_CASE(test_plus_is_space_in_keys), TU_CASE(test_paging_rules),
	TU_CASE(test_list_malformed), TU_CASE(test_list_lenient_fields),
	TU_CASE(test_list_limits))
