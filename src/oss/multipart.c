/* Request bodies and small result documents: multipart upload, copy
 * results and DeleteMultipleObjects.
 *
 * Keys in a request body.  XML 1.0 cannot carry most C0 control
 * characters (not even as &#N; references), U+FFFE, U+FFFF or bytes that
 * are not UTF-8, and OSS decodes the Delete body as XML; encoding-type=url
 * only affects the keys OSS sends back.  So oss_build_delete_xml refuses
 * (-EINVAL) a batch holding such a key instead of sending a different
 * key: the caller deletes those keys one by one with DeleteObject, whose
 * URL carries any byte.  CR, LF and TAB are sent as character references
 * so that XML line-end normalisation cannot turn a CR into an LF.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "oss_i.h"

#define DELETE_MAX_KEYS 1000
#define PART_NUMBER_MAX 10000
#define UPLOAD_ID_MAX	1024

static const char xml_decl[] = "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";

static bool xml_ascii_ok(unsigned char c)
{
	return c >= 0x20 || c == '\t' || c == '\n' || c == '\r';
}

/* Length of the valid UTF-8 sequence at s that XML 1.0 allows, or 0. */
static size_t xml_char_len(const unsigned char *s, size_t len)
{
	size_t n = s[0] >= 0xf0 ? 4 : s[0] >= 0xe0 ? 3 : 2;
	uint32_t cp = s[0] & (0x7f >> n);

	if (s[0] < 0x80)
		return xml_ascii_ok(s[0]) ? 1 : 0;
	if (s[0] < 0xc2 || s[0] > 0xf4 || len < n)
		return 0;
	for (size_t i = 1; i < n; i++) {
		if ((s[i] & 0xc0) != 0x80)
			return 0;
		cp = cp << 6 | (s[i] & 0x3f);
	}
	/* Overlong forms, surrogates, past U+10FFFF, and the two
	 * non-characters XML excludes. */
	if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
	    (cp >= 0xd800 && cp <= 0xdfff) || cp > 0x10ffff || cp == 0xfffe ||
	    cp == 0xffff)
		return 0;
	return n;
}

static const char *escape_of(char c)
{
	switch (c) {
	case '&':
		return "&amp;";
	case '<':
		return "&lt;";
	case '>':
		return "&gt;";
	case '"':
		return "&quot;";
	case '\'':
		return "&apos;";
	case '\t':
		return "&#9;";
	case '\n':
		return "&#10;";
	case '\r':
		return "&#13;";
	default:
		return NULL;
	}
}

/* Append s as element content; -EINVAL if XML cannot carry it. */
static int append_escaped(struct buf *out, const char *s, size_t len)
{
	int rc = 0;

	for (size_t i = 0; i < len && rc == 0;) {
		size_t n = xml_char_len((const unsigned char *)s + i, len - i);
		const char *esc = n == 1 ? escape_of(s[i]) : NULL;

		if (n == 0)
			return -EINVAL;
		rc = esc ? buf_append_str(out, esc) : buf_append(out, s + i, n);
		i += n;
	}
	return rc;
}

/* Undo a partly built body so a failure leaves out as it was. */
static int rollback(struct buf *out, size_t start, int rc)
{
	if (rc && out->cap) {
		out->len = start;
		out->data[start] = '\0';
	}
	return rc;
}

/* Parts must be ascending, numbered 1..10000, each with an ETag (stored
 * unquoted; the body wants it quoted as UploadPart returned it). */
int oss_mp_build_complete_xml(const struct oss_part *parts, size_t n,
			      struct buf *out)
{
	size_t start = out->len;
	int prev = 0, rc = -EINVAL;

	if (!parts || n == 0 || n > PART_NUMBER_MAX)
		return rc;
	rc = buf_append_str(out, xml_decl);
	if (rc == 0)
		rc = buf_append_str(out, "<CompleteMultipartUpload>");
	for (size_t i = 0; i < n && rc == 0; i++) {
		const struct oss_part *p = &parts[i];
		size_t elen = strnlen(p->etag, sizeof(p->etag));

		if (p->number <= prev || p->number > PART_NUMBER_MAX ||
		    elen == 0 || elen == sizeof(p->etag)) {
			rc = -EINVAL;
			break;
		}
		prev = p->number;
		rc = buf_appendf(out, "<Part><PartNumber>%d</PartNumber><ETag>",
				 p->number);
		if (rc == 0 && p->etag[0] != '"')
			rc = buf_append_str(out, "\"");
		if (rc == 0)
			rc = append_escaped(out, p->etag, elen);
		if (rc == 0 && p->etag[0] != '"')
			rc = buf_append_str(out, "\"");
		if (rc == 0)
			rc = buf_append_str(out, "</ETag></Part>");
	}
	if (rc == 0)
		rc = buf_append_str(out, "</CompleteMultipartUpload>");
	return rollback(out, start, rc);
}

int oss_build_delete_xml(const char *const *keys, size_t n, bool quiet,
			 struct buf *out)
{
	size_t start = out->len;
	int rc = -EINVAL;

	if (!keys || n == 0 || n > DELETE_MAX_KEYS)
		return rc;
	rc = buf_append_str(out, xml_decl);
	if (rc == 0)
		rc = buf_appendf(out, "<Delete><Quiet>%s</Quiet>",
				 quiet ? "true" : "false");
	for (size_t i = 0; i < n && rc == 0; i++) {
		if (!keys[i] || !keys[i][0]) {
			rc = -EINVAL;
			break;
		}
		rc = buf_append_str(out, "<Object><Key>");
		if (rc == 0)
			rc = append_escaped(out, keys[i], strlen(keys[i]));
		if (rc == 0)
			rc = buf_append_str(out, "</Key></Object>");
	}
	if (rc == 0)
		rc = buf_append_str(out, "</Delete>");
	return rollback(out, start, rc);
}

/* An <Error> where a result was expected: its code, mapped. */
static int error_doc_errno(const xmlNode *root)
{
	char code[64];

	(void)oss_xml_child_str(root, "Code", code, sizeof(code));
	/* Status 0: with no code we know, this is an I/O error, never 0. */
	return oss_errno_for(code, 0);
}

int oss_mp_parse_initiate_xml(const char *xml, size_t len, char **upload_id)
{
	char id[UPLOAD_ID_MAX];
	xmlDoc *doc = NULL;
	const xmlNode *root;
	int rc;

	*upload_id = NULL;
	rc = oss_xml_parse(xml, len, NULL, &doc);
	if (rc)
		return rc;
	root = xmlDocGetRootElement(doc);
	if (oss_xml_is(root, "Error")) {
		rc = error_doc_errno(root);
		goto out;
	}
	rc = -EPROTO;
	if (!oss_xml_is(root, "InitiateMultipartUploadResult") ||
	    oss_xml_child_str(root, "UploadId", id, sizeof(id)) != 0 || !id[0])
		goto out;
	*upload_id = str_dup(id);
	rc = *upload_id ? 0 : -ENOMEM;
out:
	xmlFreeDoc(doc);
	return rc;
}

static bool is_etag_result(const xmlNode *root)
{
	return oss_xml_is(root, "CompleteMultipartUploadResult") ||
	       oss_xml_is(root, "CopyObjectResult") ||
	       oss_xml_is(root, "CopyPartResult");
}

/* Called for 2xx answers: an <Error> body fills e's text fields, and
 * its status when the caller left it 0. */
int oss_parse_etag_result_xml(const char *xml, size_t len, char *etag,
			      size_t etag_size, struct oss_error *e)
{
	char tmp[256];
	xmlDoc *doc = NULL;
	const xmlNode *root;
	int rc;

	if (etag_size)
		etag[0] = '\0';
	rc = oss_xml_parse(xml, len, NULL, &doc);
	if (rc)
		return rc;
	root = xmlDocGetRootElement(doc);
	if (oss_xml_is(root, "Error")) {
		rc = error_doc_errno(root);
		if (e) {
			(void)oss_error_parse_xml(xml, len, e);
			if (!e->http_status)
				e->http_status = 200;
		}
		goto out;
	}
	rc = -EPROTO;
	if (!is_etag_result(root) ||
	    oss_xml_child_str(root, "ETag", tmp, sizeof(tmp)) != 0 ||
	    oss_etag_copy(etag, etag_size, tmp, strlen(tmp)) != 0)
		goto out;
	rc = 0;
out:
	xmlFreeDoc(doc);
	return rc;
}

/* Quiet mode lists only failures, and a fully successful quiet delete
 * may have an empty body.  Failures are counted as <Error> elements, the
 * S3 form; OSS documents no other [uncertain: not seen from OSS]. */
int oss_parse_delete_result_xml(const char *xml, size_t len, size_t *failed)
{
	xmlDoc *doc = NULL;
	const xmlNode *root;
	int rc;

	*failed = 0;
	if (len == 0)
		return 0;
	rc = oss_xml_parse(xml, len, NULL, &doc);
	if (rc)
		return rc;
	root = xmlDocGetRootElement(doc);
	if (oss_xml_is(root, "Error")) {
		rc = error_doc_errno(root);
	} else if (oss_xml_is(root, "DeleteResult")) {
		for (const xmlNode *c = root->children; c; c = c->next)
			if (oss_xml_is(c, "Error"))
				(*failed)++;
	} else {
		rc = -EPROTO;
	}
	xmlFreeDoc(doc);
	return rc;
}
