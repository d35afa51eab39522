/* Shared XML plumbing for the oss parsers: one guarded entry into libxml2
 * and a few tree helpers.  See oss_i.h for the rules every parser obeys. */
#include <ctype.h>
#include <errno.h>
#include <limits.h>
#include <pthread.h>
#include <string.h>
#include <strings.h>

#include <libxml/parser.h>

#include "oss_i.h"

static pthread_once_t xml_once = PTHREAD_ONCE_INIT;

static void xml_init_once(void)
{
	xmlInitParser();
}

/* No OSS response has a DOCTYPE.  Refusing one before libxml2 sees it
 * means no entity can be declared, so none can be expanded, however the
 * tree is walked later. */
static bool has_doctype(const char *xml, size_t len)
{
	static const char tag[] = "<!DOCTYPE";

	return memmem(xml, len, tag, sizeof(tag) - 1) != NULL;
}

int oss_xml_parse(const char *xml, size_t len, const char *root_name,
		  xmlDoc **doc)
{
	const int opts = XML_PARSE_NONET | XML_PARSE_NOERROR |
			 XML_PARSE_NOWARNING | XML_PARSE_NOCDATA;
	xmlDoc *d = NULL;
	xmlNode *root;
	int rc = -EPROTO;

	*doc = NULL;
	if (!xml || len == 0 || len > OSS_XML_MAX_BYTES || len > INT_MAX ||
	    has_doctype(xml, len))
		goto out;
	pthread_once(&xml_once, xml_init_once);
	/* The encoding is pinned: OSS sends UTF-8, and honouring a declared
	 * one would route hostile input through iconv for nothing. */
	d = xmlReadMemory(xml, (int)len, NULL, "UTF-8", opts);
	if (!d)
		goto out;
	root = xmlDocGetRootElement(d);
	if (!root || d->intSubset || d->extSubset)
		goto out_free;
	if (root_name && !oss_xml_is(root, root_name))
		goto out_free;
	*doc = d;
	d = NULL;
	rc = 0;
out_free:
	xmlFreeDoc(d); /* NULL-safe */
out:
	return rc;
}

bool oss_xml_is(const xmlNode *n, const char *name)
{
	return n && n->type == XML_ELEMENT_NODE && n->name &&
	       strcmp((const char *)n->name, name) == 0;
}

xmlNode *oss_xml_child(const xmlNode *parent, const char *name)
{
	for (xmlNode *c = parent ? parent->children : NULL; c; c = c->next)
		if (oss_xml_is(c, name))
			return c;
	return NULL;
}

int oss_xml_text(const xmlNode *n, struct buf *out)
{
	int rc = 0;

	for (const xmlNode *c = n->children; c && rc == 0; c = c->next) {
		if ((c->type != XML_TEXT_NODE &&
		     c->type != XML_CDATA_SECTION_NODE) ||
		    !c->content)
			continue;
		rc = buf_append_str(out, (const char *)c->content);
	}
	return rc;
}

int oss_xml_child_str(const xmlNode *parent, const char *name, char *out,
		      size_t size)
{
	const xmlNode *c = oss_xml_child(parent, name);
	struct buf b;
	int rc = -ENOENT;

	out[0] = '\0';
	if (!c)
		return rc;
	buf_init(&b, OSS_XML_MAX_BYTES);
	rc = oss_xml_text(c, &b);
	if (rc)
		goto out;
	str_trim(b.data);
	if (strlen(b.data) >= size) {
		rc = -ENAMETOOLONG;
		goto out;
	}
	str_lcpy(out, b.data, size);
out:
	buf_fini(&b);
	return rc;
}

int oss_etag_copy(char *out, size_t size, const char *etag, size_t len)
{
	while (len && isspace((unsigned char)etag[0])) {
		etag++;
		len--;
	}
	while (len && isspace((unsigned char)etag[len - 1]))
		len--;
	if (len >= 2 && etag[0] == '"' && etag[len - 1] == '"') {
		etag++;
		len -= 2;
	}
	if (size)
		out[0] = '\0';
	if (len == 0 || memchr(etag, '\0', len))
		return -EINVAL;
	if (len >= size)
		return -ENAMETOOLONG;
	memcpy(out, etag, len);
	out[len] = '\0';
	return 0;
}

enum oss_object_type oss_object_type_parse(const char *s)
{
	if (!s)
		return OSS_OBJ_NORMAL;
	if (strcasecmp(s, "Multipart") == 0)
		return OSS_OBJ_MULTIPART;
	if (strcasecmp(s, "Appendable") == 0)
		return OSS_OBJ_APPENDABLE;
	if (strcasecmp(s, "Symlink") == 0)
		return OSS_OBJ_SYMLINK;
	return OSS_OBJ_NORMAL;
}

void oss_copy_printable(char *out, size_t size, const char *s, size_t len)
{
	size_t i;

	if (!size)
		return;
	for (i = 0; i < len && i + 1 < size; i++) {
		unsigned char c = (unsigned char)s[i];

		out[i] = (c < 0x20 || c == 0x7f) ? '?' : (char)c;
	}
	out[i] = '\0';
}
