/* ListBucketResult (ListObjects V1 and V2) into an oss_list_page.
 *
 * Paging is where a parser can make a mount loop forever or skip keys,
 * so the token rules are strict:
 *   - next_token is set only when IsTruncated is true;
 *   - V2 (recognised by KeyCount, StartAfter or a continuation token):
 *     NextContinuationToken is required, a truncated page without one is
 *     -EPROTO, since a key is not a valid continuation token;
 *   - V1: NextMarker, else the greatest key or prefix of the page (as s3fs
 *     does; a doc sample truncates without NextMarker).  Contents and
 *     CommonPrefixes are each sorted but interleave, so the greater of the
 *     two last ones is the marker that skips nothing;
 *   - a truncated page with nothing to continue from is -EPROTO.
 * With EncodingType url, keys, prefixes and markers are decoded with '+'
 * as space (AWS encodes spaces that way; OSS sends %20 and encodes a real
 * '+' as %2B), continuation tokens with '+' kept (an opaque token is
 * never meant to contain a space).  A key that decodes to something with
 * a NUL byte cannot be a file name; it is skipped, not fatal.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "oss_i.h"

struct list_ctx {
	bool url; /* EncodingType url */
	bool v2;
	bool truncated;
	const xmlNode *next; /* NextContinuationToken or NextMarker */
	struct buf last;     /* greatest key or prefix seen, decoded */
};

void oss_list_page_init(struct oss_list_page *p)
{
	memset(p, 0, sizeof(*p));
}

void oss_list_page_fini(struct oss_list_page *p)
{
	for (size_t i = 0; i < p->n; i++)
		free(p->entries[i].key);
	free(p->entries);
	free(p->next_token);
	oss_list_page_init(p);
}

/* The text of n into out (reset first), percent-decoded when url. */
static int node_value(const xmlNode *n, bool url, bool plus_is_space,
		      struct buf *out)
{
	struct buf raw;
	int rc;

	buf_reset(out);
	buf_init(&raw, OSS_XML_MAX_BYTES);
	rc = oss_xml_text(n, url ? &raw : out);
	if (rc == 0 && url)
		rc = str_urldecode(out, raw.data, raw.len, plus_is_space);
	buf_fini(&raw);
	if (rc == 0 && out->len > OSS_KEY_MAX_BYTES)
		rc = -EPROTO;
	return rc == -EINVAL || rc == -E2BIG ? -EPROTO : rc;
}

static int note_last(struct list_ctx *ctx, const struct buf *key)
{
	size_t n = key->len < ctx->last.len ? key->len : ctx->last.len;
	int cmp = memcmp(key->data, ctx->last.data, n);

	if (cmp < 0 || (cmp == 0 && key->len <= ctx->last.len))
		return 0;
	buf_reset(&ctx->last);
	return buf_append(&ctx->last, key->data, key->len);
}

static int grow(struct oss_list_page *p)
{
	size_t cap = p->cap ? p->cap * 2 : 64;
	struct oss_list_entry *e;

	if (cap > OSS_LIST_MAX_ENTRIES)
		cap = OSS_LIST_MAX_ENTRIES;
	e = realloc(p->entries, cap * sizeof(*e));
	if (!e)
		return -ENOMEM;
	p->entries = e;
	p->cap = cap;
	return 0;
}

/* Append an entry for key; *e is NULL when the key was skipped. */
static int add_entry(struct oss_list_page *p, const struct buf *key,
		     bool is_prefix, struct oss_list_entry **e)
{
	char *k;
	int rc;

	*e = NULL;
	if (memchr(key->data, '\0', key->len)) {
		log_debug("listing: skipping a key with a NUL byte");
		return 0;
	}
	if (p->n == OSS_LIST_MAX_ENTRIES) {
		log_warn("listing: more than %d entries in one page",
			 OSS_LIST_MAX_ENTRIES);
		return -EPROTO;
	}
	if (p->n == p->cap && (rc = grow(p)) != 0)
		return rc;
	k = str_ndup(key->data, key->len);
	if (!k)
		return -ENOMEM;
	*e = &p->entries[p->n++];
	memset(*e, 0, sizeof(**e));
	(*e)->key = k;
	(*e)->is_prefix = is_prefix;
	return 0;
}

/* Size, LastModified, ETag and Type: lenient, a bad value stays zero. */
static void fill_object(const xmlNode *c, struct oss_list_entry *e)
{
	char tmp[128];

	if (oss_xml_child_str(c, "Size", tmp, sizeof(tmp)) == 0 &&
	    str_to_u64(tmp, 10, &e->size) != 0)
		e->size = 0;
	if (oss_xml_child_str(c, "LastModified", tmp, sizeof(tmp)) == 0 &&
	    time_parse_iso8601(tmp, &e->mtime) != 0)
		e->mtime = (struct timespec){ 0 };
	if (oss_xml_child_str(c, "ETag", tmp, sizeof(tmp)) == 0)
		(void)oss_etag_copy(e->etag, sizeof(e->etag), tmp, strlen(tmp));
	if (oss_xml_child_str(c, "Type", tmp, sizeof(tmp)) == 0)
		e->type = oss_object_type_parse(tmp);
}

static int parse_contents(const xmlNode *c, struct list_ctx *ctx,
			  struct buf *key, struct oss_list_page *p)
{
	const xmlNode *k = oss_xml_child(c, "Key");
	struct oss_list_entry *e;
	int rc;

	if (!k)
		return -EPROTO;
	rc = node_value(k, ctx->url, true, key);
	if (rc == 0)
		rc = note_last(ctx, key);
	if (rc == 0)
		rc = add_entry(p, key, false, &e);
	if (rc == 0 && e)
		fill_object(c, e);
	return rc;
}

static int parse_prefixes(const xmlNode *cp, struct list_ctx *ctx,
			  struct buf *key, struct oss_list_page *p)
{
	struct oss_list_entry *e;
	int rc = 0;

	for (const xmlNode *c = cp->children; c && rc == 0; c = c->next) {
		if (!oss_xml_is(c, "Prefix"))
			continue;
		rc = node_value(c, ctx->url, true, key);
		if (rc == 0)
			rc = note_last(ctx, key);
		if (rc == 0)
			rc = add_entry(p, key, true, &e);
	}
	return rc;
}

/* The named child says "true" (or "url", ...), ignoring case. */
static bool child_is(const xmlNode *n, const char *name, const char *value)
{
	char tmp[16];

	return oss_xml_child_str(n, name, tmp, sizeof(tmp)) == 0 &&
	       strcasecmp(tmp, value) == 0;
}

/* Everything about the page that is not an entry. */
static void scan_header(const xmlNode *root, struct list_ctx *ctx)
{
	const xmlNode *v1 = oss_xml_child(root, "NextMarker");
	const xmlNode *v2 = oss_xml_child(root, "NextContinuationToken");

	ctx->url = child_is(root, "EncodingType", "url");
	ctx->v2 = v2 || oss_xml_child(root, "ContinuationToken") ||
		  oss_xml_child(root, "KeyCount") ||
		  oss_xml_child(root, "StartAfter");
	ctx->truncated = child_is(root, "IsTruncated", "true");
	ctx->next = ctx->v2 ? v2 : v1;
}

static int set_next_token(struct list_ctx *ctx, struct buf *tmp,
			  struct oss_list_page *p)
{
	const struct buf *tok = &ctx->last;
	int rc;

	p->truncated = ctx->truncated;
	if (!ctx->truncated)
		return 0;
	if (ctx->next) {
		rc = node_value(ctx->next, ctx->url, !ctx->v2, tmp);
		if (rc)
			return rc;
		if (tmp->len)
			tok = tmp;
	}
	if (tok == &ctx->last && ctx->v2) {
		log_warn("listing: truncated V2 page without a token");
		return -EPROTO;
	}
	if (tok->len == 0 || memchr(tok->data, '\0', tok->len)) {
		log_warn("listing: truncated page with nothing to continue");
		return -EPROTO;
	}
	p->next_token = str_ndup(tok->data, tok->len);
	return p->next_token ? 0 : -ENOMEM;
}

static int parse_entries(const xmlNode *root, struct list_ctx *ctx,
			 struct buf *tmp, struct oss_list_page *p)
{
	int rc = 0;

	for (const xmlNode *c = root->children; c && rc == 0; c = c->next) {
		if (oss_xml_is(c, "Contents"))
			rc = parse_contents(c, ctx, tmp, p);
		else if (oss_xml_is(c, "CommonPrefixes"))
			rc = parse_prefixes(c, ctx, tmp, p);
	}
	return rc;
}

/* out must have been initialised; whatever it held is released first.
 * On failure it is left empty. */
int oss_list_parse_xml(const char *xml, size_t len, struct oss_list_page *out)
{
	struct list_ctx ctx = { 0 };
	xmlDoc *doc = NULL;
	const xmlNode *root;
	struct buf tmp;
	int rc;

	oss_list_page_fini(out);
	buf_init(&ctx.last, OSS_KEY_MAX_BYTES);
	buf_init(&tmp, OSS_KEY_MAX_BYTES);
	rc = oss_xml_parse(xml, len, "ListBucketResult", &doc);
	if (rc)
		goto out;
	root = xmlDocGetRootElement(doc);
	scan_header(root, &ctx);
	rc = parse_entries(root, &ctx, &tmp, out);
	if (rc == 0)
		rc = set_next_token(&ctx, &tmp, out);
	xmlFreeDoc(doc);
out:
	if (rc)
		oss_list_page_fini(out);
	buf_fini(&tmp);
	buf_fini(&ctx.last);
	return rc;
}
